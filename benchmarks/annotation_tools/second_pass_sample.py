"""Draw a blind sample of labelled sentences for an independent second annotation pass.

The sample is stratified on the first-pass label so it keeps the file's positive/negative mix,
but the labels and reasons are never written or printed: the sample file holds only
``document_id, start, end`` and the rows are sorted by position, so the second annotator cannot
tell which stratum a row came from. Each sentence is printed to the terminal with its previous and
next sentence; write the sample file outside the repository (it is scratch, not data).

Usage:
    python benchmarks/annotation_tools/second_pass_sample.py OUT.tsv [--size 150] [--seed 20200]
"""

from __future__ import annotations

import argparse
import csv
import random
import textwrap
from pathlib import Path

from corpus_lines import article_sentences

DEFAULT_LABELS = Path(__file__).resolve().parents[2] / "datasets/labels/unverified_figures.tsv"
SAMPLE_HEADER = ["document_id", "start", "end"]


def stratified_sample(
    rows: list[dict[str, str]], size: int, seed: int
) -> list[tuple[str, int, int]]:
    """``size`` sentence keys drawn per label in proportion to the label shares, sorted by position.

    Largest-remainder rounding keeps the total exactly ``size``. The returned keys carry no label.
    """
    by_label: dict[str, list[tuple[str, int, int]]] = {}
    for row in rows:
        key = (row["document_id"], int(row["start"]), int(row["end"]))
        by_label.setdefault(row["label"], []).append(key)
    total = len(rows)
    quotas = {label: size * len(keys) // total for label, keys in by_label.items()}
    remainders = sorted(by_label, key=lambda label: -(size * len(by_label[label]) % total) / total)
    for label in remainders[: size - sum(quotas.values())]:
        quotas[label] += 1
    rng = random.Random(seed)
    sample: list[tuple[str, int, int]] = []
    for label in sorted(by_label):
        sample.extend(rng.sample(sorted(by_label[label]), quotas[label]))
    return sorted(sample)


def _neighbour(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def show(sample: list[tuple[str, int, int]]) -> None:
    """Print each sampled sentence with its previous and next sentence (terminal only)."""
    for number, (document_id, start, end) in enumerate(sample):
        sentences = article_sentences(document_id)
        index = next(s.index for s in sentences if (s.start, s.end) == (start, end))
        previous = sentences[index - 1].text if index > 0 else "<start>"
        following = sentences[index + 1].text if index + 1 < len(sentences) else "<end>"
        print(f"#{number} ({document_id} {start}-{end}, line {index})")
        print("   P: " + _neighbour(previous))
        print(
            textwrap.fill(
                sentences[index].text, 110, initial_indent=" >> ", subsequent_indent="    "
            )
        )
        print("   N: " + _neighbour(following))
        print()


def main() -> None:
    """Write the blind sample to OUT and print it with context."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path, help="scratch file outside the repository")
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS)
    parser.add_argument("--size", type=int, default=150)
    parser.add_argument("--seed", type=int, default=20200)
    parser.add_argument("--quiet", action="store_true", help="write the sample, print nothing")
    args = parser.parse_args()
    with args.labels.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    sample = stratified_sample(rows, args.size, args.seed)
    with args.out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(SAMPLE_HEADER)
        writer.writerows(sample)
    if not args.quiet:
        show(sample)


if __name__ == "__main__":
    main()
