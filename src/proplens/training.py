"""Training: data sources -> fitted model bundle -> a new, verified model version.

The default model is trained on the SemEval-2020 training articles (the other PTC releases hold
the same articles with older annotations, so adding them would double-count), plus the project's
own stand-off labels in ``datasets/labels/`` (e.g. ``Unverified_Figures``), which are sentence
labels for a subset of sentences: the device is learned from those sentences only.
"""

from __future__ import annotations

import logging
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.model_selection import GroupKFold

from proplens import config
from proplens.errors import DataError, ModelError, ValidationError
from proplens.evaluation import (
    check_fold_count,
    check_grouping,
    fit_span_fold,
    span_folds,
    span_frame,
    span_scores,
)
from proplens.features import add_neighbour_columns
from proplens.labeling import LabelSet, read_labels
from proplens.labels import to_indicator
from proplens.model import DeviceClassifier, SpanClassifier
from proplens.stories import stories_by_document
from proplens.taxonomy import Taxonomy, load_taxonomy

__all__ = [
    "BlockCV",
    "PromotionDecision",
    "StandoffLabels",
    "TrainingData",
    "TrainingResult",
    "annotation_blocks",
    "cross_validate",
    "cross_validate_block",
    "f1_drop_tolerance",
    "fit_bundle",
    "label_counts",
    "load_training_data",
    "promotion_decision",
    "read_standoff_labels",
    "train",
]

log = logging.getLogger(__name__)

STANDOFF_COLUMNS = ("document_id", "start", "end", "device", "label")


@dataclass
class StandoffLabels:
    """Sentence labels for one or more devices, by document id and character offsets."""

    frame: pd.DataFrame  # document_id, start, end, device, label (1 present / 0 absent)
    source: str

    @property
    def devices(self) -> list[str]:
        return sorted(self.frame["device"].unique())


