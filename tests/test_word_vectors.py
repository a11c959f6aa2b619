"""The static word-vector block (proplens.word_vectors)."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pandas as pd
import pytest

from proplens import word_vectors
from proplens.errors import ValidationError
from proplens.features import WORD_TOKEN_PATTERN, make_sentence_features
from proplens.word_vectors import WordVectors, load_table


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
    index = block.words_.index
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


def test_a_fitted_block_pickles_without_its_lookup_and_transforms_the_same():
    block = WordVectors().fit(TRAINING)
    before = block.transform(TRAINING).toarray()
    assert {"_codes", "_weighted"} <= set(block.__dict__)
    restored = pickle.loads(pickle.dumps(block))
    assert not {"_codes", "_weighted"} & set(restored.__dict__)
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
