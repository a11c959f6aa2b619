"""The command line: round trips through every output format and one-line errors on bad input."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLE_ARTICLE, REPO_ROOT

from proplens.cli import main


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_score_json_round_trip(capsys):
    """`score --format json` gives the documented schema with offsets into the file as read."""
    code, out, _ = run(capsys, "score", EXAMPLE_ARTICLE, "--format", "json")
    assert code == 0
    data = json.loads(out)
    text = EXAMPLE_ARTICLE.read_text(encoding="utf-8")
    assert data["document"] == str(EXAMPLE_ARTICLE)
    assert data["summary"]["sentences"] == len(data["sentences"]) == 19
    for s in data["sentences"]:
        assert text[s["start"] : s["end"]] == s["text"]


def test_score_jsonl_csv_and_table(capsys, tmp_path):
    """Several files at once: one JSONL line per document, one CSV row per sentence, a table."""
    other = tmp_path / "other.txt"
    other.write_text("Officials met on Monday.\nThey agreed on a budget.", encoding="utf-8")
    code, out, _ = run(capsys, "score", EXAMPLE_ARTICLE, other, "--format", "jsonl")
    assert code == 0
    lines = out.strip().split("\n")
    assert [json.loads(line)["document"] for line in lines] == [str(EXAMPLE_ARTICLE), str(other)]
    code, out, _ = run(capsys, "score", EXAMPLE_ARTICLE, other, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 19 + 2
    assert {"document", "start", "end", "propaganda", "labels", "Loaded_Language"} <= set(rows[0])
    text = EXAMPLE_ARTICLE.read_text(encoding="utf-8")
    records = [e for row in rows[:19] for e in json.loads(row["evidence_json"])]
    assert records and all(text[e["start"] : e["end"]] == e["text"] for e in records)
    for row in rows[:19]:  # each record explains one of its sentence's labels
        labels = set(row["labels"].split(";"))
        assert {e["device"] for e in json.loads(row["evidence_json"])} <= labels
    code, out, _ = run(capsys, "score", other)
    assert code == 0 and "Officials met on Monday." in out


def test_score_html_report_file(capsys, tmp_path):
    """`--format html -o` writes one self-contained report file."""
    target = tmp_path / "report.html"
    code, _, err = run(capsys, "score", EXAMPLE_ARTICLE, "--format", "html", "-o", target)
    assert code == 0, err
    html = target.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") or html.lower().startswith("<!doctype html>")
    assert "spineless bureaucrats" in html


def test_stdin(capsys, monkeypatch):
    """`-` reads standard input."""
    monkeypatch.setattr(
        sys, "stdin", io.TextIOWrapper(io.BytesIO(b"A calm sentence. Another one."))
    )
    code, out, _ = run(capsys, "score", "-", "--format", "json")
    assert code == 0
    assert json.loads(out)["summary"]["sentences"] == 2


def test_fail_above_and_min_propaganda(capsys):
    """`--fail-above` gives exit code 6 when a document scores above it; 1.0 never fails."""
    code, _, err = run(capsys, "score", EXAMPLE_ARTICLE, "--fail-above", "0.0", "--format", "json")
    assert code == 6
    assert f"proplens: {EXAMPLE_ARTICLE}: propaganda score 0." in err
    assert "is above --fail-above 0.0" in err
    code, _, _ = run(capsys, "score", EXAMPLE_ARTICLE, "--fail-above", "1.0", "--format", "json")
    assert code == 0


def test_threshold_and_devices_options(capsys):
    """`--threshold DEVICE=VALUE` and `--devices` reach the scorer."""
    code, out, _ = run(
        capsys,
        "score",
        EXAMPLE_ARTICLE,
        "--format",
        "json",
        "--devices",
        "Doubt,Loaded_Language",
        "--threshold",
        "Doubt=0.99",
    )
    assert code == 0
    data = json.loads(out)
    assert set(data["sentences"][0]["devices"]) == {"Doubt", "Loaded_Language"}
    assert all(
        "Doubt" not in s["labels"] or s["devices"]["Doubt"] >= 0.99 for s in data["sentences"]
    )


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing.txt", "not found"),
        (lambda p: p, "no .txt"),
        (lambda p: _write(p / "bin.txt", b"\x00\x01\x02binary\x00"), "binary"),
        (lambda p: _write(p / "doc.pdf", b"%PDF-1.4"), "unsupported"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(capsys, tmp_path, make, message):
    """Missing file, empty folder, binary file, wrong type: one line on stderr, exit code 2."""
    code, _, err = run(capsys, "score", make(tmp_path))
    assert code == 2
    lines = [line for line in err.strip().split("\n") if line]
    assert len(lines) == 1 and message in lines[0].lower()
    assert "Traceback" not in err


def test_large_file_and_non_utf8(capsys, tmp_path):
    """A 50 MB file is refused quickly; a cp1252 file is decoded, not rejected."""
    big = tmp_path / "big.txt"
    with open(big, "wb") as handle:
        handle.truncate(50_000_000)
    code, _, err = run(capsys, "score", big)
    assert code == 2 and "limit" in err
    legacy = _write(
        tmp_path / "legacy.txt", "Caf\u00e9 owners said \u201cno\u201d.".encode("cp1252")
    )
    code, out, err = run(capsys, "score", legacy, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["sentences"][0]["text"].startswith("Caf\u00e9")


def test_empty_file_is_valid(capsys, tmp_path):
    """An empty file has zero sentences and says so; it is not an error."""
    code, out, _ = run(capsys, "score", _write(tmp_path / "empty.txt", b""), "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["summary"]["sentences"] == 0 and "note" in data


def test_rest_of_a_multi_file_run_completes(capsys, tmp_path):
    """One bad file does not stop the others; the exit code still reports the failure."""
    good = _write(tmp_path / "good.txt", b"A sentence here.")
    code, out, err = run(capsys, "score", tmp_path / "nope.txt", good, "--format", "jsonl")
    assert code == 2
    assert json.loads(out.strip())["document"] == str(good)
    assert "nope.txt" in err


def test_a_run_that_reads_nothing_writes_nothing(capsys, tmp_path):
    """Every input failed: the earlier output file is kept as it was, and the exit code says so."""
    keep = tmp_path / "keep.json"
    keep.write_text('{"earlier": "result"}\n', encoding="utf-8")
    code, _, err = run(capsys, "score", tmp_path / "missing.txt", "-f", "json", "-o", keep)
    assert code == 2 and "not written" in err and "wrote" not in err
    assert keep.read_text(encoding="utf-8") == '{"earlier": "result"}\n'


def test_json_is_a_list_whenever_several_inputs_are_given(capsys, tmp_path):
    """The shape follows the command line, not how many inputs could be read."""
    code, out, _ = run(capsys, "score", EXAMPLE_ARTICLE, tmp_path / "missing.txt", "-f", "json")
    assert code == 2 and isinstance(json.loads(out), list) and len(json.loads(out)) == 1
    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(EXAMPLE_ARTICLE, folder / "a.txt")
    code, out, _ = run(capsys, "score", folder, "-f", "json")
    assert code == 0 and isinstance(json.loads(out), list)
    code, out, _ = run(capsys, "score", EXAMPLE_ARTICLE, "-f", "json")
    assert code == 0 and isinstance(json.loads(out), dict)


@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".csv", ".html", ".txt"])
def test_the_output_extension_picks_the_format(capsys, tmp_path, suffix):
    """`-o report.json` writes JSON without `--format`; an explicit `--format` still wins."""
    target = tmp_path / f"report{suffix}"
    code, _, err = run(capsys, "score", EXAMPLE_ARTICLE, "-o", target)
    assert code == 0, err
    written = target.read_text(encoding="utf-8")
    if suffix == ".json":
        assert json.loads(written)["summary"]["sentences"] == 19
    elif suffix == ".jsonl":
        assert json.loads(written.splitlines()[0])["summary"]["sentences"] == 19
    elif suffix == ".csv":
        assert len(list(csv.DictReader(io.StringIO(written)))) == 19
    elif suffix == ".html":
        assert written.lstrip().lower().startswith("<!doctype html")
    else:
        assert "propaganda score" in written  # the table
    code, _, _ = run(capsys, "score", EXAMPLE_ARTICLE, "-f", "csv", "-o", target)
    assert code == 0 and target.read_text(encoding="utf-8").startswith("document,")


def test_bad_format_is_rejected(capsys):
    """An unknown output format is a one-line error."""
    code, _, err = run(capsys, "score", EXAMPLE_ARTICLE, "--format", "xml")
    assert code != 0 and "--format" in err


def test_tampered_model_is_refused(capsys, tmp_path, default_model):
    """A model whose joblib file changed after saving is refused with a clear message."""
    copy = tmp_path / "models" / "copy" / "v1"
    shutil.copytree(default_model.path, copy)
    with open(copy / "model.joblib", "r+b") as handle:
        handle.seek(100)
        byte = handle.read(1)
        handle.seek(100)
        handle.write(bytes([byte[0] ^ 0xFF]))
    code, _, err = run(capsys, "score", EXAMPLE_ARTICLE, "--model", copy)
    assert code == 4
    assert "sha256" in err and "Traceback" not in err


def test_info_and_models_list(capsys):
    """`info` names versions, data and model; `models list` shows the current model."""
    code, out, _ = run(capsys, "info")
    assert code == 0
    assert "scikit-learn" in out and "model " in out and "data " in out
    code, out, _ = run(capsys, "models", "list")
    assert code == 0 and "ptc-default" in out


def test_console_script_runs_cold(tmp_path):
    """The installed `proplens` command scores the example in a fresh process, no traceback."""
    exe = Path(sys.executable).with_name("proplens")
    result = subprocess.run(
        [str(exe), "score", str(EXAMPLE_ARTICLE), "--format", "json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=os.environ.copy(),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["summary"]["sentences"] == 19


# Modules only fitting needs: a cold `proplens score` should not spend its start-up importing them.
_FITTING_MODULES = (
    "sklearn.linear_model",
    "sklearn.model_selection",
    "sklearn.metrics",
    "sklearn.multiclass",
    "proplens.training",
    "proplens.labeling",
)


def test_cold_score_imports_no_fitting_code(tmp_path):
    """Scoring in a fresh process imports none of the fitting machinery, and Bling Fire before
    scikit-learn (its import scans every module loaded so far)."""
    output = tmp_path / "out.json"
    arguments = ["score", str(EXAMPLE_ARTICLE), "--format", "json", "--output", str(output)]
    script = (
        "import json, sys\n"
        "from proplens.cli import main\n"
        f"code = main({arguments!r})\n"
        "names = list(sys.modules)\n"
        f"loaded = [name for name in {_FITTING_MODULES!r} if name in sys.modules]\n"
        "first = names.index('blingfire') < names.index('sklearn')\n"
        "print(json.dumps({'code': code, 'loaded': loaded, 'blingfire_first': first}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report == {"code": 0, "loaded": [], "blingfire_first": True}
    assert json.loads(output.read_text(encoding="utf-8"))["summary"]["sentences"] == 19


def test_importing_the_command_line_leaves_scikit_learn_scipy_and_pandas_out():
    """They load when a command needs a model (with the garbage collector paused), not before."""
    script = (
        "import json, sys, proplens, proplens.cli\n"
        "print(json.dumps([m for m in ('sklearn', 'scipy', 'pandas') if m in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_python_m_proplens_scores_like_main(capsys):
    """`python -m proplens` (which freezes what it loaded for the collector) prints what main()
    prints in-process."""
    arguments = ["score", str(EXAMPLE_ARTICLE), "--format", "json"]
    code, out, _ = run(capsys, *arguments)
    result = subprocess.run(
        [sys.executable, "-m", "proplens", *arguments], capture_output=True, text=True, timeout=120
    )
    assert code == result.returncode == 0, result.stderr
    assert result.stdout == out


def test_python_m_proplens_exits_with_the_command_code(capsys):
    """`python -m proplens` (which freezes the collector before exiting) keeps main's exit code
    and its one-line error."""
    arguments = ["score", "--format", "bogus", str(EXAMPLE_ARTICLE)]
    code, _, _ = run(capsys, *arguments)
    result = subprocess.run(
        [sys.executable, "-m", "proplens", *arguments], capture_output=True, text=True, timeout=120
    )
    assert code != 0 and result.returncode == code
    assert result.stderr.strip().count("\n") == 0 and "--format must be one of" in result.stderr


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["score"], "Missing argument"),
        (["score", EXAMPLE_ARTICLE, "--bogus"], "No such option"),
        (["score", EXAMPLE_ARTICLE, "--min-propaganda", "abc"], "--min-propaganda"),
        (["score", EXAMPLE_ARTICLE, "--format"], "requires an argument"),
        (["classify-span", EXAMPLE_ARTICLE, "1"], "Missing argument"),
        (["no-such-command"], "No such command"),
    ],
)
def test_usage_errors_are_messages_not_tracebacks(capsys, arguments, message):
    """Missing arguments, unknown options and unparsable values: one error line on stderr that
    says where the help is, exit code 2, whichever Typer (with or without its own copy of
    Click)."""
    code, _, err = run(capsys, *arguments)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert err.startswith("proplens: error: ") and err.strip().count("\n") == 0
    if arguments[0] != "classify-span":  # its START END check is proplens's own, not Click's
        assert "--help')" in err


@pytest.mark.parametrize(
    "values, message",
    [
        (["=0.3"], "name a device before '='"),
        (["Doubt=0.3", "Doubt=0.5"], "--threshold Doubt is given twice"),
        (["0.3", "0.5"], "--threshold overall is given twice"),
    ],
)
def test_threshold_values_that_cannot_be_meant_are_refused(capsys, values, message):
    """An empty device name or the same label twice (the last silently won) is one line."""
    options = [part for value in values for part in ("--threshold", value)]
    code, out, err = run(capsys, "score", EXAMPLE_ARTICLE, "-f", "json", *options)
    assert code == 3 and out == "" and err.strip().count("\n") == 0 and message in err


def test_an_overall_threshold_and_device_pairs_combine(capsys):
    """``--threshold 0.6 --threshold propaganda=1``: every device at 0.6, no fallback, so no
    label under 0.6; a pair overrides the overall value for its device."""
    code, out, _ = run(
        capsys, "score", EXAMPLE_ARTICLE, "-f", "json",
        "--threshold", "0.6", "--threshold", "propaganda=1", "--threshold", "Doubt=0.01",
    )  # fmt: skip
    assert code == 0
    sentences = json.loads(out)["sentences"]
    labels = [(d, s["devices"][d]) for s in sentences for d in s["labels"]]
    assert all(p >= 0.6 for d, p in labels if d != "Doubt")
    assert ("Doubt" in {d for d, _ in labels}) == any(
        s["devices"]["Doubt"] >= 0.01 for s in sentences
    )
    assert any(s["devices"]["Doubt"] >= 0.01 for s in sentences)


def test_min_propaganda_says_it_filters_the_table_only(capsys):
    code, out, err = run(capsys, "score", EXAMPLE_ARTICLE, "-f", "json", "--min-propaganda", "0.9")
    assert code == 0 and "--min-propaganda filters the table only" in err
    assert len(json.loads(out)["sentences"]) == 19  # every sentence of the example
    code, _, err = run(capsys, "score", EXAMPLE_ARTICLE, "--min-propaganda", "0.9")
    assert code == 0 and "warning" not in err


def test_a_tiny_size_limit_is_stated_in_bytes(capsys):
    code, _, err = run(capsys, "score", EXAMPLE_ARTICLE, "--max-size", "0.0001")
    size = EXAMPLE_ARTICLE.stat().st_size
    assert code == 2 and f"{size:,} bytes is above the 100 bytes limit" in err


@pytest.mark.parametrize(
    "option, value",
    [
        ("--max-size", "nan"),
        ("--max-size", "inf"),
        ("--max-size", "0"),
        ("--max-size", "-1"),
        ("--fail-above", "nan"),
        ("--fail-above", "2"),
        ("--min-propaganda", "-0.5"),
        ("--devices", " , "),
    ],
)
def test_bad_option_values_are_one_line(capsys, option, value):
    """Option values that cannot mean anything are refused up front in one line naming the
    option (a NaN --fail-above would otherwise never fail a pipeline)."""
    code, out, err = run(capsys, "score", EXAMPLE_ARTICLE, "--format", "json", option, value)
    assert code == 3 and out == ""
    lines = err.strip().split("\n")
    assert len(lines) == 1 and option in lines[0]


@pytest.mark.parametrize("format", ["json", "table"])
def test_unwritable_output_is_one_line_and_leaves_nothing(capsys, tmp_path, format):
    """An --output in a folder that does not exist, or that is a folder: one line, exit 1."""
    folder = tmp_path / "folder"
    folder.mkdir()
    for target, message in ((tmp_path / "no" / "out.txt", "does not exist"), (folder, "folder")):
        code, _, err = run(capsys, "score", EXAMPLE_ARTICLE, "-f", format, "-o", target)
        assert code == 1
        lines = err.strip().split("\n")
        assert len(lines) == 1 and str(target) in lines[0] and message in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]
    assert list(folder.iterdir()) == []


def test_interrupted_output_write_keeps_the_old_file(capsys, tmp_path, monkeypatch):
    """Ctrl-C while the report is being put in place: the earlier report stays whole and no
    temporary file is left behind."""
    target = tmp_path / "report.json"
    target.write_text("earlier report\n", encoding="utf-8")

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    code, _, _ = run(capsys, "score", EXAMPLE_ARTICLE, "-f", "json", "-o", target)
    assert code == 130
    assert target.read_text(encoding="utf-8") == "earlier report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_output_to_a_pipe_or_link_writes_through_it(capsys, tmp_path):
    """-o /dev/stdout, a named pipe or a symbolic link: written to, never replaced by a file."""
    text = _write(tmp_path / "short.txt", b"Officials met on Monday. They agreed a budget.")
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    reader = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)
    try:
        code, _, err = run(capsys, "score", text, "-f", "jsonl", "--no-evidence", "-o", pipe)
        assert code == 0, err
        received = os.read(reader, 1 << 16).decode("utf-8")
    finally:
        os.close(reader)
    assert json.loads(received)["document"] == str(text)
    assert pipe.is_fifo()
    report = tmp_path / "report.json"
    link = tmp_path / "latest.json"
    link.symlink_to(report.name)
    code, _, err = run(capsys, "score", text, "-f", "json", "-o", link)
    assert code == 0, err
    assert link.is_symlink() and json.loads(report.read_text(encoding="utf-8"))["document"]


def test_output_that_is_an_input_is_refused(capsys, tmp_path):
    """`score a.txt -o a.txt` would replace the article with its report: refused, kept."""
    article = _write(tmp_path / "a.txt", b"Officials met on Monday.")
    code, _, err = run(capsys, "score", article, "-o", tmp_path / "." / "a.txt")
    assert code == 1 and "input" in err
    assert article.read_bytes() == b"Officials met on Monday."


def test_table_shows_brackets_and_colons_as_written(capsys, tmp_path):
    """Square brackets and :name: in an article or a file name are text, not Rich markup or
    emoji codes: the table shows them as they are, and a stray [/] does not crash it."""
    article = _write(
        tmp_path / "[red]odd.txt",
        b"He said [/] that the [bold]plan[/bold] is a :fire: disgrace. [link=http://x]Go[/link]!",
    )
    target = tmp_path / "table.txt"
    code, _, err = run(capsys, "score", article, "-o", target)
    assert code == 0, err
    table = target.read_text(encoding="utf-8")
    assert "[red]odd.txt" in table
    for piece in ("[/]", "[bold]plan[/bold]", ":fire:", "[link=http://x]Go[/link]"):
        assert piece in table
    code, _, err = run(capsys, "score", tmp_path / "gone[/x].txt")
    assert code == 2 and "gone[/x].txt: file not found" in err


def test_table_shows_whole_device_names_in_80_columns(capsys, monkeypatch):
    """A device name has no space to wrap at: in an 80-column terminal the table still shows
    each label of the example whole (its probability beside it or on the next line), and in a
    120-column one beside its probability, one label to a line."""
    code, data, _ = run(capsys, "score", EXAMPLE_ARTICLE, "--format", "json")
    labels = {(d, s["devices"][d]) for s in json.loads(data)["sentences"] for d in s["labels"]}
    assert any("," in name and len(name) > 21 for name, _ in labels)  # the hard cases are there
    for columns in (80, 120):
        monkeypatch.setenv("COLUMNS", str(columns))
        code, out, err = run(capsys, "score", EXAMPLE_ARTICLE)
        assert code == 0, err
        assert max(len(line) for line in out.splitlines()) <= columns
        for name, probability in labels:
            beside = rf"│ {re.escape(name)} {probability:.2f} +│"
            below = rf"│ {re.escape(name)} +│.*\n.*│ {probability:.2f} +│"
            assert re.search(beside if columns == 120 else f"{beside}|{below}", out), name


def test_model_option_help_shows_the_version_syntax(capsys):
    """The --model help names NAME@VERSION (help text is rendered as Rich markup)."""
    for command in ("score", "classify-span"):
        code, out, _ = run(capsys, command, "--help")
        assert code == 0 and "NAME@VERSION" in out


def test_help_paragraphs_flow_as_one_text():
    """Rich prints a line break inside a help paragraph as it stands, so every command's help
    (and every option's) is written as whole paragraphs: no line break inside one."""
    import typer.main

    from proplens.cli import _register_optional, app

    _register_optional()  # serve, score-corpus and report: registered when a command needs them

    def commands(command, path=()):
        if hasattr(command, "commands"):  # a group (Typer 0.29 vendors its own click)
            for name, sub in command.commands.items():
                yield from commands(sub, (*path, name))
        else:
            yield path, command

    seen = 0
    for path, command in commands(typer.main.get_command(app)):
        seen += 1
        texts = [command.help or "", *(getattr(p, "help", None) or "" for p in command.params)]
        for text in texts:
            for paragraph in text.strip().split("\n\n"):
                assert "\n" not in paragraph, (" ".join(path), paragraph)
    assert seen >= 16


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


assert REPO_ROOT.is_dir()


def test_console_script_defers_scipy_stats_until_it_is_used(tmp_path):
    """`proplens score` never loads scipy.stats (0.4 s of a cold start); code that bound the
    placeholder before, and code that imports it after, both get the real module on first use."""
    output = tmp_path / "out.json"
    arguments = ["proplens", "score", str(EXAMPLE_ARTICLE), "--format", "json", "-o", str(output)]
    script = (
        "import json, sys\n"
        "from proplens.cli import run\n"
        f"sys.argv = {arguments!r}\n"
        "try:\n"
        "    run()\n"
        "except SystemExit as stop:\n"
        "    code = stop.code\n"
        "deferred = type(sys.modules['scipy.stats']).__name__ == '_DeferredModule'\n"
        "from scipy import stats as bound_before\n"
        "import scipy.stats\n"
        "half = float(bound_before.norm.cdf(0.0))\n"
        "real = sys.modules['scipy.stats']\n"
        "same = real is scipy.stats and bound_before.norm is real.norm\n"
        "from sklearn.utils.fixes import _mode\n"
        "mode = int(_mode([1, 2, 2])[0][0])\n"
        "print(json.dumps({'code': code, 'deferred': deferred, 'half': half, 'same': same,\n"
        "                  'mode': mode}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"code": 0, "deferred": True, "half": 0.5, "same": True, "mode": 2}
    assert json.loads(output.read_text(encoding="utf-8"))["summary"]["sentences"] == 19


def test_ctrl_c_is_one_line_and_exit_130(capsys, monkeypatch):
    """An interrupted command says so and exits 130, whichever way Typer reports it."""
    import typer

    from proplens import cli

    interrupted = typer.Typer()

    @interrupted.command()
    def work() -> None:
        raise KeyboardInterrupt

    @interrupted.command()
    def other() -> None:  # two commands: the app takes the command name
        pass

    monkeypatch.setattr(cli, "app", interrupted)
    assert cli.main(["work"]) == 130
    assert capsys.readouterr().err.strip() == "proplens: interrupted"


@pytest.mark.parametrize("folder", ["no-such-folder", "not-a-corpus"])
def test_train_corpus_without_labels_is_a_usage_error(capsys, tmp_path, monkeypatch, folder):
    """`train --corpus DIR` without `--labels` trained on the base corpus as if --corpus had not
    been given. --corpus is only the folder stand-off --labels point into (README, `train --help`,
    docs/retraining.md): alone it is a one-line usage error, exit 2, before anything is trained."""
    import proplens.training

    def must_not_train(**kwargs):
        raise AssertionError(f"training started with corpus_dir={kwargs.get('corpus_dir')}")

    monkeypatch.setattr(proplens.training, "train", must_not_train)
    (tmp_path / "not-a-corpus").mkdir()
    code, out, err = run(capsys, "train", "--no-cv", "--corpus", tmp_path / folder)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("proplens: error: --corpus")
    assert "needs --labels" in lines[0] and folder in lines[0]
    help_code, help_text, _ = run(capsys, "train", "--help")
    assert help_code == 0 and "only with --labels" in " ".join(help_text.split())


def test_classify_span_reads_a_file_of_spans(capsys, tmp_path):
    """--spans classifies every pair of a file at once (header, comments and commas allowed),
    each answer as `classify-span FILE START END` gives it, with its offsets."""
    text = EXAMPLE_ARTICLE.read_text(encoding="utf-8")
    first = text.index("Marlow first")
    pairs = [(first, first + len("Marlow first, Marlow always!")), (10, 30)]
    listing = tmp_path / "spans.tsv"
    listing.write_text(
        f"start\tend\n# slogans\n{pairs[0][0]}\t{pairs[0][1]}\n{pairs[1][0]}, {pairs[1][1]}\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "classify-span", EXAMPLE_ARTICLE, "--spans", listing)
    assert code == 0
    answers = json.loads(out)
    assert [(a["start"], a["end"]) for a in answers] == pairs
    for answer in answers:
        code, alone, _ = run(
            capsys, "classify-span", EXAMPLE_ARTICLE, answer["start"], answer["end"]
        )
        assert code == 0
        assert json.loads(alone) == answer  # offsets included, as in the --spans output


def test_classify_span_of_one_span_names_its_offsets(capsys):
    """One span: its answer carries its offsets, and an error speaks of "span offsets"."""
    text = EXAMPLE_ARTICLE.read_text(encoding="utf-8")
    start = text.index("spineless bureaucrats")
    code, out, _ = run(capsys, "classify-span", EXAMPLE_ARTICLE, start, start + 21)
    answer = json.loads(out)
    assert code == 0 and (answer["start"], answer["end"]) == (start, start + 21)
    assert answer["span"] == "spineless bureaucrats" and answer["device"] in answer["probabilities"]
    blank = text.index("\n\n")
    code, _, err = run(capsys, "classify-span", EXAMPLE_ARTICLE, blank, blank + 2)
    assert code == 3 and f"span offsets {blank}..{blank + 2} hold only whitespace" in err


@pytest.mark.parametrize(
    "content, arguments, message",
    [
        ("10 x\n", [], "spans.tsv line 1: expected 'START END', got '10 x'"),
        ("# nothing\n", [], "no spans"),
        ("10 99999\n", [], "span 1: offsets must satisfy 0 <= start < end"),
        ("10 20\n", ["1", "5"], "either START END or --spans FILE"),
    ],
)
def test_classify_span_rejects_bad_span_files_in_one_line(
    capsys, tmp_path, content, arguments, message
):
    listing = tmp_path / "spans.tsv"
    listing.write_text(content, encoding="utf-8")
    code, out, err = run(capsys, "classify-span", EXAMPLE_ARTICLE, *arguments, "--spans", listing)
    assert code != 0 and out == ""
    assert message in err and err.strip().count("\n") == 0


# --- evaluate --model --labels ------------------------------------------------------------------

#: Project-written sentences with their devices, a label file as `train --labels` reads it.
OWN_LABELS = (
    "text,devices\n"
    '"These greedy, reckless officials are bleeding our fishermen dry!",Loaded_Language\n'
    "The minutes will be published on Friday.,none\n"
    '"Can anyone really believe a word this board says?",Doubt\n'
    "The ferry leaves the north pier at seven each morning.,none\n"
)


def test_evaluate_a_saved_model_on_your_labels(capsys, tmp_path, default_model, monkeypatch):
    """`evaluate --model M --labels F --out DIR` scores the labels with M (no cross-validation),
    prints the per-device table and the pooled figures, and writes what evaluate_model gives."""
    import proplens.training
    from proplens.evaluation import evaluate_model

    def must_not_cross_validate(*args, **kwargs):
        raise AssertionError("cross-validation ran")

    monkeypatch.setattr(proplens.training, "cross_validate", must_not_cross_validate)
    labels = tmp_path / "own.csv"
    labels.write_text(OWN_LABELS, encoding="utf-8")
    out = tmp_path / "eval"
    args = ["evaluate", "--model", default_model.path, "--labels", labels, "--out", out]
    code, printed, err = run(capsys, *args)
    assert code == 0, err
    assert f"ptc-default@{default_model.version} on 4 labeled sentences" in printed
    for word in ("precision", "recall", "support", "Loaded_Language", "Doubt", "micro_f1"):
        assert word in printed
    assert "note: no sentence-level (any-device) figures: the labels never annotate 12" in printed
    expected = evaluate_model(default_model, [labels]).to_dict()
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8")) == expected
    with open(out / "per_device.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["device"] for row in rows] == ["Loaded_Language", "Doubt"]
    for row in rows:
        assert float(row["f1"]) == expected["per_device"][row["device"]]["f1"]
        assert int(row["support"]) == 1
    assert "wrote" in err and "metrics.json" in err


def test_evaluate_a_saved_model_on_a_labeled_semeval_split(capsys, tmp_path, default_model):
    """`evaluate --model M --split dev --data ROOT` scores the split (every sentence judged for
    the 14 devices): SLC, micro, macro and TC figures, written as evaluate_model_on_split gives
    them; the train split is refused in one line."""
    from tiny_corpus import write_dev_release

    from proplens.evaluation import evaluate_model_on_split

    root = write_dev_release(tmp_path / "data")
    out = tmp_path / "eval"
    args = ["evaluate", "--model", default_model.path, "--split", "dev", "--data", root]
    code, printed, err = run(capsys, *args, "--out", out)
    assert code == 0, err
    assert "labeled sentences of the SemEval-2020 dev split" in printed
    for key in ("sentence_f1", "micro_f1", "macro_f1", "tc_micro_f1"):
        assert re.search(rf"^{key} +\d\.\d{{4}}$", printed, re.M), key
    assert "note:" not in printed
    expected = evaluate_model_on_split(default_model, "dev", data_dir=root).to_dict()
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8")) == expected
    code, printed, err = run(capsys, "evaluate", "--model", default_model.path, "--split", "train")
    assert code == 3 and printed == "" and err.strip().count("\n") == 0
    assert "split 'train': the shipped models learned from these articles" in err


@pytest.mark.parametrize(
    "options, message",
    [
        (["--model", "ptc-default"], "--model ptc-default: evaluating a saved model needs"),
        (["--labels", "LABELS"], "--labels: belongs to evaluating a saved model, so it needs "
         "--model"),
        (["--trust"], "--trust: belongs to evaluating a saved model"),
        (["--split", "dev"], "--split: belongs to evaluating a saved model"),
        (["--model", "ptc-default", "--labels", "LABELS", "--split", "dev"],
         "--model ptc-default: evaluating a saved model needs either --labels FILE"),
        (["--model", "ptc-default", "--split", "dev", "--corpus", "somewhere"],
         "--corpus: belongs to --labels; --split reads --data"),
        (["--model", "ptc-default", "--labels", "LABELS", "--folds", "3", "--group-by", "story"],
         "--folds, --group-by: cross-validation options, which do not apply to evaluating"),
        (["--model", "ptc-default", "--labels", "LABELS", "--data", "somewhere"], "--data: cross"),
    ],
)  # fmt: skip
def test_evaluate_model_options_that_do_not_go_together_are_one_line(
    capsys, tmp_path, options, message, monkeypatch
):
    """--model needs --labels and --labels needs --model; the cross-validation options do not
    apply to a saved model: exit 2 and one line, before any model or data is read."""
    import proplens.scoring

    def must_not_load(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(proplens.scoring, "load_model", must_not_load)
    labels = tmp_path / "own.csv"
    labels.write_text(OWN_LABELS, encoding="utf-8")
    arguments = [labels if option == "LABELS" else option for option in options]
    code, out, err = run(capsys, "evaluate", *arguments)
    assert code == 2 and out == ""
    assert err.startswith("proplens: error: ") and err.strip().count("\n") == 0
    assert message in err


@pytest.fixture
def downloaded_tiny_model(tmp_path, monkeypatch):
    """A tiny model trained (on crowd.csv) in another models folder and copied here, so that
    this installation does not trust it; and another label file of its device."""
    from tiny_corpus import texts_of, write_labels, write_taxonomy

    from proplens import config
    from proplens.training import train

    monkeypatch.setenv("PROPLENS_MODELS", str(tmp_path / "models"))
    monkeypatch.setattr(config, "bundled_models_dir", lambda: tmp_path / "no-bundled-models")
    write_taxonomy(tmp_path, monkeypatch)
    trained_on = write_labels(tmp_path / "crowd.csv")
    other = write_labels(tmp_path / "other.csv", documents=4, seed=7, avoid=texts_of(trained_on))
    result = train(
        name="tiny", labels=[trained_on], base=False, models_root=tmp_path / "elsewhere",
        evaluate=False, n_jobs=1, promote=False,
    )  # fmt: skip
    copy = tmp_path / "downloads" / "tiny" / "v1"
    shutil.copytree(result.directory, copy)
    return copy, trained_on, other


def test_evaluate_refuses_an_untrusted_model_and_the_labels_it_was_trained_on(
    capsys, downloaded_tiny_model, tmp_path
):
    """As `score` does, `evaluate --model` refuses a model file this installation did not produce
    unless --trust is given; a label file that trained the model is refused in one line, another
    one is evaluated; invalid or missing label files are the usual one-line errors."""
    model, trained_on, other = downloaded_tiny_model
    code, _, err = run(capsys, "evaluate", "--model", model, "--labels", other)
    assert code == 4 and "was not produced by this proplens installation; pass --trust" in err
    assert err.strip().count("\n") == 0
    assert run(capsys, "score", EXAMPLE_ARTICLE, "--model", model)[2] == err  # as `score` says
    code, out, err = run(capsys, "evaluate", "--model", model, "--labels", other, "--trust")
    assert code == 0, err
    assert "tiny@v1 on 24 labeled sentences" in out and "Crowd_Appeal" in out
    code, out, err = run(capsys, "evaluate", "--model", model, "--labels", trained_on, "--trust")
    assert code == 3 and out == "" and err.strip().count("\n") == 0
    assert err.startswith(f"proplens: error: {trained_on}: this label file trained tiny@v1")
    bad = tmp_path / "bad.csv"
    bad.write_text("text,devices\nThe ferry left at noon.,No_Such_Device\n", encoding="utf-8")
    for labels, exit_code, message in (
        (bad, 3, "nothing was evaluated: " + f"{bad}:2: unknown device 'No_Such_Device'"),
        (tmp_path / "missing.csv", 2, "missing.csv: label file not found"),
    ):
        code, out, err = run(capsys, "evaluate", "--model", model, "--labels", labels, "--trust")
        assert code == exit_code and out == "" and message in err
        assert err.startswith("proplens: error: ") and err.strip().count("\n") == 0


def test_the_documented_example_labels_evaluate_the_shipped_model(capsys, default_model):
    """The README and docs/retraining.md example: the shipped model on the project's example
    label file, each device it judges in the table, the missing SLC figures explained."""
    labels = REPO_ROOT / "datasets" / "examples" / "own-labels.csv"
    code, out, err = run(capsys, "evaluate", "--model", default_model.path, "--labels", labels)
    assert code == 0 and err == ""
    for device in ("Loaded_Language", "Doubt", "Flag-Waving", "Appeal_to_fear-prejudice"):
        assert device in out
    assert "on 8 labeled sentences" in out and "micro_f1" in out and "sentence_f1" not in out
