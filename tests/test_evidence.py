"""Evidence: phrases with positive weight, offsets that slice back inside the sentence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from proplens.evidence import (
    MIN_WEIGHT,
    EvidenceMapper,
    SentenceAttribution,
    words_overlapping,
)
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


# -- SentenceAttribution: every block made of the sentence's words ---------------------------


def full_model(vectors_weight: float = 0.0) -> DeviceClassifier:
    """Word, character and lexicon blocks, names masked: the default features on a toy corpus
    whose loaded words sit inside Loaded_Language spans (and the word vectors at
    ``vectors_weight``)."""
    rows, labels, spans = [], [], []
    for d in range(12):
        for i in range(4):
            loaded = i % 2 == 0
            word = LOADED[(d + i) % 4] if loaded else PLAIN[(d + i) % 4]
            text = f"The {word} mayor of France visited the harbour."
            rows.append((f"d{d}", i, text))
            labels.append([int(loaded)])
            spans.append([(4, 4 + len(word), "Loaded_Language")] if loaded else [])
    frame = pd.DataFrame(rows, columns=["document_id", "sentence_index", "text"])
    frame["spans"] = spans
    return DeviceClassifier(
        devices=["Loaded_Language"],
        features=make_sentence_features(vectors_weight=vectors_weight),
        threshold_folds=2,
        min_positive=2,
    ).fit(frame, np.array(labels))


FULL = full_model()
VECTORS_MODEL = full_model(vectors_weight=1.0)
ATTRIBUTION = SentenceAttribution.from_model(FULL)


def _rows(text: str) -> dict:
    sentence = pd.DataFrame({"document_id": ["x"], "sentence_index": [0], "text": [text]})
    blocks = FULL.block_matrices(sentence, ("words", "chars", "lexicon"))
    return {name: (m.indices, m.data) for name, m in blocks.items()}, blocks


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="The reckless shameful mayor of France harbour,!?- ", max_size=80))
def test_word_and_character_shares_add_up_to_their_blocks(text):
    """Property: the words' shares of the word and character blocks sum to those blocks'
    contributions to the log-odds (nothing is lost or counted twice)."""
    rows, blocks = _rows(text)
    for name in ("words", "chars"):
        _, _, _, shares = ATTRIBUTION.word_shares(text, {name: rows[name]}, FULL.coef_, [1])
        block = blocks[name] @ FULL.coef_[FULL.block_slices_[name]]
        assert shares.sum() == pytest.approx(float(block[0, 1]), abs=1e-4)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="The reckless shameful mayor of France harbour,!?- ", max_size=80))
def test_word_vector_shares_add_up_to_their_block(text):
    """Property: the words' shares of the word-vector block sum to its contribution to the
    log-odds, and only words of the vector table get a share."""
    model = VECTORS_MODEL
    attribution = SentenceAttribution.from_model(model)
    sentence = pd.DataFrame({"document_id": ["x"], "sentence_index": [0], "text": [text]})
    matrix = model.block_matrices(sentence, ("vectors",))["vectors"]
    rows = {"vectors": (matrix.indices, matrix.data)}
    source, _, spans, shares = attribution.word_shares(text, rows, model.coef_, [1])
    block = matrix @ model.coef_[model.block_slices_["vectors"]]
    assert shares.sum() == pytest.approx(float(block[0, 1]), abs=1e-4)
    table = set(attribution.vectors.table_words())
    for (start, end), share in zip(spans, shares[:, 0], strict=True):
        if source[start:end].lower() not in table:  # (names masked in the source)
            assert share == 0


def test_lexicon_shares_add_up_when_every_word_is_known():
    """With every word in the lexicon, the strongest-word and top-3 features are shared out
    whole; the strongest word gets the largest share."""
    text = "The reckless mayor visited the harbour."
    rows, blocks = _rows(text)
    _, _, spans, shares = ATTRIBUTION.word_shares(
        text, {"lexicon": rows["lexicon"]}, FULL.coef_, [1]
    )
    lexicon = FULL.features_.transformer_list[-1][1]
    assert all(lexicon.vocabulary_.get(text[s:e].lower()) is not None for s, e in spans), (
        "the test needs a sentence of known words"
    )
    block = blocks["lexicon"] @ FULL.coef_[FULL.block_slices_["lexicon"]]
    assert shares.sum() == pytest.approx(float(block[0, 1]), abs=1e-4)
    assert text[slice(*spans[int(np.argmax(shares[:, 0]))])] == "reckless"


def test_attribution_names_the_loaded_word_and_maps_masked_names_back():
    """The loaded word is the evidence; offsets slice the input, also after a masked name."""
    for text in ("The shameful mayor of France visited the harbour.",
                 "France: the shameful mayor visited the harbour."):  # fmt: skip
        rows, _ = _rows(text)
        evidence = ATTRIBUTION.explain(text, 7, rows, FULL.coef_, ["Loaded_Language"], [1])
        assert evidence and evidence[0].text == "shameful"
        document = "x" * 7 + text
        for e in evidence:
            assert document[e.start : e.end] == e.text and e.weight >= MIN_WEIGHT


def test_phrases_join_neighbours_and_drop_function_words_at_the_edges():
    """Neighbouring strong words form one phrase with the sum of their shares; a function word
    at its edge is left out, and so is a word under a fifth of the largest share."""
    source = "a truly shameful, reckless plan"
    spans = [(0, 1), (2, 7), (8, 16), (18, 26), (27, 31)]
    shares = np.array([0.5, 0.4, 2.0, 0.45, 0.3])
    phrases = SentenceAttribution._phrases(source, spans, shares, 0.1)
    assert [(source[s:e], round(w, 3)) for s, e, w in phrases] == [
        ("truly shameful", 2.4),
        ("reckless", 0.45),
    ]
    assert SentenceAttribution._phrases(source, spans, -shares, 0.0) == []


def test_a_device_blocks_places_absorb_the_words_inside_them():
    """A place a device's own block points at (a figure) takes the shares of the words inside
    it, instead of those words standing alone."""
    text = "The reckless mayor spent 12,000 dollars."
    rows, _ = _rows(text)
    start = text.index("12,000")
    plain = ATTRIBUTION.explain(
        text, 0, rows, FULL.coef_, ["Loaded_Language"], [1], min_weight=0.0, top=20
    )
    with_place = ATTRIBUTION.explain(
        text, 0, rows, FULL.coef_, ["Loaded_Language"], [1], min_weight=0.0, top=20,
        extra={"Loaded_Language": [(start, start + 6, 1.0)]},
    )  # fmt: skip
    inside = sum(e.weight for e in plain if start <= e.start and e.end <= start + 6)
    figure = [e for e in with_place if e.text == "12,000"]
    assert len(figure) == 1 and figure[0].weight == pytest.approx(1.0 + inside)
    assert not any(start <= e.start < start + 6 and e.text != "12,000" for e in with_place)


def _lexicon_shares_one_by_one(text: str) -> np.ndarray:
    """The lexicon's shares of one sentence, written plainly: each column's strongest known word
    takes the strongest-word feature; the top-3 feature goes to the known words among the three
    strongest candidates (unknown words count at the base rate), in proportion to their rates."""
    lexicon = FULL.features_.transformer_list[-1][1]
    width = len(lexicon.devices_) + 1
    rows, blocks = _rows(text)
    values = blocks["lexicon"].toarray()[0]
    block = FULL.coef_[FULL.block_slices_["lexicon"]][:, 1]
    source, _, spans, _ = ATTRIBUTION.word_shares(text, {}, FULL.coef_, [1])
    words = [source[s:e].lower() for s, e in spans]  # names masked, as the lexicon reads them
    known = [i for i, w in enumerate(words) if w in lexicon.vocabulary_]
    shares = np.zeros(len(words))
    if not known:
        return shares
    for j in range(width):
        ratio = {
            i: float(np.exp(lexicon.log_ratio_[lexicon.vocabulary_[words[i]], j])) for i in known
        }
        ranked = sorted(known, key=lambda i: -ratio[i])  # stable: ties in word order
        shares[ranked[0]] += values[j] * block[j]
        candidates = sorted(
            [ratio[i] for i in ranked[:3]] + [1.0] * min(len(words) - len(known), 3), reverse=True
        )[:3]
        for i in ranked[:3]:
            if ratio[i] >= candidates[-1]:
                shares[i] += values[width + j] * block[width + j] * ratio[i] / sum(candidates)
    return shares


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(
            [
                "The",
                "reckless",
                "shameful",
                "mayor",
                "of",
                "France",
                "visited",
                "harbour",
                "zyx",
                "qwerty",
                "new",
                "tall",
                ",",
                "!",
            ]
        ),
        max_size=14,
    )  # fmt: skip
)
def test_lexicon_shares_equal_a_plain_reading(words):
    """Property: the vectorised lexicon shares (all sentences at once) equal the plain
    per-sentence reading, unknown words and ties included."""
    text = " ".join(words)
    rows, _ = _rows(text)
    _, _, _, shares = ATTRIBUTION.word_shares(text, {"lexicon": rows["lexicon"]}, FULL.coef_, [1])
    np.testing.assert_allclose(shares[:, 0], _lexicon_shares_one_by_one(text), atol=1e-9)


@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(1, 4)), max_size=30),
    st.integers(0, 120),
    st.integers(0, 40),
)
def test_words_overlapping_a_place_are_found_as_by_checking_each_word(gaps, start, width):
    """The binary search returns exactly the words a pass over all of them finds."""
    starts, ends, position = [], [], 0
    for gap, length in gaps:  # words in order, never overlapping
        starts.append(position + gap)
        ends.append(position + gap + length)
        position = ends[-1]
    end = start + width
    expected = [i for i in range(len(starts)) if starts[i] < end and ends[i] > start]
    assert list(words_overlapping(starts, ends, start, end)) == expected
