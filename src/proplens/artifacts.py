"""Model directories: save atomically, load only after checking every recorded fact.

A model is a self-describing directory, in the spirit of SetFit and skops::

    models/<name>/v<N>/
        model.joblib     the fitted estimator
        metadata.json    format version, labels, thresholds, training-data fingerprint,
                         library versions, metrics, sha256 and size of model.joblib
        README.md        the model card, rendered from metadata.json

:func:`save_model` builds the directory under a temporary sibling name (``.tmp-...``) and renames it
into place only when every file is written and synced, so a crash or a failing estimator never
leaves a half-written model under the final name. :func:`load_model_dir` checks, in order, that the
directory and ``metadata.json`` exist and parse, that the format version is one this proplens can
read, that ``model.joblib`` has the recorded size and sha256, that ``metadata.json`` still matches
the record of it inside ``model.joblib`` (below), and that the hash is trusted; only then does it
unpickle. Once the sentence classifier is unpickled, :func:`check_thresholds` refuses it unless
``metadata.json`` records the thresholds it applies (the sha256 does not cover ``metadata.json``,
and the model card, ``models diff`` and ``/api/model`` show what it records).

Edited metadata
---------------
The sha256 of ``model.joblib`` is recorded in ``metadata.json``, so it cannot cover
``metadata.json`` itself. Instead, :func:`save_model` records :func:`metadata_digest` (the sha256
of ``metadata.json``'s content in canonical form, every key except ``artifact``, which is written
after the joblib file and is checked against that file) *inside* ``model.joblib``, whose sha256 is
checked and trusted. A ``metadata.json`` edited afterwards (a metric, a threshold, the notes)
then no longer matches: loading, :func:`verify_model_dir` (``models use``) and
:func:`trust_model` refuse it with one line, and ``proplens models list`` and ``models diff``
mark it (:func:`check_metadata`). Reformatting or reordering the JSON changes nothing. proplens
never rewrites ``metadata.json`` after saving; a field it ever updates in place has to be left
out of :func:`metadata_digest`, since the record cannot change without changing ``model.joblib``.

The record is the ``metadata_sha256`` entry of the packed bundle (:class:`PackedBundle`), written
before its parts so that :func:`read_metadata_record` finds it in the file's first bytes without
unpickling anything; loading also compares the entry it unpickles. Models saved before the record
existed (and a bare estimator, which is not packed) have none: they load as before, and
:func:`check_metadata` reports them as "not recorded", not as edited. Old readers ignore the
entry, so the format version did not change.

The model card (``README.md``) is recorded the same way, one step further: ``card_sha256`` in
``metadata.json`` (so inside the metadata's record) is :func:`card_digest` of the card without its
closing "Integrity" section, which names ``model.joblib`` and so is written after it.
:func:`check_card` compares them, and ``proplens models list`` marks an edited card. An edited card
changes nothing the model does, so loading does not refuse it. Older readers ignore the key.

Threat model
------------
``joblib.load`` runs arbitrary code from the file, so a model directory is as dangerous as a script.
The trust store guards against *loading a model from somewhere else by accident* (a download, a
colleague's e-mail, a directory copied from another machine): a model loads without ``trust=True``
only if the sha256 of its ``model.joblib`` is listed in a trust file, and the hashes get there only
when this installation wrote the model (:func:`save_model`), when the user says so
(:func:`trust_model`, ``proplens models trust PATH``), or when the model shipped inside the package
(``trusted_models.txt``). The sha256 check also catches corruption and later edits. It is *not* a
defence against someone who can already write to your models root or your Python environment: they
could edit the trust file (or proplens itself). Do not unpack someone else's archive over a models
root, since a ``trusted-sha256.txt`` inside it would be honoured.

Trust files are plain text, one sha256 per line, ``#`` starts a comment:

- ``<models root>/trusted-sha256.txt``, appended to by :func:`save_model` (the models root of
  ``models/<name>/v<N>`` is ``models/``) and by :func:`trust_model` (into
  :func:`proplens.config.models_dir`);
- ``trusted_models.txt`` next to this module, listing the models shipped with proplens.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import pickle
import pickletools
import platform
import re
import shutil
import tempfile
import warnings
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from proplens import config
from proplens._atomic import write_text_atomic
from proplens._gc import collector_paused
from proplens.errors import ModelError

FORMAT_VERSION: int = 2
"""Version of the model directory format written by :func:`save_model`.

Bump it on any change to the keys or meaning of ``metadata.json`` or to the structure of the object
stored in ``model.joblib`` (e.g. a bundle that gains or renames an attribute). When you bump it,
keep the reader for the old version in ``_READERS`` (it upgrades an old metadata dict to the current
shape) and add a test that loads a directory in the old format. A newer version than this one is
refused with a message asking the user to upgrade proplens.

