"""New labels in: read every supported label format, validate it, and bring it to one shape.

Labels arrive in three forms (``docs/retraining.md`` has examples of each):

- **sentence labels**: a CSV/TSV with ``text`` and ``devices`` columns, or JSONL objects with
  ``"text"`` and ``"devices"``; optional ``document_id`` (sentences of one document, in order) and
  ``annotated`` (the devices the row was judged for). In a CSV, ``devices`` holds device names
  separated by ``;``, ``none`` for "judged, no device", and an empty cell for "not labeled yet"
  (the row is skipped). Optional ``sentence_index``, ``start`` and ``end`` (what ``proplens
  suggest`` writes) say where the sentence is in its document: it keeps that position, and a
  sentence found there in a document of the corpus folder is that document's sentence.
- **stand-off labels** against a folder of documents: rows of ``document_id`` (or ``path``),
  ``start``, ``end``, ``device``. Without a ``label`` column a row is a span: every sentence of a
  mentioned document is labeled for the devices of the file, positive where a span overlaps it.
  With a ``label`` column (0/1) a row labels one whole sentence (``datasets/labels/README.md``).
- **Label Studio** JSON exports: tasks with ``data.text`` and annotations made of text spans
  (``labels``) or ``choices``.

Which devices a row is labeled for matters: a file about a new device says nothing about the other
devices. A row is labeled for its ``annotated`` devices when given (``data.device``/``devices`` in a
Label Studio task), otherwise for every device that appears anywhere in its file. Training treats
all other devices as unknown for that row (``-1`` in the indicator matrix).

Everything is validated before anything is trained or written: unknown devices, offsets outside
the text, empty text, duplicates and conflicting labels are collected with file and line, and
:func:`read_labels` raises :class:`~proplens.errors.ValidationError` if there is any.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from proplens import config
from proplens.errors import DataError, InputError, ValidationError
from proplens.taxonomy import (
    _NAME,
    Device,
    Taxonomy,
    append_device,
    load_taxonomy,
    taxonomy_lock,
)

__all__ = [
    "LABEL_COLUMNS",
    "MISSING_DOCUMENT",
    "UNREADABLE",
    "LabelFileError",
    "LabelProblem",
    "LabelSet",
    "ValidationReport",
    "add_device",
    "detect_format",
    "read_labels",
    "validate_labels",
]

#: The canonical shape of new labels: one row per labeled sentence.
LABEL_COLUMNS = [
    "document_id",  # groups sentences into documents (CV folds never split a document)
    "sentence_index",  # position in the document
    "start",  # offsets into the document text (0 and len(text) for free-standing sentences)
    "end",
    "text",
    "devices",  # devices present (sorted)
    "annotated",  # devices the sentence was judged for (sorted, a superset of devices)
    "in_corpus",  # True when (document_id, start, end) is a sentence of the SemEval-2020 corpus
    "source",  # file name
    "line",  # 1-based line (CSV/TSV/JSONL) or task number (Label Studio) in that file
]

_NEGATIVE_WORDS = {"none", "-", "no_device", "no device", "[]"}
_LINE_CONTENT = re.compile(r"[^\s\ufeff](?:[^\n]*[^\s\ufeff])?")
_ARTICLE_FILE = re.compile(r"^article(\d+)\.txt$")
# Label files are UTF-8; a leading byte order mark (Excel's "CSV UTF-8") is not part of the
# first column's name.
_LABEL_ENCODING = "utf-8-sig"
# Problems listed in a ValidationError message before "... and N more".
_MESSAGE_PROBLEMS = 3


class LabelFileError(InputError, ValidationError):
    """A label file could not be read at all (missing, a folder, no permission to read it).

    An input that cannot be read, like any other command's (exit code 2, not the 3 of malformed
    labels); still a :class:`ValidationError`, since nothing was trained or written.
    """


#: :attr:`LabelProblem.kind` of a label file that could not be read at all.
UNREADABLE = "unreadable"
#: :attr:`LabelProblem.kind` of a document that stand-off labels name but that is not found.
MISSING_DOCUMENT = "missing-document"
#: Ends a MISSING_DOCUMENT message when no corpus folder was given (the default was searched).
CORPUS_HINT = "; name their folder with --corpus"


@dataclass(frozen=True)
class LabelProblem:
    """One reason a label file cannot be used, with where it is."""

    source: str
    line: int | None
    message: str
    kind: str = ""  # UNREADABLE, MISSING_DOCUMENT, or "" for anything wrong inside a file

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.message}"


@dataclass
class LabelSet:
    """Validated labels from one or more files (see :data:`LABEL_COLUMNS`)."""

    frame: pd.DataFrame
    sources: list[dict] = field(default_factory=list)
    skipped: int = 0  # rows present but not labeled yet (empty devices cell, task without result)

    @property
    def devices(self) -> list[str]:
        """Every device some sentence was judged for."""
        return sorted({d for annotated in self.frame["annotated"] for d in annotated})

    def counts(self) -> dict[str, dict[str, int]]:
        """``{device: {"positive": n, "negative": m}}`` over the labeled sentences."""
        out = {d: {"positive": 0, "negative": 0} for d in self.devices}
        for present, annotated in zip(self.frame["devices"], self.frame["annotated"], strict=True):
            for device in annotated:
                out[device]["positive" if device in present else "negative"] += 1
        return out

    def __len__(self) -> int:
        return len(self.frame)


@dataclass
class ValidationReport:
    """The outcome of :func:`validate_labels`: the problems found, and the labels if none."""

    problems: list[LabelProblem]
    labels: LabelSet | None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def unreadable(self) -> bool:
        """True when some label file could not be read at all (see :class:`LabelFileError`)."""
        return any(problem.kind == UNREADABLE for problem in self.problems)

    def error(self, message: str) -> ValidationError:
        """The error to raise for these problems: a :class:`LabelFileError` when a file could
        not be read, so that a mistyped path exits like any other missing input."""
        return (LabelFileError if self.unreadable else ValidationError)(message)

    def raise_for_problems(self, where: str = "the labels, nothing was trained") -> LabelSet:
        """The labels, or a one-line :class:`ValidationError` naming the first problems
        (``where`` says which files and what was not done, e.g. for ``suggest --exclude``)."""
        if self.ok and self.labels is not None:
            return self.labels
        shown = "; ".join(str(p) for p in self.problems[:_MESSAGE_PROBLEMS])
        more = len(self.problems) - _MESSAGE_PROBLEMS
        tail = f"; ... and {more} more (run `proplens labels validate`)" if more > 0 else ""
        raise self.error(f"{len(self.problems)} problem(s) in {where}: {shown}{tail}")


# --------------------------------------------------------------------------------------------
# Documents that stand-off labels point into


def sentence_bounds(text: str, *, lines: bool) -> list[tuple[int, int]]:
    """Sentence offsets: one per non-empty line (PTC article layout) or by the segmenter."""
    if lines:
        return [m.span() for m in _LINE_CONTENT.finditer(text)]
    from proplens.segment import segment

    return [(s.start, s.end) for s in segment(text)]


def one_sentence_per_line(name: str | Path) -> bool:
    """True for a PTC article file (``article<ID>.txt``): its sentences are its lines, as in the
    corpus, so that labels on them land on the corpus's own sentences."""
    return _ARTICLE_FILE.match(Path(name).name) is not None


