"""Unverified_Figures features: figures are told apart from dates and names, sources are seen in
the sentence and its neighbours, and the transformer follows the sklearn contract."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from proplens.figures import (
    FigureCues,
    add_neighbour_columns,
    find_figures,
    make_figure_features,
    masked_text,
)


def frame(*texts: str, document: str = "d") -> pd.DataFrame:
    return pd.DataFrame(
        {"document_id": document, "sentence_index": range(len(texts)), "text": list(texts)}
    )


def cues(*texts: str) -> pd.DataFrame:
    matrix = FigureCues().fit_transform(frame(*texts)).toarray()
    return pd.DataFrame(matrix > 0, columns=FigureCues().get_feature_names_out())


@pytest.mark.parametrize(
    "text, bare",
    [
        ("Forty-two villages near Velm were flooded.", True),
        ("The bridge cost $14 million.", True),
        ("Turnout fell by 9 percent.", True),
        ("The council met on 4 May 1998.", False),
        ("She was jailed for 10 years.", False),
        ("The 52-year-old mayor of Orlo resigned.", False),
        ("It was the third time this happened.", False),
    ],
)
def test_bare_figures_leave_out_dates_durations_ages_and_ordinals(text, bare):
    """Step 2 of the guideline: a number that is a date, duration, age or ordinal is no figure."""
    assert bool(cues(text)["any_figure"].iloc[0]) is bare


def test_a_source_in_the_next_sentence_counts_as_nearby():
    """Step 4: an attribution in an adjacent sentence marks the figure as sourced nearby."""
    table = cues("Three hundred homes in Pellin were damaged.", "Officials in Pellin said so.")
    assert table["figure_sourced_nearby"].iloc[0] and not table["figure_unsourced"].iloc[0]
    alone = cues("Three hundred homes in Pellin were damaged.")
    assert alone["figure_unsourced"].iloc[0]


def test_neighbour_columns_keep_the_true_neighbours_of_a_subset():
    """Columns taken from the whole document survive taking a subset of its sentences."""
    whole = add_neighbour_columns(frame("A.", "The tolls rose 9 percent.", "The ministry said so."))
    subset = whole.iloc[[1]]
    assert subset["next_text"].iloc[0] == "The ministry said so."
    assert cues_from(subset)["figure_sourced_nearby"].iloc[0]


def cues_from(table: pd.DataFrame) -> pd.DataFrame:
    matrix = FigureCues().fit_transform(table).toarray()
    return pd.DataFrame(matrix > 0, columns=FigureCues().get_feature_names_out())


@given(st.text(max_size=80))
def test_masking_keeps_length_and_removes_digits(text):
    """Property: masking only swaps digits for 0, so offsets into the sentence still hold."""
    masked = masked_text(text)
    assert len(masked) == len(text)
    assert all(c == "0" or not c.isdigit() or c == o for c, o in zip(masked, text, strict=True))


def test_feature_union_fits_and_names_its_word_block_first():
    """The evidence mapper reads the first block's vocabulary, so it must be the words block."""
    texts = [f"About {n} ferries left Velm, officials said." for n in range(6)]
    union = make_figure_features().fit(frame(*texts))
    assert union.transformer_list[0][0] == "words"
    assert union.transform(frame(*texts)).shape[0] == 6


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The new ferry terminal cost taxpayers $86 million.", [("86 million", "money")]),
        ("One in five wells on Tessel is dry.", [("One in five", "percent")]),
        ("Thousands of cyclists filled the square.", [("Thousands", "vague")]),
        ("Turnout in Orlo fell by 9 percent.", [("9", "percent")]),
        ("The two ministers refused to comment.", [("two", "reference")]),
        ("She is one of the most respected judges.", [("one", "one")]),
        ("The 61-year-old engineer joined in 1987.", [("61", "age"), ("1987", "year")]),
        ("Photo 4 of 30: the harbour at dawn.", [("4", "name"), ("30", "identifier")]),
        ("See velm.example/x9Kq2 for the video.", []),
    ],
)
def test_find_figures_names_each_number_kind(text, expected):
    """Step 1-2: money with its magnitude is one figure, proportions are one figure, digits glued
    to letters are no number, and each non-figure number says why."""
    assert [(text[s:e], kind) for s, e, kind in find_figures(text)] == expected


def read_numbers(text: str, revision: int) -> list[tuple[str, str]]:
    """Each number of ``text`` and its kind, as ``find_figures`` of that revision reads them."""
    return [(text[s:e], kind) for s, e, kind in find_figures(text, revision=revision)]


