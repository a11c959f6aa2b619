"""Feature extraction: factories that return unfitted scikit-learn transformers.

Every transformer here takes a *sentence frame*: a DataFrame with at least the columns
``document_id``, ``sentence_index`` and ``text`` (the sentence table of ``docs/architecture.md``,
or what :func:`proplens.scoring.sentence_frame` builds from a user's text). Sentences of one
document must be contiguous and in order, because context and repetition features look at the
neighbouring sentences and the whole document.

All steps here are unsupervised (they never look at labels), so fitting them on a training fold is
honest; the supervised steps (classifiers, thresholds) live in :mod:`proplens.model`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import chain

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer, normalize
from sklearn.utils.validation import check_is_fitted

from proplens.errors import ValidationError

__all__ = [
    "DEVICE_FEATURE_BLOCKS",
    "FastCharVectorizer",
    "FastWordVectorizer",
    "SentenceShape",
    "make_sentence_features",
    "make_span_features",
    "NeighbourWords",
    "neighbour_matrix",
    "neighbour_text",
    "sentence_text",
    "WORD_TOKEN_PATTERN",
    "add_neighbour_columns",
    "make_device_features",
]

# One token pattern shared by the vectorizers and the evidence mapper, so that every word feature
# can be traced back to character offsets in the input.
# (Equivalent to r"(?u)\b\w[\w'’-]*\w\b|\b\w\b|[!?]": words joined by hyphens or apostrophes,
# single characters, ! and ?; this form backtracks less and is about 1.5x faster.)
WORD_TOKEN_PATTERN = r"\w+(?:[-'’]+\w+)*|[!?]"

_CONTENT_WORD = re.compile(r"[^\W\d_]{4,}")
_STOPWORDS = frozenset(
    [
        "that",
        "this",
        "with",
        "from",
        "have",
        "were",
        "been",
        "will",
        "would",
        "they",
        "their",
        "there",
        "which",
        "what",
        "when",
        "where",
        "about",
        "also",
        "more",
        "than",
        "into",
        "said",
        "says",
        "them",
        "then",
        "some",
        "such",
        "only",
        "other",
        "over",
        "just",
        "like",
        "after",
        "before",
        "being",
        "could",
        "should",
        "while",
        "these",
        "those",
        "very",
        "most",
        "many",
        "much",
        "your",
        "because",
        "does",
        "doing",
    ]
)
_LENGTH_EDGES = np.array([3, 6, 10, 15, 20, 25, 30, 40, 50, 70])
_ALL_CAPS = re.compile(r"\b[A-Z]{3,}\b")


@lru_cache(maxsize=8)
def _token_regex(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def sentence_text(frame: pd.DataFrame) -> pd.Series:
    """The ``text`` column (a named function so that pipelines pickle and print cleanly)."""
    return frame["text"]


def neighbour_text(frame: pd.DataFrame) -> list[str]:
    """The previous and next sentence of the same document, joined; empty at document edges."""
    texts = frame["text"].tolist()
    documents = frame["document_id"].tolist()
    out = []
    for position, document in enumerate(documents):
        parts = []
        if position > 0 and documents[position - 1] == document:
            parts.append(texts[position - 1])
        if position + 1 < len(texts) and documents[position + 1] == document:
            parts.append(texts[position + 1])
        out.append(" ".join(parts))
    return out


def _repetition_counts(frame: pd.DataFrame) -> np.ndarray:
    """Per sentence: how often its content words recur elsewhere in the same document.

    The Repetition device is about a phrase coming back again and again, which a bag of words of a
    single sentence cannot see. Computed for all documents at once with hash look-ups.
    """
    out = np.zeros((len(frame), 3))
    words = [
        {w for w in _CONTENT_WORD.findall(text.lower()) if w not in _STOPWORDS}
        for text in frame["text"].tolist()
    ]
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    if lengths.sum() == 0:
        return out
    rows = np.repeat(np.arange(len(words)), lengths)
    documents = frame["document_id"].astype(str).to_numpy()[rows]
    keys = pd.Series(documents, dtype=object) + "\x00" + pd.Series(list(chain.from_iterable(words)))
    codes, _ = pd.factorize(keys)
    repeats = (np.bincount(codes)[codes] - 1).astype(float)
    out[:, 0] = np.log1p(
        pd.Series(repeats).groupby(rows).max().reindex(range(len(words)), fill_value=0)
    )
    out[:, 1] = np.log1p(np.bincount(rows, weights=repeats > 0, minlength=len(words)))
    out[:, 2] = np.log1p(np.bincount(rows, weights=repeats, minlength=len(words)))
    return out


class SentenceShape(TransformerMixin, BaseEstimator):
    """Dense, label-free features of a sentence's form and place in its document.

    Length (binned: longer sentences are likelier to contain a device), punctuation that marks
    emotion or questions, quotation, capitals, position in the document (line 0 is the title) and
    repetition of content words across the document.
    """

    def fit(self, X, y=None):
        self.n_features_in_ = 1
        return self

    def transform(self, X: pd.DataFrame):
        texts = X["text"].tolist()
        n_words = np.array([len(text.split()) for text in texts])
        bins = np.digitize(n_words, _LENGTH_EDGES)
        length = np.zeros((len(texts), len(_LENGTH_EDGES) + 1))
        length[np.arange(len(texts)), bins] = 1.0
        index = X["sentence_index"].to_numpy()
        shape = np.array(
            [
                (
                    "!" in text,
                    "?" in text,
                    '"' in text or "“" in text or "”" in text,
                    _ALL_CAPS.search(text) is not None,
                )
                for text in texts
            ],
            dtype=float,
        ).reshape(len(texts), 4)
        position = np.c_[index == 0, np.log1p(index) / 4]
        dense = np.hstack([length, np.log1p(n_words)[:, None] / 4, shape, position])
        return sparse.csr_matrix(np.hstack([dense, _repetition_counts(X)]))

    def get_feature_names_out(self, input_features=None):
        names = [f"length_bin_{i}" for i in range(len(_LENGTH_EDGES) + 1)]
        names += ["log_words", "exclamation", "question", "quote", "all_caps", "title", "position"]
        names += ["repeat_max", "repeat_words", "repeat_total"]
        return np.array(names, dtype=object)


# --- fast vectorizers: same output as TfidfVectorizer, vectorised transform -----------------


def _tfidf_weighting(counts: sparse.csr_matrix, vectorizer: TfidfVectorizer) -> sparse.csr_matrix:
    """What ``TfidfTransformer.transform`` does to a count matrix, in place on float32 data."""
    counts = counts.astype(vectorizer.dtype, copy=False)
    if vectorizer.sublinear_tf:
        np.log(counts.data, counts.data)
        counts.data += 1.0
    if vectorizer.use_idf:
        counts.data *= vectorizer.idf_.astype(vectorizer.dtype, copy=False)[counts.indices]
    if vectorizer.norm is not None:
        counts = normalize(counts, norm=vectorizer.norm, copy=False)
    return counts


def _row_ids(lengths: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(len(lengths)), lengths)


class FastWordVectorizer(TfidfVectorizer):
    """A word n-gram ``TfidfVectorizer`` (n <= 2) whose ``transform`` is vectorised.

    ``fit`` is scikit-learn's; ``transform`` returns the same matrix as scikit-learn's (up to
    float32 rounding) about 4x faster: each document is tokenised with one ``re.findall`` and
    the n-gram look-ups run as hash-table and ``searchsorted`` operations over all documents at
    once instead of a Python loop per n-gram. The fitted ``vocabulary_`` is the usual one, so the
    evidence mapper can trace columns back to phrases.
    """

    def fit(self, raw_documents, y=None):
        self.fit_transform(raw_documents)
        return self

    def fit_transform(self, raw_documents, y=None):
        if self.analyzer != "word" or self.ngram_range[1] > 2 or self.tokenizer is not None:
            raise ValidationError("FastWordVectorizer supports word uni- and bigrams only")
        matrix = super().fit_transform(raw_documents, y)
        self._build_lookup()
        return sparse.csr_matrix(matrix)

    def _build_lookup(self) -> None:
        # scikit-learn keeps every pruned term in stop_words_, only for introspection; it would
        # make the model file many times larger.
        if hasattr(self, "stop_words_"):
            del self.stop_words_
        unigrams, bigrams = {}, {}
        for term, column in self.vocabulary_.items():
            (bigrams if " " in term else unigrams)[term] = column
        words = sorted({w for term in self.vocabulary_ for w in term.split(" ")})
        self.word_index_ = pd.Index(words)
        code = {w: i for i, w in enumerate(words)}
        self.unigram_column_ = np.array([unigrams.get(w, -1) for w in words], dtype=np.int64)
        keys = np.array(
            [code[a] * len(words) + code[b] for a, b in (t.split(" ") for t in bigrams)],
            dtype=np.int64,
        )
        order = np.argsort(keys)
        self.bigram_keys_ = keys[order]
        self.bigram_columns_ = np.array(list(bigrams.values()), dtype=np.int64)[order]

    def count_matrix(self, raw_documents) -> sparse.csr_matrix:
        """Raw n-gram counts ``(n_documents, n_features)``."""
        check_is_fitted(self, "word_index_")
        regex = _token_regex(self.token_pattern)
        tokens = [regex.findall(doc.lower()) for doc in raw_documents]
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        flat = list(chain.from_iterable(tokens))
        ids = self.word_index_.get_indexer(flat) if flat else np.zeros(0, dtype=np.int64)
        rows = _row_ids(lengths)
        low, high = self.ngram_range
        row_parts, col_parts = [], []
        if low <= 1:
            known = ids >= 0
            columns = self.unigram_column_[ids[known]]
            keep = columns >= 0
            row_parts.append(rows[known][keep])
            col_parts.append(columns[keep])
        if high >= 2 and len(ids) > 1 and len(self.bigram_keys_):
            same_doc = rows[1:] == rows[:-1]
            both = same_doc & (ids[1:] >= 0) & (ids[:-1] >= 0)
            keys = ids[:-1][both] * len(self.word_index_) + ids[1:][both]
            where = np.searchsorted(self.bigram_keys_, keys)
            where = np.minimum(where, len(self.bigram_keys_) - 1)
            hit = self.bigram_keys_[where] == keys
            row_parts.append(rows[:-1][both][hit])
            col_parts.append(self.bigram_columns_[where[hit]])
        row = np.concatenate(row_parts) if row_parts else np.zeros(0, dtype=np.int64)
        col = np.concatenate(col_parts) if col_parts else np.zeros(0, dtype=np.int64)
        counts = sparse.csr_matrix(
            (np.ones(len(row), dtype=np.float32), (row, col)),
            shape=(len(tokens), len(self.vocabulary_)),
        )
        counts.sum_duplicates()
        return counts

    def transform(self, raw_documents):
        if isinstance(raw_documents, str):
            raise ValidationError("expected an iterable of texts, got one string")
        return _tfidf_weighting(self.count_matrix(list(raw_documents)), self)


class FastCharVectorizer(TfidfVectorizer):
    """A ``char_wb`` ``TfidfVectorizer`` whose ``transform`` works per distinct word.

    ``char_wb`` n-grams never cross whitespace, so a document's n-gram counts are the sum of its
    words' counts. ``fit`` keeps a (training word x n-gram) count matrix; ``transform`` counts
    words and multiplies, computing n-grams only for words unseen in training: the same matrix as
    scikit-learn's, 10x or more faster.
    """

    def fit(self, raw_documents, y=None):
        self.fit_transform(raw_documents)
        return self

    def fit_transform(self, raw_documents, y=None):
        if self.analyzer != "char_wb":
            raise ValidationError("FastCharVectorizer supports analyzer='char_wb' only")
        raw_documents = list(raw_documents)
        matrix = super().fit_transform(raw_documents, y)
        if hasattr(self, "stop_words_"):
            del self.stop_words_
        words = sorted({w for doc in raw_documents for w in doc.lower().split()})
        self.word_index_ = pd.Index(words)
        self.word_ngrams_ = self._ngram_rows(words)
        return sparse.csr_matrix(matrix)

    def _ngram_rows(self, words: list[str]) -> sparse.csr_matrix:
        vocabulary = self.vocabulary_
        indptr, indices = [0], []
        for word in words:
            # the analyzer pads the word with spaces, as char_wb does inside a document
            indices.extend(
                c for c in (vocabulary.get(g) for g in self._char_wb_ngrams(word)) if c is not None
            )
            indptr.append(len(indices))
        rows = sparse.csr_matrix(
            (np.ones(len(indices), dtype=np.float32), indices, indptr),
            shape=(len(words), len(vocabulary)),
        )
        rows.sum_duplicates()
        return rows

    def count_matrix(self, raw_documents) -> sparse.csr_matrix:
        check_is_fitted(self, "word_ngrams_")
        tokens = [doc.lower().split() for doc in raw_documents]
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        flat = list(chain.from_iterable(tokens))
        ids = self.word_index_.get_indexer(flat) if flat else np.zeros(0, dtype=np.int64)
        table = self.word_ngrams_
        unknown = ids < 0
        if unknown.any():
            new_words, inverse = np.unique(
                np.array(flat, dtype=object)[unknown], return_inverse=True
            )
            table = sparse.vstack([table, self._ngram_rows(new_words.tolist())], format="csr")
            ids = ids.copy()
            ids[unknown] = len(self.word_index_) + inverse
        words = sparse.csr_matrix(
            (np.ones(len(ids), dtype=np.float32), (_row_ids(lengths), ids)),
            shape=(len(tokens), table.shape[0]),
        )
        return sparse.csr_matrix(words @ table)

    def transform(self, raw_documents):
        if isinstance(raw_documents, str):
            raise ValidationError("expected an iterable of texts, got one string")
        return _tfidf_weighting(self.count_matrix(list(raw_documents)), self)


def add_neighbour_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``prev_text``/``next_text``: the sentences around each row in its document.

    Done on a whole table before taking a subset of its rows, the subset keeps its true
    neighbours (device feature blocks are computed on the rows a device can occur in only).
    Columns already present are kept, so a caller can pass neighbours taken from a larger table.
    """
    if "prev_text" in frame.columns and "next_text" in frame.columns:
        return frame
    texts = frame["text"].tolist()
    documents = frame["document_id"].tolist()
    previous = [
        texts[i - 1] if i > 0 and documents[i - 1] == documents[i] else ""
        for i in range(len(texts))
    ]
    following = [
        texts[i + 1] if i + 1 < len(texts) and documents[i + 1] == documents[i] else ""
        for i in range(len(texts))
    ]
    return frame.assign(prev_text=previous, next_text=following)


