"""Training: data sources -> fitted model bundle -> a new, verified model version.

The default model is trained on the SemEval-2020 training articles (the other PTC releases hold
the same articles with older annotations, so adding them would double-count), plus the project's
own stand-off labels in ``datasets/labels/`` (e.g. ``Unverified_Figures``), which are sentence
labels for a subset of sentences: the device is learned from those sentences only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from proplens import config
from proplens.errors import DataError, ValidationError
from proplens.evaluation import cross_validate_sentences, cross_validate_spans, span_frame
from proplens.labels import to_indicator
from proplens.model import DeviceClassifier, SpanClassifier
from proplens.taxonomy import Taxonomy, load_taxonomy

__all__ = [
    "StandoffLabels",
    "TrainingData",
    "TrainingResult",
    "fit_bundle",
    "load_training_data",
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
    """The project's own label files shipped in ``datasets/labels/`` (first-pass files only)."""
    root = config.checkout_root()
    if root is None:
        return []
    return sorted(
        p for p in (root / "datasets" / "labels").glob("*.tsv") if "second_pass" not in p.name
    )


@dataclass
class TrainingData:
    """What a model is trained on: the sentence table, the TC spans, and where they came from."""

    sentences: pd.DataFrame
    spans: pd.DataFrame
    devices: list[str]
    sources: list[dict] = field(default_factory=list)
    gates: dict[str, str] = field(default_factory=dict)

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
        for line, row in enumerate(group.itertuples(index=False), start=2):
            index = position.get((row.document_id, row.start, row.end))
            if index is None:
                raise ValidationError(
                    f"{labels.source}: {row.document_id} {row.start}-{row.end} is not a sentence "
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


def load_training_data(
    data_dir: Path | str | None = None,
    *,
    label_files: Sequence[Path | str] | None = None,
    taxonomy: Taxonomy | None = None,
) -> TrainingData:
    """SemEval-2020 training articles + stand-off label files, as one training table."""
    from proplens.artifacts import fingerprint_frame
    from proplens.corpus import read_semeval2020

    taxonomy = taxonomy or load_taxonomy()
    corpus = read_semeval2020(data_dir, dedupe=True, taxonomy=taxonomy)
    table = corpus.sentence_table()
    table["unannotated"] = [[] for _ in range(len(table))]
    semeval_devices = [d.name for d in taxonomy.devices if d.origin == "semeval2020"]
    sources = [
        {
            "name": "PTC SemEval-2020 Task 11 train (research-only; cite Da San Martino et al. 2019)",
            "fingerprint": fingerprint_frame(corpus.spans),
            "documents": len(corpus.documents),
            "sentences": len(table),
        }
    ]
    devices = list(semeval_devices)
    files = default_label_files() if label_files is None else [Path(p) for p in label_files]
    for path in files:
        labels = read_standoff_labels(path, taxonomy)
        table = _apply_standoff(table, labels)
        devices += [d for d in labels.devices if d not in devices]
        sources.append(
            {
                "name": f"proplens stand-off labels {Path(path).name}",
                "fingerprint": fingerprint_frame(labels.frame),
                "documents": int(labels.frame["document_id"].nunique()),
                "sentences": len(labels.frame),
            }
        )
    spans = span_frame(corpus.documents, corpus.spans)
    gates = {d: g for d, g in taxonomy.gates.items() if d in devices}
    return TrainingData(table, spans, devices, sources, gates)


def fit_bundle(data: TrainingData, *, n_jobs: int = 2, random_state: int = 0) -> dict:
    """Fit the sentence and span classifiers on all of ``data``."""
    sentences = DeviceClassifier(
        devices=data.devices, gates=data.gates, n_jobs=n_jobs, random_state=random_state
    )
    sentences.fit(data.sentences, data.indicator())
    spans = SpanClassifier(random_state=random_state).fit(data.spans, data.spans["device"])
    return {"sentences": sentences, "spans": spans}


@dataclass
class TrainingResult:
    directory: Path
    metrics: dict
    seconds: float
    cv_seconds: float


def cross_validate(
    data: TrainingData, *, n_jobs: int = 2, n_splits: int = 5, progress=None
) -> dict:
    """Grouped k-fold CV figures of the model :func:`fit_bundle` would train, as a metrics dict.

    A device annotated on a subset of sentences is evaluated on those sentences only.
    """
    Y = data.indicator()
    complete = [d for i, d in enumerate(data.devices) if (Y[:, i] >= 0).all()]
    partial = [d for d in data.devices if d not in complete]
    report, oof = cross_validate_sentences(
        data.sentences,
        complete,
        make_estimator=lambda names: DeviceClassifier(devices=names, n_jobs=n_jobs),
        n_splits=n_splits,
        progress=progress,
    )
    metrics = report.to_dict()
    tc_micro, tc_per_device, _ = cross_validate_spans(data.spans, n_splits=n_splits)
    metrics["tc_micro_f1"] = round(tc_micro, 4)
    metrics["tc_per_device"] = {
        d: {k: round(float(v), 4) for k, v in row.items()} for d, row in tc_per_device.iterrows()
    }
    for device in partial:
        metrics["per_device"][device] = _partial_device_cv(data, device, n_splits)
    return metrics


def _partial_device_cv(data: TrainingData, device: str, n_splits: int) -> dict:
    """CV of a device labeled on a subset: train and test on its annotated sentences only."""
    from sklearn.metrics import precision_recall_fscore_support

    column = data.devices.index(device)
    Y = data.indicator()[:, [column]]
    rows = np.flatnonzero(Y[:, 0] >= 0)
    sub = data.sentences.iloc[rows].reset_index(drop=True)
    gates = {device: data.gates[device]} if device in data.gates else None
    report, oof = cross_validate_sentences(
        sub.assign(devices=[[device] if y == 1 else [] for y in Y[rows, 0]]),
        [device],
        make_estimator=lambda names: DeviceClassifier(devices=names, gates=gates),
        n_splits=n_splits,
    )
    row = report.per_device.loc[device]
    out = {k: (round(float(v), 4) if k != "support" else int(v)) for k, v in row.items()}
    out["annotated_sentences"] = len(rows)
    predicted = np.array([device in p for p in oof["predicted"]])
    truth = Y[rows, 0] == 1
    p, r, f, _ = precision_recall_fscore_support(
        truth, predicted, average="binary", zero_division=0
    )
    out.update(precision=round(float(p), 4), recall=round(float(r), 4), f1=round(float(f), 4))
    return out


def train(
    *,
    name: str = "ptc-default",
    data_dir: Path | str | None = None,
    label_files: Sequence[Path | str] | None = None,
    models_root: Path | str | None = None,
    evaluate: bool = True,
    n_jobs: int = 2,
    random_state: int = 0,
    notes: str = "",
    progress: Callable[[str], None] | None = None,
) -> TrainingResult:
    """Train a model and save it as the next version ``<models_root>/<name>/v<N>``.

    Nothing is written until training (and evaluation) succeeded; the write itself is atomic, so
    a failed or interrupted run leaves the models folder as it was.
    """
    from proplens.artifacts import ModelMetadata, save_model
    from proplens.registry import current, next_version_dir

    say = progress or (lambda message: log.info(message))
    say("reading training data")
    data = load_training_data(data_dir, label_files=label_files)
    metrics: dict = {}
    cv_seconds = 0.0
    if evaluate:
        say("5-fold cross-validation grouped by article")
        started = time.perf_counter()
        metrics = cross_validate(data, n_jobs=n_jobs)
        cv_seconds = time.perf_counter() - started
        metrics["cv_seconds"] = round(cv_seconds, 1)
    say("fitting the final model on all training data")
    started = time.perf_counter()
    bundle = fit_bundle(data, n_jobs=n_jobs, random_state=random_state)
    seconds = time.perf_counter() - started
    metrics["train_seconds"] = round(seconds, 1)
    root = Path(models_root) if models_root is not None else config.models_dir()
    parent = current(root)
    directory = next_version_dir(name, root)
    metadata = ModelMetadata(
        name=name,
        version=directory.name,
        labels=list(data.devices),
        thresholds={k: round(float(v), 6) for k, v in bundle["sentences"].thresholds_.items()},
        training_data={"sources": data.sources, "fingerprint": data.fingerprint()},
        metrics=metrics,
        parent=str(parent) if parent is not None else None,
        notes=notes,
    )
    say(f"saving {directory}")
    save_model(bundle, metadata, directory)
    return TrainingResult(directory, metrics, seconds, cv_seconds)
