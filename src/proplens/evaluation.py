"""Honest evaluation: cross-validation grouped by article, and the metrics proplens reports.

Every supervised step (classifier weights, decision thresholds) is fit inside each training fold:
:class:`proplens.model.DeviceClassifier` tunes its thresholds on an inner grouped split of the
training fold only. An article's sentences never straddle folds. With ``group_by="story"``,
articles that share much of their text (:mod:`proplens.stories`) never straddle folds either.

:func:`evaluate_model` measures a saved model on labels of one's own instead: nothing is fitted,
and labels the model was trained on are refused.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, precision_recall_fscore_support
from sklearn.model_selection import GroupKFold

from proplens.errors import ProplensError, ValidationError
from proplens.features import span_line
from proplens.labels import to_indicator
from proplens.model import DeviceClassifier, SpanClassifier
from proplens.stories import related_articles, story_groups

if TYPE_CHECKING:
    from proplens.labeling import LabelSet
    from proplens.scoring import Model
    from proplens.taxonomy import Taxonomy

__all__ = [
    "GROUPINGS",
    "EvaluationReport",
    "ModelEvaluation",
    "check_fold_count",
    "check_grouping",
    "cross_validate_sentences",
    "cross_validate_spans",
    "evaluate_model",
    "evaluate_model_on_split",
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


# --------------------------------------------------------------------------------------------
# A saved model on labels of one's own


#: How ``proplens train`` names the base corpus among a model card's training sources.
BASE_CORPUS_SOURCE = "PTC SemEval-2020 Task 11 train"

#: ``release`` of the rows :func:`evaluate_model` adds around labeled sentences as context.
CONTEXT_RELEASE = "context"


@dataclass
class ModelEvaluation:
    """How a saved model does on labeled sentences (:func:`evaluate_model`).

    ``per_device`` has one row per device the model knows and the labels annotate (index
    ``device``; columns ``precision``, ``recall``, ``f1``, ``support`` (positive sentences) and
    ``annotated`` (sentences judged for the device)), each computed over the sentences annotated
    for that device only. The ``micro_*`` figures pool those (sentence, device) pairs. The
    ``sentence_*`` figures (the any-device label) count only the sentences annotated for every
    device the any-device probability stands for; they are None when there is none, and
    ``sentence_note`` says why. ``predictions`` holds one row per labeled sentence: its place,
    text, gold ``devices`` and ``annotated`` devices, the model's probabilities (``propaganda``
    and one column per model device) and the devices ``predicted`` at the model's thresholds.
    """

    model: dict
    per_device: pd.DataFrame
    micro_precision: float
    micro_recall: float
    micro_f1: float
    sentences: int
    documents: int
    annotated_pairs: int
    unknown_devices: list[str] = field(default_factory=list)
    sentence_f1: float | None = None
    sentence_precision: float | None = None
    sentence_recall: float | None = None
    sentence_ece: float | None = None
    any_device_sentences: int = 0
    sentence_note: str | None = None
    sources: list[dict] = field(default_factory=list)
    predictions: pd.DataFrame | None = None
    macro_f1: float | None = None  # with every device judged on every sentence (a split)
    tc_micro_f1: float | None = None  # technique classification of the split's gold spans

    def to_dict(self) -> dict:
        """The figures as ``proplens evaluate --model --out`` writes them to metrics.json."""
        out: dict = {
            "evaluated": f"{self.model['name']}@{self.model['version']} on labeled sentences "
            "(no cross-validation)",
            "model": dict(self.model),
            "labels": [
                {"name": s.get("name", ""), "fingerprint": s.get("fingerprint", "")}
                for s in self.sources
            ],
            "sentences": self.sentences,
            "documents": self.documents,
            "annotated_pairs": self.annotated_pairs,
            "micro_precision": round(self.micro_precision, 4),
            "micro_recall": round(self.micro_recall, 4),
            "micro_f1": round(self.micro_f1, 4),
            "any_device_sentences": self.any_device_sentences,
        }
        if self.sentence_f1 is not None:
            for key in ("sentence_f1", "sentence_precision", "sentence_recall", "sentence_ece"):
                out[key] = round(float(getattr(self, key)), 4)
        else:
            out["sentence_note"] = self.sentence_note
        for key in ("macro_f1", "tc_micro_f1"):
            if getattr(self, key) is not None:
                out[key] = round(float(getattr(self, key)), 4)
        out["unknown_devices"] = list(self.unknown_devices)
        out["per_device"] = {
            device: {
                k: (round(float(v), 4) if k in ("precision", "recall", "f1") else int(v))
                for k, v in row.items()
            }
            for device, row in self.per_device.iterrows()
        }
        return out


def evaluate_model(
    model: Model,
    labels: LabelSet | Sequence[str | os.PathLike] | str | os.PathLike,
    *,
    corpus_dir: str | os.PathLike | None = None,
    taxonomy: Taxonomy | None = None,
) -> ModelEvaluation:
    """Score labeled sentences with a saved model and compare its labels with yours.

    ``model`` is a loaded :class:`proplens.Model`; ``labels`` are label files (any format
    ``proplens train --labels`` reads) or a :class:`~proplens.labeling.LabelSet`, validated as
    training validates them (a :class:`ValidationError` names each problem's file and line).
    ``corpus_dir`` is the folder stand-off labels point into. The sentence table is the one
    training builds from the labels (:func:`proplens.training.load_training_data` without the
    base corpus); a labeled sentence whose document is found (stand-off labels, rows with
    offsets) is scored within its whole document, as ``proplens score`` would score it. The
    model's own thresholds decide its labels (no fallback label: as its cross-validation counts
    them). No model is fitted.

    Refused with a one-line :class:`ValidationError`, since the figures would be inflated: a
    label file with the sha256 of a label file the model's card lists among its training sources
    (whatever its name or folder), and labels on sentences the model was trained on for those
    devices: for a model whose card lists the base corpus, sentences of the SemEval-2020 training
    articles judged for a SemEval-2020 device (or for the device of a project label file the card
    lists). A model without a card (not saved) is not checked.
    """
    from proplens.labeling import LabelSet, validate_labels
    from proplens.taxonomy import load_taxonomy
    from proplens.training import load_training_data

    taxonomy = taxonomy or load_taxonomy()
    paths: list[Path] = []
    if isinstance(labels, str | os.PathLike):
        labels = [labels]
    if not isinstance(labels, LabelSet):
        paths = [Path(p) for p in labels]
        # before the files are parsed: a training file is refused as such, whatever else it holds
        for path in paths:
            _refuse_training_file(model, path, _file_fingerprints(path, taxonomy))
        report = validate_labels(paths, taxonomy=taxonomy, corpus_dir=corpus_dir)
        labels = report.raise_for_problems("the labels, nothing was evaluated")
    for source in labels.sources:
        name = str(source.get("name", "?"))
        _refuse_training_file(model, name, {source.get("fingerprint")} - {None, ""})
    _refuse_trained_sentences(model, labels.frame, taxonomy)
    data = load_training_data(base=False, labels=labels, taxonomy=taxonomy)
    folders = {p.name: p.parent for p in paths}
    beside = {
        str(document): folders[source]
        for document, source in zip(
            labels.frame["document_id"], labels.frame["source"], strict=True
        )
        if source in folders
    }
    table = _with_document_context(data.sentences, data.devices, beside, corpus_dir)
    data = replace(data, sentences=table)
    return _score_labels(model, data, labels.sources)


def evaluate_model_on_split(
    model: Model,
    split: str = "dev",
    *,
    data_dir: str | os.PathLike | None = None,
    taxonomy: Taxonomy | None = None,
) -> ModelEvaluation:
    """A saved model on a labeled SemEval-2020 split other than train: ``dev``, for those who
    have its gold (the official archive has it; this project's copy holds it back).

    Every sentence is judged for the 14 SemEval-2020 devices, so the figures are those the
    cross-validation reports, on articles no model of the project was trained on: sentence-level
    any-device F1, micro- and macro-F1 over the devices, and TC micro-F1 of the model's span
    classifier on the split's gold spans. The train split is refused (the model learned from it;
    ``proplens evaluate`` cross-validates it), and so is test (its gold is not public).
    """
    from proplens.artifacts import fingerprint_frame
    from proplens.corpus import read_semeval2020
    from proplens.taxonomy import load_taxonomy
    from proplens.training import TrainingData

    if split == "train":
        raise ValidationError(
            "split 'train': the shipped models learned from these articles, so their figures "
            "there would be inflated; `proplens evaluate` cross-validates them instead"
        )
    if split == "test":
        raise ValidationError("split 'test': the SemEval-2020 test gold is not public")
    taxonomy = taxonomy or load_taxonomy()
    corpus = read_semeval2020(data_dir, split=split, dedupe=True, taxonomy=taxonomy)
    table = corpus.sentence_table()
    table["unannotated"] = [[] for _ in range(len(table))]
    devices = [d.name for d in taxonomy.devices if d.origin == "semeval2020"]
    source = {
        "name": f"PTC SemEval-2020 Task 11 {split}",
        "fingerprint": fingerprint_frame(corpus.spans),
        "documents": len(corpus.documents),
        "sentences": len(table),
    }
    spans = span_frame(corpus.documents, corpus.spans)
    data = TrainingData(table, spans, devices, [source])
    result = _score_labels(model, data, [source])
    result.macro_f1 = float(result.per_device["f1"].mean())
    if model.span_model is not None and len(spans):
        result.tc_micro_f1 = span_scores(
            spans["device"].to_numpy(), model.span_model.predict(spans)
        )[0]
    return result


def _file_fingerprints(path: Path, taxonomy) -> set[str]:
    """What a model card may record for a label file: its sha256, and, for a project stand-off
    file (``datasets/labels/<device>.tsv``), the fingerprint of its rows."""
    from proplens.artifacts import file_sha256, fingerprint_frame
    from proplens.training import read_standoff_labels

    if not path.is_file():
        return set()  # validation says what is wrong with it
    try:
        found = {file_sha256(path)}
    except OSError:
        return set()
    if path.suffix.lower() == ".tsv":
        with contextlib.suppress(ProplensError, ValueError, KeyError, OSError):
            found.add(fingerprint_frame(read_standoff_labels(path, taxonomy).frame))
    return found


def _training_sources(model) -> list[dict]:
    training_data = getattr(getattr(model, "metadata", None), "training_data", None) or {}
    sources = training_data.get("sources") if isinstance(training_data, dict) else None
    return [s for s in sources or [] if isinstance(s, dict)]


def _model_ref(model) -> str:
    return f"{model.name}@{model.version}"


def _refuse_training_file(model, where, fingerprints: set) -> None:
    """Raise when one of ``fingerprints`` is that of a training source on the model's card."""
    for source in _training_sources(model):
        if source.get("fingerprint") and source.get("fingerprint") in fingerprints:
            raise ValidationError(
                f"{where}: this label file trained {_model_ref(model)} (same sha256 as its "
                f"training source {source.get('name', '?')!r}), so its figures on it would be "
                "inflated; evaluate on labels the model was not trained on"
            )


