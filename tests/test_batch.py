"""Tests for corpus-scale batch scoring (one process, workers, Dask, resume after kill -9)."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import proplens
from proplens.batch import (
    FailedDocumentsError,
    documents_path,
    parts_path,
    score_corpus,
    score_corpus_command,
)
from proplens.errors import InputError

# Thirty short documents written for these tests: fictional towns, neutral topics, a few sentences
# phrased the way loaded or doubtful reporting is phrased, so some sentences get flagged.
_TOWNS = ["Norbury", "Kessington", "Lowmere", "Ashcombe", "Tarrow", "Fenwick"]
_TOPICS = [
    "the new bus depot",
    "the library budget",
    "the river footbridge",
    "school meals",
    "the harbour dredging",
]
_SOURCES = ["Harbour Post", "Valley Times", "Ridge Courier"]


def _text(number: int) -> str:
    town = _TOWNS[number % len(_TOWNS)]
    topic = _TOPICS[number % len(_TOPICS)]
    sentences = [
        f"The council of {town} met on Tuesday to discuss {topic}.",
        f"Councillor Mira Okafor said the plan would cost {number + 3} million.",
    ]
    if number % 3 == 0:
        sentences.append(
            "Critics called it a shameful, reckless betrayal that only a fool would support!"
        )
    if number % 4 == 0:
        sentences.append("But who really believes the so-called experts this time?")
    sentences.append(f"A final vote is expected in {['May', 'June', 'July'][number % 3]}.")
    return " ".join(sentences) if number % 2 else "\n".join(sentences)


DOCUMENT_COUNT = 30


@pytest.fixture(scope="module")
def model():
    """The shipped default model, loaded once for the module."""
    return proplens.load_model()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder corpus with one sub-folder per source."""
    root = tmp_path / "corpus"
    for number in range(DOCUMENT_COUNT):
        source = root / _SOURCES[number % 3].replace(" ", "_")
        source.mkdir(parents=True, exist_ok=True)
        (source / f"story{number:02d}.txt").write_text(_text(number), encoding="utf-8")
    return root


def _records() -> list[dict]:
    return [
        {
            "id": f"story{number:02d}",
            "text": _text(number),
            "source": _SOURCES[number % 3],
            "date": f"2024-{1 + number % 4:02d}-{1 + number % 28:02d}",
        }
        for number in range(DOCUMENT_COUNT)
    ]


@pytest.fixture
def jsonl(tmp_path: Path) -> Path:
    """The same stories as a JSONL table with id, source and date columns."""
    path = tmp_path / "stories.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in _records()) + "\n", encoding="utf-8")
    return path


def _read(output: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.read_parquet(output), pd.read_parquet(documents_path(output))


def test_folder_scores_every_sentence(folder: Path, tmp_path: Path, model) -> None:
    """Every document gets one summary row and its sentence rows, whose offsets slice the text."""
    output = tmp_path / "out" / "scores.parquet"
    result = score_corpus(folder, output, model=model, progress=False, batch_size=7)
    assert (result.documents, result.scored, result.skipped, result.failed) == (30, 30, 0, 0)
    sentences, documents = _read(output)
    assert len(documents) == 30 and documents["document_id"].is_unique
    assert set(documents["status"]) == {"ok"} and documents["error"].isna().all()
    assert set(documents["source"]) == {s.replace(" ", "_") for s in _SOURCES}
    per_document = sentences.groupby("document_id").size()
    assert (per_document == documents.set_index("document_id")["sentences"]).all()
    for row in sentences.itertuples():
        assert (folder / row.document_id).read_text(encoding="utf-8")[
            row.start : row.end
        ] == row.text
    for device in model.devices:
        assert sentences[device].between(0, 1).all()
        assert (documents[device] >= 0).all()
    expected = model.score(_text(0), document_id="x").summary
    first = documents[documents["document_id"] == "Harbour_Post/story00.txt"].iloc[0]
    assert first["flagged"] == expected["flagged"]
    assert first["propaganda_score"] == pytest.approx(expected["propaganda_score"])


def test_tables_and_folder_give_the_same_scores(folder, jsonl, tmp_path: Path, model) -> None:
    """JSONL, CSV and Parquet inputs score the same texts exactly as the folder does."""
    from_folder, _ = _read(_score(folder, tmp_path / "f.parquet", model))
    frame = pd.DataFrame(_records())
    frame.to_csv(tmp_path / "stories.csv", index=False)
    frame.to_parquet(tmp_path / "stories.parquet")
    numeric = ["sentence_index", "start", "end", "propaganda", *model.devices]
    key = from_folder["document_id"].str.extract(r"(story\d+)")[0]
    expected = from_folder.assign(document_id=key).sort_values(["document_id", "sentence_index"])
    for table in (jsonl, tmp_path / "stories.csv", tmp_path / "stories.parquet"):
        sentences, documents = _read(_score(table, tmp_path / f"{table.suffix[1:]}.parquet", model))
        assert documents["date"].str.startswith("2024-").all()
        assert set(documents["source"]) == set(_SOURCES)
        got = sentences.sort_values(["document_id", "sentence_index"])
        pd.testing.assert_frame_equal(
            got[["document_id", *numeric]].reset_index(drop=True),
            expected[["document_id", *numeric]].reset_index(drop=True),
        )


def _score(source: Path, output: Path, model, **options):
    score_corpus(source, output, model=model, progress=False, **options)
    return output


def test_bad_documents_are_recorded_and_the_run_goes_on(tmp_path: Path, model) -> None:
    """Broken, empty and oversized documents get an error row; the good ones are still scored."""
    lines = [
        json.dumps({"id": "good", "text": _text(1)}),
        json.dumps({"id": "empty", "text": "   "}),
        json.dumps({"id": "null", "text": None}),
        json.dumps({"id": "big", "text": "Word " * 400}),
        "{not json",
        json.dumps({"id": "number", "text": 42}),
    ]
    source = tmp_path / "mixed.jsonl"
    source.write_text("\n".join(lines), encoding="utf-8")
    output = tmp_path / "mixed.parquet"
    result = score_corpus(source, output, model=model, progress=False, max_bytes=1000)
    assert (result.documents, result.scored, result.failed) == (6, 1, 5)
    _, documents = _read(output)
    errors = dict(zip(documents["document_id"], documents["error"], strict=True))
    assert pd.isna(errors["good"])
    assert "empty document" in errors["empty"]
    assert "missing" in errors["null"]
    assert "limit" in errors["big"]
    assert "not valid JSON" in errors["mixed.jsonl:5"]
    assert "not a string" in errors["number"]
    assert all("\n" not in e for e in errors.values() if isinstance(e, str))


def test_unreadable_files_in_a_folder_are_recorded(folder: Path, tmp_path: Path, model) -> None:
    """A binary file and an empty file in a folder fail alone; the command then exits with 5."""
    (folder / "Harbour_Post" / "broken.txt").write_bytes(b"\x00\x01\x02binary\x00")
    (folder / "Harbour_Post" / "blank.txt").write_text("", encoding="utf-8")
    output = tmp_path / "scores.parquet"
    with pytest.raises(FailedDocumentsError, match="2 of 32 documents failed") as raised:
        score_corpus_command(str(folder), output, model=model, no_progress=True)
    assert raised.value.exit_code == 5
    _, documents = _read(output)
    failed = documents[documents["status"] == "failed"]
    assert sorted(failed["document_id"]) == ["Harbour_Post/blank.txt", "Harbour_Post/broken.txt"]
    assert "binary" in failed.set_index("document_id")["error"]["Harbour_Post/broken.txt"]


def test_input_problems_are_one_line_errors(tmp_path: Path, jsonl: Path, model) -> None:
    """A missing input, a missing text column and duplicate ids stop the run, saying why."""
    with pytest.raises(InputError, match="not found"):
        score_corpus(tmp_path / "nowhere", tmp_path / "o.parquet", model=model, progress=False)
    pd.DataFrame({"body": ["x"]}).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(InputError, match="no column 'text'.*--text-column"):
        score_corpus(tmp_path / "t.csv", tmp_path / "o.parquet", model=model, progress=False)
    twice = tmp_path / "twice.jsonl"
    twice.write_text(jsonl.read_text() + jsonl.read_text().splitlines()[0] + "\n")
    with pytest.raises(InputError, match="line 31: duplicate document id 'story00'"):
        score_corpus(twice, tmp_path / "o.parquet", model=model, progress=False)


def test_unreadable_tables_and_bad_options_are_one_line_errors(tmp_path: Path, model) -> None:
    """A corrupt Parquet file, an empty, malformed or non-UTF-8 CSV, an option out of range or a
    malformed scheduler address stop the run with one line (each was a parser's traceback)."""
    from proplens.batch import dask_client
    from proplens.errors import DataError, ValidationError

    output = tmp_path / "o.parquet"
    broken = {
        "corrupt.parquet": b"PAR1 not really",
        "empty.csv": b"",
        "unclosed.csv": b'id,text\n1,"a quote never closed\n',
        "latin1.csv": "id,text\n1,Caf\u00e9 owners were furious. Prices rose.\n".encode("latin-1"),
    }
    for name, data in broken.items():
        (tmp_path / name).write_bytes(data)
        expected = f"^{tmp_path / name}: not (a readable|UTF-8)"
        with pytest.raises(DataError, match=expected) as raised:
            score_corpus(tmp_path / name, output, model=model, progress=False)
        assert "\n" not in str(raised.value)
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"id": "a", "text": "One calm sentence."}) + "\n")
    for option, value in [("workers", 0), ("batch_size", 0), ("max_bytes", 0)]:
        with pytest.raises(ValidationError, match="must be"):
            score_corpus(good, output, model=model, progress=False, **{option: value})
    with (
        pytest.raises(InputError, match="--dask nowhere: not a scheduler address"),
        dask_client("nowhere", 1),
    ):
        pass


