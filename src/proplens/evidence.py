"""Why a sentence was flagged: linear-model feature contributions mapped back to the input text.

For a linear model the log-odds of a device is a sum over features of ``value * weight``. The word
n-gram block of the features (named ``"words"``, always first in
:func:`proplens.features.make_sentence_features`) comes straight from the words of the sentence,
so each of its contributions can be pinned to character offsets. Contributions of the other blocks
(character n-grams, context, shape) are real but belong to no single phrase; they are left out of
the evidence list, which therefore explains the lexical part of a decision.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from proplens.features import WORD_TOKEN_PATTERN

__all__ = ["Evidence", "EvidenceMapper"]


@dataclass(frozen=True)
class Evidence:
    """A phrase of the input that raised the score of ``device`` by ``weight`` (log-odds)."""

    device: str
    start: int
    end: int
    text: str
    weight: float

    def to_dict(self) -> dict:
        data = asdict(self)
        data["weight"] = round(float(self.weight), 4)
        return data


@lru_cache(maxsize=4)
def _token_regex(pattern: str) -> re.Pattern:
    return re.compile(pattern)


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
    """

    def __init__(self, vocabulary: dict, ngram_range=(1, 2), token_pattern=WORD_TOKEN_PATTERN):
        self.vocabulary = vocabulary
        self.ngram_range = ngram_range
        self.token_pattern = token_pattern

    @classmethod
    def from_features(cls, features) -> EvidenceMapper:
        vectorizer = features.transformer_list[0][1].named_steps["tfidf"]
        return cls(vectorizer.vocabulary_, vectorizer.ngram_range, vectorizer.token_pattern)

    def phrases(self, text: str) -> list[tuple[int, int, int]]:
        """``(column, start, end)`` of every in-vocabulary n-gram of ``text`` (first occurrence)."""
        tokens = [
            (m.start(), m.end(), m.group().lower())
            for m in _token_regex(self.token_pattern).finditer(text)
        ]
        low, high = self.ngram_range
        seen: set[int] = set()
        found = []
        for n in range(low, high + 1):
            for i in range(len(tokens) - n + 1):
                gram = " ".join(token for _, _, token in tokens[i : i + n])
                column = self.vocabulary.get(gram)
                if column is None or column in seen:
                    continue
                # A phrase made only of function words ("of the") carries weight in the model
                # but tells a reader nothing; it is left out of the evidence.
                if all(token in ENGLISH_STOP_WORDS for _, _, token in tokens[i : i + n]):
                    continue
                seen.add(column)
                found.append((column, tokens[i][0], tokens[i + n - 1][1]))
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
        min_weight: float = 0.1,
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
        phrases = self.phrases(text)
        if not phrases:
            return []
        if isinstance(row_values, tuple):
            indices, data = row_values
        else:
            row = row_values.tocsr()
            indices, data = row.indices, row.data
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