def _refuse_trained_sentences(model, frame: pd.DataFrame, taxonomy) -> None:
    """Raise when labels judge a sentence of the SemEval-2020 training articles for a device the
    model was trained on for that very sentence: a SemEval-2020 device when the model's card
    lists the base corpus, or a device of one of the project's stand-off label files the card
    lists (``datasets/labels/<device>.tsv``, found in the checkout with the fingerprint the card
    records). A sentence is one of those articles when the article, read from the data folder,
    has the label's text at the label's offsets; without the data folder nothing is compared.
    Sentences of those articles labeled for other devices (a device of one's own, or
    Unverified_Figures sentences no label file of the model holds) are not refused."""
    from proplens.labeling import default_corpus_folder

    sources = _training_sources(model)
    base = any(str(s.get("name", "")).startswith(BASE_CORPUS_SOURCE) for s in sources)
    base_devices = (
        {d.name for d in taxonomy.devices if d.origin == "semeval2020"} if base else set()
    )
    rows = frame[frame["in_corpus"]]
    if not len(rows):
        return
    trained = _project_label_sentences(sources, taxonomy)
    if not base_devices and not trained:
        return
    folder = default_corpus_folder()
    articles: dict[str, str | None] = {}
    found = []
    for row in rows.itertuples(index=False):
        key = str(row.document_id)
        devices = set(row.annotated) & (
            base_devices | trained.get((key, row.start, row.end), set())
        )
        if not devices:
            continue
        if key not in articles:
            path = folder / f"article{key}.txt"
            try:
                articles[key] = path.read_bytes().decode("utf-8") if path.is_file() else None
            except (OSError, UnicodeDecodeError):
                articles[key] = None
        text = articles[key]
        if text is not None and text[row.start : row.end] == row.text:
            found.append((row, sorted(devices)))
    if found:
        first, devices = found[0]
        raise ValidationError(
            f"{len(found)} labeled sentence(s) of the SemEval-2020 training articles trained "
            f"{_model_ref(model)} for devices they are labeled for (first: {first.source}:"
            f"{first.line}, article {first.document_id}, {', '.join(devices)}), so its figures "
            "on them would be inflated; evaluate on other sentences"
        )


