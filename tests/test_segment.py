"""Tests for proplens.segment: offset invariants, hand-written examples, agreement with PTC."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proplens import segment as segment_module
from proplens.config import data_dir
from proplens.errors import InputError
from proplens.segment import Sentence, is_blank_char, segment, segment_many, sentence_spans

# Pieces that stress the rules: abbreviations, titles, decimals, quotes, ellipses, line breaks,
# invisible characters, combining marks, right-to-left script and characters outside the BMP.
TRICKY_PIECES = [
    "Mr.",
    "Dr.",
    "Lt.",
    "Col.",
    "U.S.",
    "e.g.",
    "a.m.",
    "J.",
    "3.5",
    "...",
    "…",
    ".",
    "!",
    "?",
    '"',
    "“",
    "”",
    "’",
    "(",
    ")",
    " ",
    "  ",
    "\n",
    "\n\n",
    "\r\n",
    "\u2029",
    "\t",
    "\ufeff",
    "\u200b",
    "\x00",
    "Ilse",
    "Varga",
    "went",
    "home",
    "😀",
    "👩‍👩‍👧",
    "e\u0301",
    "שלום",
    "مرحبا",
    "https://example.org/a.b",
    "\ud800",
]
tricky_text = st.lists(st.sampled_from(TRICKY_PIECES), max_size=40).map("".join)
any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=200)
texts = st.one_of(any_text, tricky_text)


def assert_valid_segmentation(text: str, sentences: list[Sentence]) -> None:
    """Check every invariant of the segment() contract for one input."""
    covered = [False] * len(text)
    previous_end = 0
    for position, sentence in enumerate(sentences):
        assert sentence.index == position
        assert previous_end <= sentence.start < sentence.end <= len(text)
        assert text[sentence.start : sentence.end] == sentence.text
        assert not is_blank_char(sentence.text[0]) and not is_blank_char(sentence.text[-1])
        assert "\n" not in sentence.text and "\r" not in sentence.text
        covered[sentence.start : sentence.end] = [True] * (sentence.end - sentence.start)
        previous_end = sentence.end
    for position, char in enumerate(text):
        assert covered[position] or is_blank_char(char), f"char {position} {char!r} lost"


@settings(max_examples=300, deadline=None)
@given(texts)
def test_offsets_slice_back_ordered_disjoint_and_cover_all_content(text):
    """The core contract: exact offsets, order, no overlap, nothing non-blank dropped."""
    assert_valid_segmentation(text, segment(text))


@settings(max_examples=100, deadline=None)
@given(texts)
def test_segmentation_is_deterministic(text):
    """The same text must always give the same sentences (scores and evidence depend on it)."""
    assert segment(text) == segment(text)


@settings(max_examples=100, deadline=None)
@given(tricky_text)
def test_leading_bom_only_shifts_offsets_by_one(text):
    """A BOM at char 0 is noise: it never starts a sentence and changes nothing else."""
    plain = [(s.start, s.end) for s in segment(text)]
    with_bom = [(s.start - 1, s.end - 1) for s in segment("\ufeff" + text)]
    assert with_bom == plain


@settings(max_examples=100, deadline=None)
@given(st.lists(tricky_text, min_size=2, max_size=5))
def test_every_line_break_is_a_boundary(lines):
    """No sentence may span a line break: PTC files and pasted news put one unit per line."""
    text = "\n".join(lines)
    for sentence in segment(text):
        assert "\n" not in sentence.text


def texts_of(text: str) -> list[str]:
    return [sentence.text for sentence in segment(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Mr. Anders Holm met Dr. Petra Lind at the U.S. embassy, e.g. in the lobby. They met.",
            [
                "Mr. Anders Holm met Dr. Petra Lind at the U.S. embassy, e.g. in the lobby.",
                "They met.",
            ],
        ),
        (
            "Prices rose 3.5 percent in Valdora. Wages rose 2.1 percent.",
            ["Prices rose 3.5 percent in Valdora.", "Wages rose 2.1 percent."],
        ),
        (
            "“We will rebuild the bridge,” said Mayor Ilsa Brandt. “It opens in May.”",
            ["“We will rebuild the bridge,” said Mayor Ilsa Brandt.", "“It opens in May.”"],
        ),
        (
            '"We will rebuild the bridge," said Mayor Ilsa Brandt. "It opens in May."',
            ['"We will rebuild the bridge," said Mayor Ilsa Brandt.', '"It opens in May."'],
        ),
        ("He paused... Then he spoke.", ["He paused...", "Then he spoke."]),
        (
            "J. R. Okafor wrote the report. It was long.",
            ["J. R. Okafor wrote the report.", "It was long."],
        ),
        (
            "Read more at https://example.org/news/a.b.html today. Then vote.",
            ["Read more at https://example.org/news/a.b.html today.", "Then vote."],
        ),
        (
            "The shop opened at 9 a.m. on Friday. It closed early.",
            ["The shop opened at 9 a.m. on Friday.", "It closed early."],
        ),
    ],
    ids=[
        "abbreviations",
        "decimals",
        "curly-quotes",
        "straight-quotes",
        "ellipsis",
        "initials",
        "url",
        "a.m.",
    ],
)
def test_hard_cases_inside_a_line(text, expected):
    """Full stops that do not end a sentence (abbreviations, decimals, initials, URLs) stay in."""
    assert texts_of(text) == expected


def test_title_after_a_sentence_starts_the_next_sentence():
    """Bling Fire glues "Mr." to the previous sentence; the title rule moves it to the name."""
    assert texts_of("The vote ended. Mr. Haldor Vik resigned. Then Dr. Ana Ruiz spoke.") == [
        "The vote ended.",
        "Mr. Haldor Vik resigned.",
        "Then Dr. Ana Ruiz spoke.",
    ]


@pytest.mark.parametrize("title", segment_module._TITLES.split("|"))
def test_every_title_starts_the_next_sentence(title):
    """Each listed title is found after a sentence end (each is a capital and 1-5 small letters,
    as the quick lookahead of the search it replaces required, "Messrs." and "Mlle." included)."""
    assert re.fullmatch(r"[A-Z][a-z]{1,5}", title)
    text = f"The vote ended. {title}. Haldor Vik resigned."
    starts = segment_module._titles_after_space(text)
    found = [text[start : text.index(".", start) + 1] for start in starts]
    assert found == [f"{title}."]
    assert texts_of(text) == ["The vote ended.", f"{title}. Haldor Vik resigned."]


#: the search _titles_after_space replaces: a title between whitespace, with a quick lookahead
_TITLE_AFTER_SPACE = re.compile(
    rf"\s(?=[A-Z][a-z]{{1,5}}\.\s)(?P<title>(?:{segment_module._TITLES})\.)\s"
)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.sampled_from(["Mr.", "Mrs.", "Ms", "Messrs.", "Sens.", "Sen.", "Dr", ".", " ", "  ",
                         "\n", "\t", "\xa0", "\u2028", "A", "a", "s", "Mme.", "(", "x."]),
        max_size=14,
    ).map("".join)
)  # fmt: skip
def test_titles_after_space_are_those_the_regex_finds(text):
    """Where the titles are found equals the starts of group "title" of the regex that takes
    the whitespace on both sides (so a title right after another's closing space is not one)."""
    want = [m.start("title") for m in _TITLE_AFTER_SPACE.finditer(text)]
    assert segment_module._titles_after_space(text) == want


def test_no_title_is_the_end_of_another():
    """_title_spans finds each title from its full stop: that finds what a search for the titles
    finds only while at most one title can end at a full stop."""
    titles = segment_module._TITLES.split("|")
    assert not [(a, b) for a in titles for b in titles if a != b and b.endswith(a)]


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.sampled_from(["Mr.", "Mrs.", "Ms", "Messrs.", "Sens.", "Sen.", "Dr", "Prof.", ".", " ",
                         "\n", "M", "r", "s", "x", "Mme.", "Mlle.", "(", "é", "😀", "..."]),
        max_size=14,
    ).map("".join)
)  # fmt: skip
def test_title_spans_are_those_a_search_for_the_titles_finds(text):
    want = [m.span() for m in re.finditer(rf"(?:{segment_module._TITLES})\.", text)]
    assert segment_module._title_spans(text) == want