class _Documents:
    """Documents looked up by id or path under a folder; read as UTF-8 with the BOM kept."""

    def __init__(self, folder: Path | None, *, given: bool = True):
        self.folder = folder
        self.given = given  # False: the default folder, which stand-off labels may not mean
        self._cache: dict[str, tuple[str, bool] | None] = {}
        self._bounds: dict[str, list[tuple[int, int]]] = {}
        # key -> the file it named: "hb" and "hb.txt" are one document for the duplicate checks
        self.file_of: dict[str, Path] = {}

    def bounds(self, key: str) -> list[tuple[int, int]]:
        """The sentence offsets of a document :meth:`get` found (segmenting is not free)."""
        if key not in self._bounds:
            text, by_lines = self._cache[key]
            self._bounds[key] = sentence_bounds(text, lines=by_lines)
        return self._bounds[key]

    def get(self, key: str, relative_to: Path) -> tuple[str, bool] | None:
        """``(text, one-sentence-per-line)`` for a document id or path, or None."""
        if key in self._cache:
            return self._cache[key]
        candidates = [relative_to / key]
        if self.folder is not None:
            candidates = [
                self.folder / key,
                self.folder / f"article{key}.txt",
                self.folder / f"{key}.txt",
                *candidates,
            ]
        found = None
        for path in candidates:
            if path.is_file():
                try:
                    text = path.read_bytes().decode("utf-8")
                except UnicodeDecodeError:
                    raise DataError(f"{path}: not valid UTF-8") from None
                found = (text, one_sentence_per_line(path))
                self.file_of[key] = path.resolve()
                break
        self._cache[key] = found
        return found


def default_corpus_folder() -> Path:
    """Where stand-off labels look for documents by default: the SemEval-2020 train articles."""
    return config.data_dir() / "ptc-semeval2020" / "train-articles"


# --------------------------------------------------------------------------------------------
# Reading each format into raw records


