"""Compare groups of a scored corpus: by source, by month, or by any per-document column.

Reads the per-document table that :func:`proplens.batch.score_corpus` writes
(``OUT.documents.parquet``) and returns one row per group:

- ``documents``, ``sentences``, ``flagged_share`` (flagged sentences / sentences);
- ``<device> per 100`` for each device: sentences carrying it per 100 sentences;
- ``mean_score`` (the mean over documents of the document's propaganda score) and its 95%
  confidence interval ``ci_low``/``ci_high``.

The interval is a **percentile bootstrap over documents** (2,000 resamples, fixed seed): documents,
not sentences, are the independent units (sentences of one article share an author and a topic),
and document scores are bounded and skewed, where a t-interval would be poor for small groups.
A group of one document has no interval (NaN): resampling one score can only return it.
Only documents scored without error count.

``out`` writes a chart comparing the groups: ``.png`` (matplotlib), ``.html`` (the table and an
inline SVG chart, no external files) or ``.csv`` (the table only).
"""

from __future__ import annotations

import contextlib
import html
import io
import json
import logging
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from proplens.errors import DataError, InputError, ProplensError, ValidationError

__all__ = ["bootstrap_ci", "format_table", "group_report", "load_documents"]

log = logging.getLogger(__name__)

BOOTSTRAP_RESAMPLES = 2000
MISSING_GROUP = "(none)"
_BASE_COLUMNS = {
    "document_id",
    "source",
    "date",
    "status",
    "error",
    "sentences",
    "flagged",
    "propaganda_score",
}
#: The columns the report computes for each group (besides ``<device> per 100``).
STATISTICS = ["documents", "sentences", "flagged_share", "mean_score", "ci_low", "ci_high"]
#: The ``freq`` values the report accepts: one calendar day, week, month, quarter or year.
#: pandas takes more aliases, but ``to_period("2M")`` labels each month, not pairs of months.
FREQUENCIES = ("D", "W", "M", "Q", "Y")


def load_documents(scored: Path) -> pd.DataFrame:
    """The per-document table for ``scored``: OUT.parquet, OUT.documents.parquet or OUT.parts/.

    The parts folder holds the document rows of every finished batch, so a run that was stopped
    before it wrote OUT.documents.parquet can be compared too (rows come in input order).
    ``attrs["devices"]`` holds the device count columns when the table names them (score-corpus
    writes them into the Parquet metadata); tables without that list leave it out.
    """
    scored = Path(scored)
    from proplens.batch import documents_path

    if scored.is_dir():
        return _parts_documents(scored)
    candidates = [scored]
    if scored.name.endswith(".parquet") and not scored.name.endswith(".documents.parquet"):
        candidates.insert(0, documents_path(scored))
    for candidate in candidates:
        if candidate.is_file():
            try:
                table = pd.read_parquet(candidate)
                devices = _declared_devices(candidate)
            except Exception as exc:
                raise DataError(f"{candidate}: cannot read the Parquet file ({exc})") from None
            if "propaganda_score" not in table.columns or "sentences" not in table.columns:
                continue
            if devices is not None:
                table.attrs["devices"] = devices
            return table
    raise InputError(
        f"{scored}: no per-document table found (expected {candidates[0]} from score-corpus)"
    )


def _parts_documents(folder: Path) -> pd.DataFrame:
    """The document rows of a score-corpus ``OUT.parts/`` folder, in input order."""
    parts = sorted(folder.glob("documents-*.parquet"))
    if not parts:
        raise InputError(
            f"{folder}: no per-document table found (expected documents-*.parquet part files "
            "of a score-corpus OUT.parts/ folder, or OUT.documents.parquet)"
        )
    tables = []
    declared: list[str] | None = None
    for part in parts:
        try:
            tables.append(pd.read_parquet(part))
            devices = _declared_devices(part)
        except Exception as exc:
            raise DataError(f"{part}: cannot read the Parquet file ({exc})") from None
        declared = devices if declared is None else declared
    table = pd.concat(tables, ignore_index=True)
    if "position" in table.columns:
        table = table.sort_values("position", kind="stable").drop(columns="position")
    if "propaganda_score" not in table.columns or "sentences" not in table.columns:
        raise DataError(f"{folder}: the part files are not score-corpus document tables")
    table = table.reset_index(drop=True)
    if declared is not None:
        table.attrs["devices"] = declared
    return table


def _declared_devices(path: Path) -> list[str] | None:
    """The device count columns a score-corpus documents table names in its Parquet metadata
    (None for tables written before it did, or by other tools)."""
    import pyarrow.parquet as pq

    from proplens.batch import DEVICES_METADATA_KEY

    metadata = pq.read_schema(path).metadata or {}
    raw = metadata.get(DEVICES_METADATA_KEY.encode())
    if raw is None:
        return None
    devices = json.loads(raw)
    if not isinstance(devices, list) or not all(isinstance(d, str) for d in devices):
        raise ValueError(f"malformed {DEVICES_METADATA_KEY} metadata")
    return devices


