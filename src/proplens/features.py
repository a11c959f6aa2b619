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

import operator
import re
import threading
from collections import Counter
from functools import lru_cache
from itertools import chain, repeat

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer, normalize
from sklearn.utils.validation import check_is_fitted

from proplens.entities import EntityMasker, map_to_masked
from proplens.errors import ValidationError

__all__ = [
    "DEVICE_FEATURE_BLOCKS",
    "DocumentWords",
    "FastCharVectorizer",
    "FastWordVectorizer",
    "SentenceShape",
    "SpanOccurrences",
    "SpanTfidfVectorizer",
    "make_sentence_features",
    "make_span_features",
    "mask_frame",
    "MaskedFeatureUnion",
    "NeighbourWords",
    "PhraseRecurrence",
    "SentenceColumns",
    "neighbour_matrix",
    "neighbour_text",
    "sentence_text",
    "span_left_words",
    "span_line",
    "span_right_words",
    "transform_block",
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
# every byte but "A".."Z" made a space, every capital an "A" (see _has_three_capitals)
_CAPITALS_ONLY = bytes(65 if 65 <= c <= 90 else 32 for c in range(256))


def _has_three_capitals(text: str) -> bool:
    """Does ``text`` hold three ASCII capitals in a row (``re.search("[A-Z]{3}", text)``)?
    Most sentences do not, and this test with no word boundary spares them _ALL_CAPS.

    Done by byte translation: UTF-8 writes every character other than ASCII (a lone surrogate
    too, with "surrogatepass") with bytes above 127, which become spaces, so three capitals in
    a row are three "A" bytes in a row. Two passes in C take 40% less time than the regex."""
    return b"AAA" in text.encode("utf-8", "surrogatepass").translate(_CAPITALS_ONLY)


@lru_cache(maxsize=8)
def _token_regex(pattern: str) -> re.Pattern:
    return re.compile(pattern)


@lru_cache(maxsize=1)
def _whitespace() -> str:
    """Every character ``str.split()`` splits on (``str.isspace``)."""
    return "".join(c for c in map(chr, range(0x110000)) if c.isspace())


def _keeps_to_chunks(items) -> bool:
    """Whether the parsed regex ``items`` consume only characters that are not whitespace, and
    look around only with ``\\b`` (see :func:`matches_within_chunks`)."""
    from re import _constants as c

    def class_item(op, av) -> bool:  # one item of a [...] set
        if op is c.LITERAL:
            return not chr(av).isspace()
        if op is c.RANGE:
            return not any(av[0] <= ord(space) <= av[1] for space in _whitespace())
        # \d and \w hold no whitespace (a test checks every code point); NEGATE, \s, ... do
        return op is c.CATEGORY and av in (c.CATEGORY_DIGIT, c.CATEGORY_WORD)

    for op, av in items:
        if op is c.LITERAL:
            ok = not chr(av).isspace()
        elif op is c.IN:
            ok = all(class_item(o, a) for o, a in av)
        elif op is c.BRANCH:
            ok = all(_keeps_to_chunks(branch.data) for branch in av[1])
        elif op is c.SUBPATTERN:
            _group, add_flags, del_flags, sub = av
            ok = not add_flags and not del_flags and _keeps_to_chunks(sub.data)
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            ok = _keeps_to_chunks(av[2].data)
        elif op is c.ATOMIC_GROUP:
            ok = _keeps_to_chunks(av.data)
        else:  # \b only: ., NOT_LITERAL, anchors, look-arounds and back-references are out
            ok = op is c.AT and av is c.AT_BOUNDARY
        if not ok:
            return False
    return True


@lru_cache(maxsize=32)
def matches_within_chunks(pattern: str) -> bool:
    """Whether the matches of ``pattern`` (compiled without flags) in any text are exactly its
    matches in the text's ``str.split()`` chunks, one chunk after the other.

    True when the pattern cannot match the empty string, consumes only characters that are not
    whitespace (literals, sets without negation, ``\\d``, ``\\w``) and looks around only with
    ``\\b``: a match then never spans whitespace, and at a chunk's edge ``\\b`` sees whitespace
    in the text and the end of the string in the chunk, neither of them a word character; a
    search that starts inside a chunk therefore runs as it would in the chunk alone, and one
    that starts on whitespace fails at once. ``WORD_TOKEN_PATTERN`` is such a pattern. Anything
    else (``.``, ``\\s``, negated sets, anchors, look-arounds, flags) gives False.
    """
    try:
        from re import _constants, _parser

        parsed = _parser.parse(pattern)
        if parsed.state.flags & ~_constants.SRE_FLAG_UNICODE:
            return False
        return parsed.getwidth()[0] >= 1 and _keeps_to_chunks(parsed.data)
    except Exception:  # an invalid pattern, or a Python whose regex parser has changed
        return False


class Tokens:
    """Documents as token lists, stored as their distinct tokens and one id per token.

    Looking tokens up in a fitted vocabulary (a dict of tens of thousands of words) costs far more
    per token than collecting the distinct ones; each vocabulary then sees every word once.
    """

    def __init__(self, documents: list[list[str]]):
        self.lengths = np.fromiter(map(len, documents), dtype=np.int64, count=len(documents))
        tokens = np.fromiter(
            chain.from_iterable(documents), dtype=object, count=int(self.lengths.sum())
        )
        # ids in order of first appearance, like a dict would give them, from pandas' C hash
        # table: a third faster than dict.setdefault over the tokens
        ids, distinct = pd.factorize(tokens)
        self.words = distinct.tolist()
        self.ids = ids.astype(np.int64, copy=False)
        self._content: list[tuple[str, ...]] | None = None

    def __len__(self) -> int:
        return len(self.lengths)

    def content_words(self) -> list[tuple[str, ...]]:
        """:func:`_content_words` of each distinct token, computed once (two blocks read them)."""
        if self._content is None:
            self._content = list(map(_content_words, self.words))
        return self._content

    def lowercased(self) -> Tokens:
        """The same tokens lower-cased. For whitespace-split chunks this equals splitting the
        lower-cased documents: lower-casing turns no character into whitespace or whitespace
        into anything else (true of every Unicode character), and the context a final sigma
        looks at ends at whitespace. Each distinct token is lower-cased once, and the ids keep
        the order of first appearance: a lower-cased word first appears with the first of its
        spellings."""
        codes, distinct = pd.factorize(np.array([w.lower() for w in self.words], dtype=object))
        lowered = Tokens.__new__(Tokens)
        lowered.lengths = self.lengths
        lowered.words = distinct.tolist()
        lowered.ids = codes.astype(np.int64, copy=False)[self.ids]
        lowered._content = None
        return lowered

    def split_further(self, findall) -> Tokens:
        """The tokens ``findall`` finds in each document, when these tokens are the documents'
        whitespace-split chunks and ``findall``'s pattern keeps to chunks
        (:func:`matches_within_chunks`): a document's tokens are then its chunks' tokens, one
        chunk after the other, so each distinct chunk is searched once, not every text.

        The result equals ``Tokens([findall(document) for document in documents])``: the same
        token sequence, numbered in order of first appearance.
        """
        per_chunk = list(map(findall, self.words))
        counts = np.fromiter(map(len, per_chunk), dtype=np.int64, count=len(per_chunk))
        ends = np.cumsum(counts)
        total = int(ends[-1]) if len(ends) else 0
        flat = np.fromiter(chain.from_iterable(per_chunk), dtype=object, count=total)
        codes, distinct = pd.factorize(flat)  # one code per distinct token of the chunks
        # every chunk occurrence stands for its chunk's run of codes
        sizes = counts[self.ids]
        done = np.cumsum(sizes)
        n_tokens = int(done[-1]) if len(done) else 0
        stream = codes[np.repeat(ends[self.ids] - done, sizes) + np.arange(n_tokens)]
        # each document's tokens: those of its chunks, from the first chunk's first token
        bounds = np.r_[0, done][np.r_[0, np.cumsum(self.lengths)]]
        found = Tokens.__new__(Tokens)
        found.lengths = np.diff(bounds).astype(np.int64, copy=False)
        # renumbered in order of first appearance in the documents, as the constructor does
        ids, order = pd.factorize(stream)
        found.words = distinct[order].tolist()
        found.ids = ids.astype(np.int64, copy=False)
        found._content = None
        return found


class SentenceColumns:
    """The columns of a sentence frame as plain lists: what the scorer hands to the features.

    Building a pandas DataFrame for one article, and reading its columns back, costs more than
    the features themselves; the transformers of this module read these lists directly (see
    :func:`transform_block`), and any other transformer gets :meth:`to_frame`. The lower-cased
    texts and their word tokens are computed once and shared by the blocks that need them.
    """

    def __init__(self, text, document_id, sentence_index):
        self.text = list(text)
        self.document_id = list(document_id)
        self.sentence_index = list(sentence_index)
        if not len(self.text) == len(self.document_id) == len(self.sentence_index):
            raise ValidationError("sentence columns must have the same length")
        self._lowered: list[str] | None = None
        self._document_codes: np.ndarray | None = None
        self._tokens: dict[str | None, Tokens] = {}
        self._chunks_as_written: Tokens | None = None
        self._frame: pd.DataFrame | None = None
        self._masked: tuple[object, SentenceColumns] | None = None

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> SentenceColumns:
        return cls(
            frame["text"].tolist(),
            frame["document_id"].tolist(),
            frame["sentence_index"].tolist(),
        )

    def __len__(self) -> int:
        return len(self.text)

    def lowered(self) -> list[str]:
        if self._lowered is None:
            self._lowered = [text.lower() for text in self.text]
        return self._lowered

    def document_codes(self) -> np.ndarray:
        """One integer per sentence for its document (ids compared as strings, as in files)."""
        if self._document_codes is None:
            keys = [d if isinstance(d, str) else str(d) for d in self.document_id]
            self._document_codes = pd.factorize(np.array(keys, dtype=object))[0]
        return self._document_codes

    def chunks_as_written(self) -> Tokens:
        """The whitespace-split chunks of every text as written (not lower-cased), computed
        once: the lower-cased chunks are derived from them (:meth:`Tokens.lowercased`), and a
        block that reads capitalisation splits them further."""
        if self._chunks_as_written is None:
            self._chunks_as_written = Tokens([text.split() for text in self.text])
        return self._chunks_as_written

    def tokens(self, pattern: str | None) -> Tokens:
        """The tokens of every lower-cased text, computed once per pattern and shared.

        ``pattern`` is a regex for ``re.findall`` (word n-grams), or None for ``str.split()``
        (``char_wb`` n-grams never cross whitespace).
        """
        found = self._tokens.get(pattern)
        if found is None:
            if pattern is None:
                # the chunks as written, lower-cased per distinct chunk: the same chunks as
                # splitting the lower-cased texts, and splitting is the costly part
                found = self.chunks_as_written().lowercased()
            elif matches_within_chunks(pattern):
                # the same tokens, from the whitespace chunks the char block splits anyway:
                # a regex over each distinct chunk costs a fifth of one over every text
                found = self.tokens(None).split_further(_token_regex(pattern).findall)
            else:
                findall = _token_regex(pattern).findall
                found = Tokens([findall(text) for text in self.lowered()])
            self._tokens[pattern] = found
        return found

    def masked(self, masker) -> SentenceColumns:
        """These sentences with named entities masked by a fitted
        :class:`~proplens.entities.EntityMasker`, computed once and shared by every block."""
        cached = self._masked
        if cached is None or cached[0] is not masker:
            cached = (masker, SentenceColumns(masker.mask(self.text), self.document_id,
                                              self.sentence_index))  # fmt: skip
            self._masked = cached
        return cached[1]

    def to_frame(self) -> pd.DataFrame:
        if self._frame is None:
            self._frame = pd.DataFrame(
                {
                    "document_id": self.document_id,
                    "sentence_index": self.sentence_index,
                    "text": self.text,
                }
            )
        return self._frame


def transform_block(transformer, columns: SentenceColumns):
    """``transformer.transform`` of the sentence frame that ``columns`` holds, without the frame.

    The transformers of this module (and a pipeline of :func:`sentence_text` and one of them)
    read the lists directly; any other transformer gets the DataFrame.
    """
    fast = getattr(transformer, "transform_columns", None)
    if fast is not None:
        return fast(columns)
    steps = getattr(transformer, "steps", None)
    if steps is not None and len(steps) == 2:
        select, vectorizer = steps[0][1], steps[1][1]
        if (
            isinstance(select, FunctionTransformer)
            and select.func is sentence_text
            and not select.kw_args
            and vectorizer is not None
            and vectorizer != "passthrough"
        ):
            fast = getattr(vectorizer, "transform_columns", None)
            return fast(columns) if fast is not None else vectorizer.transform(columns.text)
    return transformer.transform(columns.to_frame())


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


@lru_cache(maxsize=50_000)
def _content_words(token: str) -> tuple[str, ...]:
    """The content words of a word token: its maximal runs of 4+ letters, less stopwords."""
    # cached: most tokens of an article were seen in earlier ones, and a cache hit costs a
    # fraction of the regex
    return tuple(word for word in _CONTENT_WORD.findall(token) if word not in _STOPWORDS)


def _repetition_counts(frame) -> np.ndarray:
    """Per sentence: how often its content words recur elsewhere in the same document.

    The Repetition device is about a phrase coming back again and again, which a bag of words of a
    single sentence cannot see. Computed for all documents at once with array operations.
    ``frame`` is a sentence frame or :class:`SentenceColumns`.
    """
    columns = frame if isinstance(frame, SentenceColumns) else SentenceColumns.from_frame(frame)
    # A content word is a maximal run of 4+ letters. A run of letters never crosses the edge of a
    # word token (tokens are maximal runs of word characters, joined by - and '), so the content
    # words of a text are those of its tokens: each distinct token, shared with the word blocks,
    # is searched once instead of every text.
    tokens = columns.tokens(WORD_TOKEN_PATTERN)
    per_token = tokens.content_words()
    n = len(tokens)
    out = np.zeros((n, 3))
    # the content words of every distinct token, one after the other, numbered by pandas'
    # hash table; offsets[i]:offsets[i + 1] are token i's
    offsets = np.zeros(len(per_token) + 1, dtype=np.int64)
    np.cumsum(
        np.fromiter(map(len, per_token), dtype=np.int64, count=len(per_token)), out=offsets[1:]
    )
    if offsets[-1] == 0:
        return out
    flat = np.fromiter(chain.from_iterable(per_token), dtype=object, count=int(offsets[-1]))
    table = pd.factorize(flat)[0].astype(np.int64)
    width = int(table.max()) + 1
    starts = offsets[tokens.ids]
    sizes = offsets[tokens.ids + 1] - starts
    gather = np.repeat(starts - np.cumsum(sizes) + sizes, sizes) + np.arange(sizes.sum())
    rows = np.repeat(_row_ids(tokens.lengths), sizes)
    # each (sentence, word) once, then the number of sentences of its document with that word;
    # the keys come sorted by sentence already, which a stable sort (timsort) exploits
    pairs = np.sort(rows * width + table[gather], kind="stable")
    pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]]
    sentence, word = pairs // width, pairs % width
    document = columns.document_codes()
    # numbered by a hash table, which is several times faster than np.unique's sort
    where = pd.factorize(document[sentence] * width + word)[0]
    # each count is >= 1 (the sentence itself); a word repeats count - 1 times elsewhere
    elsewhere = np.bincount(where)[where] - 1
    most = np.zeros(n, dtype=np.int64)
    np.maximum.at(most, sentence, elsewhere)
    out[:, 0] = np.log1p(most.astype(float))
    out[:, 1] = np.log1p(np.bincount(sentence, weights=elsewhere > 0, minlength=n))
    out[:, 2] = np.log1p(np.bincount(sentence, weights=elsewhere, minlength=n))
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
        return self.transform_columns(SentenceColumns.from_frame(X))

    def transform_columns(self, X: SentenceColumns):
        texts = X.text
        # words split on whitespace; lower-casing never adds or removes whitespace, so the
        # split the char block makes of the lower-cased texts has the same lengths
        n_words = X.tokens(None).lengths
        bins = np.digitize(n_words, _LENGTH_EDGES)
        length = np.zeros((len(texts), len(_LENGTH_EDGES) + 1))
        length[np.arange(len(texts)), bins] = 1.0
        index = np.array(X.sentence_index, dtype=np.int64)
        # each test runs over all texts in C (map), not as a Python loop per sentence
        n = len(texts)

        def containing(char: str) -> np.ndarray:
            return np.fromiter(map(operator.contains, texts, repeat(char)), dtype=bool, count=n)

        shape = np.zeros((n, 4))
        shape[:, 0] = containing("!")
        shape[:, 1] = containing("?")
        shape[:, 2] = containing('"') | containing("“") | containing("”")
        capitals = np.fromiter(map(_has_three_capitals, texts), dtype=bool, count=n)
        for row in np.flatnonzero(capitals).tolist():
            shape[row, 3] = _ALL_CAPS.search(texts[row]) is not None
        position = np.c_[index == 0, np.log1p(index) / 4]
        dense = np.hstack([length, np.log1p(n_words)[:, None] / 4, shape, position])
        return _dense_csr(np.hstack([dense, _repetition_counts(X)]))

    def get_feature_names_out(self, input_features=None):
        names = [f"length_bin_{i}" for i in range(len(_LENGTH_EDGES) + 1)]
        names += ["log_words", "exclamation", "question", "quote", "all_caps", "title", "position"]
        names += ["repeat_max", "repeat_words", "repeat_total"]
        return np.array(names, dtype=object)


