"""Tests for proplens.labels: the one place converting device lists, matrices and spans."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import sparse

from proplens.errors import ValidationError
from proplens.labels import from_indicator, sentence_devices, to_indicator

DEVICES = ["Doubt", "Slogans", "Loaded_Language", "Repetition"]


def test_to_indicator_marks_columns_in_device_order():
    """Column j must mean devices[j], whatever order the lists use."""
    matrix = to_indicator([["Slogans", "Doubt"], [], ["Repetition"]], DEVICES)
    assert matrix.dtype == np.int8
    assert matrix.tolist() == [[1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]]


def test_to_indicator_rejects_unknown_device():
    """A typo must not silently lose a label."""
    with pytest.raises(ValidationError, match="Slogan'"):
        to_indicator([["Slogan"]], DEVICES)


def test_to_indicator_rejects_a_bare_string():
    """A string is a sequence of characters; reading it as a list of names is a silent bug."""
    with pytest.raises(ValidationError, match="string"):
        to_indicator(["Doubt"], DEVICES)


def test_duplicate_device_names_are_rejected():
    """Duplicate columns would make the matrix ambiguous."""
    with pytest.raises(ValidationError, match="duplicates"):
        to_indicator([["Doubt"]], ["Doubt", "Doubt"])


def test_from_indicator_accepts_bool_float_and_sparse():
    """Models return booleans, probabilities thresholded to floats, or sparse matrices."""
    dense = [[True, False, False, True]]
    assert from_indicator(dense, DEVICES) == [["Doubt", "Repetition"]]
    assert from_indicator(np.array([[0.0, 1.0, 0.0, 0.0]]), DEVICES) == [["Slogans"]]
    assert from_indicator(sparse.csr_matrix([[0, 0, 1, 0]]), DEVICES) == [["Loaded_Language"]]


def test_from_indicator_rejects_wrong_width():
    """A matrix from another label set must not be decoded with this one."""
    with pytest.raises(ValidationError, match="shape"):
        from_indicator(np.zeros((2, 3)), DEVICES)


def test_from_indicator_empty_matrix():
    """Zero sentences is a valid input (an empty document)."""
    assert from_indicator(np.zeros((0, 4)), DEVICES) == []


@given(st.lists(st.sets(st.sampled_from(DEVICES)), max_size=30))
def test_round_trip(label_sets):
    """Lists -> matrix -> lists gives back the same sets, in device order."""
    lists = [sorted(labels) for labels in label_sets]
    back = from_indicator(to_indicator(lists, DEVICES), DEVICES)
    assert [set(b) for b in back] == [set(labels) for labels in lists]
    assert all(b == [d for d in DEVICES if d in b] for b in back)


def test_sentence_devices_uses_half_open_overlap():
    """A span touching a sentence boundary does not label the neighbour."""
    sentences = pd.DataFrame({"start": [0, 10, 20], "end": [10, 20, 30]})
    spans = pd.DataFrame(
        {"start": [10, 5, 19], "end": [20, 10, 25], "device": ["Doubt", "Slogans", "Repetition"]}
    )
    assert sentence_devices(sentences, spans) == [
        ["Slogans"],
        ["Doubt", "Repetition"],
        ["Repetition"],
    ]


def test_sentence_devices_keeps_documents_apart():
    """Offsets are per document: a span of document b must not label document a."""
    sentences = pd.DataFrame({"document_id": ["a", "b"], "start": [0, 0], "end": [10, 10]})
    spans = pd.DataFrame({"document_id": ["b"], "start": [2], "end": [4], "device": ["Doubt"]})
    assert sentence_devices(sentences, spans) == [[], ["Doubt"]]


def test_sentence_devices_without_spans():
    """No spans means every sentence has an empty list (not a missing row)."""
    sentences = pd.DataFrame({"start": [0, 5], "end": [5, 9]})
    spans = pd.DataFrame({"start": [], "end": [], "device": []})
    assert sentence_devices(sentences, spans) == [[], []]


def test_sentence_devices_requires_columns():
    """A table without offsets is a programming error worth a clear message."""
    with pytest.raises(ValidationError, match="device"):
        sentence_devices(pd.DataFrame({"start": [0], "end": [1]}), pd.DataFrame({"start": [0]}))


@given(
    st.lists(st.tuples(st.integers(0, 200), st.integers(1, 40)), max_size=15),
    st.lists(
        st.tuples(st.integers(0, 200), st.integers(1, 40), st.sampled_from(DEVICES)), max_size=15
    ),
)
def test_sentence_devices_matches_brute_force(sentence_bounds, span_bounds):
    """The vectorised overlap equals the definition applied pair by pair."""
    sentences = pd.DataFrame(
        [(s, s + n) for s, n in sentence_bounds], columns=["start", "end"], dtype=np.int64
    )
    spans = pd.DataFrame(
        [(s, s + n, d) for s, n, d in span_bounds], columns=["start", "end", "device"]
    )
    span_rows = list(spans.itertuples(index=False))
    expected = [
        sorted({span.device for span in span_rows if span.start < end and span.end > start})
        for start, end in sentences[["start", "end"]].itertuples(index=False)
    ]
    assert sentence_devices(sentences, spans) == expected


def test_from_indicator_reads_minus_one_as_absent():
    """-1 marks "not annotated for this device" (training's indicator): never a label."""
    assert from_indicator([[-1, 0, 1, -1]], DEVICES) == [["Loaded_Language"]]
    assert from_indicator(np.array([[-1.0, 1.0, 0.0, 0.0]]), DEVICES) == [["Slogans"]]


@pytest.mark.parametrize(
    ("entry", "shown"),
    [(float("nan"), "nan"), (2, "2"), (0.7, "0.7"), (None, "None")],
)
def test_from_indicator_rejects_entries_that_are_not_0_1_or_minus_1(entry, shown):
    """NaN, a count, a probability or a missing value is a caller's mistake, not "present"."""
    matrix = [[0, 0, 0, 0], [1, 0, entry, 0]]
    with pytest.raises(ValidationError, match=rf"row 1: Loaded_Language is {shown};"):
        from_indicator(matrix, DEVICES)


def test_from_indicator_rejects_strings():
    """The string "0" is non-zero, so every device of a table of strings read as present."""
    with pytest.raises(ValidationError, match="row 0: Doubt is '0'; expected 1"):
        from_indicator([["0", "0", "1", "0"]], DEVICES)


def test_a_string_of_devices_is_not_a_device_list():
    """A device list given as the string "Doubt" would be five one-letter devices."""
    with pytest.raises(
        ValidationError, match="devices must be a list of device names, got 'Doubt'"
    ):
        to_indicator([["D"]], "Doubt")
    with pytest.raises(ValidationError, match="got 'ab'"):
        from_indicator([[1, 0]], "ab")
    with pytest.raises(ValidationError, match="got b'ab'"):
        from_indicator([[1, 0]], b"ab")
    with pytest.raises(ValidationError, match="device names must be strings, got 3"):
        to_indicator([["Doubt"]], ["Doubt", 3])


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (None, "row 1: expected a list of device names \\(use \\[\\] for none\\), got None"),
        (float("nan"), "row 1: expected a list of device names \\(use \\[\\] for none\\), got nan"),
        (b"Doubt", "row 1: expected a list of device names, got the string b'Doubt'"),
        ([None], "row 1: device names must be strings, got None"),
        ([["Doubt"]], "row 1: device names must be strings, got \\['Doubt'\\]"),
    ],
)
def test_to_indicator_rejects_rows_that_are_not_lists_of_names(row, message):
    """A missing row is not "no device" here (callers turn it into [] themselves, as explore
    does); bytes are not a name, and iterating them gave "unknown device 68"."""
    with pytest.raises(ValidationError, match=message):
        to_indicator([["Doubt"], row], DEVICES)


