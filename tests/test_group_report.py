"""Tests for comparing groups of a scored corpus."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proplens.errors import DataError, InputError, ProplensError, ValidationError
from proplens.group_report import bootstrap_ci, group_report


def _documents(path: Path) -> Path:
    """A per-document table as score-corpus writes it: 3 sources, dates over two months."""
    frame = pd.DataFrame(
        {
            "document_id": [f"d{i}" for i in range(9)],
            "source": ["Harbour Post"] * 4 + ["Valley Times"] * 4 + [None],
            "date": ["2024-01-03", "2024-01-20", "2024-02-01", "2024-02-11"] * 2 + ["2024-02-12"],
            "status": ["ok"] * 8 + ["failed"],
            "error": [None] * 8 + ["d8: empty document (no text to score)"],
            "sentences": [10, 10, 20, 10, 10, 10, 10, 10, None],
            "flagged": [5, 5, 10, 5, 0, 1, 0, 1, None],
            "propaganda_score": [0.5, 0.5, 0.5, 0.5, 0.0, 0.1, 0.0, 0.1, None],
            "Loaded_Language": [4, 4, 8, 4, 0, 1, 0, 1, None],
            "Doubt": [1, 1, 2, 1, 0, 0, 0, 0, None],
        }
    )
    target = path / "scores.documents.parquet"
    frame.to_parquet(target)
    return path / "scores.parquet"


def test_rates_per_group(tmp_path: Path) -> None:
    """Counts, shares and per-100 rates follow from the document rows; failures are left out."""
    table = group_report(_documents(tmp_path), by="source")
    assert table["source"].tolist() == ["Harbour Post", "Valley Times"]
    harbour = table.iloc[0]
    assert harbour["documents"] == 4 and harbour["sentences"] == 50
    assert harbour["flagged_share"] == pytest.approx(25 / 50)
    assert harbour["Loaded_Language per 100"] == pytest.approx(100 * 20 / 50)
    assert harbour["mean_score"] == pytest.approx(0.5)
    assert harbour["ci_low"] == harbour["ci_high"] == pytest.approx(0.5)
    valley = table.iloc[1]
    assert valley["ci_low"] <= valley["mean_score"] <= valley["ci_high"]


def test_dates_bucket_by_month(tmp_path: Path) -> None:
    """--by date --freq M must group documents by calendar month."""
    table = group_report(_documents(tmp_path), by="date", freq="M")
    assert table["date"].tolist() == ["2024-01", "2024-02"]
    assert table["documents"].tolist() == [4, 4]


def test_unknown_column_is_a_one_line_error(tmp_path: Path) -> None:
    """Grouping by a column the table lacks names the column and the ones available."""
    with pytest.raises(InputError, match="--by outlet: no such column"):
        group_report(_documents(tmp_path), by="outlet")


def test_missing_table_is_a_one_line_error(tmp_path: Path) -> None:
    """Pointing at a path with no per-document table says which file was expected."""
    with pytest.raises(InputError, match="documents.parquet"):
        group_report(tmp_path / "nothing.parquet")


@pytest.mark.parametrize("suffix", [".png", ".html", ".csv"])
def test_writes_the_chart(tmp_path: Path, suffix: str) -> None:
    """Each output kind is written; the HTML embeds its SVG chart and names the groups."""
    out = tmp_path / f"report{suffix}"
    group_report(_documents(tmp_path), by="source", out=out)
    data = out.read_bytes()
    assert b"Valley Times" in data or suffix == ".png"
    if suffix == ".png":
        assert data.startswith(b"\x89PNG")
    if suffix == ".html":
        page = data.decode("utf-8")
        assert "<svg" in page and "Valley Times" in page and "bootstrap" in page


def test_an_unsupported_output_type_is_an_invalid_value(tmp_path: Path) -> None:
    """`--out report.pdf` is an option value out of range: exit code 3, like `--format xml`."""
    from proplens.cli import main

    out = tmp_path / "report.pdf"
    with pytest.raises(ValidationError, match="write .png, .svg, .html or .csv"):
        group_report(_documents(tmp_path), by="source", out=out)
    assert main(["report", str(_documents(tmp_path)), "--by", "source", "--out", str(out)]) == 3
    assert not out.exists()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=2, max_size=40))
def test_bootstrap_interval_brackets_the_mean(values: list[float]) -> None:
    """The 95% interval of the mean lies within the data range and contains the sample mean."""
    low, high = bootstrap_ci(np.array(values))
    mean = float(np.mean(values))
    assert min(values) - 1e-9 <= low <= high <= max(values) + 1e-9
    assert low - 1e-9 <= mean <= high + 1e-9


def test_no_scored_document_is_a_one_line_error(tmp_path: Path) -> None:
    """A run whose documents all failed has no groups: say so (it printed 'Empty DataFrame',
    and --out failed with KeyError)."""
    scored = _documents(tmp_path)
    table = pd.read_parquet(tmp_path / "scores.documents.parquet")
    table.assign(status="failed").to_parquet(tmp_path / "scores.documents.parquet")
    with pytest.raises(DataError, match="no document was scored without error"):
        group_report(scored, by="source", out=tmp_path / "r.html")


def test_an_unwritable_out_is_one_line_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    """--out under a file or on a folder is one line; a report replaces the old one whole."""
    scored = _documents(tmp_path)
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ProplensError, match="cannot write"):
        group_report(scored, by="source", out=tmp_path / "a-file" / "r.csv")
    (tmp_path / "folder.html").mkdir()
    with pytest.raises(ProplensError, match="is a folder"):
        group_report(scored, by="source", out=tmp_path / "folder.html")
    kept = tmp_path / "r.csv"
    kept.write_text("earlier report\n")
    with pytest.raises(InputError):
        group_report(scored, by="nothing", out=kept)
    group_report(scored, by="source", out=kept)
    assert "Harbour Post" in kept.read_text()
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_grouping_by_a_result_column_keeps_the_group_column(tmp_path: Path) -> None:
    """--by sentences named the group column like the sentence count, which then overwrote it:
    the groups vanished from the table. The group column stays first and distinct."""
    from proplens.group_report import format_table

    table = group_report(_documents(tmp_path), by="sentences", out=tmp_path / "r.html")
    assert table.columns[0] == "sentences (group)"
    assert table["sentences (group)"].tolist() == ["10.0", "20.0"]
    assert table["sentences"].tolist() == [70, 20]  # 7 documents of 10 sentences, 1 of 20
    assert table.columns.is_unique
    assert format_table(table).split()[:3] == ["sentences", "(group)", "documents"]
    assert "sentences (group)" in (tmp_path / "r.html").read_text(encoding="utf-8")
    assert group_report(_documents(tmp_path), by="Doubt").columns[0] == "Doubt"


def test_freq_on_a_column_without_dates_leaks_no_warning(tmp_path: Path) -> None:
    """--by source --freq M is a one-line error; pandas' 'Could not infer format' UserWarning
    was printed on stderr before it."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError, match="holds no readable dates"):
            group_report(_documents(tmp_path), by="source", freq="M")