@pytest.mark.parametrize(
    "text, revision_1, revision_2",
    [
        ("About 30 councillors in Velm voted no.", [("30", "name")], [("30", "count")]),
        ("Coroner Releases 58 Reports On Orlo Fire", [("58", "name")], [("58", "count")]),
        ("Mira Osk, 66, was returned to Velm.", [("66", "count")], [("66", "age")]),
        ("It raised the purchase age from 18 to 21.", [("18", "count"), ("21", "count")],
         [("18", "age"), ("21", "age")]),
        ("A category 4 storm hit Tessel.", [("4", "count")], [("4", "ordinal")]),
        ("A comet called 3200 Velmia will pass.", [("3200", "count")], [("3200", "name")]),
        ("§ 595 was cited.", [("595", "count")], [("595", "identifier")]),
        ("It is in 1 Kings 18:38.", [("1", "count"), ("18", "time"), ("38", "time")],
         [("1", "identifier"), ("18", "time"), ("38", "time")]),
        ("Scores of nurses in Orlo fell ill.", [], [("Scores of", "vague")]),
        ("It is among the 98 percent of records kept.", [("98", "reference")],
         [("98", "percent")]),
        ("Officers logged 50,000 hours of overtime.", [("50,000", "duration")],
         [("50,000", "count")]),
        ("She was jailed for 10 years.", [("10", "duration")], [("10", "duration")]),
    ],
)  # fmt: skip
def test_revision_2_reads_numbers_as_the_guideline_does(text, revision_1, revision_2):
    """Revision 2 fixes misreadings of revision 1 (ages, scales, names, references, amounts of
    time); revision 1 still reads as it did, so models fit with it score as they did."""

    assert read_numbers(text, 1) == revision_1
    assert read_numbers(text, 2) == revision_2


@pytest.mark.parametrize(
    "text, revision_2, revision_4",
    [
        ("Tam Velo was ordained in ’78.", [("78", "count")], [("78", "year")]),
        ("“We stay,” said Ana Velm, 27.", [("27", "count")], [("27", "age")]),
        ("Average age: 66", [("66", "count")], [("66", "age")]),
        ("She retired at the age of 75.", [("75", "count")], [("75", "age")]),
        ("It happened when she was 15.", [("15", "count")], [("15", "age")]),
        ("Patients may die within 12 to 24 hours.", [("12", "count"), ("24", "duration")],
         [("12", "duration"), ("24", "duration")]),
        ("Reform may take 20, 30 or 50 years.", [("20", "count"), ("30", "count"),
         ("50", "duration")], [("20", "duration"), ("30", "duration"), ("50", "duration")]),
        ("Help came two additional minutes later.", [("two", "count")], [("two", "duration")]),
        ("The town stood for two millennia.", [("two", "count")], [("two", "duration")]),
        ("After 2,000 years the rite changed.", [("2,000", "count")], [("2,000", "duration")]),
        ("It will spin for billions of years.", [("billions", "vague")],
         [("billions", "duration")]),
        ("The launch is set for the first half of 2027.",
         [("half of", "percent"), ("2027", "year")], [("half of", "duration"), ("2027", "year")]),
        ("3.", [("3", "count")], [("3", "ordinal")]),
        ("1)Open the port of Tessel", [("1", "count")], [("1", "ordinal")]),
        ("A third source confirmed it.", [("A third", "percent")], [("A third", "ordinal")]),
        ("Part two follows tomorrow.", [("two", "count")], [("two", "ordinal")]),
        ("The club printed a 3-D model.", [("3", "count")], [("3", "name")]),
        ("It fires .22 and .223 caliber rounds.", [("22", "count"), ("223", "count")],
         [("22", "name"), ("223", "name")]),
        ("Listen at the 1:27:54 mark.", [("1", "time"), ("27", "time"), ("54", "count")],
         [("1", "time"), ("27", "time"), ("54", "identifier")]),
        # figures stay figures
        ("A third of voters in Velm agree.", [("A third", "percent")], [("A third", "percent")]),
        ("Between 10 and 20 people fell ill.", [("10", "count"), ("20", "count")],
         [("10", "count"), ("20", "count")]),
        ("Prices rose 5 to 10 percent.", [("5", "count"), ("10", "percent")],
         [("5", "count"), ("10", "percent")]),
        ("The dead included 40 adults and the children, 12.", [("40", "count"), ("12", "count")],
         [("40", "count"), ("12", "count")]),
    ],
)  # fmt: skip
def test_revision_4_rereads_what_revision_2_took_for_figures(text, revision_2, revision_4):
    """Revision 4 reads years, ages, spans of time, list numbers, names and identifiers that
    revision 2 left as counts as the guideline's step 2 does; revision 2 reads as it did, so the
    models fit with it score as they did."""

    assert read_numbers(text, 2) == revision_2
    assert read_numbers(text, 4) == revision_4


def test_a_quotation_over_several_sentences_covers_the_sentences_inside():
    """Revision 2: a sentence without quotation marks between an opening and a closing mark is
    inside the quotation (guideline: quoted figures are no unverified figures)."""
    texts = ("Osk said: “The turnout surprised us.", "We expected 29% at most.", "No one did.”")
    inside = FigureCues().fit_transform(frame(*texts)).toarray()
    names = list(FigureCues().get_feature_names_out())
    assert inside[1, names.index("in_quotation")] > 0
    before = FigureCues(revision=1).fit_transform(frame(*texts)).toarray()
    assert before[1, names.index("in_quotation")] == 0