def read_standoff_labels(path: Path | str, taxonomy: Taxonomy | None = None) -> StandoffLabels:
    """Read a tab-separated stand-off label file (``datasets/labels/README.md``)."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, sep="\t", dtype={"document_id": str}, keep_default_na=False)
    except FileNotFoundError:
        raise DataError(f"label file not found: {path}") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot parse as tab-separated values ({exc})") from None
    missing = [c for c in STANDOFF_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    taxonomy = taxonomy or load_taxonomy()
    for line, row in enumerate(frame.itertuples(index=False), start=2):
        if row.device not in taxonomy:
            raise DataError(f"{path}:{line}: unknown device {row.device!r}")
        if str(row.label) not in ("0", "1"):
            raise DataError(f"{path}:{line}: label must be 0 or 1, got {row.label!r}")
    frame = frame.astype({"start": int, "end": int, "label": int})
    return StandoffLabels(frame[list(STANDOFF_COLUMNS)].copy(), str(path))


def default_label_files() -> list[Path]:
    """The project's own label files shipped in ``datasets/labels/`` (first-pass files only).

    A label file is ``<device>.tsv``; its companions carry a second suffix
    (``<device>.second_pass.tsv``, ``<device>.relabel-<date>.tsv``) and are not training labels.
    """
    root = config.checkout_root()
    if root is None:
        return []
    return sorted(p for p in (root / "datasets" / "labels").glob("*.tsv") if "." not in p.stem)


def source_commit() -> dict[str, object]:
    """The git commit of the checkout proplens runs from, for the model's metadata.

    ``{"source_commit": sha, "source_modified": bool}``, where ``source_modified`` says whether
    the checkout differed from that commit (changed or untracked files that git does not ignore);
    ``{}`` when proplens is an installed package, the checkout is no git repository, or git is
    missing or fails.
    """
    root = config.checkout_root()
    if root is None:
        return {}

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30
        )

    try:
        head = git("rev-parse", "--verify", "HEAD")
        sha = head.stdout.strip()
        if head.returncode != 0 or not re.fullmatch(r"[0-9a-f]{40}([0-9a-f]{24})?", sha):
            return {}
        status = git("status", "--porcelain")
    except (OSError, subprocess.SubprocessError):
        return {}
    found: dict[str, object] = {"source_commit": sha}
    if status.returncode == 0:
        found["source_modified"] = bool(status.stdout.strip())
    return found


@dataclass
class TrainingData:
    """What a model is trained on: the sentence table, the TC spans, and where they came from."""

    sentences: pd.DataFrame
    spans: pd.DataFrame
    devices: list[str]
    sources: list[dict] = field(default_factory=list)
    gates: dict[str, str] = field(default_factory=dict)
    feature_blocks: dict[str, str] = field(default_factory=dict)  # device -> block name

    def device_features(self, devices: Sequence[str] | None = None) -> dict | None:
        """Unfitted per-device feature blocks (taxonomy ``features``) for ``devices``, or None."""
        from proplens.features import make_device_features

        wanted = self.devices if devices is None else devices
        names = {d: b for d, b in self.feature_blocks.items() if d in wanted}
        return make_device_features(names) or None

    def indicator(self) -> np.ndarray:
        """``(n, k)`` labels with -1 where a device was not annotated for a sentence."""
        Y = to_indicator(self.sentences["devices"].tolist(), self.devices).astype(np.int8)
        if "unannotated" in self.sentences.columns:
            column = {d: i for i, d in enumerate(self.devices)}
            for row, missing in enumerate(self.sentences["unannotated"]):
                for device in missing:
                    Y[row, column[device]] = -1
        return Y

    def fingerprint(self) -> str:
        from proplens.artifacts import fingerprint_frame

        return fingerprint_frame(self.sentences[["document_id", "start", "end", "devices"]])


def _apply_standoff(table: pd.DataFrame, labels: StandoffLabels) -> pd.DataFrame:
    """Attach stand-off sentence labels; sentences without a label become 'unannotated'."""
    table = table.copy()
    key = list(zip(table["document_id"], table["start"], table["end"], strict=True))
    position = {k: i for i, k in enumerate(key)}
    devices = [list(d) for d in table["devices"]]
    unannotated = [set(u) for u in table.get("unannotated", [[]] * len(table))]
    for device, group in labels.frame.groupby("device"):
        seen = np.zeros(len(table), dtype=bool)
        for row in group.itertuples():
            index = position.get((row.document_id, row.start, row.end))
            if index is None:
                raise ValidationError(
                    f"{labels.source}:{row.Index + 2}: {row.document_id} {row.start}-{row.end} "
                    "is not a sentence "
                    "of the training corpus (offsets must match a whole sentence)"
                )
            seen[index] = True
            if row.label == 1 and device not in devices[index]:
                devices[index].append(device)
        for index in np.flatnonzero(~seen):
            unannotated[index].add(device)
    table["devices"] = [sorted(d) for d in devices]
    table["unannotated"] = [sorted(u) for u in unannotated]
    return table


def _merge_labels(table: pd.DataFrame, labels: LabelSet, devices: list[str]) -> pd.DataFrame:
    """Add new labels to a sentence table: corrections of its sentences, and new sentences.

    A label for a sentence already in ``table`` (same document and offsets) sets that sentence's
    annotated devices (new labels win over older ones for those devices); any other labeled
    sentence becomes a new row. Every row is unannotated for the devices it was not judged for.
    """
    table = table.copy()
    if "unannotated" not in table.columns:
        table["unannotated"] = [[] for _ in range(len(table))]
    new_devices = [d for d in devices if d not in _known_devices(table)]
    position = {
        k: i
        for i, k in enumerate(zip(table["document_id"], table["start"], table["end"], strict=True))
    }
    present = [set(d) for d in table["devices"]]
    unknown = [set(u) | set(new_devices) for u in table["unannotated"]]
    spans = table["spans"].tolist() if "spans" in table.columns else None
    unmarked = (
        [set(u) for u in table["unmarked"]]
        if "unmarked" in table.columns
        else [set() for _ in range(len(table))]
    )
    extra = []
    for row in labels.frame.itertuples(index=False):
        index = position.get((row.document_id, row.start, row.end)) if row.in_corpus else None
        if index is None:
            extra.append(row)
            continue
        for device in row.annotated:
            unknown[index].discard(device)
            if device in row.devices:
                present[index].add(device)
            else:
                present[index].discard(device)
            if spans is None or not isinstance(spans[index], list):
                continue
            # A correction speaks for its own devices only: the other devices' spans still say
            # which words carry them. An absent device loses its spans; a present one keeps
            # them when it has some, and otherwise its words are unknown ("unmarked"), which the
            # span lexicon reads as "leave this sentence out of that device's rates".
            marked = any(d == device for _, _, d in spans[index])
            if device not in row.devices:
                spans[index] = [s for s in spans[index] if s[2] != device]
                unmarked[index].discard(device)
            elif not marked:
                unmarked[index].add(device)
    table["devices"] = [sorted(p) for p in present]
    table["unannotated"] = [sorted(u) for u in unknown]
    if spans is not None:
        table["spans"] = spans
        table["unmarked"] = [sorted(u) for u in unmarked]
    if extra:
        added = pd.DataFrame(
            {
                "document_id": [str(r.document_id) for r in extra],
                "sentence_index": [int(r.sentence_index) for r in extra],
                "start": [int(r.start) for r in extra],
                "end": [int(r.end) for r in extra],
                "text": [r.text for r in extra],
                "devices": [list(r.devices) for r in extra],
                "release": "proplens",
                "unannotated": [sorted(set(devices) - set(r.annotated)) for r in extra],
            }
        )
        table = pd.concat([table, added], ignore_index=True)
        table = table.astype({"sentence_index": np.int64, "start": np.int64, "end": np.int64})
        # Features read neighbouring sentences, so each document must be contiguous and in order.
        table = table.sort_values(["document_id", "sentence_index"], kind="stable")
        table = table.reset_index(drop=True)
    return table


def _without_corrected_spans(spans: pd.DataFrame, labels: LabelSet) -> pd.DataFrame:
    """The gold spans less those a correction says are not there.

    A label judging a corpus sentence free of a device overrules the corpus: that device's spans
    touching the sentence are no longer technique-classification examples either.
    """
    if len(spans) == 0:
        return spans
    absent: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for row in labels.frame.itertuples(index=False):
        if not row.in_corpus:
            continue
        for device in set(row.annotated) - set(row.devices):
            absent.setdefault((str(row.document_id), device), []).append((row.start, row.end))
    if not absent:
        return spans
    keep = [
        not any(
            start < end_ and end > start_
            for start_, end_ in absent.get((str(document_id), device), ())
        )
        for document_id, device, start, end in spans[
            ["document_id", "device", "start", "end"]
        ].itertuples(index=False)
    ]
    return spans[keep].reset_index(drop=True)


def _known_devices(table: pd.DataFrame) -> set[str]:
    known = {d for devices in table["devices"] for d in devices}
    return known | {d for missing in table["unannotated"] for d in missing}


def load_training_data(
    data_dir: Path | str | None = None,
    *,
    label_files: Sequence[Path | str] | None = None,
    taxonomy: Taxonomy | None = None,
    labels: LabelSet | Sequence[Path | str] | None = None,
    base: bool = True,
    corpus_dir: Path | str | None = None,
) -> TrainingData:
    """One training table: the base corpus and/or new labels.

    The base is the SemEval-2020 training articles plus the project's stand-off label files
    (``label_files``, default the ``<device>.tsv`` files of ``datasets/labels/``). ``labels``
    are new labels in any format :mod:`proplens.labeling` reads (files are validated first; any
    problem raises :class:`ValidationError` before anything else happens). ``base=False`` trains
    on ``labels`` alone. ``corpus_dir`` is the folder stand-off labels point into.
    """
    from proplens.artifacts import fingerprint_frame
    from proplens.corpus import read_semeval2020
    from proplens.lexicon import sentence_spans

    taxonomy = taxonomy or load_taxonomy()
    if labels is not None and not isinstance(labels, LabelSet):
        labels = read_labels(list(labels), taxonomy=taxonomy, corpus_dir=corpus_dir)
    if not base and (labels is None or len(labels) == 0):
        raise ValidationError("training without the base corpus needs labels (--labels FILE)")
    sources: list[dict] = []
    devices: list[str] = []
    if base:
        corpus = read_semeval2020(data_dir, dedupe=True, taxonomy=taxonomy)
        table = corpus.sentence_table()
        # the spans inside each sentence, for the span lexicon feature block
        table["spans"] = sentence_spans(table, corpus.spans)
        table["unannotated"] = [[] for _ in range(len(table))]
        devices = [d.name for d in taxonomy.devices if d.origin == "semeval2020"]
        sources.append(
            {
                "name": "PTC SemEval-2020 Task 11 train "
                "(research-only; cite Da San Martino et al. 2019)",
                "fingerprint": fingerprint_frame(corpus.spans),
                "documents": len(corpus.documents),
                "sentences": len(table),
                "terms": "research use only (PTC licence: 'made public for research purpose "
                "only'); cite Da San Martino et al., EMNLP-IJCNLP 2019 and SemEval-2020 Task 11",
            }
        )
        files = default_label_files() if label_files is None else [Path(p) for p in label_files]
        for path in files:
            standoff = read_standoff_labels(path, taxonomy)
            table = _apply_standoff(table, standoff)
            devices += [d for d in standoff.devices if d not in devices]
            sources.append(
                {
                    "name": f"proplens stand-off labels {Path(path).name}",
                    "fingerprint": fingerprint_frame(standoff.frame),
                    "documents": int(standoff.frame["document_id"].nunique()),
                    "sentences": len(standoff.frame),
                    "terms": "labels (offsets) made by the proplens project, Apache-2.0; they "
                    "point into PTC articles, whose research-only terms apply to the text",
                }
            )
        spans = span_frame(corpus.documents, corpus.spans)
    else:
        table = pd.DataFrame(
            columns=[
                "document_id", "sentence_index", "start", "end", "text", "devices", "release",
                "unannotated",
            ]
        )  # fmt: skip
        spans = span_frame({}, pd.DataFrame(columns=["document_id", "device", "start", "end"]))
    if labels is not None and len(labels):
        devices += [d for d in labels.devices if d not in devices]
        table = _merge_labels(table, labels, devices)
        spans = _without_corrected_spans(spans, labels)
        sources += labels.sources
    gates = {d: g for d, g in taxonomy.gates.items() if d in devices}
    blocks = {d: b for d, b in taxonomy.feature_blocks.items() if d in devices}
    return TrainingData(table.reset_index(drop=True), spans, devices, sources, gates, blocks)


def label_counts(data: TrainingData) -> dict[str, dict[str, int]]:
    """``{device: {"positive", "negative", "unannotated"}}`` sentence counts of a training table."""
    Y = data.indicator()
    return {
        device: {
            "positive": int((Y[:, j] == 1).sum()),
            "negative": int((Y[:, j] == 0).sum()),
            "unannotated": int((Y[:, j] < 0).sum()),
        }
        for j, device in enumerate(data.devices)
    }


def fit_bundle(data: TrainingData, *, n_jobs: int = 2, random_state: int = 0) -> dict:
    """Fit the sentence and span classifiers on all of ``data`` (no span model without spans)."""
    sentences = DeviceClassifier(
        devices=data.devices,
        gates=data.gates,
        device_features=data.device_features(),
        n_jobs=n_jobs,
        random_state=random_state,
    )
    sentences.fit(data.sentences, data.indicator())
    bundle: dict = {"sentences": sentences}
    if len(data.spans):
        spans = SpanClassifier(random_state=random_state).fit(data.spans, data.spans["device"])
        bundle["spans"] = spans
    return bundle


def _timed(function, *args, **kwargs):
    started = time.perf_counter()
    return function(*args, **kwargs), time.perf_counter() - started


def _in_background(function) -> Future:
    """Start ``function()`` in a daemon thread; its future re-raises any error.

    A daemon thread, not an executor's: an interrupted or failed ``train`` must not wait for it.
    """
    future: Future = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(function())
        except BaseException as error:  # handed to the caller of result()
            future.set_exception(error)

    threading.Thread(target=run, name="proplens-final-fit", daemon=True).start()
    return future


@dataclass
class TrainingResult:
    """What :func:`train` did: where the model is, its figures, and whether it became default."""

    directory: Path
    metrics: dict
    seconds: float  # the whole run, wall clock
    cv_seconds: float
    promoted: bool = False
    decision: PromotionDecision | None = None


# --------------------------------------------------------------------------------------------
# Cross-validation


def annotation_blocks(Y: np.ndarray, devices: Sequence[str]) -> list[tuple[list[str], np.ndarray]]:
    """Devices grouped by the sentences they were annotated on, largest group first.

    The 14 SemEval devices share one block (every corpus sentence); a device labeled on a subset
    of sentences gets its own block and is evaluated on that subset only.
    """
    blocks: dict[bytes, tuple[np.ndarray, list[str]]] = {}
    for j, device in enumerate(devices):
        rows = Y[:, j] >= 0
        blocks.setdefault(rows.tobytes(), (rows, []))[1].append(device)
    ordered = sorted(blocks.values(), key=lambda block: (-len(block[1]), -int(block[0].sum())))
    return [(names, np.flatnonzero(rows)) for rows, names in ordered]


@dataclass
class BlockCV:
    """Out-of-fold results of one annotation block."""

    devices: list[str]
    rows: np.ndarray  # positions in the training table
    proba: np.ndarray  # (len(rows), 1 + k): any-device, then each device
    predicted: np.ndarray  # same shape, booleans
    fold: np.ndarray  # fold number of each row
    truth: np.ndarray  # (len(rows), k) 0/1


def _f1(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float, float]:
    tp = float((truth & predicted).sum())
    fp = float((~truth & predicted).sum())
    fn = float((truth & ~predicted).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return precision, recall, f1


@dataclass
class _BlockPlan:
    """The folds of one annotation block's CV, planned before any of them runs, so that the
    folds of every block (and of the span classifier) can share one pool of workers."""

    devices: list[str]
    rows: np.ndarray
    table: pd.DataFrame
    Y: np.ndarray
    splits: list
    make: Callable

    def tasks(self) -> list:
        return [
            delayed(_fit_fold)(self.make, self.table, self.Y, train_rows, test_rows)
            for train_rows, test_rows in self.splits
        ]

    def costs(self) -> list[int]:
        """Rough work of each fold (training sentences x labels), to start the longest first."""
        return [len(train_rows) * (len(self.devices) + 1) for train_rows, _ in self.splits]

    def assemble(self, results: list, progress: Callable[[int], None] | None = None) -> BlockCV:
        proba = np.zeros((len(self.table), len(self.devices) + 1))
        predicted = np.zeros(proba.shape, dtype=bool)
        fold = np.zeros(len(self.table), dtype=int)
        for number, ((_, test_rows), (fold_proba, cut)) in enumerate(
            zip(self.splits, results, strict=True)
        ):
            proba[test_rows] = fold_proba
            predicted[test_rows] = fold_proba >= cut
            fold[test_rows] = number
            if progress:
                progress(number + 1)
        return BlockCV(list(self.devices), self.rows, proba, predicted, fold, self.Y == 1)


def _plan_block(
    data: TrainingData,
    devices: Sequence[str],
    rows: np.ndarray,
    *,
    n_splits: int,
    random_state: int,
    features=None,
    stories: dict | None = None,
) -> _BlockPlan | None:
    device_features = data.device_features(devices)
    table = data.sentences
    if device_features:
        # a device block reads each sentence's true neighbours, not the neighbouring labeled rows
        table = add_neighbour_columns(table)
    table = table.iloc[rows].reset_index(drop=True)
    columns = [data.devices.index(d) for d in devices]
    Y = data.indicator()[np.ix_(rows, columns)]
    groups = table["document_id"].to_numpy()
    if stories is not None:  # related articles in one fold (see proplens.stories)
        groups = np.array([stories[str(d)] for d in groups], dtype=object)
    k = min(n_splits, len(np.unique(groups)))
    if k < 2:
        return None
    gates = {d: g for d, g in data.gates.items() if d in devices} or None
    splits = list(GroupKFold(n_splits=k).split(np.zeros(len(table)), groups=groups))
    make = partial(
        DeviceClassifier, devices=list(devices), gates=gates, features=features,
        device_features=device_features, random_state=random_state,
    )  # fmt: skip
    return _BlockPlan(list(devices), rows, table, Y, splits, make)


def _stories(data: TrainingData, group_by: str) -> dict[str, str] | None:
    """Each document's story (``group_by="story"``, from all its sentences), or None by article."""
    check_grouping(group_by)
    if group_by != "story":
        return None
    return stories_by_document(data.sentences["document_id"], data.sentences["text"])


