"""Inter-annotator agreement between two stand-off label files for one device.

The files are joined on ``(document_id, start, end)``; only sentences labelled in both count.
Prints n, observed agreement, Cohen's kappa, the 2x2 confusion table and every disagreement with
both reasons. With ``--text`` the disagreeing sentence is printed too — to the terminal only: the
corpus is research-only text and never goes into a file of the repository.

Usage:
    python benchmarks/annotation_tools/agreement.py \
        datasets/labels/unverified_figures.tsv \
        datasets/labels/unverified_figures.second_pass.tsv --text
"""

from __future__ import annotations

import argparse
import csv
import textwrap
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from corpus_lines import article_sentences

Key = tuple[str, int, int]


@dataclass(frozen=True)
class Agreement:
    """Agreement figures for two binary label sequences over the same items."""

    n: int
    observed: float
    expected: float
    kappa: float
    confusion: dict[tuple[str, str], int]


def read_labels(path: Path) -> dict[Key, tuple[str, str]]:
    """``(document_id, start, end) -> (label, reason)`` for one stand-off label file."""
    with path.open(encoding="utf-8", newline="") as handle:
        return {
            (row["document_id"], int(row["start"]), int(row["end"])): (row["label"], row["reason"])
            for row in csv.DictReader(handle, delimiter="\t")
        }


def cohen_kappa(first: list[str], second: list[str]) -> Agreement:
    """Observed agreement, chance agreement from each annotator's own label shares, and kappa.

    Kappa is 1.0 when both annotators agree perfectly, even if only one label occurs (the
    chance term would otherwise make it 0/0).
    """
    if len(first) != len(second) or not first:
        raise ValueError("need two non-empty label sequences of the same length")
    n = len(first)
    confusion = Counter(zip(first, second, strict=True))
    observed = sum(count for (a, b), count in confusion.items() if a == b) / n
    first_shares, second_shares = Counter(first), Counter(second)
    expected = sum(first_shares[label] * second_shares[label] for label in first_shares) / n**2
    kappa = 1.0 if expected == 1.0 else (observed - expected) / (1.0 - expected)
    return Agreement(n, observed, expected, kappa, dict(confusion))


def _sentence_text(key: Key) -> str:
    document_id, start, end = key
    for sentence in article_sentences(document_id):
        if (sentence.start, sentence.end) == (start, end):
            return sentence.text
    return "<not found>"


def main() -> None:
    """Join the two files, print the figures and the disagreements."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("first", type=Path, help="first-pass label file")
    parser.add_argument("second", type=Path, help="second-pass label file")
    parser.add_argument("--text", action="store_true", help="print disagreeing sentences")
    args = parser.parse_args()
    first, second = read_labels(args.first), read_labels(args.second)
    shared = sorted(first.keys() & second.keys())
    missing = len(second.keys() - first.keys())
    figures = cohen_kappa([first[k][0] for k in shared], [second[k][0] for k in shared])
    print(
        f"n: {figures.n}"
        + (f"  ({missing} second-pass rows not in the first file)" * bool(missing))
    )
    print(f"observed agreement: {figures.observed:.3f}")
    print(f"chance agreement:   {figures.expected:.3f}")
    print(f"Cohen's kappa:      {figures.kappa:.3f}")
    print()
    print("confusion (rows: first pass, columns: second pass)")
    print("          second=1  second=0")
    for a in ("1", "0"):
        cells = "".join(f"{figures.confusion.get((a, b), 0):>10}" for b in ("1", "0"))
        print(f"first={a} {cells}")
    print()
    disagreements = [k for k in shared if first[k][0] != second[k][0]]
    print(f"disagreements: {len(disagreements)}")
    for key in disagreements:
        (label_a, reason_a), (label_b, reason_b) = first[key], second[key]
        print(
            f"{key[0]}\t{key[1]}\t{key[2]}\tfirst {label_a} {reason_a}\tsecond {label_b} {reason_b}"
        )
        if args.text:
            print(
                textwrap.fill(
                    _sentence_text(key), 110, initial_indent="    ", subsequent_indent="    "
                )
            )
    reason_changes = Counter(
        (first[k][1], second[k][1]) for k in shared if first[k][1] != second[k][1]
    )
    if reason_changes:
        print()
        print("reason differences (first -> second), including same-label ones:")
        for (reason_a, reason_b), count in reason_changes.most_common():
            print(f"    {reason_a} -> {reason_b}: {count}")


if __name__ == "__main__":
    main()
