"""Out-of-core training: learn device classifiers from a stream of sentence chunks.

The default model (TF-IDF + logistic regression) needs its whole training set in memory: the
vocabulary and the IDF weights are learned from all of it. That is fine for the PTC corpus (tens of
thousands of sentences) but not for millions of labelled sentences.
:class:`StreamingDeviceClassifier` trades a little accuracy for bounded memory:

- a :class:`~sklearn.feature_extraction.text.HashingVectorizer` maps text to a fixed space of
  ``n_features`` columns, with no vocabulary to learn or store;
- one :class:`~sklearn.linear_model.SGDClassifier` (``loss="log_loss"``, i.e. logistic regression
  fitted by stochastic gradient descent) per device, plus one for "any device", each updated with
  ``partial_fit`` chunk by chunk.

Memory is the chunk being read plus ``(n_devices + 1) * n_features`` coefficients (8 MB per
classifier at the default ``2**20``), whatever the amount of data. ``docs/batch.md`` compares its
accuracy with the TF-IDF model on SemEval-2020.

Example::

    >>> import pandas as pd
    >>> chunk = pd.DataFrame({"text": ["A shameful betrayal!", "The bus left at nine."],
    ...                       "devices": [["Loaded_Language"], []]})
    >>> model = train_streaming([chunk] * 5, ["Loaded_Language"], n_features=2**12)
    >>> model.predict_proba(["The bus left."]).shape
    (1, 1)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import SGDClassifier

from proplens.errors import DataError

__all__ = ["StreamingDeviceClassifier", "train_streaming"]

_CLASSES = np.array([0, 1])


class StreamingDeviceClassifier(ClassifierMixin, BaseEstimator):
    """Multi-label sentence classifier trained by ``partial_fit`` on hashed word n-grams.

    ``fit(X, y)`` takes sentences (a sequence of str, or a DataFrame with a ``text`` column) and an
    indicator matrix ``y`` of shape (n, len(devices)); ``partial_fit`` takes the same, one chunk at
    a time. ``predict_proba`` returns one column per device; ``predict_propaganda_proba`` the
    probability that a sentence carries any device.
    """

    def __init__(
        self,
        devices: Sequence[str] = (),
        *,
        n_features: int = 2**20,
        ngram_range: tuple[int, int] = (1, 2),
        alpha: float = 1e-5,
        epochs: int = 1,
        random_state: int = 0,
    ) -> None:
        self.devices = devices
        self.n_features = n_features
        self.ngram_range = ngram_range
        self.alpha = alpha
        self.epochs = epochs
        self.random_state = random_state

    def _vectorizer(self) -> HashingVectorizer:
        # alternate_sign=False keeps counts non-negative; sublinear weighting by l2 norm stands in
        # for TF-IDF, which would need corpus-wide document frequencies.
        return HashingVectorizer(
            n_features=self.n_features,
            ngram_range=self.ngram_range,
            alternate_sign=False,
            lowercase=True,
            norm="l2",
            dtype=np.float32,
        )

    def _new_head(self, offset: int) -> SGDClassifier:
        return SGDClassifier(
            loss="log_loss",
            alpha=self.alpha,
            learning_rate="optimal",
            random_state=self.random_state + offset,
        )

    @staticmethod
    def _texts(X) -> list[str]:
        if isinstance(X, str):  # iterating it would give one "sentence" per character
            raise DataError("streaming classifier: give a list of sentences, not one string")
        if isinstance(X, pd.DataFrame):
            if "text" not in X.columns:
                raise DataError("streaming classifier: the DataFrame has no 'text' column")
            X = X["text"]
        texts = list(X)
        for row, text in enumerate(texts):
            # str() made a missing text the word "None" or "nan", learned as a sentence.
            if not isinstance(text, str):
                raise DataError(
                    f"streaming classifier: text {row} is a {type(text).__name__} "
                    f"({text!r}), not a string"
                )
        return texts

    def _targets(self, y, n: int) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        if y.shape != (n, len(self.devices)):
            raise DataError(
                f"streaming classifier: labels have shape {y.shape}, expected "
                f"({n}, {len(self.devices)}) for {len(self.devices)} devices"
            )
        return (y > 0).astype(np.int64)

    def partial_fit(self, X, y) -> StreamingDeviceClassifier:
        """Update every head with one chunk of sentences."""
        if not len(self.devices):
            raise DataError("streaming classifier: no devices to learn")
        texts = self._texts(X)
        targets = self._targets(y, len(texts))
        if not hasattr(self, "heads_"):
            self.vectorizer_ = self._vectorizer()
            self.heads_ = [self._new_head(i) for i in range(len(self.devices))]
            self.any_head_ = self._new_head(len(self.devices))
            self.classes_ = np.asarray(list(self.devices))
            self.n_seen_ = 0
        if not texts:
            return self
        matrix = self.vectorizer_.transform(texts)
        for head, column in zip(self.heads_, targets.T, strict=True):
            head.partial_fit(matrix, column, classes=_CLASSES)
        self.any_head_.partial_fit(matrix, targets.max(axis=1), classes=_CLASSES)
        self.n_seen_ += len(texts)
        return self

    def fit(self, X, y) -> StreamingDeviceClassifier:
        """Fit from scratch on data in memory (``epochs`` passes in shuffled chunks of 10,000)."""
        for name in ("heads_", "any_head_", "vectorizer_", "classes_", "n_seen_"):
            if hasattr(self, name):
                delattr(self, name)
        texts = self._texts(X)
        targets = self._targets(y, len(texts))
        rng = np.random.default_rng(self.random_state)
        for _ in range(self.epochs):
            order = rng.permutation(len(texts))
            for begin in range(0, len(order), 10_000):
                chunk = order[begin : begin + 10_000]
                self.partial_fit([texts[i] for i in chunk], targets[chunk])
        return self

    def _check(self) -> None:
        if not hasattr(self, "heads_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("StreamingDeviceClassifier is not fitted yet")

    def predict_proba(self, X) -> np.ndarray:
        """Probability of each device, shape (n, n_devices)."""
        self._check()
        matrix = self.vectorizer_.transform(self._texts(X))
        return np.column_stack([head.predict_proba(matrix)[:, 1] for head in self.heads_])

    def predict_propaganda_proba(self, X) -> np.ndarray:
        """Probability that a sentence carries any device, shape (n,)."""
        self._check()
        return self.any_head_.predict_proba(self.vectorizer_.transform(self._texts(X)))[:, 1]

    def predict(self, X, threshold: float = 0.5) -> np.ndarray:
        """Indicator matrix of devices whose probability reaches ``threshold``."""
        return (self.predict_proba(X) >= threshold).astype(np.int64)

    @property
    def coefficient_count(self) -> int:
        """Number of learned weights: fixed by ``n_features`` and the devices, not by the data."""
        self._check()
        return sum(h.coef_.size for h in [*self.heads_, self.any_head_])


def _device_names(names, chunk: int, row: int) -> list:
    """A row's device names: a list (tuple, set, array) of them; None or NaN for none. A string
    is refused: iterated letter by letter, its device was silently lost."""
    if names is None or (isinstance(names, float) and np.isnan(names)):
        return []
    if isinstance(names, str) or not hasattr(names, "__iter__"):
        raise DataError(
            f"chunk {chunk}: row {row}: 'devices' must be a list of device names, got "
            f"{type(names).__name__} {names!r}"
        )
    return list(names)


def train_streaming(
    chunks: Iterable[pd.DataFrame],
    devices: list[str],
    *,
    n_features: int = 2**20,
    ngram_range: tuple[int, int] = (1, 2),
    alpha: float = 1e-5,
    random_state: int = 0,
) -> StreamingDeviceClassifier:
    """Train on an iterable of DataFrames with ``text`` and ``devices`` (list of names) columns.

    Each chunk is read once and dropped, so the data may be far larger than memory (pass a
    generator reading Parquet row groups or JSONL lines). Iterate the data again for more epochs.
    """
    model = StreamingDeviceClassifier(
        devices,
        n_features=n_features,
        ngram_range=ngram_range,
        alpha=alpha,
        random_state=random_state,
    )
    index = {device: column for column, device in enumerate(devices)}
    seen = False
    for number, chunk in enumerate(chunks):
        missing = {"text", "devices"} - set(chunk.columns)
        if missing:
            raise DataError(f"chunk {number}: missing column(s) {', '.join(sorted(missing))}")
        targets = np.zeros((len(chunk), len(devices)), dtype=np.int64)
        for row, names in enumerate(chunk["devices"]):
            for name in _device_names(names, number, row):
                if name in index:
                    targets[row, index[name]] = 1
        try:
            model.partial_fit(chunk["text"], targets)
        except DataError as error:
            raise DataError(f"chunk {number}: {error}") from None
        seen = seen or len(chunk) > 0
    if not seen:
        raise DataError("train_streaming: the chunks held no sentences")
    return model
