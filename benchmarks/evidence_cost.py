"""How much does evidence cost? Scores the unlabeled SemEval-2020 test articles with and without
evidence, in one run, and prints the ratio (issue target: <= 1.5x).

    python benchmarks/evidence_cost.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import proplens
from proplens.corpus import read_semeval2020


def main() -> None:
    # the docstring's first paragraph, on one line and without reST markup
    description = " ".join(__doc__.split("\n\n")[0].replace("``", "").split())
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    texts = list(read_semeval2020(split="test").documents.values())
    model = proplens.load_model()
    model.score_many(texts[:5])  # warm-up
    timings: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.repeats):
        for evidence in (False, True):  # interleaved, so machine load hits both alike
            started = time.perf_counter()
            results = [model.score(text, evidence=evidence) for text in texts]
            timings[evidence].append(time.perf_counter() - started)
    sentences = sum(len(r.sentences) for r in results)
    without, with_ = statistics.median(timings[False]), statistics.median(timings[True])
    print(f"articles {len(texts)}  sentences {sentences}  repeats {args.repeats} (median)")
    print(f"without evidence  {without:.3f} s  ({sentences / without:,.0f} sentences/s)")
    print(f"with evidence     {with_:.3f} s  ({sentences / with_:,.0f} sentences/s)")
    print(f"ratio             {with_ / without:.2f}x")


if __name__ == "__main__":
    main()