Format 2 stores a bundle (a dict of estimators) as one pickle per entry inside ``model.joblib``
(see :class:`PackedBundle`); format 1 stored the estimators themselves. A format 2 container may
also hold ``metadata_sha256`` (see "Edited metadata" above): an optional entry that readers
ignore when absent, and that older readers ignore altogether.
"""

MODEL_FILENAME = "model.joblib"
METADATA_FILENAME = "metadata.json"
CARD_FILENAME = "README.md"
TRUST_FILENAME = "trusted-sha256.txt"
PACKAGE_TRUST_FILE = Path(__file__).resolve().parent / "trusted_models.txt"

# Libraries whose versions are recorded; the estimator's behaviour depends on them.
_RECORDED_LIBRARIES = ("proplens", "scikit-learn", "numpy", "scipy", "pandas", "joblib")
_SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
_TRUST_FILE_HEADER = (
    "# sha256 of model.joblib files that proplens may load without --trust.\n"
    "# One hash per line; text after '#' is a comment. Written by proplens; see\n"
    "# proplens.artifacts for the threat model.\n"
)
# Terms of the corpora proplens knows about, for the model card (see datasets/README.md).
_KNOWN_TERMS = {
    "semeval2020": (
        "PTC (SemEval-2020 Task 11): research use only; cite Da San Martino et al. 2019."
    ),
    "emnlp2019": "PTC (EMNLP 2019): research use only; cite Da San Martino et al. 2019.",
    "nlp4if2019": "PTC (NLP4IF 2019): research use only; cite Da San Martino et al. 2019.",
    "proplens": "Sentences written for proplens; Apache-2.0 like the project.",
}


class ModelVersionWarning(UserWarning):
    """The model was saved with library versions that differ from the running ones."""


@dataclass
class ModelMetadata:
    """Everything ``metadata.json`` records about a model; see the module docstring.

    ``metrics`` is free-form, but proplens reads two keys from it: ``micro_f1`` (a float, listed
    by ``proplens models list``) and ``per_device`` (``{device: {"f1": ..., "precision": ...,
    "recall": ..., "support": ...}}``, compared by ``proplens models diff``). ``artifact`` is filled
    in by :func:`save_model`. ``parent`` is ``"name@version"`` of the model this one replaces.
    """

    name: str
    version: str
    labels: list[str]
    thresholds: dict[str, float]
    training_data: dict[str, Any] = field(
        default_factory=lambda: {"sources": [], "fingerprint": ""}
    )
    metrics: dict[str, Any] = field(default_factory=dict)
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    library_versions: dict[str, str] = field(default_factory=lambda: current_library_versions())
    artifact: dict[str, Any] = field(default_factory=dict)
    parent: str | None = None
    notes: str = ""
    card_sha256: str | None = None
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with the keys in a fixed, readable order."""
        data = asdict(self)
        order = [
            "format_version", "name", "version", "created", "labels", "thresholds",
            "training_data", "library_versions", "metrics", "artifact", "parent", "notes",
            "card_sha256",
        ]  # fmt: skip
        return {key: data[key] for key in order}

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "metadata") -> ModelMetadata:
        """Validate a parsed ``metadata.json`` and build the dataclass.

        Old format versions are upgraded by their reader first. Raises :class:`ModelError` naming
        ``source`` and the offending key.
        """
        if not isinstance(data, dict):
            raise ModelError(f"{source}: expected a JSON object, got {type(data).__name__}")
        format_version = data.get("format_version")
        if not isinstance(format_version, int) or isinstance(format_version, bool):
            raise ModelError(f"{source}: 'format_version' is missing or not an integer")
        if format_version > FORMAT_VERSION:
            raise ModelError(
                f"{source}: model format {format_version} is newer than this proplens supports; "
                f"upgrade proplens (it reads formats up to {FORMAT_VERSION})"
            )
        reader = _READERS.get(format_version)
        if reader is None:
            raise ModelError(f"{source}: unknown model format {format_version}")
        data = reader(dict(data))
        for key, expected in _FIELD_TYPES.items():
            if key not in data:
                raise ModelError(f"{source}: missing required key '{key}'")
            if not _has_type(data[key], expected):
                raise ModelError(
                    f"{source}: key '{key}' should be {_type_name(expected)}, "
                    f"got {type(data[key]).__name__}"
                )
        _check_nested(data, source)
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    @property
    def ref(self) -> str:
        """``name@version``, the form used by the registry and the CLI."""
        return f"{self.name}@{self.version}"


# key -> accepted type(s); None inside a tuple means JSON null is allowed.
_FIELD_TYPES: dict[str, Any] = {
    "format_version": int,
    "name": str,
    "version": str,
    "created": str,
    "labels": list,
    "thresholds": dict,
    "training_data": dict,
    "library_versions": dict,
    "metrics": dict,
    "artifact": dict,
    "parent": (str, type(None)),
    "notes": str,
}


def _has_type(value: Any, expected: Any) -> bool:
    if isinstance(value, bool) and expected in (int, float):
        return False
    return isinstance(value, expected)


def _type_name(expected: Any) -> str:
    if isinstance(expected, tuple):
        return " or ".join("null" if t is type(None) else t.__name__ for t in expected)
    return expected.__name__


def _check_nested(data: dict[str, Any], source: str) -> None:
    """Type checks below the top level, for the keys other modules read."""
    if not all(isinstance(label, str) for label in data["labels"]):
        raise ModelError(f"{source}: 'labels' should be a list of device names (strings)")
    for device, threshold in data["thresholds"].items():
        if not isinstance(threshold, int | float) or isinstance(threshold, bool):
            raise ModelError(f"{source}: 'thresholds.{device}' should be a number")
    sources = data["training_data"].get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(s, dict) for s in sources):
        raise ModelError(f"{source}: 'training_data.sources' should be a list of objects")
    for library, version in data["library_versions"].items():
        if not isinstance(version, str):
            raise ModelError(f"{source}: 'library_versions.{library}' should be a string")


def _read_format_1(data: dict[str, Any]) -> dict[str, Any]:
    """Format 1 has the metadata of format 2 (only ``model.joblib``'s layout differs, and
    :func:`load_model_dir` reads both layouts)."""
    return data


def _read_format_2(data: dict[str, Any]) -> dict[str, Any]:
    """Format 2 is the current format: nothing to upgrade."""
    return data


# format version -> function turning a metadata dict of that version into the current shape.
_READERS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    1: _read_format_1,
    2: _read_format_2,
}

