"""Features for ``Unverified_Figures``: is there a figure, is it something else, is it sourced?

The guideline (``datasets/guidelines/unverified-figures.md``) decides a sentence in three steps:
is there a quantity; is every number something other than a figure (a date, a duration, an age,
an ordinal, part of a name, an identifier); is the figure attributed in the same or an adjacent
sentence. Bag-of-words features learn these slowly from 895 labeled sentences, so this module
writes them down as dense, label-free features that a linear model can weigh directly.

Neighbouring sentences are read from the ``prev_text``/``next_text`` columns when the frame has
them (training adds them from the full document, so a frame holding only the labeled sentences
still sees the true neighbours), otherwise from the previous/next row of the same document.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer

from proplens.features import add_neighbour_columns

__all__ = [
    "FigureCues",
    "add_neighbour_columns",
    "find_figures",
    "make_device_figure_features",
    "make_figure_features",
    "masked_text",
]

_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
    r"hundred|thousand|million|billion|trillion|dozen"
)
_MONTHS = (
    r"January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec"
)
_UNITS = (
    r"(?:years?|months?|weeks?|days?|hours?|minutes?|seconds?|decades?|centuries|nights?|"
    r"mins?|hrs?)"
)
_NUM = r"\d[\d,.]*\d|\d"
_WORD_NUMBER = rf"(?:{_NUMBER_WORDS})s?(?:-(?:{_NUMBER_WORDS}))?"
_MAGNITUDE = r"(?:hundred|thousand|million|billion|trillion)s?"

# A figure candidate: a digit group not glued to letters (so the digits of "U9tULY" or "x86" are
# no figures, while "1990s", "$5m", "12bn" and "40%" keep theirs), or a number word.
# The digits are written digit first: "(?<![\w@#/])(?:\d[\d,.]*\d|\d)" as
# "\d(?<![\w@#/]\d)(?:[\d,.]*\d)?". A pattern that opens with a character class lets the regex
# engine jump from digit to digit in C, where a look-behind first is tried at every character.
# It matches the same (the look-behind asks the same of the character before the first digit,
# and the optional tail is tried in the order of the two alternatives): tests/test_figures.py
# compares the two spellings.
_CANDIDATE_DIGITS = (
    rf"\d(?<![\w@#/]\d)(?:[\d,.]*\d)?(?:s|m|mm|bn|k|%)?(?![\w/])(?:[\s-]+{_MAGNITUDE}\b)?"
)
# The first letters of the number words, as a look-ahead before their alternation: one test of
# a character class rejects most word starts, where the regex engine would otherwise try the 30
# words one by one. It changes no match (every alternative starts with one of these letters, and
# the class is folded like the words), only the time: tests/test_figures.py compares the
# patterns with and without it.
_NUMBER_WORD_INITIALS = "".join(sorted({word[0] for word in _NUMBER_WORDS.split("|")}))
_STARTS_NUMBER_WORD = rf"(?=[{_NUMBER_WORD_INITIALS}])"
_MONTH_INITIALS = "".join(sorted({month[0].lower() for month in _MONTHS.split("|")}))
_STARTS_MONTH = rf"(?=[{_MONTH_INITIALS}])"


def _led_by(first: str, pattern: str) -> str:
    """``pattern`` behind a look-ahead for ``first``, a character class (without its brackets)
    that holds the first character of every match: the same device as ``_STARTS_NUMBER_WORD``
    for a whole pattern whose alternatives each open with a word boundary, a look-ahead or a
    word list, which the regex engine would otherwise try one by one at every character."""
    return rf"(?=[{first}])(?:{pattern})"


_CANDIDATE = re.compile(
    rf"{_CANDIDATE_DIGITS}"
    rf"|\b{_STARTS_NUMBER_WORD}{_WORD_NUMBER}(?:[\s-]+(?:and\s+)?{_WORD_NUMBER})*\b",
    re.IGNORECASE,
)
# Where a number is something other than a figure (guideline step 2), in order of precedence.
_NON_FIGURE = {
    "year": r"\b(?:1[6-9]|20)\d\d(?:s|'s|’s)?\b|\b'?\d0s\b",
    "date": _led_by(
        rf"\d{_MONTH_INITIALS}",
        rf"\b{_STARTS_MONTH}(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b"
        rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})\b|\b\d{{1,2}}/\d{{1,2}}/\d{{2,4}}\b",
    ),
    "age": rf"\b(?:\d+|{_WORD_NUMBER})[- ]years?[- ]old\b|\baged? \d+"
    r"|\bin (?:his|her|their) (?:early |late |mid-?)?(?:\d0s|\w+ties)\b",
    "duration": rf"\b(?=[\dafnst{_NUMBER_WORD_INITIALS}])"
    rf"(?:{_NUM}|{_WORD_NUMBER}|a|an|few|several|the past|the last|next)"
    rf"[\s-]+(?:more\s+)?{_UNITS}\b|\b(?:hundreds|thousands|millions) of years\b|\b24/7\b",
    # "\b\d{1,2}(?::\d\d)?\s?(?:a\.?m\.?|p\.?m\.?)|\b\d{1,2}:\d\d\b" written digit first, as
    # _CANDIDATE_DIGITS is ("\b" before a digit is "no word character before it")
    "time": r"\d(?<!\w\d)(?:\d?(?::\d\d)?\s?(?:a\.?m\.?|p\.?m\.?)|\d?:\d\d\b)",
    "ordinal": r"\b\d+(?:st|nd|rd|th)\b|\bNo\.\s?\d+|\b(?:top|number|#)\s?\d+\b"
    r"|^\W*\d+\s?[)–.:-]\s",
    "name": r"\b[A-Z][A-Za-z]*[- ]?\d+(?:[-.]\d+)?\b|\b\d+[/-]\d+\b|\b\d+[A-Z]\w*\b",
    "identifier": r"\b(?:H\.R\.|S\.|Article|Section|Chapter|Psalm|[Pp]age|pp?\.|§|n\.|"
    r"paragraphs?|verses?)\s?\d+|\d+:\d+(?:-\d+)?|\b\d+ of \d+\b|\d{3}[-.]\d{3,4}|\(\d\)|\[\d+\]"
    r"|\S+\.(?:com|org|net|pr|be)\S*|\S*https?://\S+|[@#]\w+|\b\d+ (?:SHARES|shares)\b",
}


class _Gated:
    """A compiled pattern that is only run on texts that contain one of its ``literals`` (lower
    case) or one of its ``words`` (whole lower-case words, see :func:`_words`), or where its
    ``prefilter`` finds something. Every match of the pattern contains one of them (checked on
    the corpus and on generated text by ``tests/test_figures.py``), so
    the matches are exactly the pattern's: a few substring tests, or one set intersection,
    replace a regex scan of the many sentences that cannot match. (The exception would be text
    that relies on Unicode's odd case pairs, such as the long s matching "s" under IGNORECASE.)"""

    def __init__(
        self,
        pattern: re.Pattern,
        literals=(),
        words=(),
        prefilter: str | tuple[str, ...] | None = None,
    ):
        ordered = sorted({literal.lower() for literal in literals}, key=len)
        # a literal that contains a shorter one adds nothing to the test
        self.literals = tuple(
            literal
            for i, literal in enumerate(ordered)
            if not any(shorter in literal for shorter in ordered[:i])
        )
        self.words = frozenset(word.lower() for word in words)
        self.pattern = pattern
        # and/or cheaper patterns that find, in the lower-cased text, a part of every match that
        # has none of the literals or words (a tuple of them when one would be slow: any finds)
        if isinstance(prefilter, str):
            prefilter = (prefilter,)
        self.prefilters = tuple(re.compile(part).search for part in prefilter or ())
        self.always = not (self.literals or self.words or self.prefilters)  # nothing to check
        #: ``possible(lowered, words)``: may the pattern match this text?
        self.possible = self._test()

    def _test(self):
        """The test of :meth:`possible`, built for the parts this gate has: it is asked of
        nearly every sentence, and a general method that first looks up which parts it has
        takes longer than the tests themselves (most gates test words only)."""
        gate_words, literals, prefilters = self.words, self.literals, self.prefilters
        if self.always:
            return lambda lowered, words: True
        if not (literals or prefilters):
            shares_no_word = gate_words.isdisjoint
            return lambda lowered, words: not shares_no_word(words)

        def possible(lowered: str, words: frozenset) -> bool:
            # map over a bound method: the loop runs in C, 3x faster than a generator expression
            if not gate_words.isdisjoint(words) or any(map(lowered.__contains__, literals)):
                return True
            # (a loop: cheaper than any() over a generator expression)
            for search in prefilters:  # noqa: SIM110
                if search(lowered) is not None:
                    return True
            return False

        return possible

    def finditer(self, text: str, lowered: str, words: frozenset):
        return self.pattern.finditer(text) if self.possible(lowered, words) else ()

    def search(self, text: str, lowered: str, words: frozenset):
        return self.pattern.search(text) if self.possible(lowered, words) else None


# every byte but "a".."z" made a space: the words are then what str.split finds
_BLANK_BUT_LETTERS = bytes(c if 97 <= c <= 122 else 32 for c in range(256))


def _words(lowered: str) -> frozenset:
    """The runs of ASCII letters of a lower-cased text. A pattern word that must stand alone
    (``\\bsaid\\b``, ``\\s+told``) is always one of them.

    ``re.findall("[a-z]+", lowered)``, done by byte translation: UTF-8 writes a non-ASCII
    character (a lone surrogate too, with "surrogatepass") only with bytes above 127, which
    become spaces like any other non-letter, so the runs are the same; translating and splitting
    in C is 1.5x faster than the regex."""
    utf8 = lowered.encode("utf-8", "surrogatepass")
    return frozenset(utf8.translate(_BLANK_BUT_LETTERS).decode("ascii").split())


# The characters other than ASCII letters that an ASCII letter matches under IGNORECASE: "İ"
# and "ı" match "i", the long s "s", the Kelvin sign "k" (tests/test_figures.py tries them all)
_FOLDS_TO_ASCII = re.compile("[\u0130\u0131\u017f\u212a]").search


def _respelled(text: str, lowered: str) -> bool:
    """May a case-insensitive pattern find a word of ASCII letters in ``text`` that is no run of
    ASCII letters of ``lowered``, or at another place? Only where a character folds to an
    ASCII letter, or lowering made a character two ("İ")."""
    return len(lowered) != len(text) or (not text.isascii() and _FOLDS_TO_ASCII(text) is not None)


_NON_FIGURE_RE = {
    name: re.compile(pattern, re.MULTILINE | (0 if name == "name" else re.IGNORECASE))
    for name, pattern in _NON_FIGURE.items()
}
# What a match of each of these must contain. Month names and time units stand alone in every
# match (a word boundary or a space before, a full stop, a space or a boundary after), so they are
# checked as whole words: as substrings they pass most sentences ("mar" in "market", "min" in
# "minister", "hr" in "three", "age" in "percentage").
_MONTH_WORDS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
    "sept", "oct", "nov", "dec",
)  # fmt: skip
_UNIT_WORDS = (
    "year", "years", "month", "months", "week", "weeks", "day", "days", "hour", "hours",
    "minute", "minutes", "second", "seconds", "decade", "decades", "centuries", "night",
    "nights", "min", "mins", "hr", "hrs",
)  # fmt: skip
_NON_FIGURE_GATES = {
    "date": {"literals": ["/"], "words": _MONTH_WORDS},
    "age": {"literals": ["in his ", "in her ", "in their "], "words": ["old", "age", "aged"]},
    "duration": {"literals": ["24/7"], "words": _UNIT_WORDS},
}  # fmt: skip
# The identifier pattern has no literal of its own but is the costliest (its "\S+\.com" and
# "\S*https?://" branches are tried at every character); this finds a piece of each branch.
_IDENTIFIER_PREFILTER = (
    r"(?:h\.r\.|s\.|article|section|chapter|psalm|page|pp?\.|§|n\.|paragraphs?|verses?)\s?\d"
    r"|\d:\d|\d of \d|\d[-.]\d|\(\d\)|\[\d|\.(?:com|org|net|pr|be)|https?://|[@#]\w|\d shares"
)
_NON_FIGURE_GATED = {
    name: _Gated(pattern, prefilter=_IDENTIFIER_PREFILTER)
    if name == "identifier"
    else _Gated(pattern, **_NON_FIGURE_GATES.get(name, {}))
    for name, pattern in _NON_FIGURE_RE.items()
}
NON_FIGURE_KINDS = (*_NON_FIGURE, "one", "reference")
# non-figure kinds whose matches are digits and the words around them, never a number word
_DIGIT_KINDS = frozenset({"year", "date", "time", "ordinal"})
# What must stand next to a number for a year, date, age, duration or name pattern to cover it.
# A candidate's digits never follow a letter, a digit, "@", "#" or "/" (its look-behind), so a
# covering match starts with the candidate's own digits, or with the few characters each check
# below names. Checking them spares a scan of the sentence for most numbers; every check is
# tested against its pattern on the corpus and on generated text (tests/test_figures.py).
_LEADING_NUMBER = re.compile(_NUM)
_LEADING_DIGITS = re.compile(r"\d+")
_UNIT_AFTER = re.compile(rf"[\s-]+(?:more\s+)?{_UNITS}\b", re.IGNORECASE)
# the duration pattern's branches that can open with a number word, anchored at it
_SPELLED_DURATION = re.compile(
    rf"(?:{_WORD_NUMBER}){_UNIT_AFTER.pattern}|(?:hundreds|thousands|millions) of years\b",
    re.IGNORECASE,
)
_NAMED_BEFORE = re.compile(
    _led_by("cdentk", r"(?:called|named|dubbed|titled|entitled|known as)\s+[\"“]?$"),
    re.IGNORECASE,
)
_DIGIT_NEXT = re.compile(r"[- ]?\d")
_CENTURIES = frozenset(["16", "17", "18", "19", "20"])
_ASCII_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