def test_sentence_devices_rejects_missing_or_fractional_offsets():
    """A NaN offset cast to int64 is -2**63 and labeled sentences the span is not in; a float
    column of whole numbers (what pandas makes of ints next to a NaN) is still read."""
    sentences = pd.DataFrame({"start": [0, 10, 20], "end": [10, 20, 30]})
    whole = pd.DataFrame({"start": [12.0], "end": [14.0], "device": ["Doubt"]})
    assert sentence_devices(sentences, whole) == [[], ["Doubt"], []]
    missing = pd.DataFrame({"start": [12, np.nan], "end": [14, 25], "device": ["Doubt", "Slogans"]})
    with pytest.raises(ValidationError, match="spans row 1: start must be a whole number, got nan"):
        sentence_devices(sentences, missing)
    nullable = pd.DataFrame({"start": [0, 10], "end": pd.array([10, None], dtype="Int64")})
    with pytest.raises(ValidationError, match="sentences row 1: end must be a whole number"):
        sentence_devices(nullable, whole)
    for bad in (12.5, np.inf, "twelve"):
        spans = pd.DataFrame({"start": [bad], "end": [14], "device": ["Doubt"]})
        with pytest.raises(ValidationError, match="spans row 0: start must be a whole number"):
            sentence_devices(sentences, spans)


def test_sentence_devices_rejects_reversed_offsets():
    """A span 8-2 is no interval, yet the overlap test would put it in sentence 0."""
    sentences = pd.DataFrame({"start": [0, 10], "end": [10, 20]})
    spans = pd.DataFrame({"start": [8], "end": [2], "device": ["Doubt"]})
    with pytest.raises(ValidationError, match="spans row 0: end 2 is before start 8"):
        sentence_devices(sentences, spans)


@pytest.mark.parametrize(
    ("column", "shown"),
    [
        (pd.Series(["Doubt", None], dtype=object), "None"),
        (pd.Series(["Doubt", None]), "nan"),  # pandas stores a missing string as NaN
        (pd.Series(["Doubt", 3], dtype=object), "3"),
        (pd.Series(["Doubt", ""]), "''"),
    ],
)
def test_sentence_devices_rejects_a_device_that_is_not_a_name(column, shown):
    """None came back as a [None] label; a number beside names broke sorting with a TypeError."""
    sentences = pd.DataFrame({"start": [0], "end": [10]})
    spans = pd.DataFrame({"start": [1, 2], "end": [5, 6], "device": column})
    with pytest.raises(ValidationError, match=f"spans row 1: device must be a name, got {shown}"):
        sentence_devices(sentences, spans)
