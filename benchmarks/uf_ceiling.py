"""How far can the Unverified_Figures cues take a model? Probes for docs/retraining.md.

``uf_cv.py`` measures the shipped block (shared features + cues). This script asks two questions
about the cues alone (``FigureCues``, the columns the device block adds), with the folds
``uf_cv.py`` uses (5-fold GroupKFold by article over the labels) and every threshold tuned
inside the training fold (an inner 4-fold grouped CV, then ``best_threshold``):

1. Would a more flexible model read more out of the same cues? A logistic regression, the same
   with every pairwise AND of the cues, gradient boosting and a random forest.
2. Would more labels help? The logistic regression trained on 40-100% of each training fold's
   articles (five draws each).

If every probe lands where the logistic regression does, the cues hold no more than it reads,
and the errors left need new information, not more labels or a bigger model. Prints figures only.

    PROPLENS_DATA=../shared/data python benchmarks/uf_ceiling.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, PolynomialFeatures

from proplens.features import add_neighbour_columns
from proplens.figures import FigureCues
from proplens.model import best_threshold
from proplens.training import _f1, load_training_data

DEVICE = "Unverified_Figures"


def _binary(X):
    return X > 0


PROBES = {
    "logistic regression (C=0.3)": lambda: LogisticRegression(
        C=0.3, max_iter=3000, class_weight="balanced"
    ),
    "+ every pairwise AND of the cues (C=0.03)": lambda: make_pipeline(
        FunctionTransformer(_binary),
        PolynomialFeatures(2, interaction_only=True, include_bias=False),
        LogisticRegression(C=0.03, max_iter=3000, class_weight="balanced"),
    ),
    "gradient boosting (150 trees, 8 leaves)": lambda: HistGradientBoostingClassifier(
        max_iter=150, learning_rate=0.05, max_leaf_nodes=8, random_state=0
    ),
    "random forest (500 trees)": lambda: RandomForestClassifier(
        500, min_samples_leaf=2, n_jobs=2, random_state=0
    ),
}


def cross_validated(make, X, y, groups, keep=None) -> tuple[float, float, float]:
    """Precision, recall and F1 of out-of-fold predictions; ``keep(train_rows)`` may thin the
    training rows of each fold (the learning curve)."""
    predicted = np.zeros(len(y), dtype=bool)
    for train, test in GroupKFold(n_splits=5).split(X, y, groups):
        if keep is not None:
            train = keep(train)
        inner = cross_val_predict(
            make(), X[train], y[train], groups=groups[train], cv=GroupKFold(4),
            method="predict_proba",
        )[:, 1]  # fmt: skip
        threshold = best_threshold(y[train], inner)
        model = make().fit(X[train], y[train])
        predicted[test] = model.predict_proba(X[test])[:, 1] >= threshold
    return _f1(y.astype(bool), predicted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: the linear probes, two shares, one draw"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    data = load_training_data()
    column = data.devices.index(DEVICE)
    labels = data.indicator()[:, column]
    rows = np.flatnonzero(labels >= 0)
    table = add_neighbour_columns(data.sentences).iloc[rows]
    cues = FigureCues().fit(table)
    X = cues.transform_texts(
        table["text"].tolist(), table["prev_text"].tolist(), table["next_text"].tolist()
    ).toarray()
    y, groups = labels[rows].astype(int), table["document_id"].to_numpy()
    print(f"{len(y)} labeled sentences, {int(y.sum())} positive, {X.shape[1]} cues\n")

    print("1. one set of cues, four models")
    probes = list(PROBES.items())[:2] if args.quick else PROBES.items()
    for name, make in probes:
        precision, recall, f1 = cross_validated(make, X, y, groups)
        print(f"   {name:42s} P {precision:.3f}  R {recall:.3f}  F1 {f1:.3f}")

    print("\n2. logistic regression on part of each training fold's articles (mean of 5 draws)")
    make = PROBES["logistic regression (C=0.3)"]
    for share in (0.4, 1.0) if args.quick else (0.4, 0.6, 0.8, 1.0):
        scores = []
        for seed in range(1 if args.quick or share == 1 else 5):
            rng = np.random.default_rng(seed)

            def keep(train, rng=rng, share=share):
                documents = np.unique(groups[train])
                kept = rng.choice(documents, round(len(documents) * share), replace=False)
                return train[np.isin(groups[train], kept)]

            scores.append(cross_validated(make, X, y, groups, keep)[2])
        print(f"   {share:4.0%} of the articles: F1 {np.mean(scores):.3f}")
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