class _Covers:
    """What a pre-check returns when a match of its pattern does cover the number (a true
    value: "may cover" too), so that find_figures need not scan the sentence for it."""

    def __repr__(self) -> str:
        return "COVERS"


_COVERS = _Covers()


# the date pattern's tail after a day ("4th of May"), and its month before a day ("Sept. 4")
_MONTH_AFTER = re.compile(rf"(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})\b", re.IGNORECASE)
_MONTH_BEFORE = re.compile(rf"(?:{_MONTHS})\.?$", re.IGNORECASE)


def _could_be_year(text: str, start: int) -> bool:
    """May a year match cover the digits at ``start``? (exactly "1990", "2016", or "'90s")"""
    digits_end = _LEADING_DIGITS.match(text, start).end()
    length = digits_end - start
    if length == 4:
        return text[start : start + 2] in _CENTURIES
    return length == 2 and text[start + 1] == "0" and text[digits_end : digits_end + 1] in "sS"


def _could_be_date(text: str, start: int) -> bool | _Covers:
    """May a date match cover the digits at ``start``? (one or two digits: "May 4", "4 of May")
    ``_COVERS`` where the month follows: the date pattern then matches from the digits on (and
    the number is just those digits: a space, not a unit or a magnitude, follows them), and no
    earlier match can reach into them (a date holds digits only as its day, or after "/", where
    a number candidate never starts)."""
    digits_end = _LEADING_DIGITS.match(text, start).end()
    if digits_end - start > 2:
        return False
    if _MONTH_AFTER.match(text, digits_end) is not None:  # "4 May", "4th of May"
        return _COVERS
    # "May 4", "Sept. 4": a month (and a full stop) before the spaces before the digits
    month_end = start
    while month_end > 0 and text[month_end - 1].isspace():
        month_end -= 1
    return (
        month_end < start
        and _MONTH_BEFORE.search(text, max(0, month_end - len("September.")), month_end) is not None
    )


#: (text, where its last "age" starts): the numbers of one sentence are read one after another
_LAST_AGE: tuple[str | None, int] = (None, -1)


def _last_age(lowered: str) -> int:
    """Where the last "age" of ``lowered`` starts (-1: none), found once per text. Only the last
    text is remembered, so nothing grows; a tuple is swapped whole, so threads see a pair."""
    global _LAST_AGE
    seen, position = _LAST_AGE
    if seen is not lowered:
        position = lowered.rfind("age")
        _LAST_AGE = (lowered, position)
    return position


def _could_be_age(text: str, start: int, end: int, lowered: str) -> bool:
    """May an age match cover the number at ``start``? ("66-year-old", "aged 66", "in her 60s",
    "the voting age from 18 to 21", "Ana Velm, 66, said")"""
    before = lowered[max(0, start - 40) : start]
    # "age" may come after any run of whitespace ("18 to 21 years of age"): the rest of the text
    # (its last "age" is looked up once per text: slicing the rest for each number made a long
    # sentence with many numbers quadratic)
    if _last_age(lowered) >= max(0, start - 40) or "old" in lowered[end : end + 20]:
        return True
    if "in h" in before or "in t" in before:  # "in his 60s", "in their early twenties"
        return True
    digits_end = _LEADING_DIGITS.match(text, start).end() if text[start].isdigit() else start
    return (
        start >= 2
        and text[start - 2] == ","
        and text[start - 1].isspace()
        and text[digits_end : digits_end + 1] == ","
    )


def _could_be_duration(text: str, start: int, spelled: bool) -> bool | _Covers:
    """May a duration match cover the number at ``start``? ("5 years", "3.5-hour", "two days",
    "hundreds of years") The duration pattern is mostly this check, so it answers ``_COVERS``
    or no. A number that the pattern's number, optional "more" and time unit start at is
    covered by the match that starts there (no earlier match can reach into digits, and the
    pattern tries the same number first). A number word is covered only by a match that starts
    at it: what a match can hold before its time unit is a number, "a", "an", "few",
    "several", "the past/last" or "next", and none of those starts where a number word does;
    or by one that starts earlier when it comes second in a hyphenated number ("five" of "5
    hundred-five years"), and then the same unit follows it."""
    if spelled:
        return _COVERS if _SPELLED_DURATION.match(text, start) is not None else False
    number_end = _LEADING_NUMBER.match(text, start).end()
    return _COVERS if _UNIT_AFTER.match(text, number_end) is not None else False


# what follows the hour in a time ("5 pm", "5:30", "5:30pm")
_TIME_AFTER = re.compile(r"(?::\d\d)?\s?(?:a\.?m\.?|p\.?m\.?)|:\d\d\b", re.IGNORECASE)


def _could_be_time(text: str, start: int) -> bool:
    """May a time match cover the digits at ``start``? (the hour, or the minutes after ":")"""
    if text[start - 1 : start] == ":":
        return True
    digits_end = _LEADING_DIGITS.match(text, start).end()
    return digits_end - start <= 2 and _TIME_AFTER.match(text, digits_end) is not None


# what stands before a number an ordinal match covers ("No. 5", "top 10", "# 1", "phase 2"); or
# after it, for a list number that opens a line ("1) ...", "2. ..."). ("5th" is no number
# candidate: a letter follows its digits.)
_ORDINAL_BEFORE = re.compile(
    r"(?:no\.|top|number|#|category|level|phase|stage|tier|grade|step|round|season|episode)"
    r"\s?$",
    re.IGNORECASE,
)
_ORDINAL_AFTER = re.compile(r"\s?[)–.:-]\s")


def _could_be_ordinal(text: str, start: int) -> bool:
    """May an ordinal match cover the digits at ``start``?"""
    return (
        _ORDINAL_BEFORE.search(text, max(0, start - len("category ")), start) is not None
        or _ORDINAL_AFTER.match(text, _LEADING_DIGITS.match(text, start).end()) is not None
    )


def _capitalised_before(text: str, end: int) -> bool:
    """Does the run of ASCII letters that ends at ``end`` start with a capital?"""
    first = end - 1
    while first > 0 and text[first - 1] in _ASCII_LETTERS:
        first -= 1
    return "A" <= text[first] <= "Z"


def _could_be_name(text: str, start: int, end: int, spelled: bool) -> bool:
    """May a name match cover the number at ``start``? ("Route 66", "9-11", "3D", "Ten 4")"""
    if spelled:  # only as the capitalised word before digits: "Ten 4"
        return "A" <= text[start] <= "Z" and _DIGIT_NEXT.match(text, end) is not None
    digits_end = _LEADING_DIGITS.match(text, start).end()
    after = text[digits_end : digits_end + 1]
    return (
        # a word of ASCII letters that starts with a capital, then "-" or " " ("Route 66")
        (
            start >= 2
            and text[start - 1] in "- "
            and text[start - 2] in _ASCII_LETTERS
            and _capitalised_before(text, start - 1)
        )
        or after in ("/", "-")
        or ("A" <= after <= "Z")
        # the second part of "9-11", "Page 4.5", "May3.5"
        or (start >= 2 and text[start - 1] in "-." and text[start - 2].isdigit())
        or _NAMED_BEFORE.search(text, max(0, start - 30), start) is not None
    )