def _project_label_sentences(sources: list[dict], taxonomy) -> dict[tuple, set[str]]:
    """``{(document_id, start, end): devices}`` of the project's stand-off label files that a
    model's card lists as training sources and whose rows still have the recorded fingerprint."""
    from proplens.artifacts import fingerprint_frame
    from proplens.training import default_label_files, read_standoff_labels

    prefix = "proplens stand-off labels "
    wanted = {
        str(s.get("name"))[len(prefix) :]: s.get("fingerprint")
        for s in sources
        if str(s.get("name", "")).startswith(prefix)
    }
    sentences: dict[tuple, set[str]] = {}
    for path in default_label_files() if wanted else []:
        if path.name not in wanted:
            continue
        try:
            labels = read_standoff_labels(path, taxonomy).frame
        except (ProplensError, ValueError):
            continue
        if fingerprint_frame(labels) != wanted[path.name]:
            continue  # not the file this model was trained on
        for row in labels.itertuples(index=False):
            key = (str(row.document_id), int(row.start), int(row.end))
            sentences.setdefault(key, set()).add(row.device)
    return sentences


def _with_document_context(
    table: pd.DataFrame,
    devices: Sequence[str],
    beside: Mapping[str, Path],
    corpus_dir: str | os.PathLike | None,
) -> pd.DataFrame:
    """``table`` with the unlabeled sentences of each labeled document that is found (in the
    corpus folder, or in the folder of its label file, ``beside[document_id]``) added as
    context, unannotated for every device.

    A document's rows must be sentences of the document as the label readers split it (the same
    offsets, text and order); otherwise the id names some other file and nothing is added.
    """
    from proplens.labeling import _Documents, default_corpus_folder

    folder = Path(corpus_dir) if corpus_dir is not None else default_corpus_folder()
    documents = _Documents(folder if folder.is_dir() else None, given=corpus_dir is not None)
    added = []
    for document_id, rows in table.groupby("document_id", sort=False):
        key = str(document_id)
        relative_to = beside.get(key, documents.folder)
        if relative_to is None:
            continue
        try:
            found = documents.get(key, relative_to)
        except ProplensError:
            continue  # a file by that name that is not UTF-8: not the labels' document
        if found is None:
            continue
        text = found[0]
        bounds = documents.bounds(key)
        labeled = set()
        for index, start, end, sentence in rows[
            ["sentence_index", "start", "end", "text"]
        ].itertuples(index=False):
            if not (0 <= index < len(bounds) and bounds[index] == (start, end)):
                break
            if text[start:end] != sentence:
                break
            labeled.add(index)
        else:
            for index, (start, end) in enumerate(bounds):
                if index not in labeled:
                    added.append(
                        (document_id, index, start, end, text[start:end], [], CONTEXT_RELEASE,
                         sorted(devices))
                    )  # fmt: skip
    if not added:
        return table
    columns = [
        "document_id", "sentence_index", "start", "end", "text", "devices", "release",
        "unannotated",
    ]  # fmt: skip
    context = pd.DataFrame(added, columns=columns)
    table = pd.concat([table, context], ignore_index=True)
    table = table.astype({"sentence_index": np.int64, "start": np.int64, "end": np.int64})
    table = table.sort_values(["document_id", "sentence_index"], kind="stable")
    return table.reset_index(drop=True)