def test_output_problems_are_one_line_errors(tmp_path: Path, jsonl: Path, model) -> None:
    """An output that is a folder is refused before scoring (it failed with a traceback after
    the whole run); an output under a file (not a folder) is one line, not an OSError."""
    from proplens.errors import ProplensError

    (tmp_path / "taken.parquet").mkdir()
    with pytest.raises(ProplensError, match="is a folder"):
        score_corpus(jsonl, tmp_path / "taken.parquet", model=model, progress=False)
    assert not parts_path(tmp_path / "taken.parquet").exists()
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ProplensError, match="cannot write"):
        score_corpus(jsonl, tmp_path / "a-file" / "o.parquet", model=model, progress=False)


def test_the_output_is_never_read_as_input(tmp_path: Path, model) -> None:
    """-o over the input table would overwrite the corpus; a glob rerun must not score the
    sentence table its first run wrote next to the inputs."""
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    pd.DataFrame(_records()[:6]).to_parquet(dumps / "week1.parquet")
    pd.DataFrame(_records()[6:12]).to_parquet(dumps / "week2.parquet")
    with pytest.raises(InputError, match="is the input"):
        score_corpus(dumps / "week1.parquet", dumps / "week1.parquet", model=model, progress=False)
    assert len(pd.read_parquet(dumps / "week1.parquet")) == 6
    output = dumps / "scores.parquet"
    first = score_corpus(str(dumps / "*.parquet"), output, model=model, progress=False)
    again = score_corpus(str(dumps / "**" / "*.parquet"), output, model=model, progress=False)
    assert (first.documents, first.scored) == (12, 12)
    assert (again.documents, again.skipped, again.scored) == (12, 12, 0)
    assert len(pd.read_parquet(documents_path(output))) == 12


def test_rerun_skips_scored_documents_and_retries_failures(jsonl: Path, tmp_path: Path, model):
    """A second run scores nothing new; a failure fixed by a larger limit is retried once."""
    output = tmp_path / "scores.parquet"
    first = score_corpus(jsonl, output, model=model, progress=False, max_bytes=200)
    assert first.failed > 0 and first.scored + first.failed == 30
    second = score_corpus(jsonl, output, model=model, progress=False)
    assert (second.skipped, second.scored, second.failed) == (first.scored, first.failed, 0)
    third = score_corpus(jsonl, output, model=model, progress=False)
    assert (third.skipped, third.scored) == (30, 0)
    sentences, documents = _read(output)
    assert documents["document_id"].is_unique and len(documents) == 30
    assert set(documents["status"]) == {"ok"}
    fresh = tmp_path / "fresh.parquet"
    score_corpus(jsonl, fresh, model=model, progress=False)
    pd.testing.assert_frame_equal(sentences, pd.read_parquet(fresh))


def test_resume_refuses_parts_of_another_model(jsonl: Path, tmp_path: Path, model) -> None:
    """Parts written by one model are never mixed with another's: resuming says --no-resume."""
    output = tmp_path / "scores.parquet"
    score_corpus(jsonl, output, model=model, progress=False)
    run_file = parts_path(output) / "run.json"
    run = json.loads(run_file.read_text())
    run["version"] = "other"
    run_file.write_text(json.dumps(run))
    with pytest.raises(InputError, match="--no-resume"):
        score_corpus(jsonl, output, model=model, progress=False)
    result = score_corpus(jsonl, output, model=model, progress=False, resume=False)
    assert result.scored == 30


_KILL_SCRIPT = """
import sys
from pathlib import Path
from proplens.batch import score_corpus
score_corpus(sys.argv[1], Path(sys.argv[2]), batch_size=1, progress=False,
             workers=int(sys.argv[3]), dask=sys.argv[4] or None)
"""


def _many_documents(path: Path, count: int) -> Path:
    """A JSONL table of ``count`` short documents with ids d0000, d0001, ..."""
    records = [{"id": f"d{n:04d}", "text": _text(n)} for n in range(count)]
    path.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    ("workers", "dask"), [(1, ""), (2, ""), (2, "local")], ids=["serial", "workers", "dask"]
)
def test_kill_9_mid_run_then_resume_scores_each_document_once(
    tmp_path: Path, model, workers: int, dask: str
) -> None:
    """A run killed by SIGKILL loses only work in flight, its worker processes end with it, and
    the rerun ends with every document exactly once (workers write their own parts)."""
    psutil = pytest.importorskip("psutil")
    source = _many_documents(tmp_path / "many.jsonl", 600)
    output = tmp_path / "scores.parquet"
    process = subprocess.Popen(
        [sys.executable, "-c", _KILL_SCRIPT, str(source), str(output), str(workers), dask]
    )
    parts = parts_path(output)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(parts.glob("documents-*.parquet"))) < 20:
        assert process.poll() is None, "the run ended before it could be killed"
        time.sleep(0.005)
    children = psutil.Process(process.pid).children(recursive=True)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not output.exists(), "the run finished before the kill: nothing was tested"
    _, alive = psutil.wait_procs(children, timeout=15)
    for orphan in alive:  # clean up before failing, so a failure leaves nothing running
        orphan.kill()
    assert not alive, f"worker processes outlived their killed driver: {alive}"
    result = score_corpus(source, output, model=model, progress=False, batch_size=50)
    assert result.skipped >= 20 and result.skipped + result.scored == 600
    sentences, documents = _read(output)
    assert documents["document_id"].tolist() == [f"d{n:04d}" for n in range(600)]
    assert not sentences.duplicated(["document_id", "sentence_index"]).any()
    assert (
        sentences.groupby("document_id").size() == documents.set_index("document_id")["sentences"]
    ).all()


@pytest.mark.slow
def test_workers_and_dask_write_the_same_output(jsonl: Path, tmp_path: Path, model) -> None:
    """One process, two worker processes and a two-worker Dask LocalCluster give equal tables."""
    serial = _score(jsonl, tmp_path / "serial.parquet", model, batch_size=4)
    pool = _score(jsonl, tmp_path / "pool.parquet", model, batch_size=4, workers=2)
    on_dask = _score(jsonl, tmp_path / "dask.parquet", model, batch_size=4, workers=2, dask="local")
    expected_sentences, expected_documents = _read(serial)
    for output in (pool, on_dask):
        sentences, documents = _read(output)
        pd.testing.assert_frame_equal(sentences, expected_sentences)
        pd.testing.assert_frame_equal(documents, expected_documents)
    assert expected_documents["document_id"].tolist() == [r["id"] for r in _records()]