# What stands next to a number that an identifier match covers (either revision), branch by
# branch: a keyword before it ("Article 5", "pp. 12", "§ 595", "Quran 4:89"), ":" or "-" on a
# side ("4:12-15", "555-0100"), brackets ("(2)", "[3]", ", 2357)"), " of " ("4 of 9"), " shares",
# a scripture reference ("1 Kings 18:38"), a phone number ("555.0100") or "911". A match of the
# "x.com", "http://" or "@name" branches holds no space, so a number it covers is glued to
# something, in a text that holds the mark.
_ID_BEFORE = re.compile(
    r"(?:h\.r\.|s\.|article|section|chapter|psalm|page|pp?\.|§|n\.|paragraphs?|verses?|quran|"
    r"koran|surah?)\s?$",
    re.IGNORECASE,
)
_ID_AFTER = re.compile(r" of \d| shares\b", re.IGNORECASE)
_ID_OF_BEFORE = re.compile(r"\d of ", re.IGNORECASE)
_ID_SCRIPTURE = re.compile(r"\d\s[A-Z][a-z]+\.?\s\d+:\d+", re.IGNORECASE)
_ID_PHONE = re.compile(r"\d{3}[-.]\d{3,4}")
_ID_MARKS = (".com", ".org", ".net", ".pr", ".be", "http", "@", "#")


def _could_be_identifier(text: str, start: int, end: int, lowered: str, spelled: bool) -> bool:
    """May an identifier match cover the number at ``start``..``end``? (see _ID_BEFORE)"""
    before, after = text[start - 1 : start], text[end : end + 1]
    if before in (":", "-", ".", "(", "[") or after in (":", "-", ")"):
        return True
    if after == "." and text[end + 1 : end + 2].isdigit():  # "555.0100" read as "555"
        return True
    if ((before and not before.isspace()) or (after and not after.isspace())) and any(
        map(lowered.__contains__, _ID_MARKS)
    ):
        return True
    if spelled:  # a number word is covered only as the book of a reference ("1 Ten 4:5")
        return before.isspace() and text[start - 2 : start - 1].isdigit()
    return (
        text[start:end] == "911"
        or _ID_AFTER.match(text, end) is not None
        or (start >= 5 and _ID_OF_BEFORE.match(text, start - 5, start) is not None)
        or _ID_SCRIPTURE.match(text, start) is not None
        or _ID_PHONE.fullmatch(text, start, end) is not None
        or _keyword_before(text, start, before)
    )


# the last characters of the keywords of _ID_BEFORE (ASCII; the rest is left to the pattern)
_ID_KEYWORD_ENDS = frozenset(".enrmhsaENRMHSA")


def _keyword_before(text: str, start: int, before: str) -> bool:
    """Does an _ID_BEFORE keyword end right before ``start`` (or one space before it)? The
    pattern is searched only after its last character: a search is the costliest test here."""
    last = text[start - 2 : start - 1] if before.isspace() else before
    if not last or (last.isascii() and last not in _ID_KEYWORD_ENDS):
        return False
    return _ID_BEFORE.search(text, max(0, start - 12), start) is not None


def _is_year(token: str) -> bool:
    """Is the lower-cased digit candidate ``token`` a whole year ("1990", "2016", "1990s")? The
    year pattern, first in precedence in every revision, then covers it: nothing before the
    digits can be part of a year match (the candidate's look-behind leaves no word character
    there, and a quote that opens a year match is followed by "d0s"), a match opens at them
    ("1[6-9]|20" and two digits after a word boundary) and reaches the candidate's end (a word
    boundary follows the digits, or the "s" after them). This answers the most common number
    without a scan of the sentence; tests/test_figures.py checks it against the pattern."""
    size = len(token)
    return (
        (size == 4 or (size == 5 and token[4] == "s"))
        and token[:2] in _CENTURIES
        and token[2:4].isdigit()
    )


# the check for each kind that has one, called as (text, start, end, lowered, spelled); year and
# date are asked about digits only (a spelled number skips them, see _DIGIT_KINDS)
_COULD_COVER = {
    "year": lambda text, start, end, lowered, spelled: _could_be_year(text, start),
    "date": lambda text, start, end, lowered, spelled: _could_be_date(text, start),
    "age": lambda text, start, end, lowered, spelled: _could_be_age(text, start, end, lowered),
    "duration": lambda text, start, end, lowered, spelled: _could_be_duration(text, start, spelled),
    "time": lambda text, start, end, lowered, spelled: _could_be_time(text, start),
    "ordinal": lambda text, start, end, lowered, spelled: _could_be_ordinal(text, start),
    "name": lambda text, start, end, lowered, spelled: _could_be_name(text, start, end, spelled),
    "identifier": _could_be_identifier,
}


#: The revisions of the cues. A fitted FigureCues keeps the revision it was fit with, so a model
#: scores as it did when it was trained: ptc-default@v2 and @v3 were fit with revision 1, @v4 to
#: @v7 with revision 2, @v8 with revision 4 (revision 3 was an experiment, never shipped).
LATEST_REVISION = 4
# Revision 2 reads more numbers as the guideline does (each change from an error of revision 1
# on the labeled sentences, written as a general rule):
# - an age given as an apposition ("Ana Velm, 66, said") or as an age range ("the purchase age
#   from 18 to 21", "18 to 21 years of age");
# - a position on a scale ("a category 4 storm", "phase 2") is an ordinal;
# - a capitalised hedge or function word before a number makes no name ("About 30 senators",
#   "Over 150 Arrested"), nor does a title-case headline ("Coroner Releases 58 Reports"); a
#   number that something is "called" or "known as" is one;
# - scripture and code references ("1 Kings 18:38", "Quran 4.89", "§ 595"), a parenthetical
#   citation ending in a number ("(Catechism, 2357)") and the emergency number 911 are
#   identifiers;
# - and further down: "scores of" is a vague quantity, "the 98 percent" no known group, 50,000
#   hours an amount rather than a duration, and a sentence inside a quotation that runs over
#   several sentences is in a quotation.
# Measured with benchmarks/uf_cv.py: F1 0.815 -> 0.840 (docs/retraining.md).
_NAME_STOPWORDS = (
    r"About|Above|Across|After|Almost|Along|Also|Among|And|Another|Around|At|Before|Below|"
    r"Between|But|By|Down|During|Each|Every|Exactly|Few|For|From|In|Into|Just|Least|Less|Many|"
    r"More|Most|Near|Nearly|Next|Of|Off|On|Only|Or|Over|Past|Roughly|Some|Than|The|Their|These|"
    r"Those|To|Top|Under|Up|Via|With|Within|Approximately|Estimated"
)
_NON_FIGURE_V2 = {
    **_NON_FIGURE,
    "age": _NON_FIGURE["age"] + r"|(?<=[a-z’')]),\s\d{1,2},\s"
    r"|\bages?\b[^.;:]{0,25}?\b\d{1,2}\s?(?:to|-|–|and)\s?\d{1,2}\b"
    r"|\b\d{1,2}(?:\s?(?:to|-|–)\s?\d{1,2})?\s+years\s+of\s+age\b",
    "ordinal": _NON_FIGURE["ordinal"]
    + r"|\b(?:category|level|phase|stage|tier|grade|step|round|season|episode)\s\d+\b",
    # (case-sensitive: the capital, a digit or the first letter of "called", "named", ... opens
    # each match; the capital before the 60 stop words spares them the other words)
    "name": _led_by(
        r"A-Z\dcndtek",
        rf"\b(?=[A-Z])(?!(?:{_NAME_STOPWORDS})\b)[A-Z][A-Za-z]*[- ]?\d+(?:[-.]\d+)?\b"
        r"|\b\d+[/-]\d+\b|\b\d+[A-Z]\w*\b"
        r"|\b(?:called|named|dubbed|titled|entitled|known as)\s+[\"“]?\d[\d,.]*\b",
    ),
    "identifier": _NON_FIGURE["identifier"]
    + r"|§\s?\d+|\b\d\s[A-Z][a-z]+\.?\s\d+:\d+|\b(?:Quran|Koran|Surah?)\s\d+[.:]\d+(?:-\d+)?"
    r"|,\s*\d+\)|\b911\b",
}
_NON_FIGURE_V2_RE = {
    name: re.compile(pattern, re.MULTILINE | (0 if name == "name" else re.IGNORECASE))
    for name, pattern in _NON_FIGURE_V2.items()
}
# "(?m)^\W*\d", a line whose first word character is a digit, as two searches: "^" is tried at
# every character, the text's start and a newline are found at once
_LINE_OPENS_WITH_NUMBER = (r"\A\W*\d", r"\n\W*\d")
_ORDINAL_WORDS = (
    "st", "nd", "rd", "th", "top", "number", "category", "level", "phase", "stage", "tier",
    "grade", "step", "round", "season", "episode",
)  # fmt: skip
_IDENTIFIER_WORDS = (
    "article", "section", "chapter", "psalm", "page", "paragraph", "paragraphs", "verse",
    "verses", "shares",
)  # fmt: skip
_NON_FIGURE_V2_GATED = {
    **_NON_FIGURE_GATED,
    # "old", "age(d|s)" and "in his" as above; an apposition (", 66, ") by the prefilter
    "age": _Gated(
        _NON_FIGURE_V2_RE["age"],
        literals=["in his ", "in her ", "in their "],
        words=["old", "age", "aged", "ages"],
        prefilter=r",\s\d{1,2},\s",
    ),
    # "1st" holds the word "st"; "No. 5", "# 5"; a number that opens a line ("1) ...", "2. ...")
    "ordinal": _Gated(
        _NON_FIGURE_V2_RE["ordinal"],
        literals=["no.", "#"],
        words=_ORDINAL_WORDS,
        prefilter=_LINE_OPENS_WITH_NUMBER,
    ),
    "name": _Gated(_NON_FIGURE_V2_RE["name"]),
    # the words, marks and number shapes of its branches ("Article 5", "4:12", "4 of 9",
    # "555-0100", "(2)", "[3]", "x.com", "@name", "§ 5", "911")
    "identifier": _Gated(
        _NON_FIGURE_V2_RE["identifier"],
        literals=[".com", ".org", ".net", ".pr", ".be", "http", "@", "#", "§", "911"],
        words=_IDENTIFIER_WORDS,
        # "\d[-.:]\d|\d of \d|\d\)|\[\d|\b(?:h\.r|s|pp?|n)\.\s?\d" as three searches, each opening
        # with a character (class) the regex engine can skip to: 4x faster than the one pattern
        prefilter=(
            r"\d(?:[-.:]\d| of \d|\))",
            r"\[\d",
            r"\.(?:(?<=\bh\.r\.)|(?<=\bs\.)|(?<=\bp\.)|(?<=\bpp\.)|(?<=\bn\.))\s?\d",
        ),
    ),
}
_NON_FIGURE_GATED_BY_REVISION = {
    1: _NON_FIGURE_GATED,
    2: _NON_FIGURE_V2_GATED,
    4: _NON_FIGURE_V2_GATED,  # revision 4 re-reads what these leave as figures (_reread)
}
#: Every revision a FigureCues can be built with.
REVISIONS = tuple(_NON_FIGURE_GATED_BY_REVISION)
# revision 2: a four-digit or larger count of hours or days is an amount of time, not a stretch
# of it ("more than 50,000 hours of overtime"); years are caught before durations
_THOUSANDS = re.compile(r"\d,\d\d\d|\d{4,}")


