"""Unverified_Figures features: figures are told apart from dates and names, sources are seen in
the sentence and its neighbours, and the transformer follows the sklearn contract."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from proplens.figures import (
    FigureCues,
    add_neighbour_columns,
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
    assert bool(cues(text)["any_bare_figure"].iloc[0]) is bare


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
