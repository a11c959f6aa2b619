"""The one place that converts between label representations.

On disk and in tables a sentence's labels are a list of device names (or stand-off spans with
character offsets). Estimators want an indicator matrix. Keeping every conversion here means the
column order of a model's output is decided in exactly one way.

>>> to_indicator([["Doubt"], [], ["Slogans", "Doubt"]], ["Doubt", "Slogans"]).tolist()
[[1, 0], [0, 0], [1, 1]]
>>> from_indicator([[1, 0], [0, 0], [1, 1]], ["Doubt", "Slogans"])
[['Doubt'], [], ['Doubt', 'Slogans']]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from proplens.errors import ValidationError

__all__ = ["from_indicator", "sentence_devices", "to_indicator"]

# Sentences compared against spans per block when no document column narrows the comparison;
# bounds the boolean overlap matrix to a few megabytes.
_BLOCK_ROWS = 2048


def _check_devices(devices: Sequence[str]) -> list[str]:
    # A string is a sequence too: "Doubt" would otherwise become five one-letter devices.
    if isinstance(devices, str | bytes) or not isinstance(devices, Iterable):
        raise ValidationError(f"devices must be a list of device names, got {devices!r}")
    names = list(devices)
    for name in names:
        if not isinstance(name, str):
            raise ValidationError(f"device names must be strings, got {name!r}")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValidationError(f"device list has duplicates: {', '.join(duplicates)}")
    return names


def to_indicator(device_lists: Sequence[Sequence[str]], devices: Sequence[str]) -> np.ndarray:
    """An ``(n, k)`` int8 matrix: row i has a 1 in column j when ``devices[j]`` is in list i.

    A device that is not in ``devices`` raises :class:`ValidationError` instead of being dropped,
    so a typo or a taxonomy mismatch never silently loses labels.
    """
    names = _check_devices(devices)
    column = {name: position for position, name in enumerate(names)}
    matrix = np.zeros((len(device_lists), len(names)), dtype=np.int8)
    for row, labels in enumerate(device_lists):
        if isinstance(labels, str | bytes):
            raise ValidationError(
                f"row {row}: expected a list of device names, got the string {labels!r}"
            )
        # None or NaN is not "no device": a missing value is the caller's to resolve (use []).
        if not isinstance(labels, Iterable):
            raise ValidationError(
                f"row {row}: expected a list of device names (use [] for none), got {labels!r}"
            )
        for name in labels:
            if not isinstance(name, str):
                raise ValidationError(f"row {row}: device names must be strings, got {name!r}")
            try:
                matrix[row, column[name]] = 1
            except KeyError:
                raise ValidationError(
                    f"row {row}: unknown device {name!r}; expected one of: {', '.join(names)}"
                ) from None
    return matrix


def from_indicator(
    matrix: np.ndarray | sparse.spmatrix | Sequence, devices: Sequence[str]
) -> list[list[str]]:
    """The device lists encoded by an indicator matrix, each in the order of ``devices``.

    An entry of 1 (or True, or 1.0) is present; 0 is absent, and so is -1, which marks a device
    the sentence was not annotated for. Anything else (NaN, 2, a probability, a string) raises
    :class:`ValidationError` naming the row: reading it as present would invent labels.
    """
    names = _check_devices(devices)
    dense = matrix.toarray() if sparse.issparse(matrix) else np.asarray(matrix)
    if dense.ndim == 1 and dense.size == 0:
        dense = dense.reshape(0, len(names))
    if dense.ndim != 2 or dense.shape[1] != len(names):
        raise ValidationError(
            f"indicator matrix has shape {dense.shape}; "
            f"expected (n, {len(names)}) for {len(names)} devices"
        )
    present = _presence(dense, names)
    return [[names[j] for j in np.flatnonzero(row)] for row in present]


def _plain(value: object) -> object:
    """A numpy scalar as its Python value: messages then read ``nan``, not ``np.float64(nan)``."""
    return value.item() if isinstance(value, np.generic) else value


def _presence(dense: np.ndarray, names: list[str]) -> np.ndarray:
    """``dense == 1`` once every entry is known to be -1, 0 or 1 (bools included)."""
    if dense.dtype.kind in "biuf":
        valid = np.isin(dense, (-1, 0, 1))  # NaN equals nothing, so it is refused here too
    else:  # strings, or objects such as None: only genuine numbers count ("1" is not 1)
        valid = np.vectorize(
            lambda value: isinstance(value, bool | int | float | np.number) and value in (-1, 0, 1),
            otypes=[bool],
        )(dense)
    if not valid.all():
        row, column = (int(i) for i in np.argwhere(~valid)[0])
        raise ValidationError(
            f"indicator row {row}: {names[column]} is {_plain(dense[row, column])!r}; "
            "expected 1 (present), 0 or -1 (absent)"
        )
    return dense == 1


def _overlapping(
    sent_start: np.ndarray,
    sent_end: np.ndarray,
    span_start: np.ndarray,
    span_end: np.ndarray,
    span_device: np.ndarray,
) -> list[list[str]]:
    if len(span_start) == 0:
        return [[] for _ in range(len(sent_start))]
    hits = (span_start[None, :] < sent_end[:, None]) & (span_end[None, :] > sent_start[:, None])
    return [sorted(set(span_device[row].tolist())) for row in hits]


def _offsets(frame: pd.DataFrame, what: str) -> tuple[np.ndarray, np.ndarray]:
    """The ``start`` and ``end`` columns as int64, or a ValidationError naming the first bad row.

    Casting NaN to int64 gives the smallest integer, so a missing offset would silently make a
    span reach back over every earlier sentence; a reversed pair overlaps sentences it is not in.
    """
    columns = []
    for column in ("start", "end"):
        values = frame[column]
        if values.dtype.kind in "iu" and not values.isna().any():  # the common case
            columns.append(values.to_numpy(dtype=np.int64))
            continue
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        # beyond 2**53 a float is no exact offset (and past 2**63 it casts to garbage)
        whole = (np.abs(numbers) <= 2**53) & (numbers == np.round(numbers))
        if not whole.all():
            row = int(np.flatnonzero(~whole)[0])
            raise ValidationError(
                f"{what} row {row}: {column} must be a whole number, "
                f"got {_plain(values.iloc[row])!r}"
            )
        columns.append(numbers.astype(np.int64))
    start, end = columns
    if (end < start).any():
        row = int(np.flatnonzero(end < start)[0])
        raise ValidationError(f"{what} row {row}: end {end[row]} is before start {start[row]}")
    return start, end


def sentence_devices(sentences: pd.DataFrame, spans: pd.DataFrame) -> list[list[str]]:
    """For each sentence, the sorted devices of the spans that overlap it.

    A span overlaps a sentence when ``span.start < sentence.end and span.end > sentence.start``
    (half-open intervals: touching is not overlapping). When both frames have a ``document_id``
    column, spans are only compared with sentences of the same document; otherwise all offsets are
    taken to refer to one text.
    """
    for frame, needed, what in (
        (sentences, ("start", "end"), "sentences"),
        (spans, ("start", "end", "device"), "spans"),
    ):
        missing = [column for column in needed if column not in frame.columns]
        if missing:
            raise ValidationError(f"{what} table lacks column(s): {', '.join(missing)}")
    result: list[list[str]] = [[] for _ in range(len(sentences))]
    if len(sentences) == 0 or len(spans) == 0:
        return result
    sent_start, sent_end = _offsets(sentences, "sentences")
    span_start, span_end = _offsets(spans, "spans")
    span_device = spans["device"].to_numpy(dtype=object)
    for row, device in enumerate(span_device):
        # a None or numeric device would come back as a label (or break sorting the labels)
        if not isinstance(device, str) or not device:
            raise ValidationError(f"spans row {row}: device must be a name, got {device!r}")

    if "document_id" in sentences.columns and "document_id" in spans.columns:
        span_rows = (
            pd.Series(np.arange(len(spans))).groupby(spans["document_id"].to_numpy()).indices
        )
        sentence_rows = (
            pd.Series(np.arange(len(sentences)))
            .groupby(sentences["document_id"].to_numpy())
            .indices
        )
        for document_id, rows in sentence_rows.items():
            cols = span_rows.get(document_id)
            if cols is None:
                continue
            found = _overlapping(
                sent_start[rows],
                sent_end[rows],
                span_start[cols],
                span_end[cols],
                span_device[cols],
            )
            for row, names in zip(rows, found, strict=True):
                result[row] = names
        return result

    for block in range(0, len(sentences), _BLOCK_ROWS):
        rows = slice(block, block + _BLOCK_ROWS)
        result[rows] = _overlapping(
            sent_start[rows], sent_end[rows], span_start, span_end, span_device
        )
    return result
