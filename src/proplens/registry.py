"""Model versions in a models root: list, pick the default, roll back, compare.

A models root (default :func:`proplens.config.models_dir`, env ``PROPLENS_MODELS``) holds one folder
per model name with numbered versions, and a pointer to the default model::

    models/
        ptc-default/v1/  ptc-default/v2/  ...   model directories (see proplens.artifacts)
        current.json     {"name": "ptc-default", "version": "v2",
                          "history": [{"name": "ptc-default", "version": "v1", "at": "..."}]}

Versions are ``v1``, ``v2``, ... and are never reused, so ``name@version`` always means the same
files. The default model is, in order: what ``current.json`` names; else the newest version of
``ptc-default`` in the root; else the same lookup in the models bundled with an installed wheel.
Every write is atomic (temporary file + ``os.replace``), so a crash never leaves a broken pointer.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from proplens import config
from proplens._atomic import write_text_atomic
from proplens.artifacts import (
    CARD_MISSING,
    METADATA_EDITED,
    METADATA_FILENAME,
    ModelMetadata,
    check_card,
    check_metadata,
    edited_metadata_message,
    verify_model_dir,
)
from proplens.errors import ModelError

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "ptc-default"
CURRENT_FILENAME = "current.json"

_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_VERSION_PATTERN = re.compile(r"^v([0-9]+)$")


@dataclass(frozen=True)
class ModelRef:
    """One model version: ``name@version`` and where its directory is."""

    name: str
    version: str
    path: Path

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"


def _root(root: str | os.PathLike[str] | None) -> Path:
    return Path(root) if root is not None else config.models_dir()


def _normalise_version(version: str, ref: str) -> str:
    """Accept ``v2`` and ``2``; return ``v2``."""
    version = version.strip()
    if version.isdigit():
        version = f"v{int(version)}"
    if not _VERSION_PATTERN.match(version):
        raise ModelError(f"'{ref}': version should look like v1, v2, ... (got '{version}')")
    return version


def _split_ref(ref: str) -> tuple[str, str | None]:
    """``"name@v2"`` -> ``("name", "v2")``; ``"name"`` -> ``("name", None)``."""
    name, at, version = ref.strip().partition("@")
    if not _NAME_PATTERN.match(name):
        raise ModelError(
            f"'{ref}': a model name uses letters, digits, '.', '_' and '-' (e.g. ptc-default@v2)"
        )
    if at and not version.strip():
        raise ModelError(f"'{ref}': give a version after '@' (e.g. {name}@v2), or no '@'")
    return name, (_normalise_version(version, ref) if version else None)


def versions(name: str, root: str | os.PathLike[str] | None = None) -> list[int]:
    """Version numbers present for ``name`` (any ``v<N>`` folder, complete or not), ascending."""
    folder = _root(root) / name
    if not folder.is_dir():
        return []
    numbers = []
    for child in folder.iterdir():
        match = _VERSION_PATTERN.match(child.name)
        if match and child.is_dir():
            numbers.append(int(match.group(1)))
    return sorted(numbers)


def _complete_versions(name: str, root: Path) -> list[int]:
    """Versions that hold a ``metadata.json`` (an interrupted copy is not a model)."""
    return [
        n for n in versions(name, root) if (root / name / f"v{n}" / METADATA_FILENAME).is_file()
    ]


def parse_ref(ref: str, root: str | os.PathLike[str] | None = None) -> ModelRef:
    """Look up ``"name@v2"`` (that version) or ``"name"`` (its newest version) in a models root."""
    models_root = _root(root)
    name, version = _split_ref(ref)
    if version is None:
        available = _complete_versions(name, models_root)
        if not available:
            raise ModelError(f"no model named '{name}' in {models_root}; {_available(models_root)}")
        version = f"v{available[-1]}"
    path = models_root / name / version
    if not (path / METADATA_FILENAME).is_file():
        raise ModelError(f"no model '{name}@{version}' in {models_root}; {_available(models_root)}")
    return ModelRef(name, version, path)


def _refs(root: Path) -> list[ModelRef]:
    """Every complete model version under ``root``, by name then version number."""
    if not root.is_dir():
        return []
    refs = []
    for folder in sorted(root.iterdir()):
        if folder.is_dir() and _NAME_PATTERN.match(folder.name):
            for number in _complete_versions(folder.name, root):
                refs.append(ModelRef(folder.name, f"v{number}", folder / f"v{number}"))
    return refs


def _available(root: Path) -> str:
    refs = _refs(root)
    if not refs:
        return "no models are available there (train one with `proplens train`)"
    return "available: " + ", ".join(str(ref) for ref in refs)


def next_version_dir(name: str, root: str | os.PathLike[str] | None = None) -> Path:
    """The directory for a new version of ``name``: one past the highest existing ``v<N>``.

    Counts every ``v<N>`` folder, even an incomplete one, so a version number is never reused.
    The directory is not created (``save_model`` creates it atomically).
    """
    _split_ref(name)  # validates the name
    if "@" in name:
        raise ModelError(f"'{name}': give a model name without a version")
    existing = versions(name, root)
    return _root(root) / name / f"v{(existing[-1] + 1) if existing else 1}"


# --------------------------------------------------------------------------------------------
# current.json


def _read_pointer(root: Path) -> dict[str, Any] | None:
    path = root / CURRENT_FILENAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelError(f"{path}: not valid JSON ({error})") from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("name"), str)
        or not isinstance(data.get("version"), str)
        or not isinstance(data.get("history", []), list)
    ):
        raise ModelError(f"{path}: should hold {{'name': ..., 'version': ..., 'history': [...]}}")
    data.setdefault("history", [])
    return data


def _read_pointer_leniently(root: Path) -> dict[str, Any] | None:
    try:
        return _read_pointer(root)
    except ModelError:
        return None


def check_writable(folder: str | os.PathLike[str]) -> None:
    """Raise :class:`ModelError` unless files can be created in ``folder`` (or, if it does not
    exist yet, in the nearest existing folder above it, where it would be created).

    Lets ``train`` refuse a read-only models folder before it spends minutes training.
    """
    existing = Path(folder)
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".tmp-probe-", dir=existing))
    except OSError as error:
        raise ModelError(
            f"{folder}: cannot write models there ({error.strerror or error})"
        ) from None


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` with ``data`` in one step: readers see the old file or the new one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        write_text_atomic(path, text, newline="\n")
    except OSError as error:
        raise ModelError(f"{path}: cannot write ({error.strerror or error})") from None


def _newest_default(root: Path) -> ModelRef | None:
    available = _complete_versions(DEFAULT_MODEL_NAME, root)
    if not available:
        return None
    version = f"v{available[-1]}"
    return ModelRef(DEFAULT_MODEL_NAME, version, root / DEFAULT_MODEL_NAME / version)


def _current_in(root: Path) -> ModelRef | None:
    pointer = _read_pointer(root)
    if pointer is not None:
        name, version = pointer["name"], pointer["version"]
        path = root / name / version
        if not (path / METADATA_FILENAME).is_file():
            raise ModelError(
                f"{root / CURRENT_FILENAME}: points to {name}@{version}, which is not in {root}; "
                f"run `proplens models use NAME@VERSION` ({_available(root)})"
            )
        return ModelRef(name, version, path)
    return _newest_default(root)


def current(root: str | os.PathLike[str] | None = None) -> ModelRef | None:
    """The default model: ``current.json``, else the newest ``ptc-default``, else the bundled one.

    Returns None when there is no model at all. A ``current.json`` naming a missing model is an
    error rather than a silent fallback, so users never score with a model they did not choose.
    """
    found = _current_in(_root(root))
    if found is not None:
        return found
    bundled = config.bundled_models_dir()
    if bundled.is_dir() and bundled != _root(root):
        return _current_in(bundled)
    return None


def use(ref: str, root: str | os.PathLike[str] | None = None) -> ModelRef:
    """Make ``ref`` (``name@version`` or ``name`` for its newest) the default model.

    The previous default of this root goes onto ``history`` so :func:`rollback` can return to it.
    """
    models_root = _root(root)
    target = parse_ref(ref, models_root)
    try:
        # a default that cannot load would fail every later command: refuse it now
        verify_model_dir(target.path)
    except ModelError as error:
        raise ModelError(
            f"{target.name}@{target.version} is not made the default: {error}"
        ) from None
    try:
        pointer = _read_pointer(models_root)
        previous = _current_in(models_root)
    except ModelError:
        # A broken or dangling current.json is exactly what `use` repairs; keep what history
        # can still be read.
        pointer, previous = _read_pointer_leniently(models_root), None
    history = list(pointer["history"]) if pointer else []
    if previous is not None and (previous.name, previous.version) != (target.name, target.version):
        history.append({"name": previous.name, "version": previous.version, "at": _now()})
    _write_json_atomic(
        models_root / CURRENT_FILENAME,
        {"name": target.name, "version": target.version, "history": history},
    )
    return target


def rollback(
    root: str | os.PathLike[str] | None = None, *, warn: Callable[[str], None] | None = None
) -> ModelRef:
    """Make the previous default current again (pops it from ``history``).

    Earlier defaults whose directories were deleted since are skipped with a warning: one line
    each, passed to ``warn`` (the CLI prints it on stderr), or logged when ``warn`` is None.
    """
    models_root = _root(root)
    pointer = _read_pointer(models_root)
    if not pointer or not pointer["history"]:
        raise ModelError(
            f"{models_root / CURRENT_FILENAME}: no earlier model to roll back to "
            "(`proplens models use NAME@VERSION` picks one explicitly)"
        )
    history = list(pointer["history"])
    gone: list[str] = []  # earlier defaults whose directories were deleted since
    # an entry naming the current model itself (a hand-edited current.json) is passed over:
    # rolling back to it would change nothing
    current_ref = f"{pointer.get('name')}@{pointer.get('version')}"
    while True:
        entry = history.pop()
        if not isinstance(entry, dict) or not {"name", "version"} <= entry.keys():
            raise ModelError(f"{models_root / CURRENT_FILENAME}: malformed history entry {entry!r}")
        ref = f"{entry['name']}@{entry['version']}"
        name, version = _split_ref(ref)
        if ref != current_ref:
            if (models_root / name / str(version) / METADATA_FILENAME).is_file():
                break
            gone.append(ref)
        if not history:
            deleted = f" ({', '.join(gone)} deleted)" if gone else ""
            raise ModelError(
                f"{models_root / CURRENT_FILENAME}: no earlier model to roll back to"
                f"{deleted}; `proplens models use NAME@VERSION` picks one "
                f"({_available(models_root)})"
            )
    target = parse_ref(ref, models_root)
    _write_json_atomic(
        models_root / CURRENT_FILENAME,
        {"name": target.name, "version": target.version, "history": history},
    )
    for ref in gone:  # once the rollback happened: a failed write skipped nothing
        message = f"skipped {ref} in the rollback history: its directory was deleted"
        if warn is None:
            log.warning("%s", message)
        else:
            warn(message)
    return target


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --------------------------------------------------------------------------------------------
# Listing and comparing


def _f1_figure(value: Any) -> float | None:
    """``value`` as an F1 to show, or None when it is none: missing, not a number, or not a
    proportion (NaN or a hand-edited value would otherwise be printed as if measured)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return float(value) if 0.0 <= value <= 1.0 else None


