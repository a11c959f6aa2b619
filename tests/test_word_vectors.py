"""The static word-vector block (proplens.word_vectors)."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proplens import word_vectors
from proplens.errors import ValidationError
from proplens.features import WORD_TOKEN_PATTERN, make_sentence_features, make_span_features
from proplens.word_vectors import SpanWordVectors, WordVectors, load_table


def _frame(texts: list[str], documents: list[str] | None = None) -> pd.DataFrame:
    documents = documents or ["d"] * len(texts)
    return pd.DataFrame(
        {"document_id": documents, "sentence_index": range(len(texts)), "text": texts}
    )


TRAINING = _frame(
    [
        "The reckless plan will ruin the harbour town.",
        "Officials opened the new bridge on Tuesday.",
        "A shameful betrayal of every family in the valley!",
        "The council meets again next week.",
    ]
)


def test_the_shipped_table_holds_common_words_as_unit_scale_vectors():
    words, vectors = load_table()
    assert len(words) == len(vectors) > 20_000
    assert vectors.shape[1] == 64 and vectors.dtype == np.float16
    assert {"betrayal", "disaster", "bridge", "family"} <= set(words)
    assert list(words) == sorted(words)  # one entry per word, in order
    assert not vectors.flags.writeable  # shared by every fit in the process


def test_rows_are_the_idf_weighted_mean_of_the_table_vectors_at_unit_length():
    block = WordVectors().fit(TRAINING)
    words, vectors = load_table()
    row_of = {w: i for i, w in enumerate(words)}
    tokenised = [re.findall(WORD_TOKEN_PATTERN, t.lower()) for t in TRAINING["text"]]
    n = len(tokenised)
    got = block.transform(TRAINING).toarray()
    for sentence, row in zip(tokenised, got, strict=True):
        expected = np.zeros(vectors.shape[1])
        for word in sentence:
            if word in row_of:
                frequency = sum(word in other for other in tokenised)
                idf = np.log((1 + n) / (1 + frequency)) + 1
                expected += idf * vectors[row_of[word]].astype(np.float64)
        expected /= np.linalg.norm(expected)
        np.testing.assert_allclose(row, expected, atol=2e-6)


def test_words_no_training_sentence_used_count_with_the_largest_idf():
    block = WordVectors().fit(TRAINING)
    index = list(block.table_words()).index
    assert block.idf_[index("catastrophe")] == block.idf_.max()
    assert block.idf_[index("the")] == block.idf_.min()
    # a sentence of unseen words still gets its meaning, close to a synonym's
    rows = block.transform(_frame(["A catastrophe.", "A disaster.", "The timetable."])).toarray()
    assert rows[0] @ rows[1] > rows[0] @ rows[2]


def test_the_block_is_dense_with_every_entry_stored():
    block = WordVectors().fit(TRAINING)
    rows = block.transform(_frame(["zzqv", "The plan.", "zzqv again"]))
    assert rows.nnz == 3 * 64 and rows.has_sorted_indices
    np.testing.assert_array_equal(rows.toarray()[0], 0)


def test_a_sentence_without_table_words_gets_zeros_and_masked_names_count_for_nothing():
    block = WordVectors().fit(TRAINING)
    rows = block.transform(_frame(["Xpersonx 1234 zzqv!", "", "Xpersonx met the council."]))
    dense = rows.toarray()
    assert not dense[0].any() and not dense[1].any()
    alone = block.transform(_frame(["met the council."])).toarray()
    np.testing.assert_allclose(dense[2], alone[0], atol=1e-6)


def test_a_block_fit_with_another_table_is_refused_in_one_line():
    block = WordVectors().fit(TRAINING)
    block.table_sha256_ = "0" * 64  # as if a later proplens shipped another table
    with pytest.raises(ValidationError, match="another word-vector table"):
        block.transform(TRAINING)


def test_a_v11_block_with_its_own_copy_of_the_table_scores_as_before():
    """v11 models pickled the table into the block (words_, vectors_): they still read it."""
    block = WordVectors().fit(TRAINING)
    words, vectors = load_table()
    old = WordVectors()
    old.__dict__.update(words_=list(words), vectors_=np.array(vectors), idf_=block.idf_,
                        n_features_in_=1)  # fmt: skip
    np.testing.assert_array_equal(
        old.transform(TRAINING).toarray(), block.transform(TRAINING).toarray()
    )


def test_a_fitted_block_pickles_without_its_lookup_and_transforms_the_same():
    block = WordVectors().fit(TRAINING)
    before = block.transform(TRAINING).toarray()
    restored = pickle.loads(pickle.dumps(block))
    assert len(pickle.dumps(block)) < 200_000  # the table stays in the package data
    np.testing.assert_array_equal(restored.transform(TRAINING).toarray(), before)


def test_the_sentence_features_take_the_block_at_its_weight():
    union = make_sentence_features(vectors_weight=0.8)
    names = [name for name, _ in union.transformer_list]
    assert names[-2:] == ["vectors", "lexicon"]  # the lexicon stays last
    assert union.transformer_weights["vectors"] == 0.8
    assert make_sentence_features().transformer_weights["vectors"] == 0.5  # the default
    assert "vectors" not in dict(make_sentence_features(vectors_weight=0).transformer_list)


def test_a_missing_or_damaged_table_is_a_one_line_error(tmp_path, monkeypatch):
    with pytest.raises(ValidationError, match="missing or damaged"):
        load_table("no-such-table.npz")
    bad = tmp_path / "proplens" / "data"
    bad.mkdir(parents=True)
    np.savez(bad / "short.npz", words=np.array(["a", "b"]), vectors=np.zeros((3, 4)))
    monkeypatch.setattr(word_vectors.resources, "files", lambda package: tmp_path / package)
    load_table.cache_clear()
    with pytest.raises(ValidationError, match="one vector per word"):
        load_table("short.npz")


def test_lowercase_only_leaves_capitalised_words_out():
    block = WordVectors(lowercase_only=True).fit(TRAINING)
    plain = WordVectors().fit(TRAINING)
    rows = block.transform(_frame(["Lantern Party betrayal", "betrayal", "Lantern party"]))
    dense = rows.toarray()
    np.testing.assert_allclose(dense[0], dense[1], atol=1e-6)  # the name counts for nothing
    assert dense[2].any()  # "party" in lower case is read
    assert not np.allclose(plain.transform(_frame(["Lantern Party betrayal"])).toarray(), dense[1])
    assert block.reads("party") and not block.reads("Party") and plain.reads("Party")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(
            st.sampled_from(
                [
                    "the",
                    "The",
                    "plan",
                    "Plan",
                    "harbour",
                    "HARBOUR",
                    "betrayal!",
                    "x",
                    "İki",
                    "don't",
                    "ruin,",
                    "Velm",
                    "  ",
                    "\n",
                    "-",
                    "7%",
                    "town.",
                ]
            ),
            max_size=10,
        ).map(" ".join),
        min_size=1,
        max_size=5,
    )
)
def test_lowercase_only_counts_the_tokens_as_written_in_each_text(texts):
    """The block counts tokens per distinct whitespace chunk; its rows are those of reading
    each text's tokens as written, one by one (capitalised ones left out)."""
    block = WordVectors(lowercase_only=True).fit(TRAINING)
    words, vectors = load_table()
    index = {word: i for i, word in enumerate(words)}
    findall = re.compile(WORD_TOKEN_PATTERN).findall
    expected = []
    for text in texts:
        summed = np.zeros(vectors.shape[1])
        for token in findall(text):
            row = index.get(token.lower())
            if row is not None and not token[0].isupper():
                summed += vectors[row].astype(np.float64) * block.idf_[row]
        norm = np.linalg.norm(summed)
        expected.append(summed / norm if norm else summed)
    np.testing.assert_allclose(block.transform(_frame(texts)).toarray(), expected, atol=1e-5)


def test_span_vectors_read_one_column_of_a_span_frame_without_document_ids():
    spans = pd.DataFrame(
        {
            "span": ["shameful betrayal", "Marlow first"],
            "sentence": ["A shameful betrayal of the town.", "Marlow first, Marlow always!"],
        }
    )
    block = SpanWordVectors("span").fit(spans)
    alone = WordVectors().fit(_frame(spans["span"].tolist()))
    np.testing.assert_allclose(
        block.transform(spans).toarray(), alone.transform(_frame(spans["span"].tolist())).toarray()
    )
    assert SpanWordVectors("sentence").fit(spans).transform(spans).shape == (2, 64)


def test_the_span_features_take_the_span_and_sentence_vectors():
    union = make_span_features()
    blocks = dict(union.transformer_list)
    assert blocks["vectors"].column == "span" and blocks["sentence_vectors"].column == "sentence"
    assert union.transformer_weights["vectors"] == 1.0
    assert union.transformer_weights["sentence_vectors"] == 0.5
    assert "vectors" not in dict(make_span_features(vectors=False).transformer_list)
    sentence_block = dict(make_sentence_features().transformer_list)["vectors"]
    assert sentence_block.lowercase_only  # names the gazetteer misses stay out
