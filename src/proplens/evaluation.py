"""Honest evaluation: cross-validation grouped by article, and the metrics proplens reports.

Every supervised step (classifier weights, decision thresholds) is fit inside each training fold:
:class:`proplens.model.DeviceClassifier` tunes its thresholds on an inner grouped split of the
training fold only. An article's sentences never straddle folds. With ``group_by="story"``,
articles that share much of their text (:mod:`proplens.stories`) never straddle folds either.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, precision_recall_fscore_support
from sklearn.model_selection import GroupKFold

from proplens.errors import ValidationError
from proplens.features import span_line
from proplens.labels import to_indicator
from proplens.model import DeviceClassifier, SpanClassifier
from proplens.stories import related_articles, story_groups

__all__ = [
    "GROUPINGS",
    "EvaluationReport",
    "check_fold_count",
    "check_grouping",
    "cross_validate_sentences",
    "cross_validate_spans",
    "expected_calibration_error",
    "fold_groups",
    "label_metrics",
    "span_frame",
]

#: What a fold keeps whole: each article, or each story (related articles together).
GROUPINGS = ("article", "story")


def expected_calibration_error(y_true, proba, *, bins: int = 10) -> float:
    """ECE with equal-width bins: the average |accuracy - confidence| weighted by bin size.

    >>> round(expected_calibration_error([0, 1, 1, 0], [0.0, 1.0, 1.0, 0.0]), 3)
    0.0
    """
    y_true = np.asarray(y_true, dtype=float)
    proba = np.asarray(proba, dtype=float)
    # each of these used to give a number anyway (0.0 for no bins, 1.25 for p = 1.5)
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise ValidationError(f"bins must be a positive whole number, got {bins!r}")
    if y_true.ndim != 1 or proba.ndim != 1 or len(y_true) != len(proba):
        raise ValidationError(
            f"expected two 1-D arrays of one length, got shapes {y_true.shape} and {proba.shape}"
        )
    if not np.all((proba >= 0.0) & (proba <= 1.0)):
        raise ValidationError("probabilities must lie in [0, 1]")
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(proba, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(y_true[mask].mean() - proba[mask].mean())
    return float(total / max(len(proba), 1))


def label_metrics(Y_true: np.ndarray, Y_pred: np.ndarray, labels: Sequence[str]) -> pd.DataFrame:
    """Per-label precision, recall, F1 and support, plus ``micro`` and ``macro`` rows."""
    labels = list(labels)
    width = np.asarray(Y_true).shape[-1] if np.ndim(Y_true) == 2 else None
    if width != len(labels) or np.shape(Y_pred) != np.shape(Y_true):
        raise ValidationError(
            f"expected two (n, {len(labels)}) indicator matrices for {len(labels)} labels, got "
            f"shapes {np.shape(Y_true)} and {np.shape(Y_pred)}"
        )
    if {"micro", "macro"} & set(labels):  # their rows would be overwritten by the averages
        raise ValidationError("'micro' and 'macro' name the averaged rows, not labels")
    p, r, f, s = precision_recall_fscore_support(Y_true, Y_pred, average=None, zero_division=0)
    frame = pd.DataFrame(
        {"precision": p, "recall": r, "f1": f, "support": s}, index=pd.Index(labels, name="device")
    )
    for average in ("micro", "macro"):
        p, r, f, _ = precision_recall_fscore_support(
            Y_true, Y_pred, average=average, zero_division=0
        )
        frame.loc[average] = [p, r, f, int(np.asarray(Y_true).sum())]
    frame["support"] = frame["support"].astype(int)
    return frame


@dataclass
class EvaluationReport:
    """Cross-validated figures for one model configuration."""

    per_device: pd.DataFrame
    sentence_f1: float
    sentence_precision: float
    sentence_recall: float
    sentence_ece: float
    tc_micro_f1: float | None = None
    tc_per_device: pd.DataFrame | None = None
    folds: int = 5
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)
    grouped_by: str = "article"

    @property
    def micro_f1(self) -> float:
        return float(self.per_device.loc["micro", "f1"])

    @property
    def macro_f1(self) -> float:
        return float(self.per_device.loc["macro", "f1"])

    def to_dict(self) -> dict:
        devices = self.per_device.drop(index=["micro", "macro"])
        out = {
            "cv": f"{self.folds}-fold GroupKFold by {self.grouped_by}",
            "sentence_f1": round(self.sentence_f1, 4),
            "sentence_precision": round(self.sentence_precision, 4),
            "sentence_recall": round(self.sentence_recall, 4),
            "sentence_ece": round(self.sentence_ece, 4),
            "micro_f1": round(self.micro_f1, 4),
            "macro_f1": round(self.macro_f1, 4),
            "per_device": {
                name: {
                    k: (round(float(v), 4) if k != "support" else int(v)) for k, v in row.items()
                }
                for name, row in devices.iterrows()
            },
        }
        if self.tc_micro_f1 is not None:
            out["tc_micro_f1"] = round(self.tc_micro_f1, 4)
        out.update(self.extra)
        return out

    def summary_frame(self) -> pd.DataFrame:
        rows = [
            ("sentence-level any-device F1 (SLC)", self.sentence_f1),
            ("sentence-level precision", self.sentence_precision),
            ("sentence-level recall", self.sentence_recall),
            ("any-device ECE (10 bins)", self.sentence_ece),
            ("multi-label micro-F1", self.micro_f1),
            ("multi-label macro-F1", self.macro_f1),
        ]
        if self.tc_micro_f1 is not None:
            rows.append(("TC micro-F1 on gold spans", self.tc_micro_f1))
        return pd.DataFrame(rows, columns=["measure", "value"])


def _folds(groups: np.ndarray, n_splits: int, unit: str = "documents", documents=None):
    check_fold_count(n_splits, len(np.unique(groups)), unit, documents=documents)
    return list(GroupKFold(n_splits=n_splits).split(np.zeros(len(groups)), groups=groups))


def check_fold_count(
    n_splits: int, groups: int, unit: str = "documents", *, documents: int | None = None
) -> None:
    """Refuse more folds than ``groups`` (whole ``unit``: "documents" or "stories", of
    ``documents`` documents) in one line, not with scikit-learn's traceback."""
    if n_splits <= groups:
        return
    if groups < 2:
        why = ""
        if unit == "stories" and groups == 1 and (documents or 0) > 1:
            why = f": its {documents} documents share much of their text"
        raise ValidationError(f"cross-validation needs at least 2 {unit}, found {groups}{why}")
    raise ValidationError(
        f"{n_splits} folds for {groups} {unit}: use at most {groups} "
        f"(folds are groups of whole {unit})"
    )