def _content_flags(words: list[str]) -> np.ndarray:
    """For each word token: does it hold a content word (4+ letters, not a stopword)?"""
    return np.fromiter(map(bool, map(_content_words, words)), dtype=bool, count=len(words))


@lru_cache(maxsize=4)
def _sentences_saying(document: tuple[str, ...], sizes: tuple[int, ...]) -> dict[tuple, int]:
    """``{phrase: number of sentences of document saying it}`` for phrases of ``sizes`` words.
    Cached: evidence asks it once for each sentence of the same document."""
    findall = _token_regex(WORD_TOKEN_PATTERN).findall
    counts: Counter[tuple] = Counter()
    for text in document:
        words = list(map(str.lower, findall(text)))
        phrases: set[tuple] = set()
        for n in sizes:  # the runs of n words: the words zipped with the n - 1 words after each
            phrases.update(zip(*(words[k:] for k in range(n)), strict=False))
        counts.update(phrases)  # once per sentence
    return counts


class PhraseRecurrence(TransformerMixin, BaseEstimator):
    """Repetition's own feature block: the sentence's phrases that its article used before or
    uses again.

    A phrase is a run of ``sizes`` word tokens (2 and 3: "jobs, jobs", "take back control") with
    at least one content word. Per sentence: how many of its phrases occur in an earlier and in a
    later sentence of the same document (log counts and whether any do), the most times one of
    them recurs, and the share of its phrases that recur. Unsupervised and document-local.

    The taxonomy adds it to Repetition's model only (``features = "phrases"``): in the shared
    features it lifted Repetition but moved the other devices (docs/ablation.md). Computed for
    all documents at once with array operations, from the word tokens the word block shares.
    """

    def __init__(self, sizes: tuple[int, ...] = (2, 3)):
        self.sizes = sizes

    def fit(self, X, y=None):
        if not self.sizes or min(self.sizes) < 2:
            raise ValidationError(f"phrase sizes must be 2 or more words, got {self.sizes!r}")
        self.n_features_in_ = 1
        return self

    def transform(self, X: pd.DataFrame):
        return self.transform_columns(SentenceColumns.from_frame(X))

    def transform_columns(self, X: SentenceColumns) -> sparse.csr_matrix:
        check_is_fitted(self, "n_features_in_")
        tokens = X.tokens(WORD_TOKEN_PATTERN)
        n = len(tokens)
        out = np.zeros((n, len(self.get_feature_names_out())))
        phrase, row = self._phrases(tokens)
        if len(phrase) == 0:
            return sparse.csr_matrix(out)
        occurrences = np.bincount(row, minlength=n)
        # only a phrase said twice in the batch can recur: most are said once, and dropping them
        # first spares the sort below most of its work
        again = np.bincount(phrase)[phrase] > 1
        if not again.any():
            return sparse.csr_matrix(out)
        phrase, row = phrase[again], row[again]
        # each (phrase, document, sentence) once, sorted in that order: one group of sentences
        # per phrase and document, in the order they come
        documents = X.document_codes()
        groups = phrase * (int(documents.max()) + 1) + documents[row]
        if int(groups.max()) >= 2**62 // n:  # a key would overflow: number the groups instead
            groups = pd.factorize(groups)[0].astype(np.int64)
        pairs = np.sort(groups * n + row)
        distinct = np.r_[True, pairs[1:] != pairs[:-1]]
        # a sentence's distinct phrases: its phrases, less those it says more than once
        phrases_in = occurrences - np.bincount(pairs[~distinct] % n, minlength=n)
        pairs = pairs[distinct]
        group, row = pairs // n, pairs % n
        starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
        group_sizes = np.diff(np.r_[starts, len(pairs)])
        rank = np.arange(len(pairs)) - np.repeat(starts, group_sizes)  # sentences before this one
        size = np.repeat(group_sizes, group_sizes)
        before, after = rank > 0, rank < size - 1
        n_before = np.bincount(row, weights=before, minlength=n)
        n_after = np.bincount(row, weights=after, minlength=n)
        most = np.zeros(n, dtype=np.int64)
        np.maximum.at(most, row, size - 1)
        recurring = np.bincount(row, weights=before | after, minlength=n)
        out[:, 0] = np.log1p(n_before)
        out[:, 1] = np.log1p(n_after)
        out[:, 2] = n_before > 0
        out[:, 3] = n_after > 0
        out[:, 4] = np.log1p(most)
        out[:, 5] = recurring / np.maximum(phrases_in, 1)
        return _dense_csr(out)

    def _phrases(self, tokens: Tokens) -> tuple[np.ndarray, np.ndarray]:
        """``(phrase code, sentence row)`` of every phrase with a content word; a code stands for
        one sequence of tokens (codes of different sizes never coincide)."""
        ids, row = tokens.ids, _row_ids(tokens.lengths)
        per_token = tokens.content_words()
        content = np.fromiter(map(bool, per_token), dtype=bool, count=len(per_token))[ids]
        width = len(tokens.words)
        codes, rows = [], []
        offset = 0
        ending = ids  # the code of the (size - 1)-token phrase ending at each token
        has_content = content
        for size in range(2, max(self.sizes) + 1):
            if len(ids) < size:
                break
            # the phrase ending at token i is the shorter one ending at i - 1, then token i
            ending = pd.factorize(ending[:-1] * width + ids[size - 1 :])[0].astype(np.int64)
            has_content = has_content[:-1] | content[size - 1 :]
            if size in self.sizes:
                keep = has_content & (row[size - 1 :] == row[: len(row) - size + 1])
                codes.append(ending[keep] + offset)
                rows.append(row[size - 1 :][keep])
                offset += len(ending)
        if not codes:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(codes), np.concatenate(rows)

    def evidence_spans(self, text: str, document=()) -> list[tuple[int, int]]:
        """Where ``text`` repeats a phrase of its document: the character spans of its phrases
        that another sentence of ``document`` (the texts of all its sentences, ``text``
        included) says too, overlapping ones merged."""
        said_in = _sentences_saying(tuple(document), tuple(self.sizes))
        found = [(m.start(), m.end()) for m in _token_regex(WORD_TOKEN_PATTERN).finditer(text)]
        words = [text[start:end].lower() for start, end in found]
        content = _content_flags(words).tolist()  # a list: slices of it cost less than numpy's
        spans: list[list[int]] = []
        for size in self.sizes:
            for i in range(len(words) - size + 1):
                if any(content[i : i + size]) and said_in.get(tuple(words[i : i + size]), 0) > 1:
                    spans.append([found[i][0], found[i + size - 1][1]])
        merged: list[list[int]] = []
        for start, end in sorted(spans):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        return [(start, end) for start, end in merged]

    def get_feature_names_out(self, input_features=None):
        return np.array(
            [
                "phrases_seen_before", "phrases_seen_after", "any_phrase_seen_before",
                "any_phrase_seen_after", "phrase_most_recurrences", "share_of_phrases_recurring",
            ],
            dtype=object,
        )  # fmt: skip


