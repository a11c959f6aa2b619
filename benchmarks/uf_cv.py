"""Unverified_Figures block CV: the figures of docs/retraining.md ("Unverified_Figures: measured
figures"), through the same path ``proplens train`` uses (``cross_validate_block``).

5-fold GroupKFold by article over the labeled sentences of ``datasets/labels/``; thresholds
are tuned inside each training fold; the device's feature block (taxonomy ``features``) sees the
true neighbouring sentences of the full articles. Prints figures only, never corpus text.

    PROPLENS_DATA=../shared/data python benchmarks/uf_cv.py [--no-block] [--group-by story]

``--group-by story`` keeps related stories (articles sharing much of their text,
``proplens.stories``) in one fold.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from bench import add_group_by_option

from proplens import config
from proplens.training import _device_scores, _f1, cross_validate_block, load_training_data

DEVICE = "Unverified_Figures"
#: labeled negatives with a number that is no unsourced figure (the guideline's reason codes)
HARD_NEGATIVES = (
    "date", "time-expression", "age", "ordinal", "name-number", "identifier", "attributed",
    "quoted",
)  # fmt: skip


def main() -> None:
    # the docstring's first paragraph, on one line and without reST markup
    description = " ".join(__doc__.split("\n\n")[0].replace("``", "").split())
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--no-block", action="store_true", help="shared features only")
    add_group_by_option(parser)
    args = parser.parse_args()
    started = time.perf_counter()
    data = load_training_data()
    if args.no_block:
        data.feature_blocks = {}
    column = data.devices.index(DEVICE)
    rows = np.flatnonzero(data.indicator()[:, column] >= 0)
    block = cross_validate_block(data, [DEVICE], rows, n_jobs=2, group_by=args.group_by)
    scores = _device_scores(block, 0)

    labels = pd.read_csv(
        config.checkout_root() / "datasets" / "labels" / "unverified_figures.tsv",
        sep="\t",
        dtype={"document_id": str},
    )
    keys = zip(labels.document_id, labels.start, labels.end, strict=True)
    reason_of = dict(zip(keys, labels.reason, strict=True))
    table = data.sentences.iloc[rows]
    reasons = np.array(
        [reason_of[k] for k in zip(table.document_id, table.start, table.end, strict=True)]
    )
    hard = np.isin(reasons, HARD_NEGATIVES)
    predicted, truth = block.predicted[:, 1], block.truth[:, 0]
    true_positives = int((predicted & truth).sum())
    hard_flagged = int((predicted & hard).sum())
    folds = [
        round(_f1(truth[block.fold == n], predicted[block.fold == n])[2], 3)
        for n in np.unique(block.fold)
    ]
    print(
        f"features: {'shared only' if args.no_block else 'shared + device block'}; folds "
        f"grouped by {args.group_by}"
    )
    print(
        f"P {scores['precision']:.3f}  R {scores['recall']:.3f}  F1 {scores['f1']:.3f}  "
        f"fold std {scores['f1_fold_std']:.3f}  folds {folds}"
    )
    print(
        f"precision on positives + hard negatives "
        f"{true_positives / (true_positives + hard_flagged):.3f}; hard negatives not flagged "
        f"{1 - hard_flagged / hard.sum():.3f} ({int(hard.sum())} hard negatives)"
    )
    errors = pd.Series(reasons[predicted != truth]).value_counts()
    print("errors by reason code:", ", ".join(f"{k} {v}" for k, v in errors.items()))
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
