"""Screen: does a second stage that reads the scores of the sentence's neighbours and article help?

Propaganda clusters: an article that uses devices in many sentences is likely to use them in the
next one too, and a device's sentence often sits beside a sentence with another device. The
shipped model sees its neighbours' and article's *words*, not how its own scores for them came
out. This screen measures a stacked second stage: per label, a logistic regression on the
first stage's out-of-fold log-odds of

- ``own``: the sentence's log-odds for every label (the label dependencies);
- ``neighbours``: the previous and next sentence's log-odds for the label and for any device;
- ``article``: the mean and maximum of the label's and any device's log-odds over the other
  sentences of the article, and where the sentence is in it.

Protocol (the "screen" protocol of docs/ablation.md, as ``ensemble_screen.py``): proplens's
out-of-fold probabilities from 5 folds grouped by article; per outer fold, the second stage and
each label's threshold are fit on the *other* folds' out-of-fold scores and applied to the
held-out fold. (The other folds' scores came from models that saw the held-out fold's labels,
a second-order leak every stacking screen has; a version shipped in the model would fit its
second stage on the out-of-fold scores ``fit`` already computes, inside the training data.)
Never prints corpus text.

    PROPLENS_DATA=../shared/data python benchmarks/context_screen.py [--group-by story]

About 2 minutes for proplens's CV, seconds for the screen. ``--scores FILE`` keeps the
out-of-fold scores in FILE (an .npz) and reads them from there on the next run.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from bench import add_group_by_option, shipped_estimator
from ensemble_screen import _best_threshold, _logit, label_scores, screen_data
from sklearn.linear_model import LogisticRegression

from proplens.evaluation import cross_validate_sentences

VIEWS = ("own", "neighbours", "article")


def context_features(logits: np.ndarray, documents: np.ndarray, label: int, views) -> np.ndarray:
    """The second stage's inputs for ``label`` (a column of ``logits``, 0 = any device)."""
    n = len(logits)
    columns = [logits[:, [label]]]
    same_before = np.r_[False, documents[1:] == documents[:-1]]
    same_after = np.r_[documents[:-1] == documents[1:], False]
    if "own" in views:
        columns.append(logits)
    if "neighbours" in views:
        for wanted in {label, 0}:
            before = np.where(same_before, np.roll(logits[:, wanted], 1), 0.0)
            after = np.where(same_after, np.roll(logits[:, wanted], -1), 0.0)
            columns += [before[:, None], after[:, None]]
        columns += [same_before[:, None].astype(float), same_after[:, None].astype(float)]
    if "article" in views:
        _, codes, sizes = np.unique(documents, return_inverse=True, return_counts=True)
        others = np.maximum(sizes[codes] - 1, 1)
        for wanted in {label, 0}:
            values = logits[:, wanted]
            totals = np.bincount(codes, weights=values)
            mean_of_others = (totals[codes] - values) / others
            # the largest value of the other sentences: the article's top two
            order = np.lexsort((-values, codes))
            first = np.full(codes.max() + 1, -np.inf)
            second = np.full(codes.max() + 1, -np.inf)
            seen = np.zeros(codes.max() + 1, dtype=int)
            for i in order:
                c = codes[i]
                if seen[c] == 0:
                    first[c] = values[i]
                elif seen[c] == 1:
                    second[c] = values[i]
                seen[c] += 1
            top_other = np.where(values >= first[codes], second[codes], first[codes])
            top_other = np.where(np.isfinite(top_other), top_other, 0.0)
            columns += [mean_of_others[:, None], top_other[:, None]]
        position = np.zeros(n)
        starts = np.r_[0, np.flatnonzero(documents[1:] != documents[:-1]) + 1]
        for start, end in zip(starts, np.r_[starts[1:], n], strict=True):
            position[start:end] = np.arange(end - start) / max(end - start - 1, 1)
        columns += [position[:, None], (position == 0)[:, None].astype(float)]
    return np.hstack(columns)


def screen(proba, targets, documents, folds, views) -> tuple[float, float, float]:
    """SLC F1, micro-F1 and macro-F1 with the second stage on ``views`` (none: thresholds
    only), fit per outer fold on the other folds."""
    logits = _logit(proba)
    predicted = np.zeros(targets.shape, dtype=bool)
    inputs = [context_features(logits, documents, c, views) for c in range(targets.shape[1])]
    for _, test in folds:
        other = np.setdiff1d(np.arange(len(targets)), test)
        for c in range(targets.shape[1]):
            if views:
                model = LogisticRegression(C=1.0, max_iter=2000)
                model.fit(inputs[c][other], targets[other, c])
                scores_other = model.decision_function(inputs[c][other])
                scores_test = model.decision_function(inputs[c][test])
            else:
                scores_other, scores_test = logits[other, c], logits[test, c]
            cut = _best_threshold(scores_other, targets[other, c])
            predicted[test, c] = scores_test >= cut
    return label_scores(targets, predicted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=None, help="the first N articles only")
    parser.add_argument("--scores", type=Path, default=None, help="cache of the OOF scores")
    add_group_by_option(parser)
    args = parser.parse_args()

    data, table, devices, targets, folds = screen_data(args.documents, args.group_by)
    documents = table["document_id"].astype(str).to_numpy()

    if args.scores is not None and args.scores.exists():
        proba = np.load(args.scores)["proba"]
    else:
        started = time.perf_counter()
        _, oof = cross_validate_sentences(
            table, devices, make_estimator=shipped_estimator(data), group_by=args.group_by
        )
        proba = oof[["propaganda", *devices]].to_numpy()
        print(f"proplens CV: {time.perf_counter() - started:.0f} s\n")
        if args.scores is not None:
            np.savez(args.scores, proba=proba)

    print("| second stage on | SLC F1 | micro-F1 | macro-F1 |")
    print("|---|---|---|---|")
    for views in ((), ("own",), ("neighbours",), ("article",), VIEWS):
        slc, micro, macro = screen(proba, targets, documents, folds, views)
        name = " + ".join(views) if views else "none (proplens, thresholds only)"
        print(f"| {name} | {slc:.4f} | {micro:.4f} | {macro:.4f} |", flush=True)


if __name__ == "__main__":
    main()
