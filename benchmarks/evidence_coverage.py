"""How many labels have evidence: per device, the share of sentence labels that the default model
(or ``--model``) explains with at least one phrase, on the SemEval-2020 test articles.

    PROPLENS_DATA=../shared/data python benchmarks/evidence_coverage.py [--limit N] [--model M]

Prints figures only, never corpus text.
"""

from __future__ import annotations

import argparse
from collections import Counter

import proplens
from proplens.corpus import read_semeval2020


def main() -> None:
    # the docstring's first paragraph, on one line and without reST markup
    description = " ".join(__doc__.split("\n\n")[0].replace("``", "").split())
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--limit", type=int, default=None, help="score only the first N articles")
    parser.add_argument("--model", default=None, help="model name, NAME@VERSION or folder")
    args = parser.parse_args()
    texts = list(read_semeval2020(split="test", dedupe=True).documents.values())[: args.limit]
    model = proplens.load_model(args.model)
    labels, explained = Counter(), Counter()
    for result in model.score_many(texts, evidence=True):
        for sentence in result.sentences:
            shown = {e.device for e in sentence.evidence}
            for device in sentence.labels:
                labels[device] += 1
                explained[device] += device in shown
    print(f"{model.name}@{model.version}, {len(texts)} test articles")
    print(f"{'device':<40} {'labels':>7} {'explained':>9} {'share':>6}")
    for device, count in labels.most_common():
        print(f"{device:<40} {count:>7} {explained[device]:>9} {explained[device] / count:>6.3f}")
    total, shown = sum(labels.values()), sum(explained.values())
    print(f"{'all labels':<40} {total:>7} {shown:>9} {shown / max(total, 1):>6.3f}")


if __name__ == "__main__":
    main()
