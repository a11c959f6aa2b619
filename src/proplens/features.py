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
from collections import Counter

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer

__all__ = [
    "SentenceShape",
    "make_sentence_features",
    "make_span_features",
    "neighbour_text",
    "sentence_text",
    "WORD_TOKEN_PATTERN",
]

# One token pattern shared by the vectorizers and the evidence mapper, so that every word feature
# can be traced back to character offsets in the input.
WORD_TOKEN_PATTERN = r"(?u)\b\w[\w'’-]*\w\b|\b\w\b|[!?]"

_CONTENT_WORD = re.compile(r"[^\W\d_]{4,}")
_STOPWORDS = frozenset(
    ["that", "this", "with", "from", "have", "were", "been", "will", "would", "they", "their", "there", "which", "what", "when", "where", "about", "also", "more", "than", "into", "said", "says", "them", "then", "some", "such", "only", "other", "over", "just", "like", "after", "before", "being", "could", "should", "while", "these", "those", "very", "most", "many", "much", "your", "because", "does", "doing"]
)
_LENGTH_EDGES = np.array([3, 6, 10, 15, 20, 25, 30, 40, 50, 70])


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
    single sentence cannot see.
    """
    out = np.zeros((len(frame), 3))
    documents = frame["document_id"].to_numpy()
    texts = frame["text"].tolist()
    boundaries = np.flatnonzero(np.r_[True, documents[1:] != documents[:-1], True])
    for begin, stop in zip(boundaries[:-1], boundaries[1:], strict=True):
        words = [
            {w for w in _CONTENT_WORD.findall(text.lower()) if w not in _STOPWORDS}
            for text in texts[begin:stop]
        ]
        counts = Counter(word for sentence_words in words for word in sentence_words)
        for offset, sentence_words in enumerate(words):
            repeats = [counts[word] - 1 for word in sentence_words]
            out[begin + offset] = (
                np.log1p(max(repeats, default=0)),
                np.log1p(sum(1 for r in repeats if r > 0)),
                np.log1p(sum(repeats)),
            )
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
                    text.count("!") > 0,
                    text.count("?") > 0,
                    any(q in text for q in '"“”'),
                    sum(1 for w in text.split() if len(w) > 2 and w.isupper()) > 0,
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
    return TfidfVectorizer(**params)


def make_sentence_features(*, chars: bool = True, context_weight: float = 0.35) -> FeatureUnion:
    """The default sentence features: word n-grams, character n-grams, context and shape.

    The first block is always named ``"words"``: :mod:`proplens.evidence` reads its vocabulary to
    map a model's weights back to words of the input.
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
                            TfidfVectorizer(
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
    blocks.append(
        (
            "context",
            Pipeline(
                [
                    ("select", FunctionTransformer(neighbour_text)),
                    ("tfidf", _word_vectorizer(ngram_range=(1, 1), min_df=3)),
                ]
            ),
        )
    )
    blocks.append(("shape", SentenceShape()))
    weights = {"context": context_weight}
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