def _run_in_pool(tasks: list, costs: list[int], n_jobs: int) -> list:
    """Run ``tasks`` (joblib ``delayed`` calls) in up to ``n_jobs`` processes, the costliest
    first so that no worker is left with a long task at the end; results in ``tasks`` order.

    Processes, not threads: feature extraction is single-threaded Python and dominates a
    fold's first seconds, so two folds at once use two cores where threads mostly wait.
    """
    order = sorted(range(len(tasks)), key=lambda i: -costs[i])
    workers = max(1, min(n_jobs, len(tasks)))
    done = Parallel(n_jobs=workers)(tasks[i] for i in order)
    results: list = [None] * len(tasks)
    for i, result in zip(order, done, strict=True):
        results[i] = result
    return results


def cross_validate_block(
    data: TrainingData,
    devices: Sequence[str],
    rows: np.ndarray,
    *,
    n_jobs: int = 2,
    n_splits: int = 5,
    random_state: int = 0,
    progress: Callable[[int], None] | None = None,
    features=None,
    group_by: str = "article",
) -> BlockCV | None:
    """Grouped k-fold CV of a :class:`DeviceClassifier` for ``devices`` on the sentences ``rows``.

    Folds are :class:`~sklearn.model_selection.GroupKFold` by document (at most one fold per
    document), or by story with ``group_by="story"`` (see :func:`cross_validate`), run in up to
    ``n_jobs`` processes. ``features`` is an unfitted feature transformer
    (default: the model's own), e.g. :func:`proplens.figures.make_figure_features` to measure the
    Unverified_Figures block. Returns None when there are fewer than two documents (stories).
    """
    plan = _plan_block(
        data, devices, rows, n_splits=n_splits, random_state=random_state, features=features,
        stories=_stories(data, group_by),
    )  # fmt: skip
    if plan is None:
        return None
    results = _run_in_pool(plan.tasks(), plan.costs(), n_jobs)
    return plan.assemble(results, progress)