def test_commands_parse_their_arguments(jsonl: Path, tmp_path: Path) -> None:
    """The command functions work as Typer commands: -o, --workers, then report --by/--out."""
    import typer
    from typer.testing import CliRunner

    from proplens.batch import report_command

    app = typer.Typer()
    app.command("score-corpus")(score_corpus_command)
    app.command("report")(report_command)
    runner = CliRunner()
    output = tmp_path / "scores.parquet"
    scored = runner.invoke(app, ["score-corpus", str(jsonl), "-o", str(output), "--no-progress"])
    assert scored.exit_code == 0, scored.output
    assert "30 documents: 30 scored" in scored.output
    chart = tmp_path / "by-source.html"
    report = runner.invoke(app, ["report", str(output), "--by", "source", "--out", str(chart)])
    assert report.exit_code == 0, report.output
    assert "Valley Times" in report.output and "<svg" in chart.read_text(encoding="utf-8")
    monthly = runner.invoke(app, ["report", str(output), "--by", "date", "--freq", "M"])
    assert monthly.exit_code == 0 and "2024-04" in monthly.output
    helps = runner.invoke(app, ["score-corpus", "--help"]).output
    assert "--no-no-" not in helps and "start over" in helps and "--max-size" in helps


@pytest.mark.slow
def test_workers_that_cannot_see_the_parts_folder_send_their_tables_back(
    jsonl: Path, tmp_path: Path, model, monkeypatch
) -> None:
    """On a cluster without shared storage the workers write nothing and the driver writes the
    parts instead: the output is the same as a one-process run's."""
    from proplens.batch import _Parts, _Target

    serial = _score(jsonl, tmp_path / "serial.parquet", model, batch_size=4)
    # What a remote worker sees: a path that does not exist on its machine.
    unseen = tmp_path / "not-on-this-worker"
    monkeypatch.setattr(_Parts, "target", property(lambda self: _Target(str(unseen), self.token)))
    on_dask = _score(jsonl, tmp_path / "dask.parquet", model, batch_size=4, workers=2, dask="local")
    assert not unseen.exists()
    for expected, got in zip(_read(serial), _read(on_dask), strict=True):
        pd.testing.assert_frame_equal(got, expected)


def test_a_worker_writes_only_into_a_folder_its_run_still_owns(tmp_path: Path, model) -> None:
    """A worker of a killed run must not write into a folder a rerun has claimed, and the driver
    of a superseded run stops with a one-line error instead of mixing two runs' parts."""
    from proplens.batch import _Item, _Parts, _score_and_write

    folder = tmp_path / "scores.parts"
    first = _Parts(folder, {"format": 1}, resume=True)
    stale = first.target
    second = _Parts(folder, {"format": 1}, resume=True)  # the rerun claims the folder
    items = [_Item(0, "a", text=_text(1)), _Item(1, "b", text=_text(2))]
    receipt = _score_and_write(model, 0, items, 10_000_000, stale)
    assert receipt.tables is not None and receipt.documents == 2
    assert sorted(p.name for p in folder.iterdir()) == ["owner", "run.json"]
    with pytest.raises(InputError, match="another score-corpus run"):
        first.write(0, *receipt.tables)
    written = _score_and_write(model, 0, items, 10_000_000, second.target)
    assert written.tables is None
    assert sorted(p.name for p in folder.glob("*-000000.parquet")) == [
        "documents-000000.parquet",
        "sentences-000000.parquet",
    ]
    assert second.done() == {"a": None, "b": None}  # items without a fingerprint


def test_an_input_without_documents_is_a_one_line_error(tmp_path: Path, model) -> None:
    """An empty JSONL, Parquet or CSV table was a '0 documents' run exiting 0 while an empty
    folder was an error: each is now the same one-line InputError (exit code 2)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "blank.jsonl").write_text("\n\n")
    (tmp_path / "header.csv").write_text("id,text\n")
    pq.write_table(pa.table({"text": pa.array([], pa.string())}), tmp_path / "empty.parquet")
    (tmp_path / "nothing").mkdir()
    output = tmp_path / "out" / "o.parquet"
    for name in ["empty.jsonl", "blank.jsonl", "header.csv", "empty.parquet", "nothing"]:
        with pytest.raises(InputError) as raised:
            score_corpus(tmp_path / name, output, model=model, progress=False)
        assert raised.value.exit_code == 2 and "\n" not in str(raised.value)
        assert str(raised.value).startswith(str(tmp_path / name))
    with pytest.raises(InputError, match="no document to score"):
        score_corpus(str(tmp_path / "*.jsonl"), output, model=model, progress=False)
    assert not output.exists() and not parts_path(output).exists()


def test_damaged_parts_are_one_line_saying_no_resume(jsonl: Path, tmp_path: Path, model) -> None:
    """A corrupt run.json or part file (a crash, a full disk, a hand edit) was a traceback on
    resume or consolidation; it is one line naming the folder and --no-resume, which recovers."""
    from proplens.errors import DataError

    output = tmp_path / "scores.parquet"
    score_corpus(jsonl, output, model=model, progress=False, batch_size=10)
    folder = parts_path(output)
    pristine = {p.name: p.read_bytes() for p in folder.iterdir()}
    damage = {
        "run.json": b"{not json",
        "documents-000001.parquet": b"PAR1 not really",
        "sentences-000002.parquet": b"PAR1 not really",  # read only at consolidation
    }
    for name, data in [*damage.items(), ("run.json", b"[1]"), ("documents-x.parquet", b"")]:
        (folder / name).write_bytes(data)
        with pytest.raises(DataError, match="damaged parts.*--no-resume") as raised:
            score_corpus(jsonl, output, model=model, progress=False, batch_size=10)
        assert str(raised.value).startswith(str(folder)) and "\n" not in str(raised.value)
        for stale in set(p.name for p in folder.iterdir()) - set(pristine):
            (folder / stale).unlink()
        for kept, content in pristine.items():
            (folder / kept).write_bytes(content)
    (folder / "run.json").write_bytes(b"{not json")
    result = score_corpus(jsonl, output, model=model, progress=False, resume=False)
    assert result.scored == 30


def test_documents_tables_name_their_device_columns(jsonl: Path, tmp_path: Path, model) -> None:
    """The documents table and its parts carry the model's device list in their Parquet
    metadata, so `proplens report` reports exactly those columns as device rates and not a
    per-document column someone joins on afterwards."""
    import pyarrow.parquet as pq

    from proplens.batch import DEVICES_METADATA_KEY
    from proplens.group_report import group_report, load_documents

    output = tmp_path / "scores.parquet"
    score_corpus(jsonl, output, model=model, progress=False, batch_size=16)
    tables = [documents_path(output), *sorted(parts_path(output).glob("documents-*.parquet"))]
    for table in tables:
        metadata = pq.read_schema(table).metadata
        assert json.loads(metadata[DEVICES_METADATA_KEY.encode()]) == list(model.devices)
    assert load_documents(output).attrs["devices"] == list(model.devices)
    rates = [c for c in group_report(output).columns if c.endswith(" per 100")]
    assert rates == [f"{device} per 100" for device in model.devices]


def test_a_jsonl_without_the_text_column_stops_like_a_csv(tmp_path: Path, model) -> None:
    """A JSONL whose records all lack --text-column marked every row failed and exited 5, while
    the same CSV stopped at once: it is now the same one-line error, before anything is written.
    A record without the field among good ones still fails on its own."""
    news = tmp_path / "news.jsonl"
    news.write_text(
        "\n".join(json.dumps({"id": f"n{n}", "text": _text(n)}) for n in range(3)) + "\n"
    )
    output = tmp_path / "out" / "scores.parquet"
    with pytest.raises(InputError, match=r"no column 'body'.*\(.*: id, text\).*--text-column") as e:
        score_corpus(news, output, model=model, progress=False, text_column="body")
    assert e.value.exit_code == 2 and str(e.value).startswith(str(news))
    assert not output.parent.exists()
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(
        json.dumps({"id": "a", "body": "Where the text should be."})
        + "\n"
        + json.dumps({"id": "b", "text": _text(1)})
        + "\n"
    )
    result = score_corpus(mixed, output, model=model, progress=False)
    assert (result.scored, result.failed) == (1, 1)
    errors = pd.read_parquet(documents_path(output)).set_index("document_id")["error"]
    assert "no 'text' field" in errors["a"]


def test_a_run_that_stops_at_once_leaves_nothing_behind(tmp_path: Path, model) -> None:
    """A duplicate id or a bad --dask address left OUT.parts/ (owner, run.json) and the output's
    folders behind; --no-resume even emptied an earlier run's parts before stopping. Now nothing
    new is left, and an earlier run's files stay byte for byte and still resume."""
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(json.dumps(r) for r in _records()[:4]) + "\n")
    twice = tmp_path / "twice.jsonl"
    twice.write_text(good.read_text() + json.dumps(_records()[0]) + "\n")
    fresh = tmp_path / "new" / "deeper" / "scores.parquet"
    stops = [(twice, {}), (twice, {"resume": False}), (good, {"dask": "bogus"})]
    for source, options in stops:
        with pytest.raises(InputError, match="duplicate document id|--dask bogus"):
            score_corpus(source, fresh, model=model, progress=False, **options)
        assert not (tmp_path / "new").exists(), options
    output = tmp_path / "scores.parquet"
    score_corpus(good, output, model=model, progress=False)
    earlier = {p: p.read_bytes() for p in [output, documents_path(output)]}
    earlier |= {p: p.read_bytes() for p in parts_path(output).iterdir() if p.name != "owner"}
    for source, options in [*stops, (twice, {"dask": "bogus", "resume": False})]:
        with pytest.raises(InputError):
            score_corpus(source, output, model=model, progress=False, **options)
        now = {p for p in parts_path(output).iterdir() if p.name != "owner"}
        assert now == set(earlier) - {output, documents_path(output)}, options
        assert all(path.read_bytes() == data for path, data in earlier.items()), options
    again = score_corpus(good, output, model=model, progress=False)
    assert (again.skipped, again.scored) == (4, 0)


