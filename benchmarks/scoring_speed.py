"""Scoring speed, one thread: latency of a 40-sentence article and score_many throughput.

Prints, for the default model (or ``--model``):

- the latency of ``Model.score`` on a 40-sentence article without and with evidence (median and
  p90), the article being the first 40 non-empty lines of the SemEval-2020 test articles;
- the throughput of ``Model.score_many`` over the 89 SemEval-2020 test articles (sentences/s),
  without and with evidence;
- the same two figures for a plain scikit-learn reference measured in the same run: the model's
  own fitted word (1-2) and char_wb (2-5) vocabularies transformed by scikit-learn's
  ``TfidfVectorizer.transform``, then the linear layer (the same product a LogisticRegression's
  ``decision_function`` computes), after the same segmentation. It needs no training and has the
  vocabulary sizes of the real model; ratios to it are robust to machine load, absolute times are
  not (the figures are printed with the load average).

Everything runs in one thread (``threadpoolctl``), proplens and reference interleaved so that
load from other jobs hits both alike.

    python benchmarks/scoring_speed.py [--repeats 5] [--latency-runs 60] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from threadpoolctl import threadpool_limits

import proplens
from proplens.corpus import read_semeval2020
from proplens.segment import segment


class PlainReference:
    """Segmentation + scikit-learn's TF-IDF transforms + one linear layer, on fitted state."""

    def __init__(self, model):
        classifier = model.sentence_model
        blocks = dict(classifier.features_.transformer_list)
        self.words = blocks["words"].named_steps["tfidf"]
        self.chars = blocks["chars"].named_steps["tfidf"]
        slices = classifier.block_slices_
        self.coef = np.vstack(
            [classifier.coef_[slices["words"]], classifier.coef_[slices["chars"]]]
        )
        self.intercept = classifier.intercept_

    def score_many(self, texts):
        sentences = [s.text for text in texts for s in segment(text)]
        # scikit-learn's own transform (the model's vectorizers subclass TfidfVectorizer)
        features = sparse.hstack(
            [
                TfidfVectorizer.transform(self.words, sentences),
                TfidfVectorizer.transform(self.chars, sentences),
            ],
            format="csr",
        )
        return 1.0 / (1.0 + np.exp(-(features @ self.coef + self.intercept)))


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def article_of(texts: list[str], sentences: int = 40) -> str:
    lines = [line for text in texts for line in text.splitlines() if line.strip()]
    return "\n".join(lines[:sentences])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model directory (default: current)")
    parser.add_argument("--repeats", type=int, default=5, help="score_many runs (median)")
    parser.add_argument("--latency-runs", type=int, default=60, help="score() runs per system")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if not (1 <= args.repeats <= 50 and 5 <= args.latency_runs <= 1000):
        parser.error("keep to 1-50 repeats and 5-1000 latency runs")

    model = proplens.load_model(args.model)
    reference = PlainReference(model)
    texts = list(read_semeval2020(split="test").documents.values())
    article = article_of(texts)
    n_article = len(segment(article))
    n_sentences = sum(len(segment(text)) for text in texts)

    with threadpool_limits(1):
        for _ in range(3):  # warm-up: lazily built look-up tables, caches, allocator
            model.score(article)
            reference.score_many([article])
        model.score_many(texts)
        latency = {"proplens": [], "proplens, evidence": [], "reference": []}
        for _ in range(args.latency_runs):
            latency["proplens"].append(timed(lambda: model.score(article, evidence=False)))
            latency["proplens, evidence"].append(timed(lambda: model.score(article, evidence=True)))
            latency["reference"].append(timed(lambda: reference.score_many([article])))
        batch = {"proplens": [], "proplens, evidence": [], "reference": []}
        for _ in range(args.repeats):
            batch["proplens"].append(timed(lambda: model.score_many(texts)))
            batch["proplens, evidence"].append(
                timed(lambda: model.score_many(texts, evidence=True))
            )
            batch["reference"].append(timed(lambda: reference.score_many(texts)))

    def ms(values, share):
        return round(1000 * float(np.quantile(values, share)), 2)

    figures = {
        "article_sentences": n_article,
        "latency_ms": {
            name: {"median": ms(values, 0.5), "p90": ms(values, 0.9)}
            for name, values in latency.items()
        },
        "throughput_articles": len(texts),
        "throughput_sentences": n_sentences,
        "throughput_sentences_per_s": {
            name: round(n_sentences / statistics.median(values)) for name, values in batch.items()
        },
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    rates = figures["throughput_sentences_per_s"]
    figures["ratios_to_reference"] = {
        "latency_median": round(
            figures["latency_ms"]["proplens"]["median"]
            / figures["latency_ms"]["reference"]["median"],
            2,
        ),
        "throughput": round(rates["proplens"] / rates["reference"], 2),
        "throughput_with_evidence": round(rates["proplens, evidence"] / rates["reference"], 2),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    lat = figures["latency_ms"]
    print(
        f"one thread; load average {figures['load_average_1min']} (other jobs skew absolute times)"
    )
    print(f"Model.score, {n_article}-sentence article ({args.latency_runs} runs):")
    for name, values in lat.items():
        print(f"  {name:<20} median {values['median']} ms  p90 {values['p90']} ms")
    print(
        f"Model.score_many, {len(texts)} test articles, {n_sentences} sentences (median of "
        f"{args.repeats}):"
    )
    for name, rate in rates.items():
        print(f"  {name:<20} {rate:>7,} sentences/s")
    ratios = figures["ratios_to_reference"]
    print(
        f"ratios to the reference: latency {ratios['latency_median']}x, throughput "
        f"{ratios['throughput']}x ({ratios['throughput_with_evidence']}x with evidence)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