@dataclass
class _Record:
    """A labeled sentence before duplicate checks (offsets/text may come from a document)."""

    document_id: str
    start: int
    end: int
    text: str
    devices: set[str]
    annotated: set[str] | None  # None: "the devices of the file"
    line: int
    in_corpus: bool = False
    sentence_index: int = -1
    keyed: bool = False  # identified by document offsets (stand-off) rather than by its text
    document_file: Path | None = None  # the file a stand-off record's document id named
    placed: bool = False  # start/end are offsets into its document, not 0 and len(text)


class _Reader:
    def __init__(self, path: Path, taxonomy: Taxonomy, documents: _Documents):
        self.path = path
        self.name = path.name
        self.taxonomy = taxonomy
        self.documents = documents
        self.problems: list[LabelProblem] = []
        self.records: list[_Record] = []
        self.skipped = 0

    def problem(self, line: int | None, message: str, kind: str = "") -> None:
        self.problems.append(LabelProblem(str(self.path), line, message, kind))

    def device(self, name: str, line: int) -> str | None:
        name = name.strip()
        try:
            canonical = self.taxonomy.canonical(name)
        except DataError:
            self.problem(
                line,
                f"unknown device {name!r} (declare it in the taxonomy: proplens labels add)",
            )
            return None
        if canonical is None:
            # silently skipped, the row would count as a negative of the file's other devices
            self.problem(
                line,
                f"{name!r} is a technique the taxonomy drops (no model learns it); remove it",
            )
        return canonical

    def device_list(self, value, line: int) -> set[str] | None:
        """Device names from a cell or JSON value; None when the row is not labeled yet."""
        if value is None:
            return None
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return None
            if text.startswith("["):
                try:
                    value = json.loads(text)
                except json.JSONDecodeError:
                    self.problem(line, f"devices {text!r} is not a JSON list")
                    return set()
            elif text.lower() in _NEGATIVE_WORDS:
                return set()
            else:
                value = re.split(r"[;|]", text)
        if not isinstance(value, list):
            self.problem(line, f"devices must be a list of device names, got {value!r}")
            return set()
        names = set()
        for item in value:
            if not isinstance(item, str):
                self.problem(line, f"device names should be strings, got {item!r}")
                continue
            if not item.strip() or item.strip().lower() in _NEGATIVE_WORDS:
                continue
            device = self.device(item, line)
            if device is not None:
                names.add(device)
        return names

    # -- sentence labels ------------------------------------------------------------------
    def sentence_row(self, row: dict, line: int) -> None:
        text = row.get("text")
        if text is not None and not isinstance(text, str):  # a JSONL number or list
            self.problem(line, f"text must be a string, got {text!r}")
            return
        if text is None or not text.strip():
            self.problem(line, "empty text")
            return
        value = row.get("devices")
        if isinstance(value, str) and self.path.suffix.lower() == ".jsonl":
            # JSONL has lists: a string would be read as a CSV cell, where "" means "not
            # labeled yet" and "a;b" two devices, which the docs promise only for CSV/TSV.
            self.problem(line, f"devices must be a list of device names, got {value!r}")
            return
        devices = self.device_list(value, line)
        if devices is None:
            self.skipped += 1
            return
        annotated = None
        if row.get("annotated") not in (None, ""):
            annotated = self.device_list(row.get("annotated"), line) or set()
            extra = sorted(devices - annotated)
            if extra:
                self.problem(line, f"devices {', '.join(extra)} are not listed in 'annotated'")
        position = self.position(row, line)
        if position is None:
            return
        document_id = row.get("document_id")
        document_id = str(document_id).strip() if document_id not in (None, "") else ""
        record = _Record(
            document_id or f"{self.name}:{line}", 0, len(text), text, devices, annotated, line
        )
        if document_id:
            self.place(record, *position)
        self.records.append(record)

    def position(self, values: dict, line: int) -> tuple[int, int, int] | None:
        """``(sentence_index, start, end)`` of a sentence in its document as a row or task gives
        them (``suggest`` writes all three), -1 for each one not given; None after a problem."""
        found = {}
        for column in ("sentence_index", "start", "end"):
            value = values.get(column)
            if value is None or (isinstance(value, str) and not value.strip()):
                found[column] = -1
                continue
            number = _whole_number(value)
            if number is None:
                self.problem(line, f"{column} must be a whole number of at least 0, got {value!r}")
                return None
            found[column] = number
        start, end = found["start"], found["end"]
        if (start < 0) != (end < 0):
            self.problem(line, "give both start and end (the sentence's offsets), or neither")
            return None
        if start >= 0 and end <= start:
            self.problem(line, _empty_span(start, end))
            return None
        return found["sentence_index"], start, end

    def place(self, record: _Record, index: int, start: int, end: int) -> None:
        """Put a sentence given with its text where its document has it.

        Neighbouring-sentence features read the rows around a sentence, so a sentence picked
        from an article (``suggest`` writes its index and offsets) keeps its position instead of
        being numbered in file order. If the document is found (``--corpus``, by default the
        SemEval-2020 train articles) with this text at these offsets, the sentence is that
        document's sentence, like a stand-off label: a corpus article's sentence then lands on
        the corpus row, between its real neighbours.
        """
        record.sentence_index = index
        if start < 0:
            return
        record.start, record.end, record.placed = start, end, True
        key = record.document_id
        try:
            document = self.documents.get(key, self.path.parent)
        except DataError:
            return  # a file by that name that is not UTF-8: not the document the row came from
        if document is None or document[0][start:end] != record.text:
            return
        try:
            record.sentence_index = self.documents.bounds(key).index((start, end))
        except ValueError:
            return  # the text is there but is no sentence of the document as training splits it
        match = _ARTICLE_FILE.match(Path(key).name)
        if match:  # "article111.txt" and "111" name the same corpus article
            record.document_id = match.group(1)
        record.in_corpus = document[1]
        record.keyed = True
        record.document_file = self.documents.file_of.get(key)

    # -- stand-off labels -----------------------------------------------------------------
    def standoff_row(self, row: dict, line: int, spans: dict) -> None:
        key = row.get("document_id") or row.get("path")
        if key in (None, ""):
            self.problem(line, "needs a document_id or path")
            return
        key = str(key).strip()
        try:
            start, end = int(row.get("start")), int(row.get("end"))
        except (TypeError, ValueError):
            self.problem(line, f"start/end must be integers, got {row.get('start')!r}-"
                         f"{row.get('end')!r}")  # fmt: skip
            return
        device = self.device(str(row.get("device") or ""), line)
        document = self.documents.get(key, self.path.parent)
        if document is None:
            where = self.documents.folder or self.path.parent
            hint = "" if self.documents.given else CORPUS_HINT
            self.problem(line, f"document {key!r} not found in {where}{hint}", MISSING_DOCUMENT)
            return
        text, by_lines = document
        document_file = self.documents.file_of.get(key)
        match = _ARTICLE_FILE.match(Path(key).name)
        if match:  # "article111.txt" and "111" name the same corpus article
            key = match.group(1)
        if end <= start:
            self.problem(line, _empty_span(start, end))
            return
        if not 0 <= start < end <= len(text):
            self.problem(
                line,
                f"offsets {start}-{end} are outside document {key} ({len(text)} characters)",
            )
            return
        if device is None:
            return
        if "label" in row:
            label = str(row.get("label")).strip()
            if label not in ("0", "1"):
                self.problem(line, f"label must be 0 or 1, got {label!r}")
                return
            bounds = sentence_bounds(text, lines=by_lines)
            if (start, end) not in set(bounds):
                self.problem(
                    line,
                    f"offsets {start}-{end} are not a whole sentence of document {key} "
                    "(sentence labels must cover exactly one sentence)",
                )
                return
            present = {device} if label == "1" else set()
            self.records.append(
                _Record(key, start, end, text[start:end], present, {device}, line, by_lines,
                        bounds.index((start, end)), keyed=True, document_file=document_file)
            )  # fmt: skip
        else:
            spans.setdefault(key, (text, by_lines, [], document_file))[2].append(
                (start, end, device, line)
            )

    def spans_to_records(self, spans: dict) -> None:
        """Every sentence of each mentioned document, positive where a span overlaps it."""
        for key, (text, by_lines, rows, document_file) in spans.items():
            for index, (start, end) in enumerate(sentence_bounds(text, lines=by_lines)):
                present = {d for s, e, d, _ in rows if s < end and e > start}
                first_line = min(line for *_, line in rows)
                self.records.append(
                    _Record(key, start, end, text[start:end], present, None, first_line, by_lines,
                            index, keyed=True, document_file=document_file)
                )  # fmt: skip

    # -- Label Studio ---------------------------------------------------------------------
    def label_studio_task(self, task, number: int) -> None:
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            self.problem(number, "not a Label Studio task (no 'data' object)")
            return
        data = task["data"]
        text = data.get("text", data.get("sentence"))
        if text is not None and not isinstance(text, str):
            self.problem(number, f"data.text must be a string, got {text!r}")
            return
        if text is None or not text.strip():
            self.problem(number, "empty text (the task's data.text)")
            return
        for key in ("annotations", "completions"):
            if task.get(key) is not None and not isinstance(task[key], list):
                self.problem(number, f"'{key}' should be a list, got {task[key]!r}")
                return
        key = "annotations" if task.get("annotations") else "completions"
        given = task.get(key) or []
        odd = [(i, a) for i, a in enumerate(given) if not isinstance(a, dict)]
        for position, item in odd:  # a string or number where an annotation belongs
            self.problem(number, f"{key}[{position}] should be an annotation object, got {item!r}")
        if odd:
            return
        annotations = [a for a in given if not a.get("was_cancelled")]
        if not annotations:
            self.skipped += 1
            return
        result = annotations[-1].get("result")
        if result is not None and not isinstance(result, list):
            self.problem(number, f"an annotation's result should be a list, got {result!r}")
            return
        result = result or []
        annotated = None
        declared = data.get("devices", data.get("device"))
        if declared:
            annotated = self.device_list(
                declared if isinstance(declared, list) else [declared], number
            )
        document_id = str(data.get("document_id") or f"{self.name}#task{task.get('id', number)}")
        choices: set[str] = set()
        spans: list[tuple[int, int, str]] = []
        for position, item in enumerate(result):
            if not isinstance(item, dict):
                self.problem(number, f"result[{position}] should be a region object, got {item!r}")
                continue
            value = item.get("value", {})
            if not isinstance(value, dict):
                self.problem(number, f"a result's value should be an object, got {value!r}")
                continue
            if "choices" in value:
                choices |= self.device_list(value["choices"], number) or set()
            elif "labels" in value:
                try:
                    start, end = int(value["start"]), int(value["end"])
                except (KeyError, TypeError, ValueError):
                    self.problem(number, "a labelled span lacks integer start/end")
                    continue
                if end <= start:
                    self.problem(number, _empty_span(start, end))
                    continue
                if not 0 <= start < end <= len(text):
                    self.problem(
                        number, f"span {start}-{end} is outside the text ({len(text)} characters)"
                    )
                    continue
                for name in self.device_list(value["labels"], number) or set():
                    spans.append((start, end, name))
        if annotated is not None:
            # as for a CSV row: a device chosen but not among the task's judged devices would be
            # dropped, and the sentence counted as a negative of the device it was judged for
            extra = sorted(({d for *_, d in spans} | choices) - annotated)
            if extra:
                self.problem(
                    number, f"devices {', '.join(extra)} are not among the task's data.device(s)"
                )
                return
        position = self.position(data, number)
        if position is None:
            return
        placed = bool(data.get("document_id")) and position != (-1, -1, -1)
        if not spans or placed:
            # A task that says where its text is in a document (suggest's tasks) is one sentence
            # of it; split again, its pieces would be sentences no document has.
            present = {d for *_, d in spans} | choices
            record = _Record(document_id, 0, len(text), text, present, annotated, number)
            if placed:
                self.place(record, *position)
            self.records.append(record)
            return
        for index, (start, end) in enumerate(sentence_bounds(text, lines=False)):
            present = {d for s, e, d in spans if s < end and e > start} | choices
            self.records.append(
                _Record(f"{document_id}", start, end, text[start:end], present, annotated,
                        number, False, index)
            )  # fmt: skip