# --- audit of the batch side: each test below failed before its fix ------------------------------


def test_a_lone_surrogate_fails_its_row_not_the_run(tmp_path: Path, model) -> None:
    """JSON may spell a lone surrogate ("\\ud800"), which Arrow cannot write: it crashed the whole
    run with a UnicodeEncodeError traceback. Now the row fails alone, named by its line."""
    lines = [
        json.dumps({"id": "good", "text": _text(1)}),
        json.dumps({"id": "broken", "text": "A lone surrogate \ud800 here. And more."}),
        json.dumps({"id": "bad-id-\udfff", "text": _text(2)}),
        json.dumps({"id": "bad-date", "text": _text(3), "date": "2024-\ud83d"}),
    ]
    source = tmp_path / "surrogates.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    output = tmp_path / "out.parquet"
    result = score_corpus(source, output, model=model, progress=False)
    assert (result.documents, result.scored, result.failed) == (4, 1, 3)
    sentences, documents = _read(output)
    errors = dict(zip(documents["document_id"], documents["error"], strict=True))
    assert list(errors) == ["good", "broken", "surrogates.jsonl:3", "surrogates.jsonl:4"]
    assert errors["broken"] == f"{source}: line 2: the text is not valid Unicode (a lone surrogate)"
    assert "'id' field is not valid Unicode" in errors["surrogates.jsonl:3"]
    assert "'date' field is not valid Unicode" in errors["surrogates.jsonl:4"]
    assert set(sentences["document_id"]) == {"good"}


def test_a_fifo_in_a_folder_fails_alone_instead_of_blocking(folder: Path, tmp_path: Path, model):
    """A named pipe called *.txt in a folder blocked the run forever on opening it."""
    import threading

    fifo = folder / "Harbour_Post" / "pipe.txt"
    os.mkfifo(fifo)
    output = tmp_path / "scores.parquet"
    outcome: dict = {}

    def run() -> None:
        outcome["result"] = score_corpus(folder, output, model=model, progress=False)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(timeout=60)
    if runner.is_alive():  # unblock the reader stuck in open() before failing
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        runner.join(timeout=30)
        pytest.fail("score_corpus blocked on a FIFO in the input folder")
    assert (outcome["result"].scored, outcome["result"].failed) == (DOCUMENT_COUNT, 1)
    errors = pd.read_parquet(documents_path(output)).set_index("document_id")["error"]
    assert errors["Harbour_Post/pipe.txt"] == f"{fifo}: not a regular file"


def _sigint_disposition() -> object:
    return signal.getsignal(signal.SIGINT)


def test_pool_workers_ignore_ctrl_c(tmp_path: Path) -> None:
    """Ctrl-C reaches every process of the terminal's group: workers printed tracebacks and, one
    of them interrupted holding the pool's queue lock, once left the driver waiting forever
    after 'proplens: interrupted'. Workers now leave stopping to the driver."""
    import hashlib
    import multiprocessing
    import pickle
    from concurrent.futures import ProcessPoolExecutor

    from proplens.batch import _init_worker

    model_file = tmp_path / "model.pkl"
    model_file.write_bytes(pickle.dumps(None))
    digest = hashlib.sha256(model_file.read_bytes()).hexdigest()
    with ProcessPoolExecutor(
        1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(str(model_file), digest),
    ) as pool:
        assert pool.submit(signal.getsignal, signal.SIGINT).result() == signal.SIG_IGN


_CTRL_C_SCRIPT = """
import sys
from pathlib import Path
from proplens.cli import run
sys.argv = ["proplens", "score-corpus", sys.argv[1], "-o", sys.argv[2], "--workers", "2",
            "--batch-size", "2"]
run()
"""


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_stops_a_worker_run_in_one_line(
    tmp_path: Path, model, signum: int
) -> None:
    """Ctrl-C (SIGINT to the whole process group) or SIGTERM to the group stops a --workers run at
    once with one line and exit 130 / 143; no process is left and the rerun completes the
    output with each document once. SIGTERM used to kill the driver silently (exit -15)."""
    psutil = pytest.importorskip("psutil")
    source = _many_documents(tmp_path / "many.jsonl", 400)
    output = tmp_path / "scores.parquet"
    process = subprocess.Popen(
        [sys.executable, "-c", _CTRL_C_SCRIPT, str(source), str(output)],
        start_new_session=True,
        stderr=subprocess.PIPE,
        text=True,
    )
    parts = parts_path(output)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(parts.glob("documents-*.parquet"))) < 5:
        assert process.poll() is None, "the run ended before it could be interrupted"
        time.sleep(0.01)
    group = [process.pid, *(c.pid for c in psutil.Process(process.pid).children(recursive=True))]
    os.killpg(process.pid, signum)
    try:
        _, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail("the run did not stop after the signal")
    finally:
        _, alive = psutil.wait_procs([psutil.Process(p) for p in group if psutil.pid_exists(p)], 15)
        for orphan in alive:
            orphan.kill()
    assert not alive, f"processes outlived the interrupted run: {alive}"
    expected = {signal.SIGINT: "proplens: interrupted", signal.SIGTERM: "terminated (SIGTERM)"}
    assert process.returncode == 128 + signum, stderr
    assert len(stderr.strip().splitlines()) == 1 and expected[signum] in stderr, stderr
    assert not output.exists()
    if signum == signal.SIGINT:  # workers ignore it and finish their batch: nothing half-written
        assert not list(parts.glob("*.tmp*"))
    # (SIGTERM to the group also ends the workers, as kill would: a part being written stays a
    # temporary file, which the rerun removes)
    result = score_corpus(source, output, model=model, progress=False)
    assert not list(parts.glob("*.tmp*"))
    assert result.skipped >= 10 and result.skipped + result.scored == 400
    _, documents = _read(output)
    assert documents["document_id"].tolist() == [f"d{n:04d}" for n in range(400)]


def test_workers_beyond_the_cpus_are_not_started(
    jsonl: Path, tmp_path: Path, model, monkeypatch, caplog
) -> None:
    """--workers 100 on two cores started up to 100 processes, each with its own ~400 MB copy of
    the model; the pool is now capped at the CPUs this process may use, with a warning."""
    import proplens.batch as batch

    started = []

    def pool(model_bytes, workers, batches, max_bytes, target):
        started.append(workers)
        return batch._run_serial(model, batches, max_bytes, target)

    monkeypatch.setattr(batch, "_usable_cpus", lambda: 2)
    monkeypatch.setattr(batch, "_run_pool", pool)
    with caplog.at_level("WARNING", logger="proplens.batch"):
        result = score_corpus(
            jsonl, tmp_path / "o.parquet", model=model, workers=100, progress=False
        )
    assert started == [2] and result.scored == DOCUMENT_COUNT
    assert "--workers 100 is more than the 2 CPU(s) this process may use; using 2" in caplog.text
    monkeypatch.setattr(batch, "_usable_cpus", lambda: 1)
    score_corpus(jsonl, tmp_path / "one.parquet", model=model, workers=8, progress=False)
    assert started == [2], "one CPU: no pool at all"


class _ExitOnUnpickle:
    """Unpickled in a pool worker's initializer, it ends the process as the OOM killer would."""

    def __reduce__(self):
        return (os._exit, (9,))


