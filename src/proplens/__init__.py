"""proplens: find propaganda and framing devices in news text.

>>> import proplens
>>> model = proplens.load_model()
>>> result = model.score("Officials met on Monday. This disgraceful, treacherous plan will destroy us!")
>>> len(result.sentences)
2
"""

from importlib.metadata import PackageNotFoundError, version

from proplens.errors import DataError, InputError, ModelError, ProplensError, ValidationError
from proplens.scoring import DocumentScore, Model, SentenceScore, SpanPrediction, load_model
from proplens.segment import Sentence, segment
from proplens.taxonomy import Device, Taxonomy, load_taxonomy

try:
    __version__ = version("proplens")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = [
    "DataError",
    "Device",
    "DocumentScore",
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
    "segment",
    "__version__",
]
