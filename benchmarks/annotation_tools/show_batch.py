"""Print a batch of candidate sentences with their previous and next sentence, for reading only.

Quantity-like tokens in the target sentence are bracketed to speed up reading; the annotator
still reads the whole context and decides. Nothing is written to disk.

Usage: python show_batch.py CANDIDATES.tsv BATCH [--size 40]
"""

from __future__ import annotations

import argparse
import csv
import re
import textwrap
from pathlib import Path

from corpus_lines import article_sentences
from select_candidates import NUMBER_WORDS

# what is bracketed for the reader: a whole number ("[1,200]", not "[1][,][2][0][0]"), a symbol
# or a number word; the selection itself uses select_candidates.QUANTITY
MARKED = re.compile(rf"\d(?:[\d,.]*\d)?|%|\$|£|€|\b(?:{NUMBER_WORDS})\b", re.IGNORECASE)


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def main() -> None:
    """Show rows BATCH*size .. (BATCH+1)*size-1 of the candidate file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("candidates", type=Path)
    parser.add_argument("batch", type=int)
    parser.add_argument("--size", type=int, default=40)
    args = parser.parse_args()
    with args.candidates.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    first = args.batch * args.size
    for number, row in enumerate(rows[first : first + args.size], start=first):
        sentences = article_sentences(row["document_id"])
        index = int(row["index"])
        previous = sentences[index - 1].text if index > 0 else "<start>"
        following = sentences[index + 1].text if index + 1 < len(sentences) else "<end>"
        marked = MARKED.sub(lambda m: f"[{m.group(0)}]", sentences[index].text)
        print(f"#{number} ({row['document_id']} line {index})")
        print("   P: " + _short(previous))
        print(textwrap.fill(marked, 110, initial_indent=" >> ", subsequent_indent="    "))
        print("   N: " + _short(following))
        print()


if __name__ == "__main__":
    main()