def _could_be_duration_v2(
    text: str, start: int, end: int, lowered: str, spelled: bool
) -> bool | _Covers:
    """The duration check of revision 2: no four-digit count, then _could_be_duration."""
    # (_THOUSANDS has no anchor or look-around: searching the candidate's span of the text is
    # searching the candidate)
    return _THOUSANDS.search(text, start, end) is None and _could_be_duration(text, start, spelled)


def _covering_steps(revision: int, spelled: bool) -> tuple:
    """What find_figures tries, in precedence order, for a number of ``revision`` (digits, or a
    spelled number): ``(index, kind, gated pattern, pre-check or None)``, worked out once per
    revision rather than per number. ``index`` is the kind's place in precedence order, where
    find_figures keeps what it has found out about the kind in the text."""
    checks = dict(_COULD_COVER)
    if revision >= 2:
        checks["duration"] = _could_be_duration_v2
    return tuple(
        (index, name, gated, checks.get(name))
        for index, (name, gated) in enumerate(_NON_FIGURE_GATED_BY_REVISION[revision].items())
        # no match of the digit kinds can hold a number word (tests/test_figures.py)
        if not (spelled and name in _DIGIT_KINDS)
    )


#: {revision: (steps for digits, steps for a spelled number)}, indexed by ``spelled``
_COVERING_STEPS = {
    revision: (_covering_steps(revision, False), _covering_steps(revision, True))
    for revision in REVISIONS
}
# revision 2: "the 98 percent", "the three-mile-wide asteroid" are no known group
_MEASURE_AFTER = re.compile(
    r"-(?:mile|foot|feet|metre|meter|kilometre|kilometer|inch|pound|ton|tonne|acre|stor(?:e)?y)",
    re.IGNORECASE,
)
# revision 2: a title-case line (a headline) capitalises every word, so "Word 58" is no name there
_TITLE_WORD = re.compile(r"\b[A-Za-z][a-z’']{3,}")

FIGURE_KINDS = ("percent", "money", "vague", "count")
# "one" is a figure only in "one in five", "one third", "one million", ...
_ONE_AS_NUMBER = re.compile(
    rf"\s*(?:in|out of)\s+\w+|[\s-]+(?:{_MAGNITUDE}|dozen|percent|third|quarter|half|fifth)\b",
    re.IGNORECASE,
)
# "the two leaders", "those three": a group already known, not a new count.
_REFERENCE_BEFORE = re.compile(
    _led_by(
        "abhimoty",  # the first letters of its words
        r"\b(?:the|these|those|both|all|his|her|their|its|my|our|your)\s+(?:other\s+|first\s+)?$",
    ),
    re.IGNORECASE,
)
_MONEY_BEFORE = re.compile(r"[$£€¥]\s?$")
_MONEY_AFTER = re.compile(
    rf"\s*(?:mm|bn|m|k|{_MAGNITUDE})?\s*(?:dollars?|pounds|euros|rupees|yuan|cents|USD)\b",
    re.IGNORECASE,
)
_PERCENT_AFTER = re.compile(r"\s*(?:%|per ?cent|percentage points?)", re.IGNORECASE)
_MONEY_SUFFIX = re.compile(r"\d(?:mm|bn|m)$")  # "$5m", "12bn"
_OF_AFTER = re.compile(r"\s+of\b")  # "hundreds of ..."
_FRACTION = re.compile(
    r"\b(?:half of|a third|two-thirds|a quarter|three-quarters|one in \w+|one out of \w+|"
    r"\w+ times (?:as|more|higher|larger|greater|the))\b",
    re.IGNORECASE,
)
_HEDGE_BEFORE = re.compile(
    _led_by(
        "acflmnorsu",  # the first letters of its words
        r"\b(?:about|around|nearly|almost|more than|over|at least|up to|as many as|some|"
        r"roughly|approximately|less than|fewer than|close to|an estimated)\s*[$£€]?$",
    ),
    re.IGNORECASE,
)
_BIG = re.compile(rf"\d,\d\d\d|\d{{3,}}|{_MAGNITUDE}|\d(?:mm|bn|m|k)$", re.IGNORECASE)

# Revision 4 (revision 3, attribution rules, was an experiment and was not adopted: see
# docs/experiments/) re-reads the numbers that revision 2 takes for figures and that the
# guideline's step 2 excludes, each written as a general reading of a step-2 code. A number that
# a match of one of these patterns covers takes its kind, in this order. They come from the
# labelled sentences whose every number is a step-2 case: revision 2 reads a figure in 152 of
# those 1,183, revision 4 in 72, and no positive loses its figures. With benchmarks/uf_cv.py the
# F1 goes from 0.781 to 0.793; on the fresh sample, which no rule was written from, the device
# block goes from 0.678 to 0.704 (docs/retraining.md).
_SPAN_UNITS = rf"(?:{_UNITS[3:-1]}|millenni(?:a|ums?))"  # the time units, and millennia
_ANY_NUMBER = rf"(?=[\d{_NUMBER_WORD_INITIALS}])(?:\d[\d,.]*|{_WORD_NUMBER})"
_REREAD_V4 = {
    # "ordained in ’78", "a Sept. 28 ’17 article": a year with its century left out
    "year": r"[’'‘]\d\d\b(?!\s*(?:%|per))",
    # "said Ana Velm, 27." / "Ana Velm, 49 and now a doctor"; "average age: 66", "at the age
    # of 75", "when she was 15"
    "age": r"\b(?-i:[A-Z][a-z’'-]+),\s\d{1,2}(?=\.?[”\"]?\s*$|\s+and\s|\s*[;)—–])"
    r"|\b(?:average|median|mean)\s+age\b\W{0,3}(?:of\s+|was\s+|is\s+|between\s+)?\d{1,2}(?:[.,]\d+)?\b"
    r"|\bage of\s+\d{1,2}\b"
    rf"|\bwhen (?:she|he|they|I) (?:was|were|turned)\s+(?:\d{{1,2}}|{_WORD_NUMBER})\b(?!\s*%)",
    # "within 12 to 24 hours", "20, 30 or 50 years", "two additional minutes", "two millennia",
    # "after 2,000 years", "billions of years", "a quarter century", "the first half of 2019",
    # "a year and a half of investigation"
    "duration": _led_by(
        rf"\d{_NUMBER_WORD_INITIALS}aclowy",  # a number, "a", "first", ..., "year", ...
        rf"\b{_ANY_NUMBER}(?:,\s*{_ANY_NUMBER})*,?\s*(?:to|or|and|-|–)\s*{_ANY_NUMBER}"
        rf"\s+(?:more\s+)?{_SPAN_UNITS}\b"
        rf"|\b{_ANY_NUMBER}\s+(?:additional|more|long|extra|full|straight|consecutive|whole|"
        rf"short)\s+{_SPAN_UNITS}\b"
        rf"|\b{_ANY_NUMBER}[\s-]+millenni(?:a|ums?)\b"
        r"|\b\d{1,3}(?:,\d\d\d)+\s+(?:years|decades|centuries)\b"
        r"|\b(?:hundreds|thousands|millions|billions) of (?:years|decades|centuries|millennia)\b"
        r"|\ba (?:quarter|half)[\s-](?:century|decade|millennium)\b"
        r"|\b(?:first|second|last|latter|former|other)\s+half of\b"
        r"|\b(?:year|month|week|day|hour|decade|century)s?\s+and\s+a\s+half\s+of\b",
    ),
    # a line that is a list number alone ("3."), a list marker glued to its item ("1)The"),
    # "a third source" (a proportion only as "a third of ..."), "part two", "week 2"
    "ordinal": r"^[^\w%$£€]*\d{1,3}[.):\s]*$|^\W*\d{1,2}\)(?=\S)"
    r"|\ba third\s+(?!(?:of|more|less|fewer|as|higher|lower|larger|smaller|bigger|greater)\b)"
    r"[a-z]"
    rf"|\b(?:number|part|week|phase|stage|round|season|episode|chapter)\s+{_WORD_NUMBER}\b"
    r"|\bweek\s+\d{1,2}\b",
    # "3-D", ".22 and .223 caliber"
    "name": r"\b\d-D\b"
    r"|(?<!\w)\.\d{2,3}\b(?=(?:\s*(?:,|and|or|to)?\s*\.\d{2,3})*[\s-]*calib(?:er|re)\b)",
    # "the 1:27:54 mark", "18 U.S. Code", "18 U.S.C."
    "identifier": r"\d+(?::\d+){2,}|\b\d+\s+U\.S\.(?:C\.?|\s+Code)",
}
_REREAD_V4_RE = {
    name: re.compile(pattern, re.IGNORECASE | re.MULTILINE) for name, pattern in _REREAD_V4.items()
}
# what every match of each pattern holds (checked on the corpus by tests/test_figures.py): as
# whole words where a substring would pass most sentences ("day" in "Monday", "age" in "page")
_DURATION_WORDS = (
    "year", "years", "month", "months", "week", "weeks", "day", "days", "hour", "hours",
    "minute", "minutes", "min", "mins", "second", "seconds", "decade", "decades", "century",
    "centuries", "night", "nights", "hr", "hrs", "millennia", "millennium", "millenniums",
)  # fmt: skip
_REREAD_V4_GATED = {
    "year": _Gated(_REREAD_V4_RE["year"], prefilter=r"[’'‘]\d\d"),
    "age": _Gated(_REREAD_V4_RE["age"], ["when "], words=["age"], prefilter=r",\s\d"),
    "duration": _Gated(_REREAD_V4_RE["duration"], ["half of"], words=_DURATION_WORDS),
    "ordinal": _Gated(
        _REREAD_V4_RE["ordinal"],
        ["a third"],
        words=["number", "part", "week", "phase", "stage", "round", "season", "episode", "chapter"],
        prefilter=_LINE_OPENS_WITH_NUMBER,
    ),
    # "3-D" holds the word "d", ".22 caliber" the word "caliber" (after a space or a hyphen)
    "name": _Gated(_REREAD_V4_RE["name"], words=["d", "caliber", "calibre"]),
    # ("\d:\d+:" written ":(?<=\d:)\d+:", to open with the rarer ":")
    "identifier": _Gated(_REREAD_V4_RE["identifier"], ["u.s."], prefilter=r":(?<=\d:)\d+:"),
}
# What stands right before the time unit that ends most re-read durations (after spaces, or a
# hyphen: "a quarter-century"): a number ("12 to 24 hours", "20, 30 or 50 years"), "more" ("two
# more days") or another word of its second branch, "of" ("thousands of years"), "quarter" or
# "half"; the other branches hold "half of" or "millenni".
_BEFORE_SPAN_UNIT = frozenset(
    [w + plural for w in _NUMBER_WORDS.split("|") for plural in ("", "s")]
    + ["more", "additional", "long", "extra", "full", "straight", "consecutive", "whole", "short"]
    + ["of", "quarter", "half"]
)
_LONGEST_BEFORE_SPAN_UNIT = max(map(len, _BEFORE_SPAN_UNIT))
_LAST_WORD = re.compile(r"[a-z]+\Z")


