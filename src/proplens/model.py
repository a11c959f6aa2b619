"""The supervised stage: multi-label sentence classifiers and the span (TC) classifier.

:class:`DeviceClassifier` learns one logistic regression per device plus one for "any device"
(the sentence-level propaganda probability) on shared, unsupervised features. Its decision
thresholds are tuned *inside* ``fit`` on out-of-fold predictions grouped by document, so a
cross-validation that wraps it never sees thresholds chosen on its own test fold.

:class:`SpanClassifier` assigns one of the devices to a given span, as in SemEval-2020 Task 11's
technique-classification subtask.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

from proplens.errors import ValidationError
from proplens.features import (
    SentenceColumns,
    add_neighbour_columns,
    make_sentence_features,
    make_span_features,
    matches_within_chunks,
    neighbour_lists,
    transform_block,
)

__all__ = [
    "ANY_DEVICE",
    "DeviceClassifier",
    "SpanClassifier",
    "best_micro_thresholds",
    "best_threshold",
]

ANY_DEVICE = "propaganda"
_REQUIRED_COLUMNS = ("document_id", "sentence_index", "text")


def best_threshold(y_true: np.ndarray, proba: np.ndarray, *, default: float = 0.5) -> float:
    """The probability cut-off that maximises F1 on ``(y_true, proba)``.

    Computed exactly from the sorted scores (every distinct probability is a candidate), and
    placed half-way to the next lower score so that it generalises a little better than the
    training maximum. Returns ``default`` when there are no positives.

    >>> round(best_threshold(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])), 4)
    0.225
    """
    y_true = np.asarray(y_true).astype(bool)
    proba = np.asarray(proba, dtype=float)
    positives = int(y_true.sum())
    if positives == 0 or len(proba) == 0:
        return default
    cuts, true_positives, predicted = _cut_points(y_true, proba)
    f1 = 2 * true_positives / (predicted + positives)
    return float(np.clip(cuts[int(np.argmax(f1))], 0.0, 1.0))


def _cut_points(y_true: np.ndarray, proba: np.ndarray):
    """Every useful threshold of one label, with the true positives and predictions at each.

    The first cut predicts nothing; each further cut lies half-way between two distinct scores.
    """
    order = np.argsort(-proba, kind="mergesort")
    sorted_proba = proba[order]
    true_positives = np.cumsum(y_true[order])
    predicted = np.arange(1, len(proba) + 1)
    distinct = np.r_[sorted_proba[1:] < sorted_proba[:-1], True]
    lower = np.r_[sorted_proba[1:], 0.0]
    cuts = (sorted_proba + lower) / 2
    # Half-way between two neighbouring floats rounds to the lower one (5e-324 and 0.0): the cut
    # must stay above the next lower score, or that score is flagged too.
    cuts[:-1] = np.maximum(cuts[:-1], np.nextafter(lower[:-1], np.inf))
    return (
        np.r_[np.nextafter(1.0, 2.0), cuts[distinct]],
        np.r_[0, true_positives[distinct]],
        np.r_[0, predicted[distinct]],
    )


def best_micro_thresholds(
    Y_true: np.ndarray, proba: np.ndarray, start: np.ndarray, *, rounds: int = 5
) -> np.ndarray:
    """Per-label thresholds that maximise the micro-averaged F1 over all labels jointly.

    Coordinate ascent from ``start`` (e.g. each label's own F1-optimal threshold): each label's
    threshold is set to the exact maximiser of the pooled F1 given the others, until nothing
    changes. Per-label optima over-predict rare labels (a label whose best F1 is 0.1 is flagged
    at a precision far below the pooled one); the pooled optimum flags them only when the
    model is surer.

    >>> Y = np.array([[1, 0], [1, 0], [0, 1], [0, 0]])
    >>> P = np.array([[0.9, 0.2], [0.8, 0.3], [0.1, 0.35], [0.2, 0.34]])
    >>> best_micro_thresholds(Y, P, np.array([0.5, 0.5])).round(3).tolist()
    [0.5, 0.345]
    >>> Y = np.array([[1, 1], [1, 0], [0, 0], [0, 0]])  # the second label only adds errors
    >>> P = np.array([[0.9, 0.1], [0.8, 0.9], [0.1, 0.8], [0.2, 0.7]])
    >>> best_micro_thresholds(Y, P, np.array([0.5, 0.5])).tolist()  # 1.0: flag nothing
    [0.5, 1.0]
    """
    Y_true = np.asarray(Y_true).astype(bool)
    proba = np.asarray(proba, dtype=float)
    thresholds = np.asarray(start, dtype=float).copy()
    positives = Y_true.sum(axis=0)
    cuts = [_cut_points(Y_true[:, j], proba[:, j]) for j in range(Y_true.shape[1])]

    def counts(j: int) -> np.ndarray:
        flagged = proba[:, j] >= thresholds[j]
        tp = int((flagged & Y_true[:, j]).sum())
        return np.array([tp, int(flagged.sum()) - tp, int(positives[j]) - tp])

    current = np.array([counts(j) for j in range(Y_true.shape[1])])
    for _ in range(rounds):
        changed = False
        for j in range(Y_true.shape[1]):
            tp_others, fp_others, fn_others = current.sum(axis=0) - current[j]
            candidates, tp, predicted = cuts[j]
            tp_all = tp_others + tp
            fp_all = fp_others + predicted - tp
            fn_all = fn_others + positives[j] - tp
            f1 = 2 * tp_all / np.maximum(2 * tp_all + fp_all + fn_all, 1)
            best = int(np.argmax(f1))
            if candidates[best] != thresholds[j]:
                thresholds[j] = candidates[best]
                current[j] = counts(j)
                changed = True
        if not changed:
            break
    # "flag nothing" is a cut just above 1; stored thresholds stay in [0, 1], as best_threshold's
    # and every threshold a user may set do
    return np.clip(thresholds, 0.0, 1.0)


def _check_frame(X) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise ValidationError(
            "expected a sentence frame (pandas DataFrame with columns "
            f"{', '.join(_REQUIRED_COLUMNS)}), got {type(X).__name__}"
        )
    missing = [c for c in _REQUIRED_COLUMNS if c not in X.columns]
    if missing:
        raise ValidationError(f"sentence frame lacks column(s): {', '.join(missing)}")
    return X


def _check_input(X):
    """A sentence frame, or the :class:`~proplens.features.SentenceColumns` the scorer builds."""
    return X if isinstance(X, SentenceColumns) else _check_frame(X)


@lru_cache(maxsize=32)
def _gate_regex(pattern: str) -> re.Pattern:
    # what pandas' str.contains(pattern, case=False) searches with, compiled once
    return re.compile(pattern, flags=re.IGNORECASE)


@lru_cache(maxsize=32)
def _lower_gate_regex(pattern: str) -> re.Pattern:
    return re.compile(pattern)


#: How many distinct whitespace chunks (words with their punctuation) keep their gate result,
#: per gate pattern (least recently used ones go first): a few MB at most.
GATE_CHUNK_CACHE_SIZE = 30_000


@lru_cache(maxsize=8)
def _chunk_gate(pattern: str):
    """Whether ``pattern`` matches a chunk, cached per chunk; None for a pattern that may match
    across whitespace (see :func:`proplens.features.matches_within_chunks`)."""
    if not matches_within_chunks(pattern):
        return None
    search = _lower_gate_regex(pattern).search

    @lru_cache(maxsize=GATE_CHUNK_CACHE_SIZE)
    def matches(chunk: str) -> bool:
        return search(chunk) is not None

    return matches


# scikit-learn's linear models and model selection are imported where a model is fit: a saved
# model scores with its stacked weights, and `proplens score` should not pay for importing them.


#: DeviceClassifier parameters added after models were shipped, with the value older models were
#: fit with (ptc-default@v1 tuned each device's threshold on its own and had no device blocks;
#: models before the ``tol`` parameter used liblinear's default tolerance)
_PARAMETERS_ADDED_LATER = {"threshold_objective": "device", "device_features": None, "tol": 1e-4}

#: How much looser the solver tolerance of the inner, threshold-picking fits is than the final's.
THRESHOLD_TOL_FACTOR = 30.0


def _fit_logistic(features, target, C: float, class_weight, random_state, tol: float = 1e-4):
    from sklearn.linear_model import LogisticRegression

    annotated = target >= 0
    if not annotated.all():
        # -1 marks "not annotated for this device" (a device labeled on a subset of sentences)
        features, target = features[annotated], target[annotated]
    if len(target) == 0 or target.min() == target.max():
        # A label with a single class in this fold: a constant model is the honest answer.
        return float(target.mean()) if len(target) else 0.5
    # The dual liblinear solver is 2-3x faster than the primal one here, where features
    # outnumber sentences, and reaches the same solution.
    model = LogisticRegression(
        C=C,
        solver="liblinear",
        dual=True,
        max_iter=2000,
        tol=tol,
        class_weight=class_weight,
        random_state=random_state,
    )
    return model.fit(features, target)


def _stack_linear(models, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """One (n_features x n_labels) weight matrix + intercepts, so scoring is one sparse product."""
    weights = np.zeros((n_features, len(models)), dtype=np.float32)
    intercepts = np.zeros(len(models))
    for column, model in enumerate(models):
        if isinstance(model, float):
            # constant model: probability p everywhere
            p = np.clip(model, 1e-6, 1 - 1e-6)
            intercepts[column] = np.log(p / (1 - p))
        else:
            weights[:, column] = model.coef_.ravel()
            intercepts[column] = model.intercept_[0]
    return weights, intercepts


#: A block whose matrix is at least this full is centred for the solver (see :func:`_centred`).
DENSE_BLOCK_FILL = 0.25


def _centred(matrix: sparse.csr_matrix, slices: dict[str, slice]):
    """``matrix`` with the columns of its dense blocks centred, and the shift that was taken off.

    The dense blocks (sentence shape, span lexicon) hold counts and rates that every sentence
    shares a large part of; liblinear's dual solver, which converges at a rate set by how alike
    the rows are, then needs 90 passes where the TF-IDF blocks alone need 10. Centring removes
    the shared part: on the SemEval-2020 training set the passes fall by about half and every
    fit is 1.7x faster. A linear model on centred columns is the same function as one on the
    raw columns with its intercept moved by ``-shift @ coef`` (:meth:`DeviceClassifier.fit`
    moves it), so scoring still reads the raw, sparse features. The only difference is that
    liblinear regularises the intercept, which the shift changes a little.
    """
    rows = matrix.shape[0]
    filled = np.bincount(matrix.indices, minlength=matrix.shape[1])  # non-zeros per column
    means = np.asarray(matrix.sum(axis=0), dtype=np.float64).ravel() / max(rows, 1)
    shift = np.zeros(matrix.shape[1])
    for block in slices.values():
        width = block.stop - block.start
        if width and filled[block].sum() >= DENSE_BLOCK_FILL * rows * width:
            shift[block] = means[block]
    if not shift.any():
        return matrix, shift
    parts = []
    for block in slices.values():
        part = matrix[:, block]
        if shift[block].any():
            part = sparse.csr_matrix(part.toarray() - shift[block], dtype=matrix.dtype)
        parts.append(part)
    return sparse.hstack(parts, format="csr"), shift


def _blocks(features) -> list[tuple[str, object]]:
    """The named blocks of a feature transformer; one block ``"all"`` if it is not a union."""
    if hasattr(features, "transformer_list"):
        return list(features.transformer_list)
    return [("all", features)]


def _block_slices(union, X: pd.DataFrame) -> dict[str, slice]:
    """Where each block of a fitted FeatureUnion lands in its output's columns."""
    slices, start = {}, 0
    for name, transformer in _blocks(union):
        width = transformer.transform(X.iloc[:1]).shape[1]
        slices[name] = slice(start, start + width)
        start += width
    return slices


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _logit(p: float) -> float:
    p = float(np.clip(p, 1e-6, 1 - 1e-6))
    return float(np.log(p / (1 - p)))


def _predict_one(model, features) -> np.ndarray:
    """Probabilities of one fitted :func:`_fit_logistic` result (a model or a constant)."""
    if isinstance(model, float):
        return np.full(features.shape[0], model)
    return model.predict_proba(features)[:, 1]


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"document_id": ["d"], "sentence_index": [0], "text": [""], "prev_text": [""],
         "next_text": [""]}
    )  # fmt: skip


