"""Merge the annotator's decisions with the candidate offsets into the stand-off label TSV.

A decisions file holds ``number code`` pairs (several per line allowed): number is the
candidate's row number shown by show_batch.py, code a reason code of the guideline (or its short
alias below). Several candidate/decision file pairs may be merged into one output.
The output holds offsets and labels only, never corpus text.

Usage: python build_labels.py OUT.tsv CANDIDATES.tsv DECISIONS.txt [CANDIDATES2 DECISIONS2 ...]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

POSITIVE = {
    "c": "unattributed-count",
    "m": "unattributed-amount",
    "p": "unattributed-percent",
    "v": "vague-quantity",
}
NEGATIVE = {
    "n": "no-quantity",
    "d": "date",
    "t": "time-expression",
    "a": "age",
    "o": "ordinal",
    "nm": "name-number",
    "id": "identifier",
    "w": "non-quantity-word",
    "r": "reference-count",
    "i": "incidental-count",
    "na": "not-asserted",
    "q": "quoted",
    "at": "attributed",
}
DEVICE = "Unverified_Figures"


def decode(code: str) -> tuple[int, str]:
    """(label, reason) for a short or full reason code."""
    for label, table in ((1, POSITIVE), (0, NEGATIVE)):
        if code in table:
            return label, table[code]
        if code in table.values():
            return label, code
    raise ValueError(f"unknown reason code {code!r}")


def read_decisions(
    candidates_path: Path, decisions_path: Path
) -> list[tuple[str, int, int, int, str]]:
    """(document_id, start, end, label, reason) for every judged candidate of one file pair."""
    with candidates_path.open(encoding="utf-8") as handle:
        candidates = list(csv.DictReader(handle, delimiter="\t"))
    rows = []
    seen: set[str] = set()
    for line_number, line in enumerate(decisions_path.read_text(encoding="utf-8").splitlines(), 1):
        tokens = line.split("#", 1)[0].split()
        # Several "number code" pairs may share a line to keep the decisions file compact.
        for number, code in zip(tokens[::2], tokens[1::2], strict=True):
            if number in seen:
                raise ValueError(f"{decisions_path}:{line_number}: candidate {number} judged twice")
            seen.add(number)
            label, reason = decode(code)
            c = candidates[int(number)]
            rows.append((c["document_id"], int(c["start"]), int(c["end"]), label, reason))
    return rows


def main() -> None:
    """Write the sorted label file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("pairs", type=Path, nargs="+", help="CANDIDATES DECISIONS ...")
    args = parser.parse_args()
    rows: list[tuple[str, int, int, int, str]] = []
    for candidates_path, decisions_path in zip(args.pairs[::2], args.pairs[1::2], strict=True):
        rows += read_decisions(candidates_path, decisions_path)
    if len({row[:3] for row in rows}) != len(rows):
        raise ValueError("the same sentence was labelled twice")
    rows.sort()
    lines = ["document_id\tstart\tend\tdevice\tlabel\treason"]
    lines += [f"{d}\t{s}\t{e}\t{DEVICE}\t{lab}\t{r}" for d, s, e, lab, r in rows]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(rows)} labels written to {args.out}")


if __name__ == "__main__":
    main()