def _fit_fold(make, table: pd.DataFrame, Y: np.ndarray, train_rows, test_rows):
    """One CV fold: fit on ``train_rows``, return test probabilities and the tuned thresholds."""
    estimator = make(n_jobs=1).fit(table.iloc[train_rows], Y[train_rows])
    return estimator.predict_all_proba(table.iloc[test_rows]), estimator.threshold_vector()


def _device_scores(block: BlockCV, j: int) -> dict:
    truth, predicted = block.truth[:, j], block.predicted[:, j + 1]
    precision, recall, f1 = _f1(truth, predicted)
    folds = []
    for number in np.unique(block.fold):
        in_fold = block.fold == number
        if truth[in_fold].any() or predicted[in_fold].any():
            folds.append(_f1(truth[in_fold], predicted[in_fold])[2])
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "support": int(truth.sum()),
        "f1_fold_std": round(float(np.std(folds, ddof=1)), 4) if len(folds) > 1 else None,
        "folds": len(folds),
        "annotated_sentences": len(block.rows),
    }


def _check_splits(n_splits: int) -> None:
    if n_splits < 2:
        raise ValidationError(f"cross-validation needs at least 2 folds, got {n_splits}")


def cross_validate(
    data: TrainingData,
    *,
    n_jobs: int = 2,
    n_splits: int = 5,
    progress=None,
    blocks_out: list | None = None,
    group_by: str = "article",
) -> dict:
    """Grouped k-fold CV figures of the model :func:`fit_bundle` would train, as a metrics dict.

    Folds keep each document whole, or with ``group_by="story"`` each story: articles that
    share much of their text (:mod:`proplens.stories`) in one fold, sentence and span folds alike.

    Each device is evaluated on the sentences it was annotated on (see :func:`annotation_blocks`);
    ``per_device`` records precision, recall, F1, support and the standard deviation of F1 over
    folds (used by the promotion guard). The sentence-level (any-device) figures come from the
    largest block. ``micro_f1``/``macro_f1`` pool and average every device; ``block_micro_f1``
    pools the devices of the largest block only (the 14 SemEval devices). Pass a list as
    ``blocks_out`` to receive the :class:`BlockCV` results (out-of-fold predictions).
    """
    from proplens.evaluation import expected_calibration_error

    _check_splits(n_splits)
    stories = _stories(data, group_by)
    unit, units = ("story", "stories") if stories is not None else ("document", "documents")
    documents = data.sentences["document_id"].nunique()
    groups = len(set(stories.values())) if stories is not None else documents
    # each block would quietly use fewer folds (one per document) under an "N-fold" title
    check_fold_count(n_splits, groups, units, documents=documents)
    Y = data.indicator()
    metrics: dict = {"cv": f"{n_splits}-fold GroupKFold by {unit}", "per_device": {}}
    # Every fold of every block, and of the span classifier, goes to one pool of workers.
    plans = []
    for devices, rows in annotation_blocks(Y, data.devices):
        plan = _plan_block(data, devices, rows, n_splits=n_splits, random_state=0, stories=stories)
        if plan is not None:
            plans.append(plan)
    tasks: list = []
    costs: list[int] = []
    for plan in plans:
        tasks += plan.tasks()
        costs += plan.costs()
    span_splits = []
    # the spans' groups are those of the sentence folds: stories of all the articles
    span_groups = data.spans["document_id"].astype(str)
    if stories is not None:
        span_groups = span_groups.map(stories)
    if len(data.spans) and span_groups.nunique() < n_splits:
        log.warning(
            "technique classification not cross-validated: %d folds for %d %s with spans",
            n_splits,
            span_groups.nunique(),
            units,
        )
    elif len(data.spans):
        span_splits = span_folds(data.spans, n_splits, group_by, stories=stories)
        tasks += [delayed(fit_span_fold)(data.spans, train, test) for train, test in span_splits]
        # a span fold costs about what a sentence fold of 5x its rows costs, one label each
        costs += [5 * len(train) for train, _ in span_splits]
    results = _run_in_pool(tasks, costs, n_jobs)
    blocks = []
    for plan in plans:
        blocks.append(plan.assemble(results[: len(plan.splits)], progress))
        results = results[len(plan.splits) :]

    totals = np.zeros(3)
    for number, block in enumerate(blocks):
        if blocks_out is not None:
            blocks_out.append(block)
        for j, device in enumerate(block.devices):
            metrics["per_device"][device] = _device_scores(block, j)
            truth, predicted = block.truth[:, j], block.predicted[:, j + 1]
            totals += [(truth & predicted).sum(), (~truth & predicted).sum(),
                       (truth & ~predicted).sum()]  # fmt: skip
        if number == 0:
            # the devices annotated on every sentence (the 14 SemEval ones for the base corpus),
            # pooled without the project's devices: the figure comparable to published systems
            block_truth = block.truth.astype(bool)
            block_predicted = block.predicted[:, 1:].astype(bool)
            metrics["block_micro_f1"] = round(_f1(block_truth, block_predicted)[2], 4)
            metrics["block_devices"] = len(block.devices)
            any_truth = block.truth.any(axis=1)
            precision, recall, f1 = _f1(any_truth, block.predicted[:, 0])
            metrics.update(
                sentence_f1=round(f1, 4),
                sentence_precision=round(precision, 4),
                sentence_recall=round(recall, 4),
                sentence_ece=round(expected_calibration_error(any_truth, block.proba[:, 0]), 4),
            )
    tp, fp, fn = totals
    metrics["micro_f1"] = round(float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else 0.0, 4)
    f1s = [scores["f1"] for scores in metrics["per_device"].values()]
    metrics["macro_f1"] = round(float(np.mean(f1s)), 4) if f1s else 0.0
    if span_splits:
        span_predicted = np.empty(len(data.spans), dtype=object)
        for (_, test), fold_predicted in zip(span_splits, results, strict=True):
            span_predicted[test] = fold_predicted
        tc_micro, tc_per_device, _ = span_scores(data.spans["device"].to_numpy(), span_predicted)
        metrics["tc_micro_f1"] = round(tc_micro, 4)
        metrics["tc_per_device"] = {
            d: {k: round(float(v), 4) for k, v in row.items()}
            for d, row in tc_per_device.iterrows()
        }
    return metrics