_PACKED_MARKER = "proplens-packed-bundle"
METADATA_RECORD_KEY = "metadata_sha256"
"""The entry of a packed bundle that records :func:`metadata_digest` of its ``metadata.json``."""
# the record sits in the first ~150 bytes of the file (see read_metadata_record)
_RECORD_HEAD_BYTES = 4096
# opcodes of the container's head other than its strings: the protocol, framing, the dict, memo
_CONTAINER_OPCODES = frozenset(
    {"PROTO", "FRAME", "EMPTY_DICT", "MARK", "MEMOIZE", "BINPUT", "LONG_BINPUT", "PUT"}
)

METADATA_AS_SAVED = "as saved"
METADATA_EDITED = "edited"
METADATA_NOT_RECORDED = "not recorded"


def metadata_digest(data: Mapping[str, Any]) -> str:
    """The sha256 that :func:`save_model` records in ``model.joblib`` for ``metadata.json``.

    ``data`` is the parsed ``metadata.json``. Every key counts except ``artifact`` (the record of
    ``model.joblib`` itself, written after it and checked against it); the JSON is canonical
    (keys sorted, no whitespace, UTF-8), so reformatting or reordering the file changes nothing,
    while any changed value, added or removed key does.
    """
    content = {key: value for key, value in data.items() if key != "artifact"}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_metadata_record(model_path: str | os.PathLike[str]) -> str | None:
    """The :func:`metadata_digest` that :func:`save_model` recorded in ``model_path``, or None.

    Reads only the file's first bytes and walks their pickle opcodes without executing any
    (``pickletools.genops``), so it is safe on an untrusted file and costs no unpickling. None
    for a file without a record: saved before records existed, a bare estimator, format 1, a
    missing or unreadable file. It does not check the file's sha256 (loading does).
    """
    try:
        with open(model_path, "rb") as handle:
            head = handle.read(_RECORD_HEAD_BYTES)
    except OSError:
        return None
    strings: list[str] = []
    try:
        for opcode, arg, _ in pickletools.genops(io.BytesIO(head)):
            if opcode.name in _CONTAINER_OPCODES:
                continue
            if not isinstance(arg, str) or "UNICODE" not in opcode.name:
                return None  # not the container save_model writes
            strings.append(arg)
            if arg == "parts" and len(strings) % 2 == 1:
                break  # the parts are last: the record, if any, came before
        else:
            return None
    except Exception:  # not a pickle (a compressed bare estimator), or cut short
        return None
    entries = dict(zip(strings[0::2], strings[1::2], strict=False))
    record = entries.get(METADATA_RECORD_KEY)
    if entries.get("marker") != _PACKED_MARKER or not isinstance(record, str):
        return None
    return record if _SHA256_PATTERN.match(record) else None


def edited_metadata_message(
    metadata_path: Path,
    model_filename: str = MODEL_FILENAME,
    *,
    what: str = "its thresholds, metrics and notes are",
) -> str:
    """The one line for a ``metadata.json`` that no longer matches its record; ``what`` says
    which of its contents the reader is about to rely on."""
    return (
        f"{metadata_path}: edited after the model was trained (it no longer matches the record "
        f"of it in {model_filename}), so {what} not the training run's; restore the "
        "metadata.json saved with the model, or retrain"
    )


class PackedBundle(Mapping):
    """A read-only bundle of estimators, each unpickled the first time it is looked up.

    ``joblib.load`` unpickles with a Python-level unpickler (so that it can memory-map arrays),
    which takes ~0.6 s for a vocabulary-heavy model; the C unpickler reads the same object in a
    tenth of that. So :func:`save_model` pickles each entry of a dict bundle to zlib-compressed
    bytes inside the joblib file, and loading decompresses and unpickles an entry only when it is
    used: ``proplens score`` never pays for the span classifier. The bytes are covered by the
    file's sha256 and trust check like everything else in it.
    """

    def __init__(self, parts: dict[str, bytes], *, check: Callable[[str, Any], None] | None = None):
        self._parts = dict(parts)
        self._loaded: dict[str, Any] = {}
        self._check = check  # called with each part once unpickled; raises to refuse it

    @classmethod
    def pack(
        cls, bundle: Mapping[str, Any], *, metadata_sha256: str | None = None
    ) -> dict[str, Any]:
        """What :func:`save_model` writes for a dict bundle.

        ``metadata_sha256`` (:func:`metadata_digest` of the model's metadata) is stored before
        the parts, where :func:`read_metadata_record` reads it from the file's first bytes.
        """
        packed: dict[str, Any] = {"marker": _PACKED_MARKER}
        if metadata_sha256 is not None:
            packed[METADATA_RECORD_KEY] = metadata_sha256
        # level 3: vocabularies compress ~2x; higher levels barely shrink them further
        packed["parts"] = {
            str(k): zlib.compress(pickle.dumps(v, protocol=5), 3) for k, v in bundle.items()
        }
        return packed

    @staticmethod
    def is_packed(obj: Any) -> bool:
        return isinstance(obj, dict) and obj.get("marker") == _PACKED_MARKER

    def __getitem__(self, key: str) -> Any:
        if key not in self._loaded:
            part = self._parts[key]
            try:
                with collector_paused():  # an estimator is thousands of objects that all stay
                    loaded = pickle.loads(zlib.decompress(part))
            except Exception as error:
                raise ModelError(
                    f"the model's {key!r} part cannot be unpickled: "
                    f"{type(error).__name__}: {_one_line(error)}"
                ) from None
            if self._check is not None:
                self._check(key, loaded)  # a refused part is not kept: every use refuses it
            self._loaded[key] = loaded
        return self._loaded[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._parts)

    def __len__(self) -> int:
        return len(self._parts)

    def __repr__(self) -> str:
        return f"PackedBundle({', '.join(self._parts)})"


