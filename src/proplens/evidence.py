"""Why a sentence was flagged: linear-model feature contributions mapped back to the input text.

For a linear model the log-odds of a device is a sum over features of ``value * weight``. The word
n-gram block of the features (named ``"words"``, always first in
:func:`proplens.features.make_sentence_features`) comes straight from the words of the sentence,
so each of its contributions can be pinned to character offsets. Contributions of the other blocks
(character n-grams, context, shape) are real but belong to no single phrase; they are left out of
the evidence list, which therefore explains the lexical part of a decision.

When the features mask named entities (:class:`proplens.features.MaskedFeatureUnion`), the word
block saw "Xcountryx first" where the input says "America first": the phrase is found in the
masked sentence and reported with the offsets and the words of the input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from proplens.entities import map_to_original
from proplens.features import WORD_TOKEN_PATTERN

__all__ = ["Evidence", "EvidenceMapper", "MIN_WEIGHT"]

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
    """Maps the word-block columns of a fitted feature union back to phrases of a sentence.

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

    def strongest(self, matrix, weights: np.ndarray) -> np.ndarray:
        """``(n_rows, n_weight_columns)``: per row of a word-block matrix and weight column, the
        largest contribution of a phrase that may be evidence (-inf when the row has none).

        A sentence whose labels all stay under ``min_weight`` here has no evidence; computed for a
        whole batch at once, it spares :meth:`explain` calls (the same products as
        :meth:`explain` compares, so the answer is the same).
        """
        matrix = matrix.tocsr()
        out = np.full((matrix.shape[0], weights.shape[1]), -np.inf)
        stop_only = self.stop_only()
        # in slices of rows, so that the (entries x weight columns) products stay small
        for first in range(0, matrix.shape[0], 4096):
            part = matrix if matrix.shape[0] <= 4096 else matrix[first : first + 4096]
            indices, data = part.indices, part.data
            keep = indices < len(stop_only)
            keep[keep] = ~stop_only[indices[keep]]
            rows = np.repeat(np.arange(part.shape[0]), np.diff(part.indptr))[keep]
            if len(rows) == 0:
                continue
            values = data.astype(np.float64)[keep][:, None] * weights[indices[keep]]
            starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
            out[first + rows[starts]] = np.maximum.reduceat(values, starts, axis=0)
        return out

    def _may_reach(self, indices, data, weights, weight_columns, min_weight: float) -> bool:
        """Whether any phrase of the row can contribute ``min_weight`` to one of the devices.

        Every phrase's value is one of the row's values, so when no column of the row (leaving out
        function-word phrases) reaches ``min_weight``, there is no evidence and the sentence need
        not be tokenised again; most flagged sentences are flagged by other blocks than words.
        """
        indices = np.asarray(indices)
        if len(indices) == 0:
            return False
        stop_only = self.stop_only()
        inside = indices < len(stop_only)
        candidates = inside.copy()
        candidates[inside] = ~stop_only[indices[inside]]
        if not candidates.any():
            return False
        rows = weights[indices[candidates]]
        if weight_columns is not None:
            rows = rows[:, weight_columns]
        values = np.asarray(data, dtype=np.float64)[candidates]
        return bool((values[:, None] * rows >= min_weight).any())
