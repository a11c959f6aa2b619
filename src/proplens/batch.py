"""Score a whole corpus: one process, a pool of worker processes, or a Dask cluster.

``score_corpus`` reads a folder of .txt/.html files, a JSONL/CSV/Parquet table with a text column,
or a glob of either, and writes two Parquet tables:

- ``OUT.parquet``: one row per sentence (``document_id, source, date, sentence_index, start, end,
  text, propaganda``, one probability column per device, ``labels`` as a list of device names);
- ``OUT.documents.parquet``: one row per document (``document_id, source, date, status, error,
  sentences, flagged, propaganda_score``, one count column per device). A document that cannot be
  read or scored has ``status == "failed"`` and its ``error``; the run goes on without it.

Why it is built this way:

- **Resumable.** Results go to ``OUT.parts/`` in numbered part files, written to a temporary name,
  flushed to disk and renamed, the documents part last: a batch counts as done only once its
  documents part exists. A rerun reads the finished parts, skips the documents whose content
  fingerprint is unchanged, removes half-written files and scores the rest; a document rescored
  because it changed keeps only its newest rows. A run killed with ``kill -9`` loses at most the
  batches in flight and never writes a document twice. Documents that failed are tried again on a
  rerun (the user may have raised ``--max-size``). The parts stay after the run, so rerunning over
  a folder that has grown or changed scores only the new and the edited files.
- **Same output however it ran.** Rows are sorted by input order, then sentence index, when the
  parts are consolidated, so one process, ``workers=N`` and Dask produce equal tables.
- **The model travels once per worker.** The driver loads and verifies the model, then ships it to
  each worker once (a process-pool initializer, or a Dask ``WorkerPlugin``); tasks carry only text.
- **Work happens where it scales.** Files are read, decoded and (for HTML) extracted in the
  workers, and each worker writes the parts of the batches it scored (same atomic write and
  names as above; the driver numbers the batches when it hands them out) and sends back only a
  receipt with counts. The driver lists inputs and keeps a bounded number of batches in flight,
  so memory does not grow with the corpus. A worker that cannot see the parts folder (a remote
  cluster without shared storage) sends the tables back and the driver writes them: it checks
  for the run's ``owner`` token in the folder, which also stops workers of a killed run from
  writing into a folder a rerun has claimed.
"""

from __future__ import annotations

import contextlib
import glob as globlib
import hashlib
import json
import logging
import os
import pickle
import secrets
import signal
import stat
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from proplens.errors import DataError, InputError, ProplensError, ValidationError
from proplens.inputs import DEFAULT_MAX_BYTES, SUPPORTED_SUFFIXES, iter_documents

__all__ = [
    "BatchResult",
    "FailedDocumentsError",
    "documents_path",
    "parts_path",
    "score_corpus",
    "score_corpus_command",
    "report_command",
]

#: Bump when the layout of ``OUT.parts/`` changes; a rerun refuses parts of another format.
#: 2: documents parts record a content ``fingerprint`` per document. Parts of format 1 are refused
#: rather than resumed: they cannot tell which of their documents changed since, and resuming them
#: as unchanged would keep stale scores for ever, without a sign, which is what format 2 fixes.
PARTS_FORMAT = 2
DEFAULT_BATCH_SIZE = 32
TABLE_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}
_DOCUMENT_SUFFIXES = (".txt", ".html", ".htm", ".md")
_RUN_FILE = "run.json"
#: Parquet schema metadata of the documents tables (parts and OUT.documents.parquet): the JSON list
#: of the device count columns, so that ``proplens report`` tells them from other columns.
DEVICES_METADATA_KEY = "proplens.devices"
_OWNER_FILE = "owner"  # the token of the run now writing into the parts folder
_ROW_GROUP_ROWS = 65_536  # rows per row group of the two consolidated tables
_DASK_PLUGIN = "proplens-model"

log = logging.getLogger(__name__)


class FailedDocumentsError(ProplensError):
    """Some documents could not be scored; the others were written."""

    exit_code = 5


class TerminatedError(ProplensError):
    """The command was stopped by SIGTERM (``timeout``, ``kill``, a job scheduler)."""

    exit_code = 128 + signal.SIGTERM


@dataclass(frozen=True)
class BatchResult:
    """What one run did: ``documents`` in the input = ``scored`` + ``skipped`` + ``failed``."""

    documents: int  # documents found in the input
    scored: int  # scored in this run
    skipped: int  # already scored by an earlier run (resume)
    failed: int  # recorded with an error in this run
    output: Path  # the sentence table
    summary: Path  # the per-document table
    seconds: float
    #: documents earlier runs scored into OUT.parts/ that are not in this input: kept in the
    #: parts, left out of the two tables (which hold exactly the input's documents)
    left_out: int = 0
    #: documents an earlier run scored whose content changed since (an edited file, a table row
    #: with another text, source or date): scored again, and counted in ``scored`` or ``failed``
    rescored: int = 0


@dataclass(frozen=True)
class _Item:
    """One document to score: its text, or the path a worker reads it from, or an error already."""

    position: int  # order in the input; the sort key of the output
    document_id: str
    source: str | None = None
    date: str | None = None
    text: str | None = None
    path: str | None = None
    error: str | None = None
    where: str | None = None  # "TABLE: row N" ("line N" for JSONL), for messages
    #: what a rerun compares to tell an edited document from one scored already (see
    #: _file_fingerprint and _row_fingerprint); None when it cannot be told: always rescored
    fingerprint: str | None = None


def documents_path(output: Path) -> Path:
    """The per-document table next to ``output``: ``OUT.parquet`` -> ``OUT.documents.parquet``."""
    output = Path(output)
    return output.with_name(_stem(output) + ".documents.parquet")


def parts_path(output: Path) -> Path:
    """The folder of part files behind ``output`` (``OUT.parquet`` -> ``OUT.parts/``)."""
    output = Path(output)
    return output.with_name(_stem(output) + ".parts")


def _stem(output: Path) -> str:
    return output.name[: -len(".parquet")] if output.name.endswith(".parquet") else output.name


# --- input ---------------------------------------------------------------------------------------


def _count_and_iter(
    source: str | Path,
    *,
    text_column: str,
    id_column: str,
    batch_size: int,
    output: Path | None = None,
) -> tuple[int | None, Iterator[_Item]]:
    """The number of documents in the input (None when unknown without reading it) and the items.

    ``output``'s own files (the two tables and the parts) are never input: a glob such as
    ``dumps/*.parquet`` with ``-o dumps/scores.parquet`` would otherwise score, on a rerun, the
    sentence table the first run wrote.
    """
    path = Path(source)
    own = _own_files(output) if output is not None else set()
    if str(source) == "-":
        raise InputError(
            "-: score-corpus does not read standard input; save it as a .jsonl/.csv table "
            "or a folder of files (proplens score - reads one document from it)"
        )
    if path.is_dir():
        files = _folder_files(path)
        if not files:
            raise InputError(
                f"{source}: no {'/'.join(_DOCUMENT_SUFFIXES)} files found in the folder"
            )
        return len(files), _file_items(files, base=path)
    if path.is_file():
        if path.resolve() in own:
            raise InputError(f"{path}: is the input; choose another --output")
        targets = [path]
    elif any(char in str(source) for char in "*?["):
        # a set: glob lists a path once per way it matches (dumps/**/**/*.csv), and a
        # document is scored once
        targets = sorted({Path(p) for p in globlib.glob(str(source), recursive=True)})
        targets = [p for p in targets if p.is_file() and not _is_own(p, own)]
        if not targets:
            raise InputError(f"{source}: the pattern matches no file")
    else:
        raise InputError(f"{source}: file or folder not found")
    for target in targets:
        suffix = target.suffix.lower()
        if suffix not in TABLE_SUFFIXES and suffix not in SUPPORTED_SUFFIXES:
            raise InputError(
                f"{target}: unsupported file type {suffix!r} (score-corpus reads a folder, "
                f"{', '.join(TABLE_SUFFIXES)} tables or text/HTML files)"
            )
        if suffix in TABLE_SUFFIXES:
            _check_columns(target, text_column)
    # Before any scoring: a duplicate id stops the run here, not after hours of scoring.
    counts = _count_and_check_ids(targets, id_column)
    total = sum(counts)
    if total == 0:  # as for an empty folder: nothing to score is a mistake, not a finished run
        what = "the table has" if len(targets) == 1 else "the matched files have"
        raise InputError(f"{source}: no document to score ({what} no rows)")
    return total, _mixed_items(targets, text_column, id_column, batch_size, counts)


def _own_files(output: Path) -> set[Path]:
    return {p.resolve() for p in (output, documents_path(output), parts_path(output))}


def _is_own(path: Path, own: set[Path]) -> bool:
    resolved = path.resolve()
    return resolved in own or any(parent in own for parent in resolved.parents)