def test_cues_fitted_before_revisions_keep_revision_1():
    """A FigureCues pickled before the parameter existed (ptc-default@v2, v3) computes the cues
    it was fit with and supports the estimator API."""
    import pickle

    from sklearn.base import clone

    old = FigureCues().fit(None)
    del old.__dict__["revision"]
    restored = pickle.loads(pickle.dumps(old))
    assert restored.revision == 1 and clone(restored).get_params() == {"revision": 1}
    table = frame("About 30 councillors in Velm voted no.")
    assert (restored.transform(table) != FigureCues().fit(None).transform(table)).nnz > 0
    with pytest.raises(ValueError, match="revision"):
        FigureCues(revision=7).fit(None)


def test_attribution_that_governs_the_sentence_covers_its_figure():
    """Step 4: "Officials said ..." sources the figure; "experts say" is a hedge, not a source."""
    sourced = cues("Officials in Pellin said that 300 homes were damaged.")
    assert sourced["figure_sourced_near"].iloc[0] and not sourced["figure_unsourced"].iloc[0]
    hedged = cues("Experts say 300 homes in Pellin were damaged.")
    assert hedged["figure_hedged_only"].iloc[0] and hedged["figure_unsourced"].iloc[0]
    assert not hedged["figure_sourced_near"].iloc[0]


def test_a_neighbour_that_sources_its_own_figure_does_not_source_this_one():
    """Step 4: an adjacent attribution counts only when it covers the same figure."""
    other = cues("Officials said 40 boats sank off Tessel.", "Twelve bridges were closed.")
    assert other["figure_unsourced"].iloc[1] and not other["figure_sourced_nearby"].iloc[1]
    same = cues("Twelve bridges were closed.", "Those figures come from the harbour office.")
    assert same["figure_source_line"].iloc[0] and not same["figure_unsourced"].iloc[0]


def test_a_quoted_figure_with_a_named_speaker_is_covered():
    """Step 4: a figure inside a quotation whose speaker is named is `quoted`."""
    table = cues('"We counted 340 empty shops on the high street," said councillor Mira Osk.')
    assert table["figure_quoted_with_speaker"].iloc[0] and not table["figure_unsourced"].iloc[0]
    bare = cues("We counted 340 empty shops on the high street.")
    assert not bare["figure_quoted_with_speaker"].iloc[0]


def test_cue_names_match_the_columns():
    """get_feature_names_out names every column transform returns."""
    matrix = FigureCues().fit_transform(frame("Nearly 12,000 families left Valdoria."))
    assert matrix.shape[1] == len(FigureCues().get_feature_names_out())


@pytest.mark.parametrize(
    "text, sourced",
    [
        ("Winds in Orlo reached 140 miles per hour.", False),
        ("Forty per cent of the Velm wells are dry.", False),
        ("Forty percent of the Velm wells are dry, per the water board.", True),
        ("The jury, found the Pellin man guilty on 12 counts.", False),
        ("The ferry carried 300 passengers, said the harbour master.", True),
    ],
)
def test_rates_and_verdicts_are_no_sources(text, sourced):
    """'per hour' is a rate and '..., found the jury' a verdict; 'per the board' and '..., said
    the harbour master' name a source."""
    table = cues(text)
    assert bool(table["figure_unsourced"].iloc[0]) is not sourced


def test_a_source_line_next_to_a_table_row_covers_it():
    """Guideline, flattened tables: a row is attributed when a 'Source:' line is adjacent, also
    when the line holds the end of the next row."""
    rows = cues(
        "Employed 1,200 1,250 50 4.1%",
        "Unemployed 300 280 -20 -6.7% Source: Velm statistics office, table 2.",
    )
    assert not rows["figure_unsourced"].iloc[0]
    assert cues("Employed 1,200 1,250 50 4.1%", "Unemployed 300 280")["figure_unsourced"].iloc[0]


def test_cues_from_plain_lists_equal_the_frame_path():
    """The scorer's list path reads the same neighbours as a frame of one document."""
    texts = ["Three hundred homes in Pellin were damaged.", "Officials in Pellin said so.",
             "The 4 May vote in Velm drew 2,000 people."]  # fmt: skip
    from proplens.features import neighbour_lists

    previous, following = neighbour_lists(texts, ["d"] * 3)
    from_lists = FigureCues().fit(None).transform_texts(texts, previous, following).toarray()
    assert (from_lists == FigureCues().fit_transform(frame(*texts)).toarray()).all()
    assert from_lists[0].any() and following[0] == texts[1] and previous[0] == ""


def test_each_sentence_is_read_once_per_call(monkeypatch):
    """A sentence is also its neighbours' neighbour: its numbers are found once, then kept."""
    from proplens import figures

    calls = []

    def counted(text, *args, **kwargs):
        calls.append(text)
        return find_figures(text, *args, **kwargs)

    monkeypatch.setattr(figures, "find_figures", counted)
    texts = ["About 300 homes were damaged.", "The 40 shelters filled.", "Officials said so."]
    from proplens.features import neighbour_lists

    previous, following = neighbour_lists(texts, ["d"] * 3)
    FigureCues().fit(None).transform_texts(texts, previous, following)
    assert sorted(calls) == sorted(set(calls)) and texts[0] in calls and texts[1] in calls