# --- fast vectorizers: same output as TfidfVectorizer, vectorised transform -----------------

#: How many distinct words unseen in training keep their character n-gram row, per vectorizer
#: (when full, the cache starts again from the words of the batch at hand). A row is a pure
#: function of the word and the fitted vocabulary, so caching it changes no output; at about 500
#: bytes a row, the cap bounds the cache to about 15 MB (measured with tracemalloc).
UNSEEN_WORD_CACHE_SIZE = 30_000

# Look-up tables built from fitted attributes on first use; never pickled (see __getstate__).
_TRANSIENT_ATTRIBUTES = ("_word_codes", "_unseen_rows", "_bigram_lookup")


def _l2_normalize_rows(matrix) -> None:
    """``sklearn.preprocessing.normalize(matrix, copy=False)`` on a CSR matrix, same arithmetic.

    Like scikit-learn's kernel, squares are taken in the data's precision, summed row by row in
    float64 and each value divided in float64; the input validation of ``normalize`` is skipped,
    as it costs more than the arithmetic on the rows of one article.
    """
    data = matrix.data
    if len(data) == 0:
        return
    # The row sums as a product with a vector of ones: scipy's kernel adds each row's values in
    # order in float64 (the same sums as scikit-learn's loop), 3x faster than np.bincount.
    squares = sparse.csr_matrix(
        ((data * data).astype(np.float64), matrix.indices, matrix.indptr), shape=matrix.shape
    )
    norms = np.sqrt(squares @ np.ones(matrix.shape[1]))
    norms[norms == 0.0] = 1.0  # scikit-learn leaves empty rows alone
    # divided in float64, stored in the data's precision
    np.divide(data, np.repeat(norms, np.diff(matrix.indptr)), out=data, casting="unsafe")


