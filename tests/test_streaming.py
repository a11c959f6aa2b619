"""Tests for the out-of-core streaming device classifier."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from proplens.errors import DataError
from proplens.streaming import StreamingDeviceClassifier, train_streaming

DEVICES = ["Loaded_Language", "Doubt"]
_LOADED = ["disgraceful", "shameful", "monstrous", "outrageous", "appalling", "vile"]
_DOUBT = ["allegedly", "supposedly", "so-called", "questionable", "dubious", "unproven"]
_NEUTRAL = ["the", "council", "met", "on", "tuesday", "bus", "river", "report", "budget", "school"]


def _sentence(rng: np.random.Generator, loaded: bool, doubt: bool) -> str:
    words = list(rng.choice(_NEUTRAL, size=8))
    if loaded:
        words.insert(int(rng.integers(0, 8)), str(rng.choice(_LOADED)))
    if doubt:
        words.insert(int(rng.integers(0, 8)), str(rng.choice(_DOUBT)))
    return " ".join(words)


def _chunks(n_chunks: int, size: int, seed: int) -> list[pd.DataFrame]:
    rng = np.random.default_rng(seed)
    chunks = []
    for _ in range(n_chunks):
        flags = rng.random((size, 2)) < 0.3
        chunks.append(
            pd.DataFrame(
                {
                    "text": [_sentence(rng, a, b) for a, b in flags],
                    "devices": [
                        [d for d, f in zip(DEVICES, row, strict=True) if f] for row in flags
                    ],
                }
            )
        )
    return chunks


def _indicator(frame: pd.DataFrame) -> np.ndarray:
    return np.array([[d in labels for d in DEVICES] for labels in frame["devices"]], dtype=int)


def test_learns_synthetic_devices_from_a_stream() -> None:
    """Streamed chunks must teach each head its device: F1 far above the 0.46 of guessing 'yes'."""
    model = train_streaming(_chunks(10, 200, seed=1), DEVICES, n_features=2**16)
    test = pd.concat(_chunks(2, 200, seed=2), ignore_index=True)
    truth = _indicator(test)
    predicted = model.predict(test["text"])
    for column in range(len(DEVICES)):
        assert f1_score(truth[:, column], predicted[:, column]) > 0.9
    any_truth = truth.max(axis=1)
    assert f1_score(any_truth, model.predict_propaganda_proba(test) >= 0.5) > 0.9


def test_memory_is_fixed_by_the_hashing_space() -> None:
    """The learned state must not grow with data: the same weights after 1 chunk and 20 chunks."""
    chunks = _chunks(20, 100, seed=3)
    small = train_streaming(chunks[:1], DEVICES, n_features=2**14)
    large = train_streaming(chunks, DEVICES, n_features=2**14)
    assert small.coefficient_count == large.coefficient_count == 3 * 2**14
    assert large.vectorizer_.transform(["a new word never seen"]).shape == (1, 2**14)
    assert large.n_seen_ == 2000


def test_probabilities_are_probabilities() -> None:
    """predict_proba must give one column per device with values in [0, 1]."""
    model = train_streaming(_chunks(3, 100, seed=4), DEVICES, n_features=2**12)
    proba = model.predict_proba(["allegedly a shameful budget", ""])
    assert proba.shape == (2, 2)
    assert ((proba >= 0) & (proba <= 1)).all()


def test_fit_matches_sklearn_conventions() -> None:
    """fit returns self, and refitting starts over rather than continuing to learn."""
    data = pd.concat(_chunks(2, 100, seed=5), ignore_index=True)
    model = StreamingDeviceClassifier(DEVICES, n_features=2**12)
    assert model.fit(data, _indicator(data)) is model
    first = model.predict_proba(data).copy()
    model.fit(data, _indicator(data))
    np.testing.assert_allclose(model.predict_proba(data), first)
    assert model.n_seen_ == len(data)


def test_bad_chunks_are_one_line_errors() -> None:
    """A chunk without the devices column, or no data at all, is a DataError, not a traceback."""
    with pytest.raises(DataError, match="devices"):
        train_streaming([pd.DataFrame({"text": ["x"]})], DEVICES)
    with pytest.raises(DataError, match="no sentences"):
        train_streaming([], DEVICES)
    model = StreamingDeviceClassifier(DEVICES)
    with pytest.raises(DataError, match="shape"):
        model.partial_fit(["one", "two"], np.zeros((2, 3)))


def test_missing_texts_and_string_labels_are_refused_not_learned() -> None:
    """A null or NaN text was learned as the sentence 'None' / 'nan'; a devices value written as
    a string ('Doubt' instead of ['Doubt']) was read letter by letter, so its label was lost
    without a word; one string given to predict_proba was scored letter by letter."""
    good = _chunks(1, 20, seed=6)[0]
    for text in (None, float("nan")):
        chunk = good.copy()
        chunk.loc[3, "text"] = text
        with pytest.raises(DataError, match=r"chunk 0: .*text 3 is a"):
            train_streaming([chunk], DEVICES, n_features=2**10)
    chunk = good.copy()
    chunk["devices"] = chunk["devices"].astype(object)
    chunk.at[5, "devices"] = "Doubt"
    with pytest.raises(DataError, match=r"chunk 0: row 5: 'devices' must be a list.*'Doubt'"):
        train_streaming([chunk], DEVICES, n_features=2**10)
    chunk.at[5, "devices"] = None  # none is no device, as before
    model = train_streaming([chunk], DEVICES, n_features=2**10)
    assert model.n_seen_ == 20
    with pytest.raises(DataError, match="not one string"):
        model.predict_proba("allegedly a shameful budget")
