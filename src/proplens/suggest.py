"""Active learning: pick the sentences whose labels would teach a device's classifier the most.

Uncertainty sampling: a sentence whose probability sits near the device's decision threshold is
the one the model is least sure about, so a human label there moves the decision boundary most.
Distance is measured in log-odds (``|logit(p) - logit(threshold)|``), which treats 0.01 vs 0.02 and
0.49 vs 0.50 alike. Near-duplicates waste a labeler's time, so a candidate is skipped when its
normalised text was already picked or its TF-IDF cosine similarity with a picked sentence exceeds
``max_similarity`` (0.8).

For a device the model does not know yet (just declared with ``proplens labels add``) there is no
probability: candidates are the sentences its taxonomy gate (``requires``) allows, in a seeded
random order, with the same near-duplicate filter.

The picks are exported as a CSV in the sentence-label format of :mod:`proplens.labeling` (fill the
``devices`` column with the device or ``none``) and as a Label Studio task file; either comes back
with ``proplens train --labels FILE``. Both say where each sentence is in its document (document
id, sentence index, offsets), so that its label comes back to that place: neighbouring-sentence
features read the sentences around it.

>>> round(uncertainty(np.array([0.5, 0.9, 0.1]), 0.5).tolist()[0], 3)
0.0
"""

from __future__ import annotations

import csv
import json
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer

from proplens._atomic import write_text_atomic
from proplens.errors import InputError, ProplensError, ValidationError

__all__ = [
    "SUGGESTION_COLUMNS",
    "label_studio_config",
    "suggest",
    "uncertainty",
    "write_suggestions",
]

SUGGESTION_COLUMNS = [
    "document_id", "sentence_index", "start", "end", "text", "devices", "annotated",
    "probability", "threshold",
]  # fmt: skip
_MIN_WORDS = 3
_EPSILON = 1e-6


def uncertainty(proba: np.ndarray, threshold: float) -> np.ndarray:
    """Distance to the threshold in log-odds: 0 at the threshold, larger is more certain."""
    p = np.clip(np.asarray(proba, dtype=float), _EPSILON, 1 - _EPSILON)
    t = float(np.clip(threshold, _EPSILON, 1 - _EPSILON))
    return np.abs(np.log(p / (1 - p)) - np.log(t / (1 - t)))


def _normalised(text: str) -> str:
    return " ".join(text.casefold().split())


def _sentences(
    folder: Sequence[str | Path],
    on_unreadable: Callable[[list[InputError]], None] | None = None,
) -> pd.DataFrame:
    """The sentence frame of every document under ``folder``: ids relative to a folder given, a
    file's name for a file given.

    A PTC article (``article<ID>.txt``) is split one sentence per line, as the corpus and the
    label readers split it, so that a pick from a corpus article is one of the corpus's sentences
    and its label lands on that sentence (with its real neighbours) when training.

    A document that cannot be read is skipped, as ``proplens score`` skips it: the others still
    hold sentences worth labeling. Once all are read, the skipped ones go to ``on_unreadable``
    (by default a :class:`UserWarning`); when none could be read, an :class:`InputError` says so.
    """
    from proplens.inputs import iter_documents
    from proplens.labeling import one_sentence_per_line, sentence_bounds

    frames = []
    unreadable: list[InputError] = []
    for path in folder:
        base = Path(path)
        for document in iter_documents([path]):
            if isinstance(document, InputError):
                unreadable.append(document)
                continue
            try:
                document_id = Path(document.id).relative_to(base).as_posix()
            except ValueError:
                document_id = ""
            if document_id in ("", "."):  # a file given itself: "." would name every such file
                document_id = Path(document.id).name or base.name
            bounds = sentence_bounds(document.text, lines=one_sentence_per_line(document_id))
            frames.append(
                pd.DataFrame(
                    {
                        "document_id": [document_id] * len(bounds),
                        "sentence_index": range(len(bounds)),
                        "start": [start for start, _ in bounds],
                        "end": [end for _, end in bounds],
                        "text": [document.text[start:end] for start, end in bounds],
                    }
                )
            )
    if not frames:
        if len(unreadable) == 1:  # a mistyped path or an empty folder: its own message
            raise unreadable[0]
        if unreadable:
            raise InputError(
                f"no document could be read: {len(unreadable)} inputs failed "
                f"(first: {unreadable[0]})"
            )
        raise InputError(f"{', '.join(map(str, folder))}: no documents found")
    if unreadable:
        if on_unreadable is None:
            for error in unreadable:
                warnings.warn(f"{error}; skipped", UserWarning, stacklevel=3)
        else:
            on_unreadable(unreadable)
    return pd.concat(frames, ignore_index=True)