def check_grouping(group_by: str, name: str = "group_by") -> None:
    """Refuse a ``group_by`` that is not one of :data:`GROUPINGS`, in one line naming the
    argument as ``name`` (the command line's ``--group-by``)."""
    if group_by not in GROUPINGS:
        raise ValidationError(f"{name} must be one of {', '.join(GROUPINGS)}, got {group_by!r}")


def fold_groups(document_ids, texts, group_by: str = "article") -> np.ndarray:
    """The CV group of each row: its document id, or its story (``group_by="story"``, see
    :func:`proplens.stories.story_groups`; ``texts`` are then the rows' texts, whose documents
    are compared)."""
    check_grouping(group_by)
    if group_by == "story":
        return story_groups(document_ids, texts)
    return np.asarray(document_ids)


def cross_validate_sentences(
    table: pd.DataFrame,
    devices: Sequence[str],
    *,
    make_estimator: Callable[[Sequence[str]], DeviceClassifier] | None = None,
    n_splits: int = 5,
    progress: Callable[[int], None] | None = None,
    group_by: str = "article",
) -> tuple[EvaluationReport, pd.DataFrame]:
    """Grouped k-fold CV of a :class:`DeviceClassifier` on a sentence table, folds grouped by
    article or, with ``group_by="story"``, by story (:func:`fold_groups`).

    Returns the report and the out-of-fold predictions (one row per sentence: ``propaganda``
    probability and one probability column per device, plus the thresholded labels: ``flagged``
    for any device, ``predicted`` the list of devices).
    """
    started = time.perf_counter()
    missing = [c for c in ("document_id", "text", "devices") if c not in table.columns]
    if missing:  # folds group by document_id: without it there is no honest split
        raise ValidationError(f"sentence table lacks column(s): {', '.join(missing)}")
    groups = fold_groups(table["document_id"].to_numpy(), table["text"], group_by)
    make_estimator = make_estimator or (lambda names: DeviceClassifier(devices=names))
    Y = to_indicator(table["devices"].tolist(), devices)
    y_any = Y.any(axis=1).astype(int)
    proba = np.zeros((len(table), len(devices) + 1))
    predicted = np.zeros((len(table), len(devices) + 1), dtype=np.int8)
    unit = "stories" if group_by == "story" else "documents"
    documents = table["document_id"].nunique()
    for fold, (train, test) in enumerate(_folds(groups, n_splits, unit, documents)):
        estimator = make_estimator(list(devices)).fit(table.iloc[train], Y[train])
        fold_proba = estimator.predict_all_proba(table.iloc[test])
        proba[test] = fold_proba
        predicted[test] = fold_proba >= estimator.threshold_vector()
        if progress:
            progress(fold + 1)
    per_device = label_metrics(Y, predicted[:, 1:], devices)
    p, r, f, _ = precision_recall_fscore_support(
        y_any, predicted[:, 0], average="binary", zero_division=0
    )
    report = EvaluationReport(
        per_device=per_device,
        sentence_f1=float(f),
        sentence_precision=float(p),
        sentence_recall=float(r),
        sentence_ece=expected_calibration_error(y_any, proba[:, 0]),
        folds=n_splits,
        seconds=time.perf_counter() - started,
        grouped_by=group_by,
    )
    oof = pd.DataFrame(proba, columns=["propaganda", *devices], index=table.index)
    oof["flagged"] = predicted[:, 0].astype(bool)
    oof["predicted"] = [
        [d for d, flag in zip(devices, row, strict=True) if flag] for row in predicted[:, 1:]
    ]
    return report, oof