#: Named feature blocks a device of the taxonomy can add to the shared features (its
#: ``features`` key): ``{name: "module:factory"}``, the factory returning an unfitted transformer
#: over a sentence frame that has ``prev_text``/``next_text`` columns.
DEVICE_FEATURE_BLOCKS = {"figures": "proplens.figures:make_device_figure_features"}


def make_device_features(names: dict[str, str]) -> dict:
    """``{device: block name}`` -> ``{device: unfitted transformer}``, see DEVICE_FEATURE_BLOCKS."""
    from importlib import import_module

    blocks = {}
    for device, name in names.items():
        if name not in DEVICE_FEATURE_BLOCKS:
            known = ", ".join(sorted(DEVICE_FEATURE_BLOCKS))
            raise ValidationError(
                f"device {device!r}: unknown feature block {name!r} (known: {known})"
            )
        module, factory = DEVICE_FEATURE_BLOCKS[name].split(":")
        blocks[device] = getattr(import_module(module), factory)()
    return blocks


def neighbour_matrix(frame: pd.DataFrame) -> sparse.csr_matrix:
    """``(n, n)`` 0/1 matrix linking each sentence to the previous and next one of its document."""
    documents = frame["document_id"].to_numpy()
    n = len(documents)
    same = documents[1:] == documents[:-1] if n > 1 else np.zeros(0, dtype=bool)
    first = np.flatnonzero(same)
    rows = np.r_[first, first + 1]
    cols = np.r_[first + 1, first]
    return sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, n))