def _could_reread_duration(text: str, lowered: str, words: frozenset) -> bool:
    """May the duration pattern of _REREAD_V4 match ``text``? Its gate passes most texts with a
    time unit ("the past few days"), and then a scan tries its number words at every word: this
    looks at the few places where a unit stands instead (tests/test_figures.py checks it
    against the pattern)."""
    if "half of" in lowered or "millenni" in lowered or _respelled(text, lowered):
        return True
    for unit in _REREAD_V4_GATED["duration"].words.intersection(words):
        at = lowered.find(unit)
        while at >= 0:
            head = lowered[:at].rstrip().rstrip("-")
            last = head[-1:]
            if last.isdigit() or last in (",", "."):
                return True
            word = _LAST_WORD.search(head, max(0, len(head) - _LONGEST_BEFORE_SPAN_UNIT - 1))
            if word is not None and word.group() in _BEFORE_SPAN_UNIT:
                return True
            at = lowered.find(unit, at + 1)
    return False


# in order (the first that covers wins), each with a pre-check that may rule its pattern out
# where its gate lets it through
_REREAD_V4_STEPS = tuple(
    (name, gated, _could_reread_duration if name == "duration" else None)
    for name, gated in _REREAD_V4_GATED.items()
)


def _reread(
    text: str, found: list[tuple[int, int, str]], lowered: str, words: frozenset
) -> list[tuple[int, int, str]]:
    """Revision 4: the figures of ``found`` that a ``_REREAD_V4`` match covers take its kind."""
    # Step by step rather than figure by figure: each figure still takes the kind of the first
    # step whose match covers it, and a step's gate and scan still run only when a figure is
    # left for it, but the steps are walked once per text rather than once per figure.
    left = [i for i, number in enumerate(found) if number[2] in FIGURE_KINDS]
    out = found  # copied only when a kind changes (most figures stay figures)
    for name, gated, could_match in _REREAD_V4_STEPS:
        if not left:
            break
        if not gated.possible(lowered, words) or (
            could_match is not None and not could_match(text, lowered, words)
        ):
            continue  # (most texts: its gate rules the pattern out)
        spans = [m.span() for m in gated.pattern.finditer(text)]
        if not spans:
            continue
        still = []
        for i in left:
            start, end, _ = found[i]
            if any(s <= start and end <= e for s, e in spans):
                if out is found:
                    out = list(found)
                out[i] = (start, end, name)
            else:
                still.append(i)
        left = still
    return out


# Attribution (guideline step 4). A source must be a source: a name, a pronoun speaker, an
# office, a medium, a document; "experts say" and "reportedly" are hedges, not sources.
_SPEECH_VERBS = (
    r"said|says|say|told|tells|stated|states|reported|reports|wrote|writes|estimated|estimates|"
    r"confirmed|confirms|announced|announces|testified|claimed|claims|added|adds|noted|notes|"
    r"explained|explains|revealed|reveals|acknowledged|admitted|insisted|argued|tweeted|posted|"
    r"cited|counted|found|finds|showed|shows|show|indicated|indicates|continued|declared|"
    r"recalled|disclosed|calculated|recorded|tallied|put|puts|asked|replied|warned|warns|"
    r"believes|believed|told"
)
# "per" before a unit is a rate ("miles per hour", "40 per cent"), not a source ("per the CDC")
_RATE_UNITS = (
    r"cent|centum|capita|annum|head|person|people|hour|day|week|month|year|second|minute|mile|"
    r"kilo\w*|gallon|litre|liter|barrel|ton|tonne|pound|ounce|acre|unit|share|household|family|"
    r"student|child|patient|dose|vote|game|visit|trip|flight|case|lb|kg|km|mph"
)
_SOURCE_NOUNS = (
    r"officials?|police|spokes(?:man|woman|person)|ministry|department|agency|bureau|"
    r"authorities|government|data|figures|statistics|numbers|study|survey|poll|census|report|"
    r"records|documents|media|newspaper|outlet|website|investigators|prosecutors|court|"
    r"commission|office|researchers|scientists|company|organi[sz]ation|institute|he|she|they|"
    r"it|who"  # not "I"/"we": a first-person writer vouches for their own figures
)
# (split at every "|", the groups too: "woman" and "person" add letters a noun already starts with)
_SOURCE_NOUN_INITIALS = "".join(sorted({noun[0] for noun in _SOURCE_NOUNS.split("|")}))
# verbs that introduce their speaker after the words: "..., said the mayor", "”, reports CBS"
_INVERTED_VERBS = (
    r"said|says|told|tells|stated|states|reported|reports|wrote|writes|added|adds|noted|notes|"
    r"explained|explains|tweeted|posted|declared|announced|confirmed|estimated|estimates|"
    r"insisted|argued|warned|warns|replied|recalled|claimed|claims"
)
_HEDGE_SUBJECTS = r"experts?|some|many|people|others|reports|studies|critics|sources|analysts"
_ATTRIBUTION_PATTERNS = {
    # "according to the ministry", "(per govt stats)", "citing police"
    "according_to": (
        rf"\baccording to\b|\bper (?:the |a )?(?!(?:{_RATE_UNITS})\b)[A-Za-z]|\bciting\b"
        r"|\bas reported by\b",
        True,
    ),
    # a source, then a speech verb: "Officials said", "The Washington Post reports", "she told"
    # (case-sensitive: a lower-case noun, a capital or ")" opens a match; the look-aheads for
    # their first letters spare most words the stop-word tests)
    "source_says": (
        _led_by(
            rf"A-Z){_SOURCE_NOUN_INITIALS}",
            rf"(?:\b(?=[{_SOURCE_NOUN_INITIALS}])(?!(?:{_HEDGE_SUBJECTS})\b)(?:{_SOURCE_NOUNS})|\b(?=[A-Z])(?!(?:The|A|An|In|On|But|And|So|It|This|That|(?i:{_HEDGE_SUBJECTS}))\b)"
            rf"[A-Z][\w.’'-]+|\))\s+(?:(?:has|have|had|also|later|then|recently|publicly|"
            rf"previously|on \w+|\w+ly)\s+)*(?:{_SPEECH_VERBS})\b",
        ),
        False,
    ),
    # any speaker who told or said something: "two women told the paper", "the lawyer said"
    "speaker_said": (
        rf"\b(?!(?:{_HEDGE_SUBJECTS}|is|are|was|were|be|been|it)\b)\w+\s+(?:\w+ly\s+)?"
        r"(?:told|said|says|testified|wrote|writes)\b",
        True,
    ),
    # "counted by The Washington Post", "figures compiled by the bureau"
    "by_source": (
        _led_by(
            "acegoprtCGOP",  # the first letters of its words (case-sensitive)
            r"\b(?:counted|reported|compiled|released|published|estimated|confirmed|tallied|"
            r"recorded|cited|provided|obtained|reviewed|analy[sz]ed|conducted|commissioned) by "
            r"(?:the )?[A-Z]"
            r"|\b(?:[Oo]fficial|[Gg]overnment|[Pp]olice|[Cc]ensus) (?:statistics|figures|data|"
            r"count|estimates?|toll|records)\b",
        ),
        False,
    ),
    # a named actor's request: "the governor asked Congress for $46 billion" (guideline)
    "request": (r"\basked (?:\S+ ){0,3}for\b|\bcalled (?:on|for)\b|\bdemand(?:s|ed)\b", True),
    # inverted: "..., said the mayor", "”, reports CBS News"
    "says_source": (
        rf"[,”\"]\s*(?:{_INVERTED_VERBS})\s+(?:the |a |an |his |her |their |its )?"
        r"(?!(?:of|that|to|in|on|it|a lot|more|much|nothing)\b)[A-Za-z]",
        False,
    ),
    # "data from", "a study by", "records show", "in a statement"
    "source_phrase": (
        r"\b(?:data|figures|statistics|numbers|estimates?) (?:from|released by|published by|"
        r"compiled by|provided by)\b|\b(?:a|the|an?) (?:[\w-]+ )?(?:study|poll|survey|report|"
        r"analysis|census|audit|review|tally|count) (?:by|from|published|released|conducted|"
        r"found|shows?|showed|says?|said|estimates?)\b|\b(?:records|documents|filings|figures|"
        r"data|statistics|numbers|estimates) (?:show|showed|reveal|revealed|indicate|indicated|"
        r"suggest)\b|\bsource:|\bin (?:an? |the |his |her |their )?(?:interview|statement|"
        r"report|press release|tweet|post|letter|testimony|filing)\b",
        True,
    ),
    # "[Headline, by A. Writer, Some Paper, 3 May]", "[3]", "(via Reuters)"
    "citation": (
        r"\[[^\]]{12,}\]|\[\d+\]|\((?:per|via|source|h/t)\b[^)]*\)|^\W*(?:pic|photo|image|"
        r"credit|source)s?:|^[A-Z][A-Z .,]+\s*\([A-Z][\w ]+\)\s*[-–—]",
        True,
    ),
}
_ATTRIBUTION = {
    name: re.compile(pattern, re.IGNORECASE if fold else 0)
    for name, (pattern, fold) in _ATTRIBUTION_PATTERNS.items()
}
_HEDGE = re.compile(
    _led_by(
        # the adverbs, "it is", "is|are|was|were", "some say" and the hedge subjects start so
        "aceimoprsw",
        r"\b(?:reportedly|allegedly|purportedly|supposedly|it is (?:estimated|believed|thought|"
        r"said)|(?:is|are|was|were) (?:believed|thought|estimated|said) to|some say|"
        rf"(?:{_HEDGE_SUBJECTS}) (?:say|said|warn|warned|suggest|show|indicate|indicated|believe|"
        r"claim|estimate))\b",
    ),
    re.IGNORECASE,
)
# A speaker tag next to a quotation: '..." said Rick', '”, Carlson reported', 'Kerry declared, “'
_SPEAKER_TAG_AFTER_MARK = (
    rf"[,”\"!?]\s*(?:(?:{_SPEECH_VERBS})\s+\S+|\S+(?:\s\S+){{0,3}}\s+(?:{_SPEECH_VERBS}))\b"
)
_SPEAKER_TAG_BEFORE_QUOTE = rf"\b(?:{_SPEECH_VERBS})\b[^.“\"]{{0,40}}[:,]\s*[“\"]"
_SPEAKER_TAG = re.compile(rf"{_SPEAKER_TAG_AFTER_MARK}|{_SPEAKER_TAG_BEFORE_QUOTE}", re.IGNORECASE)
# The next sentence names the source of *these* figures: "Those figures come from ...".
_ANAPHORIC_SOURCE = re.compile(
    r"^\W*(?:(?:that|this|these|those|the|both) (?:figures?|numbers?|data|statistics|estimates?|"
    r"count|tally|toll)\b|that(?:'s| is) according\b|source:|according to\b|\[)",
    re.IGNORECASE,
)
# A "Source: ..." line covers the table rows next to it, wherever it sits in that line.
_SOURCE_LINE = re.compile(r"\bsources?:\s*\S", re.IGNORECASE)
_SOURCE_LINE_WORDS = frozenset(["source", "sources"])
_SIGNATURE = re.compile(r"—\s*[^—]{1,60}\(@\w+\)")