def test_a_worker_that_dies_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    """A worker killed mid-run (the OOM killer, kill -9) ended the run with a BrokenProcessPool
    traceback; it is now one line saying the finished batches are kept and to rerun."""
    import pickle

    from proplens.batch import _Item, _Parts, _run_pool
    from proplens.errors import ProplensError

    parts = _Parts(tmp_path / "o.parts", {"format": 1}, resume=True)
    batches = [(0, [_Item(0, "a", text="One calm sentence.")])]
    with pytest.raises(ProplensError, match="worker process ended abruptly.*rerun") as raised:
        list(_run_pool(pickle.dumps(_ExitOnUnpickle()), 1, batches, 1000, parts.target))
    assert "\n" not in str(raised.value)


@pytest.mark.slow
def test_an_unguarded_script_with_workers_stops_instead_of_hanging(tmp_path: Path) -> None:
    """A script calling score_corpus(workers=2) at top level runs the call again in every spawned
    worker. The worker now stops at once saying why, and the driver, which used to block for
    ever writing the model into the dead worker's pipe, ends with one line and exit 1."""
    folder = tmp_path / "articles"
    folder.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (folder / name).write_text(_text(len(name)), encoding="utf-8")
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from pathlib import Path\n"
        "from proplens.batch import score_corpus\n"
        f"score_corpus({str(folder)!r}, Path({str(tmp_path / 'o.parquet')!r}), workers=2,\n"
        "             progress=False)\n",
        encoding="utf-8",
    )
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=240)
    assert run.returncode == 1
    assert 'must call it under `if __name__ == "__main__":`' in run.stderr
    assert "could not start" in run.stderr


def test_a_rerun_on_another_input_holds_only_that_input(tmp_path: Path, model) -> None:
    """Scoring input B into the output of input A gave a table of A and B interleaved while the
    command said 'B documents'; documents scored earlier now take their place in the input as
    it is (a file added before them came after them), and those no longer in it are left out
    of the tables (the parts keep them) and counted."""
    output = tmp_path / "scores.parquet"
    first = tmp_path / "first.jsonl"
    first.write_text("\n".join(json.dumps(r) for r in _records()[:10]) + "\n")
    second = tmp_path / "second.jsonl"
    second.write_text("\n".join(json.dumps(r) for r in _records()[20:25]) + "\n")
    score_corpus(first, output, model=model, progress=False)
    result = score_corpus(second, output, model=model, progress=False)
    assert (result.documents, result.scored, result.left_out) == (5, 5, 10)
    sentences, documents = _read(output)
    assert documents["document_id"].tolist() == [f"story{n}" for n in range(20, 25)]
    assert set(sentences["document_id"]) == set(documents["document_id"])
    again = score_corpus(first, output, model=model, progress=False)
    assert (again.skipped, again.scored, again.left_out) == (10, 0, 5)
    # a folder: files added before, between and after earlier ones keep the input's order
    root = tmp_path / "corpus"
    root.mkdir()
    for name in ["b.txt", "d.txt"]:
        (root / name).write_text(_text(len(name) + ord(name[0])), encoding="utf-8")
    folder_output = tmp_path / "folder.parquet"
    score_corpus(root, folder_output, model=model, progress=False, batch_size=1)
    for name in ["a.txt", "c.txt", "e.txt"]:
        (root / name).write_text(_text(ord(name[0])), encoding="utf-8")
    grown = score_corpus(root, folder_output, model=model, progress=False, batch_size=1)
    assert (grown.skipped, grown.scored, grown.left_out) == (2, 3, 0)
    sentences, documents = _read(folder_output)
    assert documents["document_id"].tolist() == ["a.txt", "b.txt", "c.txt", "d.txt", "e.txt"]
    assert sentences["document_id"].drop_duplicates().tolist() == documents["document_id"].tolist()


def test_jsonl_rows_are_named_by_their_line(tmp_path: Path, model) -> None:
    """With a blank line in a JSONL file, the default id 'FILE:3' pointed to line 4 while the
    error of the next row said 'line 5': ids and errors now both give the line."""
    source = tmp_path / "gaps.jsonl"
    source.write_text(
        json.dumps({"text": _text(1)})
        + "\n\n"
        + json.dumps({"text": _text(2)})
        + "\n"
        + json.dumps({"text": ""})
        + "\n{broken\n"
    )
    output = tmp_path / "o.parquet"
    score_corpus(source, output, model=model, progress=False)
    errors = pd.read_parquet(documents_path(output)).set_index("document_id")["error"]
    assert errors.index.tolist() == ["gaps.jsonl:1", "gaps.jsonl:3", "gaps.jsonl:4", "gaps.jsonl:5"]
    assert errors["gaps.jsonl:4"] == f"{source}: line 4: empty document (no text to score)"
    assert errors["gaps.jsonl:5"].startswith(f"{source}: line 5: not valid JSON")


def test_same_named_tables_in_a_glob_get_distinct_default_ids(tmp_path: Path, model) -> None:
    """'dumps/*/data.jsonl' without an id column stopped with 'duplicate document id
    data.jsonl:1': tables of one name are told apart by their path."""
    for week in ("w1", "w2"):
        (tmp_path / week).mkdir()
        (tmp_path / week / "data.jsonl").write_text(json.dumps({"text": _text(len(week))}) + "\n")
    (tmp_path / "w2" / "other.jsonl").write_text(json.dumps({"text": _text(7)}) + "\n")
    output = tmp_path / "o.parquet"
    result = score_corpus(str(tmp_path / "*" / "*.jsonl"), output, model=model, progress=False)
    assert result.scored == 3
    ids = pd.read_parquet(documents_path(output))["document_id"].tolist()
    assert ids == [
        f"{tmp_path / 'w1' / 'data.jsonl'}:1",
        f"{tmp_path / 'w2' / 'data.jsonl'}:1",
        "other.jsonl:1",
    ]


def test_csv_cells_are_read_as_written(tmp_path: Path, model) -> None:
    """An empty source or date cell was '' (a group of its own in reports) where JSONL and
    Parquet give null; a row with more fields than the header made pandas take the extra
    leading fields as an index and shift every column (or fail with a zip() error)."""
    table = tmp_path / "t.csv"
    pd.DataFrame(
        {"id": ["a", "b"], "text": [_text(1), _text(2)], "source": ["", "Post"], "date": ["", ""]}
    ).to_csv(table, index=False)
    output = tmp_path / "o.parquet"
    score_corpus(table, output, model=model, progress=False)
    documents = pd.read_parquet(documents_path(output))
    assert documents["source"].tolist()[1] == "Post"
    assert documents["source"].isna().tolist() == [True, False]
    assert documents["date"].isna().all()
    from proplens.errors import DataError

    shifted = tmp_path / "shifted.csv"
    shifted.write_text('id,text\nx1,"One sentence here.",extra\nx2,"Another one."\n')
    with pytest.raises(DataError, match="more fields than the header"):
        score_corpus(shifted, tmp_path / "s.parquet", model=model, progress=False)
    with pytest.raises(InputError, match="does not read standard input"):
        score_corpus("-", tmp_path / "s.parquet", model=model, progress=False)


def test_resume_refuses_another_model_file_of_the_same_name(jsonl: Path, tmp_path: Path, model):
    """Parts were matched by model name and version only: a retrained or copied model file under
    the same name resumed into them, mixing two models' scores. run.json now records the model
    file's sha256; parts of an older proplens (no sha256) still resume."""
    output = tmp_path / "scores.parquet"
    score_corpus(jsonl, output, model=model, progress=False, batch_size=10)
    run_file = parts_path(output) / "run.json"
    run = json.loads(run_file.read_text())
    assert run["sha256"] == model.metadata.artifact["sha256"]
    run_file.write_text(json.dumps({**run, "sha256": "0" * 64}))
    with pytest.raises(InputError, match="sha256 000000000000.*--no-resume"):
        score_corpus(jsonl, output, model=model, progress=False, batch_size=10)
    run_file.write_text(json.dumps({k: v for k, v in run.items() if k != "sha256"}))
    assert score_corpus(jsonl, output, model=model, progress=False).skipped == DOCUMENT_COUNT