def _tfidf_weighting(counts: sparse.csr_matrix, vectorizer: TfidfVectorizer) -> sparse.csr_matrix:
    """What ``TfidfTransformer.transform`` does to a count matrix, in place on float32 data."""
    counts = counts.astype(vectorizer.dtype, copy=False)
    if vectorizer.sublinear_tf:
        np.log(counts.data, counts.data)
        counts.data += 1.0
    if vectorizer.use_idf:
        counts.data *= vectorizer.idf_.astype(vectorizer.dtype, copy=False)[counts.indices]
    if vectorizer.norm == "l2":
        _l2_normalize_rows(counts)
    elif vectorizer.norm is not None:
        counts = normalize(counts, norm=vectorizer.norm, copy=False)
    return counts


def _dense_csr(dense: np.ndarray) -> sparse.csr_matrix:
    """``sparse.csr_matrix(dense)`` of a 2-D array (the same arrays: the non-zeros row by row,
    int32 indices), built directly rather than through scipy's COO conversion."""
    if dense.size >= 2**31:  # scipy would choose int64 indices
        return sparse.csr_matrix(dense)
    rows, columns = np.nonzero(dense)
    indptr = np.zeros(dense.shape[0] + 1, dtype=np.int32)
    np.cumsum(np.bincount(rows, minlength=dense.shape[0]), out=indptr[1:])
    return sparse.csr_matrix(
        (dense[rows, columns], columns.astype(np.int32), indptr), shape=dense.shape
    )


try:  # scipy's kernel of a CSR product (a private module, stable for years)
    from scipy.sparse._sparsetools import csr_matmat as _CSR_MATMAT
except ImportError:  # pragma: no cover - another scipy: the public product serves
    _CSR_MATMAT = None


def _sparse_product(a: sparse.csr_matrix, b: sparse.csr_matrix) -> sparse.csr_matrix:
    """``sparse.csr_matrix(a @ b)``: the same arrays, from the kernel scipy's product calls.

    Scipy first runs a pass that counts the product's non-zeros, to size its output; the sum of
    the lengths of the rows of ``b`` that the entries of ``a`` pick is a bound that costs far
    less (the chars block's product takes a quarter less time). The output keeps the kernel's
    order of indices within each row, which the products with the weights add in.
    """
    index_arrays = (a.indptr, a.indices, b.indptr, b.indices)
    if (
        _CSR_MATMAT is None
        or a.shape[1] != b.shape[0]
        or a.dtype != b.dtype
        or any(array.dtype != np.int32 for array in index_arrays)
    ):
        return sparse.csr_matrix(a @ b)
    bound = int(np.diff(b.indptr).astype(np.int64)[a.indices].sum())
    if bound >= 2**31:  # scipy would use int64 indices
        return sparse.csr_matrix(a @ b)
    rows, columns = a.shape[0], b.shape[1]
    indptr = np.empty(rows + 1, dtype=np.int32)
    indices = np.empty(bound, dtype=np.int32)
    data = np.empty(bound, dtype=a.dtype)
    try:
        _CSR_MATMAT(
            rows, columns, a.indptr, a.indices, a.data, b.indptr, b.indices, b.data,
            indptr, indices, data,
        )  # fmt: skip
    except (TypeError, ValueError):  # a scipy whose private kernel takes other arguments
        return sparse.csr_matrix(a @ b)
    nnz = int(indptr[-1])
    return sparse.csr_matrix((data[:nnz], indices[:nnz], indptr), shape=(rows, columns))


def _row_ids(lengths: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(len(lengths)), lengths)


def _count_csr(rows: np.ndarray, columns: np.ndarray, shape: tuple[int, int]) -> sparse.csr_matrix:
    """Counts of ``(row, column)`` pairs as float32 CSR, indices sorted and duplicates summed.

    The matrix ``csr_matrix((ones, (rows, columns))).sum_duplicates()`` gives, in one sort.
    """
    n_rows, n_columns = shape
    if len(rows) == 0:
        return sparse.csr_matrix(shape, dtype=np.float32)
    # The callers' pairs come in runs sorted by row, which a stable sort (timsort) exploits: it
    # sorts them about 3x faster than np.unique's sort.
    keys = np.sort(rows.astype(np.int64) * n_columns + columns, kind="stable")
    first = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    counts = np.diff(np.r_[first, len(keys)])
    keys = keys[first]
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys // n_columns, minlength=n_rows), out=indptr[1:])
    index_dtype = np.int32 if max(n_columns, len(keys)) < 2**31 else np.int64
    return sparse.csr_matrix(
        (
            counts.astype(np.float32),
            (keys % n_columns).astype(index_dtype),
            indptr.astype(index_dtype),
        ),
        shape=shape,
    )


