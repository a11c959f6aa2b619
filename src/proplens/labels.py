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

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from proplens.errors import ValidationError

__all__ = ["from_indicator", "sentence_devices", "to_indicator"]

# Sentences compared against spans per block when no document column narrows the comparison;
# bounds the boolean overlap matrix to a few megabytes.
_BLOCK_ROWS = 2048


def _check_devices(devices: Sequence[str]) -> list[str]:
    names = list(devices)
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
        if isinstance(labels, str):
            raise ValidationError(
                f"row {row}: expected a list of device names, got the string {labels!r}"
            )
        for name in labels:
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

    Any non-zero entry counts as present (so a boolean matrix or 0/1 floats work too).
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
    return [[names[j] for j in np.flatnonzero(row)] for row in dense]


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
    sent_start = sentences["start"].to_numpy(dtype=np.int64)
    sent_end = sentences["end"].to_numpy(dtype=np.int64)
    span_start = spans["start"].to_numpy(dtype=np.int64)
    span_end = spans["end"].to_numpy(dtype=np.int64)
    span_device = spans["device"].to_numpy(dtype=object)

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