def _metric(metrics: dict[str, Any], key: str = "micro_f1") -> float | None:
    return _f1_figure(metrics.get(key))


def _per_device(metrics: dict[str, Any]) -> dict[str, Any] | None:
    per_device = metrics.get("per_device")
    return per_device if isinstance(per_device, dict) else None


def _unseen(scores: Any) -> bool:
    """Whether a device's CV saw neither a positive nor a prediction of it in any fold.

    Its F1 is then 0/0, which training records as 0.0 (``folds`` counts the folds that had
    either); shown, that 0.0 would read as a measured failure.
    """
    return isinstance(scores, dict) and scores.get("folds") == 0


def cv_grouping(metrics: dict[str, Any]) -> str | None:
    """What a card's CV folds kept whole: "story", or "document" (every card before story folds,
    ``metrics.cv`` "5-fold GroupKFold by document"); None for a model trained without CV. The
    number of folds does not matter."""
    if not metrics.get("cv") and not metrics.get("per_device"):
        return None
    return "story" if str(metrics.get("cv", "")).endswith("by story") else "document"


def _micro_f1(metrics: dict[str, Any]) -> float | None:
    """The cross-validated micro F1, or None when there is none: no CV (``train --no-cv``), or a
    CV that saw no positive and no prediction of any device (recorded as 0.0, a figure that
    nothing measured)."""
    per_device = _per_device(metrics)
    if per_device is not None and all(_unseen(scores) for scores in per_device.values()):
        return None  # an empty per_device too: no device was cross-validated
    return _metric(metrics)