class _WordCodesMixin:
    """A dict from word to its position in the fitted ``word_index_``, built on first use.

    A dict look-up per token is several times faster than ``pandas.Index.get_indexer`` on the
    few hundred tokens of an article. It is derived from fitted attributes, so it is left out of
    pickles (model files stay as they were) and rebuilt after loading.
    """

    def _word_codes_table(self) -> dict[str, int]:
        codes = self.__dict__.get("_word_codes")
        if codes is None:
            codes = {word: code for code, word in enumerate(self.word_index_.tolist())}
            self._word_codes = codes
        return codes

    def _word_ids(self, words: list[str]) -> np.ndarray:
        """Position of each word in ``word_index_``, -1 when it is not there."""
        codes = self._word_codes_table()
        return np.fromiter(map(codes.get, words, repeat(-1)), dtype=np.int64, count=len(words))

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: the base class may return __dict__ itself
        for name in _TRANSIENT_ATTRIBUTES:
            state.pop(name, None)
        return state


class FastWordVectorizer(_WordCodesMixin, TfidfVectorizer):
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
        for name in _TRANSIENT_ATTRIBUTES:
            self.__dict__.pop(name, None)
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

    def _bigram_index(self) -> pd.Index:
        """``bigram_keys_`` (distinct) as a pandas Index, which hashes them on first use."""
        index = self.__dict__.get("_bigram_lookup")
        if index is None:
            index = self._bigram_lookup = pd.Index(self.bigram_keys_)
        return index

    def count_matrix(self, raw_documents) -> sparse.csr_matrix:
        """Raw n-gram counts ``(n_documents, n_features)``."""
        check_is_fitted(self, "word_index_")
        regex = _token_regex(self.token_pattern)
        return self._count_tokens(Tokens([regex.findall(doc.lower()) for doc in raw_documents]))

    def _count_tokens(self, tokens: Tokens) -> sparse.csr_matrix:
        """Raw n-gram counts of documents given as lower-cased tokens."""
        ids = self._word_ids(tokens.words)[tokens.ids]
        rows = _row_ids(tokens.lengths)
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
            # each key's position in bigram_keys_ (-1: none), from a hash table: a binary
            # search of the sorted keys took 5x as long
            where = self._bigram_index().get_indexer(keys)
            hit = where >= 0
            row_parts.append(rows[:-1][both][hit])
            col_parts.append(self.bigram_columns_[where[hit]])
        row = np.concatenate(row_parts) if row_parts else np.zeros(0, dtype=np.int64)
        col = np.concatenate(col_parts) if col_parts else np.zeros(0, dtype=np.int64)
        return _count_csr(row, col, (len(tokens), len(self.vocabulary_)))

    def transform(self, raw_documents):
        if isinstance(raw_documents, str):
            raise ValidationError("expected an iterable of texts, got one string")
        return _tfidf_weighting(self.count_matrix(list(raw_documents)), self)

    def transform_columns(self, columns: SentenceColumns) -> sparse.csr_matrix:
        """``transform`` of the sentence texts, reusing their tokens if another block made them."""
        check_is_fitted(self, "word_index_")
        return _tfidf_weighting(self._count_tokens(columns.tokens(self.token_pattern)), self)