def _has_source_line(sentence: _Sentence) -> bool:
    """``_SOURCE_LINE.search(sentence.text) is not None``, searched only when "source" or
    "sources" is one of its words, as in every match (unless the text is _respelled): the
    search tries the pattern at every word of the sentence."""
    text, lowered = sentence.text, sentence.lowered
    if _SOURCE_LINE_WORDS.isdisjoint(sentence.words) and not _respelled(text, lowered):
        return False
    return _SOURCE_LINE.search(text) is not None


# What a match of each pattern must contain, for _Gated.
# The speech verbs stand alone in every pattern that needs one (after a space, a comma or a
# quotation mark, before a word boundary), so they are checked as whole words.
_SPEECH_WORDS = {"words": _SPEECH_VERBS.split("|")}
# So do the other words of these patterns ("according to", "per the", "a study by", "in a
# statement", "Source:", "Photos:"): one set intersection with the sentence's words is cheaper
# than a substring test for each of them.
_ATTRIBUTION_LITERALS = {
    "according_to": {"words": ["according", "per", "citing", "reported"]},
    "source_says": _SPEECH_WORDS,
    "speaker_said": {"words": ["told", "said", "says", "testified", "wrote", "writes"]},
    # (case-sensitive: each match holds one of its verbs or nouns as it is written; "by", in
    # every match of the first branch too, is in most sentences)
    "by_source": {"words": [
        "counted", "reported", "compiled", "released", "published", "estimated", "confirmed",
        "tallied", "recorded", "cited", "provided", "obtained", "reviewed", "analysed",
        "analyzed", "conducted", "commissioned", "official", "government", "police", "census",
    ]},
    "request": {"words": ["asked", "called", "demands", "demanded"]},
    "says_source": {"words": _INVERTED_VERBS.split("|")},
    "source_phrase": {"words": [
        "data", "figures", "statistics", "numbers", "estimate", "estimates", "study", "poll",
        "survey", "report", "analysis", "census", "audit", "review", "tally", "count", "records",
        "documents", "filings", "source", "interview", "statement", "press", "tweet", "post",
        "letter", "testimony", "filing",
    ]},
    "citation": {
        "literals": ["[", "("],
        "words": ["pic", "pics", "photo", "photos", "image", "images", "credit", "credits",
                  "source", "sources"],
    },
}  # fmt: skip
_ATTRIBUTION_GATED = {
    name: _Gated(pattern, **_ATTRIBUTION_LITERALS[name]) for name, pattern in _ATTRIBUTION.items()
}
_ATTRIBUTION_GATES = tuple(_ATTRIBUTION_GATED.values())


def _any_gate(gates) -> _Gated:
    """A gate that passes the texts that one of ``gates`` (of words and literals only) passes:
    one test, rather than one per gate, for the many texts that none of them lets through.
    (Only its ``possible`` is asked; its pattern is no pattern.)"""
    assert not any(gate.prefilters or gate.always for gate in gates)
    words = frozenset().union(*(gate.words for gate in gates))
    literals = [literal for gate in gates for literal in gate.literals]
    return _Gated(re.compile(r"(?!)"), literals, words)


_ANY_ATTRIBUTION = _any_gate(_ATTRIBUTION_GATES)
_HEDGE_GATED = _Gated(
    _HEDGE,
    words=[
        "reportedly", "allegedly", "purportedly", "supposedly", "estimated", "believed",
        "thought", "said", "say", "warn", "warned", "suggest", "show", "indicate", "indicated",
        "believe", "claim", "estimate",
    ],
)  # fmt: skip
_SPEAKER_TAG_GATED = _Gated(_SPEAKER_TAG, **_SPEECH_WORDS)
# Whether a sentence has a speaker tag at all is whether either branch has a match; the second
# ends in a quotation mark, so it is tried only when there is one (trying its 60 verbs at every
# word boundary cost more than the first branch).
_SPEAKER_TAG_BRANCHES = (
    re.compile(_SPEAKER_TAG_AFTER_MARK, re.IGNORECASE).search,
    re.compile(_SPEAKER_TAG_BEFORE_QUOTE, re.IGNORECASE).search,
)
_SIGNATURE_GATED = _Gated(_SIGNATURE, ["(@"])


class _CandidateFinder(_Gated):
    """``_CANDIDATE``, run as its first (digits) branch alone when the text holds no number word:
    the second branch starts with one as a whole word, so it cannot match, and trying its 30
    words at every word boundary is most of the pattern's cost.

    When the text holds number words, the second branch is tried only where one of them
    occurs, not at every word. A match of that branch opens with a number word (or its plural)
    that is a whole run of ASCII letters of the lower-cased text, at the same place as in the
    text unless the text is :func:`_respelled` (then the whole pattern runs). The matches of
    the two branches interleave without reaching into each other, but for a magnitude the
    digits branch takes along ("5 million"): a number word inside a match found earlier is no
    match of its own, as in the scan of the whole pattern (tests/test_figures.py compares the
    two)."""

    _any_digit = re.compile(r"\d").search
    _digits = re.compile(_CANDIDATE_DIGITS, re.IGNORECASE)
    # the second branch, matched at a given place (a word boundary before it is still read off
    # the character before that place)
    _spelled = re.compile(
        rf"\b{_STARTS_NUMBER_WORD}{_WORD_NUMBER}(?:[\s-]+(?:and\s+)?{_WORD_NUMBER})*\b",
        re.IGNORECASE,
    ).match

    def __init__(self):
        words = [w + plural for w in _NUMBER_WORDS.split("|") for plural in ("", "s")]
        super().__init__(_CANDIDATE, words=words, prefilter=r"\d")  # a number word or a digit

    def finditer(self, text: str, lowered: str, words: frozenset):
        present = self.words.intersection(words)
        if not present:
            return self._digits.finditer(text) if self._any_digit(text) else ()
        if _respelled(text, lowered):
            return self.pattern.finditer(text)
        # where the number words of the text start (a word inside a longer word, as "one" in
        # "money", is tried too: the word boundary rules it out)
        starts = set()
        for word in present:
            at = lowered.find(word)
            while at >= 0:
                starts.add(at)
                at = lowered.find(word, at + 1)
        digits = self._digits.finditer(text) if self._any_digit(text) else iter(())
        digit = next(digits, None)
        matches = []
        end = 0  # where the last match ends: a word that starts before it is inside it
        spelled = self._spelled
        for at in sorted(starts):
            while digit is not None and digit.start() < at:
                matches.append(digit)
                end = digit.end()
                digit = next(digits, None)
            if at >= end and (found := spelled(text, at)) is not None:
                matches.append(found)
                end = found.end()
        if digit is not None:
            matches.append(digit)
            matches += digits
        return matches


_CANDIDATE_GATED = _CandidateFinder()
_SCORES_OF = _Gated(re.compile(r"\bscores of\b", re.IGNORECASE), words=["scores"])
# ("one" as a word would pass most sentences: "one in " and "one out of " stay substrings)
_FRACTION_GATED = _Gated(
    _FRACTION,
    ["one in ", "one out of "],
    words=["half", "third", "thirds", "quarter", "quarters", "times"],
)
# The three gates find_figures asks of every text, as one: a text that none of them lets through
# holds no number (a third of the sentences the cues read), and the fractions' and "scores of"
# gates as one for the texts that hold a number (most hold neither)
_NUMBER_GATE_WORDS = _CANDIDATE_GATED.words | _FRACTION_GATED.words | _SCORES_OF.words
_NUMBER_GATE_LITERALS = _FRACTION_GATED.literals  # (the candidate's prefilter is a digit)
_ANY_DIGIT = _CandidateFinder._any_digit
_ANY_PROPORTION = _any_gate([_FRACTION_GATED, _SCORES_OF])


def _is_headline(text: str) -> bool:
    """Is ``text`` a title-case line, every word of four letters or more capitalised?"""
    words_of = _TITLE_WORD.findall(text)
    return len(words_of) >= 3 and all(w[0].isupper() for w in words_of)


_QUOTE_MARK = re.compile('["“”]')


def _quoted_spans(text: str) -> list[tuple[int, int]]:
    """Where ``text`` is inside a direct quotation, as ``(start, end)`` spans (they may
    overlap). An opening mark with no closing one runs to the end of the sentence, a closing
    mark with no opening one covers what comes before it (the sentence continues or opens a
    multi-sentence quotation). Only the quotation marks are walked, and the row asks about a
    character or two: spans rather than a per-character mask (tests/test_figures.py compares
    them with the mask)."""
    spans = []
    open_at = None
    for mark in _QUOTE_MARK.finditer(text):
        i = mark.start()
        c = text[i]
        opening = c == "“" or (c == '"' and open_at is None)
        if opening and open_at is None:
            open_at = i
        elif not opening:  # a closing mark ('”', or '"' with a quotation open)
            spans.append((0 if open_at is None else open_at, i + 1))
            open_at = None
    if open_at is not None:
        spans.append((open_at, len(text)))
    return spans