def _gated_patterns():
    from proplens import figures

    gated = {f"non_figure.{n}": g for n, g in figures._NON_FIGURE_GATED.items()}
    gated.update({f"non_figure_2.{n}": g for n, g in figures._NON_FIGURE_V2_GATED.items()})
    gated.update({f"attribution.{n}": g for n, g in figures._ATTRIBUTION_GATED.items()})
    gated.update({f"reread_4.{n}": g for n, g in figures._REREAD_V4_GATED.items()})
    gated.update(
        hedge=figures._HEDGE_GATED,
        speaker_tag=figures._SPEAKER_TAG_GATED,
        signature=figures._SIGNATURE_GATED,
        candidate=figures._CANDIDATE_GATED,
        fraction=figures._FRACTION_GATED,
        scores_of=figures._SCORES_OF,
    )
    return gated


@pytest.mark.corpus
def test_literal_gates_never_drop_a_match_on_the_corpus(corpus_dir):
    """A gated pattern skips a sentence only when the sentence has none of the literals or
    words every match contains: on all SemEval-2020 training sentences, its matches are exactly
    the bare pattern's."""
    from proplens.corpus import read_semeval2020
    from proplens.figures import _words

    table = read_semeval2020(corpus_dir, dedupe=True).sentence_table()
    texts = table["text"].tolist()
    assert len(texts) > 15_000
    for name, gated in _gated_patterns().items():
        skipped = 0
        for text in texts:
            lowered = text.lower()
            words = _words(lowered)
            expected = [m.span() for m in gated.pattern.finditer(text)]
            got = [m.span() for m in gated.finditer(text, lowered, words)]
            assert got == expected, (name, expected)
            skipped += not gated.possible(lowered, words)
        if name in ("attribution.speaker_said", "non_figure.age", "speaker_tag"):
            assert skipped > len(texts) // 3, name  # the gates do skip most sentences


@pytest.mark.corpus
def test_no_digit_kind_covers_a_number_word_on_the_corpus(corpus_dir):
    """find_figures skips the year, date, time and ordinal patterns for a spelled-out number:
    on all SemEval-2020 training sentences, none of their matches (either revision) holds one."""
    from proplens import figures
    from proplens.corpus import read_semeval2020

    texts = read_semeval2020(corpus_dir, dedupe=True).sentence_table()["text"].tolist()
    checked = 0
    for text in texts:
        words = [m.span() for m in figures._CANDIDATE.finditer(text) if not m.group()[0].isdigit()]
        if not words:
            continue
        for table in (figures._NON_FIGURE_GATED, figures._NON_FIGURE_V2_GATED):
            for kind in figures._DIGIT_KINDS:
                for match in table[kind].pattern.finditer(text):
                    s, e = match.span()
                    assert not any(s <= a and b <= e for a, b in words), (kind, match.group())
        checked += len(words)
    assert checked > 2_000


def _assert_prechecks_hold(text):
    """Where a _could_be_... check says no, no match of that kind's pattern (either revision)
    covers the number; where it says _COVERS (or _is_year says yes), a match does."""
    from proplens import figures

    lowered = text.lower()
    for candidate in figures._CANDIDATE.finditer(text):
        start, end = candidate.span()
        spelled = not candidate.group()[0].isdigit()
        checks = [
            ("age", figures._could_be_age(text, start, end, lowered)),
            ("duration", figures._could_be_duration(text, start, spelled)),
            ("name", figures._could_be_name(text, start, end, spelled)),
            ("identifier", figures._could_be_identifier(text, start, end, lowered, spelled)),
        ]
        if not spelled:
            year = figures._is_year(candidate.group().lower())
            checks += [
                ("year", figures._could_be_year(text, start)),
                ("year", figures._COVERS if year else True),
                ("date", figures._could_be_date(text, start)),
                ("time", figures._could_be_time(text, start)),
                ("ordinal", figures._could_be_ordinal(text, start)),
            ]
        for table in (figures._NON_FIGURE_GATED, figures._NON_FIGURE_V2_GATED):
            for kind, answer in checks:
                spans = [m.span() for m in table[kind].pattern.finditer(text)]
                covered = any(s <= start and end <= e for s, e in spans)
                if not answer:
                    assert not covered, (kind, candidate.group(), text)
                if answer is figures._COVERS:
                    assert covered, (kind, candidate.group(), text)


