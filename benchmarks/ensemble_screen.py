"""Screen: does a second linear model, averaged with proplens's log-odds, help?

The issue behind proplens's accuracy targets lists "ensembles of linear models" among the
modelling moves to try. This screen measures the simplest: proplens's out-of-fold log-odds
(the shipped configuration, ``bench.shipped_estimator``) averaged, per label, with those of a
second logistic regression on another view of the sentence:

- ``nb``: word 1-3-grams (binary counts) scaled by their Naive Bayes log-count ratios for the
  label (Wang & Manning's NB-LR, one ratio vector per label, fit on the training fold);
- ``char``: character 1-6-grams (``analyzer="char"``, across word boundaries), TF-IDF;
- ``minilm``: all-MiniLM-L6-v2 sentence embeddings (the benchmark's transformer peer, optional
  extra "bench"), to measure how much a transformer's view of the sentence could add at all.

Both second models are fit on each outer training fold only (5 folds grouped by article, the
folds of ``proplens evaluate``; ``--group-by story`` keeps related stories in one fold, which
matters for a model of word 3-grams: copies of a story share whole sentences). Then, per
outer fold, the mixing weight ``w`` (one for all labels, from ``--weights``) and each label's
threshold are chosen on the *other* folds' out-of-fold scores and applied to the held-out fold
(the "screen" protocol of docs/ablation.md): every step that looks at labels stays outside the
fold it is judged on.
The ``w = 0`` row is the same protocol without the second model. Never prints corpus text.

    PROPLENS_DATA=../shared/data python benchmarks/ensemble_screen.py [--views nb,char]
        [--group-by story]

About 2 minutes for proplens's CV, then 40 s (``nb``), 2.5 min (``char``) or 4 min (``minilm``,
not run unless named) on 2 cores;
``--documents N`` runs on the first N articles (a smoke run).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench import add_group_by_option, load_minilm, semeval_table, shipped_estimator
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from proplens.evaluation import _folds, cross_validate_sentences, fold_groups, to_indicator
from proplens.training import load_training_data

VIEWS = ("nb", "char", "minilm")
DEFAULT_VIEWS = ("nb", "char")  # minilm needs the optional "bench" extra
_EPS = 1e-9


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def second_model_proba(view: str, texts: list[str], targets: np.ndarray, folds) -> np.ndarray:
    """Out-of-fold probabilities of the second model, one column per label of ``targets``."""
    out = np.zeros(targets.shape)
    if view == "minilm":
        return _embedding_model_proba(texts, targets, folds)
    for train, test in folds:
        if view == "nb":
            vectorizer = CountVectorizer(
                ngram_range=(1, 3), min_df=2, binary=True, token_pattern=r"(?u)\b\w+\b|[!?\"“”]"
            )
        else:
            vectorizer = TfidfVectorizer(
                analyzer="char", ngram_range=(1, 6), min_df=3, sublinear_tf=True,
                max_features=300_000,
            )  # fmt: skip
        fitted = vectorizer.fit_transform([texts[i] for i in train])
        held_out = vectorizer.transform([texts[i] for i in test])
        for label in range(targets.shape[1]):
            y = targets[train, label]
            if y.sum() < 3:  # too few positives to fit: the training fold's rate
                out[test, label] = y.mean()
                continue
            if view == "nb":
                # log-count ratios with add-one smoothing, as in Wang & Manning (2012)
                positive = np.asarray(fitted[y == 1].sum(axis=0)).ravel() + 1
                negative = np.asarray(fitted[y == 0].sum(axis=0)).ravel() + 1
                ratio = np.log((positive / positive.sum()) / (negative / negative.sum()))
                model = LogisticRegression(C=0.5, solver="liblinear", max_iter=200)
                model.fit(fitted.multiply(ratio).tocsr(), y)
                out[test, label] = model.predict_proba(held_out.multiply(ratio).tocsr())[:, 1]
            else:
                model = LogisticRegression(C=4, solver="liblinear", max_iter=200).fit(fitted, y)
                out[test, label] = model.predict_proba(held_out)[:, 1]
    return out


def _embedding_model_proba(texts: list[str], targets: np.ndarray, folds) -> np.ndarray:
    """Out-of-fold probabilities of a logistic regression per label on MiniLM embeddings. The
    encoder looks at no label, so each sentence is encoded once for every fold."""
    encoder, missing = load_minilm()
    if encoder is None:
        raise SystemExit(f"the minilm view needs the MiniLM peer: {missing}")
    started = time.perf_counter()
    embedded = encoder.encode(texts, batch_size=64, normalize_embeddings=True)
    print(f"MiniLM embeddings: {time.perf_counter() - started:.0f} s", flush=True)
    out = np.zeros(targets.shape)
    for train, test in folds:
        for label in range(targets.shape[1]):
            y = targets[train, label]
            if y.sum() < 3:
                out[test, label] = y.mean()
                continue
            model = LogisticRegression(C=4, max_iter=1000).fit(embedded[train], y)
            out[test, label] = model.predict_proba(embedded[test])[:, 1]
    return out


def _best_threshold(scores: np.ndarray, y: np.ndarray) -> float:
    grid = np.quantile(scores, np.linspace(0.3, 0.995, 120))
    f1 = [f1_score(y, scores >= t, zero_division=0) for t in grid]
    return float(grid[int(np.argmax(f1))])


def label_scores(targets: np.ndarray, predicted: np.ndarray) -> tuple[float, float, float]:
    """SLC F1 (column 0), and micro- and macro-F1 over the devices (the other columns)."""
    slc = f1_score(targets[:, 0], predicted[:, 0])
    micro = f1_score(targets[:, 1:].ravel(), predicted[:, 1:].ravel())
    per_device = [
        f1_score(targets[:, c], predicted[:, c], zero_division=0)
        for c in range(1, targets.shape[1])
    ]
    return slc, micro, float(np.mean(per_device))


def screen(first, second, targets, folds, weights) -> tuple[float, float, float, list[float]]:
    """SLC F1, micro-F1 and macro-F1 over the devices of ``(1 - w) * first + w * second``
    (log-odds), ``w`` and thresholds chosen per outer fold on the other folds."""
    first, second = _logit(first), _logit(second)
    predicted = np.zeros(targets.shape, dtype=bool)
    chosen = []
    for _, test in folds:
        other = np.setdiff1d(np.arange(len(targets)), test)
        best = None
        for w in weights:
            scores = (1 - w) * first[other] + w * second[other]
            cuts = np.array(
                [_best_threshold(scores[:, c], targets[other, c]) for c in range(targets.shape[1])]
            )
            labeled = scores >= cuts
            score = f1_score(targets[other, 0], labeled[:, 0]) + f1_score(
                targets[other, 1:].ravel(), labeled[:, 1:].ravel()
            )
            if best is None or score > best[0]:
                best = (score, w, cuts)
        _, w, cuts = best
        chosen.append(w)
        predicted[test] = ((1 - w) * first[test] + w * second[test]) >= cuts
    slc, micro, macro = label_scores(targets, predicted)
    return slc, micro, macro, chosen


def screen_data(documents: int | None, group_by: str):
    """``(data, table, devices, targets, folds)`` of a screen: the training sentences with the
    14 SemEval devices (the first ``documents`` articles only, if given), the any-device column
    then one per device, and the 5 outer folds of ``cross_validate_sentences`` (GroupKFold is
    deterministic, so they are the folds its out-of-fold scores come from). Prints the counts."""
    data = load_training_data()
    table, devices = semeval_table(data)
    if documents:
        keep = table["document_id"].drop_duplicates().iloc[:documents]
        table = table[table["document_id"].isin(keep)].reset_index(drop=True)
    Y = to_indicator(table["devices"].tolist(), devices)
    targets = np.c_[Y.any(axis=1), Y].astype(int)
    folds = _folds(fold_groups(table["document_id"].to_numpy(), table["text"], group_by), 5)
    articles = table["document_id"].nunique()
    print(f"{len(table)} sentences, {articles} articles, 5 folds by {group_by}\n")
    return data, table, devices, targets, folds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--views", default=",".join(DEFAULT_VIEWS), help="comma-separated: nb, char, minilm"
    )
    parser.add_argument("--weights", default="0,0.1,0.2,0.3,0.4,0.5", help="candidate w")
    parser.add_argument("--documents", type=int, default=None, help="the first N articles only")
    add_group_by_option(parser)
    args = parser.parse_args()
    views = [v.strip() for v in args.views.split(",") if v.strip()]
    unknown = sorted(set(views) - set(VIEWS))
    if unknown:
        parser.error(f"unknown view(s) {', '.join(unknown)}; choose from {', '.join(VIEWS)}")
    weights = [float(w) for w in args.weights.split(",")]

    data, table, devices, targets, folds = screen_data(args.documents, args.group_by)

    started = time.perf_counter()
    _, oof = cross_validate_sentences(
        table, devices, make_estimator=shipped_estimator(data), group_by=args.group_by
    )
    proplens_proba = oof[["propaganda", *devices]].to_numpy()
    print(f"proplens CV: {time.perf_counter() - started:.0f} s\n")

    print("| scores | SLC F1 | micro-F1 | macro-F1 | w chosen per fold |")
    print("|---|---|---|---|---|")

    def row(name, result):
        slc, micro, macro, chosen = result
        shown = ", ".join(f"{w:g}" for w in chosen)
        print(f"| {name} | {slc:.4f} | {micro:.4f} | {macro:.4f} | {shown} |", flush=True)

    row("proplens (w = 0)", screen(proplens_proba, proplens_proba, targets, folds, [0.0]))
    texts = table["text"].tolist()
    for view in views:
        second = second_model_proba(view, texts, targets, folds)
        row(f"{view} alone (w = 1)", screen(proplens_proba, second, targets, folds, [1.0]))
        row(f"proplens + {view}", screen(proplens_proba, second, targets, folds, weights))


if __name__ == "__main__":
    main()