def span_frame(documents: dict[str, str], spans: pd.DataFrame) -> pd.DataFrame:
    """The TC input for labeled spans: columns ``span``, ``sentence``, ``document``, ``device``,
    ``start`` and ``end`` (the span's offsets in the document).

    ``sentence`` is the line around the span (widened to whole lines when a span crosses lines).
    """
    rows = []
    for document_id, device, start, end in spans[
        ["document_id", "device", "start", "end"]
    ].itertuples(index=False):
        text = documents[document_id]
        rows.append(
            (document_id, text[start:end], span_line(text, start, end), text, device, start, end)
        )
    return pd.DataFrame(
        rows, columns=["document_id", "span", "sentence", "document", "device", "start", "end"]
    )


def cross_validate_spans(
    frame: pd.DataFrame,
    *,
    make_estimator: Callable[[], SpanClassifier] | None = None,
    n_splits: int = 5,
    group_by: str = "article",
) -> tuple[float, pd.DataFrame, np.ndarray]:
    """Grouped CV of technique classification on gold spans: micro-F1 (= accuracy), per device."""
    folds = span_folds(frame, n_splits, group_by)
    predicted = np.empty(len(frame), dtype=object)
    for train, test in folds:
        predicted[test] = fit_span_fold(frame, train, test, make_estimator)
    return span_scores(frame["device"].to_numpy(), predicted)


def span_folds(
    frame: pd.DataFrame,
    n_splits: int = 5,
    group_by: str = "article",
    *,
    stories: Mapping[str, str] | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (train, test) positions of :func:`cross_validate_spans`, grouped by document or, with
    ``group_by="story"``, by story (the documents' texts compared, see :func:`fold_groups`).

    ``stories`` maps each ``str(document_id)`` to its story when already known, as
    :func:`proplens.training.cross_validate` knows it from all its articles: stories found among
    the documents with spans alone can split two documents that a third, without spans, links.
    """
    check_grouping(group_by)
    ids = frame["document_id"].to_numpy()
    if group_by == "story":
        if stories is None:
            # one row per document with its whole text: the stories of the documents with spans
            first = frame.drop_duplicates("document_id")
            stories = related_articles(
                dict(zip(first["document_id"].astype(str), first["document"], strict=True))
            )
        groups = np.array([stories[str(d)] for d in ids], dtype=object)
        return _folds(groups, n_splits, "stories", len(set(ids.tolist())))
    return _folds(ids, n_splits)


def fit_span_fold(frame: pd.DataFrame, train, test, make_estimator=None) -> np.ndarray:
    """One fold of :func:`cross_validate_spans`: the devices predicted for the ``test`` rows."""
    estimator = (make_estimator or SpanClassifier)()
    estimator.fit(frame.iloc[train], frame["device"].to_numpy()[train])
    return estimator.predict(frame.iloc[test])


def span_scores(y: np.ndarray, predicted: np.ndarray) -> tuple[float, pd.DataFrame, np.ndarray]:
    """``(micro-F1, per-device table, predicted)`` of out-of-fold span predictions."""
    labels = sorted(set(y))
    p, r, f, s = precision_recall_fscore_support(
        y, predicted, labels=labels, average=None, zero_division=0
    )
    per_device = pd.DataFrame(
        {"precision": p, "recall": r, "f1": f, "support": s}, index=pd.Index(labels, name="device")
    )
    micro = float(f1_score(y, predicted, average="micro"))
    return micro, per_device, predicted
