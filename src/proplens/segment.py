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
from collections.abc import Iterable
from ctypes import byref, c_char, c_int, sizeof
from dataclasses import dataclass
from itertools import accumulate

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
_TITLE_WORDS = frozenset(_TITLES.split("|"))
# Every title with its full stop, found from the full stop (which the regex engine skips to, far
# faster than trying each capital letter): one lookbehind per title length, and an empty group
# whose number gives the length. No title is the end of another ("Mrs" is not "..Mr"; a test
# checks), so at most one title ends at a full stop and these are the matches that
# ``re.finditer(r"(?:TITLES)\.", text)`` would find.
_TITLE_LENGTHS = sorted({len(title) for title in _TITLE_WORDS})
_TITLE_AT_STOP = re.compile(
    r"\.(?:"
    + "|".join(
        rf"(?<=(?:{'|'.join(sorted(t for t in _TITLE_WORDS if len(t) == n))})\.)()"
        for n in _TITLE_LENGTHS
    )
    + ")"
)
# the length with its full stop, by the number of the group that matched
_TITLE_LENGTH_OF_GROUP = (0, *(n + 1 for n in _TITLE_LENGTHS))
# What may stand right before a title that ends a piece (besides whitespace or the text's start).
_TITLE_OPENERS = "([\"'“‘"
_CLOSERS = "\"'”’)]"
# A UTF-8 continuation byte: never the first byte of a character.
_CONTINUATION_BYTE = re.compile(rb"[\x80-\xbf]")
_NOT_NEWLINE = re.compile(rb"[^\n]")


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
    # most texts hold no title at all: then neither title rule has anything to do
    titles = _title_spans(working)
    pieces = _stripped_pieces(working, _cut_points(working, titles))
    return _fix_titles(working, pieces, titles) if titles else pieces


def segment_many(texts: Iterable[str]) -> list[list[Sentence]]:
    """Segment each text in ``texts``; a convenience for batch scoring."""
    return [segment(text) for text in texts]


def _cut_points(working: str, titles: list[tuple[int, int]]) -> list[int]:
    """Sorted offsets where a sentence may begin: after each line break, at model boundaries.

    An offset may repeat, and 0 may be one: such cuts cut off nothing (_stripped_pieces skips the
    empty piece). The last offset is always ``len(working)``.
    """
    # The end of each line, line break included: the lines of str.splitlines(keepends=True) are
    # counted in C. It breaks on the characters of _LINE_BREAK, but takes "\r\n" as one break: the
    # cut between "\r" and "\n" would only split whitespace, which the pieces are stripped of.
    cuts = list(accumulate(map(len, working.splitlines(True))))
    inside = _model_sentence_starts(working)
    if titles:
        inside += [
            start
            for start in _titles_after_space(working, titles)
            if _ends_sentence(working, 0, start)
        ]
    if inside:
        cuts += inside
        cuts.sort()  # two sorted runs: one merge
    return cuts


