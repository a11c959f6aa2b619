"""Technique classification (SemEval-2020 TC) on gold spans: what each span feature buys.

5-fold cross-validation grouped by article over the 6,128 gold spans of the SemEval-2020 training
articles, the folds of ``proplens evaluate`` (``proplens.evaluation.cross_validate_spans``); every
feature is unsupervised or fit inside the training fold. Prints micro-F1 (= accuracy) per variant
and, with ``--per-device``, each device's F1. Never prints corpus text.

    PROPLENS_DATA=../shared/data python benchmarks/tc_ablation.py [--variants v8,v9] [--per-device]

Variants: ``v8`` (the span features of models v1-v8), ``occurrences`` and ``neighbours`` (v8 plus
one of v9's two additions), ``v9`` (the span features of v9-v11), two that were measured and
not shipped: ``other-spans`` (v9 plus where the input's other spans lie around this one, which
the one-span ``classify_span`` cannot see) and ``stacked`` (a multinomial second stage on the
one-vs-rest scores of an inner grouped cross-validation; six fits per model), and the static
word vectors (``proplens.word_vectors.SpanWordVectors``): ``v9+span-vectors`` (the span's, at
weight 1.0, or ``-0.5``), ``v12`` (the shipped features: the span's at 1.0 and its sentence's at
0.5) and ``v12-lowercase`` (the same reading lower-case words only, as the sentence model does).
``--group-by story`` keeps related stories in one fold.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from bench import add_group_by_option
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import FeatureUnion

from proplens.evaluation import cross_validate_spans
from proplens.features import make_span_features
from proplens.model import SpanClassifier
from proplens.training import load_training_data
from proplens.word_vectors import SpanWordVectors

V9_ADDITIONS = {"occurrences": ("occurrences",), "neighbours": ("left", "right")}


def span_features(drop=(), extra=()) -> FeatureUnion:
    """The shipped span features without the blocks ``drop``, plus ``extra``: (name, block,
    weight) triples."""
    union = make_span_features()
    blocks = [(n, b) for n, b in union.transformer_list if n not in drop]
    weights = {n: w for n, w in union.transformer_weights.items() if n not in drop}
    for name, block, weight in extra:
        blocks.append((name, block))
        weights[name] = weight
    return FeatureUnion(blocks, transformer_weights=weights)


class OtherSpans(TransformerMixin, BaseEstimator):
    """How the input's other spans of the same document lie around each span: the same offsets
    (a span labeled twice), inside it, around it, crossing it."""

    def fit(self, X, y=None):
        return self

    def transform(self, X: pd.DataFrame):
        by_document: dict = {}
        for document, start, end in zip(X["document_id"], X["start"], X["end"], strict=True):
            by_document.setdefault(document, []).append((start, end))
        rows = []
        for document, start, end in zip(X["document_id"], X["start"], X["end"], strict=True):
            others = list(by_document[document])
            others.remove((start, end))
            same = sum(1 for span in others if span == (start, end))
            inside = sum(1 for a, b in others if start <= a and b <= end and (a, b) != (start, end))
            around = sum(1 for a, b in others if a <= start and end <= b and (a, b) != (start, end))
            cross = sum(1 for a, b in others if a < end and start < b) - same - inside - around
            rows.append(
                (same > 0, np.log1p(inside), inside > 0, np.log1p(around), around > 0, cross > 0)
            )
        return sparse.csr_matrix(np.array(rows, dtype=float).reshape(len(rows), 6))


class StackedSpanClassifier(ClassifierMixin, BaseEstimator):
    """A multinomial regression on the one-vs-rest scores of an inner grouped CV."""

    def __init__(self, folds: int = 5):
        self.folds = folds

    def fit(self, X: pd.DataFrame, y):
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        column = {c: i for i, c in enumerate(self.classes_)}
        scores = np.zeros((len(X), len(self.classes_)))
        inner = GroupKFold(self.folds).split(X, y, X["document_id"].to_numpy())
        for train, test in inner:
            model = SpanClassifier().fit(X.iloc[train], y[train])
            columns = [column[c] for c in model.classes_]
            scores[np.ix_(test, columns)] = self._scores(model, X.iloc[test])
        self.first_ = SpanClassifier().fit(X, y)
        self.second_ = LogisticRegression(max_iter=2000).fit(scores, y)
        return self

    @staticmethod
    def _scores(model: SpanClassifier, X) -> np.ndarray:
        return model.model_.decision_function(model.features_.transform(X))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.second_.predict(self._scores(self.first_, X))


#: the blocks v12 added to v9's span features
V12_ADDITIONS = ("vectors", "sentence_vectors")


def v9_features(extra=()) -> FeatureUnion:
    return span_features(drop=V12_ADDITIONS, extra=extra)


VARIANTS = {
    "v8": lambda: SpanClassifier(
        features=span_features(drop=("occurrences", "left", "right", *V12_ADDITIONS))
    ),
    "occurrences": lambda: SpanClassifier(
        features=span_features(drop=("left", "right", *V12_ADDITIONS))
    ),
    "neighbours": lambda: SpanClassifier(
        features=span_features(drop=("occurrences", *V12_ADDITIONS))
    ),
    "v9": lambda: SpanClassifier(features=v9_features()),
    "other-spans": lambda: SpanClassifier(
        features=v9_features(extra=[("other_spans", OtherSpans(), 1.0)])
    ),
    "stacked": StackedSpanClassifier,
    "v9+span-vectors": lambda: SpanClassifier(
        features=v9_features(extra=[("vectors", SpanWordVectors("span"), 1.0)])
    ),
    "v9+span-vectors-0.5": lambda: SpanClassifier(
        features=v9_features(extra=[("vectors", SpanWordVectors("span"), 0.5)])
    ),
    "v12": SpanClassifier,
    "v12-lowercase": lambda: SpanClassifier(
        features=v9_features(
            extra=[
                ("vectors", SpanWordVectors("span", lowercase_only=True), 1.0),
                ("sentence_vectors", SpanWordVectors("sentence", lowercase_only=True), 0.5),
            ]
        )
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    parser.add_argument("--per-device", action="store_true", help="also each device's F1")
    add_group_by_option(parser)
    args = parser.parse_args()
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    spans = load_training_data().spans.reset_index(drop=True)
    articles = spans["document_id"].nunique()
    print(f"{len(spans)} gold spans, {articles} articles, 5 folds by {args.group_by}\n")
    print("| variant | TC micro-F1 | seconds |\n|---|---|---|")
    per_device = {}
    for name in names:
        started = time.perf_counter()
        micro, table, _ = cross_validate_spans(
            spans, make_estimator=VARIANTS[name], group_by=args.group_by
        )
        print(f"| {name} | {micro:.4f} | {time.perf_counter() - started:.0f} |", flush=True)
        per_device[name] = table["f1"]
    if args.per_device:
        table = pd.DataFrame(per_device).round(3)
        print("\n| device | " + " | ".join(table.columns) + " |")
        print("|---" * (len(table.columns) + 1) + "|")
        for device, row in table.iterrows():
            print(f"| {device} | " + " | ".join(f"{v:.3f}" for v in row) + " |")


if __name__ == "__main__":
    main()