@pytest.mark.corpus
def test_non_figure_prechecks_hold_on_the_corpus(corpus_dir):
    """find_figures asks a few characters around a number before scanning the sentence with
    a non-figure pattern: on all SemEval-2020 training sentences, a number they rule out is
    never covered by the pattern, and one they say is covered always is."""
    from proplens import figures
    from proplens.corpus import read_semeval2020

    texts = read_semeval2020(corpus_dir, dedupe=True).sentence_table()["text"].tolist()
    for text in texts:
        _assert_prechecks_hold(text)
    # the checks do decide: many numbers are ruled out, and many found covered without a scan
    ruled_out = covers = 0
    for text in texts[:3000]:
        for candidate in figures._CANDIDATE.finditer(text):
            start, end = candidate.span()
            spelled = not candidate.group()[0].isdigit()
            answer = figures._could_be_identifier(text, start, end, text.lower(), spelled)
            ruled_out += not answer
            covers += figures._could_be_duration(text, start, spelled) is figures._COVERS
    assert ruled_out > 500 and covers > 100, (ruled_out, covers)


@given(
    st.lists(
        st.sampled_from(
            ["5", "1,500", "3.5", "Route", "route", "Ten", "ten", " ", "-", "/", "years", "hour",
             "more", "D", "3D", "called", "known as", "\"", "“", ",", ".", "9", "11", "am",
             "1990", "2016", "'90", "s", "May", "of", "th", "old", "aged", "age", "in his", "\t",
             "Ana", ", ", "two", "five", "hundred", "hundreds", "twenty-", "Sept.", "\n", ":",
             "(", ")", "[", "]", "§", "Article", "pp.", "shares", "911", "555", "0100", ".com",
             "http://", "@", "#", "Kings", "Quran", "pm", "a.m.", "No.", "top", "phase", "1990S",
             "ſ"]
        ),
        max_size=10,
    ).map("".join)
)  # fmt: skip
@example("Route 66, 9-11, 3D, 24/7, Ten 4, called 3200, 5 more years, 1,500-year, 3.5 hours")
@example("In 1990s and '90s, on May 4 or 4th of May, aged 66, 66-year-old, in his 60s")
@example("Ana Velm,\t66,\tsaid; the age from 18 to 21; 18   years   of   age")
@example("two years, hundreds of years, 5 hundred-five years, twenty-five  hours, 1990's, 2016S")
@example("19905 20000 1990s 1990S 1990ſ 2016's 1600 1599 '90s 90s 2000 million 1990.5 ١٩٩٠")
@example("19.5 20,5 16mm 17bn 18k 19% 2016%")
@example("Article 5, pp. 12, § 595, Quran 4:89, 4:12-15, 555-0100, 555.0100x, (2), [3], ")
@example("S. 1234, s.5, H.R. 1, n. 4, p.5, Psalm 23, Chapter 7, Section 2, verse 3, Surah 4.3")
@example("4 of 9, 10 SHARES, 1 Kings 18:38, 1 Ten 4:5, call 911, x.com?id=5, #one, @5")
@example("5 pm, 5:30, 5:30pm, No. 5, top 10, # 1, phase 2, \n1) a, 2. b, May 4, 4 May, Sept.\n 4")
def test_non_figure_prechecks_hold_on_any_text(text):
    """The same on generated text made of numbers, units and name-like words."""
    _assert_prechecks_hold(text)


@given(
    st.lists(
        st.sampled_from(
            ["one", "Ten", "twenty-five", "hundred", "May", "1st", "No.", "top", "#", "category",
             "1990", "'90s", "4", ":", "12:30", "pm", "of", "-", " ", "\n", ".", ",", "th"]
        ),
        max_size=12,
    ).map("".join)
)  # fmt: skip
@example("May one 1st, No. one, top one, one:30 pm, one 1990s, category one, #one 4")
def test_no_digit_kind_covers_a_number_word_on_any_text(text):
    """The same on generated text made of number words next to dates, times and ordinals. (The
    name pattern is not skipped: it reads "Ten 4" as one name.)"""
    from proplens import figures

    ten_four = [m.span() for m in figures._NON_FIGURE_V2_GATED["name"].pattern.finditer("Ten 4")]
    assert ten_four == [(0, 5)]

    words = [m.span() for m in figures._CANDIDATE.finditer(text) if not m.group()[0].isdigit()]
    for table in (figures._NON_FIGURE_GATED, figures._NON_FIGURE_V2_GATED):
        for kind in figures._DIGIT_KINDS:
            for match in table[kind].pattern.finditer(text):
                s, e = match.span()
                assert not any(s <= a and b <= e for a, b in words), (kind, match.group())


def _assert_gates_keep_every_match(text):
    """Each gated pattern finds in ``text`` exactly the matches of its bare pattern."""
    from proplens.figures import _words

    lowered = text.lower()
    words = _words(lowered)
    for name, gated in _gated_patterns().items():
        expected = [m.span() for m in gated.pattern.finditer(text)]
        assert [m.span() for m in gated.finditer(text, lowered, words)] == expected, name


@given(st.text(alphabet=" .,:;'\"“”()[]-/@#$%0123456789aAdeiklmnorsStTwy", max_size=60))
def test_literal_gates_never_drop_a_match_on_any_text(text):
    """The same on arbitrary short texts over the patterns' own characters."""
    _assert_gates_keep_every_match(text)


