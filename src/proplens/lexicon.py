"""A supervised feature block: how often each word lies *inside* a labeled span of each device.

The corpus marks devices as character spans, usually a few words long ("slandered, lied about,
defamed"). A sentence-level bag of words learns from a sentence's label, and so from every word in
it. :class:`SpanLexicon` learns from the spans themselves instead. For each device, it estimates
the share of a word's occurrences that fall inside a span of that device (smoothed towards the
device's overall share). A sentence then gets, per device and for "any device", the strongest
word's rate and the mean of the three strongest. Both are given as log-ratios to the device's base
rate, so 0 means "no word here says anything".

The block looks at labels, so it must never see the rows it describes. ``fit_transform``
cross-fits: the features of each training sentence come from a lexicon fit on the *other*
documents (grouped k-fold by ``document_id``). ``transform`` uses the lexicon fit on all of them.
Inside :class:`proplens.model.DeviceClassifier` this happens within every training fold, so a
cross-validation around it stays honest.

``fit`` reads a ``spans`` column: per sentence, a list of ``(start, end, device)`` with offsets into
the sentence's text, or None for a sentence labeled without spans (its words are then left out).
An optional ``unmarked`` column lists, per sentence, devices it has whose words no span marks (a
corrected label): its words are left out of those devices' rates and of "any device".
Prediction needs only the text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import repeat

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from proplens.features import WORD_TOKEN_PATTERN, SentenceColumns, Tokens, _dense_csr

__all__ = ["SpanLexicon", "sentence_spans"]

_TOP = 3  # the second feature averages the rates of this many strongest words


def sentence_spans(sentences: pd.DataFrame, spans: pd.DataFrame) -> list[list[tuple]]:
    """For each sentence, its spans' ``(start, end, device)`` clipped to it, relative to its start.

    >>> sentences = pd.DataFrame({"document_id": ["a", "a"], "start": [0, 20], "end": [19, 40]})
    >>> spans = pd.DataFrame(
    ...     {"document_id": ["a"], "start": [10], "end": [25], "device": ["Doubt"]}
    ... )
    >>> sentence_spans(sentences, spans)
    [[(10, 19, 'Doubt')], [(0, 5, 'Doubt')]]
    """
    out: list[list[tuple]] = [[] for _ in range(len(sentences))]
    if len(sentences) == 0 or len(spans) == 0:
        return out
    by_document: dict[str, list[tuple[int, int, str]]] = {}
    for document, start, end, device in zip(
        spans["document_id"], spans["start"], spans["end"], spans["device"], strict=True
    ):
        by_document.setdefault(str(document), []).append((int(start), int(end), str(device)))
    rows = zip(sentences["document_id"], sentences["start"], sentences["end"], strict=True)
    for row, (document, start, end) in enumerate(rows):
        for span_start, span_end, device in by_document.get(str(document), ()):
            if span_start < end and span_end > start:
                clipped = (max(span_start, start) - start, min(span_end, end) - start, device)
                out[row].append(clipped)
    return out


def _top_ranks(ranks: np.ndarray, starts: np.ndarray, group: np.ndarray) -> list[np.ndarray]:
    """The ``_TOP`` largest ``ranks`` of each row and group of columns, largest first (a rank
    that occurs twice counts twice), -1 where a group has fewer columns.

    ``ranks`` is ``(rows x words)`` with ranks >= 0; ``starts`` are where the groups of words
    start and ``group`` is each word's group (ascending, as the words come sentence by
    sentence). Each row is sorted once by a key that holds the word's group in its high bits
    and its rank, counted down from the largest, in its low bits: the words of a group then
    stand together, largest rank first, and a group's first ``_TOP`` words are its answer. (One
    sort of small integer keys costs less than the passes over all words that taking the
    largest, counting and striking it out took, ``_TOP`` times.)
    """
    rows, words = ranks.shape
    shape = (rows, len(starts))
    if words == 0:
        return [np.full(shape, -1, dtype=ranks.dtype) for _ in range(_TOP)]
    bits = max(int(ranks.max()).bit_length(), 1)
    highest = (1 << bits) - 1  # every rank fits in the low bits
    # 32-bit keys when every group number fits above the rank bits: they sort faster
    key_type = np.int32 if len(starts) << bits <= 2**31 else np.int64
    keys = (group.astype(key_type) << bits)[None, :] + (key_type(highest) - ranks)
    keys.sort(axis=1)
    sizes = np.diff(np.r_[starts, words])
    top = []
    for place in range(_TOP):
        at = np.minimum(starts + place, words - 1)  # (a group too small is masked below)
        values = highest - (keys[:, at] & highest)
        top.append(np.where(place < sizes, values, -1).astype(ranks.dtype))
    return top


def _has_spans(value) -> bool:
    """A list (maybe empty) of spans; None or NaN (a row added without spans) is not."""
    return isinstance(value, list | tuple)


class SpanLexicon(TransformerMixin, BaseEstimator):
    """Per-device word-in-span rates as sentence features (see the module docstring).

    Parameters
    ----------
    smoothing : float
        Pseudo-occurrences at the device's base rate added to every word's counts.
    min_count : int
        Words seen fewer times than this in training keep the base rate.
    folds : int
        Folds (grouped by document) of the cross-fitting in ``fit_transform``.
    """

    def __init__(self, smoothing: float = 2.0, min_count: int = 2, folds: int = 5):
        self.smoothing = smoothing
        self.min_count = min_count
        self.folds = folds

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y=None):
        tokens, inside, usable = self._token_table(X)
        self._fit_rows(tokens, inside, usable, np.arange(len(X)))
        return self

    def fit_transform(self, X: pd.DataFrame, y=None):
        from sklearn.model_selection import GroupKFold  # only fitting needs it; scoring does not

        tokens, inside, usable = self._token_table(X)
        groups = X["document_id"].astype(str).to_numpy()
        n_groups = len(np.unique(groups))
        out = np.zeros((len(X), 2 * (len(self.devices_) + 1)))
        if n_groups >= 2:
            for train, test in GroupKFold(n_splits=min(self.folds, n_groups)).split(
                out, groups=groups
            ):
                self._fit_rows(tokens, inside, usable, train)
                out[test] = self._features([tokens[i] for i in test])
        self._fit_rows(tokens, inside, usable, np.arange(len(X)))
        return sparse.csr_matrix(out)

    def _devices_of(self, X: pd.DataFrame) -> list[str]:
        if "spans" not in X.columns:
            return []
        return sorted({d for spans in X["spans"] if _has_spans(spans) for _, _, d in spans})

    def _token_table(self, X: pd.DataFrame):
        """Per sentence: lower-cased tokens, and which devices' spans each token touches."""
        self.devices_ = self._devices_of(X)
        index = {d: j for j, d in enumerate(self.devices_)}
        pattern = re.compile(WORD_TOKEN_PATTERN)
        all_spans = X["spans"].tolist() if "spans" in X.columns else [None] * len(X)
        unmarked = X["unmarked"].tolist() if "unmarked" in X.columns else None
        width = len(self.devices_) + 1
        tokens, inside, usable = [], [], []
        for row, text in enumerate(X["text"].tolist()):
            spans = all_spans[row] if _has_spans(all_spans[row]) else None
            # which columns this sentence's words may be counted in
            columns = np.full(width, spans is not None)
            if spans is not None and unmarked is not None and _has_spans(unmarked[row]):
                gaps = [index[d] for d in unmarked[row] if d in index]
                columns[gaps] = False
                columns[-1] = not gaps  # "any device": unknown when one device's words are
            matches = list(pattern.finditer(text))
            tokens.append([m.group().lower() for m in matches])
            flags = np.zeros((len(matches), len(self.devices_) + 1), dtype=bool)
            for start, end, device in spans or ():
                for k, m in enumerate(matches):
                    if start < m.end() and end > m.start():
                        flags[k, index[device]] = True
                        flags[k, -1] = True
            inside.append(flags)
            usable.append(columns)
        return tokens, inside, usable

    def _fit_rows(self, tokens, inside, usable, rows: Sequence[int]) -> None:
        width = len(self.devices_) + 1
        rows = [i for i in rows if usable[i].any() and len(tokens[i])]
        words = [w for i in rows for w in tokens[i]]
        if not words:
            self.base_rate_ = np.full(width, 1e-3)
            self.vocabulary_, self.log_ratio_ = {}, np.zeros((0, width), dtype=np.float32)
            return
        codes, vocabulary = pd.factorize(pd.Series(words, dtype=object))
        # counted[k, j]: whether word occurrence k counts towards device j's rates
        counted = np.repeat(
            np.vstack([usable[i] for i in rows]), [len(tokens[i]) for i in rows], axis=0
        )
        flags = np.vstack([inside[i] for i in rows]) & counted
        flags, counted = flags.astype(np.float64), counted.astype(np.float64)
        # per word, summed over its occurrences (a one-hot product: far faster than np.add.at)
        occurrences = sparse.csr_matrix(
            (np.ones(len(codes)), (codes, np.arange(len(codes)))),
            shape=(len(vocabulary), len(codes)),
        )
        seen, hits = occurrences @ counted, occurrences @ flags
        # a floor keeps log-ratios finite for a device without spans in this fold
        base = np.maximum(flags.sum(axis=0) / np.maximum(counted.sum(axis=0), 1), 1e-4)
        keep = seen.max(axis=1) >= self.min_count
        rate = (hits[keep] + self.smoothing * base) / (seen[keep] + self.smoothing)
        self.base_rate_ = base
        self.vocabulary_ = {w: k for k, w in enumerate(np.asarray(vocabulary)[keep].tolist())}
        self.log_ratio_ = np.log(rate / base).astype(np.float32)

    # -- features ----------------------------------------------------------------------------
    def _features(self, tokens: list[list[str]]) -> np.ndarray:
        """Max and top-3 mean of the words' rates per device, as log-ratios to the base rate.

        A word outside the lexicon sits at the base rate (ratio 1): it can fill one of the top
        places only when the sentence has fewer than three stronger words.
        """
        table = Tokens(tokens)
        return self._features_from_ids(table.words, table.ids, table.lengths)

    def _features_from_ids(self, words, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        width = len(self.devices_) + 1
        n = len(lengths)
        out = np.zeros((n, 2 * width))
        if len(self.vocabulary_) == 0 or len(ids) == 0:
            return out
        # one dict look-up per distinct word of the batch
        lookup = self.vocabulary_.get
        entry = np.fromiter(map(lookup, words, repeat(-1)), dtype=np.int64, count=len(words))[ids]
        rows = np.repeat(np.arange(n), lengths)
        known = entry >= 0
        n_known = np.bincount(rows[known], minlength=n)
        rows = rows[known]  # sentence order: each sentence's words are contiguous
        if len(rows) == 0:
            return out
        entry = entry[known]
        ranked = self._ranked_ratios()
        if ranked is None:  # a NaN ratio (no smoothing): NaN spreads as numpy spreads it
            return self._features_reference(entry, rows, n_known, lengths, out)
        ranks, ratio_of_rank = ranked
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        present = rows[starts]
        group = np.repeat(np.arange(len(present)), np.diff(np.r_[starts, len(rows)]))
        # (columns x words), so that every reduction runs along contiguous memory (np.take, as
        # ``a[:, index]`` returns a column-major array); the largest ratios are found by their
        # ranks, small integers that are quicker to compare, then looked up
        top = _top_ranks(np.take(ranks, entry, axis=1), starts, group)
        columns = np.arange(width)[:, None]
        tops = [np.where(t >= 0, ratio_of_rank[columns, np.maximum(t, 0)], -np.inf).T for t in top]
        # Each unknown word stands for a ratio of 1, up to _TOP of them. The _TOP largest of the
        # known tops and those ones, largest first: the known tops above 1, then the ones, then
        # the other known tops (a top equal to 1 may swap places with a one: the same values).
        ones = np.minimum(lengths[present] - n_known[present], _TOP)[:, None]
        above = sum((t > 1.0).astype(np.int64) for t in tops)
        largest = []
        for place in range(_TOP):
            after_ones = tops[0]
            for k in range(1, _TOP):
                after_ones = np.where(place - ones == k, tops[k], after_ones)
            value = np.where(place < above + ones, 1.0, after_ones)
            largest.append(np.where(place < above, tops[place], value))
        # the mean of the first min(words, _TOP), added in order: numpy's sum of fewer than
        # eight values (as over the sorted candidates before) adds them one after the other
        counted = np.minimum(lengths[present], _TOP)[:, None]
        sums = largest[0]
        for place in range(1, _TOP):
            sums = sums + np.where(place < counted, largest[place], 0.0)
        out[present, :width] = np.log(largest[0])
        out[present, width:] = np.log(sums / counted)
        return out

    def _features_reference(self, entry, rows, n_known, lengths, out) -> np.ndarray:
        """The features straight from the ratios, for a lexicon with NaN ratios (tests compare
        the fast path against it). ``entry`` and ``rows`` are the known words' own."""
        width = len(self.devices_) + 1
        values = np.exp(np.take(self.log_ratio_.T, entry, axis=1).astype(np.float64))
        present, starts = np.unique(rows, return_index=True)
        group = np.repeat(np.arange(len(present)), np.diff(np.r_[starts, len(rows)]))
        # The _TOP largest known ratios of each sentence and column: take the group maximum,
        # strike out its first occurrence, repeat (no sort of all words needed).
        tops = []
        for step in range(_TOP):
            largest = np.maximum.reduceat(values, starts, axis=1)
            tops.append(largest.T)
            if step + 1 < _TOP:
                hit = values == np.take(largest, group, axis=1)
                seen = np.cumsum(hit, axis=1, dtype=np.int32)
                before = np.hstack([np.zeros((width, 1), dtype=np.int32), seen[:, starts[1:] - 1]])
                values[hit & (seen - np.take(before, group, axis=1) == 1)] = -np.inf
        padding = np.minimum(lengths[present] - n_known[present], _TOP)
        ones = np.where(np.arange(_TOP)[None, :] < padding[:, None], 1.0, -np.inf)
        candidates = np.concatenate(
            [np.stack(tops, axis=2), np.repeat(ones[:, None, :], width, axis=1)], axis=2
        )
        candidates = -np.sort(-candidates, axis=2)
        counted = np.minimum(lengths[present], _TOP)
        take = np.arange(candidates.shape[2])[None, None, :] < counted[:, None, None]
        sums = np.where(take, candidates, 0.0).sum(axis=2)
        out[present, :width] = np.log(candidates[:, :, 0])
        out[present, width:] = np.log(sums / counted[:, None])
        return out

    def _ranked_ratios(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(ranks, ratio_of_rank)``: per column of ``log_ratio_``, each word's rank among the
        column's distinct ratios ``exp(log_ratio_)`` (equal ratios, equal ranks; ``(columns x
        words)``), and the ratio of each rank; None if a ratio is NaN. Built from the fitted
        ratios on first use (again after a refit) and never pickled."""
        cached = self.__dict__.get("_ranked")
        if cached is None or cached[0] is not self.log_ratio_:
            # the same float64 ratios as an exp of the words' own log-ratios: exp acts on each
            # value alone
            ratios = np.ascontiguousarray(np.exp(self.log_ratio_.T.astype(np.float64)))
            table = None
            if not np.isnan(ratios).any():
                ranks = np.empty(ratios.shape, dtype=np.int64)
                distinct = []
                for column, values in enumerate(ratios):
                    found, ranks[column] = np.unique(values, return_inverse=True)
                    distinct.append(found)
                ratio_of_rank = np.zeros((len(distinct), max(map(len, distinct))))
                for column, found in enumerate(distinct):
                    ratio_of_rank[column, : len(found)] = found
                small = np.int16 if ratio_of_rank.shape[1] < 2**15 else np.int32
                table = (ranks.astype(small), ratio_of_rank)
            cached = self._ranked = (self.log_ratio_, table)
        return cached[1]

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: the base class may return __dict__ itself
        state.pop("_ranked", None)
        return state

    def transform(self, X: pd.DataFrame):
        return self.transform_columns(SentenceColumns.from_frame(X))

    def transform_columns(self, X: SentenceColumns):
        check_is_fitted(self, "log_ratio_")
        tokens = X.tokens(WORD_TOKEN_PATTERN)
        return _dense_csr(self._features_from_ids(tokens.words, tokens.ids, tokens.lengths))

    def get_feature_names_out(self, input_features=None):
        names = [*self.devices_, "any"]
        return np.array(
            [f"span_rate_max_{n}" for n in names] + [f"span_rate_top{_TOP}_{n}" for n in names],
            dtype=object,
        )