# --------------------------------------------------------------------------------------------
# Promotion guard

#: A drop in a device's CV F1 smaller than this is never treated as a regression.
MIN_F1_DROP = 0.01
#: How many standard errors of the fold-mean F1 a drop must exceed to count as a regression.
DROP_STANDARD_ERRORS = 2.0


def f1_drop_tolerance(fold_std: float | None, folds: int) -> float:
    """The largest F1 drop the CV spread explains: ``max(0.01, 2 * std / sqrt(folds))``.

    ``std`` is the standard deviation of the device's F1 over CV folds, so ``std / sqrt(folds)``
    is the standard error of its mean; a drop within two standard errors (or under one point of
    F1) is noise, not a regression.

    >>> round(float(f1_drop_tolerance(0.05, 5)), 4)
    0.0447
    >>> f1_drop_tolerance(None, 5)
    0.01
    """
    if not fold_std or folds < 2:
        return MIN_F1_DROP
    return round(max(MIN_F1_DROP, DROP_STANDARD_ERRORS * fold_std / np.sqrt(folds)), 4)


@dataclass
class PromotionDecision:
    """Whether a new model may replace the current default, and why."""

    promote: bool
    parent: str | None
    reason: str
    drops: list[dict] = field(default_factory=list)  # device, before, after, change, tolerance
    comparison: pd.DataFrame | None = None  # registry.diff(parent, new)
    #: what the user of a blocked model can do (not shown once ``train(force=True)`` overrode it)
    advice: str = ""
    forced: bool = False

    def message(self) -> str:
        if self.forced:
            head = f"made the default with --force, although {self.reason}"
        else:
            head = "; ".join(filter(None, [self.reason, self.advice]))
        if not self.drops:
            return head
        parts = [
            f"{d['device']} {d['before']:.3f} -> {d['after']:.3f} ({d['change']:+.3f}, "
            f"tolerance {d['tolerance']:.3f}{_other_sentences(d)})"
            for d in self.drops
        ]
        return f"{head}: " + "; ".join(parts)


