"""DeviceClassifier and SpanClassifier: sklearn conventions, thresholds, gates, -1 labels."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from proplens.errors import ValidationError
from proplens.features import make_sentence_features
from proplens.model import DeviceClassifier, SpanClassifier

LOADED = ["reckless", "shameful", "disgraceful", "evil", "corrupt", "pathetic"]
NEUTRAL = ["library", "bridge", "meeting", "budget", "garden", "report"]
DEVICES = ["Loaded_Language", "Unverified_Figures"]
GATES = {"Unverified_Figures": r"\d"}


def corpus(n_documents: int = 12) -> tuple[pd.DataFrame, np.ndarray]:
    """Documents alternating loaded sentences (device 0) and neutral ones with figures."""
    rows, labels = [], []
    for d in range(n_documents):
        for i in range(6):
            word = LOADED[(d + i) % 6] if i % 2 == 0 else NEUTRAL[(d + i) % 6]
            if i % 2 == 0:
                text = f"The {word} council of Velmora wrecked everything again!"
                label = [1, 0]
            elif i % 3 == 1:
                text = f"The {word} costs {d * 7 + i} thousand crowns, officials said."
                label = [0, 1 if d % 2 else 0]
            else:
                text = f"The {word} opened on Tuesday in Quillhaven."
                label = [0, 0]
            rows.append((f"doc{d}", i, text))
            labels.append(label)
    frame = pd.DataFrame(rows, columns=["document_id", "sentence_index", "text"])
    return frame, np.array(labels, dtype=np.int8)


def small_model(**params) -> DeviceClassifier:
    return DeviceClassifier(
        devices=DEVICES,
        features=make_sentence_features(chars=False),
        threshold_folds=2,
        min_positive=2,
        **params,
    )


@pytest.fixture(scope="module")
def fitted():
    frame, Y = corpus()
    return small_model(gates=GATES).fit(frame, Y), frame, Y


def test_sklearn_conventions(fitted):
    """get_params/clone round-trip, fit returns self, learned state ends in an underscore."""
    model, frame, Y = fitted
    fresh = small_model(gates=GATES)
    cloned = clone(fresh).get_params(deep=False)
    assert {k: v for k, v in cloned.items() if k != "features"} == {
        k: v for k, v in fresh.get_params(deep=False).items() if k != "features"
    }
    assert fresh.fit(frame, Y) is fresh
    for name in ("labels_", "thresholds_", "coef_", "intercept_", "features_", "block_slices_"):
        assert hasattr(model, name)
    assert not hasattr(fresh.__class__(), "coef_")
    assert model.labels_ == ["propaganda", *DEVICES]
    assert model.coef_.shape[1] == len(model.labels_)


def test_fit_is_deterministic():
    """Two fits with the same seed give identical weights and thresholds."""
    frame, Y = corpus()
    first, second = small_model().fit(frame, Y), small_model().fit(frame, Y)
    assert np.array_equal(first.coef_, second.coef_)
    assert first.thresholds_ == second.thresholds_


def test_blockwise_scoring_equals_the_stacked_matrix(fitted):
    """Scoring block by block gives the probabilities of the stacked feature matrix."""
    model, frame, _ = fitted
    stacked = model.predict_all_proba(frame, model.transform_features(frame))
    assert np.allclose(model.predict_all_proba(frame), stacked, atol=1e-5)


def test_learns_the_tiny_corpus(fitted):
    """Loaded sentences score higher than neutral ones for the device and any-device."""
    model, frame, Y = fitted
    proba = model.predict_all_proba(frame)
    assert proba[Y[:, 0] == 1, 1].mean() > proba[Y[:, 0] == 0, 1].mean() + 0.2
    assert proba[Y[:, 0] == 1, 0].mean() > 0.5


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.text(alphabet="abc reckless!?0123 ", max_size=60), min_size=1, max_size=5),
    st.floats(0, 1),
    st.floats(0, 1),
)
def test_probabilities_in_unit_interval_and_thresholds_monotone(fitted, texts, low, high):
    """Property: probabilities lie in [0, 1]; a higher threshold never predicts more labels."""
    model, _, _ = fitted
    low, high = sorted((low, high))
    sentences = pd.DataFrame(
        {"document_id": "x", "sentence_index": range(len(texts)), "text": texts}
    )
    proba = model.predict_all_proba(sentences)
    assert np.all((proba >= 0) & (proba <= 1))
    assert (
        model.predict(sentences, threshold=high).sum()
        <= model.predict(sentences, threshold=low).sum()
    )


def test_gate_zeroes_sentences_without_a_match(fitted):
    """A gated device has probability 0 where its pattern (a digit) is absent."""
    model, frame, _ = fitted
    proba = model.predict_proba(frame)[:, 1]
    no_digit = ~frame["text"].str.contains(r"\d").to_numpy()
    assert np.all(proba[no_digit] == 0)
    assert np.all(proba[~no_digit] > 0)


def test_unannotated_entries_are_left_out_of_the_fit():
    """-1 entries neither count as negatives nor change the any-device target."""
    frame, Y = corpus()
    partial = Y.copy()
    partial[: len(Y) // 2, 1] = -1
    model = small_model().fit(frame, partial)
    complete_model = small_model().fit(frame, Y[:, :1].repeat(2, axis=1) * 0 + Y)
    # any-device is defined by the fully annotated device only, so it does not depend on -1 rows
    assert model.oof_proba_.shape == (len(frame), 3)
    assert not np.array_equal(model.coef_[:, 2], complete_model.coef_[:, 2])
    # the scorer's fallback label is drawn from the devices that define any-device
    assert model.any_device_devices_ == [model.devices[0]]
    assert complete_model.any_device_devices_ == list(model.devices)


@pytest.mark.parametrize("devices", [["Doubt", "Doubt"], ["propaganda", "Doubt"]])
def test_rejects_repeated_or_reserved_device_names(devices):
    """A name twice (or the any-device label's) would make one threshold overwrite another."""
    frame, Y = corpus()
    with pytest.raises(ValidationError, match="must be distinct"):
        small_model().set_params(devices=devices).fit(frame, Y)


def test_rejects_mismatched_labels():
    """A label matrix with the wrong shape is a one-line ValidationError."""
    frame, Y = corpus()
    with pytest.raises(ValidationError, match="label columns"):
        small_model().fit(frame, Y[:, :1])
    with pytest.raises(ValidationError, match="rows"):
        small_model().fit(frame, Y[:-1])


def test_threshold_vector_validates_its_input(fitted):
    """Unknown devices and thresholds outside [0, 1] are refused."""
    model, _, _ = fitted
    with pytest.raises(ValidationError):
        model.threshold_vector({"Nonexistent": 0.5})
    with pytest.raises(ValidationError):
        model.threshold_vector(1.5)
    assert model.threshold_vector(0.3).tolist() == [0.3] * 3


def test_span_classifier_predicts_known_classes():
    """The TC classifier learns span -> device and predicts only classes it saw."""
    spans = ["reckless fools", "evil traitors", "again and again", "again and again and again"] * 4
    devices = ["Name_Calling", "Name_Calling", "Repetition", "Repetition"] * 4
    document = " ".join(spans)
    starts = [document.index(span) for span in spans]
    frame = pd.DataFrame(
        {
            "span": spans,
            "sentence": spans,
            "document": [document] * len(spans),
            "start": starts,
            "end": [start + len(span) for start, span in zip(starts, spans, strict=True)],
        }
    )
    model = SpanClassifier().fit(frame, devices)
    assert set(model.predict(frame)) <= set(model.classes_)
    assert model.predict(frame[:1])[0] == "Name_Calling"
    proba = model.predict_proba(frame)
    assert np.allclose(proba.sum(axis=1), 1.0) or np.all(proba <= 1)


def test_span_classifier_fit_on_centred_dense_blocks_scores_the_raw_features_the_same():
    """The span model is fit with its dense blocks (shape, word vectors) centred and its
    intercepts moved back: its scores on the raw features equal the centred fit's own."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    from proplens.model import _block_slices, _centred

    words = ["reckless fools", "evil traitors", "again and again", "our great nation", "so-called"]
    spans = [f"{w} {i}" for i in range(6) for w in words]
    devices = ["Name_Calling", "Name_Calling", "Repetition", "Flag-Waving", "Doubt"] * 6
    document = " ".join(spans)
    starts = [document.index(span) for span in spans]
    frame = pd.DataFrame(
        {
            "span": spans,
            "sentence": [f"They said {span} today." for span in spans],
            "document": [document] * len(spans),
            "start": starts,
            "end": [start + len(span) for start, span in zip(starts, spans, strict=True)],
        }
    )
    model = SpanClassifier().fit(frame, devices)
    raw = model.features_.transform(frame).tocsr()
    centred, shift = _centred(raw, _block_slices(model.features_, frame))
    assert shift.any()  # the vector blocks were centred
    plain = OneVsRestClassifier(LogisticRegression(C=8.0, solver="liblinear", random_state=0))
    plain.fit(centred, np.asarray(devices))
    np.testing.assert_allclose(
        model.model_.decision_function(raw), plain.decision_function(centred), atol=1e-4
    )


def test_features_need_not_be_a_union():
    """Any transformer works as features (one block), e.g. a single vectorizer pipeline."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from proplens.features import FastWordVectorizer, sentence_text

    frame, Y = corpus()
    features = make_pipeline(FunctionTransformer(sentence_text), FastWordVectorizer())
    model = DeviceClassifier(
        devices=DEVICES, features=features, threshold_folds=2, min_positive=2
    ).fit(frame, Y)
    assert list(model.block_slices_) == ["all"]
    stacked = model.predict_all_proba(frame, model.transform_features(frame))
    assert np.allclose(model.predict_all_proba(frame), stacked, atol=1e-5)


def test_gate_matches_pandas_str_contains():
    """The precompiled gate finds what pandas' case-insensitive str.contains finds."""
    pattern = r"\d|%|\b(?:hundred|million)\b"
    texts = ["No figure here.", "Costs rose 7%.", "A HUNDRED times", "hundreds", "٣ cats", "Mil"]
    model = DeviceClassifier(devices=["A", "B"], gates={"B": pattern})
    eligible = model._eligible(pd.DataFrame({"text": texts}))
    expected = pd.Series(texts, dtype=object).str.contains(pattern, case=False).to_numpy()
    assert eligible[:, 2].tolist() == expected.tolist()
    assert eligible[:, :2].all()


@pytest.mark.parametrize("pattern", [r"\d|%|\b(?:hundred|million)\b", r"\b[A-Z]{2,}\b|\bMillion\b"])
def test_scorer_columns_gate_like_a_frame(pattern):
    """The scorer's lists take the lower-cased fast path for a pattern without capitals and the
    case-insensitive one otherwise; both flag exactly what the frame path flags."""
    from proplens.features import SentenceColumns

    texts = ["No figure here.", "Costs rose 7%.", "A HUNDRED times", "hundreds", "٣ cats", "Mil",
             "One MILLION", "nato and the UN", "Straße"]  # fmt: skip
    model = DeviceClassifier(devices=["A", "B"], gates={"B": pattern})
    columns = SentenceColumns(texts, ["d"] * len(texts), list(range(len(texts))))
    from_frame = model._eligible(pd.DataFrame({"text": texts}))
    assert model._eligible(columns).tolist() == from_frame.tolist()
    assert 0 < from_frame[:, 2].sum() < len(texts)


def test_micro_thresholds_never_lower_the_pooled_f1():
    """Joint tuning starts from the per-label optima and only keeps changes that raise micro-F1."""
    from sklearn.metrics import f1_score

    from proplens.model import best_micro_thresholds, best_threshold

    rng = np.random.default_rng(3)
    truth = (rng.random((400, 4)) < [0.3, 0.1, 0.05, 0.02]).astype(int)
    proba = np.clip(0.35 * truth + rng.random((400, 4)) * 0.7, 0, 1)
    start = np.array([best_threshold(truth[:, j], proba[:, j]) for j in range(4)])
    tuned = best_micro_thresholds(truth, proba, start)
    before = f1_score(truth, proba >= start, average="micro")
    after = f1_score(truth, proba >= tuned, average="micro")
    assert after >= before
    # the rare, noisy labels are the ones that get stricter
    assert tuned[3] >= start[3]


def test_threshold_objective_is_validated():
    frame = pd.DataFrame(
        {"document_id": ["a", "a", "b", "b"], "sentence_index": [0, 1, 0, 1],
         "text": ["x y", "y z", "z x", "x x"]}
    )  # fmt: skip
    with pytest.raises(ValidationError, match="threshold_objective"):
        DeviceClassifier(devices=["D"], threshold_objective="macro", threshold_folds=2).fit(
            frame, np.array([[1], [0], [1], [0]])
        )


@pytest.mark.corpus
def test_parallel_fits_are_reproducible(corpus_dir):
    """n_jobs only changes where the per-label fits run: liblinear's coordinate order comes
    from one random generator per process, so fits sharing a process would disturb each other.
    Two parallel fits and a sequential one give bit-identical weights and thresholds."""
    from proplens.training import load_training_data

    data = load_training_data(corpus_dir)
    keep = data.sentences["document_id"].isin(data.sentences["document_id"].unique()[:60])
    frame, Y = data.sentences[keep.to_numpy()], data.indicator()[keep.to_numpy()][:, :14]
    fits = [
        DeviceClassifier(devices=data.devices[:14], n_jobs=jobs).fit(frame, Y) for jobs in (2, 2, 1)
    ]
    for other in fits[1:]:
        np.testing.assert_array_equal(fits[0].coef_, other.coef_)
        assert fits[0].thresholds_ == other.thresholds_


def test_centred_shifts_the_dense_blocks_only():
    """The solver's matrix: a block at least DENSE_BLOCK_FILL full loses its column means, a
    sparse one is passed through as it is; the shift is what was taken off."""
    from scipy import sparse

    from proplens.model import _centred

    rng = np.random.default_rng(0)
    sparse_block = sparse.random(40, 30, density=0.05, random_state=1, format="csr")
    dense_block = rng.uniform(1.0, 3.0, size=(40, 4))
    matrix = sparse.hstack([sparse_block, sparse.csr_matrix(dense_block)], format="csr")
    centred, shift = _centred(matrix, {"words": slice(0, 30), "shape": slice(30, 34)})
    assert np.array_equal(centred[:, :30].toarray(), sparse_block.toarray())
    assert np.allclose(centred[:, 30:].toarray(), dense_block - dense_block.mean(axis=0))
    assert np.allclose(shift, np.r_[np.zeros(30), dense_block.mean(axis=0)])


def test_centring_for_the_solver_leaves_the_model_nearly_unchanged(monkeypatch):
    """Fitting on centred dense blocks and moving the intercepts back gives the functions the
    raw fit gives, up to liblinear's penalty on the intercept (which the centring moves)."""
    import proplens.model as model_module

    frame, Y = corpus()
    centred = small_model(gates=GATES).fit(frame, Y)
    monkeypatch.setattr(model_module, "DENSE_BLOCK_FILL", 2.0)  # no block is that full
    raw = small_model(gates=GATES).fit(frame, Y)
    assert not np.allclose(centred.intercept_, raw.intercept_)  # the centring did happen
    difference = np.abs(centred.predict_all_proba(frame) - raw.predict_all_proba(frame))
    # 72 sentences: the intercept's penalty weighs more here than on a real corpus
    assert difference.max() < 0.05 and difference.mean() < 0.01
    assert centred.predict(frame).tolist() == raw.predict(frame).tolist()


_GATE_TEXTS = st.lists(
    st.text(alphabet=" \t\n\x85\u2028\u3000\xa0aeno tw-'%7٣İHUNDRED.,!", max_size=30)
    | st.lists(st.sampled_from(["one", "One", "twenty", "hundreds", "-two", "x5", " ", "\n"]),
               max_size=8).map("".join),
    min_size=1, max_size=5,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(_GATE_TEXTS)
def test_gate_on_whitespace_chunks_equals_the_search_of_each_text(texts):
    """A gate pattern that keeps to whitespace chunks is matched chunk by chunk (and cached per
    chunk); it flags exactly the sentences a search of the whole lower-cased text flags. A
    pattern that may span whitespace is searched in the whole text."""
    from proplens.features import SentenceColumns, matches_within_chunks

    patterns = [r"\d|%|\b(?:one|two|twenty|hundred|hundreds)\b", r"one\s+hundred|\bn"]
    assert matches_within_chunks(patterns[0]) and not matches_within_chunks(patterns[1])
    model = DeviceClassifier(devices=["A", "B"], gates={"A": patterns[0], "B": patterns[1]})
    columns = SentenceColumns(texts, ["d"] * len(texts), list(range(len(texts))))
    eligible = model._eligible(columns)
    for column, pattern in zip((1, 2), patterns, strict=True):
        regex = re.compile(pattern)
        assert eligible[:, column].tolist() == [regex.search(t.lower()) is not None for t in texts]