_GATE_WORDS = [
    "May", "march", "Mar.", "Market", "Sept", "sept.", "December", "dec", "4", "12", "1990", "/",
    "years", "Year", "yearly", "day", "Monday", "today", "min", "minister", "hrs", "three",
    "24/7", "old", "bold", "Old", "age", "aged", "ages", "page", "percentage", "in his ",
    "In Her ", "said", "says", "Said", "told", "tolder", "wrote", "reported", "sources",
    "“", "”", '"', ",", ".", ":", "!", "?", " ", "  ", "-", "\n", "the mayor", "Ana", "one",
    "twenty", "Ten", "hundreds", "a", "an", "few", "the past", "next", "more",
    # the words of the attribution, hedge and fraction gates, and words that hold them
    "according to", "per", "per cent", "citing", "as reported by", "by", "Official", "police",
    "census", "statistics", "data", "figures", "a study by", "in a statement", "Source:",
    "sources:", "Photos:", "pic", "credit", "[", "(", "via", "asked", "called", "demands",
    "demanded", "reportedly", "experts say", "is believed to", "it is thought", "warned",
    "half of", "a third", "two-thirds", "quarters", "one in", "times as", "scores of",
    "estimates", "reporter", "postal", "Officials said", "The Post", "(@ana)", "—",
    # and of the re-reading gates
    "3-D", "caliber", ".22", "U.S.", "4:12:30", "when she was", "average age", "millennia",
    "first half of", "week", "part", "No.", "#", "top", "phase", "’78", "'",
]  # fmt: skip
_words_text = st.lists(st.sampled_from(_GATE_WORDS), max_size=14).map(" ".join) | st.lists(
    st.sampled_from(_GATE_WORDS), max_size=14
).map("".join)


@given(_words_text)
@example("Sept 4")
@example("dec. 12")
@example("4 of March")
@example("aged 66")
@example("ages 18 to 21")
@example("66 years old")
@example("In His 60s")
@example("for 5 hrs")
@example("a few more days")
@example("24/7")
@example("“Yes,” said Ana")
@example("Ana told reporters: “twenty”")
@example("The percentage at the market on Monday, said the minister of three, was up.")
def test_word_gates_never_drop_a_match_on_word_like_text(text):
    """The gates that check month names, time units and speech verbs as whole words, on text
    made of those words, of words that hold them ("market", "minister", "percentage") and of
    the marks around them."""
    _assert_gates_keep_every_match(text)


# a look-ahead for the first characters of a pattern's matches (a speed device, see _led_by)
_FIRST_CHARACTERS = re.compile(r"\(\?=\[[^\]]*\]\)")


def _speed_devices():
    """``(name, pattern, plain pattern)``: each pattern that has a look-ahead for the first
    characters of its matches (``_STARTS_NUMBER_WORD``, ``_led_by``, ...) or is written digit
    first, and the same pattern without the device."""
    from proplens import figures

    patterns = {f"non_figure.{n}": p for n, p in figures._NON_FIGURE_RE.items()}
    patterns.update({f"non_figure_2.{n}": p for n, p in figures._NON_FIGURE_V2_RE.items()})
    patterns.update({f"reread_4.{n}": p for n, p in figures._REREAD_V4_RE.items()})
    patterns.update({f"attribution.{n}": p for n, p in figures._ATTRIBUTION.items()})
    for name in ("_HEDGE", "_REFERENCE_BEFORE", "_HEDGE_BEFORE", "_NAMED_BEFORE"):
        patterns[name] = getattr(figures, name)
    devices = []
    for name, pattern in patterns.items():
        plain = _FIRST_CHARACTERS.sub("", pattern.pattern)
        if plain != pattern.pattern:
            devices.append((name, pattern, re.compile(plain, pattern.flags)))
    # written digit first: the patterns as they were first written
    digits = (
        rf"(?<![\w@#/])(?:{figures._NUM})(?:s|m|mm|bn|k|%)?(?![\w/])"
        rf"(?:[\s-]+{figures._MAGNITUDE}\b)?"
    )
    words = rf"\b{figures._WORD_NUMBER}(?:[\s-]+(?:and\s+)?{figures._WORD_NUMBER})*\b"
    time = r"\b\d{1,2}(?::\d\d)?\s?(?:a\.?m\.?|p\.?m\.?)|\b\d{1,2}:\d\d\b"
    devices += [
        ("candidate digits", figures._CandidateFinder._digits, re.compile(digits, re.I)),
        ("candidate", figures._CANDIDATE, re.compile(f"{digits}|{words}", re.I)),
        ("time", figures._NON_FIGURE_RE["time"], re.compile(time, re.I | re.M)),
    ]
    return devices


def test_the_speed_devices_are_where_they_should_be():
    """The look-aheads are found and taken out (else the tests below would compare nothing)."""
    names = {name for name, _, _ in _speed_devices()}
    assert {
        "candidate", "candidate digits", "time", "non_figure.duration", "non_figure_2.name",
        "non_figure_2.date", "reread_4.duration", "attribution.source_says", "_HEDGE",
    } <= names  # fmt: skip


