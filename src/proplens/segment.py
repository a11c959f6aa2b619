"""Split arbitrary text into sentences whose offsets slice back into the text exactly.

Why this design (measured in ``docs/segmentation.md``, reproduced by ``benchmarks/segmenters.py``):

1. Every line break is a boundary. News pasted from web pages has one paragraph per line, the PTC
   corpus has one sentence per line, and titles rarely end in punctuation.
2. Inside the text, the boundaries come from Bling Fire's sentence breaker (a compiled finite-state
   model): it is about as accurate as pysbd and syntok on PTC and ten to a hundred times faster.
   It is called once per document through its C entry point, so that the cost per sentence stays at
   a few microseconds (its Python wrapper maps offsets byte by byte and costs more than the model).
3. A small post-processing layer fixes the one systematic error found on PTC: Bling Fire attaches a
   title such as ``Mr.`` or ``Dr.`` to the preceding sentence (or leaves it alone) instead of to the
   name after it.

The library's boundaries are used only as cut points: the text between two cuts is stripped of
surrounding whitespace and becomes a sentence, so every non-whitespace character lands in exactly
one sentence whatever the library returns. A zero-width no-break space (U+FEFF, the BOM), a
zero-width space (U+200B) and a word joiner (U+2060) count as whitespace: they never start or end a
sentence, and they do not shift any offset because the text is never re-encoded or trimmed.

>>> [s.text for s in segment("Dr. Ilse Varga arrived at 9.30 a.m. on Monday. She left.")]
['Dr. Ilse Varga arrived at 9.30 a.m. on Monday.', 'She left.']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from ctypes import byref, c_char_p, c_int, c_int32, create_string_buffer
from dataclasses import dataclass

import blingfire

from proplens.errors import InputError

__all__ = [
    "Sentence",
    "is_blank_char",
    "segment",
    "segment_many",
    "sentence_spans",
    "split_sentences",
]


@dataclass(frozen=True)
class Sentence:
    """One sentence: its position in the document and its character span in the input ``str``."""

    index: int
    start: int
    end: int
    text: str


# Characters that are invisible noise rather than content. They are treated like whitespace by
# mapping them to a space in a same-length working copy of the text, so offsets never move.
_INVISIBLE_NOISE = "\ufeff\u200b\u2060"

# The characters str.splitlines() breaks on. Each one ends a sentence.
_LINE_BREAK = re.compile(r"[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_NON_BLANK = re.compile(r"\S")

# Titles that precede a name and (almost) never end a sentence; Bling Fire often splits after them.
# "St." and "Sr." are left out: as "Street" and "Senior" they often end a sentence.
_TITLES = (
    "Mr|Mrs|Ms|Messrs|Dr|Prof|Rev|Fr|Sen|Sens|Rep|Reps|Gov|Gen|Lt|Col|Maj|Capt|Cpt|Sgt|Cpl"
    "|Adm|Cmdr|Hon|Pres|Supt|Insp|Det|Msgr|Mme|Mlle"
)
# A piece ending in a title; group "title" is where the name's sentence really starts.
_ENDS_WITH_TITLE = re.compile(rf"(?:\A|(?<=[\s(\[\"'“‘]))(?P<title>(?:{_TITLES})\.)\Z")
# A title with its full stop; see _titles_after_space.
_TITLE = re.compile(rf"(?:{_TITLES})\.")
_TITLE_WORDS = frozenset(_TITLES.split("|"))
_CLOSERS = "\"'”’)]"
_LONGEST_TITLE = max(map(len, _TITLES.split("|"))) + 1


def is_blank_char(char: str) -> bool:
    """Whether ``segment`` treats ``char`` as whitespace (never part of a sentence's edge)."""
    return char.isspace() or char in _INVISIBLE_NOISE


def segment(text: str) -> list[Sentence]:
    """Split ``text`` into sentences with exact character offsets.

    Every line break ends a sentence; inside a line, Bling Fire decides (abbreviations, decimals,
    quotes, ellipses, initials). Sentences are stripped of surrounding whitespace, never empty,
    ordered and disjoint, and ``text[s.start:s.end] == s.text``.

    >>> [(s.start, s.end) for s in segment("Title without a full stop\\nOne. Two.")]
    [(0, 25), (26, 30), (31, 35)]
    """
    if not isinstance(text, str):
        raise InputError(f"segment() needs a str, got {type(text).__name__}")
    return [
        Sentence(index=index, start=start, end=end, text=text[start:end])
        for index, (start, end) in enumerate(sentence_spans(text))
    ]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """The ``(start, end)`` offsets of :func:`segment`'s sentences, without the objects.

    What the scorer calls: a frozen dataclass per sentence costs more than the offsets.
    """
    if not isinstance(text, str):
        raise InputError(f"sentence_spans() needs a str, got {type(text).__name__}")
    working = text
    for noise in _INVISIBLE_NOISE:
        if noise in working:  # str.replace is much faster than str.translate on non-ASCII text
            working = working.replace(noise, " ")
    if not _NON_BLANK.search(working):
        return []
    spans = _fix_titles(working, _stripped_pieces(working, _cut_points(working)))
    return [(start, end) for start, end, _line in spans]


def segment_many(texts: Iterable[str]) -> list[list[Sentence]]:
    """Segment each text in ``texts``; a convenience for batch scoring."""
    return [segment(text) for text in texts]


def _cut_points(working: str) -> list[int]:
    """Sorted offsets where a sentence may begin: after each line break, at model boundaries."""
    cuts = {match.end() for match in _LINE_BREAK.finditer(working)}
    cuts.update(_model_sentence_starts(working))
    cuts.update(
        start for start in _titles_after_space(working) if _ends_sentence(working, 0, start)
    )
    cuts.discard(0)
    cuts.discard(len(working))
    return sorted(cuts)


def _titles_after_space(working: str) -> list[int]:
    r"""Where a title between whitespace starts: a candidate for "... left. Mr. Okafor arrived.",
    a boundary that Bling Fire sometimes misses (_ends_sentence() decides).

    The starts of group "title" of ``re.finditer(r"\s(?P<title>(?:TITLES)\.)\s", working)``,
    whose matches take the whitespace on both sides (one match's closing whitespace cannot open
    the next). Searched for as the titles themselves, which begin with a capital that the regex
    engine skips to, and the whitespace checked here: searching at every space took twice as long.
    """
    found = []
    free = 1  # where a title may start: after whitespace that no match has taken
    for match in _TITLE.finditer(working):
        start, end = match.span()
        if (
            start >= free
            and end < len(working)
            and working[start - 1].isspace()  # what \s matches
            and working[end].isspace()
        ):
            found.append(start)
            free = end + 2
    return found


def _stripped_pieces(working: str, cuts: list[int]) -> list[tuple[int, int, int]]:
    """The non-blank pieces between cut points as ``(start, end, line_number)``, stripped."""
    pieces = []
    line_number = 0
    previous = 0
    for cut in [*cuts, len(working)]:
        first = _NON_BLANK.search(working, previous, cut)
        if first is not None:
            start = first.start()
            end = start + len(working[start:cut].rstrip())
            pieces.append((start, end, line_number))
            if _LINE_BREAK.search(working, end, cut):
                line_number += 1
        elif _LINE_BREAK.search(working, previous, cut):
            line_number += 1
        previous = cut
    return pieces


def _fix_titles(working: str, pieces: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Reattach a title such as ``Mr.`` that ends a piece to the name in the next piece.

    If the words before the title end a sentence ("... left. Mr." + "Tamsin arrived."), the boundary
    moves to just before the title; otherwise the two pieces merge.
    """
    fixed: list[tuple[int, int, int]] = []
    pending = list(reversed(pieces))
    while pending:
        start, end, line = pending.pop()
        title = None
        if working[end - 1] == ".":  # cheap test first: most pieces do not end in a title
            title = _ENDS_WITH_TITLE.search(working, max(start, end - _LONGEST_TITLE), end)
        if title is None or not pending or pending[-1][2] != line:
            fixed.append((start, end, line))
            continue
        _next_start, next_end, _ = pending.pop()
        title_start = title.start("title")
        if _ends_sentence(working, start, title_start):
            head_end = start + len(working[start:title_start].rstrip())
            fixed.append((start, head_end, line))
            pending.append((title_start, next_end, line))
        else:
            pending.append((start, next_end, line))
    return fixed


def _ends_sentence(working: str, start: int, stop: int) -> bool:
    """Whether ``working[start:stop]`` ends like a sentence, judged for a title that follows.

    "!", "?" or "…" (before any closing quotes) end a sentence. A full stop does only after a plain
    word ending in a lowercase letter or digit, so "U.S. Sen.", "Lt. Col." and "J. Mr." do not.
    """
    head = working[max(start, stop - 40) : stop].rstrip().rstrip(_CLOSERS)
    if not head or head[-1] not in ".!?…":
        return False
    if head[-1] != ".":
        return True
    words = head[:-1].split()
    if not words:
        return False
    word = words[-1]
    return (
        "." not in word
        and (word[-1].islower() or word[-1].isdigit())
        and word.lstrip(_CLOSERS + "(“‘") not in _TITLE_WORDS
    )


def _model_sentence_starts(working: str) -> Iterator[int]:
    """Character offsets where Bling Fire starts a sentence (may be unsorted or out of range)."""
    # The C library reads UTF-8; NUL would end the string early and lone surrogates cannot be
    # encoded, so both become one-byte stand-ins. Each stand-in is one character, so the character
    # offsets computed below stay those of the original text.
    if "\x00" in working:
        working = working.replace("\x00", " ")
    data = working.encode("utf-8", errors="replace")
    byte_starts = _blingfire_byte_starts(data)
    if data.isascii():
        yield from byte_starts
        return
    # Map byte offsets to character offsets by decoding the bytes between consecutive boundaries.
    chars = 0
    previous = 0
    for byte_offset in sorted(set(byte_starts)):
        while byte_offset < len(data) and (data[byte_offset] & 0xC0) == 0x80:
            byte_offset += 1  # a continuation byte: move to the start of the next character
        chars += len(data[previous:byte_offset].decode("utf-8", errors="replace"))
        previous = byte_offset
        yield chars


def _blingfire_byte_starts(data: bytes) -> list[int]:
    """Byte offsets of sentence starts from Bling Fire's C entry point (empty if it fails)."""
    size = len(data) * 2 + 16
    output = create_string_buffer(size)
    starts = (c_int32 * size)()
    ends = (c_int32 * size)()
    written = _TEXT_TO_SENTENCES_WITH_OFFSETS(
        c_char_p(data), c_int(len(data)), byref(output), byref(starts), byref(ends), c_int(size)
    )
    if written <= 0 or written > size:
        return []
    count = output.raw[:written].count(b"\n") + 1
    return [offset for offset in starts[:count] if 0 < offset < len(data)]


_TEXT_TO_SENTENCES_WITH_OFFSETS = blingfire.blingfire.TextToSentencesWithOffsets


# ``proplens.split_sentences``: the package-level name of :func:`segment` (``proplens.segment`` is
# this module, which a function of the same name would shadow).
split_sentences = segment