def _whole_number(value) -> int | None:
    """A count or offset from a CSV cell (text) or a JSON value (a number), or None."""
    if isinstance(value, bool):  # JSON true is no offset, though Python counts it as 1
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _empty_span(start: int, end: int) -> str:
    """The problem with offsets that cover no character (the docs require start < end): named
    as such, since "outside the document" would send the user looking at the wrong number."""
    if end < start:
        return f"end {end} is before start {start}"
    return f"empty span {start}-{end} (end must be after start)"


def detect_format(path: Path | str) -> str:
    """``"sentences"``, ``"standoff"`` or ``"label-studio"``, from the name and the header."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "label-studio"
    if suffix == ".jsonl":
        with open(path, encoding=_LABEL_ENCODING) as handle:
            for line in handle:
                if line.strip():
                    try:
                        first = json.loads(line)
                    except json.JSONDecodeError:
                        return "sentences"
                    is_text = isinstance(first, dict) and "text" in first
                    return "sentences" if is_text else "standoff"
        return "sentences"
    if suffix in (".csv", ".tsv", ".txt"):
        header = _header(path)
        return "sentences" if "text" in header else "standoff"
    raise DataError(f"{path}: unknown label format (use .csv, .tsv, .jsonl or .json)")


def _is_blank(path: Path) -> bool:
    """True when the file holds nothing but whitespace (or a byte order mark)."""
    with open(path, encoding=_LABEL_ENCODING) as handle:
        return all(not line.strip() for line in handle)


def _delimiter(path: Path) -> str:
    return "\t" if path.suffix.lower() in (".tsv", ".txt") else ","


def _header(path: Path) -> list[str]:
    with open(path, encoding=_LABEL_ENCODING, newline="") as handle:
        return [h.strip() for h in next(csv.reader(handle, delimiter=_delimiter(path)), [])]


def _rows(path: Path, reader: _Reader) -> Iterable[tuple[int, dict]]:
    """(line number, row dict) for CSV/TSV (header = line 1) and JSONL files."""
    if path.suffix.lower() == ".jsonl":
        with open(path, encoding=_LABEL_ENCODING) as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    reader.problem(number, f"not valid JSON ({exc.msg})")
                    continue
                if not isinstance(row, dict):
                    reader.problem(number, "each line should be a JSON object")
                    continue
                yield number, row
        return
    with open(path, encoding=_LABEL_ENCODING, newline="") as handle:
        rows = csv.reader(handle, delimiter=_delimiter(path))
        header = [h.strip() for h in next(rows, [])]
        for row in rows:
            number = rows.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                reader.problem(number, f"expected {len(header)} fields, found {len(row)}")
                continue
            yield number, dict(zip(header, row, strict=True))


def _read_file(path: Path, taxonomy: Taxonomy, documents: _Documents) -> _Reader:
    reader = _Reader(path, taxonomy, documents)
    if path.is_dir():
        reader.problem(None, "is a folder, not a label file", UNREADABLE)
        return reader
    if not path.is_file():
        reader.problem(None, "label file not found", UNREADABLE)
        return reader
    try:
        # Checked before the format: a blank CSV has no header and would read as stand-off
        # labels missing their columns.
        if _is_blank(path):
            reader.problem(None, "empty file")
            return reader
        kind = detect_format(path)
    except DataError as exc:
        reader.problem(None, str(exc).removeprefix(f"{path}: "))
        return reader
    except UnicodeDecodeError:
        reader.problem(None, "not valid UTF-8")
        return reader
    except OSError as exc:  # e.g. no permission to read it
        reader.problem(None, f"cannot read ({exc.strerror or exc})", UNREADABLE)
        return reader
    reader.kind = kind
    try:
        if kind == "label-studio":
            try:
                tasks = json.loads(path.read_text(encoding=_LABEL_ENCODING))
            except json.JSONDecodeError as exc:
                reader.problem(exc.lineno, f"not valid JSON ({exc.msg})")
                return reader
            if isinstance(tasks, dict):
                tasks = [tasks]
            if not isinstance(tasks, list):
                reader.problem(None, "a Label Studio export is a JSON list of tasks")
                return reader
            for number, task in enumerate(tasks, start=1):
                reader.label_studio_task(task, number)
        elif kind == "sentences":
            if path.suffix.lower() != ".jsonl" and "devices" not in _header(path):
                reader.problem(1, "missing column 'devices' (device names, 'none', or empty)")
                return reader
            for number, row in _rows(path, reader):
                reader.sentence_row(row, number)
        else:
            header = set(_header(path)) if path.suffix.lower() != ".jsonl" else None
            if header is not None:
                missing = [c for c in ("start", "end", "device") if c not in header]
                if missing or not header & {"document_id", "path"}:
                    need = ", ".join(missing) or "document_id or path"
                    reader.problem(
                        1, f"missing column(s) {need} (need text+devices, or stand-off columns)"
                    )
                    return reader
            spans: dict = {}
            for number, row in _rows(path, reader):
                reader.standoff_row(row, number, spans)
            reader.spans_to_records(spans)
    except UnicodeDecodeError:
        reader.problem(None, "not valid UTF-8")
    return reader


# --------------------------------------------------------------------------------------------
# Validation across files


def _normalised(text: str) -> str:
    return " ".join(text.casefold().split())


def validate_labels(
    paths: Sequence[Path | str],
    *,
    taxonomy: Taxonomy | None = None,
    corpus_dir: Path | str | None = None,
) -> ValidationReport:
    """Read and check label files together; every problem is collected, nothing is written.

    ``corpus_dir`` is the folder stand-off labels point into (default: the SemEval-2020 train
    articles under :func:`proplens.config.data_dir`). Duplicates and conflicts are found across
    all files: the same sentence (same document offsets, or the same text ignoring case and
    spacing) labeled twice for a device is a duplicate when the labels agree and a conflict when
    they differ.
    """
    if corpus_dir is not None and not Path(corpus_dir).is_dir():
        raise DataError(f"{corpus_dir}: corpus folder not found (--corpus, for stand-off labels)")
    taxonomy = taxonomy or load_taxonomy()
    folder = Path(corpus_dir) if corpus_dir is not None else default_corpus_folder()
    documents = _Documents(folder if folder.is_dir() else None, given=corpus_dir is not None)
    problems: list[LabelProblem] = []
    parts: list[pd.DataFrame] = []
    sources: list[dict] = []
    skipped = 0
    # sentence key -> device -> (label, "file:line", (file, line), given by document offsets?)
    seen: dict[tuple, dict[str, tuple[bool, str, tuple, bool]]] = {}
    given: set[Path] = set()
    places: list[tuple | None] = []  # per row: where in its document, when the row says
    if not paths:
        problems.append(LabelProblem("labels", None, "no label files given"))
    for raw_path in paths:
        path = Path(raw_path)
        if path.resolve() in given:
            problems.append(LabelProblem(str(path), None, "given more than once"))
            continue
        given.add(path.resolve())
        reader = _read_file(path, taxonomy, documents)
        problems += reader.problems
        skipped += reader.skipped
        file_devices = sorted({d for r in reader.records for d in r.devices} | {
            d for r in reader.records for d in (r.annotated or ())
        })  # fmt: skip
        rows = []
        for record in reader.records:
            annotated = record.annotated if record.annotated is not None else set(file_devices)
            if not annotated:
                continue  # a file that names no device at all teaches nothing
            # A stand-off record is its document's offsets (the file the id named: "hb" and
            # "hb.txt" are one document); a sentence given as text is its normalised text. A
            # stand-off record is also checked against sentences given as text: the same
            # sentence labeled in two formats. (Two documents that share a sentence's text are
            # not compared: the corpus holds repeated boilerplate and near-duplicate articles.)
            text_key = ("text", _normalised(record.text))
            own_key = (
                ("doc", record.document_file or record.document_id, record.start, record.end)
                if record.keyed
                else text_key
            )
            where = f"{path.name}:{record.line}"
            row_key = (path.resolve(), record.line)
            labels = seen.setdefault(own_key, {})
            as_text = seen.setdefault(text_key, {}) if record.keyed else labels
            for device in sorted(annotated):
                value = device in record.devices
                found = labels.get(device)
                if found is None and record.keyed:
                    other_text = as_text.get(device)
                    found = other_text if other_text and not other_text[3] else None
                if found is not None:
                    other_value, other, other_row, _ = found
                    if other_row == row_key:
                        continue  # several spans of one row cover the same sentence
                    kind = "duplicate of" if other_value == value else "conflicting labels with"
                    problems.append(
                        LabelProblem(
                            str(path), record.line, f"{device}: {kind} {other} for the same "
                            f"sentence {record.text[:60]!r}"
                        )
                    )  # fmt: skip
                else:
                    labels[device] = (value, where, row_key, record.keyed)
                    as_text.setdefault(device, (value, where, row_key, record.keyed))
            rows.append(
                {
                    "document_id": record.document_id,
                    "sentence_index": record.sentence_index,
                    "start": record.start,
                    "end": record.end,
                    "text": record.text,
                    "devices": sorted(record.devices & annotated),
                    "annotated": sorted(annotated),
                    "in_corpus": record.in_corpus,
                    "source": path.name,
                    "line": record.line,
                }
            )
            placed = record.keyed or record.placed
            document = record.document_file or record.document_id
            places.append((document, record.start, record.end, record.text) if placed else None)
        frame = pd.DataFrame(rows, columns=LABEL_COLUMNS)
        if len(frame):
            parts.append(frame)
        elif not reader.problems:  # nothing to train on: empty, unlabeled, or only 'none'
            why = (
                "every row is 'none' and no device is named (add an 'annotated' column)"
                if reader.records
                else f"{reader.skipped} row(s) not labeled yet"
                if reader.skipped
                else "no rows"
            )
            problems.append(LabelProblem(str(path), None, f"no labeled sentence: {why}"))
        sources.append(_describe(path, getattr(reader, "kind", "?"), frame))
    if problems:
        return ValidationReport(problems, None)
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=LABEL_COLUMNS)
    frame = _number_sentences(_one_row_per_sentence(frame, places))
    return ValidationReport([], LabelSet(frame, sources, skipped))


def _one_row_per_sentence(frame: pd.DataFrame, places: list[tuple | None]) -> pd.DataFrame:
    """One row for a sentence of a document labeled in several files, each for other devices
    (the same device twice is a duplicate or a conflict): as two rows at one position, training
    would read each as the other's neighbouring sentence."""
    first: dict[tuple, int] = {}
    keep: list[int] = []
    devices, annotated = frame["devices"].tolist(), frame["annotated"].tolist()
    for row, place in enumerate(places):
        if place is None or place not in first:
            if place is not None:
                first[place] = row
            keep.append(row)
            continue
        into = first[place]
        devices[into] = sorted({*devices[into], *devices[row]})
        annotated[into] = sorted({*annotated[into], *annotated[row]})
    if len(keep) == len(frame):
        return frame
    frame = frame.assign(devices=devices, annotated=annotated)
    return frame.iloc[keep].reset_index(drop=True)