def _assert_speed_devices_change_nothing(text):
    """The look-aheads, the digit-first spellings and the speaker tag read branch by branch are
    exactly the plain patterns, on ``text`` and on the 30 characters before each number (where
    the patterns that end in "$" are searched)."""
    from proplens import figures

    befores = [text[max(0, m.start() - 30) : m.start()] for m in figures._CANDIDATE.finditer(text)]
    for name, pattern, plain in _speed_devices():
        assert [m.span() for m in pattern.finditer(text)] == [
            m.span() for m in plain.finditer(text)
        ], name
        for before in befores:
            found, expected = pattern.search(before), plain.search(before)
            assert (found and found.span()) == (expected and expected.span()), name
    lowered = text.lower()
    has_tag = figures._has_speaker_tag(text, lowered, figures._words(lowered))
    assert has_tag == (figures._SPEAKER_TAG.search(text) is not None)


@given(_words_text)
@example("Twenty-one days, said the mayor: “ninety-nine”, a few more hours")
@example("Ana told reporters: “twenty”")
# every first letter of each look-ahead's words, before a number
@example(
    "the 5, these 5, those 5, both 5, all 5, his 5, her 5, their 5, its 5, my 5, our 5, your 5, "
    "about 5, around 5, nearly 5, almost 5, more than 5, over 5, at least 5, up to 5, as many "
    "as 5, some 5, roughly 5, approximately 5, less than 5, fewer than 5, close to 5, an "
    "estimated 5, called 5, named 5, dubbed 5, titled “5”, entitled 5, known as 5"
)
@example(
    "Officials said, police say, the ministry reported, who told, he says, (AP) said, Ana "
    "wrote, counted by The, compiled by the Bureau, Official figures, census data, Police "
    "records, reportedly, allegedly, it is thought, were believed to, some say, experts warn"
)
@example(
    "Route 66, Over 150, COVID-19, called 3200, 9-11, 3D, Ten 4, May 4, 4 of June, 12/25/19, "
    "a quarter century, the first half of 2019, two millennia, after 2,000 years, billions of "
    "years, a year and a half of, within 12 to 24 hours, 20, 30 or 50 years, two extra weeks"
)
def test_speed_devices_change_no_match_on_word_like_text(text):
    _assert_speed_devices_change_nothing(text)


@pytest.mark.corpus
def test_speed_devices_change_no_match_on_the_corpus(corpus_dir):
    from proplens.corpus import read_semeval2020

    for text in read_semeval2020(corpus_dir, dedupe=True).sentence_table()["text"]:
        _assert_speed_devices_change_nothing(text)


def _opens_quotation_by_marks(text):
    marks = [c for c in text if c in "“”"]
    return bool(marks) and marks[-1] == "“"


def _closes_quotation_by_marks(text):
    marks = [c for c in text if c in "“”"]
    return bool(marks) and marks[0] == "”"


@given(st.text(alphabet="“”\"' ab.", max_size=12))
@example("")
@example("“a” b “c")
@example("a” b “c”")
def test_quotation_ends_are_read_from_the_first_and_last_curly_mark(text):
    """A text opens a quotation when its last curly mark opens one, closes one when its first
    mark closes one (found with find/rfind rather than by listing the marks)."""
    from proplens import figures

    assert figures._opens_quotation(text) == _opens_quotation_by_marks(text)
    assert figures._closes_quotation(text) == _closes_quotation_by_marks(text)


def test_every_revision_builds_and_revision_3_does_not_exist():
    """REVISIONS lists what FigureCues accepts (revision 3 was an experiment, never shipped)."""
    from proplens.figures import LATEST_REVISION, REVISIONS

    assert max(REVISIONS) == LATEST_REVISION and 3 not in REVISIONS
    for revision in REVISIONS:
        FigureCues(revision=revision).fit(None)
    with pytest.raises(ValueError, match=r"\[1, 2, 4\]"):
        FigureCues(revision=3).fit(None)


_AGE_LIKE_TEXT = st.lists(
    st.sampled_from(["age", "AGE", "ag", "e", " ", "old", "12", ","]), max_size=30
)


@given(st.lists(_AGE_LIKE_TEXT.map("".join), min_size=1, max_size=4))
def test_a_texts_last_age_answers_whether_the_rest_of_it_says_age(texts):
    """The age pre-check asks whether "age" occurs from 40 characters before a number on; the
    text's last "age", found once, answers that for every number, also when texts take turns
    (only the last text's answer is remembered)."""
    from proplens.figures import _last_age

    for _ in range(2):
        for text in texts:
            lowered = text.lower()
            for start in range(len(lowered) + 1):
                assert (_last_age(lowered) >= start) == ("age" in lowered[start:])


def _quote_mask(text):
    """Per character: inside a direct quotation? (what the cues read, written as a walk over
    every character: the reference for figures._quoted_spans)"""
    inside = [False] * len(text)
    open_at = None
    for i, c in enumerate(text):
        opening = c == "“" or (c == '"' and open_at is None)
        if opening and open_at is None:
            open_at = i
        elif c in '”"' and not opening:
            for j in range(0 if open_at is None else open_at, i + 1):
                inside[j] = True
            open_at = None
    if open_at is not None:
        for j in range(open_at, len(text)):
            inside[j] = True
    return inside