def current_library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries a saved model depends on."""
    versions = {"python": platform.python_version()}
    for library in _RECORDED_LIBRARIES:
        try:
            versions[library] = installed_version(library)
        except PackageNotFoundError:
            versions[library] = "not installed"
    return versions


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in chunks so large models do not load into memory twice."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# Columns that identify a training example and its labels (sentence table and span table).
_FINGERPRINT_COLUMNS = ("document_id", "sentence_index", "start", "end", "devices", "device")


def fingerprint_frame(df: pd.DataFrame) -> str:
    """A stable sha256 of a training table: which documents, which offsets, which labels.

    Works on the sentence table (``devices`` lists) and on the span table (``device``). Row order
    and the order of devices within a row do not matter; text does not enter the hash (it is fixed
    by the document id and offsets), so the fingerprint can be published without the corpus.
    """
    columns = [column for column in _FINGERPRINT_COLUMNS if column in df.columns]
    if "document_id" not in columns:
        raise ModelError("cannot fingerprint a training table without a 'document_id' column")
    rows = []
    for values in df[columns].itertuples(index=False, name=None):
        row = []
        for column, value in zip(columns, values, strict=True):
            if column == "devices":
                row.append(sorted(str(device) for device in value))
            elif column in ("sentence_index", "start", "end"):
                row.append(int(value))
            else:
                row.append(str(value))
        rows.append(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
    digest = hashlib.sha256()
    digest.update(json.dumps(columns).encode())
    for line in sorted(rows):
        digest.update(b"\n")
        digest.update(line.encode("utf-8"))
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Model card


def render_model_card(metadata: ModelMetadata) -> str:
    """The human-readable model card (``README.md``) for a model, as Markdown."""
    lines = [
        f"# {metadata.name} {metadata.version}",
        "",
        f"A proplens model created {metadata.created}"
        + (
            f", compared with `{metadata.parent}` (the default when it was trained)."
            if metadata.parent
            else "."
        ),
        "It labels English news sentences with propaganda and rhetorical devices using TF-IDF "
        "features and linear scikit-learn models, and points at the words behind each label.",
        "",
        "## Intended use",
        "",
        "A reading aid for researchers, journalists, teachers and students: it highlights "
        "sentences that may use a rhetorical device, so that a person can look more closely.",
        "",
        "## What it is not for",
        "",
        "- Deciding whether a text is true, or whether a source, author, party or country is "
        "trustworthy. Devices appear in honest and dishonest writing alike.",
        "- Automated moderation, ranking or any decision about a person without human review.",
        "- Text unlike its training data: non-English text, social media posts, memes, "
        "transcripts.",
        "- Comparing outlets or sides: the training articles are not a balanced sample of either.",
        "",
        "## Labels and thresholds",
        "",
        "| device | threshold |",
        "|---|---|",
    ]
    for label in metadata.labels:
        threshold = metadata.thresholds.get(label)
        lines.append(f"| {label} | {_format_number(threshold)} |")
    extra_thresholds = sorted(set(metadata.thresholds) - set(metadata.labels))
    for key in extra_thresholds:
        lines.append(f"| {key} | {_format_number(metadata.thresholds[key])} |")
    lines += ["", *_render_metrics(metadata.metrics), "", *_render_training_data(metadata)]
    lines += ["", "## Library versions", "", "| library | version |", "|---|---|"]
    lines += [f"| {lib} | {ver} |" for lib, ver in metadata.library_versions.items()]
    lines += ["", *_render_reproduce(metadata)]
    if metadata.notes:
        lines += ["", "## Notes", "", metadata.notes]
    return "\n".join(lines) + "\n" + _integrity_section(metadata.artifact)


def _integrity_section(artifact: Mapping[str, Any]) -> str:
    """The card's last section, on ``model.joblib`` (empty before the file is written)."""
    if not artifact:
        return ""
    return (
        "\n## Integrity\n\n"
        f"`{artifact.get('file', MODEL_FILENAME)}`: {artifact.get('bytes', '?')} bytes, "
        f"sha256 `{artifact.get('sha256', '?')}`. proplens refuses to load the file if either "
        "differs, and loads it without `--trust` only if the hash is in a trust file.\n"
    )


def card_digest(card: str, artifact: Mapping[str, Any] | None = None) -> str:
    """The sha256 that :func:`save_model` records in ``metadata.json`` (``card_sha256``) for the
    model card ``card``: of its text without the closing "Integrity" section that ``artifact``
    renders (written after the record, from ``model.joblib``, which is checked on its own), with
    Windows line ends read as Unix ones (a checkout may convert them)."""
    text = card.replace("\r\n", "\n")
    tail = _integrity_section(artifact or {})
    if tail and text.endswith(tail):
        text = text[: -len(tail)]
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _format_number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "" if value is None else str(value)


def _render_metrics(metrics: dict[str, Any]) -> list[str]:
    lines = ["## Metrics", ""]
    if not metrics:
        return [*lines, "No metrics were recorded for this model."]
    scalars = {k: v for k, v in metrics.items() if not isinstance(v, dict | list)}
    if scalars:
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {key} | {_format_number(value)} |" for key, value in scalars.items()]
    per_device = metrics.get("per_device")
    if isinstance(per_device, dict) and per_device:
        columns = sorted({key for scores in per_device.values() for key in scores})
        preferred = [c for c in ("precision", "recall", "f1", "support") if c in columns]
        columns = preferred + [c for c in columns if c not in preferred]
        lines += ["", "Per device:", "", "| device | " + " | ".join(columns) + " |"]
        lines.append("|---" * (len(columns) + 1) + "|")
        for device, scores in per_device.items():
            cells = [_format_number(scores.get(column)) for column in columns]
            lines.append(f"| {device} | " + " | ".join(cells) + " |")
    return lines


