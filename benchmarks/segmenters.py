"""Compare sentence segmenters on the SemEval-2020 PTC train articles: speed and boundary agreement.

Run from a checkout; the corpus is read through ``proplens.config.data_dir()`` (``PROPLENS_DATA``)::

    python benchmarks/segmenters.py            # all candidates, all 371 articles
    python benchmarks/segmenters.py --max-articles 50 --skip pysbd

The PTC articles hold one sentence per line (NLTK Punkt output), with blank lines between
paragraphs. Each blank-line block's non-empty lines are joined with one space into a paragraph,
every candidate segments the paragraphs, and a predicted sentence start counts as a hit when it is
the start of one of the original lines. Speed is sentences per second on those paragraphs (one
core, best of ``--repeat`` runs for the fast candidates). The last row times ``segment`` on the
article files as they are, one sentence per line, as the scoring pipeline sees PTC text.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from proplens.config import data_dir
from proplens.segment import segment

Segmenter = Callable[[str], list[int]]  # text -> start offsets of its sentences


@dataclass(frozen=True)
class Paragraph:
    text: str
    gold_starts: frozenset[int]  # offsets of lines 2..n in the joined paragraph


def article_paths(root: Path, max_articles: int | None = None) -> list[Path]:
    """The SemEval-2020 train article files, sorted, or a clear error if the corpus is missing."""
    folder = root / "ptc-semeval2020" / "train-articles"
    paths = sorted(folder.glob("article*.txt"))
    if not paths:
        sys.exit(f"error: no articles in {folder}; set PROPLENS_DATA to the corpus root")
    return paths[:max_articles]


def paragraphs_from_article(article: str) -> list[Paragraph]:
    """Join each blank-line block's non-empty lines with a space; remember where each line began."""
    paragraphs = []
    for block in article.split("\n\n"):
        lines = [line for line in block.split("\n") if line.strip()]
        if not lines:
            continue
        starts, offset = [], 0
        for line in lines[:-1]:
            offset += len(line) + 1
            starts.append(offset)
        paragraphs.append(Paragraph(" ".join(lines), frozenset(starts)))
    return paragraphs


def boundary_scores(
    paragraphs: list[Paragraph], starts_of: Segmenter
) -> tuple[float, float, float]:
    """Precision, recall and F1 of predicted sentence starts (after the first) against the lines."""
    hits = predicted = gold = 0
    for paragraph in paragraphs:
        text = paragraph.text
        found = set()
        for start in starts_of(text):
            while start < len(text) and text[start].isspace():
                start += 1
            if 0 < start < len(text):
                found.add(start)
        hits += len(found & paragraph.gold_starts)
        predicted += len(found)
        gold += len(paragraph.gold_starts)
    precision = hits / predicted if predicted else 0.0
    recall = hits / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def sentences_per_second(texts: list[str], starts_of: Segmenter, repeat: int) -> float:
    """Best-of-``repeat`` throughput; slow candidates (> 5 s a pass) run once."""
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        count = sum(len(starts_of(text)) for text in texts)
        best = min(best, time.perf_counter() - began)
        if best > 5:
            break
    return count / best


def proplens_starts(text: str) -> list[int]:
    return [sentence.start for sentence in segment(text)]


def candidates() -> dict[str, Segmenter]:
    """Every segmenter that is installed, by display name."""
    found: dict[str, Segmenter] = {"proplens (blingfire + rules)": proplens_starts}
    try:
        import blingfire

        def blingfire_starts(text: str) -> list[int]:
            return [start for start, _ in blingfire.text_to_sentences_and_offsets(text)[1]]

        found["blingfire text_to_sentences_and_offsets"] = blingfire_starts
    except ImportError:
        pass
    try:
        from nltk.tokenize.punkt import PunktSentenceTokenizer

        punkt = PunktSentenceTokenizer()  # untrained: NLTK's data cannot be downloaded here

        def punkt_starts(text: str) -> list[int]:
            return [start for start, _ in punkt.span_tokenize(text)]

        found["nltk Punkt (untrained)"] = punkt_starts
    except ImportError:
        pass
    try:
        import syntok.segmenter

        def syntok_starts(text: str) -> list[int]:
            return [
                sentence[0].offset
                for paragraph in syntok.segmenter.analyze(text)
                for sentence in paragraph
            ]

        found["syntok"] = syntok_starts
    except ImportError:
        pass
    try:
        import pysbd

        pysbd_segmenter = pysbd.Segmenter(language="en", clean=False, char_span=True)

        def pysbd_starts(text: str) -> list[int]:
            return [span.start for span in pysbd_segmenter.segment(text)]

        found["pysbd (char_span)"] = pysbd_starts
    except ImportError:
        pass
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-articles", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3, help="timing runs for fast candidates")
    parser.add_argument("--skip", action="append", default=[], help="skip names containing this")
    args = parser.parse_args(argv)

    paths = article_paths(data_dir(), args.max_articles)
    articles = [path.read_text(encoding="utf-8") for path in paths]  # not utf-8-sig: BOM is char 0
    paragraphs = [p for article in articles for p in paragraphs_from_article(article)]
    texts = [p.text for p in paragraphs]
    gold_sentences = sum(len(p.gold_starts) + 1 for p in paragraphs)
    print(
        f"{len(paths)} articles, {len(paragraphs)} paragraphs, {gold_sentences} gold sentences, "
        f"{sum(map(len, texts))} characters"
    )
    print()
    print("| segmenter | precision | recall | F1 | sentences/s | µs/sentence |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, starts_of in candidates().items():
        if any(skip.lower() in name.lower() for skip in args.skip):
            continue
        precision, recall, f1 = boundary_scores(paragraphs, starts_of)
        speed = sentences_per_second(texts, starts_of, args.repeat)
        print(
            f"| {name} | {precision:.3f} | {recall:.3f} | {f1:.3f} | {speed:,.0f} | "
            f"{1e6 / speed:.1f} |"
        )
    speed = sentences_per_second(articles, proplens_starts, args.repeat)
    print(
        f"| proplens (articles, one sentence per line) | - | - | - | {speed:,.0f} | "
        f"{1e6 / speed:.1f} |"
    )


if __name__ == "__main__":
    main()