def _title_spans(working: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every title with its full stop (``Mr.``), in order, wherever it is."""
    lengths = _TITLE_LENGTH_OF_GROUP
    return [
        (match.end() - lengths[match.lastindex], match.end())
        for match in _TITLE_AT_STOP.finditer(working)
    ]


def _titles_after_space(working: str, titles: list[tuple[int, int]] | None = None) -> list[int]:
    r"""Where a title between whitespace starts: a candidate for "... left. Mr. Okafor arrived.",
    a boundary that Bling Fire sometimes misses (_ends_sentence() decides).

    The starts of group "title" of ``re.finditer(r"\s(?P<title>(?:TITLES)\.)\s", working)``,
    whose matches take the whitespace on both sides (one match's closing whitespace cannot open
    the next). Searched for as the titles themselves (``titles``, from _title_spans), and the
    whitespace checked here: searching at every space took twice as long.
    """
    if titles is None:
        titles = _title_spans(working)
    found = []
    free = 1  # where a title may start: after whitespace that no match has taken
    for start, end in titles:
        if (
            start >= free
            and end < len(working)
            and working[start - 1].isspace()  # what \s matches
            and working[end].isspace()
        ):
            found.append(start)
            free = end + 2
    return found


def _stripped_pieces(working: str, cuts: list[int]) -> list[tuple[int, int]]:
    """The non-blank pieces between sorted cut points as ``(start, end)``, stripped.

    ``cuts`` ends with ``len(working)``. str.lstrip() and str.rstrip() strip what the regex \\s
    matches (both test str.isspace()).
    """
    pieces = []
    previous = 0
    for cut in cuts:
        content = working[previous:cut].lstrip()
        if content:
            start = cut - len(content)
            pieces.append((start, start + len(content.rstrip())))
        previous = cut
    return pieces


def _fix_titles(
    working: str, pieces: list[tuple[int, int]], titles: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Reattach a title such as ``Mr.`` that ends a piece to the name in the next piece.

    If the words before the title end a sentence ("... left. Mr." + "Tamsin arrived."), the boundary
    moves to just before the title; otherwise the two pieces merge. A title ends a piece when it
    starts the text or follows whitespace or an opening bracket or quote. A piece joins the next
    only on the same line: with no line break between them.
    """
    # where a title that may end a piece starts, by where it ends
    title_start_at = {
        end: start
        for start, end in titles
        if not start or working[start - 1].isspace() or working[start - 1] in _TITLE_OPENERS
    }
    if not title_start_at:
        return pieces
    fixed: list[tuple[int, int]] = []
    pending = pieces[::-1]
    while pending:
        start, end = pending.pop()
        title_start = title_start_at.get(end, -1)
        if (
            title_start < start  # no title ends this piece inside it
            or not pending
            or _LINE_BREAK.search(working, end, pending[-1][0])
        ):
            fixed.append((start, end))
            continue
        next_end = pending.pop()[1]
        if _ends_sentence(working, start, title_start):
            head_end = start + len(working[start:title_start].rstrip())
            fixed.append((start, head_end))
            pending.append((title_start, next_end))
        else:
            pending.append((start, next_end))
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


def _model_sentence_starts(working: str) -> list[int]:
    """Character offsets where Bling Fire starts a sentence, sorted, but none right after a "\n":
    that is a line end, where _cut_points cuts anyway."""
    # The C library reads UTF-8; NUL would end the string early and lone surrogates cannot be
    # encoded, so both become one-byte stand-ins. Each stand-in is one character, so the character
    # offsets computed below stay those of the original text.
    if "\x00" in working:
        working = working.replace("\x00", " ")
    data = working.encode("utf-8", errors="replace")
    byte_starts = _blingfire_byte_starts(data)
    # Most sentences start a line (PTC has one per line): leaving out the starts after a "\n" byte
    # (the "\n" character) first spares mapping them (51 of 2,675 starts remain on PTC's test
    # articles). The byte before each start is looked up in C, the few others found by a regex.
    before = bytes(map(data.__getitem__, map((-1).__add__, byte_starts)))
    byte_starts = [byte_starts[match.start()] for match in _NOT_NEWLINE.finditer(before)]
    if data.isascii() or not byte_starts:
        return byte_starts
    # Map byte offsets to character offsets by decoding the bytes between consecutive boundaries.
    bounds = sorted(set(byte_starts))
    if _CONTINUATION_BYTE.search(bytes(map(data.__getitem__, bounds))):
        return list(_char_offsets_slowly(data, bounds))
    # Every boundary starts a character (what Bling Fire returns): the bytes between two decode
    # on their own, all in C.
    pieces = map(data.__getitem__, map(slice, [0, *bounds], bounds))
    return list(accumulate(map(len, map(bytes.decode, pieces))))


def _char_offsets_slowly(data: bytes, bounds: list[int]):
    """Character offsets of sorted byte offsets, any of which may fall inside a character (moved
    to the next character's start) or outside ``data``."""
    chars = 0
    previous = 0
    for byte_offset in bounds:
        while byte_offset < len(data) and (data[byte_offset] & 0xC0) == 0x80:
            byte_offset += 1  # a continuation byte: move to the start of the next character
        chars += len(data[previous:byte_offset].decode("utf-8", errors="replace"))
        previous = byte_offset
        yield chars


def _blingfire_byte_starts(data: bytes) -> list[int]:
    """Byte offsets of sentence starts from Bling Fire's C entry point (empty if it fails), in
    order, each inside ``data`` and not at 0."""
    size = len(data) * 2 + 16
    # Plain bytearrays, passed by a pointer to their first element: ``c_int * size`` would
    # create (and keep in ctypes' cache) a new array type for every new document length.
    output = bytearray(size)
    starts = bytearray(sizeof(c_int) * size)  # size C ints
    written = _TEXT_TO_SENTENCES_WITH_OFFSETS(
        data,
        len(data),
        byref(c_char.from_buffer(output)),
        byref(c_int.from_buffer(starts)),
        None,  # no array for the sentence ends: the library then neither clears nor fills one
        size,
    )
    if written <= 0 or written > size:
        return []
    count = output.count(b"\n", 0, written) + 1  # one sentence per line of the output
    return [offset for offset in memoryview(starts).cast("i")[:count] if 0 < offset < len(data)]


_TEXT_TO_SENTENCES_WITH_OFFSETS = blingfire.blingfire.TextToSentencesWithOffsets


# ``proplens.split_sentences``: the package-level name of :func:`segment` (``proplens.segment`` is
# this module, which a function of the same name would shadow).
split_sentences = segment