def _render_training_data(metadata: ModelMetadata) -> list[str]:
    training = metadata.training_data
    sources = training.get("sources", [])
    lines = ["## Training data", ""]
    if not sources:
        return [*lines, "No training data was recorded for this model."]
    lines += ["| source | documents | sentences | fingerprint |", "|---|---|---|---|"]
    for source in sources:
        fingerprint = str(source.get("fingerprint", ""))[:12]
        lines.append(
            f"| {source.get('name', '?')} | {source.get('documents', '')} | "
            f"{source.get('sentences', '')} | `{fingerprint}` |"
        )
    if training.get("fingerprint"):
        lines += ["", f"Combined fingerprint: `{training['fingerprint']}`."]
    lines += ["", "Terms of the training data (the model inherits them):", ""]
    for source in sources:
        name = str(source.get("name", "?"))
        terms = source.get("terms") or _KNOWN_TERMS.get(name)
        terms = terms or "not recorded; check the source's licence before any non-research use."
        lines.append(f"- {name}: {terms}")
    return lines


def _render_reproduce(metadata: ModelMetadata) -> list[str]:
    # proplens is on no package index: it is installed from a checkout of its repository, at the
    # commit the model records; the other libraries are pinned to the versions it was saved with
    pins = [
        f"{lib}=={ver}"
        for lib, ver in metadata.library_versions.items()
        if lib not in ("python", "proplens") and ver != "not installed"
    ]
    python = metadata.library_versions.get("python", "?")
    version = metadata.library_versions.get("proplens", "?")
    commit = metadata.training_data.get("source_commit")
    if commit:
        source = f"The model was trained from commit `{commit}` (proplens {version})"
        if metadata.training_data.get("source_modified"):
            source += (
                " with uncommitted changes in the checkout, so that commit alone may not give "
                "the same model"
            )
        intro = f"{source}. In a clone, use Python {python} and run:"
        steps = [f"git checkout {commit}"]
    else:
        intro = (
            f"This model records no git commit: use the checkout of proplens {version} that "
            f"trained it, with Python {python}, and run in it:"
        )
        steps = []
    lines = [
        "## How to reproduce",
        "",
        "proplens is not published on a package index: install it from a checkout of the "
        f"project's repository. {intro}",
        "",
        "```",
        *steps,
        " ".join(["pip install -e .", *pins]),
        "```",
        "",
    ]
    command = metadata.training_data.get("command")
    if command:
        lines += ["Then train with:", "", "```", str(command), "```", ""]
    lines.append(
        "The training-data fingerprints above identify each source: the sha256 of a label file "
        "as given, and `proplens.artifacts.fingerprint_frame` of the tables read from the corpus "
        "and the project's labels; matching fingerprints mean the same documents, offsets and "
        "labels."
    )
    return lines


# --------------------------------------------------------------------------------------------
# Saving


def save_model(
    estimator: object,
    metadata: ModelMetadata | dict[str, Any],
    directory: str | os.PathLike[str],
    *,
    card: str | None = None,
) -> Path:
    """Write ``estimator`` and its metadata as a new model directory, atomically.

    Everything is written into a temporary sibling directory (``.tmp-<name>-...``), synced to
    disk, and renamed to ``directory`` only at the end; on any error the temporary directory is
    removed and the error re-raised, so no half-written model ever exists under the final name.
    ``metadata.artifact`` is filled in here. ``card`` replaces the rendered model card. The hash
    of ``model.joblib`` is added to the trust file of the models root (``directory``'s
    grandparent). A dict bundle also records :func:`metadata_digest` of the metadata inside
    ``model.joblib``, so that a later edit of ``metadata.json`` is detected (see the module
    docstring). Refuses to overwrite an existing directory. Returns ``directory``.
    """
    directory = Path(directory)
    meta = _coerce_metadata(metadata, directory)
    if directory.exists():
        raise ModelError(f"{directory}: already exists; model directories are never overwritten")
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        temporary = Path(tempfile.mkdtemp(prefix=f".tmp-{directory.name}-", dir=directory.parent))
    except OSError as error:
        raise ModelError(
            f"{directory.parent}: cannot write a model there ({error.strerror or error})"
        ) from None
    try:
        model_path = temporary / MODEL_FILENAME
        # The card is recorded in the metadata (so in the metadata's record in model.joblib)
        # before that file exists; its Integrity section, which names the file, comes after.
        meta.artifact = {}
        card_body = card if card is not None else render_model_card(meta)
        meta.card_sha256 = card_digest(card_body)
        # artifact is not in the digest: it describes the file the digest is written into
        digest = metadata_digest(json.loads(json.dumps(meta.to_dict(), ensure_ascii=False)))
        with open(model_path, "wb") as handle:
            if isinstance(estimator, Mapping):
                # compressed part by part (see PackedBundle), so the container is not compressed
                joblib.dump(PackedBundle.pack(estimator, metadata_sha256=digest), handle)
            else:
                # zlib level 3 halves the file (vocabularies compress well)
                joblib.dump(estimator, handle, compress=("zlib", 3))
            handle.flush()
            os.fsync(handle.fileno())
        meta.artifact = {
            "file": MODEL_FILENAME,
            "sha256": file_sha256(model_path),
            "bytes": model_path.stat().st_size,
        }
        metadata_text = json.dumps(meta.to_dict(), indent=2, ensure_ascii=False) + "\n"
        _write_synced(temporary / METADATA_FILENAME, metadata_text)
        _write_synced(
            temporary / CARD_FILENAME,
            card if card is not None else card_body + _integrity_section(meta.artifact),
        )
        _fsync_directory(temporary)
        # Trust before the rename, so a model that exists under its final name always loads; a
        # hash left behind by a failed rename names no file and is harmless.
        _add_to_trust_file(
            directory.parent.parent / TRUST_FILENAME,
            meta.artifact["sha256"],
            f"{meta.ref} saved {meta.created}",
        )
        if directory.exists():  # created by someone else while we were writing
            raise ModelError(
                f"{directory}: already exists; model directories are never overwritten"
            )
        os.rename(temporary, directory)
    except BaseException as error:
        shutil.rmtree(temporary, ignore_errors=True)
        if not isinstance(error, OSError):
            raise
        if directory.exists():  # a run that saved the same version won the race to the rename
            raise ModelError(
                f"{directory}: already exists; model directories are never overwritten"
            ) from None
        raise ModelError(
            f"{directory}: cannot write the model ({error.strerror or error})"
        ) from None
    _fsync_directory(directory.parent)
    return directory


