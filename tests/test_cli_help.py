"""Help screens: every option names its value (``--device DEVICE``, ``--from FOLDER``), never a
Python type (``<str>``, ``<list[Path]>``), and a flag (``--trust/--no-trust``) shows no value."""

from __future__ import annotations

import re

import typer.main
from typer.testing import CliRunner

from proplens.cli import _register_optional, app

#: what Typer 0.29 shows for a parameter without a metavar: <str>, <int>, <path>, <list[Path]>
PYTHON_TYPE = re.compile(r"<[a-z][a-zA-Z\[\]]*>")
#: colours (on when GITHUB_ACTIONS or FORCE_COLOR is set) would split "<str>" into pieces
ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: one option name, two meanings: a folder for `evaluate` (metrics.json and per_device.csv go
#: in it), a file for `suggest` and `report`
DIFFERENT_MEANINGS = {"--out": {"FILE", "FOLDER"}}


def _commands():
    """(path, command) for the app, every group and every command, the optional ones too."""
    _register_optional()  # serve, score-corpus and report: registered when a command needs them

    def walk(command, path):
        yield path, command
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            yield from walk(sub, (*path, name))

    return list(walk(typer.main.get_command(app), ()))


def _help(*path: str) -> str:
    # wide: Rich would otherwise wrap the table, and a metavar could land beside other text
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return ANSI.sub("", result.output)


def test_no_help_screen_shows_a_python_type():
    """The help of the app, of each group and of each command shows placeholders only."""
    commands = _commands()
    assert len(commands) >= 19  # the app, 2 groups, 16 commands
    shown = {}
    for path, _ in commands:
        types = sorted(set(PYTHON_TYPE.findall(_help(*path))))
        if types:
            shown[" ".join(("proplens", *path))] = types
    assert not shown, shown


def test_options_show_their_placeholder():
    """A few options as a reader sees them: value options with their placeholder beside the
    names, flags (and --help) with their help text right after the names."""
    rows = {
        ("suggest",): [
            r"--device\s+-d\s+DEVICE\s+Device to find",
            r"--from\s+FOLDER\s+Folder or file",
            r"--number\s+-n\s+N\s+How many",
            r"--out\s+-o\s+FILE\s+CSV to write",
            r"--model\s+MODEL\s+Model folder, NAME or NAME@VERSION\.",
            r"--trust\s+--no-trust\s+Load a model file",
            r"--help\s+Show this message",
        ],
        ("score",): [
            r"FILES\s+Text or HTML files",
            r"--threshold\s+\[DEVICE=\]P\s+Overall threshold",
            r"--max-size\s+MB\s+Largest document",
            r"--evidence\s+--no-evidence\s+Compute evidence",
        ],
        ("evaluate",): [r"--out\s+FOLDER\s+Folder for metrics.json", r"--folds\s+N\s+"],
        ("train",): [r"--labels\s+FILE\s+New label file", r"--group-by\s+UNIT\s+"],
        ("labels", "add"): [r"NAME\s+Device name", r"--example\s+SENTENCE\s+"],
        ("models", "trust"): [r"PATH\s+The model folder"],
        (): [r"--verbose\s+-v\s+More logging", r"--help\s+Show this message"],
        ("score-corpus",): [r"--output\s+-o\s+FILE\s+", r"--no-resume\s+Delete the parts"],
    }
    for path, patterns in rows.items():
        text = _help(*path)
        for pattern in patterns:
            assert re.search(pattern, text), (" ".join(("proplens", *path)), pattern, text)


def test_one_option_name_one_placeholder():
    """An option name means the same value in every command (`--model MODEL` everywhere),
    and each placeholder is written in capitals; flags take no value and show none."""
    placeholders: dict[str, set[str]] = {}
    for path, command in _commands():
        for param in command.params:
            if param.param_type_name != "option":
                assert param.metavar and param.metavar.isupper(), (path, param.name)
            elif param.is_flag or param.count:
                assert not param.metavar, (path, param.opts)
            else:
                name = max(param.opts, key=len)  # --number, not -n
                assert param.metavar and param.metavar.isupper(), (path, name, param.metavar)
                placeholders.setdefault(name, set()).add(param.metavar)
    mixed = {
        name: shown
        for name, shown in placeholders.items()
        if len(shown) > 1 and shown != DIFFERENT_MEANINGS.get(name)
    }
    assert not mixed, mixed
