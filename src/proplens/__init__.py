"""proplens: find propaganda and framing devices in news text.

>>> import proplens
>>> model = proplens.load_model()
>>> result = model.score("Officials met on Monday. This disgraceful plan will destroy us!")
>>> len(result.sentences)
2
"""

from importlib.metadata import PackageNotFoundError, version

from proplens.errors import DataError, InputError, ModelError, ProplensError, ValidationError
from proplens.labeling import LabelSet, ValidationReport, add_device, read_labels, validate_labels
from proplens.scoring import DocumentScore, Model, SentenceScore, SpanPrediction, load_model
from proplens.segment import Sentence, split_sentences
from proplens.suggest import suggest as suggest_sentences
from proplens.suggest import write_suggestions
from proplens.taxonomy import Device, Taxonomy, load_taxonomy
from proplens.training import PromotionDecision, TrainingResult, train

try:
    __version__ = version("proplens")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = [
    "DataError",
    "Device",
    "DocumentScore",
    "LabelSet",
    "PromotionDecision",
    "TrainingResult",
    "ValidationReport",
    "add_device",
    "read_labels",
    "suggest_sentences",
    "train",
    "validate_labels",
    "write_suggestions",
    "InputError",
    "Model",
    "ModelError",
    "ProplensError",
    "Sentence",
    "SentenceScore",
    "SpanPrediction",
    "Taxonomy",
    "ValidationError",
    "load_model",
    "load_taxonomy",
    "split_sentences",
    "__version__",
]