def _assert_fast_reads_hold(text):
    from proplens import figures

    spans = figures._quoted_spans(text)
    assert [figures._inside(spans, i) for i in range(len(text))] == _quote_mask(text), text
    lowered = text.lower()
    assert figures._words(lowered) == frozenset(re.findall("[a-z]+", lowered)), text


@given(st.text(alphabet="“”\"' ab.ſİ\ud800é", max_size=14))
@example("")
@example('“a” b “c "d" e” f"')
@example('a” b" “c')
def test_quoted_spans_and_words_equal_their_plain_readings(text):
    """The quotation spans mark the characters the per-character walk marks, and the words
    found by byte translation are the runs of ASCII letters the regex finds (non-ASCII
    letters and lone surrogates split them)."""
    _assert_fast_reads_hold(text)


@pytest.mark.corpus
def test_quoted_spans_and_words_equal_their_plain_readings_on_the_corpus(corpus_dir):
    from proplens.corpus import read_semeval2020

    for text in read_semeval2020(corpus_dir, dedupe=True).sentence_table()["text"]:
        _assert_fast_reads_hold(text)


def test_the_characters_that_fold_to_ascii_letters_are_all_known():
    """_respelled knows every character other than an ASCII letter that an ASCII letter
    matches under IGNORECASE (where a number word or a unit may hide from the words)."""
    from proplens import figures

    letters = re.compile("[a-z]", re.IGNORECASE)
    folding = {
        chr(c)
        for c in range(128, 0x110000)
        if not 0xD800 <= c <= 0xDFFF and letters.fullmatch(chr(c))
    }
    assert folding == {c for c in "\u0130\u0131\u017f\u212a" if figures._FOLDS_TO_ASCII(c)}


def _assert_word_reads_hold(text):
    """The candidates found from where the number words are equal the whole pattern's scan
    (for a text without a number word, the gate's reading: its digits only); the re-read
    duration pattern never matches where its pre-check rules it out; the source line test
    is the search."""
    from proplens import figures

    lowered = text.lower()
    words = figures._words(lowered)
    finder = figures._CANDIDATE_GATED
    found = [m.span() for m in finder.finditer(text, lowered, words)]
    if finder.words.isdisjoint(words):
        assert found == [m.span() for m in finder._digits.finditer(text)], text
    else:
        assert found == [m.span() for m in figures._CANDIDATE.finditer(text)], text
    duration = figures._REREAD_V4_GATED["duration"].pattern
    if duration.search(text) is not None:
        assert figures._could_reread_duration(text, lowered, words), text
    sentence = figures._Sentence(text, figures.LATEST_REVISION)
    assert figures._has_source_line(sentence) == (figures._SOURCE_LINE.search(text) is not None)


_NUMBER_WORD_TEXT = st.lists(
    st.sampled_from(
        ["one", "One", "ONE", "ones", "two", "twenty", "Twenty-One", "seven", "seventeen",
         "hundred", "hundreds", "thousand", "million", "and", "dozen", "someone", "money", "5",
         "12", "1,000", "3.5", "40%", "$", "m", " ", "  ", "-", ",", ".", ":", "\n", "“", "ſ",
         "ı", "İ", "\u212a", "é", "_", "years", "days", "hour", "Centuries", "millennia", "more",
         "additional", "or", "to", "of", "a quarter", "half", "half of", "Source", "sources",
         "resource", "per", "in"]
    ),
    max_size=14,
)  # fmt: skip


@given(_NUMBER_WORD_TEXT.map(" ".join) | _NUMBER_WORD_TEXT.map("".join))
@example("5 million two hundred and one, 5 hundreds of thousands, Twenty-One, someone, money")
@example("five 5 million two hundred and one 5 hundred-five years, one5, 5one, one_two")
@example("ſix ſeven, fıve, FİVE 5 million, \u212aelvin one, İ one, wee\u212as")
@example("one or ſix years, 12 to 24 hours, 20, 30 or 50 years, 5. years, twenty-five years")
@example("two more days, two additional minutes, thousands of years, a quarter-century")
@example("Source: AP, SOURCES: x, ſource: y, resource: z, sources:  ")
def test_word_reads_equal_the_patterns_on_number_like_text(text):
    _assert_word_reads_hold(text)


@pytest.mark.corpus
def test_word_reads_equal_the_patterns_on_the_corpus(corpus_dir):
    from proplens import figures
    from proplens.corpus import read_semeval2020

    texts = read_semeval2020(corpus_dir, dedupe=True).sentence_table()["text"].tolist()
    ruled_out = 0
    gate = figures._REREAD_V4_GATED["duration"]
    for text in texts:
        _assert_word_reads_hold(text)
        lowered = text.lower()
        words = figures._words(lowered)
        ruled_out += gate.possible(lowered, words) and not figures._could_reread_duration(
            text, lowered, words
        )
    assert ruled_out > 500  # the pre-check does rule out most texts its gate lets through