def _coerce_metadata(metadata: ModelMetadata | dict[str, Any], directory: Path) -> ModelMetadata:
    """Accept a dataclass or a partial dict; fill what save_model computes; validate.

    In the registry layout ``<name>/v<N>``, a dict without ``name``/``version`` takes them from
    the path, and metadata that names another model is refused: ``proplens models list`` would
    otherwise show one model under another's name.
    """
    in_layout = re.fullmatch(r"v[0-9]+", directory.name) is not None
    if isinstance(metadata, ModelMetadata):
        data = metadata.to_dict()
    elif isinstance(metadata, dict):
        defaults = {
            "format_version": FORMAT_VERSION,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "training_data": {"sources": [], "fingerprint": ""},
            "library_versions": current_library_versions(),
            "metrics": {},
            "artifact": {},
            "parent": None,
            "notes": "",
        }
        if in_layout:
            defaults.update(name=directory.parent.name, version=directory.name)
        data = {**defaults, **metadata}
    else:
        raise TypeError(f"metadata must be ModelMetadata or dict, not {type(metadata).__name__}")
    # A model is always written in the current format, with the running library versions.
    data["format_version"] = FORMAT_VERSION
    data["library_versions"] = current_library_versions()
    meta = ModelMetadata.from_dict(data, source="model metadata")
    if in_layout and (meta.name, meta.version) != (directory.parent.name, directory.name):
        raise ModelError(
            f"{directory}: metadata names {meta.ref} but the directory is "
            f"{directory.parent.name}/{directory.name}; make them agree"
        )
    return meta


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_directory(path: Path) -> None:
    """Persist a rename or a new entry in ``path`` (a no-op where directories cannot be opened)."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


# --------------------------------------------------------------------------------------------
# Trust store


def read_trust_file(path: str | os.PathLike[str]) -> set[str]:
    """The sha256 hashes listed in a trust file (empty if the file does not exist)."""
    path = Path(path)
    if not path.is_file():
        return set()
    hashes = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        token = line.split("#", 1)[0].strip().lower()
        if _SHA256_PATTERN.match(token):
            hashes.add(token)
    return hashes


def trust_files_for(directory: str | os.PathLike[str]) -> list[Path]:
    """The trust files consulted when loading ``directory``, most specific first."""
    directory = Path(directory)
    candidates = [
        directory.parent.parent / TRUST_FILENAME,
        config.models_dir() / TRUST_FILENAME,
        PACKAGE_TRUST_FILE,
    ]
    unique: list[Path] = []
    for candidate in candidates:
        if candidate not in unique:
            unique.append(candidate)
    return unique


def is_trusted(directory: str | os.PathLike[str], sha256: str) -> bool:
    """Whether ``sha256`` is listed in any trust file that applies to ``directory``."""
    return any(sha256 in read_trust_file(path) for path in trust_files_for(directory))


def trust_model(directory: str | os.PathLike[str]) -> str:
    """Add a model's ``model.joblib`` hash to the trust file of :func:`proplens.config.models_dir`.

    The directory is verified first (metadata, size, sha256, the record of ``metadata.json``), so
    only an intact model can be trusted. Does not unpickle anything. Returns the hash. Backs
    ``proplens models trust PATH``.
    """
    directory = Path(directory)
    metadata = _verify_directory(directory)[0]
    sha256 = metadata.artifact["sha256"]
    _add_to_trust_file(
        config.models_dir() / TRUST_FILENAME,
        sha256,
        f"{metadata.ref} trusted by the user from {directory.name}",
    )
    return sha256


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialize read-modify-write of ``path`` between processes (POSIX advisory lock)."""
    try:
        import fcntl
    except ImportError:  # Windows: fall back to last-writer-wins, still atomic per write
        yield
        return
    lock_path = path.with_name(f".{path.name}.lock")
    with open(lock_path, "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _add_to_trust_file(path: Path, sha256: str, comment: str) -> None:
    """Append ``sha256`` to a trust file atomically (temporary file + ``os.replace``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    comment = " ".join(comment.split())  # one line, whatever the model name holds
    with _locked(path):
        existing = path.read_text(encoding="utf-8") if path.is_file() else _TRUST_FILE_HEADER
        if sha256 in read_trust_file(path):
            return
        if existing and not existing.endswith("\n"):
            existing += "\n"
        write_text_atomic(path, f"{existing}{sha256}  # {comment}\n", newline="\n")


# --------------------------------------------------------------------------------------------
# Loading


def read_metadata(directory: str | os.PathLike[str]) -> ModelMetadata:
    """Read and validate ``metadata.json`` of a model directory (does not touch the joblib)."""
    return _read_metadata(Path(directory))[0]


def _read_metadata(directory: Path) -> tuple[ModelMetadata, str]:
    """:func:`read_metadata` and the :func:`metadata_digest` of the file as it is."""
    if not directory.is_dir():
        raise ModelError(f"{directory}: no such model directory")
    metadata_path = directory / METADATA_FILENAME
    if not metadata_path.is_file():
        raise ModelError(f"{metadata_path}: missing; this is not a proplens model directory")
    try:
        data = json.loads(metadata_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelError(f"{metadata_path}: not valid JSON ({_one_line(error)})") from None
    metadata = ModelMetadata.from_dict(data, source=str(metadata_path))
    return metadata, metadata_digest(data)


def check_metadata(directory: str | os.PathLike[str]) -> tuple[ModelMetadata, str]:
    """:func:`read_metadata`, and whether ``metadata.json`` is the one saved with the model.

    The second item is :data:`METADATA_AS_SAVED` (it matches the record inside
    ``model.joblib``), :data:`METADATA_EDITED` (it does not: see :func:`edited_metadata_message`)
    or :data:`METADATA_NOT_RECORDED` (the model has no record: saved before records existed, or
    ``model.joblib`` is missing). Cheap: reads the first bytes of ``model.joblib``, never
    unpickles or hashes it (loading and :func:`verify_model_dir` check the file itself). Raises
    :class:`ModelError` as :func:`read_metadata` does.
    """
    directory = Path(directory)
    metadata, digest = _read_metadata(directory)
    filename = metadata.artifact.get("file", MODEL_FILENAME)
    if not _is_file_name(filename):
        return metadata, METADATA_NOT_RECORDED  # verify_model_dir says what is wrong with it
    record = read_metadata_record(directory / filename)
    if record is None:
        return metadata, METADATA_NOT_RECORDED
    return metadata, METADATA_AS_SAVED if record == digest else METADATA_EDITED


CARD_MISSING = "missing"


def check_card(directory: str | os.PathLike[str], metadata: ModelMetadata | None = None) -> str:
    """Whether a model's card (``README.md``) is the one saved with it.

    :data:`METADATA_AS_SAVED` when it matches ``card_sha256`` of ``metadata.json`` (see
    :func:`card_digest`), :data:`METADATA_EDITED` when it does not, :data:`CARD_MISSING` when
    there is no readable card, :data:`METADATA_NOT_RECORDED` for a model saved before proplens
    recorded its card. The record is only as good as ``metadata.json``, which
    :func:`check_metadata` checks; ``metadata`` passes it when the caller has read it already.
    A card is prose for people: an edited one changes nothing the model does, but its figures
    may not be the training run's.
    """
    directory = Path(directory)
    if metadata is None:
        metadata = read_metadata(directory)
    record = metadata.card_sha256
    if not isinstance(record, str):
        return METADATA_NOT_RECORDED
    try:
        text = (directory / CARD_FILENAME).read_bytes().decode("utf-8")
    except OSError:
        return CARD_MISSING
    except UnicodeDecodeError:  # proplens writes UTF-8
        return METADATA_EDITED
    return METADATA_AS_SAVED if card_digest(text, metadata.artifact) == record else METADATA_EDITED


def _is_file_name(filename: Any) -> bool:
    """Whether ``artifact.file`` is a plain file name (no path that leaves the directory)."""
    return (
        isinstance(filename, str)
        and filename not in ("", ".", "..")
        and Path(filename).name == filename
    )


def verify_model_dir(directory: str | os.PathLike[str]) -> ModelMetadata:
    """Check a model directory as loading it would, without unpickling it or asking for trust:
    its metadata, its artifact record, the file's size and sha256, and that ``metadata.json``
    matches the record of it in the file, if there is one. Raises :class:`ModelError`."""
    return _verify_directory(Path(directory))[0]


def _verify_directory(directory: Path) -> tuple[ModelMetadata, Path, str]:
    """Every check except trust: metadata, artifact record, file size and sha256, metadata record.

    Returns the metadata, the path of the model file and the metadata's digest."""
    metadata, digest = _read_metadata(directory)
    artifact = metadata.artifact
    source = directory / METADATA_FILENAME
    filename = artifact.get("file")
    if not _is_file_name(filename):
        raise ModelError(f"{source}: 'artifact.file' should be a file name such as model.joblib")
    sha256 = artifact.get("sha256")
    if not isinstance(sha256, str) or not _SHA256_PATTERN.match(sha256):
        raise ModelError(f"{source}: 'artifact.sha256' should be 64 lowercase hex digits")
    size = artifact.get("bytes")
    if not isinstance(size, int) or isinstance(size, bool):
        raise ModelError(f"{source}: 'artifact.bytes' should be an integer")
    model_path = directory / filename
    if not model_path.is_file():
        raise ModelError(f"{model_path}: missing; the model directory is incomplete")
    actual_size = model_path.stat().st_size
    if actual_size != size:
        raise ModelError(
            f"{model_path}: is {actual_size} bytes but metadata.json records {size}: "
            "the file is corrupted or was modified"
        )
    if file_sha256(model_path) != sha256:
        raise ModelError(
            f"{model_path}: model.joblib does not match its recorded sha256: "
            "the file is corrupted or was modified"
        )
    record = read_metadata_record(model_path)
    if record is not None and record != digest:
        raise ModelError(edited_metadata_message(source, filename))
    return metadata, model_path, digest


THRESHOLD_PART = "sentences"
"""The bundle part whose ``thresholds_`` are recorded in ``metadata.json``."""

# proplens.training records each threshold rounded to 6 decimals; JSON keeps a float exactly, so
# the tolerance only absorbs arithmetic noise.
_RECORDED_DECIMALS = 6
_THRESHOLD_TOLERANCE = 1e-9


def check_thresholds(
    estimator: Any, metadata: ModelMetadata, source: str | os.PathLike[str] = METADATA_FILENAME
) -> None:
    """Refuse a fitted classifier whose thresholds are not those ``metadata`` records.

    Scoring applies the classifier's ``thresholds_``; the model card, ``proplens models diff``
    and ``GET /api/model`` show ``metadata.thresholds``. Both must name the same devices, and each
    recorded value must equal the applied one, or its rounding to 6 decimals as ``proplens
    train`` records it, within 1e-9. Raises a one-line :class:`ModelError` naming ``source``, the
    first device that differs and both values. An estimator without ``thresholds_`` applies no
    thresholds: there is nothing to compare.
    """
    applied = getattr(estimator, "thresholds_", None)
    if not isinstance(applied, Mapping):
        return
    recorded = metadata.thresholds
    for device in [*recorded, *(name for name in applied if name not in recorded)]:
        if device not in applied:
            raise ModelError(
                f"{source}: records thresholds.{device} = {recorded[device]:.10g} but the model "
                "has no such label; metadata.json does not describe this model.joblib"
            )
        used = float(applied[device])
        if device not in recorded:
            raise ModelError(
                f"{source}: records no threshold for {device} but the model applies "
                f"{used:.10g}; metadata.json does not describe this model.joblib"
            )
        value = recorded[device]
        if not any(
            abs(value - candidate) <= _THRESHOLD_TOLERANCE
            for candidate in (used, round(used, _RECORDED_DECIMALS))
        ):
            raise ModelError(
                f"{source}: thresholds.{device} is {value:.10g} but the model applies "
                f"{used:.10g}; metadata.json was edited or belongs to another model.joblib "
                "(to change a threshold, pass --threshold when scoring, or retrain)"
            )


def _check_part(key: str, part: Any, *, metadata: ModelMetadata, source: Path) -> None:
    if key == THRESHOLD_PART:
        check_thresholds(part, metadata, source)


def load_model_dir(
    directory: str | os.PathLike[str], *, trust: bool = False
) -> tuple[object, ModelMetadata]:
    """Load a model directory after checking it, and return ``(estimator, metadata)``.

    Checks, in this order, before anything is unpickled: the directory and ``metadata.json``
    exist and are valid; the format version is readable; ``model.joblib`` exists with the recorded
    size and sha256; ``metadata.json`` matches the record of it inside ``model.joblib``, if the
    model has one (it does not when edited since saving: see the module docstring; the record the
    container unpickles is compared too); the hash is in a trust file (skipped with
    ``trust=True``, which you should pass only for a model whose source you trust: unpickling can
    run arbitrary code). Warns with :class:`ModelVersionWarning` when the model was saved with
    another scikit-learn minor version. Once the sentence classifier (:data:`THRESHOLD_PART`) is
    unpickled (for a bundle, on its first use: a part never used is never unpickled),
    :func:`check_thresholds` refuses it unless ``metadata.json`` records the thresholds it
    applies.
    """
    directory = Path(directory)
    metadata, model_path, digest = _verify_directory(directory)
    if not trust and not is_trusted(directory, metadata.artifact["sha256"]):
        raise ModelError(
            f"{directory}: was not produced by this proplens installation; pass --trust "
            "(trust=True) only if you trust its source: "
            "loading a joblib file can run arbitrary code"
        )
    mismatch = _library_mismatch(metadata.library_versions)
    if mismatch:
        warnings.warn(f"{directory}: {mismatch}", ModelVersionWarning, stacklevel=2)
    metadata_path = directory / METADATA_FILENAME
    # a partial of a module-level function, not a closure: a loaded model is pickled to the
    # worker processes of score-corpus, and its bundle's check with it
    check_part = functools.partial(_check_part, metadata=metadata, source=metadata_path)
    record = None  # the metadata record the unpickled container holds, if any
    try:
        with collector_paused():
            estimator = joblib.load(model_path)
        if PackedBundle.is_packed(estimator):
            record = estimator.get(METADATA_RECORD_KEY)
            # checked when the part is first used: unpickling it here would undo the laziness
            estimator = PackedBundle(estimator["parts"], check=check_part)
    except Exception as error:
        hint = f" ({mismatch})" if mismatch else ""
        raise ModelError(
            f"{model_path}: cannot be unpickled: {type(error).__name__}: {_one_line(error)}{hint}"
        ) from None
    if record is not None and record != digest:  # read_metadata_record did not find it
        raise ModelError(edited_metadata_message(metadata_path, model_path.name))
    if not isinstance(estimator, PackedBundle):  # unpickled whole (format 1, a bare estimator)
        part = estimator.get(THRESHOLD_PART) if isinstance(estimator, Mapping) else estimator
        check_thresholds(part, metadata, metadata_path)
    return estimator, metadata


def _minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])


def _library_mismatch(recorded: dict[str, str]) -> str:
    """A one-line description of library differences that can change a loaded model, or ''."""
    running = current_library_versions()
    saved = recorded.get("scikit-learn")
    now = running.get("scikit-learn")
    if saved and now and _minor(saved) != _minor(now):
        return (
            f"saved with scikit-learn {saved} but {now} is installed; predictions may differ: "
            f"retrain the model or install scikit-learn=={saved}"
        )
    saved_numpy, now_numpy = recorded.get("numpy"), running.get("numpy")
    if saved_numpy and now_numpy and saved_numpy.split(".")[0] != now_numpy.split(".")[0]:
        return f"saved with numpy {saved_numpy} but {now_numpy} is installed"
    return ""


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
