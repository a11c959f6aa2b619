"""Draw a sample of sentences as they come for Unverified_Figures: sentences with a quantity-like
token, from the SemEval-2020 training articles that hold no labelled sentence yet (the fresh test
sample) or, with ``--within-labelled``, the other sentences of the articles that do (training
labels drawn like the test sample, without touching its articles).

The figure cues of revision 3 were written from the errors of the 895 labelled sentences, so
their CV figures on those sentences are optimistic. A sample from other articles, labelled blind
to any model, measures the cues where no rule was written from. Writes offsets only
(``document_id, index, start, end``, the candidate format of ``show_batch.py``).

Usage: python fresh_sample.py OUT.tsv [--size 200] [--seed 2026] [--within-labelled]
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

from corpus_lines import article_sentences, document_ids
from select_candidates import QUANTITY, YEAR_ONLY

LABELS = Path(__file__).resolve().parents[2] / "datasets/labels/unverified_figures.tsv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--within-labelled", action="store_true", help="unlabelled sentences of labelled articles"
    )
    args = parser.parse_args()
    with LABELS.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    labelled = {row["document_id"] for row in rows}
    taken = {(row["document_id"], int(row["start"])) for row in rows}
    pool = [
        sentence
        for document_id in document_ids()
        if (document_id in labelled) == args.within_labelled
        for sentence in article_sentences(document_id)
        if QUANTITY.search(sentence.text)
        and not YEAR_ONLY.match(sentence.text)
        and (sentence.document_id, sentence.start) not in taken
    ]
    sample = sorted(
        random.Random(args.seed).sample(pool, args.size),
        key=lambda s: (s.document_id, s.index),
    )
    with args.out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["document_id", "index", "start", "end"])
        writer.writerows((s.document_id, s.index, s.start, s.end) for s in sample)
    articles = len({s.document_id for s in sample})
    print(f"{len(sample)} sentences from {articles} articles (pool {len(pool)}) -> {args.out}")


if __name__ == "__main__":
    main()