def test_the_parts_folder_is_read_as_documented(tmp_path: Path) -> None:
    """load_documents accepts OUT.parts/ (a run stopped before consolidation): the document
    parts in input order, the same groups as from OUT.documents.parquet."""
    from proplens.group_report import load_documents

    scored = _documents(tmp_path)
    table = pd.read_parquet(tmp_path / "scores.documents.parquet")
    parts = tmp_path / "scores.parts"
    parts.mkdir()
    table = table.assign(position=range(len(table)))
    # Parts of two runs: part numbers do not follow input order.
    table.iloc[5:].to_parquet(parts / "documents-000000.parquet")
    table.iloc[:5].to_parquet(parts / "documents-000001.parquet")
    (parts / "run.json").write_text("{}")
    loaded = load_documents(parts)
    assert loaded["document_id"].tolist() == [f"d{i}" for i in range(9)]
    assert "position" not in loaded.columns
    pd.testing.assert_frame_equal(group_report(parts), group_report(scored))
    with pytest.raises(InputError, match="documents-\\*.parquet part files"):
        load_documents(tmp_path)  # a folder, but no parts in it
    (parts / "documents-000002.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match="documents-000002.parquet: cannot read"):
        load_documents(parts)


def test_a_documents_column_in_the_table_does_not_collide_with_the_count(tmp_path: Path) -> None:
    """A documents table joined with more per-document columns (a ``documents`` count, an
    ``outlet`` name, a word count) was read as if every extra column counted a device:
    ``documents`` came out as a device rate beside the report's own ``documents`` count, and a
    text column crashed the report with a TypeError. Without score-corpus's device list (a table
    rewritten by pandas) the devices are the columns the taxonomy names; other columns are
    attributes to group by, never device rates."""
    from proplens.cli import main
    from proplens.group_report import format_table

    scored = _documents(tmp_path)
    table = pd.read_parquet(tmp_path / "scores.documents.parquet")
    table = table.assign(documents=[3] * 9, outlet=["North"] * 5 + ["South"] * 4, words=[90] * 9)
    table.to_parquet(tmp_path / "scores.documents.parquet")
    report = group_report(scored, by="source", out=tmp_path / "r.csv")
    assert list(report.columns) == [
        "source", "documents", "sentences", "flagged_share", "mean_score", "ci_low", "ci_high",
        "Loaded_Language per 100", "Doubt per 100",
    ]  # fmt: skip
    assert report["documents"].tolist() == [4, 4]  # documents per group, not the input column
    assert format_table(report).split()[:2] == ["source", "documents"]
    by_outlet = group_report(scored, by="outlet")
    assert by_outlet["outlet"].tolist() == ["North", "South"]
    assert by_outlet["documents"].tolist() == [5, 3]  # d8 failed
    by_count = group_report(scored, by="documents")
    assert by_count.columns[0] == "documents (group)" and by_count.columns.is_unique
    assert by_count["documents (group)"].tolist() == ["3"] and by_count["documents"].tolist() == [8]
    assert main(["report", str(scored), "--by", "outlet"]) == 0


def test_declared_device_columns_are_the_device_rates(tmp_path: Path) -> None:
    """score-corpus names its device columns in the Parquet metadata; the report takes that
    list (a model's device the taxonomy file does not know is still a device; a numeric column
    added later is not), in the documents table and in an OUT.parts/ folder alike."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from proplens.batch import DEVICES_METADATA_KEY

    scored = _documents(tmp_path)
    table = pd.read_parquet(tmp_path / "scores.documents.parquet")
    table = table.assign(Crowd_Appeal=[1] * 9, words=[120] * 9)
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    devices = json.dumps(["Loaded_Language", "Doubt", "Crowd_Appeal"]).encode()
    arrow = arrow.replace_schema_metadata({DEVICES_METADATA_KEY.encode(): devices})
    pq.write_table(arrow, tmp_path / "scores.documents.parquet")
    rates = [c for c in group_report(scored).columns if c.endswith(" per 100")]
    assert rates == ["Loaded_Language per 100", "Doubt per 100", "Crowd_Appeal per 100"]
    parts = tmp_path / "scores.parts"
    parts.mkdir()
    pq.write_table(
        arrow.append_column("position", pa.array(range(9))), parts / "documents-0.parquet"
    )
    pd.testing.assert_frame_equal(group_report(parts), group_report(scored))


def _dated(path: Path, dates: list[object]) -> Path:
    """The documents table of :func:`_documents` cut to ``len(dates)`` rows with these dates."""
    scored = _documents(path)
    table = pd.read_parquet(path / "scores.documents.parquet").iloc[: len(dates)]
    table.assign(date=dates, status="ok").to_parquet(path / "scores.documents.parquet")
    return scored


def test_dates_in_mixed_formats_are_each_read(tmp_path: Path, caplog) -> None:
    """pandas inferred one format from the first date and turned the others into NaT: three of
    these four dates were counted in (none), without a word. Each is read on its own."""
    dates = ["2026-01-05", "2026-01-20T09:00:00Z", "2026-02-02 08:00", "5 Feb 2026"]
    with caplog.at_level("WARNING", logger="proplens.group_report"):
        table = group_report(_dated(tmp_path, dates), by="date", freq="M")
    assert table["date"].tolist() == ["2026-01", "2026-02"]
    assert table["documents"].tolist() == [2, 2]
    assert not caplog.records


def test_unreadable_dates_are_counted_in_a_warning(tmp_path: Path, caplog) -> None:
    """Values that are no dates still go to (none), but a warning says how many (a missing or
    blank date is no date given, not an unreadable one)."""
    scored = _dated(tmp_path, ["2026-01-05", "next Tuesday", "soon", None, " "])
    with caplog.at_level("WARNING", logger="proplens.group_report"):
        table = group_report(scored, by="date", freq="M")
    assert table["date"].tolist() == ["(none)", "2026-01"]
    assert table["documents"].tolist() == [4, 1]
    [record] = caplog.records
    assert "2 of 3 values could not be read as dates (e.g. 'next Tuesday')" in record.getMessage()


def test_dates_bucket_by_the_local_date_written(tmp_path: Path) -> None:
    """An article of 31 March 23:30 in New York was counted in April: it was converted to UTC.
    The bucket is the calendar date written in the value, its offset set aside."""
    dates = ["2026-03-31T23:30:00-05:00", "2026-04-01T00:30:00+02:00", "2026-03-31"]
    table = group_report(_dated(tmp_path, dates), by="date", freq="M")
    assert table["date"].tolist() == ["2026-03", "2026-04"]
    assert table["documents"].tolist() == [2, 1]
    # A datetime column that carries its zone is bucketed the same way.
    stamps = pd.to_datetime(["2026-03-31 23:30", "2026-04-01 00:30"]).tz_localize(
        "America/New_York"
    )
    table = group_report(_dated(tmp_path, list(stamps)), by="date", freq="M")
    assert table["date"].tolist() == ["2026-03", "2026-04"]


def test_a_column_without_any_date_is_a_one_line_error(tmp_path: Path) -> None:
    """A corpus without dates (the column all missing) gave one (none) group under --freq, while
    a column of non-dates was an error: both are the same error now."""
    with pytest.raises(InputError, match="--by date --freq M: the column holds no readable dates"):
        group_report(_dated(tmp_path, [None, None, None]), by="date", freq="M")


@pytest.mark.parametrize("freq", ["2M", "ME", "h", "m", ""])
def test_an_unsupported_freq_is_an_invalid_value(tmp_path: Path, freq: str) -> None:
    """--freq 2M was accepted and labelled each month (to_period('2M') does not make two-month
    buckets); only the documented D, W, M, Q, Y are taken, with exit code 3 like --out .pdf."""
    from proplens.cli import main

    scored = _documents(tmp_path)
    with pytest.raises(ValidationError, match=f"--freq {freq}: use one of D, W, M, Q, Y"):
        group_report(scored, by="date", freq=freq)
    assert main(["report", str(scored), "--by", "date", "--freq", freq]) == 3


def test_a_group_of_one_document_has_no_interval(tmp_path: Path) -> None:
    """One document gave a zero-width 95% interval (0.496 0.496 0.496): a certainty one score
    cannot give. Its interval is missing: NaN in the table, blank in the CSV and the HTML."""
    assert all(np.isnan(bootstrap_ci(np.array([0.496]))))
    scored = _dated(tmp_path, ["2026-01-05", "2026-01-06", "2026-02-01"])
    table = group_report(scored, by="date", freq="M", out=tmp_path / "r.csv")
    january, february = table.iloc[0], table.iloc[1]
    assert january["ci_low"] <= january["mean_score"] <= january["ci_high"]
    assert february["documents"] == 1 and february["mean_score"] == pytest.approx(0.5)
    assert np.isnan(february["ci_low"]) and np.isnan(february["ci_high"])
    assert (tmp_path / "r.csv").read_text().splitlines()[2].startswith("2026-02,1,20,0.5,0.5,,,")
    group_report(scored, by="date", freq="M", out=tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "NaN" not in page and "<td>0.500</td>\n      <td></td>\n      <td></td>" in page
    group_report(scored, by="date", freq="M", out=tmp_path / "r.png")  # no error bar, no error
