"""Unverified_Figures on text as it comes: the fresh test sample.

The labelled sentences of ``datasets/labels/unverified_figures.tsv`` are not text as it comes:
the first 895 were pre-sorted towards positives and hard cases, and the cue rules of each
revision were written from their errors, so a CV on them is optimistic. This script fits the
device block on all labelled sentences, once per cue revision, and scores the 478 sentences of
``datasets/labels/unverified_figures.fresh-2026-11.tsv``: every sentence with a quantity-like token
in the training articles that hold no labelled sentence (``annotation_tools/fresh_sample.py``),
labelled blind to any model. Thresholds are each fit's own (tuned inside its training data, as in
``proplens train``). Prints figures only, never corpus text.

A second line per revision asks whether more labels drawn like the fresh sample would help:
5-fold CV grouped by article over the fresh sentences, each fold's model fit on the labelled
sentences plus the fresh sentences of the other folds.

First of all it scores the fresh sentences with saved models themselves (``--models``, default
the current one; a model is trained on the whole corpus, so its shared features differ from the
block fits below, which see only the labelled sentences): what a user of that model gets.

With ``--rounds``, a learning curve instead: the latest revision fit on the labels of the first
labelling rounds only (``datasets/labels/unverified_figures.rounds.tsv``: the pre-sorted
rounds, then each round drawn as text comes), each scored on the fresh sample.

    PROPLENS_DATA=../shared/data python benchmarks/uf_fresh.py [--revisions 1,2,4] [--rounds]
        [--models ptc-default@v4,ptc-default@v6]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from proplens import config
from proplens.features import add_neighbour_columns
from proplens.figures import LATEST_REVISION, REVISIONS, FigureCues
from proplens.model import DeviceClassifier
from proplens.training import _f1, load_training_data

DEVICE = "Unverified_Figures"
FRESH = "unverified_figures.fresh-2026-11.tsv"
ROUNDS = "unverified_figures.rounds.tsv"
#: labelled negatives with a number that is no unsourced figure (as in uf_cv.py)
HARD_NEGATIVES = (
    "date", "time-expression", "age", "ordinal", "name-number", "identifier", "attributed",
    "quoted",
)  # fmt: skip


def _rows_of(table: pd.DataFrame, labels: pd.DataFrame) -> np.ndarray:
    position = {
        key: i for i, key in enumerate(zip(table.document_id, table.start, table.end, strict=True))
    }
    keys = zip(labels.document_id, labels.start, labels.end, strict=True)
    return np.array([position[key] for key in keys])


def _figures(truth, predicted, hard, reasons) -> str:
    precision, recall, f1 = _f1(truth, predicted)
    true_positives = int((predicted & truth).sum())
    hard_flagged = int((predicted & hard).sum())
    errors = pd.Series(reasons[predicted != truth]).value_counts()
    return (
        f"P {precision:.3f}  R {recall:.3f}  F1 {f1:.3f}  precision on positives + hard "
        f"negatives {true_positives / max(1, true_positives + hard_flagged):.3f}\n"
        f"      errors: " + ", ".join(f"{k} {v}" for k, v in errors.items())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--revisions", default=",".join(str(r) for r in REVISIONS), help="cue revisions"
    )
    parser.add_argument("--rounds", action="store_true", help="learning curve over label rounds")
    parser.add_argument(
        "--models", default="", help="saved models to score the sample with (default: current)"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    data = load_training_data()
    table = add_neighbour_columns(data.sentences)
    column = data.devices.index(DEVICE)
    base_rows = np.flatnonzero(data.indicator()[:, column] >= 0)
    base_labels = data.indicator()[base_rows, column]
    fresh = pd.read_csv(
        config.checkout_root() / "datasets" / "labels" / FRESH, sep="\t", dtype={"document_id": str}
    )
    fresh_rows = _rows_of(table, fresh)
    if set(table.document_id.iloc[fresh_rows]) & set(table.document_id.iloc[base_rows]):
        raise SystemExit("the fresh sample shares articles with the training labels")
    fresh_labels = fresh.label.to_numpy().astype(base_labels.dtype)
    truth = fresh_labels == 1
    hard = fresh.reason.isin(HARD_NEGATIVES).to_numpy()
    reasons = fresh.reason.to_numpy()
    print(
        f"fresh sample: {len(fresh)} sentences ({int(truth.sum())} positive, {int(hard.sum())} "
        f"hard negatives) from {fresh.document_id.nunique()} articles without labels; "
        f"{len(base_rows)} labelled sentences to fit on"
    )

    import proplens

    # a model scores whole articles, as a user's would be: its features read each sentence's
    # neighbours and (from v10) the whole document, not only the sampled sentences
    articles = np.flatnonzero(table.document_id.isin(table.document_id.iloc[fresh_rows]))
    in_articles = np.searchsorted(articles, fresh_rows)
    for ref in args.models.split(",") if args.models else [None]:
        model = proplens.load_model(ref)
        classifier = model.sentence_model
        if DEVICE not in classifier.devices:
            print(f"model {model.name}@{model.version}: has no {DEVICE}")
            continue
        j = list(classifier.devices).index(DEVICE) + 1  # column 0 is the any-device label
        proba = classifier.predict_all_proba(table.iloc[articles])[in_articles, j]
        predicted = proba >= classifier.threshold_vector()[j]
        print(f"model {model.name}@{model.version}:  " + _figures(truth, predicted, hard, reasons))

    def fit_predict(revision, rows, labels, test_rows):
        model = DeviceClassifier(
            devices=[DEVICE],
            gates={DEVICE: data.gates[DEVICE]} if DEVICE in data.gates else None,
            device_features={DEVICE: FigureCues(revision=revision)},
            n_jobs=1,
        ).fit(table.iloc[rows], labels[:, None])
        proba = model.predict_all_proba(table.iloc[test_rows])
        return proba[:, 1] >= model.threshold_vector()[1]

    if args.rounds:
        rounds = pd.read_csv(
            config.checkout_root() / "datasets" / "labels" / ROUNDS,
            sep="\t",
            dtype={"document_id": str},
        )
        round_of = _rows_of(table, rounds)
        position = {row: i for i, row in enumerate(base_rows)}
        if set(round_of) != set(base_rows):
            raise SystemExit(f"{ROUNDS} does not list exactly the labelled sentences")
        names = list(dict.fromkeys(rounds["round"]))
        for upto in range(1, len(names) + 1):
            chosen = rounds["round"].isin(names[:upto]).to_numpy()
            keep = np.array(sorted(position[row] for row in round_of[chosen]))
            predicted = fit_predict(LATEST_REVISION, base_rows[keep], base_labels[keep], fresh_rows)
            print(
                f"rounds {' + '.join(names[:upto])} ({len(keep)} labels): "
                + _figures(truth, predicted, hard, reasons)
            )
        print(f"{time.perf_counter() - started:.0f} s")
        return

    for revision in (int(r) for r in args.revisions.split(",")):
        predicted = fit_predict(revision, base_rows, base_labels, fresh_rows)
        print(
            f"cues revision {revision}, fit on the labels:  "
            + _figures(truth, predicted, hard, reasons)
        )
        predicted = np.zeros(len(fresh), dtype=bool)
        folds = GroupKFold(n_splits=5).split(fresh_rows, groups=fresh.document_id)
        for train, test in folds:
            rows = np.concatenate([base_rows, fresh_rows[train]])
            labels = np.concatenate([base_labels, fresh_labels[train]])
            predicted[test] = fit_predict(revision, rows, labels, fresh_rows[test])
        print(
            f"cues revision {revision}, + other fresh folds: "
            + _figures(truth, predicted, hard, reasons)
        )
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