def test_a_batch_that_fails_is_retried_without_evidence(model) -> None:
    """When a batch fails inside the model, each document is retried alone; the retry computed
    evidence, which score-corpus never writes (several times slower per document)."""
    from proplens.batch import _Item, score_batch

    class Flaky:
        devices = model.devices
        calls: list = []

        def score_many(self, texts, document_ids=None, evidence=True):
            self.calls.append((len(texts), evidence))
            if len(texts) > 1:
                raise RuntimeError("one bad document sinks the batch")
            return model.score_many(texts, document_ids=document_ids, evidence=evidence)

    flaky = Flaky()
    items = [_Item(n, f"d{n}", text=_text(n)) for n in range(3)]
    _, documents = score_batch(flaky, items)
    assert documents.column("status").to_pylist() == ["ok"] * 3
    assert flaky.calls == [(3, False), (1, False), (1, False), (1, False)]


def test_the_two_tables_are_replaced_together(jsonl: Path, tmp_path: Path, model, monkeypatch):
    """The sentence table replaced the earlier run's before the documents table was written: a
    failure writing the second (a full disk) left a new sentence table next to an old documents
    table. Now neither is replaced unless both were written, and no temporary file stays."""
    import pyarrow.parquet as pq

    from proplens.errors import ProplensError

    output = tmp_path / "scores.parquet"
    first = tmp_path / "first.jsonl"
    first.write_text("\n".join(jsonl.read_text().splitlines()[:5]) + "\n")
    score_corpus(first, output, model=model, progress=False)
    before = {path: path.read_bytes() for path in (output, documents_path(output))}
    real_writer = pq.ParquetWriter

    def writer(where, schema, *args, **kwargs):
        if str(where).endswith(".documents.parquet.tmp"):
            raise OSError(28, "No space left on device", str(where))
        return real_writer(where, schema, *args, **kwargs)

    monkeypatch.setattr(pq, "ParquetWriter", writer)
    with pytest.raises(ProplensError, match="No space left"):
        score_corpus(jsonl, output, model=model, progress=False)
    assert {path: path.read_bytes() for path in before} == before
    assert sorted(p.name for p in tmp_path.glob("scores*")) == [
        "scores.documents.parquet",
        "scores.parquet",
        "scores.parts",
    ]


def test_the_tables_are_not_one_row_group_per_batch(jsonl: Path, tmp_path: Path, model) -> None:
    """Each batch became its own row group: 100,000 documents in batches of 32 gave 3,125 row
    groups per table, 9 MB of Parquet metadata the writer held until closing (the run's peak
    memory rose by 130 MB) and every reader then walked. Batches are now gathered."""
    import pyarrow.parquet as pq

    output = tmp_path / "scores.parquet"
    score_corpus(jsonl, output, model=model, progress=False, batch_size=1)
    for table in (output, documents_path(output)):
        assert pq.ParquetFile(table).metadata.num_row_groups == 1
    sentences, documents = _read(output)
    assert documents["document_id"].tolist() == [r["id"] for r in _records()]
    assert sentences["document_id"].drop_duplicates().tolist() == documents["document_id"].tolist()


def test_a_file_name_that_is_not_utf8_is_scored_under_a_readable_id(
    folder: Path, tmp_path: Path, model
) -> None:
    """A folder holding 'caf\\xe9.txt' (a Latin-1 file name) crashed the whole run: Python gives
    such names surrogate escapes, which Arrow cannot write. The id now shows the byte as \\xNN,
    in errors too, and the document is scored like any other."""
    base = os.fsencode(folder)
    try:
        (Path(os.fsdecode(base + b"/caf\xe9.txt"))).write_text(_text(4), encoding="utf-8")
        Path(os.fsdecode(base + b"/bin\xe9.txt")).write_bytes(b"\x00\x01\x02binary")
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses file names that are not UTF-8")
    output = tmp_path / "scores.parquet"
    result = score_corpus(folder, output, model=model, progress=False, workers=1)
    assert (result.scored, result.failed) == (DOCUMENT_COUNT + 1, 1)
    sentences, documents = _read(output)
    rows = documents.set_index("document_id")
    latin, binary = "caf\\xe9.txt", "bin\\xe9.txt"
    assert rows.loc[latin, "status"] == "ok"
    assert rows.loc[binary, "error"].endswith(f"{binary}: looks like a binary file, not text")
    assert (sentences["document_id"] == latin).sum() == rows.loc[latin, "sentences"]


# --- documents whose content changed between runs -------------------------------------------------


class _Counting:
    """The model, noting the id of every document it scores (a rerun must score only those that
    changed). Name, version and metadata are the model's, so run.json matches across runs."""

    def __init__(self, model) -> None:
        self.model = model
        self.devices = model.devices
        self.name = model.name
        self.version = model.version
        self.metadata = model.metadata
        self.scored: list[str] = []

    def score_many(self, texts, document_ids=None, evidence=True):
        self.scored.extend(document_ids)
        return self.model.score_many(texts, document_ids=document_ids, evidence=evidence)


def _parts_hold_each_document_once(output: Path) -> None:
    """The parts folder, which `proplens report OUT.parts/` reads, holds each document once too."""
    import pyarrow.parquet as pq

    from proplens.group_report import load_documents

    folder = parts_path(output)
    documents = load_documents(folder)
    assert documents["document_id"].is_unique
    sentences = pd.concat(
        pq.read_table(p).to_pandas() for p in sorted(folder.glob("sentences-*.parquet"))
    )
    assert not sentences.duplicated(["document_id", "sentence_index"]).any()
    assert set(sentences["document_id"]) <= set(documents["document_id"])


def test_an_edited_file_is_rescored_and_its_old_scores_are_gone(
    folder: Path, tmp_path: Path, model, capsys
) -> None:
    """A file edited under the same name kept the scores of its earlier text on a rerun, without
    a sign. Now exactly the edited files are scored again (one longer, one of the same size told
    apart by its modification time), the tables hold only their new rows, once, and the
    command's last line says how many were rescored."""
    output = tmp_path / "scores.parquet"
    score_corpus(folder, output, model=model, progress=False, batch_size=7)
    longer = folder / "Harbour_Post" / "story03.txt"
    longer.write_text(_text(3) + " The mayor resigned on Friday.", encoding="utf-8")
    same_size = folder / "Valley_Times" / "story10.txt"
    old = same_size.read_text(encoding="utf-8")
    same_size.write_text(old.replace("Tuesday", "Tuesdax"), encoding="utf-8")
    assert same_size.stat().st_size == len(old.encode())
    later = same_size.stat().st_mtime_ns + 1_000_000_000
    os.utime(same_size, ns=(later, later))
    counting = _Counting(model)
    score_corpus_command(str(folder), output, model=counting, no_progress=True, batch_size=7)
    line = capsys.readouterr().out
    assert "30 documents: 2 scored, 28 already done, 0 failed, 2 rescored because the" in line
    assert sorted(counting.scored) == ["Harbour_Post/story03.txt", "Valley_Times/story10.txt"]
    fresh = tmp_path / "fresh.parquet"
    score_corpus(folder, fresh, model=model, progress=False)
    for got, expected in zip(_read(output), _read(fresh), strict=True):
        pd.testing.assert_frame_equal(got, expected)
    sentences, _ = _read(output)
    resigned = sentences[sentences["text"] == "The mayor resigned on Friday."]
    assert resigned["document_id"].tolist() == ["Harbour_Post/story03.txt"]
    assert "Tuesdax" in " ".join(
        sentences[sentences["document_id"] == "Valley_Times/story10.txt"]["text"]
    )
    _parts_hold_each_document_once(output)
    counting.scored.clear()
    again = score_corpus(folder, output, model=counting, progress=False, batch_size=7)
    assert (again.skipped, again.scored, again.rescored, counting.scored) == (30, 0, 0, [])


def test_an_edited_table_row_is_rescored_and_its_old_scores_are_gone(
    jsonl: Path, tmp_path: Path, model
) -> None:
    """A JSONL row whose text (or date) was updated under the same id kept its earlier scores
    (or date) on a rerun: the daily feed rerun into one output went stale. Only the changed
    rows are scored again; the others are skipped without being scored."""
    output = tmp_path / "scores.parquet"
    score_corpus(jsonl, output, model=model, progress=False, batch_size=4)
    records = _records()
    records[4]["text"] = "A calm report. " + records[4]["text"]
    records[21]["date"] = "2025-01-01"
    jsonl.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    counting = _Counting(model)
    result = score_corpus(jsonl, output, model=counting, progress=False, batch_size=4)
    assert counting.scored == ["story04", "story21"]
    assert (result.documents, result.scored, result.skipped, result.rescored) == (30, 2, 28, 2)
    fresh = tmp_path / "fresh.parquet"
    score_corpus(jsonl, fresh, model=model, progress=False)
    sentences, documents = _read(output)
    for got, expected in zip((sentences, documents), _read(fresh), strict=True):
        pd.testing.assert_frame_equal(got, expected)
    assert documents.set_index("document_id")["date"]["story21"] == "2025-01-01"
    story04 = sentences[sentences["document_id"] == "story04"]
    assert story04["text"].iloc[0] == "A calm report." and story04["sentence_index"].is_unique
    _parts_hold_each_document_once(output)
    counting.scored.clear()
    again = score_corpus(jsonl, output, model=counting, progress=False, batch_size=4)
    assert (again.skipped, again.rescored, counting.scored) == (30, 0, [])