def test_crlf_and_lf_texts_split_alike():
    """str.splitlines() takes "\r\n" as one line break; the sentences are those of "\n"."""
    text = "He left. Mr.\nOkafor stayed.\n\nDr. Varga came. She sat.\r\n"
    assert sentence_spans(text.replace("\n", "\r\n")) == [
        (a + text[:a].count("\n"), b + text[:b].count("\n")) for a, b in sentence_spans(text)
    ]


def test_stacked_titles_stay_together():
    """ "Lt. Col." and "U.S. Sen." are one name prefix, not a sentence end followed by a title."""
    assert texts_of("Lt. Col. Rhea Moss met U.S. Sen. Tomas Aalto. They spoke.") == [
        "Lt. Col. Rhea Moss met U.S. Sen. Tomas Aalto.",
        "They spoke.",
    ]


def test_street_and_senior_may_end_a_sentence():
    """ "St." and "Sr." often end a sentence, so the title rule must not glue them to the next."""
    assert texts_of(
        "She lives on Harbour St. Then she moved. He is Ivo Petrov Sr. He retired."
    ) == [
        "She lives on Harbour St.",
        "Then she moved.",
        "He is Ivo Petrov Sr.",
        "He retired.",
    ]


def test_single_newline_and_blank_line_are_boundaries_and_titles_stand_alone():
    """Pasted news has one paragraph per line and titles without a full stop."""
    text = "Harbour of Kessling reopens\nThe harbour reopened on Monday\n\nCrews worked all week."
    assert texts_of(text) == [
        "Harbour of Kessling reopens",
        "The harbour reopened on Monday",
        "Crews worked all week.",
    ]