def _device_columns(documents: pd.DataFrame) -> list[str]:
    """The columns that count sentences per device, reported as ``<device> per 100``.

    A table that names them (score-corpus writes the list into its Parquet metadata) is taken at
    its word. Otherwise (a table written before that, or rewritten by another tool after joining
    more per-document columns) they are its numeric columns named after a device of the taxonomy.
    Any other column is a per-document attribute to group by, never a device rate, so a column
    called ``documents`` (or ``outlet``, or ``words``) cannot pose as a device beside the
    report's own ``documents`` count.
    """
    declared = documents.attrs.get("devices")
    if declared is not None:
        return [c for c in declared if c in documents.columns]
    from proplens.taxonomy import load_taxonomy

    try:
        known: set[str] | None = set(load_taxonomy().names)
    except DataError:  # no readable taxonomy: every numeric column that is not ours
        known = None
    return [
        column
        for column in documents.columns
        if column not in _BASE_COLUMNS
        and column not in STATISTICS
        and (known is None or column in known)
        and pd.api.types.is_numeric_dtype(documents[column])
        and not pd.api.types.is_bool_dtype(documents[column])
    ]


def bootstrap_ci(
    values: np.ndarray, *, level: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval for the mean of ``values`` (nan, nan for fewer than two).

    Every resample of a single value is that value: its zero-width interval would claim a
    certainty one document cannot give, so there is none.
    """
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def _group_keys(documents: pd.DataFrame, by: str, freq: str | None) -> pd.Series:
    if by not in documents.columns:
        raise InputError(
            f"--by {by}: no such column (columns: {', '.join(map(str, documents.columns))})"
        )
    keys = documents[by]
    if freq is not None:
        dates = _local_dates(keys)
        if dates.notna().sum() == 0:
            raise InputError(f"--by {by} --freq {freq}: the column holds no readable dates")
        given = keys.notna() & ~keys.astype(str).str.strip().eq("")
        unreadable = keys[given & dates.isna()]
        if len(unreadable):
            # Said, not silent: these documents land in the (none) group with the undated ones.
            log.warning(
                "--by %s --freq %s: %d of %d values could not be read as dates (e.g. %r); "
                "their documents are counted in %s",
                by,
                freq,
                len(unreadable),
                int(given.sum()),
                unreadable.iloc[0],
                MISSING_GROUP,
            )
        return dates.dt.to_period(freq).astype(str).where(dates.notna(), MISSING_GROUP)
    return keys.astype(object).where(keys.notna(), MISSING_GROUP).astype(str)


def _local_dates(keys: pd.Series) -> pd.Series:
    """``keys`` as naive datetimes at the local time written in each value (NaT if unreadable).

    Each distinct value is parsed on its own: pd.to_datetime on the column infers one format from
    the first value and makes every value in another format NaT. An offset or zone is dropped, not
    converted: an article dated 2026-03-31T23:30-05:00 appeared on 31 March where it was
    published, though it was already April in UTC.
    """
    if isinstance(keys.dtype, pd.DatetimeTZDtype):
        return keys.dt.tz_localize(None)
    if pd.api.types.is_datetime64_dtype(keys):
        return keys
    try:
        parsed = {value: _local_date(value) for value in keys.dropna().unique()}
    except TypeError:  # unhashable values (lists, arrays) are not dates
        return pd.Series(pd.NaT, index=keys.index, dtype="datetime64[us]")
    return pd.to_datetime(keys.map(parsed))


def _local_date(value: object) -> pd.Timestamp:
    """One value as a naive timestamp at its written local time, NaT when it is not a date."""
    if isinstance(value, str) and not value.strip():
        return pd.NaT
    try:
        with warnings.catch_warnings():
            # e.g. "13/01/2026" read day first: pandas warns, the date is still the right one
            warnings.simplefilter("ignore", UserWarning)
            stamp = pd.Timestamp(value.strip() if isinstance(value, str) else value)
    except (ValueError, TypeError, OverflowError):
        return pd.NaT
    if stamp is pd.NaT or stamp.tzinfo is None:
        return stamp
    return stamp.tz_localize(None)


def group_report(
    scored: Path,
    by: str = "source",
    out: Path | None = None,
    *,
    freq: str | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per group of documents, sorted by group; writes a chart/table to ``out`` if given.

    ``by`` is any column of the per-document table; with ``freq`` (one of :data:`FREQUENCIES`,
    such as ``"M"``) the column is read as dates and bucketed (``--by date --freq M``: one group a
    month) by the local date written in each value; values that are not dates go to ``(none)``,
    with a logged warning.
    The first column holds the group, named ``by``, or ``"<by> (group)"`` when ``by`` is also the
    name of a result column (``--by sentences``).
    """
    if freq is not None and freq not in FREQUENCIES:
        raise ValidationError(f"--freq {freq}: use one of {', '.join(FREQUENCIES)}")
    documents = load_documents(scored)
    devices = _device_columns(documents)
    if "status" in documents.columns:
        documents = documents[documents["status"] == "ok"]
    if documents.empty:
        raise DataError(
            f"{scored}: no document was scored without error, so there are no groups to compare"
        )
    keys = _group_keys(documents, by, freq).to_numpy()
    results = STATISTICS + [f"{device} per 100" for device in devices]
    label = f"{by} (group)" if by in results else by
    rows = []
    for group, members in documents.groupby(keys, sort=True):
        sentences = int(members["sentences"].sum())
        scores = members["propaganda_score"].to_numpy(dtype=float)
        low, high = bootstrap_ci(scores, seed=seed)
        row = {
            label: group,
            "documents": len(members),
            "sentences": sentences,
            "flagged_share": members["flagged"].sum() / sentences if sentences else np.nan,
            "mean_score": float(scores.mean()) if len(scores) else np.nan,
            "ci_low": low,
            "ci_high": high,
        }
        for device in devices:
            total = members[device].sum()
            row[f"{device} per 100"] = 100 * total / sentences if sentences else np.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    if out is not None:
        _write(table, by, Path(out))
    return table


def format_table(table: pd.DataFrame) -> str:
    """The main columns as plain text for a terminal."""
    columns = list(table.columns[:7])
    return table[columns].to_string(index=False, float_format=lambda v: f"{v:.3f}")


def _figure(table: pd.DataFrame, by: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    device_columns = [c for c in table.columns if c.endswith(" per 100")]
    height = max(2.5, 0.45 * len(table) + 1.5)
    figure, (left, right) = plt.subplots(
        1, 2, figsize=(12, height), gridspec_kw={"width_ratios": [1, 2]}, constrained_layout=True
    )
    labels = table.iloc[:, 0].astype(str).tolist()  # the group column
    positions = np.arange(len(table))
    error = np.vstack(
        [table["mean_score"] - table["ci_low"], table["ci_high"] - table["mean_score"]]
    )
    left.barh(positions, table["mean_score"], xerr=error, color="#4c72b0", capsize=3)
    left.set_yticks(positions, labels)
    left.invert_yaxis()
    left.set_xlabel("mean propaganda score per document (95% bootstrap CI; none for 1 document)")
    left.set_ylabel(by)
    left.set_title("Propaganda score by group")
    if device_columns:
        rates = table[device_columns].to_numpy(dtype=float)
        image = right.imshow(rates, aspect="auto", cmap="Reds")
        right.set_yticks(positions, labels)
        names = [c.removesuffix(" per 100").replace("_", " ") for c in device_columns]
        right.set_xticks(np.arange(len(names)), names, rotation=60, ha="right", fontsize=8)
        right.set_xlabel("device")
        right.set_title("Sentences with each device, per 100 sentences")
        figure.colorbar(image, ax=right, label="per 100 sentences")
    else:
        right.axis("off")
    return figure


def _write(table: pd.DataFrame, by: str, out: Path) -> None:
    """Write ``out`` through a temporary file renamed into place: an interrupted or failed write
    never leaves a truncated report, nor destroys the one already there."""
    suffix = out.suffix.lower()
    if suffix not in (".png", ".html", ".svg", ".csv"):
        raise ValidationError(f"{out}: write .png, .svg, .html or .csv")
    if out.is_dir():
        raise ProplensError(f"{out}: is a folder; give a file name to write")
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _write_file(table, by, temporary, suffix)
        os.replace(temporary, out)
    except OSError as exc:
        raise ProplensError(f"{out}: cannot write ({exc.strerror or exc})") from None
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()


def _write_file(table: pd.DataFrame, by: str, out: Path, suffix: str) -> None:
    if suffix == ".csv":
        table.to_csv(out, index=False)
        return
    import matplotlib.pyplot as plt

    figure = _figure(table, by)
    try:
        if suffix in (".png", ".svg"):
            figure.savefig(out, dpi=120, format=suffix[1:])
            return
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg")
    finally:
        plt.close(figure)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]  # drop the XML prolog: the SVG sits inline in the page
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>proplens: propaganda by {html.escape(by)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}</style></head><body>"
        f"<h1>Propaganda by {html.escape(by)}</h1>"
        "<p>Mean propaganda score per document with a 95% percentile-bootstrap confidence "
        "interval over documents (none for a group of one document); device rates are sentences "
        "per 100 sentences.</p>"
        f"{svg}{table.to_html(index=False, na_rep='', float_format=lambda v: f'{v:.3f}')}"
        "</body></html>"
    )
    out.write_text(page, encoding="utf-8")