def _number_sentences(frame: pd.DataFrame) -> pd.DataFrame:
    """Give sentences without a position one within their document: in file order, after the
    positions that other rows of the document were given."""
    if frame.empty:
        return frame
    frame = frame.copy()
    missing = frame["sentence_index"] < 0
    given = frame[~missing].groupby("document_id")["sentence_index"].max()
    after = frame.loc[missing, "document_id"].map(given).fillna(-1).astype(int) + 1
    frame.loc[missing, "sentence_index"] = (
        after + frame[missing].groupby("document_id", sort=False).cumcount()
    ).to_numpy()
    frame["sentence_index"] = frame["sentence_index"].astype(int)
    return frame


def _describe(path: Path, kind: str, frame: pd.DataFrame) -> dict:
    """The model-card entry for one label file: name, format, fingerprint and label counts."""
    from proplens.artifacts import file_sha256

    counts: dict[str, dict[str, int]] = {}
    for present, annotated in zip(frame["devices"], frame["annotated"], strict=True):
        for device in annotated:
            entry = counts.setdefault(device, {"positive": 0, "negative": 0})
            entry["positive" if device in present else "negative"] += 1
    return {
        "name": f"new labels {path.name} ({kind})",
        "format": kind,
        "fingerprint": file_sha256(path) if path.is_file() else "",
        "documents": int(frame["document_id"].nunique()) if len(frame) else 0,
        "sentences": len(frame),
        "label_counts": counts,
        "terms": "labels supplied by the user; check their source's terms",
    }