def suggest(
    device: str,
    sources: Sequence[str | Path] | pd.DataFrame,
    *,
    n: int = 50,
    model=None,
    trust: bool = False,
    max_similarity: float = 0.8,
    exclude: Sequence[str] = (),
    random_state: int = 0,
    on_unreadable: Callable[[list[InputError]], None] | None = None,
) -> pd.DataFrame:
    """The ``n`` sentences of ``sources`` most worth labeling for ``device``.

    ``sources`` are files/folders (``.txt``/``.html``/``.md``) or a sentence frame (columns
    ``document_id, sentence_index, start, end, text``). A file that cannot be read is skipped
    and passed, with the others skipped, to ``on_unreadable`` (by default each is a
    :class:`UserWarning`); only when no document can be read is it an :class:`InputError`.
    ``model`` is a loaded :class:`proplens.Model`, a model reference, or None for the default
    model. ``exclude`` holds sentence texts already labeled (compared after normalising case and
    spacing); for label files, as ``--exclude FILE --corpus FOLDER`` does,
    ``read_labels(files, corpus_dir=FOLDER).frame["text"]``. Returns a frame with
    :data:`SUGGESTION_COLUMNS`, most uncertain first; ``devices`` is empty for the labeler to
    fill and ``annotated`` names ``device``.
    """
    from proplens.scoring import Model, load_model
    from proplens.taxonomy import load_taxonomy

    if n < 1:
        raise ValidationError(f"-n must be at least 1, got {n}")
    if not 0.0 < max_similarity <= 1.0:
        raise ValidationError(f"max_similarity must lie in (0, 1], got {max_similarity}")
    taxonomy = load_taxonomy()
    if device not in taxonomy:
        raise ValidationError(
            f"unknown device {device!r}; declare it first with `proplens labels add`"
        )
    if isinstance(sources, pd.DataFrame):
        frame = sources.copy()
    else:
        frame = _sentences(sources, on_unreadable)
    frame = frame.reset_index(drop=True)
    loaded = model if isinstance(model, Model) else load_model(model, trust=trust)
    sentence_model = loaded.sentence_model
    keep = np.array([len(t.split()) >= _MIN_WORDS for t in frame["text"]], dtype=bool)
    if device in loaded.devices:
        column = list(sentence_model.labels_).index(device)
        proba = sentence_model.predict_all_proba(frame)[:, column]
        threshold = float(sentence_model.thresholds_[device])
        keep &= proba > 0  # a gated-out sentence cannot have the device: nothing to learn
        order_key = uncertainty(proba, threshold)
    else:
        gate = taxonomy[device].requires
        if gate:
            keep &= frame["text"].str.contains(gate, regex=True, case=False).to_numpy()
        proba = np.full(len(frame), np.nan)
        threshold = float("nan")
        order_key = np.random.default_rng(random_state).random(len(frame))
    excluded = {_normalised(t) for t in exclude}
    keep &= np.array([_normalised(t) not in excluded for t in frame["text"]], dtype=bool)
    candidates = np.flatnonzero(keep)
    candidates = candidates[np.argsort(order_key[candidates], kind="stable")]
    picked = _diverse(frame["text"].to_numpy(), candidates, n, max_similarity)
    out = frame.iloc[picked][["document_id", "sentence_index", "start", "end", "text"]].copy()
    out["devices"] = ""
    out["annotated"] = device
    out["probability"] = np.round(proba[picked], 4)
    out["threshold"] = round(threshold, 4) if threshold == threshold else np.nan
    return out.reset_index(drop=True)[SUGGESTION_COLUMNS]