_BLOCKED_ADVICE = (
    "the new model is saved but not made the default (use --force, or `proplens models use`)"
)


def _other_sentences(drop: dict) -> str:
    """A note when a device's two F1s were measured on different labeled sentences: the drop may
    be harder data rather than a worse model, which only the user can weigh."""
    before, after = drop.get("annotated_before"), drop.get("annotated_after")
    if before is None or after is None or before == after:
        return ""
    return f"; measured on other sentences: {before:,} labeled before, {after:,} now"


def promotion_decision(parent: Path | str | None, metadata: dict) -> PromotionDecision:
    """Compare a new model's metadata with the model it would replace (``parent`` directory).

    The comparison is :func:`proplens.registry.diff`; a device present in both whose F1 fell by
    more than :func:`f1_drop_tolerance` (from the larger fold spread of the two models) blocks
    promotion. Devices that are new in this model never block.
    """
    import json
    import tempfile

    from proplens.artifacts import METADATA_EDITED, METADATA_FILENAME, check_metadata
    from proplens.registry import cv_grouping, diff

    if parent is None:
        return PromotionDecision(True, None, "no current model to compare with")
    before, saved = check_metadata(parent)
    if saved == METADATA_EDITED:
        # its figures are not the training run's: a drop (or none) measured against them means
        # nothing, and an inflated figure there must not block or wave through a retrain unseen
        return PromotionDecision(
            False,
            before.ref,
            f"the metadata.json of {before.ref} was edited after it was trained, so its figures "
            f"cannot be compared with the new model's; kept {before.ref} as the default",
            [],
            None,
            f"{_BLOCKED_ADVICE} (or restore {before.ref}'s metadata.json and retrain)",
        )
    if not before.metrics.get("per_device"):
        # a default forced in without CV: nothing to compare with, so nothing may replace it
        # unnoticed (the next retrain would otherwise always pass)
        return PromotionDecision(
            False,
            before.ref,
            f"{before.ref} has no CV figures (it was trained without evaluation), so the new "
            f"model cannot be compared with it; kept {before.ref} as the default",
            [],
            None,
            _BLOCKED_ADVICE,
        )
    if not metadata.get("metrics", {}).get("per_device"):
        return PromotionDecision(
            False,
            before.ref,
            f"the new model has no CV figures (trained without evaluation), so it cannot be "
            f"compared with {before.ref}; kept {before.ref} as the default",
        )
    grouped_before = cv_grouping(before.metrics)
    grouped_after = cv_grouping(metadata["metrics"])
    if grouped_before != grouped_after:
        # Story folds give lower figures than article folds on the same model (copies of a
        # story no longer straddle them): a drop between the two would be the protocol's.
        return PromotionDecision(
            False,
            before.ref,
            f"{before.ref} was cross-validated with folds grouped by {grouped_before} and the "
            f"new model by {grouped_after}, so their figures are not comparable",
            [],
            None,
            f"{_BLOCKED_ADVICE}; to compare them, retrain with --group-by "
            f"{'story' if grouped_before == 'story' else 'article'}",
        )
    with tempfile.TemporaryDirectory(prefix="proplens-candidate-") as folder:
        (Path(folder) / METADATA_FILENAME).write_text(json.dumps(metadata), encoding="utf-8")
        comparison = diff(str(parent), folder)
    removed = [row.device for row in comparison.itertuples(index=False) if row.change == "removed"]
    if removed:
        reason = (
            f"the new model lacks {len(removed)} device(s) of {before.ref} ({', '.join(removed)})"
        )
        return PromotionDecision(False, before.ref, reason, [], comparison, _BLOCKED_ADVICE)
    # A device the current default has figures for and the new model has none for (too few
    # documents to cross-validate it, or a CV that saw no positive and no prediction: an F1 of
    # 0/0) is not "no drop": it is unmeasured.
    unmeasured = [
        row.device
        for row in comparison.itertuples(index=False)
        if row.change != "added" and pd.notna(row.f1_before) and pd.isna(row.f1_after)
    ]
    if unmeasured:
        per_device = metadata["metrics"].get("per_device") or {}
        unseen = [d for d in unmeasured if (per_device.get(d) or {}).get("folds") == 0]
        why = []
        if len(unseen) < len(unmeasured):
            few = [d for d in unmeasured if d not in unseen]
            why.append(f"the labels of {', '.join(few)} span too few documents to evaluate")
        if unseen:
            why.append(f"the CV of {', '.join(unseen)} saw no positive sentence and no prediction")
        reason = (
            f"the new model has no CV figure for {len(unmeasured)} device(s) that {before.ref} "
            f"has: {'; '.join(why)}"
        )
        return PromotionDecision(False, before.ref, reason, [], comparison, _BLOCKED_ADVICE)
    if (
        before.metrics.get("tc_micro_f1") is not None
        and metadata["metrics"].get("tc_micro_f1") is None
    ):
        reason = (
            f"the new model cannot classify spans (it was trained without span labels), "
            f"which {before.ref} can"
        )
        return PromotionDecision(False, before.ref, reason, [], comparison, _BLOCKED_ADVICE)
    drops = []
    before_scores = before.metrics.get("per_device", {})
    after_scores = metadata["metrics"]["per_device"]
    for row in comparison.itertuples(index=False):
        if row.change in ("added", "removed") or pd.isna(row.f1_change):
            continue
        spreads = [
            (s.get("f1_fold_std"), s.get("folds", 0))
            for s in (before_scores.get(row.device, {}), after_scores.get(row.device, {}))
        ]
        tolerance = max(f1_drop_tolerance(std, folds) for std, folds in spreads)
        if -row.f1_change > tolerance:
            drops.append(
                {
                    "device": row.device,
                    "before": float(row.f1_before),
                    "after": float(row.f1_after),
                    "change": round(float(row.f1_change), 4),
                    "tolerance": tolerance,
                    "annotated_before": before_scores.get(row.device, {}).get(
                        "annotated_sentences"
                    ),
                    "annotated_after": after_scores.get(row.device, {}).get("annotated_sentences"),
                }
            )
    if drops:
        reason = f"F1 dropped beyond the CV spread compared with {before.ref}"
        return PromotionDecision(False, before.ref, reason, drops, comparison, _BLOCKED_ADVICE)
    return PromotionDecision(
        True, before.ref, f"no device's F1 dropped beyond the CV spread of {before.ref}", [],
        comparison,
    )  # fmt: skip