def read_labels(
    paths: Sequence[Path | str],
    *,
    taxonomy: Taxonomy | None = None,
    corpus_dir: Path | str | None = None,
) -> LabelSet:
    """Validated labels from ``paths`` (any supported format); raises ValidationError if not."""
    return validate_labels(paths, taxonomy=taxonomy, corpus_dir=corpus_dir).raise_for_problems()


# --------------------------------------------------------------------------------------------
# Declaring a device


def add_device(
    name: str,
    definition: str,
    example: str,
    *,
    requires: str | None = None,
    colour: str | None = None,
    aliases: Sequence[str] = (),
    path: Path | str | None = None,
) -> Device:
    """Declare a new device in the taxonomy file: its ``[[device]]`` table is appended, and the
    rest of the file, hand-written comments included, is left as it was (written atomically);
    returns the device.

    ``requires`` is an optional regex a sentence must match for the device to be possible (the
    model gives other sentences probability 0 and learns from matching sentences only).
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValidationError(
            f"device name {name!r}: use letters, digits, '_', ',' and '-' (e.g. Vague_Sourcing)"
        )
    if isinstance(aliases, str | bytes):  # would be stored as one alias per letter
        raise ValidationError(f"device {name!r}: aliases must be a list of names, got {aliases!r}")
    if not isinstance(definition, str) or not isinstance(example, str):
        raise ValidationError(f"device {name!r}: the definition and the example must be text")
    if not definition.strip() or not example.strip():
        raise ValidationError(f"device {name!r}: give a --definition and an --example")
    if colour is not None and not re.fullmatch(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})", colour):
        raise ValidationError(f"--colour {colour!r}: use a hex colour such as #aa6e28")
    if requires is not None:
        try:
            re.compile(requires)
        except re.error as exc:
            raise ValidationError(f"--requires {requires!r} is not a valid regex ({exc})") from None
    device = Device(
        name=name,
        definition=definition.strip(),
        example=example.strip(),
        origin="proplens",
        colour=colour or "#808080",
        aliases=tuple(aliases),
        requires=requires,
    )
    # Read, check and write under one lock: two `labels add` at once must not lose a device.
    with taxonomy_lock(path) as target:
        taxonomy = load_taxonomy(target)
        for other in taxonomy.devices:
            if name in other.aliases:
                raise ValidationError(f"{name!r} is already an alias of {other.name}")
            if name != other.name and name.casefold() == other.name.casefold():
                raise ValidationError(f"device {name!r} differs only in case from {other.name}")
        append_device(device, target)
    return device
