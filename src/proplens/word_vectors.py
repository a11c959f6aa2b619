"""The meaning of a sentence's words: a static word-vector block for the sentence features.

A TF-IDF model knows only the words its training sentences used. Two sentences that say the
same with different words ("a catastrophic betrayal", "a disastrous sell-out") share no column,
and a device's rarer wordings go unlearned. :class:`WordVectors` gives every sentence the
IDF-weighted mean of its words' vectors from a static table, so words of similar meaning pull the
regressions the same way, including words no training sentence used.

The table (``proplens/data/word_vectors.npz``) holds one vector per word: the all-MiniLM-L6-v2
sentence encoder's embedding of the word on its own, reduced to 64 dimensions by PCA and stored as
float16. It is built once by ``benchmarks/build_word_vectors.py`` (which needs the "bench" extra
for the encoder); scoring and training need only numpy. The encoder is
sentence-transformers/all-MiniLM-L6-v2, Apache-2.0 licensed; the table is derived from its
weights and keeps that licence's attribution here. The block is unsupervised (the IDF is
counted on the training sentences, never on labels), reads the masked text like every other block,
and is linear in the word counts up to each sentence's length normalisation, so each word's share
of a score stays computable.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from itertools import repeat

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from proplens.errors import ValidationError
from proplens.features import (
    WORD_TOKEN_PATTERN,
    SentenceColumns,
    _count_csr,
    _row_ids,
)

__all__ = ["TABLE_FILE", "WordVectors", "load_table"]

#: the word-vector table shipped with proplens (package data)
TABLE_FILE = "word_vectors.npz"


def _full_csr(dense: np.ndarray) -> sparse.csr_matrix:
    """``dense`` as CSR with every entry stored, zeros included: the block is dense, and
    finding its non-zeros cost more than the rest of its transform."""
    rows, width = dense.shape
    index_type = np.int32 if dense.size < 2**31 else np.int64
    return sparse.csr_matrix(
        (
            dense.ravel(),
            np.tile(np.arange(width, dtype=index_type), rows),
            np.arange(0, dense.size + 1, width, dtype=index_type),
        ),
        shape=dense.shape,
    )


@lru_cache(maxsize=2)
def load_table(name: str = TABLE_FILE) -> tuple[tuple[str, ...], np.ndarray]:
    """``(words, vectors)`` of a table in ``proplens/data``: vectors ``(len(words), d)``, read
    once per process (every fold of a cross-validation fits the block) and never written to."""
    source = resources.files("proplens") / "data" / name
    try:
        with source.open("rb") as handle, np.load(handle, allow_pickle=False) as table:
            words, vectors = tuple(table["words"].tolist()), table["vectors"]
    except (FileNotFoundError, KeyError, ValueError) as error:
        raise ValidationError(
            f"word-vector table {name!r} is missing or damaged: {error}"
        ) from None
    if vectors.ndim != 2 or len(words) != len(vectors):
        raise ValidationError(f"word-vector table {name!r}: one vector per word expected")
    vectors.flags.writeable = False
    return words, vectors


class WordVectors(TransformerMixin, BaseEstimator):
    """The IDF-weighted mean of a sentence's word vectors, scaled to unit length.

    ``fit`` copies the table into the estimator (a saved model keeps working whatever table a
    later proplens ships) and counts each table word's document frequency over the training
    sentences, smoothed as scikit-learn's TF-IDF does; table words no training sentence used get
    the largest IDF. Words outside the table (and the masker's entity tokens) contribute nothing;
    a sentence with no table word gets a row of zeros.
    """

    def __init__(self, table: str = TABLE_FILE):
        self.table = table

    def fit(self, X, y=None):
        columns = X if isinstance(X, SentenceColumns) else SentenceColumns.from_frame(X)
        words, vectors = load_table(self.table)
        self.words_ = list(words)
        self.vectors_ = np.asarray(vectors, dtype=np.float16)
        counts = self._counts(columns)
        document_frequency = np.bincount(
            counts.indices[counts.data > 0], minlength=len(words)
        ).astype(np.float64)
        n = counts.shape[0]
        self.idf_ = (np.log((1 + n) / (1 + document_frequency)) + 1).astype(np.float32)
        self.n_features_in_ = 1
        return self

    def _word_ids(self, words: list[str]) -> np.ndarray:
        """Each word's row in the table, -1 for a word not in it."""
        codes = self.__dict__.get("_codes")
        if codes is None:
            codes = self._codes = {word: i for i, word in enumerate(self.words_)}
        return np.fromiter(map(codes.get, words, repeat(-1)), dtype=np.int64, count=len(words))

    def _counts(self, X: SentenceColumns):
        """``(sentences x table words)`` raw counts, from the tokens the word block shares."""
        tokens = X.tokens(WORD_TOKEN_PATTERN)
        ids = self._word_ids(tokens.words)[tokens.ids]
        known = ids >= 0
        rows = _row_ids(tokens.lengths)
        return _count_csr(rows[known], ids[known], (len(tokens), len(self.words_)))

    def transform(self, X: pd.DataFrame):
        return self.transform_columns(SentenceColumns.from_frame(X))

    def transform_columns(self, X: SentenceColumns):
        check_is_fitted(self, "idf_")
        tokens = X.tokens(WORD_TOKEN_PATTERN)
        # the sum over a sentence's words, as (sentences x distinct words) counts times each
        # distinct word's vector with its IDF: the table is read once per distinct word
        table = self._word_ids(tokens.words)
        known = table >= 0
        distinct = np.zeros((len(table), self.vectors_.shape[1]), dtype=np.float32)
        distinct[known] = self._weighted_vectors()[table[known]]
        counts = _count_csr(_row_ids(tokens.lengths), tokens.ids, (len(tokens), len(table)))
        summed = np.asarray(counts @ distinct, dtype=np.float32)
        lengths = np.sqrt(np.einsum("ij,ij->i", summed, summed))
        np.divide(summed, lengths[:, None], out=summed, where=lengths[:, None] > 0)
        return _full_csr(summed)

    def _weighted_vectors(self) -> np.ndarray:
        """The table's vectors times their words' IDF, as float32 (the model file keeps the
        float16 table; this copy is made on first use)."""
        weighted = self.__dict__.get("_weighted")
        if weighted is None:
            weighted = self._weighted = self.vectors_.astype(np.float32) * self.idf_[:, None]
        return weighted

    def get_feature_names_out(self, input_features=None):
        return np.array([f"dim{i}" for i in range(self.vectors_.shape[1])], dtype=object)

    def __getstate__(self):
        state = dict(super().__getstate__())
        for derived in ("_codes", "_weighted"):  # rebuilt on first use
            state.pop(derived, None)
        return state