class _RowCache:
    """A thread-safe cache of sparse rows (int32 indices, float32 data) by word, holding the rows
    of at most ``size`` words.

    The rows sit one after the other in flat arrays (with room to grow, so that new rows are
    copied in rather than the arrays rebuilt), and a batch takes all of its rows with a few
    array operations rather than a look-up and a small array per word. When a batch's new words
    would take it past ``size``, the cache starts afresh with that batch's words: keeping the
    least recently used order cost more per batch than the rows it saved.
    """

    def __init__(self, size: int):
        self.size = size
        self._lock = threading.Lock()
        self._clear()

    def _clear(self) -> None:
        self._row_of: dict[str, int] = {}
        self._rows = self._nnz = 0
        self._indptr = np.zeros(1, dtype=np.int64)
        self._indices = np.zeros(0, dtype=np.int32)
        self._data = np.zeros(0, dtype=np.float32)

    def _append(self, lengths: np.ndarray, indices: np.ndarray, data: np.ndarray) -> int:
        """Store rows after the others (growing the arrays to twice the need when full); the
        number of the first."""
        first, nnz = self._rows, self._nnz
        rows, end = first + len(lengths), nnz + len(indices)
        if rows + 1 > len(self._indptr):
            self._indptr = np.resize(self._indptr, 2 * (rows + 1))
        if end > len(self._indices):
            self._indices = np.resize(self._indices, 2 * end)
            self._data = np.resize(self._data, 2 * end)
        self._indptr[first + 1 : rows + 1] = nnz + np.cumsum(lengths)
        self._indices[nnz:end] = indices
        self._data[nnz:end] = data
        self._rows, self._nnz = rows, end
        return first

    def __len__(self) -> int:
        return len(self._row_of)

    def rows(self, words: list[str], compute) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(lengths, indices, data)`` of the rows of ``words`` (distinct), one row after the
        other. ``compute(words)`` returns the rows of words not cached yet, as a CSR matrix."""
        with self._lock:
            ids = np.fromiter(
                map(self._row_of.get, words, repeat(-1)), dtype=np.int64, count=len(words)
            )
            missing = np.flatnonzero(ids < 0).tolist()
            if missing:
                fresh = compute([words[i] for i in missing])
                first = self._append(np.diff(fresh.indptr), fresh.indices, fresh.data)
                ids[missing] = np.arange(first, first + len(missing))
            starts = self._indptr[ids]
            lengths = self._indptr[ids + 1] - starts
            gather = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(
                lengths.sum()
            )
            found = lengths, self._indices[gather], self._data[gather]
            if missing and len(self._row_of) + len(missing) <= self.size:
                self._row_of.update((words[i], first + k) for k, i in enumerate(missing))
            elif missing:  # full: start again from this batch's rows, just gathered
                self._clear()
                if len(words) <= self.size:
                    self._append(*found)
                    self._row_of = {word: row for row, word in enumerate(words)}
        return found


class FastCharVectorizer(_WordCodesMixin, TfidfVectorizer):
    """A ``char_wb`` ``TfidfVectorizer`` whose ``transform`` works per distinct word.

    ``char_wb`` n-grams never cross whitespace, so a document's n-gram counts are the sum of its
    words' counts. ``fit`` keeps a (training word x n-gram) count matrix; ``transform`` counts
    words and multiplies, computing n-grams only for words unseen in training (and keeping those
    rows in a bounded cache, see :data:`UNSEEN_WORD_CACHE_SIZE`): the same matrix as
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
        for name in _TRANSIENT_ATTRIBUTES:
            self.__dict__.pop(name, None)
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

    def _unseen_word_rows(self, words: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(lengths, indices, data)`` of ``_ngram_rows(words)``'s rows, one after the other,
        through the bounded cache (see :data:`UNSEEN_WORD_CACHE_SIZE`)."""
        cache = self.__dict__.get("_unseen_rows")
        if cache is None:
            cache = self._unseen_rows = _RowCache(UNSEEN_WORD_CACHE_SIZE)
        return cache.rows(words, self._ngram_rows)

    def count_matrix(self, raw_documents) -> sparse.csr_matrix:
        check_is_fitted(self, "word_ngrams_")
        return self._count_words(Tokens([doc.lower().split() for doc in raw_documents]))

    def _count_words(self, tokens: Tokens) -> sparse.csr_matrix:
        """Raw n-gram counts of documents given as lower-cased, whitespace-split words."""
        codes = self._word_ids(tokens.words)
        # A table of only these documents' words: the rows of their training words (in the order
        # of word_index_), then those of their unseen words (sorted). Rows keep the order they
        # would have in the full table extended by the unseen words, so the product adds the same
        # terms in the same order as a product with the full table, which is never copied.
        known = np.flatnonzero(codes >= 0)
        known = known[np.argsort(codes[known], kind="stable")]
        unseen = sorted(np.flatnonzero(codes < 0).tolist(), key=tokens.words.__getitem__)
        position = np.empty(len(codes), dtype=np.int64)
        position[known] = np.arange(len(known))
        position[unseen] = np.arange(len(known), len(codes))
        full = self.word_ngrams_
        starts = full.indptr[codes[known]].astype(np.int64)
        lengths = full.indptr[codes[known] + 1] - starts
        # positions of the known rows' entries in the full table, row after row
        gather = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(
            lengths.sum()
        )
        index_parts, data_parts = [full.indices[gather]], [full.data[gather]]
        if unseen:
            rows = self._unseen_word_rows([tokens.words[i] for i in unseen])
            lengths = np.concatenate([lengths, rows[0]])
            index_parts.append(rows[1])
            data_parts.append(rows[2])
        indptr = np.zeros(len(codes) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        table = sparse.csr_matrix(
            (np.concatenate(data_parts), np.concatenate(index_parts), indptr),
            shape=(len(codes), full.shape[1]),
        )
        words = _count_csr(
            _row_ids(tokens.lengths), position[tokens.ids], (len(tokens), len(codes))
        )
        return _sparse_product(words, table)

    def transform(self, raw_documents):
        if isinstance(raw_documents, str):
            raise ValidationError("expected an iterable of texts, got one string")
        return _tfidf_weighting(self.count_matrix(list(raw_documents)), self)

    def transform_columns(self, columns: SentenceColumns) -> sparse.csr_matrix:
        check_is_fitted(self, "word_ngrams_")
        return _tfidf_weighting(self._count_words(columns.tokens(None)), self)


def add_neighbour_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``prev_text``/``next_text``: the sentences around each row in its document.

    Done on a whole table before taking a subset of its rows, the subset keeps its true
    neighbours (device feature blocks are computed on the rows a device can occur in only).
    Columns already present are kept, so a caller can pass neighbours taken from a larger table.
    """
    if "prev_text" in frame.columns and "next_text" in frame.columns:
        return frame
    previous, following = neighbour_lists(frame["text"].tolist(), frame["document_id"].tolist())
    return frame.assign(prev_text=previous, next_text=following)


def neighbour_lists(texts: list[str], documents: list) -> tuple[list[str], list[str]]:
    """The previous and the next sentence of each sentence in its document ("" at the edges)."""
    previous = [
        texts[i - 1] if i > 0 and documents[i - 1] == documents[i] else ""
        for i in range(len(texts))
    ]
    following = [
        texts[i + 1] if i + 1 < len(texts) and documents[i + 1] == documents[i] else ""
        for i in range(len(texts))
    ]
    return previous, following


#: Named feature blocks a device of the taxonomy can add to the shared features (its
#: ``features`` key): ``{name: "module:factory"}``, the factory returning an unfitted transformer
#: over a sentence frame that has ``prev_text``/``next_text`` columns.
DEVICE_FEATURE_BLOCKS = {
    "figures": "proplens.figures:make_device_figure_features",
    "phrases": "proplens.features:PhraseRecurrence",
}


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
    return _neighbour_links(frame["document_id"].to_numpy())


def _neighbour_links(documents) -> sparse.csr_matrix:
    documents = np.asarray(documents, dtype=object)
    n = len(documents)
    same = documents[1:] == documents[:-1] if n > 1 else np.zeros(0, dtype=bool)
    first = np.flatnonzero(same)
    rows = np.r_[first, first + 1]
    cols = np.r_[first + 1, first]
    return sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, n))


def _word_counts(vectorizer, X: SentenceColumns) -> sparse.csr_matrix:
    """Raw counts of a fitted word vectorizer's terms in each sentence of ``X``."""
    if isinstance(vectorizer, FastWordVectorizer):
        # the word block tokenised these texts with the same pattern already
        return vectorizer._count_tokens(X.tokens(vectorizer.token_pattern))
    return vectorizer.count_matrix(X.text)


def _n_documents(codes: np.ndarray) -> int:
    """How many documents codes from :meth:`SentenceColumns.document_codes` number."""
    return int(codes.max()) + 1 if len(codes) else 0


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
        return self.transform_columns(SentenceColumns.from_frame(X))

    def transform_columns(self, X: SentenceColumns):
        check_is_fitted(self, "vectorizer_")
        links = _neighbour_links(X.document_id)
        counts = _word_counts(self.vectorizer_, X)
        return _tfidf_weighting(_sparse_product(links, counts), self.vectorizer_)

    def get_feature_names_out(self, input_features=None):
        return self.vectorizer_.get_feature_names_out()


def _document_membership(codes: np.ndarray) -> sparse.csr_matrix:
    """``(n_documents, n_sentences)`` 0/1 matrix: which sentences each document holds."""
    n = len(codes)
    ones = np.ones(n, dtype=np.float32)
    return sparse.csr_matrix((ones, (codes, np.arange(n))), shape=(_n_documents(codes), n))


def _top_terms(matrix: sparse.csr_matrix, k: int) -> sparse.csr_matrix:
    """Each row's ``k`` largest values (ties broken by column), the row scaled to unit length."""
    keep = np.zeros(matrix.nnz, dtype=bool)
    for row in range(matrix.shape[0]):
        start, stop = matrix.indptr[row], matrix.indptr[row + 1]
        if stop - start <= k:
            keep[start:stop] = True
        else:
            order = np.lexsort((matrix.indices[start:stop], -matrix.data[start:stop]))
            keep[start + order[:k]] = True
    rows = _row_ids(np.diff(matrix.indptr))
    indptr = np.zeros(matrix.shape[0] + 1, dtype=matrix.indptr.dtype)
    np.cumsum(np.bincount(rows[keep], minlength=matrix.shape[0]), out=indptr[1:])
    top = sparse.csr_matrix((matrix.data[keep], matrix.indices[keep], indptr), shape=matrix.shape)
    _l2_normalize_rows(top)
    return top


