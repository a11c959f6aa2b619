"""Why a sentence was flagged: linear-model feature contributions mapped back to the input text.

For a linear model the log-odds of a device is a sum of ``value * weight`` over features. Three
blocks of the shared features are made of the sentence's own words: word n-grams, character
n-grams and the span lexicon. :class:`SentenceAttribution` splits their contributions over the
words of the sentence, and the words (or runs of neighbouring words) with the largest shares are
the evidence the scorer shows. The neighbouring sentences' words and the sentence's shape belong
to no word of it and are left out. A device's own feature block may point at places of its own
(the figures of a sentence the Unverified_Figures cues flag).

When the features mask named entities (:class:`proplens.features.MaskedFeatureUnion`), the blocks
saw "Xcountryx first" where the input says "America first": the words are found in the masked
sentence and reported with the offsets and the words of the input.

:class:`EvidenceMapper` maps the word n-gram block alone (the vocabulary view notebooks use).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from proplens.entities import map_to_original
from proplens.features import WORD_TOKEN_PATTERN
from proplens.lexicon import _TOP

__all__ = ["Evidence", "EvidenceMapper", "MIN_WEIGHT", "SentenceAttribution"]

#: Contributions (log-odds) below this are not shown as evidence.
MIN_WEIGHT = 0.1


@dataclass(frozen=True)
class Evidence:
    """A phrase of the input that raised the score of ``device`` by ``weight`` (log-odds)."""

    device: str
    start: int
    end: int
    text: str
    weight: float

    def to_dict(self) -> dict:
        # the fields in order, written out: dataclasses.asdict deep-copies and is much slower
        return {
            "device": self.device,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "weight": round(float(self.weight), 4),
        }


@lru_cache(maxsize=4)
def _token_regex(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def _unmasked(evidence: Evidence, text: str, offset: int, edits) -> Evidence:
    """Evidence found in the masked sentence, moved to the words of ``text`` (a phrase that holds
    a kind token shows the name it replaced)."""
    start = map_to_original(evidence.start, edits, end=False)
    end = map_to_original(evidence.end, edits, end=True)
    return Evidence(evidence.device, offset + start, offset + end, text[start:end], evidence.weight)


class EvidenceMapper:
    """Maps the word-block columns of a fitted feature union back to phrases of a sentence (the
    word n-gram block only; the scorer's evidence comes from :class:`SentenceAttribution`).

    Parameters
    ----------
    vocabulary : dict
        The fitted word vectorizer's ``vocabulary_`` (n-gram -> column).
    ngram_range : tuple
        The vectorizer's n-gram range.
    token_pattern : str
        The vectorizer's token pattern (lower-cased text is tokenised the same way).
    masker : fitted :class:`~proplens.entities.EntityMasker` or None
        The masker the features read sentences through, if any: phrases are then looked up in
        the masked sentence and mapped back to the input's words.
    """

    def __init__(
        self, vocabulary: dict, ngram_range=(1, 2), token_pattern=WORD_TOKEN_PATTERN, masker=None
    ):
        self.vocabulary = vocabulary
        self.ngram_range = ngram_range
        self.token_pattern = token_pattern
        self.masker = masker
        self._stop_only: np.ndarray | None = None
        self._terms: list[str] | None = None

    def stop_only(self) -> np.ndarray:
        """Per vocabulary column: is the n-gram made only of function words (never evidence)?"""
        if self._stop_only is None:
            flags = np.zeros(max(self.vocabulary.values(), default=-1) + 1, dtype=bool)
            # one set operation per n-gram: this runs over the whole vocabulary on a model's
            # first score, a generator per n-gram costs ~4x as much
            only_stop_words = ENGLISH_STOP_WORDS.issuperset
            grams = self.vocabulary.items()
            columns = [column for gram, column in grams if only_stop_words(gram.split(" "))]
            flags[np.array(columns, dtype=np.intp)] = True
            self._stop_only = flags
        return self._stop_only

    def terms(self) -> list[str]:
        """The n-gram of each vocabulary column (the inverse of ``vocabulary``)."""
        if self._terms is None:
            terms = [""] * (max(self.vocabulary.values(), default=-1) + 1)
            for gram, column in self.vocabulary.items():
                terms[column] = gram
            self._terms = terms
        return self._terms

    @classmethod
    def from_features(cls, features) -> EvidenceMapper:
        vectorizer = features.transformer_list[0][1].named_steps["tfidf"]
        return cls(
            vectorizer.vocabulary_,
            vectorizer.ngram_range,
            vectorizer.token_pattern,
            getattr(features, "masker_", None),
        )

    def phrases(self, text: str) -> list[tuple[int, int, int]]:
        """``(column, start, end)`` of every in-vocabulary n-gram of ``text`` (first occurrence)."""
        spans, tokens = [], []
        for match in _token_regex(self.token_pattern).finditer(text):
            spans.append(match.span())
            tokens.append(match.group().lower())
        get = self.vocabulary.get
        low, high = self.ngram_range
        seen: set[int] = set()
        found = []
        for n in range(low, high + 1):
            if n == 1:
                grams = tokens
            elif n == 2:
                grams = [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]
            else:
                grams = [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
            for i, gram in enumerate(grams):
                column = get(gram)
                if column is None or column in seen:
                    continue
                # A phrase made only of function words ("of the") carries weight in the model
                # but tells a reader nothing; it is left out of the evidence.
                if all(token in ENGLISH_STOP_WORDS for token in tokens[i : i + n]):
                    continue
                seen.add(column)
                found.append((column, spans[i][0], spans[i + n - 1][1]))
        return found

    def explain(
        self,
        text: str,
        offset: int,
        row_values,
        weights: np.ndarray,
        devices: list[str],
        *,
        top: int = 4,
        min_weight: float = MIN_WEIGHT,
        weight_columns=None,
    ) -> list[Evidence]:
        """Evidence for each of ``devices`` in one sentence.

        ``row_values`` is the sentence's feature row (sparse, 1 x n_features), ``weights`` the
        ``(n_features, len(devices))`` weight columns of those devices, ``offset`` the sentence's
        start in the document so that evidence offsets refer to the document. With
        ``weight_columns``, ``weights`` is the whole weight matrix and only those columns are read
        (and only the rows of the sentence's phrases: slicing all rows first costs more than the
        rest of the explanation). ``row_values`` may also be an ``(indices, data)`` pair.
        """
        if self.masker is not None:
            masked, edits = self.masker.mask_with_edits(text)
            if edits:
                found = self._explain(
                    masked, 0, row_values, weights, devices, top, min_weight, weight_columns
                )
                return [_unmasked(e, text, offset, edits) for e in found]
        return self._explain(
            text, offset, row_values, weights, devices, top, min_weight, weight_columns
        )

    def _explain(
        self, text, offset, row_values, weights, devices, top, min_weight, weight_columns
    ) -> list[Evidence]:
        if isinstance(row_values, tuple):
            indices, data = row_values
        else:
            row = row_values.tocsr()
            indices, data = row.indices, row.data
        if min_weight > 0:
            found = self._explain_strong(
                text, offset, indices, data, weights, devices, top, min_weight, weight_columns
            )
            if found is not None:
                return found
        phrases = self.phrases(text)
        if not phrases:
            return []
        values = dict(zip(indices.tolist(), data.tolist(), strict=True))
        columns = np.array([c for c, _, _ in phrases])
        x = np.array([values.get(c, 0.0) for c in columns])
        rows = weights[columns]
        if weight_columns is not None:
            rows = rows[:, weight_columns]
        contributions = x[:, None] * rows
        evidence = []
        for d, device in enumerate(devices):
            order = np.argsort(-contributions[:, d])[:top]
            for k in order:
                weight = float(contributions[k, d])
                if weight < min_weight:
                    break
                _, start, end = phrases[k]
                evidence.append(
                    Evidence(device, offset + start, offset + end, text[start:end], weight)
                )
        return evidence

    def _explain_strong(
        self, text, offset, indices, data, weights, devices, top, min_weight, weight_columns
    ) -> list[Evidence] | None:
        """``explain`` from the row's columns that reach ``min_weight``, without listing every
        phrase of the sentence; None when equal contributions make the order depend on that list
        (the sort of the full path may order ties either way), and the full path decides.

        Every phrase's value is the row's value of its column, so the phrases shown are exactly
        the row's columns that reach ``min_weight``, are no function-word phrase and occur in the
        sentence's own tokens; each is placed at its first occurrence, as ``phrases`` does.
        """
        if self.token_pattern != WORD_TOKEN_PATTERN:
            return None  # tokens of another pattern might hold spaces, which terms() cannot undo
        indices = np.asarray(indices)
        stop_only = self.stop_only()
        keep = indices < len(stop_only)
        keep[keep] = ~stop_only[indices[keep]]
        if not keep.any():
            return []
        columns = indices[keep]
        rows = weights[columns]
        if weight_columns is not None:
            rows = rows[:, weight_columns]
        # the products explain compares: float64 row values times float64 weights
        contributions = np.asarray(data, dtype=np.float64)[keep][:, None] * rows
        strong = (contributions >= min_weight).any(axis=1)
        if not strong.any():
            return []
        columns, contributions = columns[strong], contributions[strong]
        for d in range(contributions.shape[1]):
            shown = contributions[:, d][contributions[:, d] >= min_weight]
            if len(np.unique(shown)) != len(shown):
                return None
        places = self._first_places(text, columns.tolist())
        evidence = []
        for d, device in enumerate(devices):
            values = contributions[:, d].tolist()
            shown = 0
            for k in sorted(range(len(values)), key=values.__getitem__, reverse=True):
                weight = values[k]
                if weight < min_weight or shown == top:
                    break
                place = places.get(int(columns[k]))
                if place is None:  # not one of the sentence's own phrases
                    continue
                start, end = place
                evidence.append(
                    Evidence(device, offset + start, offset + end, text[start:end], weight)
                )
                shown += 1
        return evidence

    def _first_places(self, text: str, columns: list[int]) -> dict[int, tuple[int, int]]:
        """``{column: (start, end)}`` of the first occurrence of each column's n-gram in
        ``text``'s tokens (tokenised as in :meth:`phrases`); columns that do not occur are left
        out."""
        spans, tokens = [], []
        for match in _token_regex(self.token_pattern).finditer(text):
            spans.append(match.span())
            tokens.append(match.group().lower())
        first: dict[str, int] = {}
        for i, token in enumerate(tokens):
            first.setdefault(token, i)
        terms = self.terms()
        places = {}
        for column in columns:
            words = terms[column].split(" ")
            i = first.get(words[0])
            if i is None:
                continue
            n = len(words)
            if n > 1:
                while i is not None and tokens[i : i + n] != words:
                    i = next((j for j in range(i + 1, len(tokens)) if tokens[j] == words[0]), None)
                if i is None:
                    continue
            places[column] = (spans[i][0], spans[i + n - 1][1])
        return places


#: A word is evidence only if its share is at least this part of the sentence's largest share.
RELATIVE_FLOOR = 0.2
#: Characters that may separate two evidence words shown as one phrase ("so-called experts").
_JOINABLE_GAP = re.compile(r"[ \t'’-]*")
_WHITESPACE_TOKEN = re.compile(r"\S+")


def _scatter_add(out: np.ndarray, rows: np.ndarray, values: np.ndarray) -> None:
    """``out[rows] += values`` with repeated rows adding up (``np.add.at``, which is several
    times slower than one ``bincount`` per column)."""
    for j in range(out.shape[1]):
        out[:, j] += np.bincount(rows, weights=values[:, j], minlength=out.shape[0])


def words_overlapping(starts: list[int], ends: list[int], start: int, end: int) -> range:
    """The words (given in order by their ``starts`` and ``ends``) that overlap ``[start, end)``.

    A binary search finds the first, so a long sentence with many figures costs each figure a
    few steps rather than a pass over all the sentence's words.

    >>> list(words_overlapping([0, 4, 10], [3, 9, 12], 5, 11))
    [1, 2]
    """
    first = bisect_right(ends, start)
    return range(first, bisect_left(starts, end, lo=first))


def _original(position: int, edits, end: bool) -> int:
    return map_to_original(position, edits, end=end) if edits else position


class SentenceAttribution:
    """Each word's share of a sentence's log-odds for a device, over every block that reads words.

    A linear model's log-odds is a sum of ``value * weight`` over features. Three blocks of the
    shared features are functions of the sentence's words, and their sums split exactly or by a
    stated rule over the words:

    - word n-grams: a unigram's contribution goes to its word, an n-gram's in equal parts to its
      n words (an n-gram occurring twice gives each occurrence half);
    - character n-grams (``char_wb``: they never cross whitespace): each n-gram's contribution is
      shared by the whitespace-separated tokens holding it, in proportion to their counts, and a
      token's share goes to the words inside it;
    - the span lexicon: a device's "strongest word" feature goes to that word, its "mean of the
      three strongest" feature to those words in proportion to their rates.

    The sums over words of the first two blocks equal the blocks' contributions to the log-odds
    exactly (``tests/test_evidence.py``). The neighbour words and the sentence shape belong to no
    word of the sentence and are left out. Words whose share reaches ``min_weight`` are the
    evidence; neighbouring ones are joined into one phrase with the sum of their shares, and
    phrases made only of function words are never shown.

    Parameters
    ----------
    features : fitted feature union of :func:`proplens.features.make_sentence_features`
    block_slices : dict
        ``{block name: slice}`` of the block's columns in the model's weight matrix.
    """

    def __init__(self, features, block_slices: dict):
        blocks = dict(features.transformer_list)
        self.slices = block_slices
        self.masker = getattr(features, "masker_", None)
        words = blocks["words"].named_steps["tfidf"]
        self.word_vocabulary = words.vocabulary_
        self.ngram_range = words.ngram_range
        self.word_pattern = words.token_pattern
        chars = blocks.get("chars")
        chars = chars.named_steps["tfidf"] if chars is not None else None
        self.char_vocabulary = chars.vocabulary_ if chars is not None else None
        self._char_vectorizer = chars
        self.lexicon = blocks.get("lexicon")
        if self.lexicon is not None and not hasattr(self.lexicon, "log_ratio_"):
            self.lexicon = None
        self.vectors = blocks.get("vectors")
        if self.vectors is not None and not hasattr(self.vectors, "idf_"):
            self.vectors = None

    @classmethod
    def from_model(cls, model) -> SentenceAttribution:
        """For a fitted :class:`proplens.model.DeviceClassifier`."""
        return cls(model.features_, model.block_slices_)

    def block_rows(self, row) -> dict:
        """``{block: (indices, data)}`` of one row of the whole feature matrix, each block's
        indices counted from the block's first column (what :meth:`explain` reads)."""
        row = row.tocsr() if sparse.issparse(row) else sparse.csr_matrix(row)
        out = {}
        for name, place in self.slices.items():
            part = row[:, place]
            out[name] = (part.indices, part.data)
        return out

    def word_shares(self, text: str, rows: dict, weights: np.ndarray, columns: list[int]):
        """``(source, edits, spans, shares)`` of one sentence: the text the blocks read (names
        masked, if the features mask them), the masking's edits, its word spans, and
        ``(n_words, k)`` shares of the log-odds for the ``k`` label ``columns`` of the model's
        weight matrix ``weights``.

        ``rows`` maps a block name to the sentence's ``(indices, data)`` in that block (weighted
        as in the union); blocks missing from it are skipped.
        """
        blocks = {}
        for name, (indices, data) in rows.items():
            if name in self.slices:
                width = self.slices[name].stop - self.slices[name].start
                blocks[name] = sparse.csr_matrix(
                    (np.asarray(data), np.asarray(indices), [0, len(indices)]), shape=(1, width)
                )
        return self.shares_many([text], blocks, weights, columns)[0]

    def shares_many(self, texts: list[str], blocks: dict, weights: np.ndarray, columns):
        """:meth:`word_shares` of many sentences at once; ``blocks`` maps a block name to its
        ``(len(texts), block width)`` matrix (weighted as in the union). Worked out for all of
        them together: per sentence, the numpy calls would cost more than the arithmetic."""
        columns = list(columns)
        regex = _token_regex(self.word_pattern)
        sources, edits, spans, tokens, first = [], [], [], [], [0]
        for text in texts:
            source, changes = self.masker.mask_with_edits(text) if self.masker else (text, [])
            sources.append(source)
            edits.append(changes)
            found = [(m.span(), m.group().lower()) for m in regex.finditer(source)]
            spans.append([place for place, _ in found])
            tokens.append([token for _, token in found])
            first.append(first[-1] + len(found))
        shares = np.zeros((first[-1], len(columns)))
        if first[-1]:
            if "words" in blocks:
                self._add_word_ngrams(tokens, first, blocks["words"], weights, columns, shares)
            if "chars" in blocks and self.char_vocabulary is not None:
                self._add_char_ngrams(sources, spans, first, blocks["chars"], weights, columns,
                                      shares)  # fmt: skip
            if "lexicon" in blocks and self.lexicon is not None:
                self._add_lexicon(tokens, first, blocks["lexicon"], weights, columns, shares)
            if "vectors" in blocks and self.vectors is not None:
                written = [
                    [source[start:end] for start, end in places]
                    for source, places in zip(sources, spans, strict=True)
                ]
                self._add_vectors(written, first, blocks["vectors"], weights, columns, shares)
        return [
            (sources[i], edits[i], spans[i], shares[first[i] : first[i + 1]])
            for i in range(len(texts))
        ]

    def _add_word_ngrams(self, tokens, first, matrix, weights, columns, shares) -> None:
        get = self.word_vocabulary.get
        low, high = self.ngram_range
        sentence, column, start, length = [], [], [], []
        for s, words in enumerate(tokens):
            base = first[s]
            for n in range(low, high + 1):
                grams = (
                    words
                    if n == 1
                    else [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
                )
                for i, gram in enumerate(grams):
                    c = get(gram)
                    if c is not None:
                        sentence.append(s)
                        column.append(c)
                        start.append(base + i)
                        length.append(n)
        if not column:
            return
        sentence, column = np.array(sentence), np.array(column)
        start, length = np.array(start), np.array(length)
        values = np.asarray(matrix[sentence, column]).ravel().astype(np.float64)
        # an n-gram occurring twice in a sentence has one value: each occurrence gets half
        _, inverse, counts = np.unique(
            sentence * matrix.shape[1] + column, return_inverse=True, return_counts=True
        )
        each = values / counts[inverse] / length
        parts = each[:, None] * weights[self.slices["words"].start + column][:, columns]
        receivers = np.concatenate([start[length > k] + k for k in range(int(length.max()))])
        spread = np.concatenate([parts[length > k] for k in range(int(length.max()))])
        _scatter_add(shares, receivers, spread)

    def _char_counts(self, pieces: list[str]) -> sparse.csr_matrix:
        """Raw character n-gram counts of each whitespace-free piece of text, one row each."""
        vectorizer = self._char_vectorizer
        if hasattr(vectorizer, "count_matrix"):
            return vectorizer.count_matrix(pieces).tocsr()
        from sklearn.feature_extraction.text import CountVectorizer

        return CountVectorizer.transform(vectorizer, pieces).tocsr()

    def _add_char_ngrams(self, sources, spans, first, matrix, weights, columns, shares) -> None:
        owner, places, pieces = [], [], []
        for s, source in enumerate(sources):
            for match in _WHITESPACE_TOKEN.finditer(source):
                owner.append(s)
                places.append(match.span())
                pieces.append(match.group())
        if not pieces:
            return
        owner = np.array(owner)
        counts = self._char_counts(pieces)  # (pieces, n-grams)
        if counts.nnz == 0:
            return
        # A sentence's value of an n-gram is shared by its pieces in proportion to their counts.
        # Keyed by (sentence, n-gram), the sentence matrix's entries are in ascending order, and
        # every n-gram of a piece is one of its sentence's: one search places them all.
        width = counts.shape[1]
        matrix = matrix.tocsr()
        if not matrix.has_sorted_indices:
            matrix = matrix.sorted_indices()
        sentence_keys = (
            np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr)).astype(np.int64) * width
            + matrix.indices
        )
        piece_of = np.repeat(np.arange(len(pieces)), np.diff(counts.indptr))
        keys = owner[piece_of].astype(np.int64) * width + counts.indices
        where = np.minimum(np.searchsorted(sentence_keys, keys), len(sentence_keys) - 1)
        present = sentence_keys[where] == keys
        totals = np.bincount(where, weights=counts.data, minlength=len(sentence_keys))
        share = np.where(present, counts.data * matrix.data[where] / totals[where], 0.0)
        weighted = share[:, None] * weights[self.slices["chars"].start + counts.indices][:, columns]
        # each piece's n-grams are one contiguous run of rows: sum the runs
        per_piece = np.zeros((len(pieces), len(columns)))
        filled = np.diff(counts.indptr) > 0
        per_piece[filled] = np.add.reduceat(weighted, counts.indptr[:-1][filled], axis=0)
        # a piece's share goes to the words inside it, in equal parts
        word_owner = np.repeat(np.arange(len(sources)), np.diff(first))
        word_starts = np.array([start for places_of in spans for start, _ in places_of])
        key = word_owner * (1 << 32) + word_starts
        piece_start = np.array([a for a, _ in places])
        piece_end = np.array([b for _, b in places])
        low = np.searchsorted(key, owner * (1 << 32) + piece_start)
        high = np.searchsorted(key, owner * (1 << 32) + piece_end)
        inside = high - low
        has = inside > 0
        if not has.any():
            return
        receiver = np.repeat(low[has], inside[has]) + (
            np.arange(int(inside[has].sum())) - np.repeat(np.cumsum(inside[has]) - inside[has],
                                                          inside[has])
        )  # fmt: skip
        portion = np.repeat(per_piece[has] / inside[has][:, None], inside[has], axis=0)
        shares[receiver] += portion  # a word lies inside one piece: no receiver repeats

    def _add_vectors(self, written, first, matrix, weights, columns, shares) -> None:
        """The word-vector block's share of each word (``written``: the words as in the text).
        A sentence's row is its words' IDF-weighted vectors summed, times one scale (the block
        weight over the sum's length), so its log-odds are a sum over the words: each word's
        vector times its IDF, the scale and the block's weights."""
        block = self.vectors
        ids = block.rows_of_written([w for sentence in written for w in sentence])
        known = np.flatnonzero(ids >= 0)  # rows of ``shares``
        if not len(known):
            return
        vectors = block.table_vectors()[ids[known]].astype(np.float64)
        vectors *= block.idf_[ids[known]].astype(np.float64)[:, None]
        sentence = np.repeat(np.arange(len(written)), np.diff(first))[known]
        summed = np.zeros((len(written), vectors.shape[1]))
        np.add.at(summed, sentence, vectors)
        rows = matrix.toarray().astype(np.float64)
        lengths = np.linalg.norm(summed, axis=1)
        scale = np.divide(
            np.linalg.norm(rows, axis=1), lengths, out=np.zeros(len(written)), where=lengths > 0
        )
        block_weights = weights[self.slices["vectors"].start : self.slices["vectors"].stop]
        shares[known] += (vectors @ block_weights[:, columns]) * scale[sentence, None]

    def _add_lexicon(self, tokens, first, matrix, weights, columns, shares) -> None:
        lexicon = self.lexicon
        width = len(lexicon.devices_) + 1
        values = matrix.toarray()  # (sentences, 2 * width)
        block = weights[self.slices["lexicon"].start : self.slices["lexicon"].stop][:, columns]
        get = lexicon.vocabulary_.get
        entry = np.array([get(t, -1) for words in tokens for t in words], dtype=np.int64)
        known = np.flatnonzero(entry >= 0)  # rows of ``shares``
        if not len(known):
            return
        lengths = np.diff(first)
        sentence = np.repeat(np.arange(len(tokens)), lengths)[known]
        ratios = np.exp(lexicon.log_ratio_[entry[known]].astype(np.float64))  # (known, width)
        # per column, the known words sentence by sentence, strongest first (one sort for all
        # columns: the sentence dominates the key, the ratio orders within it)
        order = np.argsort(sentence[:, None] * (ratios.max() + 1.0) - ratios, axis=0, kind="stable")
        ranked_sentence = sentence[order[:, 0]]
        starts = np.flatnonzero(np.r_[True, ranked_sentence[1:] != ranked_sentence[:-1]])
        present = ranked_sentence[starts]
        rank = np.arange(len(known)) - np.repeat(starts, np.diff(np.r_[starts, len(known)]))
        ranked = np.take_along_axis(ratios, order, axis=0)  # (known, width)
        n_known = np.diff(np.r_[starts, len(known)])
        receivers, parts = [], []
        # the strongest word of each sentence takes its "strongest word" feature, per column
        strongest = known[order[starts]]  # (sentences with known words, width)
        receivers.append(strongest.ravel())
        parts.append(
            (values[present, :width, None] * block[None, :width]).reshape(-1, len(columns))
        )
        # the top-3 mean: the strongest known words and (for unknown words) base-rate ones
        top = np.full((len(present), _TOP, width), -np.inf)
        for r in range(_TOP):
            has = n_known > r
            top[has, r] = ranked[starts[has] + r]
        unknown = np.minimum(lengths[present] - n_known, _TOP)
        ones = np.where(np.arange(_TOP)[None, :] < unknown[:, None], 1.0, -np.inf)
        candidates = np.concatenate([top, np.repeat(ones[:, :, None], width, axis=2)], axis=1)
        candidates = -np.sort(-candidates, axis=1)[:, :_TOP]  # (present, 3, width)
        finite = np.isfinite(candidates)
        total = np.where(finite, candidates, 0.0).sum(axis=1)  # (present, width)
        cut = np.where(finite, candidates, np.inf).min(axis=1)
        part = values[present, width:, None] * block[None, width:]  # (present, width, k)
        taken_rows = rank < _TOP
        which = np.searchsorted(present, ranked_sentence[taken_rows])
        ratio = ranked[taken_rows]  # (taken, width)
        taken = (ratio >= cut[which]) * ratio / total[which]
        receivers.append(known[order[taken_rows]].ravel())
        parts.append((taken[:, :, None] * part[which]).reshape(-1, len(columns)))
        _scatter_add(shares, np.concatenate(receivers), np.concatenate(parts))

    def explain(
        self,
        text: str,
        offset: int,
        rows: dict,
        weights: np.ndarray,
        devices: list[str],
        columns: list[int],
        *,
        top: int = 4,
        min_weight: float = MIN_WEIGHT,
        extra: dict | None = None,
    ) -> list[Evidence]:
        """Evidence for each of ``devices`` (the label ``columns`` of the model's weight matrix
        ``weights``) in one sentence that starts at ``offset`` of its document. ``extra`` adds
        phrases a device's own feature block points at: ``{device: [(start, end, weight)]}`` in
        offsets of ``text``."""
        read = self.word_shares(text, rows, weights, columns)
        return self.evidence_from_shares(text, offset, read, devices, top, min_weight, extra)

    def explain_many(
        self,
        texts: list[str],
        offsets: list[int],
        blocks: dict,
        weights: np.ndarray,
        labels: list[list[str]],
        column_of: dict,
        *,
        top: int = 4,
        min_weight: float = MIN_WEIGHT,
        extra: list[dict] | None = None,
    ) -> list[list[Evidence]]:
        """:meth:`explain` of many sentences (``blocks``: their rows of each block, ``labels``:
        the devices to explain in each, ``column_of``: a device's column of ``weights``)."""
        wanted = sorted({column_of[d] for devices in labels for d in devices})
        position = {column_of_device: k for k, column_of_device in enumerate(wanted)}
        reads = self.shares_many(texts, blocks, weights, wanted)
        out = []
        for i, (source, edits, spans, shares) in enumerate(reads):
            mine = shares[:, [position[column_of[d]] for d in labels[i]]]
            out.append(
                self.evidence_from_shares(
                    texts[i],
                    offsets[i],
                    (source, edits, spans, mine),
                    labels[i],
                    top,
                    min_weight,
                    extra[i] if extra else None,
                )  # fmt: skip
            )
        return out

    def evidence_from_shares(self, text, offset, read, devices, top, min_weight, extra):
        """The evidence of one sentence from its :meth:`word_shares` (one column per device)."""
        source, edits, spans, shares = read
        evidence = []
        word_ends = None  # the words' offsets in ``text``, when a device block points at places
        # plain lists: for a sentence's few dozen words, numpy calls cost more than the work
        for d, device_shares in enumerate(np.asarray(shares, dtype=np.float64).T.tolist()):
            device = devices[d]
            places = []
            for start, end, weight in (extra or {}).get(device, ()):
                if word_ends is None:
                    word_starts = [_original(s, edits, False) for s, _ in spans]
                    word_ends = [_original(e, edits, True) for _, e in spans]
                # the words inside a place the device's block points at ("12" and "000" of
                # "12,000") add their shares to it instead of standing alone
                for i in words_overlapping(word_starts, word_ends, start, end):
                    weight += device_shares[i]
                    device_shares[i] = 0.0
                places.append(Evidence(device, start, end, text[start:end], weight))
            found = [
                _unmasked(Evidence(device, s, e, source[s:e], w), text, 0, edits)
                if edits
                else Evidence(device, s, e, text[s:e], w)
                for s, e, w in self._phrases(source, spans, device_shares, min_weight)
            ]
            found += [place for place in places if place.weight >= min_weight]
            found.sort(key=lambda e: -e.weight)
            evidence += [
                Evidence(device, offset + e.start, offset + e.end, e.text, e.weight)
                for e in found[:top]
            ]
        return evidence

    @staticmethod
    def _phrases(source: str, spans, shares, min_weight: float):
        """``(start, end, weight)`` of runs of neighbouring words whose shares reach
        ``min_weight`` and a fifth of the sentence's largest share (so that a word that decides
        the label is not drowned in a long phrase of small shares); runs made only of function
        words are dropped. ``shares``: one number per word of ``spans``."""
        shares = [float(v) for v in shares]
        if not shares:
            return []
        floor = max(min_weight, RELATIVE_FLOOR * max(shares))
        runs: list[list[int]] = []  # word numbers of each run
        for i, share in enumerate(shares):
            if share < floor or share <= 0:
                continue
            last = runs[-1][-1] if runs else None
            if last == i - 1 and _JOINABLE_GAP.fullmatch(source, spans[last][1], spans[i][0]):
                runs[-1].append(i)
            else:
                runs.append([i])
        phrases = []
        for run in runs:
            # function words at either end are not shown, and so do not count ("a shameful")
            content = [i for i in run if source[slice(*spans[i])].lower() not in ENGLISH_STOP_WORDS]
            if not content:
                continue
            first, last = content[0], content[-1]
            weight = sum(shares[first : last + 1])
            phrases.append((spans[first][0], spans[last][1], weight))
        return phrases