def _diverse(texts: np.ndarray, candidates: np.ndarray, n: int, max_similarity: float) -> list[int]:
    """Walk ``candidates`` in order; keep one unless it nearly repeats a sentence already kept."""
    if len(candidates) == 0:
        return []
    # Only the head of the ranking can be picked; vectorising it alone keeps this fast.
    pool = candidates[: max(20 * n, 200)]
    vectors = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2)).fit_transform(texts[pool])
    picked: list[int] = []
    picked_rows: list[int] = []
    seen: set[str] = set()
    for row, index in enumerate(pool):
        key = _normalised(texts[index])
        if key in seen:
            continue
        if picked_rows:
            similarity = (vectors[picked_rows] @ vectors[row].T).toarray().max()
            if similarity > max_similarity:
                continue
        seen.add(key)
        picked.append(int(index))
        picked_rows.append(row)
        if len(picked) == n:
            break
    return picked


def label_studio_config(device: str) -> str:
    """A Label Studio labeling config for the exported tasks: one yes/none choice per sentence."""
    return (
        "<View>\n"
        '  <Text name="text" value="$text"/>\n'
        f'  <Header value="Does this sentence use {device}?"/>\n'
        '  <Choices name="devices" toName="text" choice="single" required="true">\n'
        f'    <Choice value="{device}"/>\n'
        '    <Choice value="none"/>\n'
        "  </Choices>\n"
        "</View>\n"
    )


def _write_atomic(path: Path, text: str) -> None:
    if path.is_dir():
        raise ProplensError(f"{path}: is a folder; give a file name to write")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, text, newline="")
    except OSError as error:
        raise ProplensError(f"{path}: cannot write ({error.strerror or error})") from None


def write_suggestions(
    suggestions: pd.DataFrame, csv_path: Path | str, tasks_path: Path | str | None = None
) -> list[Path]:
    """Write the picks as a CSV to fill in and (optionally) a Label Studio task file + config.

    The CSV's ``devices`` column is empty: write the device name, or ``none`` when the sentence
    does not use it; rows left empty are skipped on import. Returns the paths written.
    """
    import io

    csv_path = Path(csv_path)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(SUGGESTION_COLUMNS)
    for row in suggestions[SUGGESTION_COLUMNS].itertuples(index=False):
        writer.writerow(["" if isinstance(v, float) and v != v else v for v in row])
    _write_atomic(csv_path, buffer.getvalue())
    written = [csv_path]
    if tasks_path is not None:
        tasks_path = Path(tasks_path)
        tasks = [
            {
                "id": position + 1,
                "data": {
                    "text": row.text,
                    "document_id": str(row.document_id),
                    # where the sentence is, so that its label comes back to its position
                    "sentence_index": int(row.sentence_index),
                    "start": int(row.start),
                    "end": int(row.end),
                    "device": row.annotated,
                    "probability": None if row.probability != row.probability else row.probability,
                },
            }
            for position, row in enumerate(suggestions.itertuples(index=False))
        ]
        _write_atomic(tasks_path, json.dumps(tasks, ensure_ascii=False, indent=2) + "\n")
        device = suggestions["annotated"].iloc[0] if len(suggestions) else "DEVICE"
        config_path = tasks_path.with_name(tasks_path.stem + ".label_config.xml")
        _write_atomic(config_path, label_studio_config(device))
        written += [tasks_path, config_path]
    return written