def test_crlf_and_unicode_line_separators_are_boundaries():
    """Windows line endings and U+2028/U+2029 end sentences like a plain newline."""
    sentences = segment("One here\r\nTwo there\u2028Three\u2029Four.")
    assert [s.text for s in sentences] == ["One here", "Two there", "Three", "Four."]
    assert sentences[1].start == 10


def test_leading_bom_is_skipped_without_shifting_offsets():
    """PTC files may start with a BOM that counts as char 0; offsets must stay those of the file."""
    text = "\ufeffThe council met. It voted."
    sentences = segment(text)
    assert [(s.start, s.end) for s in sentences] == [(1, 17), (18, 27)]
    assert sentences[0].text == "The council met."


def test_offsets_count_code_points_for_emoji_and_combining_marks():
    """Offsets are Python str indices: one per code point, as in the corpus span files."""
    text = "Great news 😀 for Café e\u0301. Next one."
    sentences = segment(text)
    assert [s.text for s in sentences] == ["Great news 😀 for Café e\u0301.", "Next one."]
    assert sentences[1].start == text.index("Next")


def test_right_to_left_text_is_split_on_its_full_stops():
    """Hebrew and Arabic text use the same full stop; offsets must still slice back."""
    text = "שלום עולם. זה משפט שני."
    assert texts_of(text) == ["שלום עולם.", "זה משפט שני."]


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t", "\ufeff", "\ufeff \u200b\n"])
def test_blank_text_has_no_sentences(text):
    """Whitespace and invisible characters alone are not a sentence."""
    assert segment(text) == []


def test_non_string_input_is_a_user_error():
    """Bytes or None reaching segment() is a caller mistake that should read as one line."""
    with pytest.raises(InputError, match="needs a str"):
        segment(b"bytes are not text")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="needs a str"):
        sentence_spans(None)  # type: ignore[arg-type]


def test_segment_many_matches_segment_per_text():
    """The batch helper is a plain map over segment()."""
    batch = ["One. Two.", "", "Three"]
    assert segment_many(batch) == [segment(text) for text in batch]