class NeighbourWords(TransformerMixin, BaseEstimator):
    """TF-IDF of the words of the previous and next sentence of the same document.

    Equal to vectorising :func:`neighbour_text`, but each sentence is tokenised once and the
    neighbours' counts are added with one sparse product.
    """

    def __init__(self, min_df: int = 3, max_df: float = 0.5):
        self.min_df = min_df
        self.max_df = max_df

    def fit(self, X: pd.DataFrame, y=None):
        self.vectorizer_ = _word_vectorizer(
            ngram_range=(1, 1), min_df=self.min_df, max_df=self.max_df
        )
        self.vectorizer_.fit(neighbour_text(X))
        self.n_features_in_ = 1
        return self

    def transform(self, X: pd.DataFrame):
        check_is_fitted(self, "vectorizer_")
        counts = self.vectorizer_.count_matrix(X["text"].tolist())
        return _tfidf_weighting(sparse.csr_matrix(neighbour_matrix(X) @ counts), self.vectorizer_)

    def get_feature_names_out(self, input_features=None):
        return self.vectorizer_.get_feature_names_out()


def _word_vectorizer(**overrides) -> TfidfVectorizer:
    params = dict(
        ngram_range=(1, 2),
        min_df=2,
        max_df=0.5,
        sublinear_tf=True,
        token_pattern=WORD_TOKEN_PATTERN,
        dtype=np.float32,
    )
    params.update(overrides)
    # the vectorised transform covers uni- and bigrams; longer n-grams (span features) use sklearn's
    fast = params["ngram_range"][1] <= 2
    return (FastWordVectorizer if fast else TfidfVectorizer)(**params)


