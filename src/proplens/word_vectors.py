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

import hashlib
import io
from functools import lru_cache
from importlib import resources
from itertools import chain, repeat
from operator import itemgetter

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
    _token_regex,
)

__all__ = ["TABLE_FILE", "SpanWordVectors", "WordVectors", "load_table"]

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
    once per process (every block and every fold of a cross-validation shares it) and never
    written to."""
    try:
        with (resources.files("proplens") / "data" / name).open("rb") as handle:
            content = handle.read()
        with np.load(io.BytesIO(content), allow_pickle=False) as table:
            words, vectors = tuple(table["words"].tolist()), table["vectors"]
    except (FileNotFoundError, KeyError, ValueError, OSError) as error:
        raise ValidationError(
            f"word-vector table {name!r} is missing or damaged: {error}"
        ) from None
    if vectors.ndim != 2 or len(words) != len(vectors):
        raise ValidationError(f"word-vector table {name!r}: one vector per word expected")
    vectors.flags.writeable = False
    _TABLE_SHA256[name] = hashlib.sha256(content).hexdigest()
    return words, vectors


#: sha256 of each table file read (load_table fills it)
_TABLE_SHA256: dict[str, str] = {}


def table_sha256(name: str = TABLE_FILE) -> str:
    """The sha256 of a table file in ``proplens/data`` (what a fitted block records)."""
    load_table(name)
    return _TABLE_SHA256[name]


@lru_cache(maxsize=2)
def _table_codes(name: str) -> dict[str, int]:
    """Word -> row of a shipped table, built once per process."""
    return {word: i for i, word in enumerate(load_table(name)[0])}


class WordVectors(TransformerMixin, BaseEstimator):
    """The IDF-weighted mean of a sentence's word vectors, scaled to unit length.

    ``fit`` counts each table word's document frequency over the training sentences, smoothed as
    scikit-learn's TF-IDF does (table words no training sentence used get the largest IDF), and
    records the table's name and sha256. The table itself stays in proplens's package data,
    shared by every block and model rather than copied into each (three copies would take the
    model past its size budget); a model whose table is no longer the one shipped is refused
    with a clear error. Words outside the table (and the masker's entity tokens) contribute
    nothing; a sentence with no table word gets a row of zeros. (v11's block kept its own copy
    of the table, ``words_`` and ``vectors_``, and still reads it.)
    """

    def __init__(self, table: str = TABLE_FILE, lowercase_only: bool = False):
        self.table = table
        self.lowercase_only = lowercase_only

    def fit(self, X, y=None):
        columns = X if isinstance(X, SentenceColumns) else SentenceColumns.from_frame(X)
        for copied in ("words_", "vectors_", "_codes"):  # a refit of a v11 block
            self.__dict__.pop(copied, None)
        words, _ = load_table(self.table)
        self.table_sha256_ = table_sha256(self.table)
        counts, rows = self._counts_and_rows(columns)
        document_frequency = np.zeros(len(words))
        used = np.flatnonzero(rows >= 0)
        np.add.at(document_frequency, rows[used], np.diff(counts.tocsc().indptr)[used])
        n = counts.shape[0]
        self.idf_ = (np.log((1 + n) / (1 + document_frequency)) + 1).astype(np.float32)
        self.n_features_in_ = 1
        return self

    def table_words(self) -> list[str] | tuple[str, ...]:
        """The words of the table, in the order of its rows."""
        return self._table()[0]

    def table_vectors(self) -> np.ndarray:
        """The table's vectors, one row per word of :meth:`table_words` (float16)."""
        return self._table()[1]

    def _table(self):
        if "vectors_" in self.__dict__:  # v11: the block's own copy
            return self.words_, self.vectors_
        words, vectors = load_table(self.table)
        if table_sha256(self.table) != self.table_sha256_:
            raise ValidationError(
                f"this model was fit with another word-vector table {self.table!r} than the one "
                "installed; use the proplens version it was trained with, or retrain it"
            )
        return words, vectors

    def _word_ids(self, words: list[str]) -> np.ndarray:
        """Each word's row in the table, -1 for a word not in it."""
        if "vectors_" in self.__dict__:
            codes = self.__dict__.get("_codes")
            if codes is None:
                codes = self._codes = {word: i for i, word in enumerate(self.words_)}
        else:
            self._table()  # checks the table
            codes = _table_codes(self.table)
        return np.fromiter(map(codes.get, words, repeat(-1)), dtype=np.int64, count=len(words))

    def reads(self, token: str) -> bool:
        """Whether the block reads a token as written (``lowercase_only``: not capitalised)."""
        return not (getattr(self, "lowercase_only", False) and token[:1].isupper())

    def rows_of_written(self, written: list[str]) -> np.ndarray:
        """The table row of each token as written in the text, -1 for one the block does not
        read (:meth:`reads`) or the table lacks."""
        rows = self._word_ids(list(map(str.lower, written)))
        if getattr(self, "lowercase_only", False):
            # (what reads() asks of each token, with the loops in C)
            first = map(itemgetter(slice(0, 1)), written)
            capitalised = np.fromiter(map(str.isupper, first), dtype=bool, count=len(written))
            rows[capitalised] = -1
        return rows

    def _counts_and_rows(self, X: SentenceColumns) -> tuple[sparse.csr_matrix, np.ndarray]:
        """How often each sentence holds each distinct token (sentences x tokens), and each
        distinct token's row in the table (-1: none).

        With ``lowercase_only``, tokens are read as written and a capitalised one has no row:
        a name the gazetteer does not list ("Lantern Party") is made of words with a meaning,
        and the topic of a sentence is not its rhetoric. Otherwise the lower-cased tokens the
        word block shares are used."""
        if not getattr(self, "lowercase_only", False):
            tokens = X.tokens(WORD_TOKEN_PATTERN)
            counts = _count_csr(
                _row_ids(tokens.lengths), tokens.ids, (len(tokens), len(tokens.words))
            )
            return counts, self._word_ids(tokens.words)
        # The tokens as written are those of the whitespace chunks as written (the pattern
        # keeps to chunks): each distinct chunk is searched once, and a sentence's counts are
        # its chunks' counts added up (chunks x tokens, times sentences x chunks), without
        # building the token stream.
        chunks = X.chunks_as_written()
        per_chunk = list(map(_token_regex(WORD_TOKEN_PATTERN).findall, chunks.words))
        lengths = np.fromiter(map(len, per_chunk), dtype=np.int64, count=len(per_chunk))
        flat = np.fromiter(chain.from_iterable(per_chunk), dtype=object, count=int(lengths.sum()))
        codes, distinct = pd.factorize(flat)
        in_chunk = _count_csr(_row_ids(lengths), codes, (len(per_chunk), len(distinct)))
        chunk_counts = _count_csr(
            _row_ids(chunks.lengths), chunks.ids, (len(chunks), len(per_chunk))
        )
        return (chunk_counts @ in_chunk).tocsr(), self.rows_of_written(distinct.tolist())

    def transform(self, X: pd.DataFrame):
        return self.transform_columns(SentenceColumns.from_frame(X))

    def transform_columns(self, X: SentenceColumns):
        summed = self.summed(X)
        lengths = np.sqrt(np.einsum("ij,ij->i", summed, summed))
        np.divide(summed, lengths[:, None], out=summed, where=lengths[:, None] > 0)
        return _full_csr(summed)

    def summed(self, X: SentenceColumns) -> np.ndarray:
        """Each sentence's IDF-weighted sum of its word vectors, before the scaling to unit
        length (``(sentences, d)`` float32): what a block over several sentences adds up."""
        check_is_fitted(self, "idf_")
        counts, table = self._counts_and_rows(X)
        # the sum over a sentence's words, as (sentences x distinct words) counts times each
        # distinct word's vector with its IDF: the table is read once per distinct word
        known = table >= 0
        vectors = self.table_vectors()
        distinct = np.zeros((len(table), vectors.shape[1]), dtype=np.float32)
        rows = table[known]
        distinct[known] = vectors[rows].astype(np.float32) * self.idf_[rows, None]
        return np.asarray(counts @ distinct, dtype=np.float32)

    def get_feature_names_out(self, input_features=None):
        return np.array([f"dim{i}" for i in range(self.table_vectors().shape[1])], dtype=object)

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_codes", None)  # rebuilt on first use
        return state


class SpanWordVectors(TransformerMixin, BaseEstimator):
    """:class:`WordVectors` of one text column of a span frame (``make_span_features``): the
    span's own words (``"span"``) or its sentence's (``"sentence"``). What a span says, beyond
    its exact words, separates devices that share vocabulary (a slogan and a flag-waving
    phrase, a name-calling label and loaded language)."""

    def __init__(self, column: str = "span", lowercase_only: bool = False):
        self.column = column
        self.lowercase_only = lowercase_only

    def _as_sentences(self, X: pd.DataFrame) -> SentenceColumns:
        texts = X[self.column].tolist()
        # the block reads each text alone: which document it is in does not matter
        return SentenceColumns(texts, [0] * len(texts), list(range(len(texts))))

    def fit(self, X: pd.DataFrame, y=None):
        self.block_ = WordVectors(lowercase_only=self.lowercase_only)
        self.block_.fit(self._as_sentences(X))
        self.n_features_in_ = 1
        return self

    def transform(self, X: pd.DataFrame):
        check_is_fitted(self, "block_")
        return self.block_.transform_columns(self._as_sentences(X))

    def get_feature_names_out(self, input_features=None):
        return self.block_.get_feature_names_out()