class DeviceClassifier(ClassifierMixin, BaseEstimator):
    """Multi-label sentence classifier over rhetorical devices, plus an any-device probability.

    Parameters
    ----------
    devices : list of str
        Column names of ``y`` (the indicator matrix passed to ``fit``), in order.
    features : transformer or None
        Unfitted feature transformer over a sentence frame; None uses
        :func:`proplens.features.make_sentence_features`.
    C : float
        Inverse regularisation strength of every logistic regression.
    class_weight : None or "balanced"
        Passed to the logistic regressions. None keeps probabilities calibrated; the tuned
        thresholds handle the class imbalance.
    threshold_folds : int
        Folds (grouped by ``document_id``) of the inner cross-validation that picks thresholds.
    min_positive : int
        Devices with fewer positive sentences than this keep the default threshold 0.5.
    n_jobs : int
        Parallel jobs for the per-label fits.
    tol : float
        Stopping tolerance of the liblinear solver. 0.01 (scikit-learn's default is 0.0001)
        moves no sentence's probability by more than 0.001 on the SemEval-2020 training set, and
        leaves every grouped-CV figure within 0.0005, at 0.6x the fitting time. The inner fits
        that only pick thresholds stop at ``THRESHOLD_TOL_FACTOR * tol``.
    random_state : int
        Seed for everything random, so training is deterministic.
    gates : dict or None
        ``{device: regex}``: a device that can only occur in sentences matching ``regex`` (e.g.
        Unverified_Figures needs a quantity). Other sentences get probability 0 for it and are
        left out of its fit, so the classifier spends its capacity where the device can occur.
    threshold_objective : "micro" or "device"
        "device" tunes each device's threshold for its own F1. "micro" (the default) then
        adjusts the thresholds of the devices annotated on every sentence jointly for their
        pooled (micro-averaged) F1 (:func:`best_micro_thresholds`): fewer, surer labels for rare
        devices, at some cost in macro-F1. The any-device threshold always maximises its own F1.
    device_features : dict or None
        ``{device: transformer}``: an unfitted feature block appended to the shared features for
        that device's regression only (e.g. :func:`proplens.figures.make_device_figure_features`
        for Unverified_Figures). It sees a frame with ``prev_text``/``next_text`` columns and is
        computed only on the rows the device is fit or scored on; every other label's model,
        coefficients and threshold are exactly those of a classifier without it.
    """

    def __init__(
        self,
        devices: Sequence[str] = (),
        features=None,
        C: float = 1.0,
        class_weight=None,
        threshold_folds: int = 3,
        min_positive: int = 10,
        n_jobs: int = 1,
        random_state: int = 0,
        gates=None,
        threshold_objective: str = "micro",
        device_features=None,
        tol: float = 0.01,
    ):
        self.gates = gates
        self.threshold_objective = threshold_objective
        self.device_features = device_features
        self.devices = devices
        self.features = features
        self.C = C
        self.class_weight = class_weight
        self.threshold_folds = threshold_folds
        self.min_positive = min_positive
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.tol = tol

    def __setstate__(self, state):
        super().__setstate__(state)
        # A model saved before a parameter existed was fit as that parameter's value below
        # says; filling it in keeps get_params, repr and clone working on the old model.
        for name, value in _PARAMETERS_ADDED_LATER.items():
            self.__dict__.setdefault(name, value)

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y):
        """Fit on a sentence frame ``X`` and an ``(n, k)`` indicator matrix ``y``.

        Entries of ``y`` may be -1 for "this sentence was not annotated for this device": that
        device is then learned from its annotated sentences only.
        """
        X = _check_frame(X)
        if self.threshold_objective not in ("device", "micro"):
            raise ValidationError(
                f"threshold_objective must be 'device' or 'micro', got {self.threshold_objective!r}"
            )
        Y = np.asarray(y.toarray() if sparse.issparse(y) else y)
        if Y.ndim != 2 or Y.shape[0] != len(X):
            raise ValidationError(
                f"y must be an indicator matrix with {len(X)} rows, got shape {Y.shape}"
            )
        devices = list(self.devices)
        # thresholds_ and the scorer key labels by name: a name twice, or the any-device
        # label's own, would silently lose a label's threshold
        repeated = sorted({d for d in devices if devices.count(d) > 1 or d == ANY_DEVICE})
        if repeated:
            raise ValidationError(
                f"devices must be distinct and not {ANY_DEVICE!r}: {', '.join(repeated)}"
            )
        if len(devices) != Y.shape[1]:
            raise ValidationError(
                f"y has {Y.shape[1]} label columns but {len(devices)} devices were named"
            )
        Y = Y.astype(np.int8)
        # The any-device target is taken over the devices annotated on every sentence; a device
        # annotated on a subset only (entries -1 elsewhere) is learned but does not define it.
        complete = (Y >= 0).all(axis=0)
        any_device = (Y[:, complete] == 1).any(axis=1) if complete.any() else (Y == 1).any(axis=1)
        targets = np.column_stack([any_device, Y]).astype(np.int8)
        # the devices whose union the any-device label is (the scorer's fallback picks among them)
        self.any_device_devices_ = (
            [d for d, whole in zip(devices, complete, strict=True) if whole]
            if complete.any()
            else list(devices)
        )
        eligible = self._eligible(X)
        fit_targets = np.where(eligible, targets, -1).astype(np.int8)
        self.labels_ = [ANY_DEVICE, *devices]
        self.classes_ = np.array(self.labels_, dtype=object)
        self.features_ = clone(self.features or make_sentence_features())
        raw = self.features_.fit_transform(X).tocsr()
        self.block_slices_ = _block_slices(self.features_, X)
        # every fit below runs on centred dense blocks; their intercepts are moved back at the end
        matrix, shift = _centred(raw, self.block_slices_)
        del raw
        self.n_features_in_ = len(_REQUIRED_COLUMNS)
        groups = X["document_id"].to_numpy()

        # Devices with a feature block of their own are fit apart (see _fit_device_blocks); -1
        # makes the shared fits skip them.
        shared_targets = self._without_device_blocks(fit_targets)
        oof = self._out_of_fold(matrix, shared_targets, groups)
        device_models = self._fit_device_blocks(X, matrix, fit_targets, groups, oof)
        if oof is not None:
            oof[~eligible] = 0.0
        self.thresholds_ = {}
        for column, label in enumerate(self.labels_):
            annotated = targets[:, column] >= 0
            if oof is None or (targets[:, column] == 1).sum() < self.min_positive:
                self.thresholds_[label] = 0.5
            else:
                self.thresholds_[label] = best_threshold(
                    targets[annotated, column], oof[annotated, column]
                )
        if self.threshold_objective == "micro" and oof is not None:
            self._tune_micro(targets, oof, complete)
        self.oof_proba_ = oof

        models = self._fit_all(matrix, shared_targets, self.tol)
        self.coef_, self.intercept_ = _stack_linear(models, matrix.shape[1])
        self._attach_device_models(device_models, matrix.shape[1])
        # the same functions of the raw features, which scoring reads
        self.intercept_ -= shift @ self.coef_.astype(np.float64)
        return self

    def _tune_micro(self, targets: np.ndarray, oof: np.ndarray, complete: np.ndarray) -> None:
        columns = [
            1 + j
            for j in range(len(self.devices))
            if complete[j] and (targets[:, 1 + j] == 1).sum() >= self.min_positive
        ]
        if len(columns) < 2:
            return
        start = np.array([self.thresholds_[self.labels_[c]] for c in columns])
        tuned = best_micro_thresholds(targets[:, columns], oof[:, columns], start)
        for column, value in zip(columns, tuned, strict=True):
            self.thresholds_[self.labels_[column]] = float(value)

    # -- per-device feature blocks -----------------------------------------------------------
    def _device_columns(self) -> dict[str, int]:
        """``{device: column in labels_}`` of the devices with a feature block of their own."""
        labels = [ANY_DEVICE, *self.devices]
        blocks = getattr(self, "device_features", None) or {}
        return {d: labels.index(d) for d in blocks if d in labels}

    def _without_device_blocks(self, targets: np.ndarray) -> np.ndarray:
        columns = list(self._device_columns().values())
        if not columns:
            return targets
        targets = targets.copy()
        targets[:, columns] = -1  # nothing to learn: a constant placeholder, replaced later
        return targets

    def _fit_device_blocks(self, X, matrix, targets, groups, oof) -> dict:
        """Fit each device with a block on ``[shared features | its block]``, over the rows it
        is fit on (annotated and allowed by its gate); fill its out-of-fold column in ``oof``."""
        self.device_blocks_ = {}
        models = {}
        columns = self._device_columns()
        if not columns:
            return models
        from sklearn.model_selection import GroupKFold

        # the device blocks read the text the shared features read (names masked, if they are)
        framed = add_neighbour_columns(self._feature_input(X))
        for device, column in columns.items():
            rows = np.flatnonzero(targets[:, column] >= 0)
            block = clone(self.device_features[device]).fit(framed.iloc[rows])
            self.device_blocks_[device] = block
            combined = sparse.hstack([matrix[rows], block.transform(framed.iloc[rows])]).tocsr()
            target = targets[rows, column]
            if oof is not None:
                oof[:, column] = 0.0
                folds = min(self.threshold_folds, len(np.unique(groups[rows])))
                for train, test in GroupKFold(n_splits=folds).split(rows, groups=groups[rows]):
                    model = _fit_logistic(
                        combined[train], target[train], self.C, self.class_weight,
                        self.random_state, self._threshold_tol(),
                    )  # fmt: skip
                    oof[rows[test], column] = _predict_one(model, combined[test])
            models[column] = _fit_logistic(
                combined, target, self.C, self.class_weight, self.random_state, self.tol
            )
        return models

    def _attach_device_models(self, models: dict, n_shared: int) -> None:
        """Shared-feature weights go to ``coef_`` (so evidence reads them as for any device), the
        block's weights to ``device_coef_``."""
        self.device_coef_ = {}
        for device, column in self._device_columns().items():
            model = models[column]
            width = self.device_blocks_[device].transform(_empty_frame()).shape[1]
            if isinstance(model, float):
                weights, intercept = np.zeros(n_shared + width), _logit(model)
            else:
                weights, intercept = model.coef_.ravel(), model.intercept_[0]
            self.coef_[:, column] = weights[:n_shared]
            self.intercept_[column] = intercept
            self.device_coef_[device] = weights[n_shared:].astype(np.float64)

    def _device_logits(
        self, X: pd.DataFrame, logits: np.ndarray, eligible=None, parts: dict | None = None
    ) -> None:
        """Add each device block's contribution, computed on the rows its gate allows only
        (and, with ``parts``, keep it there as ``{device: (rows, contributions)}``)."""
        blocks = getattr(self, "device_blocks_", None) or {}
        if not blocks:
            return
        if eligible is None:
            eligible = self._eligible(X)
        framed = neighbours = None
        for device, column in self._device_columns().items():
            rows = np.flatnonzero(eligible[:, column])
            if not len(rows):
                continue
            block = blocks[device]
            from_lists = getattr(block, "transform_texts", None)
            from_columns = getattr(block, "transform_columns", None)
            if isinstance(X, SentenceColumns) and from_columns is not None:
                # a block that reads whole documents (and the word tokens they share)
                matrix = from_columns(X)[rows]
            elif isinstance(X, SentenceColumns) and from_lists is not None:
                # the scorer's lists: no frame to build for a few dozen sentences
                if neighbours is None:
                    neighbours = neighbour_lists(X.text, X.document_id)
                matrix = from_lists(
                    [X.text[i] for i in rows],
                    [neighbours[0][i] for i in rows],
                    [neighbours[1][i] for i in rows],
                )
            else:
                if framed is None:
                    frame = X.to_frame() if isinstance(X, SentenceColumns) else X
                    framed = add_neighbour_columns(frame)
                matrix = block.transform(framed.iloc[rows])
            contribution = np.asarray(matrix @ self.device_coef_[device]).ravel()
            logits[rows, column] += contribution
            if parts is not None:
                parts[device] = (rows, contribution)

    def _feature_input(self, X):
        """What the feature blocks read: ``X`` itself, or ``X`` with named entities masked when
        the fitted features mask them (:class:`proplens.features.MaskedFeatureUnion`). Models
        fitted without masking (a plain FeatureUnion) read ``X`` unchanged."""
        mask_input = getattr(self.features_, "mask_input", None)
        return X if mask_input is None else mask_input(X)

    def _eligible(self, X: pd.DataFrame) -> np.ndarray:
        """``(n, 1 + k)`` booleans: may label j occur in sentence i at all (see ``gates``)?"""
        labels = [ANY_DEVICE, *self.devices]
        eligible = np.ones((len(X), len(labels)), dtype=bool)
        for device, pattern in (self.gates or {}).items():
            if device in labels:
                column = labels.index(device)
                if pattern == pattern.lower() and isinstance(X, SentenceColumns):
                    # A pattern without capitals matches case-insensitively exactly where it
                    # matches the lower-cased text, which the word features have lower-cased
                    # already; a case-sensitive search is 2-3x faster than re.IGNORECASE.
                    texts, chunk_matches = X.lowered(), _chunk_gate(pattern)
                    if chunk_matches is not None:
                        # a pattern that keeps to whitespace chunks matches a text where it
                        # matches one of its chunks; chunks recur from sentence to sentence,
                        # and a cached chunk costs a fraction of a search (half the time in all)
                        eligible[:, column] = [
                            any(map(chunk_matches, text.split())) for text in texts
                        ]
                        continue
                    search = _lower_gate_regex(pattern).search
                else:
                    texts = X.text if isinstance(X, SentenceColumns) else X["text"].tolist()
                    search = _gate_regex(pattern).search
                eligible[:, column] = [search(text) is not None for text in texts]
        return eligible

    def _fit_all(self, matrix, targets, tol: float):
        matrix.sort_indices()
        # Processes, not threads: scikit-learn's liblinear draws its coordinate order from one
        # random generator per process (sklearn.svm._newrand), so fits in threads of one process
        # reseed and consume each other's draws and the result depends on scheduling (grouped-CV
        # sentence F1 varied by 0.003 between identical runs). joblib memory-maps the matrix.
        return Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_logistic)(
                matrix, targets[:, c], self.C, self.class_weight, self.random_state, tol
            )
            for c in range(targets.shape[1])
        )

    def _threshold_tol(self) -> float:
        # The inner fits only place thresholds: a 30x looser tolerance moves their probabilities
        # by under 0.02 and takes half the time; grouped-CV figures stayed within their noise
        # (sentence F1 0.5845 -> 0.5846, 14-device micro-F1 0.3376 -> 0.3373).
        return THRESHOLD_TOL_FACTOR * self.tol

    def _out_of_fold(self, matrix, targets, groups) -> np.ndarray | None:
        from sklearn.model_selection import GroupKFold

        n_groups = len(np.unique(groups))
        folds = min(self.threshold_folds, n_groups)
        if folds < 2:
            return None
        oof = np.zeros(targets.shape, dtype=float)
        for train, test in GroupKFold(n_splits=folds).split(matrix, groups=groups):
            models = self._fit_all(matrix[train], targets[train], self._threshold_tol())
            coef, intercept = _stack_linear(models, matrix.shape[1])
            oof[test] = _sigmoid(np.asarray(matrix[test] @ coef) + intercept)
        return oof

    # -- prediction --------------------------------------------------------------------------
    def transform_features(self, X: pd.DataFrame) -> sparse.csr_matrix:
        check_is_fitted(self, "coef_")
        return self.features_.transform(_check_frame(X)).tocsr()

    def block_features(self, X: pd.DataFrame, block: str = "words") -> sparse.csr_matrix:
        """One block of the features (weighted as in the union); its columns start at
        ``block_slices_[block].start`` of the full matrix. The evidence mapper reads ``"words"``."""
        return self.block_matrices(X, [block])[block]

    def block_matrices(self, X, names) -> dict[str, sparse.csr_matrix]:
        """:meth:`block_features` of several blocks (those of ``names`` the features have),
        reading the input once (names are masked once for all of them)."""
        check_is_fitted(self, "coef_")
        present = dict(_blocks(self.features_))
        features_input = self._feature_input(_check_input(X))
        return {n: self._block_matrix(features_input, n) for n in names if n in present}

    def _weighted(self, matrix, block: str):
        """``matrix`` times ``block``'s weight in the feature union, as the union weights it."""
        weight = (getattr(self.features_, "transformer_weights", None) or {}).get(block, 1.0)
        return matrix * weight if weight != 1.0 else matrix

    def _block_matrix(self, X, block: str) -> sparse.csr_matrix:
        """``block_features`` of input already passed through :meth:`_feature_input`."""
        transformer = dict(_blocks(self.features_))[block]
        if isinstance(X, SentenceColumns):
            matrix = transform_block(transformer, X).tocsr()
        else:
            matrix = transformer.transform(X).tocsr()
        return self._weighted(matrix, block)

    def _blockwise_logits(self, X, blocks: dict | None = None) -> np.ndarray:
        # Multiplying each block by its slice of the weights avoids stacking the blocks into one
        # matrix, which costs more than the products themselves. ``blocks`` passes blocks the
        # caller already computed (the scorer keeps "words" for evidence). ``X`` has been through
        # _feature_input (masked once for all blocks).
        check_is_fitted(self, "coef_")
        blocks = blocks or {}
        logits = np.zeros((len(X), self.coef_.shape[1]), dtype=np.float64)
        for name, transformer in _blocks(self.features_):
            coef = self.coef_[self.block_slices_[name]]
            grouped = getattr(transformer, "transform_grouped", None)
            if name not in blocks and grouped is not None:
                # a block whose rows repeat (one per document): each distinct row is multiplied
                # once and its logits given to the sentences that share it; row by row the same
                # arithmetic as the repeated matrix, so the same logits to the last bit
                columns = X if isinstance(X, SentenceColumns) else SentenceColumns.from_frame(X)
                matrix, row_of = grouped(columns)
                logits += np.asarray(self._weighted(matrix, name) @ coef)[row_of]
                continue
            block = blocks[name] if name in blocks else self._block_matrix(X, name)
            logits += block @ coef
        return logits + self.intercept_

    def decision_function(
        self, X: pd.DataFrame, matrix=None, blocks=None, device_parts: dict | None = None
    ) -> np.ndarray:
        """Log-odds for every label in :attr:`labels_` (any-device first).

        ``matrix`` may pass features already computed by :meth:`transform_features`, ``blocks``
        some blocks already computed by :meth:`block_features` (``{name: matrix}``). A dict
        passed as ``device_parts`` receives each device block's share of the log-odds,
        ``{device: (rows, contributions)}`` (the evidence of those devices reads it).
        """
        check_is_fitted(self, "coef_")
        X = _check_input(X)
        features_input = self._feature_input(X)
        if matrix is None:
            logits = self._blockwise_logits(features_input, blocks)
        else:
            logits = np.asarray(matrix @ self.coef_) + self.intercept_
        # the gates' regexes cost more than some feature blocks: match them once. Gates read the
        # text as written (a quantity is a quantity, whatever the names around it).
        eligible = self._eligible(X) if self.gates else None
        self._device_logits(features_input, logits, eligible, device_parts)
        if eligible is not None:
            logits[~eligible] = -np.inf
        return logits

    def predict_all_proba(
        self, X: pd.DataFrame, matrix=None, blocks=None, device_parts: dict | None = None
    ) -> np.ndarray:
        """Probabilities ``(n, 1 + k)``: column 0 is any-device, then one column per device."""
        with np.errstate(over="ignore"):
            return _sigmoid(self.decision_function(X, matrix, blocks, device_parts))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Per-device probabilities ``(n, k)`` in the order of ``devices``."""
        return self.predict_all_proba(X)[:, 1:]

    def predict_propaganda_proba(self, X: pd.DataFrame) -> np.ndarray:
        """The any-device (sentence-level propaganda) probability ``(n,)``."""
        return self.predict_all_proba(X)[:, 0]

    def threshold_vector(self, threshold=None) -> np.ndarray:
        """Thresholds for ``labels_``: tuned ones, or a global float, or per-label overrides."""
        check_is_fitted(self, "thresholds_")
        values = np.array([self.thresholds_[label] for label in self.labels_])
        if threshold is None:
            return values
        if isinstance(threshold, dict):
            unknown = sorted(set(threshold) - set(self.labels_))
            if unknown:
                raise ValidationError(f"threshold for unknown device(s): {', '.join(unknown)}")
            return np.array(
                [threshold.get(label, t) for label, t in zip(self.labels_, values, strict=True)]
            )
        value = float(threshold)
        if not 0.0 <= value <= 1.0:
            raise ValidationError(f"threshold must lie in [0, 1], got {value}")
        return np.full(len(self.labels_), value)

    def predict(self, X: pd.DataFrame, threshold=None) -> np.ndarray:
        """Indicator matrix ``(n, k)`` of devices whose probability reaches their threshold."""
        proba = self.predict_all_proba(X)
        return (proba >= self.threshold_vector(threshold))[:, 1:].astype(np.int8)

    def predict_propaganda(self, X: pd.DataFrame, threshold=None) -> np.ndarray:
        proba = self.predict_all_proba(X)
        return (proba[:, 0] >= self.threshold_vector(threshold)[0]).astype(np.int8)


#: the columns a span frame needs (:func:`proplens.evaluation.span_frame` makes them)
SPAN_COLUMNS = ("span", "sentence", "document", "start", "end")


class SpanClassifier(ClassifierMixin, BaseEstimator):
    """Classify a labeled span into one device (SemEval-2020 Task 11, technique classification).

    ``X`` is a DataFrame with columns ``span`` (the span's text), ``sentence`` (the sentence or
    line around it), ``document`` (the whole document, for repetition counts) and ``start`` and
    ``end``, the span's offsets in the document (for the words around it).
    """

    def __init__(self, features=None, C: float = 8.0, class_weight=None, random_state: int = 0):
        self.features = features
        self.C = C
        self.class_weight = class_weight
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y):
        missing = [c for c in SPAN_COLUMNS if c not in X.columns]
        if missing:
            raise ValidationError(f"span frame lacks column(s): {', '.join(missing)}")
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier

        self.features_ = clone(self.features or make_span_features())
        matrix = sparse.csr_matrix(self.features_.fit_transform(X))
        # dense blocks centred for the solver, as in DeviceClassifier.fit (see _centred): with
        # the word-vector blocks, the TC cross-validation took 38 s uncentred and takes 34 s
        matrix, shift = _centred(matrix, _block_slices(self.features_, X))
        # One-vs-rest liblinear fits in seconds where a multinomial lbfgs fit on the same
        # features takes minutes, at the same accuracy on PTC.
        self.model_ = OneVsRestClassifier(
            LogisticRegression(
                C=self.C,
                solver="liblinear",
                class_weight=self.class_weight,
                random_state=self.random_state,
            )
        ).fit(matrix, np.asarray(y))
        for estimator in self.model_.estimators_ if shift.any() else ():
            # the same function of the raw features: scoring reads them uncentred (a class
            # present in every row or none has a constant predictor, without weights)
            if hasattr(estimator, "coef_"):
                estimator.intercept_ = estimator.intercept_ - shift @ estimator.coef_.ravel()
        self.classes_ = self.model_.classes_
        self.n_features_in_ = 3
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(self.features_.transform(X))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