def make_sentence_features(
    *, chars: bool = True, chars_weight: float = 1.4, context_weight: float = 0.35
) -> FeatureUnion:
    """The default sentence features: word n-grams, character n-grams, context and shape.

    The first block is always named ``"words"``: :mod:`proplens.evidence` reads its vocabulary to
    map a model's weights back to words of the input. Each TF-IDF block has unit-length rows, so
    a block's weight sets how much of the shared regularisation budget it gets: character
    n-grams at 1.4 raised grouped-CV micro-F1 over the 14 SemEval devices by 0.015 (0.7: -0.012,
    2.0: +0.009), and the neighbours' words count for about a third of the sentence's own.
    """
    blocks = [
        (
            "words",
            Pipeline(
                [
                    ("select", FunctionTransformer(sentence_text)),
                    ("tfidf", _word_vectorizer()),
                ]
            ),
        )
    ]
    if chars:
        blocks.append(
            (
                "chars",
                Pipeline(
                    [
                        ("select", FunctionTransformer(sentence_text)),
                        (
                            "tfidf",
                            FastCharVectorizer(
                                analyzer="char_wb",
                                ngram_range=(2, 5),
                                min_df=3,
                                max_features=80_000,
                                sublinear_tf=True,
                                dtype=np.float32,
                            ),
                        ),
                    ]
                ),
            )
        )
    blocks.append(("context", NeighbourWords()))
    blocks.append(("shape", SentenceShape()))
    weights = {"context": context_weight}
    if chars:
        weights["chars"] = chars_weight
    return FeatureUnion(blocks, transformer_weights=weights)


