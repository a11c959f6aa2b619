"""Pick sentences to annotate for Unverified_Figures and write their offsets (no text) to a TSV.

Sampling is stratified per article so that labelled sentences spread over many articles and mix
likely positives, likely hard negatives (numbers that are dates, ages, attributed figures...) and
easy negatives (no number at all). The pre-sort is only for sampling; every label is an
annotator's judgement made while reading the sentence with its neighbours (see show_batch.py).

Usage: python select_candidates.py OUT.tsv [--articles 190] [--seed 7]
       python select_candidates.py OUT2.tsv --strong-excluding LABELS.tsv --articles 140
"""

from __future__ import annotations

import argparse
import csv
import random
import re
from pathlib import Path

from corpus_lines import Sentence, article_sentences, document_ids

NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
    r"hundred|thousand|million|billion|trillion|dozen|dozens|hundreds|thousands|millions|billions|"
    r"half|third|quarter|percent|per cent"
)
QUANTITY = re.compile(rf"\d|%|\$|£|€|\b({NUMBER_WORDS})\b", re.IGNORECASE)
YEAR_ONLY = re.compile(r"^\D*((1[89]|20)\d\d\D*)+$")
ATTRIBUTION = re.compile(
    r"according to|\bsaid\b|\bsays\b|\btold\b|reported|\bdata\b|study|survey|poll|estimate|\"|“|”",
    re.IGNORECASE,
)


COUNT_WORDS = (
    r"two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|"
    r"fifty|sixty|seventy|eighty|ninety|hundred"
)
# Signals that usually mean a count, amount or share rather than a date: thousands separators,
# percentages, money, scale words, "N <plural noun>", vague "thousands of".
STRONG_FIGURE = re.compile(
    r"\d{1,3}(,\d{3})+|\d\s?(%|percent|per cent)|[$£€]\s?\d|\d\s?(million|billion|trillion)\b|"
    r"\b(dozens|scores|hundreds|thousands|millions|billions|tens of thousands) of\b|"
    rf"\b(\d{{1,3}}|{COUNT_WORDS})\s+(?!years?\b|months?\b|weeks?\b|days?\b|hours?\b|minutes?\b|"
    r"times\b|decades?\b|of\b)[a-z]+s\b",
    re.IGNORECASE,
)


def strong_figure(sentence: Sentence) -> bool:
    """A likely unattributed figure: a strong figure signal and no attribution word."""
    return bool(STRONG_FIGURE.search(sentence.text)) and not ATTRIBUTION.search(sentence.text)


def stratum(sentence: Sentence) -> str:
    """Coarse sampling bucket: 'none', 'likely-negative' or 'likely-positive'."""
    if not QUANTITY.search(sentence.text):
        return "none"
    if YEAR_ONLY.match(sentence.text) or ATTRIBUTION.search(sentence.text):
        return "likely-negative"
    return "likely-positive"


def select(n_articles: int, seed: int) -> list[Sentence]:
    """Up to 3 likely positives, 2 likely negatives and (every other article) 1 number-free line."""
    rng = random.Random(seed)
    ids = document_ids()
    rng.shuffle(ids)
    chosen: list[Sentence] = []
    for position, document_id in enumerate(ids[:n_articles]):
        buckets: dict[str, list[Sentence]] = {
            "none": [],
            "likely-negative": [],
            "likely-positive": [],
        }
        for sentence in article_sentences(document_id):
            if len(sentence.text) >= 15:
                buckets[stratum(sentence)].append(sentence)
        quota = {"likely-positive": 3, "likely-negative": 2, "none": position % 2}
        for name, sentences in buckets.items():
            chosen.extend(rng.sample(sentences, min(quota[name], len(sentences))))
    return sorted(chosen, key=lambda s: (s.document_id, s.start))


def select_strong(n_articles: int, seed: int, exclude: set[str]) -> list[Sentence]:
    """Second round: 4 strong-figure lines, 1 other number line, 1 number-free line (1 in 3)."""
    rng = random.Random(seed)
    ids = [d for d in document_ids() if d not in exclude]
    rng.shuffle(ids)
    chosen: list[Sentence] = []
    for position, document_id in enumerate(ids[:n_articles]):
        usable = [s for s in article_sentences(document_id) if len(s.text) >= 15]
        # Unattributed strong figures first, then strong figures next to an attribution word.
        strong = [s for s in usable if strong_figure(s)]
        attributed = [s for s in usable if STRONG_FIGURE.search(s.text) and not strong_figure(s)]
        strong = rng.sample(strong, min(4, len(strong)))
        strong += rng.sample(attributed, min(4 - len(strong), len(attributed)))
        chosen_ids = {s.index for s in strong}
        other = [s for s in usable if stratum(s) != "none" and s.index not in chosen_ids]
        plain = [s for s in usable if stratum(s) == "none"]
        for pool, quota in ((strong, 4), (other, 1), (plain, int(position % 3 == 0))):
            chosen.extend(rng.sample(pool, min(quota, len(pool))))
    return sorted(chosen, key=lambda s: (s.document_id, s.start))


def select_unattributed(
    per_article: int, seed: int, exclude: set[tuple[str, int]]
) -> list[Sentence]:
    """Third round: strong-figure lines with no attribution word in them or their neighbours.

    News text attributes most figures, so without this round positives would be too rare.
    """
    rng = random.Random(seed)
    chosen: list[Sentence] = []
    for document_id in document_ids():
        sentences = article_sentences(document_id)
        pool = []
        for s in sentences:
            neighbours = sentences[max(0, s.index - 1) : s.index + 2]
            if (document_id, s.start) in exclude:
                continue
            if strong_figure(s) and not any(ATTRIBUTION.search(n.text) for n in neighbours):
                pool.append(s)
        chosen.extend(rng.sample(pool, min(per_article, len(pool))))
    return sorted(chosen, key=lambda s: (s.document_id, s.start))


def main() -> None:
    """Write the candidate offsets, one row per sentence, in reading order."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--articles", type=int, default=190)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--strong-excluding", type=Path, help="second round; skip these articles")
    parser.add_argument(
        "--unattributed-excluding", type=Path, help="third round; skip these labelled sentences"
    )
    args = parser.parse_args()
    if args.unattributed_excluding:
        with args.unattributed_excluding.open(encoding="utf-8") as handle:
            labelled = {
                (r["document_id"], int(r["start"])) for r in csv.DictReader(handle, delimiter="\t")
            }
        selected = select_unattributed(3, args.seed, labelled)
    elif args.strong_excluding:
        with args.strong_excluding.open(encoding="utf-8") as handle:
            used = {line.split("\t", 1)[0] for line in handle}
        selected = select_strong(args.articles, args.seed, used)
    else:
        selected = select(args.articles, args.seed)
    rows = ["document_id\tindex\tstart\tend\tstratum"]
    for s in selected:
        rows.append(f"{s.document_id}\t{s.index}\t{s.start}\t{s.end}\t{stratum(s)}")
    args.out.write_text("\n".join(rows) + "\n", encoding="utf-8")
    print(f"{len(rows) - 1} candidates written to {args.out}")


if __name__ == "__main__":
    main()