def _inside(spans: list[tuple[int, int]], i: int) -> bool:
    """Is character ``i`` in one of ``spans``?"""
    return any(s <= i < e for s, e in spans)


def find_figures(
    text: str,
    lowered: str | None = None,
    words: frozenset | None = None,
    *,
    revision: int = LATEST_REVISION,
) -> list[tuple[int, int, str]]:
    """Every number of ``text`` as ``(start, end, kind)``: a figure kind (``FIGURE_KINDS``) or
    the reason it is not a figure (``NON_FIGURE_KINDS``: year, date, duration, ...).
    ``lowered`` is ``text.lower()`` and ``words`` its :func:`_words`, if the caller has them;
    ``revision`` picks the rules of that revision of the cues (see ``LATEST_REVISION``)."""
    if lowered is None:
        lowered = text.lower()
    if words is None:
        words = _words(lowered)
    if (
        _NUMBER_GATE_WORDS.isdisjoint(words)
        and _ANY_DIGIT(text) is None
        and not any(map(lowered.__contains__, _NUMBER_GATE_LITERALS))
    ):
        return []
    candidates = list(_CANDIDATE_GATED.finditer(text, lowered, words))
    fractions = []
    if _ANY_PROPORTION.possible(lowered, words):
        fractions = [
            (m.start(), m.end(), "percent") for m in _FRACTION_GATED.finditer(text, lowered, words)
        ]
        if revision >= 2:
            # "scores of doctors": a vague quantity with no number word in it
            scores = _SCORES_OF.finditer(text, lowered, words)
            fractions += [(m.start(), m.end(), "vague") for m in scores]
    if not candidates:
        # most sentences: no number, no need for the non-figure patterns
        return sorted(
            _reread(text, fractions, lowered, words) if revision >= 4 and fractions else fractions
        )
    # Each non-figure pattern is run when a candidate first needs it: a number the year pattern
    # already explains never waits for the identifier pattern.
    steps_by_spelling = _COVERING_STEPS[revision]
    # per kind, at its index in the steps: may its pattern match this text at all (its gate),
    # and where it does match (lists rather than dicts by name: they are read for every number)
    possible_of: list[bool | None] = [None] * len(_NON_FIGURE_GATED_BY_REVISION[revision])
    spans_of: list[list[tuple[int, int]] | None] = [None] * len(possible_of)

    found = list(fractions)
    for match in candidates:
        start, end = match.span()
        if fractions and any(s < end and start < e for s, e, _ in fractions):
            continue  # "one in five" is one proportion
        token = match.group().lower()
        spelled = not token[0].isdigit()
        if not spelled and _is_year(token):
            found.append((start, end, "year"))  # the most common number: no scan needed
            continue
        before, after = text[max(0, start - 30) : start], text[end : end + 30]
        plain_one = token in ("one", "ones") and not _ONE_AS_NUMBER.match(after)
        if revision >= 2 and plain_one:
            # "one of them", "no one": no figure, whatever else might cover it ("one day");
            # deciding it first spares the non-figure patterns the most common number word
            found.append((start, end, "one"))
            continue
        # the first non-figure kind, in precedence order, with a match around the number
        kind = None
        for index, name, gated, could_cover in steps_by_spelling[spelled]:
            # the gate first, once per text: most texts rule most kinds out, and then the
            # number's own check need not run
            possible = possible_of[index]
            if possible is None:
                possible = possible_of[index] = gated.possible(lowered, words)
            if not possible:
                continue
            if could_cover is not None:
                answer = could_cover(text, start, end, lowered, spelled)
                if not answer:
                    continue
                if answer is _COVERS:  # a match covers the number: no need to find it
                    kind = name
                    break
            spans = spans_of[index]
            if spans is None:
                spans = spans_of[index] = [m.span() for m in gated.pattern.finditer(text)]
                if revision >= 2 and name == "name" and spans and _is_headline(text):
                    spans = spans_of[index] = [
                        (s, e) for s, e in spans if not any(c.isspace() for c in text[s:e])
                    ]
            if any(s <= start and end <= e for s, e in spans):
                kind = name
                break
        if kind is None and plain_one:
            kind = "one"
        elif (
            kind is None
            and _REFERENCE_BEFORE.search(before)
            and not _BIG.search(token)
            and not (revision >= 2 and (_PERCENT_AFTER.match(after) or _MEASURE_AFTER.match(after)))
        ):
            kind = "reference"
        elif kind is None:
            if token.endswith("%") or _PERCENT_AFTER.match(after):
                kind = "percent"
            elif (
                _MONEY_BEFORE.search(before)
                or _MONEY_AFTER.match(after)
                or _MONEY_SUFFIX.search(token)
            ):
                kind = "money"
            elif spelled and token.endswith("s") and _OF_AFTER.match(after):
                kind = "vague"
            else:
                kind = "count"
        found.append((start, end, kind))
    if revision >= 4:
        found = _reread(text, found, lowered, words)
    return sorted(found)


def _attribution_spans(text: str, lowered: str, words: frozenset) -> list[tuple[int, int, str]]:
    spans = [
        (m.start(), m.end(), name)
        for name, gated in _ATTRIBUTION_GATED.items()
        if gated.possible(lowered, words)
        for m in gated.pattern.finditer(text)
    ]
    spans.sort()
    return spans


class _lazy:
    """``functools.cached_property`` without its lock. Python 3.11's takes an RLock on every
    first access; 3.12 dropped the lock. A ``_Sentence`` lives inside one scoring call, so one
    thread reads it."""

    def __init__(self, func):
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        # stored under the same name: the instance's dict answers every later access directly
        value = instance.__dict__[self.name] = self.func(instance)
        return value


class _Sentence:
    """What :class:`FigureCues` reads off one sentence, each part worked out when first asked
    for: of a neighbouring sentence the cues need only a few."""

    def __init__(self, text: str, revision: int):
        self.text = text
        self.revision = revision

    # lazy too: most neighbours are never asked anything (their sentence has no figure)
    @_lazy
    def lowered(self) -> str:
        return self.text.lower()

    @_lazy
    def words(self) -> frozenset:
        return _words(self.lowered)

    @_lazy
    def figures(self) -> list:
        """(start, end, kind), figure kinds only"""
        # the numbers split in one pass: the others are asked for as soon as the figures
        figures, others = [], []
        for number in find_figures(self.text, self.lowered, self.words, revision=self.revision):
            (figures if number[2] in FIGURE_KINDS else others).append(number)
        self.__dict__["others"] = others
        return figures

    @_lazy
    def others(self) -> list:
        """(start, end, kind), numbers that are no figures"""
        self.figures  # noqa: B018 (reading the figures sets the others)
        return self.__dict__["others"]

    @_lazy
    def attribution(self) -> list:
        """(start, end, pattern name)"""
        return _attribution_spans(self.text, self.lowered, self.words)

    @_lazy
    def sourced(self) -> bool:
        if "attribution" in self.__dict__:
            return bool(self.attribution)
        # one match is enough: no need to find them all
        text, lowered, words = self.text, self.lowered, self.words
        if not _ANY_ATTRIBUTION.possible(lowered, words):
            return False
        for gated in _ATTRIBUTION_GATES:
            if gated.possible(lowered, words) and gated.pattern.search(text) is not None:
                return True
        return False

    @_lazy
    def hedges(self) -> int:
        if not _HEDGE_GATED.possible(self.lowered, self.words):
            return 0
        return len(_HEDGE.findall(self.text))

    @_lazy
    def quoted(self) -> list[tuple[int, int]]:
        """the spans inside a quotation (see _quoted_spans)"""
        return _quoted_spans(self.text)

    @_lazy
    def speaker_tag(self) -> bool:
        return _has_speaker_tag(self.text, self.lowered, self.words) or bool(
            _SIGNATURE_GATED.search(self.text, self.lowered, self.words)
        )


def _has_speaker_tag(text: str, lowered: str, words: frozenset) -> bool:
    """``_SPEAKER_TAG_GATED.search(...) is not None``, branch by branch."""
    if not _SPEAKER_TAG_GATED.possible(lowered, words):
        return False
    after_mark, before_quote = _SPEAKER_TAG_BRANCHES
    if after_mark(text) is not None:
        return True
    return ('"' in text or "“" in text) and before_quote(text) is not None


def _opens_quotation(text: str) -> bool:
    """Does ``text`` end inside a quotation it opened (one the next sentence continues)? That is,
    is its last curly quotation mark an opening one (found from the end: -1 for none)?"""
    return text.rfind("“") > text.rfind("”")


def _closes_quotation(text: str) -> bool:
    """Does ``text`` close a quotation it did not open (one an earlier sentence opened)? That is,
    is its first curly quotation mark a closing one?"""
    closing = text.find("”")
    if closing < 0:
        return False
    opening = text.find("“")
    return opening < 0 or closing < opening


def _token_distance(text: str, a: tuple[int, int], b: tuple[int, int]) -> int:
    """Words between two character spans of ``text`` (0 when they touch or overlap)."""
    left, right = (a, b) if a[0] <= b[0] else (b, a)
    if right[0] <= left[1]:
        return 0
    return len(text[left[1] : right[0]].split())


def masked_text(text: str) -> str:
    """The sentence with each number replaced by a shape token (``0``, ``00``, ``0,000``...), so
    word n-grams generalise across values ("$ 00 million" rather than "$ 14 million")."""
    return re.sub(r"\d", "0", text)


