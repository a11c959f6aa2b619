"""Evidence: phrases with positive weight, offsets that slice back inside the sentence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from proplens.evidence import EvidenceMapper
from proplens.features import make_sentence_features
from proplens.model import DeviceClassifier

LOADED = ["reckless", "shameful", "disgraceful", "corrupt"]
PLAIN = ["new", "young", "local", "tall"]


def fitted_model() -> DeviceClassifier:
    rows, labels = [], []
    for d in range(10):
        for i in range(4):
            if i % 2 == 0:
                text = f"The {LOADED[(d + i) % 4]} mayor visited the harbour."
                label = [1]
            else:
                text = f"The {PLAIN[(d + i) % 4]} mayor visited the harbour."
                label = [0]
            rows.append((f"d{d}", i, text))
            labels.append(label)
    frame = pd.DataFrame(rows, columns=["document_id", "sentence_index", "text"])
    return DeviceClassifier(
        devices=["Loaded_Language"],
        features=make_sentence_features(chars=False),
        threshold_folds=2,
        min_positive=2,
    ).fit(frame, np.array(labels))


MODEL = fitted_model()
MAPPER = EvidenceMapper.from_features(MODEL.features_)


def explain(text: str, offset: int = 0):
    sentence = pd.DataFrame({"document_id": ["x"], "sentence_index": [0], "text": [text]})
    row = MODEL.block_features(sentence, "words")[0]
    return MAPPER.explain(text, offset, row, MODEL.coef_[:, [1]], ["Loaded_Language"], min_weight=0)


def test_evidence_names_the_loaded_word_with_positive_weight():
    """The loaded word is the evidence, and every evidence weight is positive."""
    evidence = explain("The reckless mayor visited the harbour.")
    assert evidence, "expected evidence for a loaded sentence"
    assert all(e.weight > 0 for e in evidence)
    assert "reckless" in evidence[0].text.lower()


@settings(max_examples=40, deadline=None)
@given(
    st.text(alphabet="The reckless shameful mayor harbour!?- ", min_size=0, max_size=80),
    st.integers(0, 500),
)
def test_offsets_slice_back_inside_the_sentence(text, offset):
    """Property: evidence offsets (shifted by the sentence start) slice back to the evidence."""
    document = "x" * offset + text
    for e in explain(text, offset):
        assert offset <= e.start < e.end <= offset + len(text)
        assert document[e.start : e.end] == e.text
        assert e.weight > 0


def test_stop_word_phrases_are_not_evidence():
    """Function-word n-grams carry weight but explain nothing to a reader."""
    phrases = MAPPER.phrases("of the and the")
    assert phrases == []


def _explain_without_shortcut(text, row, min_weight):
    """The evidence as computed before the early exit: every phrase, then the threshold."""
    phrases = MAPPER.phrases(text)
    values = dict(zip(row.indices.tolist(), row.data.tolist(), strict=True))
    found = []
    for column, start, end in phrases:
        weight = values.get(column, 0.0) * float(MODEL.coef_[column, 1])
        if weight >= min_weight:
            found.append((round(weight, 6), text[start:end]))
    return sorted(found, reverse=True)[:4]


@settings(max_examples=60, deadline=None)
@given(
    st.text(alphabet="The reckless shameful mayor harbour!?- ", min_size=0, max_size=80),
    st.sampled_from([0.0, 0.05, 0.1, 0.3, 1.0]),
)
def test_early_exit_never_drops_evidence(text, min_weight):
    """Skipping sentences whose row cannot reach min_weight gives the same evidence."""
    sentence = pd.DataFrame({"document_id": ["x"], "sentence_index": [0], "text": [text]})
    row = MODEL.block_features(sentence, "words")[0]
    got = MAPPER.explain(
        text, 0, row, MODEL.coef_, ["Loaded_Language"], min_weight=min_weight, weight_columns=[1]
    )
    want = _explain_without_shortcut(text, row, min_weight)
    assert sorted(((round(e.weight, 6), e.text) for e in got), reverse=True) == want


def test_stop_only_flags_follow_the_vocabulary():
    """A column is flagged exactly when its n-gram is made of function words only."""
    flags = MAPPER.stop_only()
    for gram, column in MAPPER.vocabulary.items():
        assert flags[column] == all(word in ENGLISH_STOP_WORDS for word in gram.split(" "))


def test_stop_only_of_an_empty_vocabulary_is_empty():
    assert EvidenceMapper({}).stop_only().shape == (0,)


def test_strongest_agrees_with_the_per_sentence_check():
    """The batch pre-check flags exactly the sentences whose row can reach min_weight."""
    texts = [
        "The reckless mayor visited the harbour.",
        "The new mayor visited the harbour.",
        "Of the and the.",
        "Shameful! Disgraceful! Corrupt!",
        "",
    ]
    sentences = pd.DataFrame(
        {"document_id": ["x"] * len(texts), "sentence_index": range(len(texts)), "text": texts}
    )
    matrix = MODEL.block_features(sentences, "words")
    strongest = MAPPER.strongest(matrix, MODEL.coef_)
    assert strongest.shape == (len(texts), MODEL.coef_.shape[1])
    for r in range(len(texts)):
        row = matrix[r]
        for column in range(MODEL.coef_.shape[1]):
            for min_weight in (0.01, 0.1, 0.5):
                reach = MAPPER._may_reach(row.indices, row.data, MODEL.coef_, [column], min_weight)
                assert (strongest[r, column] >= min_weight) == reach
    # a matrix taller than one slice of rows gives the same rows
    tall = scipy.sparse.vstack([matrix] * 1000, format="csr")
    assert np.array_equal(MAPPER.strongest(tall, MODEL.coef_), np.tile(strongest, (1000, 1)))


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.sampled_from(["The", "reckless", "shameful", "mayor", "harbour", "of", "the", "!", "-"]),
        max_size=25,
    ).map(" ".join),
    st.sampled_from([0.01, 0.1, 0.3]),
    st.integers(1, 4),
)
def test_strong_columns_path_equals_the_full_phrase_list(monkeypatch, text, min_weight, top):
    """Evidence found from the row's strong columns equals evidence from every phrase."""
    sentence = pd.DataFrame({"document_id": ["x"], "sentence_index": [0], "text": [text]})
    row = MODEL.block_features(sentence, "words")[0]
    arguments = (text, 7, row, MODEL.coef_, ["Loaded_Language", "Other"])
    options = dict(min_weight=min_weight, top=top, weight_columns=[1, 0])
    fast = MAPPER.explain(*arguments, **options)
    with monkeypatch.context() as patch:
        patch.setattr(EvidenceMapper, "_explain_strong", lambda *args: None)
        full = MAPPER.explain(*arguments, **options)
    assert fast == full