def _score_labels(model, data, sources: list[dict]) -> ModelEvaluation:
    """The figures of :func:`evaluate_model` for a sentence table with its context rows."""
    from proplens.features import SentenceColumns

    table = data.sentences
    labeled = (table["release"] != CONTEXT_RELEASE).to_numpy()
    Y = data.indicator()[labeled]
    known = [d for d in model.devices if d in data.devices]
    unknown = [d for d in data.devices if d not in model.devices]
    if not known:
        raise ValidationError(
            f"{_model_ref(model)} knows none of the devices the labels annotate "
            f"({', '.join(unknown)}); it knows {', '.join(model.devices)}"
        )
    classifier = model.sentence_model
    # what Model.score_many hands the classifier: the sentences' texts by document, in order
    columns = SentenceColumns(
        table["text"].tolist(),
        [str(d) for d in table["document_id"]],
        table["sentence_index"].tolist(),
    )
    proba = classifier.predict_all_proba(columns)[labeled]
    predicted = proba >= classifier.threshold_vector()
    position = {label: i for i, label in enumerate(classifier.labels_)}
    rows, pooled_truth, pooled_guess = [], [], []
    for device in known:
        j = data.devices.index(device)
        judged = Y[:, j] >= 0
        truth = (Y[judged, j] == 1).astype(int)
        guess = predicted[judged, position[device]].astype(int)
        p, r, f, _ = precision_recall_fscore_support(
            truth, guess, average="binary", zero_division=0
        )
        rows.append((device, p, r, f, int(truth.sum()), int(judged.sum())))
        pooled_truth.append(truth)
        pooled_guess.append(guess)
    per_device = pd.DataFrame(
        rows, columns=["device", "precision", "recall", "f1", "support", "annotated"]
    ).set_index("device")
    micro = precision_recall_fscore_support(
        np.concatenate(pooled_truth), np.concatenate(pooled_guess), average="binary",
        zero_division=0,
    )  # fmt: skip
    scope = list(model.any_device_devices)
    never = [d for d in scope if d not in data.devices]
    full = np.zeros(len(Y), dtype=bool)
    if scope and not never:
        scope_columns = [data.devices.index(d) for d in scope]
        full = (Y[:, scope_columns] >= 0).all(axis=1)
    labeled_table = table[labeled].reset_index(drop=True)
    result = ModelEvaluation(
        model={"name": model.name, "version": model.version},
        per_device=per_device,
        micro_precision=float(micro[0]),
        micro_recall=float(micro[1]),
        micro_f1=float(micro[2]),
        sentences=int(labeled.sum()),
        documents=int(labeled_table["document_id"].nunique()),
        annotated_pairs=int(per_device["annotated"].sum()),
        unknown_devices=unknown,
        any_device_sentences=int(full.sum()),
        sources=list(sources),
    )
    if full.any():
        y_any = (Y[full][:, scope_columns] == 1).any(axis=1).astype(int)
        p, r, f, _ = precision_recall_fscore_support(
            y_any, predicted[full, 0].astype(int), average="binary", zero_division=0
        )
        result.sentence_precision, result.sentence_recall, result.sentence_f1 = p, r, f
        result.sentence_ece = expected_calibration_error(y_any, proba[full, 0])
    else:
        stands_for = f"the {len(scope)} devices the any-device probability stands for"
        if never and len(never) == len(scope):
            result.sentence_note = f"the labels annotate none of {stands_for}"
        elif never:
            named = ", ".join(never[:3]) + (f" and {len(never) - 3} more" if len(never) > 3 else "")
            result.sentence_note = (
                f"the labels never annotate {len(never)} of {stands_for} ({named})"
            )
        else:
            result.sentence_note = f"no labeled sentence is annotated for all {stands_for}"
    predictions = labeled_table[["document_id", "sentence_index", "start", "end", "text"]].copy()
    predictions["devices"] = labeled_table["devices"].tolist()
    predictions["annotated"] = [
        [d for d in data.devices if d not in set(missing)]
        for missing in labeled_table["unannotated"]
    ]
    probabilities = pd.DataFrame(proba, columns=["propaganda", *model.devices])
    predictions = pd.concat([predictions, probabilities], axis=1)
    predictions["predicted"] = [
        [d for d in model.devices if row[position[d]]] for row in predicted.tolist()
    ]
    result.predictions = predictions
    return result