class DocumentWords(TransformerMixin, BaseEstimator):
    """TF-IDF of the words of the sentence's whole document: one row per document, given to
    each of its sentences.

    How an article is written (its register, what it keeps coming back to) says much about how
    likely any one of its sentences is to use a device, and one sentence's words rarely show it.
    Documents are the units of the vocabulary and of ``min_df``/``max_df``; each sentence is
    tokenised once (the tokens the word block shares) and a document's counts are the sum of
    its sentences' counts. ``max_terms`` keeps each document's most distinctive words only (its
    largest TF-IDF values, the row scaled back to unit length): every sentence carries its
    document's row, and all of it doubled the non-zeros the regressions fit on. Unsupervised:
    fitting it on a training fold is honest.
    """

    def __init__(self, min_df: int = 3, max_df: float = 0.5, max_terms: int | None = None):
        self.min_df = min_df
        self.max_df = max_df
        self.max_terms = max_terms

    def fit(self, X: pd.DataFrame, y=None):
        if self.max_terms is not None and self.max_terms < 1:
            raise ValidationError(f"max_terms must be 1 or more, got {self.max_terms!r}")
        columns = X if isinstance(X, SentenceColumns) else SentenceColumns.from_frame(X)
        codes = columns.document_codes()
        texts: list[list[str]] = [[] for _ in range(_n_documents(codes))]
        for code, text in zip(codes.tolist(), columns.text, strict=True):
            texts[code].append(text)
        self.vectorizer_ = _word_vectorizer(
            ngram_range=(1, 1), min_df=self.min_df, max_df=self.max_df
        )
        try:
            self.vectorizer_.fit([" ".join(sentences) for sentences in texts])
        except ValueError as error:
            # a retrain on labels from a few documents: no word is in enough of them (or
            # max_df leaves no room above min_df); the block is left without columns
            if not any(reason in str(error) for reason in SpanTfidfVectorizer._NOTHING_LEFT):
                raise
            self.vectorizer_ = None
        self.n_features_in_ = 1
        return self

    def transform(self, X: pd.DataFrame):
        return self.transform_columns(SentenceColumns.from_frame(X))

    def transform_columns(self, X: SentenceColumns):
        per_document, row_of = self.transform_grouped(X)
        return per_document[row_of]

    def transform_grouped(self, X: SentenceColumns) -> tuple[sparse.csr_matrix, np.ndarray]:
        """``(one row per document, the row of each sentence)``: the transform without its
        repeated rows, which the model multiplies by its weights once per document."""
        check_is_fitted(self, "n_features_in_")
        codes = X.document_codes()
        vectorizer = self.vectorizer_
        if vectorizer is None:
            return sparse.csr_matrix((_n_documents(codes), 0), dtype=np.float32), codes
        counts = _word_counts(vectorizer, X)
        per_document = _tfidf_weighting(
            _sparse_product(_document_membership(codes), counts), vectorizer
        )
        if self.max_terms is not None:
            per_document = _top_terms(per_document, self.max_terms)
        return per_document, codes

    def get_feature_names_out(self, input_features=None):
        if self.vectorizer_ is None:
            return np.array([], dtype=object)
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
    *,
    chars: bool = True,
    chars_weight: float = 1.4,
    char_ngrams: tuple[int, int] = (2, 5),
    context_weight: float = 0.35,
    lexicon: bool = True,
    lexicon_weight: float = 0.3,
    document_weight: float = 1.5,
    vectors_weight: float = 0.5,
    mask_entities: bool = True,
    entity_kinds=None,
) -> FeatureUnion:
    """The default sentence features: word n-grams, character n-grams, context, shape and the
    span lexicon (:class:`proplens.lexicon.SpanLexicon`, learned from labeled spans, cross-fit).

    With ``mask_entities`` (the default), every block reads the sentences with named entities
    (countries, places, politicians, parties, organisations: :mod:`proplens.entities`) replaced
    by a token of their kind, so that swapping one name for another of its kind changes nothing;
    it returns a :class:`MaskedFeatureUnion`. In grouped 5-fold CV this took the entity-swap
    change of the any-device probability from 0.041 to 0.0005 (label flips 7.3% -> 0.13%) at
    -0.001 sentence F1 and micro-F1 (``benchmarks/entity_masking.py``). ``entity_kinds`` chooses
    the kinds (None: :data:`proplens.entities.DEFAULT_KINDS`; add ``"nationality"`` for
    demonyms). ``mask_entities=False`` gives the features of models trained before masking.

    The first block is always named ``"words"``: :mod:`proplens.evidence` reads its vocabulary to
    map a model's weights back to words of the input. Each TF-IDF block has unit-length rows, so
    a block's weight sets how much of the shared regularisation budget it gets: character
    n-grams at 1.4 raised grouped-CV micro-F1 over the 14 SemEval devices by 0.015 (0.7: -0.012,
    2.0: +0.009), and the neighbours' words count for about a third of the sentence's own.
    ``char_ngrams`` is the character n-gram range: (3, 5) drops the bigrams, a fifth of the
    matrix's non-zeros (training 15% faster), at -0.005 micro-F1 and +0.003 sentence F1.
    ``vectors_weight`` adds the mean of the sentence's static word vectors
    (:class:`proplens.word_vectors.WordVectors`) at that weight; 0 leaves the block out.
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
                                ngram_range=char_ngrams,
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
    if document_weight:
        blocks.append(("document", DocumentWords(max_terms=120)))
        weights["document"] = document_weight
    if chars:
        weights["chars"] = chars_weight
    if vectors_weight:
        from proplens.word_vectors import WordVectors  # imports this module

        # capitalised words are left out: names the gazetteer does not list are made of words
        # with a meaning ("Lantern Party"), and reading them doubled how much swapping such
        # names moved the scores (benchmarks/bench.py, unlisted-name swap)
        blocks.append(("vectors", WordVectors(lowercase_only=True)))
        weights["vectors"] = vectors_weight
    if lexicon:
        from proplens.lexicon import SpanLexicon  # imports this module

        blocks.append(("lexicon", SpanLexicon()))
        weights["lexicon"] = lexicon_weight
    if mask_entities:
        return MaskedFeatureUnion(
            blocks, masker=EntityMasker(kinds=entity_kinds), transformer_weights=weights
        )
    if entity_kinds is not None:
        raise ValidationError("entity_kinds needs mask_entities=True")
    return FeatureUnion(blocks, transformer_weights=weights)


def _mask_values(masker, values: list) -> list:
    """Texts masked; anything else (a missing neighbour: None or NaN) left as it is."""
    if all(isinstance(value, str) for value in values):
        return masker.mask(values)
    return [masker.mask([v])[0] if isinstance(v, str) else v for v in values]


def mask_frame(frame: pd.DataFrame, masker) -> pd.DataFrame:
    """A sentence frame with named entities masked in ``text`` (and ``prev_text``/``next_text``
    when present). Labeled spans (a ``spans`` column of ``(start, end, device)`` offsets into the
    text) are moved to the same words of the masked text; a span boundary inside a name moves to
    the edge of its token."""
    texts = frame["text"].tolist()
    masked = {"text": _mask_values(masker, texts)}
    for column in ("prev_text", "next_text"):
        if column in frame.columns:
            masked[column] = _mask_values(masker, frame[column].tolist())
    if "spans" in frame.columns:
        spans = frame["spans"].tolist()
        moved = []
        for text, new_text, row in zip(texts, masked["text"], spans, strict=True):
            if text == new_text or not isinstance(row, list | tuple) or not row:
                moved.append(row)
                continue
            _, edits = masker.mask_with_edits(text)
            moved.append(
                [
                    (map_to_masked(start, edits, end=False), map_to_masked(end, edits, end=True),
                     device)
                    for start, end, device in row
                ]
            )  # fmt: skip
        masked["spans"] = moved
    return frame.assign(**masked)


class MaskedFeatureUnion(FeatureUnion):
    """A :class:`~sklearn.pipeline.FeatureUnion` whose blocks read the sentences with named
    entities masked (see :mod:`proplens.entities`).

    The masking belongs to the fitted features: ``fit`` fits ``masker`` (an unfitted
    :class:`~proplens.entities.EntityMasker`; None: the default one) into ``masker_``, and every
    transform masks before the blocks see the text. A model trained with a plain FeatureUnion
    (every model before masking) therefore scores exactly as it did. :class:`DeviceClassifier`
    scores block by block: it calls :meth:`mask_input` once and hands the result to every block.
    """

    def __init__(
        self,
        transformer_list,
        *,
        masker=None,
        n_jobs=None,
        transformer_weights=None,
        verbose=False,
        verbose_feature_names_out=True,
    ):
        super().__init__(
            transformer_list,
            n_jobs=n_jobs,
            transformer_weights=transformer_weights,
            verbose=verbose,
            verbose_feature_names_out=verbose_feature_names_out,
        )
        self.masker = masker

    def _fit_masker(self) -> None:
        self.masker_ = (EntityMasker() if self.masker is None else clone(self.masker)).fit()

    def fit(self, X, y=None, **fit_params):
        self._fit_masker()
        return super().fit(self.mask_input(X), y, **fit_params)

    def fit_transform(self, X, y=None, **params):
        self._fit_masker()
        return super().fit_transform(self.mask_input(X), y, **params)

    def transform(self, X, **params):
        return super().transform(self.mask_input(X), **params)

    def mask_input(self, X):
        """``X`` (a sentence frame or :class:`SentenceColumns`) with named entities masked;
        SentenceColumns keep their masked copy, so it is computed once however often asked."""
        check_is_fitted(self, "masker_")
        if isinstance(X, SentenceColumns):
            return X.masked(self.masker_)
        return mask_frame(X, self.masker_)


# --- span (technique classification) features -------------------------------------------------


def span_line(text: str, start: int, end: int) -> str:
    """The line(s) of ``text`` around ``text[start:end]``: a span's sentence in PTC, whose
    articles hold one sentence per line."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    return text[line_start : len(text) if line_end == -1 else line_end]


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


