"""proplens: find propaganda and framing devices in news text.

>>> import proplens
>>> model = proplens.load_model()
>>> result = model.score("Officials met on Monday. This disgraceful plan will destroy us!")
>>> len(result.sentences)
2
"""

from importlib.metadata import PackageNotFoundError, version

from proplens.errors import DataError, InputError, ModelError, ProplensError, ValidationError

# Imported here, so Bling Fire loads before scikit-learn: its import calls inspect.getframeinfo,
# which resolves the path of every module loaded so far (~40 ms once SciPy, pandas and
# scikit-learn are).
from proplens.segment import Sentence, split_sentences
from proplens.taxonomy import Device, Taxonomy, load_taxonomy

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

# Names load on first use (PEP 562). The scoring names import scikit-learn, SciPy and pandas
# (about a second): commands that do not score skip them, and `proplens score` imports them with
# the garbage collector paused (proplens.cli). Scoring a document does not pay for importing the
# training and labeling machinery.
_LAZY = {
    "DocumentScore": ("proplens.scoring", "DocumentScore"),
    "Model": ("proplens.scoring", "Model"),
    "SentenceScore": ("proplens.scoring", "SentenceScore"),
    "SpanPrediction": ("proplens.scoring", "SpanPrediction"),
    "load_model": ("proplens.scoring", "load_model"),
    "train": ("proplens.training", "train"),
    "TrainingResult": ("proplens.training", "TrainingResult"),
    "PromotionDecision": ("proplens.training", "PromotionDecision"),
    "LabelSet": ("proplens.labeling", "LabelSet"),
    "ValidationReport": ("proplens.labeling", "ValidationReport"),
    "add_device": ("proplens.labeling", "add_device"),
    "read_labels": ("proplens.labeling", "read_labels"),
    "validate_labels": ("proplens.labeling", "validate_labels"),
    "suggest_sentences": ("proplens.suggest", "suggest"),
    "write_suggestions": ("proplens.suggest", "write_suggestions"),
}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        module, attribute = _LAZY[name]
        return getattr(import_module(module), attribute)
    raise AttributeError(f"module 'proplens' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