class _Crash(BaseException):
    """Stands for kill -9 at that instant: no handler of the run catches it as an error."""


@pytest.mark.parametrize("batch_size", [7, 1], ids=["part-keeps-others", "part-emptied"])
def test_a_rerun_killed_at_any_step_after_an_edit_still_gives_each_document_once(
    folder: Path, tmp_path: Path, model, monkeypatch, batch_size: int
) -> None:
    """The rerun that rescores an edited file is stopped just before each of its file system
    changes in turn (the owner token, the new parts, consolidation removing the old rows of the
    document, the tables); the next rerun then still ends with each document exactly once, with
    its new scores, and scores nothing twice."""
    import shutil

    output = tmp_path / "out" / "scores.parquet"
    score_corpus(folder, output, model=model, progress=False, batch_size=batch_size)
    (folder / "Ridge_Courier" / "story05.txt").write_text(_text(5) + " Then it rained.")
    fresh = tmp_path / "fresh.parquet"
    score_corpus(folder, fresh, model=model, progress=False)
    expected = _read(fresh)
    pristine = tmp_path / "pristine"
    shutil.copytree(output.parent, pristine)
    real_replace, real_unlink = os.replace, os.unlink
    crash_at = 0
    while True:
        crash_at += 1
        shutil.rmtree(output.parent)
        shutil.copytree(pristine, output.parent)
        calls = 0

        def crashing(real, at=crash_at):
            def call(*args, **kwargs):
                nonlocal calls
                calls += 1
                if calls == at:
                    raise _Crash
                return real(*args, **kwargs)

            return call

        monkeypatch.setattr(os, "replace", crashing(real_replace))
        monkeypatch.setattr(os, "unlink", crashing(real_unlink))
        try:
            score_corpus(folder, output, model=model, progress=False, batch_size=batch_size)
            finished = True
        except _Crash:
            finished = False
        finally:
            monkeypatch.setattr(os, "replace", real_replace)
            monkeypatch.setattr(os, "unlink", real_unlink)
        counting = _Counting(model)
        result = score_corpus(folder, output, model=counting, progress=False, batch_size=batch_size)
        assert set(counting.scored) <= {"Ridge_Courier/story05.txt"}, crash_at
        assert result.skipped + result.scored == DOCUMENT_COUNT, crash_at
        for got, want in zip(_read(output), expected, strict=True):
            pd.testing.assert_frame_equal(got, want, obj=f"crash at step {crash_at}")
        _parts_hold_each_document_once(output)
        if finished:
            break
    assert crash_at > 5, "too few steps: the crash points were not reached"


def test_parts_of_the_previous_format_are_refused_with_no_resume(
    jsonl: Path, tmp_path: Path, model
) -> None:
    """Parts written before fingerprints existed cannot tell which documents changed since:
    resuming them would keep stale scores unseen. The rerun stops with one line saying
    --no-resume, leaves them as they are, and --no-resume then scores everything afresh."""
    import pyarrow.parquet as pq

    output = tmp_path / "scores.parquet"
    score_corpus(jsonl, output, model=model, progress=False, batch_size=10)
    folder = parts_path(output)
    run = json.loads((folder / "run.json").read_text())
    (folder / "run.json").write_text(json.dumps({**run, "format": 1}))
    for part in folder.glob("documents-*.parquet"):
        pq.write_table(pq.read_table(part).drop(["fingerprint"]), part)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "owner"}
    with pytest.raises(InputError, match=r"parts format 1.*--no-resume") as raised:
        score_corpus(jsonl, output, model=model, progress=False)
    assert "\n" not in str(raised.value)
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "owner"} == before
    result = score_corpus(jsonl, output, model=model, progress=False, resume=False)
    assert (result.scored, result.skipped) == (DOCUMENT_COUNT, 0)
    assert json.loads((folder / "run.json").read_text())["format"] == run["format"]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names open files via /proc")