# --- span (technique classification) features -------------------------------------------------


def span_text(frame: pd.DataFrame) -> pd.Series:
    return frame["span"]


def span_context(frame: pd.DataFrame) -> pd.Series:
    return frame["sentence"]


class SpanShape(TransformerMixin, BaseEstimator):
    """Form of a span and how often it recurs in its document (Repetition is about recurrence)."""

    def fit(self, X, y=None):
        self.n_features_in_ = 1
        return self

    def transform(self, X: pd.DataFrame):
        spans = X["span"].tolist()
        documents = X["document"].tolist()
        rows = []
        for span, document in zip(spans, documents, strict=True):
            key = span.strip().lower()
            occurrences = document.lower().count(key) if key else 0
            n_words = len(span.split())
            rows.append(
                (
                    np.log1p(len(span)) / 5,
                    np.log1p(n_words) / 3,
                    n_words == 1,
                    n_words <= 3,
                    n_words > 10,
                    np.log1p(max(occurrences - 1, 0)),
                    occurrences > 1,
                    "!" in span,
                    "?" in span,
                    span[:1].isupper(),
                    sum(1 for w in span.split() if w[:1].isupper()) / max(n_words, 1),
                )
            )
        return sparse.csr_matrix(np.array(rows, dtype=float).reshape(len(spans), 11))

    def get_feature_names_out(self, input_features=None):
        return np.array(
            [
                "log_chars",
                "log_words",
                "one_word",
                "few_words",
                "long",
                "log_repeats",
                "repeated",
                "exclamation",
                "question",
                "capitalised",
                "capital_share",
            ],
            dtype=object,
        )


def make_span_features() -> FeatureUnion:
    """Features of a labeled span (columns ``span``, ``sentence``, ``document``) for TC."""
    return FeatureUnion(
        [
            (
                "words",
                Pipeline(
                    [
                        ("select", FunctionTransformer(span_text)),
                        ("tfidf", _word_vectorizer(ngram_range=(1, 3), min_df=1, max_df=1.0)),
                    ]
                ),
            ),
            (
                "chars",
                Pipeline(
                    [
                        ("select", FunctionTransformer(span_text)),
                        (
                            "tfidf",
                            TfidfVectorizer(
                                analyzer="char_wb",
                                ngram_range=(2, 5),
                                min_df=2,
                                sublinear_tf=True,
                                dtype=np.float32,
                            ),
                        ),
                    ]
                ),
            ),
            (
                "context",
                Pipeline(
                    [
                        ("select", FunctionTransformer(span_context)),
                        ("tfidf", _word_vectorizer(ngram_range=(1, 1), min_df=2)),
                    ]
                ),
            ),
            ("shape", SpanShape()),
        ],
        transformer_weights={"context": 0.5, "shape": 2.0},
    )