def _neighbours(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    framed = add_neighbour_columns(frame)
    return framed["prev_text"].fillna("").tolist(), framed["next_text"].fillna("").tolist()


_CUE_WIDTH: dict[int, int] = {}  # number of cues of each revision


class FigureCues(TransformerMixin, BaseEstimator):
    """Dense, label-free cues for the guideline's three questions (log-scaled counts and flags).

    Is there a figure, and of which kind (count, money, percent, vague); which numbers are no
    figures (dates, durations, ages, ordinals, names, identifiers, "one", a known group); is a
    figure sourced, and does the source cover *it*: an attribution in the same sentence close to
    the figure, a figure inside a quotation with a speaker named nearby, a neighbouring sentence
    that names the source of these figures ("Those figures come from ..."), rather than any
    source word somewhere nearby. Conjunctions spell out "a figure AND no source" for the
    linear model that reads them.

    ``revision`` picks the rules (``LATEST_REVISION`` by default; a model keeps the revision it
    was fit with). Revision 2 reads numbers closer to the guideline and gives a sentence without
    a figure no attribution or neighbour cues.
    """

    #: words between a figure and an attribution for the attribution to count as "near" it
    near_words = 12

    def __init__(self, revision: int = LATEST_REVISION):
        self.revision = revision

    def __setstate__(self, state):
        super().__setstate__(state)
        # fitted before revisions existed: the cues of revision 1
        self.__dict__.setdefault("revision", 1)

    def fit(self, X, y=None):
        if self.revision not in REVISIONS:
            raise ValueError(
                f"FigureCues revision must be one of {list(REVISIONS)}, got {self.revision!r}"
            )
        self.n_features_in_ = 1
        return self

    def transform(self, X: pd.DataFrame):
        previous, following = _neighbours(X)
        return self.transform_texts(X["text"].tolist(), previous, following)

    def transform_texts(self, texts: list[str], previous: list[str], following: list[str]):
        """The cues of ``texts`` given each one's previous and next sentence ("" for none); what
        the scorer calls with plain lists, without building a frame."""
        # each sentence is read once per call, though it is also its neighbours' neighbour; the
        # reads are not kept beyond the call (scoring a stream must not grow a cache)
        reads: dict[str, _Sentence] = {}

        def read(text: str) -> _Sentence:
            sentence = reads.get(text)
            if sentence is None:
                sentence = reads[text] = _Sentence(text, self.revision)
            return sentence

        # many rows are all zeros (no number at all): only the others are converted to floats
        rows, at = [], []
        for i, (text, before, after) in enumerate(zip(texts, previous, following, strict=True)):
            row = self._row(read(text), before, after, read)
            if row is not None:
                rows.append(row)
                at.append(i)
        cues = np.zeros((len(texts), self._width()))
        if rows:
            cues[at] = rows
        return sparse.csr_matrix(np.log1p(cues))

    def _row(self, here: _Sentence, before: str, after: str, read) -> list[float] | None:
        """The cues of ``here`` between the sentences ``before`` and ``after``, which are
        ``read`` (to a _Sentence) only when the row needs them; None for a row of zeros."""
        text = here.text
        figures = here.figures
        if not figures and self.revision >= 2 and not here.others:
            return None  # no number: every count is 0, and the cues after them are skipped
        has_figure = bool(figures)
        kinds = [f[2] for f in figures]
        others = [f[2] for f in here.others]
        # (map over a bound method: the loop runs in C)
        row = [*map(kinds.count, FIGURE_KINDS), *map(others.count, NON_FIGURE_KINDS)]
        if figures:  # (most rows have none)
            big = [f for f in figures if _BIG.search(text[f[0] : f[1]]) or f[2] == "vague"]
            hedged = [f for f in figures if _HEDGE_BEFORE.search(text[max(0, f[0] - 30) : f[0]])]
            quoted_spans = here.quoted
            quoted = [f for f in figures if _inside(quoted_spans, f[0])] if quoted_spans else []
        else:
            big = hedged = quoted = []
        row += [len(figures), has_figure, bool(here.others) and not has_figure]
        row += [len(big), len(hedged), len(quoted), len(figures) - len(quoted)]
        if self.revision >= 2 and not has_figure:
            # no figure, nothing to source: skip the attribution and neighbour cues
            return row + [0] * (self._width() - len(row))

        prev, nxt = read(before), read(after)
        # attribution in the sentence, and how close it is to the figures
        names = [a[2] for a in here.attribution]
        row += [names.count(name) for name in _ATTRIBUTION] + [here.hedges, here.speaker_tag]
        distances = [
            min(_token_distance(text, f[:2], a[:2]) for a in here.attribution)
            for f in figures
            if here.attribution
        ]
        near = [d for d in distances if d <= self.near_words]
        far = len(figures) - len(near)
        nearest = min(distances) if distances else None
        # "Officials said ..." / "According to X, ..." / "..., the ministry said." governs the
        # whole sentence, wherever its figures are
        opens = any(len(text[: a[0]].split()) <= 6 for a in here.attribution)
        closes = any(len(text[a[1] :].split()) <= 6 for a in here.attribution)
        governs = bool(figures) and (opens or closes)
        row += [
            opens,
            closes,
            nearest is not None and nearest <= 3,
            nearest is not None and 3 < nearest <= self.near_words,
            nearest is not None and nearest > self.near_words,
            far,
        ]

        # the neighbours
        numbers_here = {text[s:e].lower() for s, e, _ in figures}
        neighbour_sourced = False
        for other, other_text in ((prev, before), (nxt, after)):
            shares = any(
                text_of.lower() in numbers_here
                for text_of in (other_text[s:e] for s, e, _ in other.figures)
            )
            row += [
                other.sourced,
                other.hedges > 0,
                bool(other.figures),
                other.sourced and not other.figures,
                other.speaker_tag,
                other.sourced and shares,
            ]
            neighbour_sourced |= other.sourced and (not other.figures or shares)
        prev_introduces = before.rstrip().endswith(":")
        next_names_source = (
            bool(_ANAPHORIC_SOURCE.search(after))
            or bool(_SIGNATURE.search(after))
            or _has_source_line(nxt)
            or _has_source_line(prev)
        )
        quoted_spans = here.quoted
        in_quotation = bool(len(text)) and (
            _inside(quoted_spans, 0) or _inside(quoted_spans, len(text) - 1)
        )
        if self.revision >= 2 and not in_quotation and not quoted_spans:
            # a sentence without quotation marks inside a quotation that runs over several
            # sentences ('... he said: “The turnout surprised us.' / '29% voted.' / 'No one did.”')
            in_quotation = _opens_quotation(before) or _closes_quotation(after)
        speaker_near = here.speaker_tag or prev.speaker_tag or nxt.speaker_tag
        row += [prev_introduces, next_names_source, in_quotation]

        # "a figure AND ...": the guideline's decision, for a linear model
        quoted_with_speaker = bool(quoted) and len(quoted) == len(figures) and speaker_near
        sourced_near = bool(near) or governs
        covered = (
            sourced_near
            or quoted_with_speaker
            or next_names_source
            or prev_introduces
            or (in_quotation and speaker_near)
        )
        row += [
            has_figure and not covered and not here.sourced and not neighbour_sourced,
            has_figure
            and not covered
            and not here.sourced
            and not prev.sourced
            and not nxt.sourced,
            has_figure and sourced_near and far == 0,
            has_figure and sourced_near and far > 0,
            has_figure and here.sourced and not sourced_near,
            has_figure and not here.sourced and neighbour_sourced,
            has_figure and quoted_with_speaker,
            has_figure and in_quotation and speaker_near,
            has_figure and (next_names_source or prev_introduces),
            has_figure and here.hedges > 0 and not here.sourced,
            has_figure and not covered and len(big) > 0 and not hedged,
        ]
        return row

    def evidence_spans(self, text: str, document=()) -> list[tuple[int, int]]:
        """The figures of ``text`` (counts, amounts, percentages, vague quantities): where the
        evidence of the cues points when they raise the device's score. (``document``, the
        texts of its document's sentences, is not needed: a figure is read off its sentence.)"""
        return [
            (start, end)
            for start, end, kind in find_figures(text, revision=self.revision)
            if kind in FIGURE_KINDS
        ]

    def _width(self) -> int:
        # asked once per sentence without a figure: names are built once per revision
        width = _CUE_WIDTH.get(self.revision)
        if width is None:
            width = _CUE_WIDTH[self.revision] = len(self.get_feature_names_out())
        return width

    def get_feature_names_out(self, input_features=None):
        names = [f"figure_{k}" for k in FIGURE_KINDS] + [f"number_{k}" for k in NON_FIGURE_KINDS]
        names += ["figures", "any_figure", "numbers_but_no_figure"]
        names += ["big_figures", "hedged_figures", "quoted_figures", "unquoted_figures"]
        names += [f"same_{name}" for name in _ATTRIBUTION] + ["same_hedge", "same_speaker_tag"]
        names += ["source_opens_sentence", "source_closes_sentence"]
        names += ["source_adjacent", "source_near", "source_far", "figures_far_from_source"]
        for where in ("prev", "next"):
            names += [
                f"{where}_sourced", f"{where}_hedge", f"{where}_figure",
                f"{where}_sourced_without_figure", f"{where}_speaker_tag",
                f"{where}_sourced_same_number",
            ]  # fmt: skip
        names += ["prev_introduces", "next_names_source", "in_quotation"]
        names += [
            "figure_unsourced", "figure_no_source_word_nearby", "figure_sourced_near",
            "figure_partly_sourced", "figure_sourced_far", "figure_sourced_nearby",
            "figure_quoted_with_speaker", "figure_in_speaker_quotation",
            "figure_source_line", "figure_hedged_only", "figure_big_precise_unsourced",
        ]  # fmt: skip
        return np.array(names, dtype=object)


def sentence_text(frame: pd.DataFrame) -> pd.Series:
    return frame["text"]


def masked_sentences(frame: pd.DataFrame) -> list[str]:
    return [masked_text(t) for t in frame["text"]]


def context_text(frame: pd.DataFrame) -> list[str]:
    previous, following = _neighbours(frame)
    return [f"{a} {b}" for a, b in zip(previous, following, strict=True)]


def make_figure_features(*, cue_weight: float = 1.0) -> FeatureUnion:
    """Features for Unverified_Figures: masked word n-grams, neighbour words and figure cues.

    The first block is named ``"words"`` (plain sentence words) so that evidence can still point
    at words of the input.
    """
    return FeatureUnion(
        [
            (
                "words",
                Pipeline(
                    [
                        ("select", FunctionTransformer(sentence_text)),
                        ("tfidf", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)),
                    ]
                ),
            ),
            (
                "masked",
                Pipeline(
                    [
                        ("select", FunctionTransformer(masked_sentences)),
                        (
                            "tfidf",
                            TfidfVectorizer(
                                ngram_range=(1, 3),
                                min_df=2,
                                sublinear_tf=True,
                                token_pattern=r"(?u)\b\w[\w,.]*\w\b|\b\w\b|[$£€%\"“”]",
                            ),
                        ),
                    ]
                ),
            ),
            (
                "context",
                Pipeline(
                    [
                        ("select", FunctionTransformer(context_text)),
                        ("tfidf", TfidfVectorizer(min_df=2, sublinear_tf=True)),
                    ]
                ),
            ),
            ("cues", FigureCues()),
        ],
        transformer_weights={"context": 0.5, "cues": cue_weight},
    )


def make_device_figure_features() -> FigureCues:
    """The block the taxonomy's ``features = "figures"`` adds to Unverified_Figures' model.

    Only the dense cues: the shared sentence features already hold the words (and evidence is
    read from them), and the cues are what those features cannot express. In the block CV on
    the 895 labels, the shared features plus the cues score as well as the shared features plus
    all of :func:`make_figure_features` (docs/retraining.md).
    """
    return FigureCues()
