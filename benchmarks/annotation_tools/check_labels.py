"""Check a stand-off sentence label file against the corpus and print its counts.

Every row must point at exactly one stripped non-empty line of its article (utf-8, BOM counted
as character 0), rows must be unique and sorted, labels 0/1, and no cell may hold corpus text
(a reason is a short code). Exit status 1 on any problem, so the script can guard commits.

Usage: python benchmarks/annotation_tools/check_labels.py datasets/labels/unverified_figures.tsv
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from pathlib import Path

from corpus_lines import article_sentences, train_articles_dir

HEADER = ["document_id", "start", "end", "device", "label", "reason"]
HARD_NEGATIVE_EXCLUDED = {"no-quantity"}


def check(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Problems found (one line each, naming the file line) and the parsed rows."""
    problems: list[str] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = next(reader, None)
        if header != HEADER:
            return [f"{path}:1: header must be {HEADER}, got {header}"], []
        rows = []
        for line_number, cells in enumerate(reader, start=2):
            if len(cells) != len(HEADER):
                problems.append(f"{path}:{line_number}: expected 6 columns, got {len(cells)}")
                continue
            row = dict(zip(HEADER, cells, strict=True))
            row["line"] = str(line_number)
            rows.append(row)
    keys = []
    for row in rows:
        where = f"{path}:{row['line']}"
        if not (train_articles_dir() / f"article{row['document_id']}.txt").is_file():
            problems.append(f"{where}: no article {row['document_id']}")
            continue
        try:
            start, end = int(row["start"]), int(row["end"])
        except ValueError:
            problems.append(f"{where}: start/end must be integers")
            continue
        spans = {(s.start, s.end) for s in article_sentences(row["document_id"])}
        if (start, end) not in spans:
            problems.append(f"{where}: {start}-{end} is not a stripped non-empty line")
        if row["label"] not in {"0", "1"}:
            problems.append(f"{where}: label must be 0 or 1")
        if not row["reason"] or " " in row["reason"] or len(row["reason"]) > 40:
            problems.append(f"{where}: reason must be a short code")
        keys.append((row["document_id"], start))
    if len(set(keys)) != len(keys):
        problems.append(f"{path}: duplicate sentences")
    if keys != sorted(keys):
        problems.append(f"{path}: rows are not sorted by document_id, start")
    return problems, rows


def main() -> int:
    """Print problems (if any) and the label/reason counts."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("labels", type=Path)
    args = parser.parse_args()
    problems, rows = check(args.labels)
    for problem in problems:
        print(problem, file=sys.stderr)
    labels = Counter(row["label"] for row in rows)
    reasons = Counter((row["label"], row["reason"]) for row in rows)
    devices = Counter(row["device"] for row in rows)
    total = len(rows)
    hard = sum(
        n
        for (label, reason), n in reasons.items()
        if label == "0" and reason not in HARD_NEGATIVE_EXCLUDED
    )
    articles = len({row["document_id"] for row in rows})
    print(f"rows: {total}  articles: {articles}  devices: {dict(devices)}")
    for label in ("1", "0"):
        share = labels[label] / total if total else 0.0
        print(f"label {label}: {labels[label]} ({share:.1%})")
        for (lab, reason), n in sorted(reasons.items(), key=lambda item: -item[1]):
            if lab == label:
                print(f"    {reason:<22} {n}")
    print(
        f"hard negatives (label 0 with a quantity-like token): {hard} ({hard / max(total, 1):.1%})"
    )
    print("OK" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