def test_parts_and_tables_reach_the_disk_before_their_rename(
    jsonl: Path, tmp_path: Path, model, monkeypatch
) -> None:
    """Parts were renamed into place without being flushed: after a power cut a part could exist
    under its final name but empty, taken by the rerun for a finished batch. Each file is now
    flushed before its rename, and the folder after it, so that a documents part is never on
    disk without its sentences part."""
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{descriptor}")))
        return real_fsync(descriptor)

    def replace(source, target, **kwargs):
        events.append(("replace", str(source), str(target)))
        return real_replace(source, target, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    output = tmp_path / "scores.parquet"
    score_corpus(jsonl, output, model=model, progress=False, batch_size=10)
    monkeypatch.undo()
    folder = str(parts_path(output).resolve())
    renames = [(n, e) for n, e in enumerate(events) if e[0] == "replace"]
    assert {Path(e[2]).name for _, e in renames} >= {
        "run.json",
        "owner",
        "sentences-000002.parquet",
        "documents-000002.parquet",
        output.name,
        documents_path(output).name,
    }
    for number, (_, source, target) in renames:
        assert ("fsync", str(Path(source).resolve())) in events[:number], source
        parent = str(Path(target).parent.resolve())
        later = events[number + 1 :]
        assert ("fsync", parent) in later, target
        if parent == folder:  # before anything else is renamed in the parts folder
            following = [e for e in later if e[0] == "replace"]
            assert not following or later.index(("fsync", parent)) < later.index(following[0])


def test_the_progress_bar_counts_rescored_documents_in_its_total(
    folder: Path, tmp_path: Path, model, capsys
) -> None:
    """The bar's total counted an edited document as done, so rescoring it ran the bar past its
    end ("1/0"); it now grows by the documents handed out again."""
    output = tmp_path / "scores.parquet"
    score_corpus(folder, output, model=model, progress=False, batch_size=7)
    edited = folder / "Harbour_Post" / "story03.txt"
    edited.write_text(_text(3) + " The mayor resigned on Friday.", encoding="utf-8")
    capsys.readouterr()
    score_corpus(folder, output, model=model, progress=True, batch_size=7)
    bar = capsys.readouterr().err
    assert "1/1" in bar and "1/0" not in bar


# --- duplicate ids are refused before any scoring ---------------------------------------------


def _write_table(path: Path, records: list[dict]) -> Path:
    """``records`` as a CSV, JSONL or Parquet table, by ``path``'s suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    elif path.suffix == ".csv":
        pd.DataFrame(records).to_csv(path, index=False)
    else:
        pd.DataFrame(records).to_parquet(path)
    return path


@pytest.fixture
def scored_batches(monkeypatch) -> list[list[str]]:
    """The ids of each batch handed to scoring (one process), in order."""
    import proplens.batch as batch

    scored: list[list[str]] = []
    real = batch._score_and_write

    def spy(model, number, items, *args):
        scored.append([item.document_id for item in items])
        return real(model, number, items, *args)

    monkeypatch.setattr(batch, "_score_and_write", spy)
    return scored


def _refused_before_scoring(source, output: Path, model, scored: list, **options) -> str:
    """Run ``score_corpus`` expecting a duplicate id; check nothing was scored nor written."""
    with pytest.raises(InputError, match="duplicate document id") as raised:
        score_corpus(source, output, model=model, progress=False, batch_size=4, **options)
    assert scored == [], "a batch was scored before the duplicate was refused"
    assert not output.exists() and not documents_path(output).exists()
    assert "\n" not in str(raised.value)
    return str(raised.value)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_a_duplicate_id_at_the_end_of_a_table_is_refused_before_any_scoring(
    tmp_path: Path, model, scored_batches, suffix: str
) -> None:
    """A duplicate id was seen only when the run reached it: near the end of a big table, after
    hours of scoring. The ids are now read first; the run stops before any batch, with the
    same one-line message naming both rows, and a rerun over an earlier run's output (resumed or
    --no-resume) leaves its tables and parts byte for byte."""
    records = _records()  # 30 rows, batch size 4: many batches before the last row
    table = _write_table(tmp_path / f"stories{suffix}", [*records, records[0]])
    unit = "line" if suffix == ".jsonl" else "row"
    expected = (
        f"{table}: {unit} 31: duplicate document id 'story00' "
        f"(first seen at {table}: {unit} 1); ids must be unique"
    )
    fresh = tmp_path / "new" / "scores.parquet"
    assert _refused_before_scoring(table, fresh, model, scored_batches) == expected
    assert not (tmp_path / "new").exists()
    # an earlier run on the first rows: its output stays and still resumes
    good = _write_table(tmp_path / "good" / f"stories{suffix}", records[:8])
    output = tmp_path / "scores.parquet"
    score_corpus(good, output, model=model, progress=False, batch_size=4)
    kept = [output, documents_path(output), *parts_path(output).iterdir()]
    earlier = {path: path.read_bytes() for path in kept if path.name != "owner"}
    scored_batches.clear()
    for resume in (True, False):
        assert _refused_keeping(table, output, model, scored_batches, earlier, resume) == expected
    again = score_corpus(good, output, model=model, progress=False, batch_size=4)
    assert (again.skipped, again.scored) == (8, 0)


def _refused_keeping(table, output, model, scored, earlier: dict, resume: bool) -> str:
    with pytest.raises(InputError, match="duplicate document id") as raised:
        score_corpus(table, output, model=model, progress=False, batch_size=4, resume=resume)
    assert scored == [], resume
    now = {p for p in parts_path(output).iterdir() if p.name != "owner"}
    assert now == set(earlier) - {output, documents_path(output)}, resume
    assert all(path.read_bytes() == data for path, data in earlier.items()), resume
    return str(raised.value)


def test_a_duplicate_id_across_two_tables_is_refused_before_any_scoring(
    tmp_path: Path, model, scored_batches
) -> None:
    """Two tables of a glob (Parquet then JSONL), the second's last id taken by the first; and
    an explicit id equal to the default id of a table without an id column."""
    records = _records()
    first = _write_table(tmp_path / "dumps" / "a.parquet", records[:20])
    second = _write_table(tmp_path / "dumps" / "b.jsonl", [*records[20:], records[5]])
    message = _refused_before_scoring(
        str(tmp_path / "dumps" / "*"), tmp_path / "o.parquet", model, scored_batches
    )
    assert message == (
        f"{second}: line 11: duplicate document id 'story05' (first seen at {first}: row 6); "
        "ids must be unique"
    )
    # a.csv has no id column (ids a.csv:1 ...), b.csv names its last row after a.csv's row 3
    plain = [{"text": r["text"]} for r in records[:12]]
    first = _write_table(tmp_path / "mixed" / "a.csv", plain)
    second = _write_table(
        tmp_path / "mixed" / "b.csv", [*records[12:], {"id": "a.csv:3", "text": _text(3)}]
    )
    message = _refused_before_scoring(
        str(tmp_path / "mixed" / "*.csv"), tmp_path / "o.parquet", model, scored_batches
    )
    assert message == (
        f"{second}: row 19: duplicate document id 'a.csv:3' (first seen at {first}: row 3); "
        "ids must be unique"
    )


def test_a_file_and_a_table_row_with_one_id_are_refused_before_any_scoring(
    tmp_path: Path, model, scored_batches
) -> None:
    """In a glob of files and tables, a file's id (its path) taken by a table row is refused up
    front, whichever comes first."""
    root = tmp_path / "mixed"
    records = _records()
    article = root / "a.txt"
    root.mkdir()
    article.write_text(_text(1), encoding="utf-8")
    clash = [*records, {"id": str(article), "text": _text(2)}]
    # b.jsonl sorts after a.txt, 0.parquet before it: the second to come is named first
    for name, unit, table_first in (("b.jsonl", "line", False), ("0.parquet", "row", True)):
        table = _write_table(root / name, clash)
        message = _refused_before_scoring(
            str(root / "*"), tmp_path / "o.parquet", model, scored_batches
        )
        in_table, in_file = f"{table}: {unit} 31", f"{article}: row 1"
        second, first = (in_file, in_table) if table_first else (in_table, in_file)
        assert message == (
            f"{second}: duplicate document id {str(article)!r} (first seen at {first}); "
            "ids must be unique"
        )
        table.unlink()


def test_a_table_matched_twice_by_a_glob_is_scored_once(tmp_path: Path, model) -> None:
    """'**/**' makes Python's glob list a path once per way it matches: the table is still read
    once, each row scored once under its default id."""
    table = _write_table(
        tmp_path / "dumps" / "w1" / "data.csv", [{"text": _text(n)} for n in range(12)]
    )
    pattern = str(tmp_path / "dumps" / "**" / "**" / "*.csv")
    assert len(glob.glob(pattern, recursive=True)) > 1  # what made the ids repeat
    output = tmp_path / "o.parquet"
    result = score_corpus(pattern, output, model=model, progress=False, batch_size=4)
    ids = pd.read_parquet(documents_path(output))["document_id"].tolist()
    assert result.documents == 12 and sorted(ids) == sorted(
        f"{table.name}:{n}" for n in range(1, 13)
    )


def test_the_id_check_reads_the_ids_the_run_gives(tmp_path: Path, monkeypatch) -> None:
    """The up-front check reads only the id column, so it names rows on its own: its ids must be
    those of the rows the run scores (numbers, null and empty cells, unreadable JSONL lines, a
    lone surrogate), or it would refuse a good input or let a duplicate through. A table without
    an id column is not read at all when no other input has explicit ids."""
    import proplens.batch as batch

    lines = [
        json.dumps({"id": "a", "text": "x"}),
        "",
        json.dumps({"text": "x"}),
        "{broken",
        "[1, 2]",
        json.dumps({"id": 7, "text": "x"}),
        json.dumps({"id": None, "text": "x"}),
        json.dumps({"id": "", "text": "x"}),
        '{"id": "b", "text": "x", "source": "\\ud800"}',
        json.dumps({"id": 1.5, "text": "x", "date": 20240101}),
        json.dumps({"id": True, "text": "x"}),
    ]
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    csv = tmp_path / "t.csv"
    csv.write_text('id,text\nc,x\n,x\n" 3 ",x\nNA,x\nnull,"two\nlines"\n', encoding="utf-8")
    numbers = tmp_path / "numbers.parquet"
    pd.DataFrame({"id": pd.array([5, None, 8], dtype="Int64"), "text": "x"}).to_parquet(numbers)
    floats = tmp_path / "floats.parquet"
    pd.DataFrame({"id": [1.0, float("nan"), 2.5], "text": "x"}).to_parquet(floats)
    stamps = tmp_path / "stamps.parquet"
    pd.DataFrame({"id": pd.to_datetime(["2024-01-02", None]), "text": "x"}).to_parquet(stamps)
    for table in (jsonl, csv, numbers, floats, stamps):
        expected = [i.document_id for i in batch._table_items(table, "text", "id", 2, 0, "L")]
        got = [i for _, i in batch._table_ids(table, "id", "L", True, None)]
        assert got == expected, table
        assert len(set(got)) == len(got), table
    counts = batch._count_and_check_ids([jsonl, csv, numbers, floats, stamps], "id")
    assert counts == [10, 5, 3, 3, 2]

    def unread(*args):
        raise AssertionError("a table without an id column was read for its ids")

    monkeypatch.setattr(batch, "_table_ids", unread)
    plain = _write_table(tmp_path / "plain" / "p.csv", [{"text": "x"}] * 3)
    other = _write_table(tmp_path / "plain" / "q.parquet", [{"text": "x"}] * 2)
    assert batch._count_and_check_ids([plain, other], "id") == [3, 2]


def test_a_duplicate_id_exits_with_one_line_before_loading_the_model(tmp_path: Path) -> None:
    """The command: exit 2, one line on stderr, nothing written; refused before the model loads."""
    records = _records()
    table = _write_table(tmp_path / "stories.csv", [*records, records[0]])
    output = tmp_path / "out" / "scores.parquet"
    run = subprocess.run(
        [sys.executable, "-m", "proplens", "score-corpus", str(table), "-o", str(output)]
        + ["--batch-size", "4", "--model", str(tmp_path / "no-such-model")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().splitlines() == [
        f"proplens: error: {table}: row 31: duplicate document id 'story00' "
        f"(first seen at {table}: row 1); ids must be unique"
    ]
    assert not (tmp_path / "out").exists()