def _folder_files(folder: Path) -> list[Path]:
    found = []
    for directory, subdirectories, files in os.walk(folder):
        # Hidden folders (.git, .venv) hold no documents worth scoring.
        subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
        for filename in files:
            if not filename.startswith(".") and filename.lower().endswith(_DOCUMENT_SUFFIXES):
                found.append(Path(directory) / filename)
    return sorted(found)


def _file_items(files: list[Path], base: Path | None, start: int = 0) -> Iterator[_Item]:
    for offset, file in enumerate(files):
        if base is not None:
            relative = file.relative_to(base)
            # A corpus laid out as INPUT/<outlet>/... groups documents by outlet.
            source = relative.parts[0] if len(relative.parts) > 1 else None
            document_id = relative.as_posix()
        else:
            source, document_id = None, str(file)
        # A file name that is not UTF-8 (caf\xe9.txt written on a Latin-1 system) reaches Python
        # with surrogate escapes, which Parquet cannot hold: its id shows the bytes as \xNN.
        yield _Item(
            start + offset,
            _printable(document_id),
            source=None if source is None else _printable(source),
            path=str(file),
            fingerprint=_file_fingerprint(file),
        )


def _file_fingerprint(path: Path) -> str | None:
    """What tells an edited file from the one an earlier run scored: its size and modification
    time, from one ``stat`` in the driver.

    Files are read in the workers, so hashing their content would mean the driver reads every
    file of the corpus on every rerun just to decide what to skip. A stat is cheap, and taken
    before the worker reads the file, so an edit made while the run goes on is seen by the next
    run (it then rescores the file once more, never keeps stale scores). What it cannot see is an
    edit that keeps both the size and the modification time: one made within the same tick of
    the file system's clock after the stat, or followed by setting the time back to its old
    value (``touch -r``, ``touch -d``); ``--no-resume`` rescores those. A file that cannot be
    stat-ed has no fingerprint: it is always scored again (and then fails, if it still cannot be
    read)."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return _digest(b"file", str(found.st_size).encode(), str(found.st_mtime_ns).encode())


def _row_fingerprint(text: str, source: str | None, date: str | None) -> str:
    """What tells an edited table row from the one an earlier run scored: a digest of its text,
    which the driver holds already, and of the source and date the tables show with its scores
    (a corrected date must not stay stale either)."""
    return _digest(
        b"row",
        *(None if v is None else v.encode("utf-8", "surrogatepass") for v in (text, source, date)),
    )


def _digest(*fields: bytes | None) -> str:
    # 128 bits: a feed's author who can edit a document must not be able to craft an edit that
    # keeps the fingerprint of the version already scored (64 bits would be a 2**32 search).
    # Each field is length-prefixed, None distinct from "", so different rows never hash alike.
    digest = hashlib.blake2b(digest_size=16)
    for field in fields:
        if field is None:
            digest.update(b"\x00")
        else:
            digest.update(b"\x01" + len(field).to_bytes(8, "little") + field)
    return digest.hexdigest()


def _printable(text: str) -> str:
    r"""``text`` as valid Unicode: bytes of a non-UTF-8 file name (surrogate escapes) as ``\xNN``,
    any other lone surrogate as ``\udNNN``; valid text is returned unchanged."""
    if _valid_unicode(text):
        return text
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def _mixed_items(
    targets: list[Path], text_column: str, id_column: str, batch_size: int, counts: list[int]
) -> Iterator[_Item]:
    """The items of ``targets`` (tables and files) in order; ``counts`` are their row counts.

    :func:`_count_and_check_ids` refused duplicate ids before the run began; the check here stays
    as a safety net (an input edited since, between that read and this one)."""
    position = 0
    seen: dict[str, str] = {}
    for target, label, count in zip(targets, _labels(targets), counts, strict=True):
        if label is not None:
            rows = _table_items(target, text_column, id_column, batch_size, position, label)
        else:
            rows = _file_items([target], base=None, start=position)
        for item in rows:
            where = item.where or f"{target}: row {item.position - position + 1}"
            if item.document_id in seen:
                raise _duplicate_id(where, item.document_id, seen[item.document_id])
            seen[item.document_id] = where
            yield item
        position += count


def _labels(targets: list[Path]) -> list[str | None]:
    """What default ids (``LABEL:ROW``) start with, for each table of ``targets`` (None: a file).

    Default ids are FILE:ROW; two tables of one name (a glob such as dumps/*/data.jsonl) would
    give equal ids, so those are told apart by their path as matched."""
    names = Counter(t.name for t in targets if t.suffix.lower() in TABLE_SUFFIXES)
    return [
        (t.name if names[t.name] == 1 else str(t)) if t.suffix.lower() in TABLE_SUFFIXES else None
        for t in targets
    ]


def _duplicate_id(where: str, document_id: str, first: str) -> InputError:
    return InputError(
        f"{where}: duplicate document id {document_id!r} (first seen at {first}); "
        "ids must be unique"
    )


def _count_and_check_ids(targets: list[Path], id_column: str) -> list[int]:
    """The number of documents of each target; first refuses a duplicate id, before any scoring.

    The stream (:func:`_mixed_items`) sees a duplicate only when it reaches it: with one near the
    end of a big table, the run scored for hours and then stopped. This reads the ids first, with
    the same message for the same rows, and reads only what ids are made of, a chunk at a time:
    the id column of a CSV or Parquet table, each line of a JSONL one (a line must be parsed
    whole), and nothing of the rows of a table without the id column. Memory is one entry per
    id, as for the stream's own check, and is freed before scoring starts.

    With no explicit id anywhere, ids cannot repeat and nothing is read beyond the row counts:
    default ids ``LABEL:ROW`` differ by row within a table and by label across tables (see
    :func:`_labels`), a file's id is its path, and a default id is never a path of a file that is
    read (its suffix would be ``.csv:12``, not a document's). Should a path come twice (the
    caller lists each once), its ids repeat without any id column: then everything is checked.
    """
    labels = _labels(targets)
    explicit: list[bool] = []  # tables that may hold explicit ids: read below
    counts: list[int | None] = []  # rows of each target; those read below are counted there
    keys: list[str] = []  # a file's id, a table's label: all distinct unless a path repeats
    for target, label in zip(targets, labels, strict=True):
        read = label is not None and _has_id_column(target, id_column)
        explicit.append(read)
        counts.append(None if read else _count_rows(target) or 0)
        keys.append(_printable(str(target) if label is None else label))
    if not any(explicit) and len(set(keys)) == len(keys):
        return [count or 0 for count in counts]
    seen: dict[str, int] = {}  # id -> where it was first seen, as row * len(targets) + target
    for index, (target, label) in enumerate(zip(targets, labels, strict=True)):
        if label is None:
            rows: Iterable[tuple[int, str]] = [(1, _printable(str(target)))]
        else:
            rows = _table_ids(target, id_column, label, explicit[index], counts[index])
        count = 0
        with _reading(target):
            for number, document_id in rows:
                count += 1
                first = seen.get(document_id)
                if first is not None:
                    row, before = divmod(first, len(targets))
                    raise _duplicate_id(
                        _id_where(target, label, number),
                        document_id,
                        _id_where(targets[before], labels[before], row),
                    )
                seen[document_id] = number * len(targets) + index
        counts[index] = count
    return [count or 0 for count in counts]


def _has_id_column(path: Path, id_column: str) -> bool:
    """Whether a table may hold explicit ids: a CSV or Parquet table with the id column, and any
    JSONL table (each record has its own fields)."""
    kind = TABLE_SUFFIXES[path.suffix.lower()]
    with _reading(path):
        if kind == "parquet":
            return id_column in pq.ParquetFile(path).schema_arrow.names
        if kind == "csv":
            return id_column in _read_csv(path, nrows=0, dtype=str).columns
    return True


def _id_where(target: Path, label: str | None, number: int) -> str:
    """Where row ``number`` of ``target`` is, as :func:`_mixed_items` names it."""
    if label is None:
        return f"{target}: row {number}"
    unit = "line" if TABLE_SUFFIXES[target.suffix.lower()] == "jsonl" else "row"
    return _printable(f"{target}: {unit} {number}")


_ID_CHUNK_ROWS = 65_536  # rows of the id column read at a time


def _table_ids(
    path: Path, id_column: str, label: str, explicit: bool, count: int | None
) -> Iterator[tuple[int, str]]:
    """(row number, document id) for each row of a table, the ids :func:`_table_items` gives,
    reading only the id column (a JSONL line whole); with no id column, only ``count``."""
    kind = TABLE_SUFFIXES[path.suffix.lower()]
    if kind == "jsonl":
        for number, record in _parse_table(path, _ID_CHUNK_ROWS):
            document_id = None
            if not isinstance(record, str):  # an unreadable line has its default id
                cells = [_cell(record.get(name)) for name in (id_column, "source", "date")]
                # as in _table_items: a cell that is not valid Unicode gives the default id
                if all(_valid_unicode(cell) for cell in cells):
                    document_id = cells[0]
            yield number, document_id or _printable(f"{label}:{number}")
        return
    if not explicit:
        for number in range(1, (count or 0) + 1):
            yield number, _printable(f"{label}:{number}")
        return
    # A CSV or Parquet cell is valid Unicode (its reader refuses other bytes), so unlike JSONL the
    # source and date cannot make a row fall back to its default id: the id column is enough.
    if kind == "parquet":
        values: Iterator[Any] = (
            value
            for batch in pq.ParquetFile(path).iter_batches(
                batch_size=_ID_CHUNK_ROWS, columns=[id_column]
            )
            for value in batch.column(0).to_pylist()
        )
    else:  # read as _parse_table reads it: text, an empty cell ""
        values = (
            value
            for frame in _read_csv(
                path,
                usecols=[id_column],
                chunksize=_ID_CHUNK_ROWS,
                dtype=str,
                keep_default_na=False,
            )
            for value in frame[id_column].tolist()
        )
    for number, value in enumerate(values, start=1):
        document_id = value if isinstance(value, str) else _cell(value)  # _cell(str) is the str
        yield number, document_id or _printable(f"{label}:{number}")


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Turn a table that cannot be parsed (corrupt Parquet, malformed or non-UTF-8 CSV, an
    unreadable file) into a one-line error naming it, instead of the parser's traceback."""
    try:
        yield
    except ProplensError:
        raise
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text; save the table as UTF-8") from None
    except Exception as exc:  # pyarrow's and pandas' parser errors share no base class
        raise DataError(f"{path}: not a readable {path.suffix} table ({_one_line(exc)})") from None


def _check_columns(path: Path, text_column: str) -> None:
    kind = TABLE_SUFFIXES[path.suffix.lower()]
    with _reading(path):
        if kind == "parquet":
            columns = pq.ParquetFile(path).schema_arrow.names
        elif kind == "csv":
            columns = list(_read_csv(path, nrows=0).columns)
        else:
            _check_records(path, text_column)
            return
    if text_column not in columns:
        raise InputError(
            f"{path}: no column {text_column!r} (columns: {', '.join(map(str, columns))}); "
            "use --text-column"
        )


def _check_records(path: Path, text_column: str) -> None:
    """A JSONL file has no header, so its "columns" are the fields its records use. One record
    without the text field fails on its own, as a null text does; a file where no record has it
    is a wrong --text-column, as it is for CSV and Parquet. The scan stops at the first record
    that has the field (the first line of any ordinary file), so only that mistake reads it all.
    A file with no JSON object at all is left to fail line by line, as before."""
    first = None
    for _, record in _parse_table(path, 1):
        if isinstance(record, dict):
            if text_column in record:
                return
            first = record if first is None else first
    if first is not None:
        raise InputError(
            f"{path}: no column {text_column!r} in any record (first record's fields: "
            f"{', '.join(map(str, first)) or 'none'}); use --text-column"
        )


def _count_rows(path: Path) -> int | None:
    kind = TABLE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        return 1
    with _reading(path):
        return _count_table_rows(path, kind)


def _count_table_rows(path: Path, kind: str) -> int:
    if kind == "parquet":
        return pq.ParquetFile(path).metadata.num_rows
    if kind == "jsonl":
        with path.open("rb") as handle:
            return sum(1 for line in handle if line.strip())

    # Quoted CSV fields may span lines, so only a parse gives the row count; read just one column.
    return sum(len(chunk) for chunk in _read_csv(path, usecols=[0], chunksize=100_000))


def _read_csv(path: Path, **options: Any) -> Any:
    """pandas.read_csv, refusing a row with more fields than the header: pandas would otherwise
    take the extra leading fields as an index and shift every column (ids read as text)."""
    import warnings

    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            reader = pd.read_csv(path, index_col=False, **options)
        except pd.errors.ParserWarning:
            raise DataError(f"{path}: a row has more fields than the header") from None
    if "chunksize" not in options:
        return reader
    return _checked_chunks(path, reader)


def _checked_chunks(path: Path, reader: Any) -> Iterator[Any]:
    import warnings

    import pandas as pd

    with reader:
        while True:
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                try:
                    frame = next(reader)
                except StopIteration:
                    return
                except pd.errors.ParserWarning:
                    raise DataError(f"{path}: a row has more fields than the header") from None
            yield frame


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    with contextlib.suppress(TypeError, ValueError):
        import pandas as pd

        if pd.isna(value):
            return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _table_items(
    path: Path,
    text_column: str,
    id_column: str,
    batch_size: int,
    start: int,
    label: str | None = None,
) -> Iterator[_Item]:
    # A JSONL row is named by its line number (blank lines are skipped, so the n-th record is
    # not always on line n): the default id, the errors and the file then agree.
    unit = "line" if TABLE_SUFFIXES[path.suffix.lower()] == "jsonl" else "row"
    for row, (number, record) in enumerate(_table_records(path, batch_size)):
        position = start + row
        default_id = _printable(f"{label or path.name}:{number}")
        where = _printable(f"{path}: {unit} {number}")
        if isinstance(record, str):  # an unreadable JSONL line: its parse error
            yield _Item(position, default_id, error=f"{where}: {record}", where=where)
            continue
        cells = {name: _cell(record.get(name)) for name in (id_column, "source", "date")}
        invalid = [name for name, value in cells.items() if not _valid_unicode(value)]
        if invalid:  # a lone surrogate ("\ud800" in JSON) cannot be written to Parquet
            error = f"{where}: the {invalid[0]!r} field is not valid Unicode (a lone surrogate)"
            yield _Item(position, default_id, error=error, where=where)
            continue
        document_id = cells[id_column] or default_id
        # An empty CSV cell is no source or date, as a null is in JSONL and Parquet.
        source, date = cells["source"] or None, cells["date"] or None
        text = record.get(text_column)
        error = None
        if text_column not in record:
            error = f"{where}: no {text_column!r} field"
        elif _cell(text) is None:
            error = f"{where}: the text is missing (null)"
        elif not isinstance(text, str):
            error = f"{where}: the text is a {type(text).__name__}, not a string"
        yield _Item(
            position,
            document_id,
            source=source,
            date=date,
            text=None if error else text,
            error=error,
            where=where,
            fingerprint=None if error else _row_fingerprint(text, source, date),
        )


def _valid_unicode(text: str | None) -> bool:
    r"""False for a string Arrow cannot write: one holding a lone surrogate (JSON "\ud800")."""
    if text is None:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _table_records(path: Path, batch_size: int) -> Iterator[tuple[int, dict[str, Any] | str]]:
    with _reading(path):
        yield from _parse_table(path, batch_size)


def _parse_table(path: Path, batch_size: int) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(row number, record) for each row; the number is the line for JSONL, else the row (1-based,
    header not counted). An unreadable JSONL line is yielded as the reason, a string."""
    kind = TABLE_SUFFIXES[path.suffix.lower()]
    chunk = max(batch_size * 8, 1024)
    if kind == "parquet":
        row = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk):
            for record in batch.to_pylist():
                row += 1
                yield row, record
    elif kind == "csv":
        row = 0
        reader = _read_csv(path, chunksize=chunk, dtype=str, keep_default_na=False)
        for frame in reader:
            for record in frame.to_dict("records"):
                row += 1
                yield row, record
    else:
        with path.open("rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    yield number, f"not valid JSON ({type(exc).__name__})"
                    continue
                if not isinstance(record, dict):
                    yield number, "not a JSON object"
                    continue
                yield number, record


# --- scoring one batch (runs in the workers) ------------------------------------------------------


def _schemas(devices: list[str]) -> tuple[pa.Schema, pa.Schema]:
    common = [
        ("position", pa.int64()),
        ("document_id", pa.string()),
        ("source", pa.string()),
        ("date", pa.string()),
    ]
    sentences = pa.schema(
        common
        + [
            ("sentence_index", pa.int64()),
            ("start", pa.int64()),
            ("end", pa.int64()),
            ("text", pa.string()),
            ("propaganda", pa.float64()),
        ]
        + [(device, pa.float64()) for device in devices]
        + [("labels", pa.list_(pa.string()))]
    )
    documents = pa.schema(
        common
        + [
            ("status", pa.string()),
            ("error", pa.string()),
            ("sentences", pa.int64()),
            ("flagged", pa.int64()),
            ("propaganda_score", pa.float64()),
        ]
        + [(device, pa.int64()) for device in devices]
        + [("fingerprint", pa.string())],
        metadata={DEVICES_METADATA_KEY: json.dumps(devices)},
    )
    return sentences, documents


#: Columns of the parts that only resuming needs; the two consolidated tables leave them out.
_INTERNAL_COLUMNS = ("position", "fingerprint")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _read(item: _Item, max_bytes: int) -> tuple[str | None, str | None]:
    """The item's text, or the reason it has none."""
    if item.error is not None:
        return None, item.error
    if item.path is not None:
        if not _regular_or_missing(item.path):
            # A FIFO or device named like a document would block the read (a FIFO forever).
            return None, f"{item.path}: not a regular file"
        found = next(iter_documents([item.path], recursive=False, max_bytes=max_bytes))
        if isinstance(found, InputError):
            return None, _one_line(found)
        text = found.text
    else:
        text = item.text or ""
        size = len(text.encode("utf-8", errors="surrogatepass"))
        if size > max_bytes:
            return None, (
                f"{item.where or item.document_id}: {size / 1e6:.1f} MB is above the "
                f"{max_bytes / 1e6:g} MB limit (use --max-size)"
            )
    if not text.strip("\ufeff \t\r\n\f\v"):
        return None, f"{item.where or item.document_id}: empty document (no text to score)"
    if not _valid_unicode(text):
        return None, (
            f"{item.where or item.document_id}: the text is not valid Unicode (a lone surrogate)"
        )
    return text, None


def _regular_or_missing(path: str) -> bool:
    """True for a regular file (after symlinks) or a path that is gone (reading it then says so)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return True


def _score_texts(model: Any, texts: list[str], ids: list[str]) -> list[Any]:
    """Scores for each text (or the exception it raised), batched where possible."""
    try:
        return list(model.score_many(texts, document_ids=ids, evidence=False))
    except Exception:  # one bad document must not sink the batch: retry one by one
        results: list[Any] = []
        for text, document_id in zip(texts, ids, strict=True):
            try:
                results.append(
                    model.score_many([text], document_ids=[document_id], evidence=False)[0]
                )
            except Exception as exc:
                results.append(exc)
        return results


def score_batch(
    model: Any, items: list[_Item], max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[pa.Table, pa.Table]:
    """Score a batch of items: the sentence rows and the document rows (failures included)."""
    devices = list(model.devices)
    sentence_schema, document_schema = _schemas(devices)
    texts: dict[int, str] = {}
    errors: dict[int, str] = {}
    for number, item in enumerate(items):
        text, error = _read(item, max_bytes)
        if error is not None:
            errors[number] = error
        else:
            texts[number] = text
    order = list(texts)
    scored = _score_texts(model, [texts[n] for n in order], [items[n].document_id for n in order])
    results = dict(zip(order, scored, strict=True))

    sentence_rows: dict[str, list] = {field.name: [] for field in sentence_schema}
    document_rows: dict[str, list] = {field.name: [] for field in document_schema}
    for number, item in enumerate(items):
        result = results.get(number)
        if isinstance(result, Exception):
            errors[number] = f"{item.document_id}: scoring failed: {_one_line(result)}"
        elif result is not None and not result.sentences:
            errors[number] = f"{item.document_id}: empty document (no sentences)"
        common = {
            "position": item.position,
            "document_id": item.document_id,
            "source": item.source,
            "date": item.date,
        }
        for name, value in common.items():
            document_rows[name].append(value)
        document_rows["fingerprint"].append(item.fingerprint)
        if number in errors:
            document_rows["status"].append("failed")
            document_rows["error"].append(_printable(errors[number]))
            for name in ["sentences", "flagged", "propaganda_score", *devices]:
                document_rows[name].append(None)
            continue
        summary = result.summary
        counts = summary.get("devices", {})
        document_rows["status"].append("ok")
        document_rows["error"].append(None)
        document_rows["sentences"].append(int(summary["sentences"]))
        document_rows["flagged"].append(int(summary["flagged"]))
        document_rows["propaganda_score"].append(float(summary["propaganda_score"]))
        for device in devices:
            document_rows[device].append(int(counts.get(device, 0)))
        for sentence in result.sentences:
            for name, value in common.items():
                sentence_rows[name].append(value)
            sentence_rows["sentence_index"].append(int(sentence.index))
            sentence_rows["start"].append(int(sentence.start))
            sentence_rows["end"].append(int(sentence.end))
            sentence_rows["text"].append(sentence.text)
            sentence_rows["propaganda"].append(float(sentence.propaganda))
            for device in devices:
                sentence_rows[device].append(float(sentence.devices.get(device, 0.0)))
            sentence_rows["labels"].append(list(sentence.labels))
    return (
        pa.Table.from_pydict(sentence_rows, schema=sentence_schema),
        pa.Table.from_pydict(document_rows, schema=document_schema),
    )


# --- writing a finished batch (in the workers, or in the driver as a fallback) ------------------


@dataclass(frozen=True)
class _Target:
    """Where a finished batch goes: the run's parts folder and the token of the run that owns it."""

    folder: str
    token: str


@dataclass(frozen=True)
class _Receipt:
    """What a worker sends back for one batch. ``tables`` is set only when the worker could not
    write the parts itself (the folder is not visible from it); the driver then writes them."""

    number: int
    documents: int
    failed: int
    tables: tuple[pa.Table, pa.Table] | None = None


def _part_name(kind: str, number: int) -> str:
    return f"{kind}-{number:06d}.parquet"


def _owns(folder: Path, token: str) -> bool:
    try:
        return (folder / _OWNER_FILE).read_text(encoding="utf-8") == token
    except OSError:
        return False


def _write_part(
    folder: Path, number: int, sentences: pa.Table, documents: pa.Table, token: str
) -> bool:
    """Write one batch's two parts atomically, the documents part last; False (nothing written)
    when the folder is not this run's: not visible from here, or taken over by a newer run.

    Temporary names are unique to the writer so that two processes never share one. The owner
    check sits after the slow part (writing the temporary files) and just before the renames, so
    a worker orphaned by a killed driver writes nothing once a rerun has claimed the folder.
    Each file reaches the disk before its rename, and the sentences part's rename before the
    documents part's (see _durable_replace).
    """
    if not _owns(folder, token):
        return False
    unique = f"{os.getpid()}-{secrets.token_hex(4)}.tmp"
    renames = []
    try:
        for kind, table in (("sentences", sentences), ("documents", documents)):
            final = folder / _part_name(kind, number)
            temporary = final.with_name(f"{final.name}.{unique}")
            renames.append((temporary, final))
            pq.write_table(table, temporary)
            _fsync_file(temporary)
        if not _owns(folder, token):
            raise FileNotFoundError(folder / _OWNER_FILE)
        for temporary, final in renames:  # documents last: its presence marks the batch done
            _durable_replace(temporary, final)
    except OSError:
        for temporary, _ in renames:
            with contextlib.suppress(OSError):
                temporary.unlink()
        return False
    return True


def _score_and_write(
    model: Any, number: int, items: list[_Item], max_bytes: int, target: _Target
) -> _Receipt:
    """Score one batch and write its parts where it ran; ship the tables back only if that fails."""
    sentences, documents = score_batch(model, items, max_bytes)
    failed = documents.column("status").to_pylist().count("failed")
    written = _write_part(Path(target.folder), number, sentences, documents, target.token)
    return _Receipt(number, documents.num_rows, failed, None if written else (sentences, documents))


# --- backends: where batches run ------------------------------------------------------------------

_WORKER_MODEL: Any = None


def _one_thread_per_worker() -> None:
    # Parallelism comes from the workers; BLAS/OpenMP threads inside each would oversubscribe
    # the cores (Dask's nanny sets the same limits through environment variables).
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _exit_with_parent() -> None:
    """End this pool worker when its driver dies (kill -9 included): otherwise it lingers
    forever, holding a copy of the model. Dask's nannies already do this for Dask workers."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="proplens-parent-watch", daemon=True).start()


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold SIGINT back from this thread (and processes it starts) until the block ends."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no signal masks
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _init_worker(model_path: str, sha256: str) -> None:
    """Process-pool initializer: unpickle the model once for the life of the worker, from the
    file the driver wrote (``model_path``) and only if it still has the driver's ``sha256``."""
    global _WORKER_MODEL
    # Ctrl-C reaches every process of the terminal's process group. The driver stops the run; a
    # worker interrupted too printed tracebacks and, caught holding the pool's queue lock, could
    # leave the driver waiting for it forever.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):  # blocked at start (see _run_pool); now ignored
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _one_thread_per_worker()
    if os.name == "posix":  # a dead parent shows as a changed parent pid on POSIX only
        _exit_with_parent()
    with open(model_path, "rb") as file:
        model_bytes = file.read()
    if hashlib.sha256(model_bytes).hexdigest() != sha256:
        raise ProplensError(f"{model_path}: the model file changed after the driver wrote it")
    _WORKER_MODEL = pickle.loads(model_bytes)


def _score_in_worker(number: int, items: list[_Item], max_bytes: int, target: _Target) -> _Receipt:
    return _score_and_write(_WORKER_MODEL, number, items, max_bytes, target)


try:  # distributed is an optional extra ("batch"); only --dask needs it.
    from distributed import WorkerPlugin as _WorkerPlugin
except ImportError:  # pragma: no cover
    _WorkerPlugin = object


class ModelPlugin(_WorkerPlugin):
    """Dask worker plugin holding the model: unpickled once per worker when the plugin arrives."""

    name = _DASK_PLUGIN

    def __init__(self, model_bytes: bytes) -> None:
        self.model_bytes = model_bytes
        self.model: Any = None

    def setup(self, worker: Any) -> None:
        _one_thread_per_worker()
        self.model = pickle.loads(self.model_bytes)

    def teardown(self, worker: Any) -> None:
        self.model = None


def _score_on_dask(number: int, items: list[_Item], max_bytes: int, target: _Target) -> _Receipt:
    from distributed import get_worker

    model = get_worker().plugins[_DASK_PLUGIN].model
    return _score_and_write(model, number, items, max_bytes, target)


Batch = tuple[int, list[_Item]]  # the part number, and the items


def _run_serial(
    model: Any, batches: Iterable[Batch], max_bytes: int, target: _Target
) -> Iterator[_Receipt]:
    for number, items in batches:
        yield _score_and_write(model, number, items, max_bytes, target)


def _bounded(
    submit: Callable[[Batch], Any],
    wait_first: Callable[[set], tuple[set, set]],
    result: Callable[[Any], _Receipt],
    batches: Iterable[Batch],
    in_flight: int,
) -> Iterator[_Receipt]:
    """Submit batches keeping at most ``in_flight`` pending, yielding results as they finish."""
    pending: set = set()
    for batch in batches:
        pending.add(submit(batch))
        if len(pending) >= in_flight:
            done, pending = wait_first(pending)
            for future in done:
                yield result(future)
    while pending:
        done, pending = wait_first(pending)
        for future in done:
            yield result(future)


@contextlib.contextmanager
def _model_file(model_bytes: bytes) -> Iterator[str]:
    """``model_bytes`` in a private temporary file (mode 0600), removed when the block ends."""
    handle, path = tempfile.mkstemp(prefix="proplens-model-", suffix=".pkl")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(model_bytes)
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _run_pool(
    model_bytes: bytes, workers: int, batches: Iterable[Batch], max_bytes: int, target: _Target
) -> Iterator[_Receipt]:
    import multiprocessing
    from concurrent.futures.process import BrokenProcessPool

    # spawn, not fork: the driver runs a progress-bar thread, and forking a threaded process can
    # deadlock; spawn also behaves the same on Linux, macOS and Windows.
    context = multiprocessing.get_context("spawn")
    # The model reaches the workers as a file, not as initializer bytes: spawn writes a worker's
    # arguments into a pipe whose reading end the driver holds open until the write is done, so
    # a worker that died while starting (an unguarded script, a failed import) left the driver
    # blocked for ever on the pipe's full buffer. A path fits in the buffer.
    sha256 = hashlib.sha256(model_bytes).hexdigest()
    with (
        _model_file(model_bytes) as model_path,
        ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(model_path, sha256),
        ) as pool,
    ):

        def wait_first(pending: set[Future]) -> tuple[set, set]:
            done, rest = wait(pending, return_when=FIRST_COMPLETED)
            return set(done), set(rest)

        def submit(batch: Batch) -> Future:
            # submit() starts a worker when none is idle. One started while SIGINT is blocked
            # keeps it blocked from its first instruction (the mask survives fork and exec), so
            # a Ctrl-C during its imports cannot interrupt it; _init_worker then ignores SIGINT.
            # The driver's own Ctrl-C waits until submit returns, then stops the run as usual.
            with _sigint_deferred():
                return pool.submit(_score_in_worker, *batch, max_bytes, target)

        try:
            yield from _bounded(
                submit,
                wait_first,
                lambda future: future.result(),
                batches,
                in_flight=2 * workers,
            )
        except BrokenProcessPool:
            raise ProplensError(
                "a worker process ended abruptly (killed, out of memory, or it could not start: "
                'from a script, call score_corpus under `if __name__ == "__main__":`); the '
                "batches finished so far are kept: rerun the same command to resume (with fewer "
                "--workers if memory is short)"
            ) from None
        except BaseException:
            # Interrupted: batches not started yet are dropped, not scored before stopping.
            pool.shutdown(wait=True, cancel_futures=True)
            raise


#: Dask settings for the LocalCluster that ``--dask local`` starts. By default every worker runs a
#: statistical profiler every 10 ms, every server (scheduler, nannies, workers, client) ticks its
#: event loop every 20 ms, and the nannies check memory ten times a second. On a 2-core machine
#: that monitoring took about 10% of the CPU the scoring needed (measured on 3,000 documents:
#: 2.0-2.4 CPU-s in the workers outside the scoring tasks with the defaults, 0.5 with these), and
#: nobody looks at it: the cluster has no dashboard and lives for one run. The nannies also start
#: workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which turns off glibc's adaptive mmap threshold:
#: every array above 128 KB is then mapped and unmapped afresh, and scoring took 4% more CPU
#: inside the tasks than in a ``--workers`` process (20.2 vs 19.4 CPU-s for 3,000 documents);
#: unset, the two match and worker memory stays within the 500 MB budget. A remote cluster keeps
#: its own settings.
_QUIET_LOCAL_CLUSTER = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
}


@contextlib.contextmanager
def dask_client(address: str, workers: int) -> Iterator[Any]:
    """A client for ``address`` ("local" starts a LocalCluster of ``workers`` single-thread
    processes, closed on exit)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError(
            "--dask needs the 'distributed' package: pip install 'proplens[batch]'"
        ) from None
    if address == "local":
        import dask

        with dask.config.set(_QUIET_LOCAL_CLUSTER):
            cluster = LocalCluster(
                n_workers=max(workers, 1),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            try:
                with Client(cluster) as client:
                    yield client
            finally:
                cluster.close()
    else:
        try:
            client = Client(address, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise InputError(f"--dask {address}: cannot reach the scheduler ({exc})") from None
        except ValueError as exc:  # no port, unknown protocol
            raise InputError(
                f"--dask {address}: not a scheduler address ({exc}); use 'local' or tcp://host:port"
            ) from None
        with client:
            yield client


def _run_dask(
    client: Any, model_bytes: bytes, batches: Iterable[Batch], max_bytes: int, target: _Target
) -> Iterator[_Receipt]:
    from distributed import wait as dask_wait

    client.register_plugin(ModelPlugin(model_bytes), name=_DASK_PLUGIN)
    threads = sum(client.nthreads().values()) or 1

    def wait_first(pending: set) -> tuple[set, set]:
        done, rest = dask_wait(list(pending), return_when="FIRST_COMPLETED")
        return set(done), set(rest)

    def gather(future: Any) -> _Receipt:
        value = future.result()
        future.release()
        return value

    yield from _bounded(
        lambda batch: client.submit(_score_on_dask, *batch, max_bytes, target, pure=False),
        wait_first,
        gather,
        batches,
        in_flight=2 * threads,
    )


# --- parts: resumable output ----------------------------------------------------------------------


class _Parts:
    """The ``OUT.parts/`` folder: numbered sentence/document part files, a run description, and the
    token of the run writing into it (``owner``)."""

    def __init__(self, folder: Path, run: dict[str, Any], resume: bool) -> None:
        self.folder = folder
        self.run = run
        self.token = secrets.token_hex(16)
        #: ids that more than one documents part may hold: found so by done(), or handed out to
        #: be scored again because they changed (see changed()). consolidate() keeps each one's
        #: rows from its newest part only and removes the older rows from the folder.
        self.superseded: set[str] = set()
        folder.mkdir(parents=True, exist_ok=True)
        if not resume:
            # Start over only when the first batch is handed out (see numbered): a run that stops
            # before that (a duplicate id, a bad --dask address) must not have emptied the folder.
            # Claiming it now already stops workers of a killed run from writing into it.
            _atomic_write_bytes(folder / _OWNER_FILE, self.token.encode("utf-8"))
            self.stale = True
            self.sequence = 0
            return
        self.stale = False
        run_file = folder / _RUN_FILE
        if run_file.exists():
            previous = json.loads(run_file.read_text(encoding="utf-8"))
            if not isinstance(previous, dict):
                raise ValueError(f"{_RUN_FILE} is not a JSON object")
            # Parts of an older proplens record no sha256: the name and version then decide.
            compared = (
                run if "sha256" in previous else {k: v for k, v in run.items() if k != "sha256"}
            )
            if previous.get("format") != run.get("format"):
                # Format 1 parts have no fingerprints: resuming them would keep the scores of
                # every document edited since, unseen (see PARTS_FORMAT).
                raise InputError(
                    f"{folder}: was written by another proplens (parts format "
                    f"{previous.get('format')}, this one writes {run.get('format')}); rerun with "
                    "--no-resume to start over"
                )
            if previous != compared:
                what = f"model {previous.get('model')} {previous.get('version')}"
                if previous.get("sha256", run.get("sha256")) != run.get("sha256"):
                    what += f" (a model file with sha256 {str(previous['sha256'])[:12]}…)"
                raise InputError(
                    f"{folder}: was started with {what} and other settings; rerun with "
                    "--no-resume to start over"
                )
        else:
            _atomic_write_bytes(run_file, json.dumps(run, indent=2).encode("utf-8"))
        # Claim the folder before cleaning it: from now on a worker of an earlier, killed run
        # (still finishing its batch) sees another token and writes nothing.
        _atomic_write_bytes(folder / _OWNER_FILE, self.token.encode("utf-8"))
        self._clean()
        self.sequence = max((self._number(p) for p in self._documents_parts()), default=-1) + 1

    @staticmethod
    def _number(path: Path) -> int:
        return int(path.stem.rsplit("-", 1)[1])

    def _documents_parts(self) -> list[Path]:
        """Oldest first: by number, as names sort wrongly past documents-999999."""
        return sorted(self.folder.glob("documents-*.parquet"), key=self._number)

    def sentence_part(self, number: int) -> Path:
        return self.folder / _part_name("sentences", number)

    @property
    def target(self) -> _Target:
        """Where workers write their parts (an absolute path: workers may run elsewhere)."""
        return _Target(str(self.folder.resolve()), self.token)

    def _clean(self) -> None:
        """Remove what a killed run left half-written: temp files and unmatched sentence parts."""
        for temporary in self.folder.glob("*.tmp"):
            temporary.unlink()
        finished = {self._number(p) for p in self._documents_parts()}
        for part in self.folder.glob("sentences-*.parquet"):
            if self._number(part) not in finished:
                part.unlink()

    def done(self) -> dict[str, str | None]:
        """Ids scored by earlier runs, each with the fingerprint of the content scored; failed
        documents are dropped from their parts, to retry.

        A document rescored because it changed is in a newer part than its earlier rows, which
        stay until consolidate() removes them; a run killed in between leaves both. Parts are
        read oldest first, so the newest fingerprint wins, and such ids are noted for
        consolidate() to finish the removal."""
        done: dict[str, str | None] = {}
        for part in self._documents_parts():
            table = pq.read_table(part)
            status = table.column("status").to_pylist()
            if "failed" in status:
                keep = pa.array([s != "failed" for s in status])
                _atomic_write_table(table.filter(keep), part)
                table = table.filter(keep)
            ids = table.column("document_id").to_pylist()
            fingerprints = table.column("fingerprint").to_pylist()
            for document_id, fingerprint in zip(ids, fingerprints, strict=True):
                if document_id in done:
                    self.superseded.add(document_id)
                done[document_id] = fingerprint
        return done

    def changed(self, document_id: str) -> None:
        """``document_id`` is handed out to be scored again: its earlier rows become stale."""
        self.superseded.add(document_id)

    def numbered(self, batches: Iterable[list[_Item]]) -> Iterator[Batch]:
        """Give each batch its part number up front, so whoever scores it can write it."""
        for items in batches:
            if self.stale:
                self._start_over()
            yield self.sequence, items
            self.sequence += 1

    def _start_over(self) -> None:
        """--no-resume: remove the earlier run's files (all but this run's owner token)."""
        with _writing(self.folder):
            for file in self.folder.iterdir():
                if file.name != _OWNER_FILE:
                    file.unlink()
            run = json.dumps(self.run, indent=2).encode("utf-8")
            _atomic_write_bytes(self.folder / _RUN_FILE, run)
        self.stale = False

    def write(self, number: int, sentences: pa.Table, documents: pa.Table) -> None:
        """The driver's fallback, for a batch whose worker could not see the folder."""
        if not _owns(self.folder, self.token):
            raise InputError(
                f"{self.folder}: another score-corpus run started writing here; "
                "run one at a time per output"
            )
        _atomic_write_table(sentences, self.sentence_part(number))
        # Written last: its presence is what marks the batch as done.
        _atomic_write_table(documents, self.folder / _part_name("documents", number))

    def consolidate(
        self,
        output: Path,
        summary: Path,
        schemas: tuple[pa.Schema, pa.Schema],
        positions: dict[str, int],
    ) -> int:
        """Write the sorted sentence and document tables, one group of overlapping parts at a time,
        and return how many documents of the parts were left out as not in this run's input.

        ``positions`` maps each document id of this run's input to its position in it. The tables
        hold exactly those documents, in that order: parts an earlier run wrote for documents no
        longer in the input (a deleted file, another input scored into the same output) stay in
        the folder but not in the tables, and a document scored earlier takes its place in the
        input as it is now (a file added before it shifts it).

        A document rescored because its content changed has its rows in its newest part only:
        the older parts' rows of it are removed first (see _drop_rows), so the tables, and the
        parts folder once this returns, hold each document once.

        Parts cover runs of input positions; only parts from different runs can overlap, so each
        group is small and memory stays bounded by a few parts, not by the corpus.
        """
        spans = []
        left_out = 0
        seen: set[str] = set()  # superseded ids met so far, newest part first
        for part in reversed(self._documents_parts()):
            ids = pq.read_table(part, columns=["document_id"]).column("document_id").to_pylist()
            if self.superseded:
                stale = {i for i in ids if i in seen}
                seen.update(i for i in ids if i in self.superseded)
                if stale:
                    self._drop_rows(self._number(part), stale)
                    ids = [i for i in ids if i not in stale]
            current = [positions[i] for i in ids if i in positions]
            left_out += len(ids) - len(current)
            if current:
                spans.append((min(current), max(current), self._number(part)))
        spans.sort(key=lambda span: span[0])
        groups: list[list[int]] = []
        high = None
        for low, top, number in spans:
            if high is None or low > high:
                groups.append([])
                high = top
            else:
                high = max(high, top)
            groups[-1].append(number)
        sentence_schema, document_schema = schemas
        final = [(sentence_schema, output, "sentence"), (document_schema, summary, "document")]
        temporaries = [target.with_name(target.name + ".tmp") for _, target, _ in final]
        try:
            for (schema, _, kind), temporary in zip(final, temporaries, strict=True):
                keys = [("position", "ascending")]
                if kind == "sentence":
                    keys.append(("sentence_index", "ascending"))
                internal = [name for name in _INTERNAL_COLUMNS if name in schema.names]
                public = pa.schema(
                    [field for field in schema if field.name not in internal],
                    metadata=schema.metadata,
                )
                with pq.ParquetWriter(temporary, public) as writer:
                    # Groups follow each other in input order, so consecutive ones are gathered
                    # into row groups of about _ROW_GROUP_ROWS rows: one row group per batch made
                    # thousands of tiny ones, whose metadata the writer holds until it closes
                    # (+130 MB for 100,000 documents in batches of 32) and readers wade through.
                    pending: list[pa.Table] = []
                    rows = 0
                    for group in groups:
                        tables = []
                        for number in group:
                            name = _part_name(f"{kind}s", number)
                            table = pq.read_table(self.folder / name, schema=schema)
                            tables.append(_in_input(table, positions))
                        merged = pa.concat_tables(tables).sort_by(keys).drop(internal)
                        pending.append(merged)
                        rows += merged.num_rows
                        if rows >= _ROW_GROUP_ROWS:
                            writer.write_table(pa.concat_tables(pending))
                            pending, rows = [], 0
                    if pending:
                        writer.write_table(pa.concat_tables(pending))
                _fsync_file(temporary)
            # Both tables are complete before either replaces the last run's: a failure while
            # writing the second (a full disk) no longer leaves a new sentence table next to an
            # old documents table.
            for (_, target, _), temporary in zip(final, temporaries, strict=True):
                os.replace(temporary, target)
            _fsync_folder(output.parent)
        except BaseException:  # interrupted or failed: leave no half-written table behind
            for temporary in temporaries:
                with contextlib.suppress(OSError):
                    temporary.unlink()
            raise
        return left_out

    def _drop_rows(self, number: int, ids: set[str]) -> None:
        """Remove the rows of ``ids`` from part ``number``: a newer part holds them again.

        The order makes a kill at any moment harmless. The sentences part loses them first,
        then the documents part, so no documents part ever lacks a document whose sentences
        its sentences part still has (which would put them in the tables twice); while it still
        lists them, done() sees the ids twice and the next run removes them again. A part left
        with no row goes, documents part first: its sentences part is then unmatched, which
        _clean() removes, while a documents part without its sentences part would be damaged.
        """
        documents_part = self.folder / _part_name("documents", number)
        sentences_part = self.sentence_part(number)
        documents = pq.read_table(documents_part)
        stale_ids = pa.array(sorted(ids), pa.string())
        keep = pc.invert(pc.is_in(documents.column("document_id"), value_set=stale_ids))
        if not pc.any(keep).as_py():
            documents_part.unlink()
            _fsync_folder(self.folder)
            sentences_part.unlink(missing_ok=True)
            return
        sentences = pq.read_table(sentences_part)
        stale = pc.is_in(sentences.column("document_id"), value_set=stale_ids)
        _atomic_write_table(sentences.filter(pc.invert(stale)), sentences_part)
        _atomic_write_table(documents.filter(keep), documents_part)


def _in_input(table: pa.Table, positions: dict[str, int]) -> pa.Table:
    """The rows of a part whose document is in the input, with its position there."""
    ids = pc.unique(table.column("document_id")).to_pylist()
    index = pc.index_in(table.column("document_id"), value_set=pa.array(ids, pa.string()))
    current = pc.take(pa.array([positions.get(i) for i in ids], pa.int64()), index)
    table = table.set_column(table.schema.get_field_index("position"), "position", current)
    return table.filter(pc.is_valid(current))


def _atomic_write_table(table: pa.Table, path: Path) -> None:
    temporary = path.with_name(path.name + ".tmp")
    pq.write_table(table, temporary)
    _fsync_file(temporary)
    _durable_replace(temporary, path)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    _durable_replace(temporary, path)


def _durable_replace(temporary: Path, path: Path) -> None:
    """Rename ``temporary`` (already on disk, see _fsync_file) over ``path`` and put the rename
    itself on disk before returning.

    A file system may put a rename on disk before the data it names unless that data was flushed
    first: after a power cut, a part could exist under its final name but empty or truncated, and
    a rerun would take it for a finished batch. Flushing the folder after each rename keeps the
    order of two writes: a documents part (which marks its batch done) is never on disk without
    its sentences part, and a documents part rewritten without a document's rows is never on disk
    before its sentences part lost them too (see _Parts._drop_rows). It costs about a millisecond
    per file, next to the tenths of a second a batch takes to score."""
    os.replace(temporary, path)
    _fsync_folder(path.parent)


def _fsync_file(path: Path) -> None:
    """Flush a file that pyarrow wrote and closed (it gives no handle to flush) to the disk."""
    descriptor = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (renames, removals) to the disk where the system allows it
    (Windows cannot open a folder; a few file systems refuse to flush one)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


# --- the run --------------------------------------------------------------------------------------


@contextlib.contextmanager
def _intact(folder: Path) -> Iterator[None]:
    """A parts folder that cannot be parsed (a corrupt ``run.json`` or part file, a stray file
    named like a part) is one line telling how to start over, not the parser's traceback.
    OSError is left to :func:`_writing`."""
    try:
        yield
    except (ProplensError, OSError):
        raise
    except Exception as exc:  # json, pyarrow and int() errors share no base class
        raise DataError(
            f"{folder}: damaged parts of an earlier run ({_one_line(exc)}); rerun with "
            "--no-resume to start over, or remove the folder"
        ) from None


@contextlib.contextmanager
def _writing(output: Path) -> Iterator[None]:
    """An output folder that cannot be created or written is one line, not a traceback."""
    try:
        yield
    except PermissionError as exc:
        raise ProplensError(
            f"{output}: permission denied, cannot write {exc.filename or 'there'}"
        ) from None
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        raise ProplensError(f"{output}: cannot write{where} ({exc.strerror or exc})") from None


@contextlib.contextmanager
def _no_trace_if_stopped(output: Path) -> Iterator[None]:
    """A run that stops before scoring anything (a duplicate id, a bad --dask address, Ctrl-C)
    removes what it created: its parts folder while that holds only ``run.json`` and ``owner``,
    and the output's folders while empty. Folders that were there before are left alone, so
    an earlier finished or resumable run is never removed; nor is a part, once written."""
    folder = parts_path(output)
    created = [path for path in (folder, *output.parents) if not path.exists()]
    try:
        yield
    except BaseException:
        if folder in created:
            with contextlib.suppress(OSError):
                names = {entry.name for entry in folder.iterdir()}
                if names <= {_OWNER_FILE, _RUN_FILE}:
                    # The token first: a worker still starting then writes nothing.
                    for name in (_OWNER_FILE, _RUN_FILE):
                        with contextlib.suppress(FileNotFoundError):
                            (folder / name).unlink()
        for path in created:  # innermost first; rmdir removes only an empty folder
            with contextlib.suppress(OSError):
                path.rmdir()
        raise


def _usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return os.cpu_count() or 1


def _resolve_model(model: Any) -> Any:
    if model is None or isinstance(model, str | Path):
        import proplens

        return proplens.load_model(model)
    return model


def _batches(
    items: Iterator[_Item],
    done: dict[str, str | None],
    batch_size: int,
    on_skip: Callable[[], None],
    on_changed: Callable[[str], None],
) -> Iterator[list[_Item]]:
    batch: list[_Item] = []
    for item in items:
        if item.document_id in done:
            if item.fingerprint is not None and item.fingerprint == done[item.document_id]:
                on_skip()
                continue
            on_changed(item.document_id)
        batch.append(item)
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


@contextlib.contextmanager
def _progress(enabled: bool, total: int | None) -> Iterator[Callable[[int, int], None]]:
    """A bar over ``total`` documents; the callable advances it by ``n`` documents and, first,
    raises its total by ``more`` (documents scored again because they changed, which ``total``
    counted as done)."""
    if not enabled:
        yield lambda n, more=0: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.1f} docs/s" if speed else "… docs/s")

    progress = Progress(
        TextColumn("scoring"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
        # Twice a second is plenty for a bar; the default 10 redraws a second cost driver CPU
        # that, on a small machine, the workers could use.
        refresh_per_second=2,
    )
    with progress:
        task = progress.add_task("scoring", total=total)
        expected = total

        def advance(n: int, more: int = 0) -> None:
            nonlocal expected
            if more and expected is not None:
                expected += more
                progress.update(task, total=expected)
            progress.advance(task, n)

        yield advance


_UNGUARDED_SCRIPT = (
    "score_corpus was called while a worker process was starting: workers start by importing "
    "the main script, so a script that scores with workers must call it under "
    '`if __name__ == "__main__":`'
)


def _refuse_while_a_worker_starts() -> None:
    """Stop a worker that runs ``score_corpus`` while it imports an unguarded main script.

    A "spawn" worker imports the script that started the run (as ``__mp_main__``); a call at
    the script's top level then runs again inside the worker, which waited on the output folder
    the driver holds, so the worker never started and the driver waited for it for ever. Failing
    here ends the worker at once: the driver sees a worker that could not start and says why."""
    import multiprocessing

    # what multiprocessing itself checks before it starts a process (a private attribute, set
    # while a spawned process imports the main script; absent elsewhere)
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise ProplensError(_UNGUARDED_SCRIPT)


def score_corpus(
    input: str | Path,
    output: Path,
    *,
    workers: int = 1,
    dask: str | None = None,
    model: Any = None,
    text_column: str = "text",
    id_column: str = "id",
    resume: bool = True,
    progress: bool = True,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> BatchResult:
    """Score every document of ``input`` and write ``output`` and its per-document table.

    ``input`` is a folder of .txt/.html files, a .jsonl/.csv/.parquet table (column ``text_column``,
    optional ``id_column``, ``source`` and ``date``), or a glob of those. ``model`` is a loaded
    model, a model path, or None for the current default. ``workers > 1`` scores in that many
    processes; ``dask`` ("local" or a scheduler address such as ``tcp://host:8786``) scores on a
    Dask cluster (``workers`` then sizes the local cluster). Documents that fail are recorded with
    their error and counted in :attr:`BatchResult.failed`; the run goes on.

    Example::

        result = score_corpus("articles/", Path("scores.parquet"), workers=2)
        print(result.scored, result.failed)
    """
    _refuse_while_a_worker_starts()
    if workers < 1:
        raise ValidationError(f"--workers must be at least 1, got {workers}")
    if batch_size < 1:
        raise ValidationError(f"--batch-size must be at least 1, got {batch_size}")
    if max_bytes <= 0:
        raise ValidationError(f"--max-size must be above 0 megabytes, got {max_bytes / 1e6:g}")
    if dask is None or dask == "local":
        # Each worker holds its own copy of the model (about 400 MB) and scoring is CPU-bound:
        # workers beyond the CPUs add no speed, only memory (--workers 100 on two cores started
        # up to 100 model copies).
        usable = _usable_cpus()
        if workers > usable:
            log.warning(
                "--workers %d is more than the %d CPU(s) this process may use; using %d",
                workers,
                usable,
                usable,
            )
            workers = usable
    began = time.perf_counter()
    output = Path(output)
    if output.suffix != ".parquet":
        raise InputError(f"{output}: the output must be a .parquet file")
    for table in (output, documents_path(output)):
        if table.is_dir():
            raise ProplensError(f"{table}: is a folder; give a file name to write")
    with _no_trace_if_stopped(output):
        with _writing(output):
            output.parent.mkdir(parents=True, exist_ok=True)
        total, items = _count_and_iter(
            input,
            text_column=text_column,
            id_column=id_column,
            batch_size=batch_size,
            output=output,
        )
        model = _resolve_model(model)
        devices = list(model.devices)
        run = {
            "format": PARTS_FORMAT,
            "model": getattr(model, "name", type(model).__name__),
            "version": str(getattr(model, "version", "")),
            "devices": devices,
            "text_column": text_column,
            "id_column": id_column,
        }
        # Name and version alone would let a model retrained or copied under the same name mix
        # its scores with the first one's; a saved model's file hash tells them apart.
        artifact = getattr(getattr(model, "metadata", None), "artifact", None) or {}
        if artifact.get("sha256"):
            run["sha256"] = artifact["sha256"]
        with _writing(output), _intact(parts_path(output)):
            parts = _Parts(parts_path(output), run, resume)
            done = parts.done() if resume else {}
        counts = {"skipped": 0, "scored": 0, "failed": 0, "rescored": 0}
        positions: dict[str, int] = {}  # every input document: what the tables will hold

        def skip() -> None:
            counts["skipped"] += 1

        def changed(document_id: str) -> None:
            counts["rescored"] += 1
            parts.changed(document_id)

        def listed(items: Iterator[_Item]) -> Iterator[_Item]:
            for item in items:
                positions[item.document_id] = item.position
                yield item

        remaining = None if total is None else max(total - len(done), 0)
        batches = parts.numbered(_batches(listed(items), done, batch_size, skip, changed))
        target = parts.target
        counted = 0  # rescored documents the bar's total already includes
        with _progress(progress, remaining) as advance, contextlib.ExitStack() as stack:
            if dask is not None or workers > 1:
                # The workers get their own copy; the driver needs only the bytes to ship.
                model_bytes, model = pickle.dumps(model), None
            if dask is not None:
                client = stack.enter_context(dask_client(dask, workers))
                receipts = _run_dask(client, model_bytes, batches, max_bytes, target)
            elif workers > 1:
                receipts = _run_pool(model_bytes, workers, batches, max_bytes, target)
            else:
                receipts = _run_serial(model, batches, max_bytes, target)
            # Closed on the way out even when Ctrl-C lands in this loop rather than inside the
            # generator: the worker pool then shuts down now, not at interpreter exit.
            receipts = stack.enter_context(contextlib.closing(receipts))
            # Workers write their own parts and send back only counts: the driver stays idle, so
            # on a small machine the cores go to scoring. Tables come back only from a worker that
            # cannot see the parts folder (a remote cluster without shared storage).
            for receipt in receipts:
                if receipt.tables is not None:
                    with _writing(output):
                        parts.write(receipt.number, *receipt.tables)
                counts["failed"] += receipt.failed
                counts["scored"] += receipt.documents - receipt.failed
                # documents handed out again because they changed were counted as done in the
                # bar's total: it grows by them, so it ends at 100 %, not past it
                advance(receipt.documents, counts["rescored"] - counted)
                counted = counts["rescored"]
    summary = documents_path(output)
    with _writing(output), _intact(parts.folder):
        left_out = parts.consolidate(output, summary, _schemas(devices), positions)
    return BatchResult(
        documents=counts["scored"] + counts["skipped"] + counts["failed"],
        scored=counts["scored"],
        skipped=counts["skipped"],
        failed=counts["failed"],
        output=output,
        summary=summary,
        seconds=time.perf_counter() - began,
        left_out=left_out,
        rescored=counts["rescored"],
    )


# --- command functions (registered by the CLI) ---------------------------------------------------

try:  # Typer is a core dependency, but keep the library importable without it.
    import typer

    _option = typer.Option
    _argument = typer.Argument
    _OUTPUT = typer.Option(
        ..., "-o", "--output", metavar="FILE", help="Sentence table to write (.parquet)."
    )
except ImportError:  # pragma: no cover
    _OUTPUT = None

    def _option(*args: Any, **kwargs: Any) -> None:
        return None

    _argument = _option


@contextlib.contextmanager
def _stop_on_sigterm(output: Path) -> Iterator[None]:
    """Stop on SIGTERM as on Ctrl-C: a one-line message, worker processes shut down, half-written
    tables removed and (before the first batch) the new parts folder too. Python's default is to
    die at once, which left all of that behind and said nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM kills at once
        raise TerminatedError(
            f"terminated (SIGTERM); the batches finished so far are kept in {parts_path(output)}: "
            "rerun the same command to resume"
        )

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def score_corpus_command(
    input: Annotated[
        str,
        _argument(
            metavar="INPUT", help="A folder of .txt/.html files, or a CSV, JSONL or Parquet table."
        ),
    ],
    output: Path = _OUTPUT,
    workers: Annotated[
        int,
        _option(metavar="N", help="Worker processes (with --dask local: the cluster's workers)."),
    ] = 1,
    dask: Annotated[
        str | None,
        _option(
            metavar="SCHEDULER",
            help="Score on Dask: 'local', or a scheduler address tcp://HOST:PORT.",
        ),
    ] = None,
    model: Annotated[
        str | None,
        _option(
            metavar="MODEL", help="Model folder, NAME or NAME@VERSION; default: the current one."
        ),
    ] = None,
    trust: Annotated[
        bool, _option(help="Load a model file this installation did not produce.")
    ] = False,
    text_column: Annotated[
        str, _option(metavar="COLUMN", help="Text column of a JSONL/CSV/Parquet input.")
    ] = "text",
    id_column: Annotated[
        str, _option(metavar="COLUMN", help="Id column of a table (default ids: FILE:ROW).")
    ] = "id",
    no_resume: Annotated[
        bool, _option("--no-resume", help="Delete the parts of an earlier run and start over.")
    ] = False,
    max_size: Annotated[
        float, _option(metavar="MB", help="Megabytes above which a document is recorded as failed.")
    ] = DEFAULT_MAX_BYTES / 1_000_000,
    batch_size: Annotated[
        int, _option(metavar="N", help="Documents per batch (one part file each).")
    ] = DEFAULT_BATCH_SIZE,
    no_progress: Annotated[
        bool, _option("--no-progress", help="No progress bar (none is shown off a terminal).")
    ] = False,
) -> None:
    """Score a folder, a JSONL/CSV/Parquet table or a glob; write OUT.parquet and
    OUT.documents.parquet. Rerunning resumes. Exit code 5 when some documents failed."""
    if trust:  # score_corpus itself loads a named model only if the trust store knows it
        import proplens

        model = proplens.load_model(model, trust=True)
    with _stop_on_sigterm(output):
        result = score_corpus(
            input,
            output,
            workers=workers,
            dask=dask,
            model=model,
            text_column=text_column,
            id_column=id_column,
            resume=not no_resume,
            progress=not no_progress and sys.stderr.isatty(),
            batch_size=batch_size,
            max_bytes=int(max_size * 1_000_000),
        )
    # Rescored documents count in "scored" or "failed" too; this clause says why they ran again.
    changed = f", {result.rescored} rescored because the content changed" if result.rescored else ""
    earlier = (
        f", {result.left_out} scored earlier but not in this input left out"
        if result.left_out
        else ""
    )
    print(
        f"{result.documents} documents: {result.scored} scored, {result.skipped} already done, "
        f"{result.failed} failed{changed}{earlier} ({result.seconds:.1f} s) -> {result.output}, "
        f"{result.summary}"
    )
    if result.failed:
        raise FailedDocumentsError(
            f"{result.failed} of {result.documents} documents failed; their errors are in "
            f"{result.summary} (column 'error')"
        )


def report_command(
    scored: Annotated[
        Path,
        _argument(
            metavar="SCORED",
            help="The sentence table `proplens score-corpus -o` wrote (OUT.parquet), or its "
            "OUT.parts/ folder.",
        ),
    ],
    by: Annotated[
        str,
        _option(
            metavar="COLUMN", help="Column of the documents table to group by (source, date, ...)."
        ),
    ] = "source",
    freq: Annotated[
        str | None,
        _option(metavar="PERIOD", help="Read --by as dates, one group per D, W, M, Q or Y."),
    ] = None,
    out: Annotated[
        Path | None,
        _option(metavar="FILE", help="Also write the comparison: .html, .png, .svg or .csv."),
    ] = None,
) -> None:
    """Compare groups of a scored corpus (by source, date, ...): rates, mean score with a 95% CI,
    and a chart (--out report.html / report.png / table.csv)."""
    from proplens.group_report import format_table, group_report

    table = group_report(scored, by=by, freq=freq, out=out)
    print(format_table(table))
    if out is not None:
        print(f"wrote {out}")