def test_library_failure_falls_back_to_line_boundaries(monkeypatch):
    """If Bling Fire returns nothing, the contract still holds with one sentence per line."""
    monkeypatch.setattr(segment_module, "_blingfire_byte_starts", lambda data: [])
    text = "First line. Still first.\nSecond line"
    sentences = segment(text)
    assert [s.text for s in sentences] == ["First line. Still first.", "Second line"]
    assert_valid_segmentation(text, sentences)


# --- corpus -------------------------------------------------------------------------------------

CORPUS_ARTICLES = 40
# Measured boundary F1: 0.94 on these 40 articles, 0.92 on all 371 (benchmarks/segmenters.py).
# The gold lines are NLTK Punkt output with errors of its own, so the floor keeps a margin.
CORPUS_F1_FLOOR = 0.90


@pytest.fixture(scope="module")
def train_articles() -> list[tuple[str, str]]:
    """(name, text) of the first PTC SemEval-2020 train articles; fails saying what to set."""
    folder = data_dir() / "ptc-semeval2020" / "train-articles"
    paths = sorted(folder.glob("article*.txt"))
    if not paths:
        pytest.fail(f"PTC corpus not found at {folder}; set PROPLENS_DATA to the corpus root")
    return [(path.name, path.read_text(encoding="utf-8")) for path in paths[:CORPUS_ARTICLES]]


def paragraphs_with_line_starts(article: str) -> list[tuple[str, set[int]]]:
    """Join each blank-line block's lines with a space; keep the offsets where lines 2..n began."""
    paragraphs = []
    for block in article.split("\n\n"):
        lines = [line for line in block.split("\n") if line.strip()]
        if lines:
            starts, offset = set(), 0
            for line in lines[:-1]:
                offset += len(line) + 1
                starts.add(offset)
            paragraphs.append((" ".join(lines), starts))
    return paragraphs


@pytest.mark.corpus
def test_boundaries_agree_with_ptc_sentence_lines(train_articles):
    """On real news, joined back into paragraphs, we should find PTC's own sentence boundaries."""
    hits = predicted = gold = 0
    for _name, article in train_articles:
        for paragraph, line_starts in paragraphs_with_line_starts(article):
            found = {s.start for s in segment(paragraph) if s.start > 0}
            hits += len(found & line_starts)
            predicted += len(found)
            gold += len(line_starts)
    precision, recall = hits / predicted, hits / gold
    f1 = 2 * precision * recall / (precision + recall)
    assert f1 >= CORPUS_F1_FLOOR, f"boundary F1 {f1:.3f} (P {precision:.3f}, R {recall:.3f})"


@pytest.mark.corpus
def test_raw_articles_keep_every_line_boundary_and_bom_offsets(train_articles):
    """Segmenting a file as read: each PTC line starts a sentence, offsets as in the file."""
    for name, article in train_articles:
        sentences = segment(article)
        assert_valid_segmentation(article, sentences)
        starts = {s.start for s in sentences}
        offset = 0
        for line in article.split("\n"):
            content = line.lstrip().lstrip("\ufeff").lstrip()
            if content:
                assert offset + len(line) - len(content) in starts, f"{name}: line at {offset}"
            offset += len(line) + 1


@pytest.mark.corpus
def test_bom_articles_start_their_first_sentence_at_char_one():
    """The two BOM train articles: the title must start at offset 1, the BOM being char 0."""
    folder = data_dir() / "ptc-semeval2020" / "train-articles"
    for article_id in ("705409419", "712382330"):
        path = Path(folder) / f"article{article_id}.txt"
        if not path.is_file():
            pytest.fail(f"{path} not found; set PROPLENS_DATA to the PTC corpus root")
        text = path.read_text(encoding="utf-8")
        assert text[0] == "\ufeff"
        first = segment(text)[0]
        assert first.start == 1
        assert first.text == text[1:].split("\n", 1)[0].strip()