def list_models(root: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """One row per model version, oldest first within each name.

    Columns: ``name, version, created, labels, micro_f1, current, metadata, card, path,
    problem``.
    ``labels`` is the number of devices; ``micro_f1`` the cross-validated micro F1, None (NaN in
    the frame) for a model without one (trained with ``--no-cv``); ``metadata`` whether
    ``metadata.json`` is the one saved with the model (:func:`proplens.artifacts.check_metadata`:
    "as saved", "edited", "not recorded" for a model saved before proplens recorded it, None when
    it cannot be read); ``card`` the same of the model card, ``README.md``
    (:func:`proplens.artifacts.check_card`, which can also say "missing"; None when the metadata
    was edited, since the card's record is in it); ``problem`` is empty for a readable model
    with its card as saved, and otherwise says why its metadata cannot be read or was edited, or
    that its card was edited or is missing (the model still appears, so it can be found and
    fixed). An edited model's ``micro_f1`` is None: what its metadata says is not the training
    run's figure. The checks read the first bytes of each ``model.joblib`` and its card, never
    unpickle or hash the model file. A default model outside ``root`` (the one bundled with an
    installed wheel) is listed last, so the list always shows what scores.

    ``frame.attrs["current_problem"]`` says why no model is marked current when ``current.json``
    is broken or names a missing model (empty otherwise).
    """
    models_root = _root(root)
    problem = ""
    try:
        default = current(models_root)
    except ModelError as error:
        default, problem = None, str(error)
    refs = _refs(models_root)
    if default is not None and default.path not in {ref.path for ref in refs}:
        refs.append(default)
    rows = [_list_row(ref, default) for ref in refs]
    columns = [
        "name", "version", "created", "labels", "micro_f1", "current", "metadata", "card",
        "path", "problem",
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns)
    frame.attrs["current_problem"] = problem
    return frame


def _list_row(ref: ModelRef, default: ModelRef | None) -> dict[str, Any]:
    row: dict[str, Any] = {"name": ref.name, "version": ref.version}
    try:
        metadata, status = check_metadata(ref.path)
    except ModelError as error:
        row.update(
            created=None, labels=None, micro_f1=None, metadata=None, card=None, problem=str(error)
        )
    else:
        edited = status == METADATA_EDITED
        # (the card's record is in the metadata: of an edited metadata.json, nothing is known)
        card = None if edited else check_card(ref.path, metadata)
        row.update(
            created=metadata.created,
            labels=len(metadata.labels),
            micro_f1=None if edited else _micro_f1(metadata.metrics),
            metadata=status,
            card=card,
            problem=_EDITED_PROBLEM if edited else _CARD_PROBLEMS.get(card, ""),
        )
    row["current"] = default is not None and default.path == ref.path
    row["path"] = str(ref.path)
    return row


# the problem column of an edited model: the row names the model, which the message need not
_EDITED_PROBLEM = "metadata.json edited after training (restore it or retrain): no figures shown"
# an edited or missing card: the model and its figures are as trained, the prose around them not
_CARD_PROBLEMS = {
    METADATA_EDITED: "README.md (the model card) edited after training: restore it",
    CARD_MISSING: "README.md (the model card) missing: restore it",
}


def _device_f1(metadata: ModelMetadata, device: str) -> float | None:
    per_device = _per_device(metadata.metrics)
    scores = per_device.get(device) if per_device is not None else None
    if not isinstance(scores, dict) or _unseen(scores):
        return None
    return _f1_figure(scores.get("f1"))


def diff(
    a: str,
    b: str,
    root: str | os.PathLike[str] | None = None,
    *,
    warn: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Compare two models device by device (``a`` is "before", ``b`` is "after").

    Columns: ``device, f1_before, f1_after, f1_change, threshold_before, threshold_after,
    change`` where ``change`` is ``"added"``, ``"removed"``, ``"threshold changed"`` or ``""``.
    ``a`` and ``b`` are references or model directories (see :func:`resolve`). The two micro F1
    scores are in ``frame.attrs["micro_f1"]`` as ``(before, after)``, and those of technique
    classification on gold spans (None for a model without a span classifier) in
    ``frame.attrs["tc_micro_f1"]``, how each was cross-validated in ``frame.attrs["cv"]`` and what
    its folds kept whole in ``frame.attrs["grouping"]`` (see :func:`cv_grouping`).
    Every F1 is None where a model has no figure: trained without CV, or a device its CV never
    saw (see :func:`list_models`).

    ``frame.attrs["metadata"]`` holds, for each model, whether its ``metadata.json`` is the one
    saved with it (``"as saved"``, ``"edited"`` or ``"not recorded"``, see
    :func:`proplens.artifacts.check_metadata`). The figures and thresholds of an edited one are
    still compared as its metadata records them (the promotion guard reads this frame), and one
    line per edited model says so: passed to ``warn`` (the CLI prints it on stderr), or logged
    when ``warn`` is None.
    """
    paths = (resolve(a, root), resolve(b, root))
    (before, status_before), (after, status_after) = (check_metadata(path) for path in paths)
    devices = list(before.labels) + [d for d in after.labels if d not in before.labels]
    rows = []
    for device in devices:
        in_before, in_after = device in before.labels, device in after.labels
        f1_before, f1_after = _device_f1(before, device), _device_f1(after, device)
        t_before, t_after = before.thresholds.get(device), after.thresholds.get(device)
        if not in_before:
            change = "added"
        elif not in_after:
            change = "removed"
        elif t_before != t_after:
            change = "threshold changed"
        else:
            change = ""
        both = f1_before is not None and f1_after is not None
        rows.append(
            {
                "device": device,
                "f1_before": f1_before,
                "f1_after": f1_after,
                "f1_change": (f1_after - f1_before) if both else None,
                "threshold_before": t_before if in_before else None,
                "threshold_after": t_after if in_after else None,
                "change": change,
            }
        )
    frame = pd.DataFrame(
        rows,
        columns=[
            "device", "f1_before", "f1_after", "f1_change",
            "threshold_before", "threshold_after", "change",
        ],
    )  # fmt: skip
    frame.attrs["micro_f1"] = (_micro_f1(before.metrics), _micro_f1(after.metrics))
    frame.attrs["tc_micro_f1"] = tuple(_metric(m.metrics, "tc_micro_f1") for m in (before, after))
    # how each model was cross-validated ("5-fold GroupKFold by story"; None without CV)
    frame.attrs["cv"] = tuple(m.metrics.get("cv") for m in (before, after))
    frame.attrs["grouping"] = tuple(cv_grouping(m.metrics) for m in (before, after))
    frame.attrs["metadata"] = (status_before, status_after)
    for path, status in zip(paths, (status_before, status_after), strict=True):
        if status == METADATA_EDITED:
            message = edited_metadata_message(
                path / METADATA_FILENAME, what="the figures and thresholds compared here are"
            )
            if warn is None:
                log.warning("%s", message)
            else:
                warn(message)
    return frame


def resolve(
    ref_or_path: str | os.PathLike[str] | None, root: str | os.PathLike[str] | None = None
) -> Path:
    """Turn what a user typed into a model directory.

    ``None`` -> the default model (:func:`current`); an existing model directory -> itself; a
    model-name folder (``models/ptc-default``) -> its newest version; ``"name[@version]"`` -> the
    registry. Anything else is a :class:`ModelError` listing the available models.
    """
    models_root = _root(root)
    if ref_or_path is None:
        found = current(models_root)
        if found is None:
            raise ModelError(
                f"no model found in {models_root}: train one with `proplens train` "
                "or set PROPLENS_MODELS to a folder holding models"
            )
        return found.path
    candidate = Path(ref_or_path).expanduser()
    if candidate.is_dir():
        if (candidate / METADATA_FILENAME).is_file():
            return candidate
        complete = _complete_versions(candidate.name, candidate.parent)
        if complete:
            return candidate / f"v{complete[-1]}"
        raise ModelError(f"{candidate}: not a model directory (no {METADATA_FILENAME})")
    text = str(ref_or_path)
    looks_like_path = os.sep in text or "/" in text or text.startswith(".")
    if looks_like_path and "@" not in text:
        raise ModelError(f"{candidate}: no such model directory; {_available(models_root)}")
    return parse_ref(text, models_root).path