def _comparison_notes(decision: PromotionDecision | None, counts: dict) -> str:
    """Markdown for the model card: label counts, the comparison and the promotion decision."""
    lines = ["### Label counts (sentences)", "", "| device | positive | negative | unannotated |"]
    lines.append("|---|---|---|---|")
    for device, c in counts.items():
        lines.append(f"| {device} | {c['positive']} | {c['negative']} | {c['unannotated']} |")
    if decision is not None:
        lines += ["", "### Promotion", "", decision.message()]
        frame = decision.comparison
        if frame is not None and len(frame):
            lines += [
                "",
                f"Per-device CV F1 compared with `{decision.parent}`:",
                "",
                "| device | F1 before | F1 after | change |",
                "|---|---|---|---|",
            ]
            for row in frame.itertuples(index=False):
                cells = [
                    "" if v is None or pd.isna(v) else f"{v:+.3f}" if name == "c" else f"{v:.3f}"
                    for name, v in (("b", row.f1_before), ("a", row.f1_after), ("c", row.f1_change))
                ]
                lines.append(f"| {row.device} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Training


#: What scikit-learn says when the data are too few to fit on: every term pruned from a
#: vocabulary, a label with one class, fewer documents than folds.
_TOO_LITTLE_DATA = (
    "empty vocabulary",
    "no terms remain",
    "max_df corresponds to",
    "at least 2 classes",
    "Cannot have number of splits",
    "requires at least one train/test split",  # a device block's labels in one document
)


@contextmanager
def _enough_data(data: TrainingData) -> Iterator[None]:
    """Turn scikit-learn's errors about too little data into one line the user can act on."""
    try:
        yield
    except ValueError as error:
        if not any(sign in str(error) for sign in _TOO_LITTLE_DATA):
            raise
        frame = data.sentences
        raise DataError(
            f"too little training data to fit a model: {len(frame)} sentences in "
            f"{frame['document_id'].nunique()} documents ({str(error).splitlines()[0]}); "
            "label more sentences"
        ) from None


def _fit_and_evaluate(data, evaluate, n_splits, n_jobs, random_state, say, group_by="article"):
    """The final model and, with ``evaluate``, its cross-validated metrics (see :func:`train`)."""
    metrics: dict = {}
    cv_seconds = 0.0
    started = time.perf_counter()
    if evaluate:
        # The final fit runs beside the CV folds rather than after them: 5 folds on 2 workers
        # leave a core idle in the last round, and the final fit's feature extraction is
        # single-threaded, so in sequence the two waste about a third of the cores' time.
        unit = "story" if group_by == "story" else "document"
        say(f"{n_splits}-fold cross-validation grouped by {unit}, the final model alongside")
        fit = partial(_timed, fit_bundle, data, n_jobs=1, random_state=random_state)
        final = _in_background(fit) if n_jobs > 1 else None
        metrics = cross_validate(data, n_jobs=n_jobs, n_splits=n_splits, group_by=group_by)
        cv_seconds = time.perf_counter() - started
        metrics["cv_seconds"] = round(cv_seconds, 1)
        bundle, fit_seconds = final.result() if final else fit()
    else:
        say("fitting the model on all training data")
        bundle, fit_seconds = _timed(fit_bundle, data, n_jobs=n_jobs, random_state=random_state)
    return bundle, fit_seconds, metrics, cv_seconds


def train(
    *,
    name: str = "ptc-default",
    data_dir: Path | str | None = None,
    label_files: Sequence[Path | str] | None = None,
    labels: Sequence[Path | str] | LabelSet | None = None,
    base: bool = True,
    corpus_dir: Path | str | None = None,
    models_root: Path | str | None = None,
    evaluate: bool = True,
    n_splits: int = 5,
    promote: bool = True,
    force: bool = False,
    n_jobs: int = 2,
    random_state: int = 0,
    notes: str = "",
    command: str | None = None,
    progress: Callable[[str], None] | None = None,
    group_by: str = "article",
) -> TrainingResult:
    """Train a model and save it as the next version ``<models_root>/<name>/v<N>``.

    ``labels`` are new label files (any format of :mod:`proplens.labeling`), validated before
    anything else; ``base=False`` trains on them alone. The new version never overwrites an old
    one. With ``promote`` it becomes the default model unless the promotion guard
    (:func:`promotion_decision`) finds a device whose CV F1 dropped beyond the CV spread; ``force``
    promotes anyway. A model trained without evaluation cannot be compared, so it replaces an
    existing default only with ``force``. ``group_by="story"`` cross-validates with related
    articles in one fold (see :func:`cross_validate`); the guard compares only figures of the
    same grouping.

    Nothing is written until training (and evaluation) succeeded; the write itself is atomic, so
    a failed or interrupted run leaves the models folder and the default model as they were.
    """
    from proplens.artifacts import ModelMetadata, save_model
    from proplens.registry import check_writable, current, next_version_dir, use

    say = progress or (lambda message: log.info(message))
    root = Path(models_root) if models_root is not None else config.models_dir()
    next_version_dir(name, root)  # a bad model name fails now, not after the training
    if evaluate:
        _check_splits(n_splits)
    check_grouping(group_by)
    taxonomy = load_taxonomy()
    if labels is not None and not isinstance(labels, LabelSet):
        say("validating the new labels")
        labels = read_labels(list(labels), taxonomy=taxonomy, corpus_dir=corpus_dir)
    check_writable(root / name)
    say("reading training data")
    data = load_training_data(
        data_dir, label_files=label_files, taxonomy=taxonomy, labels=labels, base=base
    )
    started = time.perf_counter()
    with _enough_data(data):
        bundle, fit_seconds, metrics, cv_seconds = _fit_and_evaluate(
            data, evaluate, n_splits, n_jobs, random_state, say, group_by
        )
    seconds = time.perf_counter() - started
    metrics["fit_seconds"] = round(fit_seconds, 1)
    metrics["train_seconds"] = round(seconds, 1)
    try:
        parent = current(root)
    except ModelError:
        parent = None  # a dangling pointer: nothing sensible to compare with
    directory = next_version_dir(name, root)
    counts = label_counts(data)
    training_data = {"sources": data.sources, "fingerprint": data.fingerprint()}
    training_data["label_counts"] = counts
    if command:
        training_data["command"] = command
    training_data.update(source_commit())
    metadata = ModelMetadata(
        name=name,
        version=directory.name,
        labels=list(data.devices),
        thresholds={k: round(float(v), 6) for k, v in bundle["sentences"].thresholds_.items()},
        training_data=training_data,
        metrics=metrics,
        parent=str(parent) if parent is not None else None,
        notes=notes,
    )
    decision = promotion_decision(parent.path if parent else None, metadata.to_dict())
    if decision.comparison is not None:
        metadata.metrics["comparison"] = {
            "parent": decision.parent,
            "f1_change": {
                row.device: (None if pd.isna(row.f1_change) else round(float(row.f1_change), 4))
                for row in decision.comparison.itertuples(index=False)
            },
        }
    promoted = promote and (decision.promote or force)
    decision.forced = bool(promoted and not decision.promote)
    metadata.metrics["promotion"] = {
        "promoted": promoted,
        "forced": decision.forced,
        "reason": decision.message(),
    }
    metadata.notes = "\n\n".join(filter(None, [notes, _comparison_notes(decision, counts)]))
    say(f"saving {directory}")
    while True:
        try:
            save_model(bundle, metadata, directory)
            break
        except ModelError:
            if not directory.exists():
                raise
            # a run started alongside saved this version first: take the next number
            directory = next_version_dir(name, root)
            metadata.version = directory.name
            say(f"saving {directory} instead")
    if promoted:
        use(f"{name}@{directory.name}", root)
    return TrainingResult(directory, metrics, seconds, cv_seconds, promoted, decision)