#: words and punctuation next to a span: quotation marks, a colon, "so-called" before it say much
_NEIGHBOUR_TOKEN = re.compile(r"\w+|[^\w\s]")
#: how many tokens either side of a span count as its neighbours, and within how many characters
_SPAN_WINDOW = 3
_SPAN_REACH = 40


def span_left_words(frame: pd.DataFrame) -> list[str]:
    """The last few tokens before each span (within ``_SPAN_REACH`` characters), space-separated."""
    return [
        " ".join(
            _NEIGHBOUR_TOKEN.findall(document[max(0, start - _SPAN_REACH) : start])[-_SPAN_WINDOW:]
        )
        for document, start in zip(frame["document"], frame["start"], strict=True)
    ]


def span_right_words(frame: pd.DataFrame) -> list[str]:
    """The first few tokens after each span (within ``_SPAN_REACH`` characters), space-separated."""
    return [
        " ".join(_NEIGHBOUR_TOKEN.findall(document[end : end + _SPAN_REACH])[:_SPAN_WINDOW])
        for document, end in zip(frame["document"], frame["end"], strict=True)
    ]


class SpanOccurrences(TransformerMixin, BaseEstimator):
    """Where a span's text recurs in its document: before it, after it, or both.

    :class:`SpanShape` counts recurrences; PTC's annotators mark Repetition on a phrase that comes
    back, and which occurrence one is (the first, a later one) separates Repetition from the
    device the phrase's first use was labeled with.
    """

    def fit(self, X, y=None):
        self.n_features_in_ = 1
        return self

    def transform(self, X: pd.DataFrame):
        rows = []
        lowered_of: dict[str, str] = {}  # an article's spans share its text: lower it once
        for span, document, start in zip(X["span"], X["document"], X["start"], strict=True):
            key = span.strip().lower()
            lowered = lowered_of.get(document)
            if lowered is None:
                lowered = lowered_of[document] = document.lower()
            before = lowered[:start].count(key) if key else 0
            after = lowered[start + 1 :].count(key) if key else 0
            n_words = len(span.split())
            recurs = before + after > 0
            rows.append(
                (
                    np.log1p(before),
                    np.log1p(after),
                    before > 0,
                    after > 0,
                    recurs and n_words <= 3,
                    recurs and n_words > 3,
                    before + after >= 2,
                )
            )
        return sparse.csr_matrix(np.array(rows, dtype=float).reshape(len(rows), 7))

    def get_feature_names_out(self, input_features=None):
        return np.array(
            [
                "log_before",
                "log_after",
                "before",
                "after",
                "short_recurs",
                "long_recurs",
                "recurs_twice",
            ],
            dtype=object,
        )


class SpanTfidfVectorizer(TfidfVectorizer):
    """TF-IDF that leaves no columns, rather than failing, when no term can be frequent enough:
    a retrain on a few labeled spans may hold no word that two spans' neighbours share, or too
    few spans for ``max_df`` to leave room above ``min_df``."""

    _NOTHING_LEFT = ("empty vocabulary", "no terms remain", "max_df corresponds to < documents")

    def fit_transform(self, raw_documents, y=None):
        if isinstance(raw_documents, str):
            raise ValidationError("expected a list of texts, got one str")
        raw_documents = list(raw_documents)
        try:
            return super().fit_transform(raw_documents, y)
        except ValueError as error:
            if not any(reason in str(error) for reason in self._NOTHING_LEFT):
                raise
            self.vocabulary_ = {}
            return sparse.csr_matrix((len(raw_documents), 0), dtype=self.dtype)

    def fit(self, raw_documents, y=None):
        self.fit_transform(raw_documents, y)
        return self

    def transform(self, raw_documents):
        if getattr(self, "vocabulary_", None) == {}:
            return sparse.csr_matrix((len(list(raw_documents)), 0), dtype=self.dtype)
        return super().transform(raw_documents)

    def get_feature_names_out(self, input_features=None):
        if getattr(self, "vocabulary_", None) == {}:
            return np.array([], dtype=object)
        return super().get_feature_names_out(input_features)


def _span_block(select, **params) -> Pipeline:
    """A span-feature block: ``select`` the texts, then TF-IDF (sublinear, float32)."""
    return Pipeline(
        [
            ("select", FunctionTransformer(select)),
            ("tfidf", SpanTfidfVectorizer(sublinear_tf=True, dtype=np.float32, **params)),
        ]
    )


def make_span_features(*, vectors: bool = True) -> FeatureUnion:
    """Features of a labeled span for TC: columns ``span``, ``sentence``, ``document`` and the
    span's ``start`` and ``end`` in the document.

    ``vectors`` adds the static word vectors of the span (weight 1.0) and of its sentence (0.5)
    (:class:`proplens.word_vectors.SpanWordVectors`, from v12): TC micro-F1 0.601 -> 0.621 in
    grouped CV, 0.600 -> 0.616 with related stories in one fold (``benchmarks/bench.py``).
    Capitalised words are read too: a span's capitalised epithet is often what names its device,
    and the span blocks read names anyway (the span model masks none).
    """
    # Word tokens for the span and its sentence; for the neighbours, every word and punctuation
    # mark _NEIGHBOUR_TOKEN cut, so that a quotation mark or a colon is a token.
    words = dict(token_pattern=WORD_TOKEN_PATTERN)
    weights = {"context": 0.5, "shape": 2.0, "occurrences": 1.0, "left": 0.5, "right": 0.5}
    extra = []
    if vectors:
        from proplens.word_vectors import SpanWordVectors  # imports this module

        extra = [
            ("vectors", SpanWordVectors("span")),
            ("sentence_vectors", SpanWordVectors("sentence")),
        ]
        weights.update(vectors=1.0, sentence_vectors=0.5)
    return FeatureUnion(
        [
            ("words", _span_block(span_text, ngram_range=(1, 3), min_df=1, **words)),
            ("chars", _span_block(span_text, analyzer="char_wb", ngram_range=(2, 5), min_df=2)),
            ("context", _span_block(span_context, min_df=2, max_df=0.5, **words)),
            ("shape", SpanShape()),
            ("occurrences", SpanOccurrences()),
            (
                "left",
                _span_block(span_left_words, ngram_range=(1, 2), min_df=2, token_pattern=r"\S+"),
            ),
            (
                "right",
                _span_block(span_right_words, ngram_range=(1, 2), min_df=2, token_pattern=r"\S+"),
            ),
            *extra,
        ],
        transformer_weights=weights,
    )
