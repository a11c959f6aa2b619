"""Sentence access for annotation: one non-empty line of a SemEval-2020 article is a sentence.

The corpus is read from ``proplens.config.data_dir()`` and never copied into the repository; the
annotation tools only ever print it to the terminal or write offsets.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from proplens.config import data_dir


@dataclass(frozen=True)
class Sentence:
    """A stripped non-empty article line with its 0-based offsets (utf-8, BOM counts as char 0)."""

    document_id: str
    index: int
    start: int
    end: int
    text: str


def train_articles_dir() -> Path:
    """The SemEval-2020 training articles folder."""
    return data_dir() / "ptc-semeval2020" / "train-articles"


def document_ids() -> list[str]:
    """All training article ids, sorted."""
    return sorted(p.stem.removeprefix("article") for p in train_articles_dir().glob("article*.txt"))


def strip_line(line: str) -> tuple[int, str]:
    """Python-whitespace and BOM stripping of one line; returns (leading chars removed, text)."""
    core = line
    while core != (trimmed := core.strip().strip("\ufeff")):
        core = trimmed
    lead = line.index(core) if core else len(line)
    return lead, core


@cache
def article_sentences(document_id: str) -> tuple[Sentence, ...]:
    """The sentences of one article; decoded as utf-8 (not utf-8-sig) so a BOM keeps its offset."""
    text = (train_articles_dir() / f"article{document_id}.txt").read_text(encoding="utf-8")
    sentences = []
    position = 0
    for line in text.split("\n"):
        # A BOM is not whitespace for str.strip(); strip it too, but keep it in the offsets.
        lead, stripped = strip_line(line)
        if stripped:
            start = position + lead
            sentences.append(
                Sentence(document_id, len(sentences), start, start + len(stripped), stripped)
            )
        position += len(line) + 1
    return tuple(sentences)
