"""The ``proplens`` command line: each command parses its options, calls one library function and
prints or writes the result. Errors meant for users end as one line on stderr and a non-zero exit
code (see ``proplens --help`` and the README's "Exit codes")."""

from __future__ import annotations

import contextlib
import csv
import gc
import importlib.util
import io
import json
import logging
import math
import os
import sys
import threading
import time
import types
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperArgument, TyperCommand, TyperGroup

from proplens._atomic import write_text_atomic
from proplens._gc import collector_paused
from proplens.errors import InputError, ProplensError, ValidationError

# --- help screens: placeholders, not Python types -------------------------------------------------


class _Argument(TyperArgument):
    """An argument whose help row shows its metavar alone: Typer 0.29 adds the Python type
    beside it (``FILES <list[str]>``)."""

    def display_type_rich(self, ctx):
        return None if self.metavar else super().display_type_rich(ctx)


class _PlaceholderHelp:
    """Help rows with placeholders (``--device DEVICE``), never Python types: Typer 0.29 shows
    ``<str>``, ``<path>`` or ``<bool>`` beside every parameter without a metavar, flags (which
    take no value) and its own --help included."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, TyperArgument):
                param.__class__ = _Argument
            elif param.metavar is None and (param.is_flag or param.count):
                param.metavar = ""

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option


class _Command(_PlaceholderHelp, TyperCommand):
    pass


class _Group(_PlaceholderHelp, TyperGroup):
    pass


def _placeholder_help(typer_app: typer.Typer) -> None:
    """Build every command and group of ``typer_app`` (sub-apps included) that names no class
    of its own with :class:`_Command` or :class:`_Group`; called once all are registered."""
    for command in typer_app.registered_commands:
        if command.cls in (None, TyperCommand):  # the default of app.command()
            command.cls = _Command
    for group in typer_app.registered_groups:
        if not isinstance(group.cls, type):  # not given to add_typer: a default placeholder
            group.cls = _Group
        _placeholder_help(group.typer_instance)


app = typer.Typer(
    name="proplens",
    help="Find propaganda and framing devices in news text, sentence by sentence.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_Group,
)
models_app = typer.Typer(
    help="List, select, compare and roll back model versions.", no_args_is_help=True
)
app.add_typer(models_app, name="models")

EXIT_INPUT_ERRORS = 2
EXIT_ABOVE_THRESHOLD = 6


class CommandLineError(ProplensError):
    """The command line itself is wrong in a way Click cannot see (an option that only means
    something with another one): one line and exit code 2, like Click's own usage errors."""

    exit_code = 2


err = Console(stderr=True)

# Typer up to 0.2x raises Click's exceptions; later releases raise those of the copy of Click they
# ship, and no longer install Click. typer.BadParameter derives from the right ClickException in
# both, and typer.Exit and typer.Abort are the right classes in both.
_ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


@app.callback()
def _main_options(
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More logging (-vv for debug).")
    ] = 0,
) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not verbose:
        # trafilatura logs ERROR lines for pages it cannot use; proplens says so in one line
        logging.getLogger("trafilatura").setLevel(logging.CRITICAL)


# --- score ----------------------------------------------------------------------------------------


def _parse_threshold(values: list[str] | None) -> float | dict | None:
    """``--threshold 0.4`` (all labels) and/or ``--threshold Doubt=0.3`` (one device).

    Both together give a map with the overall value under :data:`_EVERY_LABEL`, which
    :func:`_thresholds_for` spreads over the model's labels once the model is loaded.
    """
    if not values:
        return None
    overall: float | None = None
    per_device: dict[str, float] = {}
    for value in values:
        name, sep, number = value.rpartition("=")
        try:
            parsed = float(number)
        except ValueError:
            raise ValidationError(
                f"--threshold expects a number or DEVICE=NUMBER, got {value!r}"
            ) from None
        if not 0.0 <= parsed <= 1.0:
            raise ValidationError(f"--threshold {value!r}: must lie in [0, 1]")
        if sep and not name.strip():
            raise ValidationError(f"--threshold {value!r}: name a device before '='")
        # a second value for the same label would silently replace the first
        if (sep and name in per_device) or (not sep and overall is not None):
            raise ValidationError(f"--threshold {name or 'overall'} is given twice")
        if sep:
            per_device[name] = parsed
        else:
            overall = parsed
    if overall is not None and not per_device:
        return overall
    if overall is not None:
        return {_EVERY_LABEL: overall, **per_device}
    return per_device


#: the key of an overall --threshold given together with DEVICE=VALUE pairs
_EVERY_LABEL = "*"


def _thresholds_for(cut: float | dict | None, model) -> float | dict | None:
    """``cut`` with an overall value given beside device pairs spread over every label of
    ``model`` (the pairs win): ``--threshold 0.6 --threshold propaganda=1``."""
    if not isinstance(cut, dict) or _EVERY_LABEL not in cut:
        return cut
    pairs = {label: value for label, value in cut.items() if label != _EVERY_LABEL}
    return {**dict.fromkeys(model.thresholds, cut[_EVERY_LABEL]), **pairs}


def _table(result, min_propaganda: float, console: Console) -> None:
    summary = result.summary
    # Document names and text are shown as they are: square brackets in them are not Rich markup.
    console.print(
        f"[bold]{escape(result.document)}[/bold]  "
        f"model {escape(result.model['name'])}@{escape(result.model['version'])}  "
        f"sentences {summary['sentences']}  flagged {summary['flagged']}  "
        f"propaganda score {summary['propaganda_score']:.2f}"
    )
    if result.note:
        console.print(f"[yellow]note:[/yellow] {escape(result.note)}")
    table = Table(show_lines=False, expand=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("prop.", justify="right", no_wrap=True)
    # A device name has no space to wrap at ("Name_Calling,Labeling"): the column is as wide as
    # the names shown and their probabilities need, up to a third of the terminal (at least 26
    # characters), where a longer name is folded, never cut to "Name_Calling,…".
    shown = [d for s in result.sentences for d in s.labels]
    width = min(max(26, console.width // 3), max((len(d) for d in shown), default=7) + 5)
    table.add_column("devices", width=width, overflow="fold")
    table.add_column("sentence", ratio=1)
    for s in result.sentences:
        if s.propaganda < min_propaganda and not s.labels:
            continue
        devices = "\n".join(f"{escape(d)} {s.devices[d]:.2f}" for d in s.labels)
        words = escape(", ".join(dict.fromkeys(e.text for e in s.evidence)))
        text = escape(s.text) if not words else f"{escape(s.text)}\n[dim]evidence: {words}[/dim]"
        style = "bold" if s.labels else ""
        table.add_row(str(s.index), f"{s.propaganda:.2f}", devices, text, style=style)
    console.print(table)


def _csv_rows(results) -> str:
    buffer = io.StringIO()
    writer = None
    for result in results:
        frame = result.to_frame()
        frame["labels"] = frame["labels"].map(";".join)
        frame["evidence"] = frame["evidence"].map(";".join)
        # the words alone cannot say which label they explain or where they are: the full
        # records (device, offsets, text, weight) as JSON, one list per sentence
        frame["evidence_json"] = [
            json.dumps([e.to_dict() for e in s.evidence], ensure_ascii=False)
            for s in result.sentences
        ]
        if writer is None:
            writer = csv.writer(buffer)
            writer.writerow(frame.columns)
        for row in frame.itertuples(index=False):
            writer.writerow(row)
    return buffer.getvalue()


@app.command()
def score(
    files: Annotated[
        list[str],
        typer.Argument(metavar="FILES", help="Text or HTML files, folders, or - for stdin."),
    ],
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="table, json, jsonl, csv or html (default: from the --output extension, "
            "else table).",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write here instead of stdout."),
    ] = None,
    model: Annotated[
        str | None, typer.Option(metavar="MODEL", help="Model folder, NAME or NAME@VERSION.")
    ] = None,
    trust: Annotated[
        bool, typer.Option(help="Load a model file this installation did not produce.")
    ] = False,
    threshold: Annotated[
        list[str] | None,
        typer.Option(
            metavar="[DEVICE=]P",
            help="Overall threshold and/or DEVICE=VALUE (repeatable; a pair overrides the "
            "overall value for its device). No label falls below a threshold you set; "
            "propaganda=1 turns the fallback label off.",
        ),
    ] = None,
    devices: Annotated[
        str | None,
        typer.Option(metavar="DEVICES", help="Comma-separated devices to report (default all)."),
    ] = None,
    min_propaganda: Annotated[
        float,
        typer.Option(
            metavar="P", help="Table: list only flagged sentences and those at or above this."
        ),
    ] = 0.0,
    fail_above: Annotated[
        float | None,
        typer.Option(
            metavar="SCORE", help="Exit 6 when a document's propaganda score exceeds this."
        ),
    ] = None,
    evidence: Annotated[
        bool, typer.Option(help="Compute evidence words (slightly slower).")
    ] = True,
    max_size: Annotated[
        float, typer.Option(metavar="MB", help="Largest document accepted, in MB.")
    ] = 5.0,
) -> None:
    """Score documents: per-sentence devices, probabilities and evidence, and a document profile."""
    from proplens.inputs import iter_documents

    formats = ("table", "json", "jsonl", "csv", "html")
    if format is None:
        format = _FORMAT_OF_SUFFIX.get(output.suffix.lower(), "table") if output else "table"
    if format not in formats:
        raise ValidationError(f"--format must be one of {', '.join(formats)}, got {format!r}")
    if not (math.isfinite(max_size) and max_size > 0):
        raise ValidationError(f"--max-size must be a positive number of MB, got {max_size}")
    for option, value in (("--min-propaganda", min_propaganda), ("--fail-above", fail_above)):
        if value is not None and not 0.0 <= value <= 1.0:
            raise ValidationError(f"{option} must lie in [0, 1], got {value}")
    wanted = [d.strip() for d in devices.split(",") if d.strip()] if devices else None
    if devices is not None and not wanted:
        raise ValidationError(f"--devices names no device: {devices!r}")
    cut = _parse_threshold(threshold)
    if min_propaganda and format != "table":
        # the other formats are records of every sentence (a report, a table to filter later)
        _warn(f"--min-propaganda filters the table only; --format {format} lists every sentence")
    if output is not None:
        _check_not_an_input(output, files)
    loaded = _load_model(model, trust)
    cut = _thresholds_for(cut, loaded)
    results, failures = [], 0
    for document in iter_documents(files, max_bytes=int(max_size * 1_000_000)):
        if isinstance(document, InputError):
            failures += 1
            err.print(f"proplens: error: {document}", highlight=False, soft_wrap=True, markup=False)
            continue
        result = loaded.score(
            document.text, document_id=document.id, threshold=cut, devices=wanted, evidence=evidence
        )
        if document.source == "html":
            result.note = "text extracted from HTML; offsets refer to the extracted text"
        results.append(result)
    if failures and not results:
        # nothing was read: an earlier output file stays as it was
        if output is not None:
            message = f"proplens: no document could be read; {output} not written"
            err.print(message, highlight=False, soft_wrap=True, markup=False)
        raise typer.Exit(EXIT_INPUT_ERRORS)
    # one document given, one object; several (or a folder), a list even if one was read
    single = len(files) == 1 and (files[0] == "-" or not Path(files[0]).is_dir())
    _write_results(results, format, output, min_propaganda, single=single)
    if failures:
        raise typer.Exit(EXIT_INPUT_ERRORS)
    above = [
        r for r in results if fail_above is not None and r.summary["propaganda_score"] > fail_above
    ]
    for result in above:  # a pipeline's log should say which document stopped it
        err.print(
            f"proplens: {result.document}: propaganda score "
            f"{result.summary['propaganda_score']:.4f} is above --fail-above {fail_above}",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
    if above:
        raise typer.Exit(EXIT_ABOVE_THRESHOLD)


def _check_not_an_input(output: Path, files: list[str]) -> None:
    """Refuse an ``--output`` that is one of the input files: writing would replace the article."""
    if not output.is_file():
        return
    for name in files:
        with contextlib.suppress(OSError):
            if name != "-" and Path(name).is_file() and os.path.samefile(name, output):
                raise ProplensError(f"{output}: is an input file; choose another --output")


def _warn(message: str) -> None:
    """A warning for the person at the terminal: one line on stderr, like the error lines."""
    err.print(f"proplens: warning: {message}", highlight=False, soft_wrap=True, markup=False)


# Set by run(): the process ends with its one command, so what the command loads can be frozen.
_single_command_process = False


def _load_model(reference: str | None, trust: bool):
    """:func:`proplens.load_model`, importing scikit-learn, SciPy and pandas on the way.

    Those imports and the model make ~10^5 objects that live as long as the command; the garbage
    collector traverses them again and again while they are made and frees nothing (~0.1 s), so
    it is paused meanwhile. In a one-command process (:func:`run`) they are then frozen
    (``gc.freeze``): later collections skip them.
    """
    with collector_paused():
        from proplens.scoring import load_model

        loaded = load_model(reference, trust=trust)
        if _single_command_process:
            # before the collector is back on: its first pass would traverse them all
            gc.freeze()
    return loaded


#: the format ``score --output`` implies when ``--format`` is not given
_FORMAT_OF_SUFFIX = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".html": "html",
    ".htm": "html",
}


def _write_results(
    results, format: str, output: Path | None, min_propaganda: float, *, single: bool = True
) -> None:
    if format == "table":
        # emoji=False: ":fire:" in an article is text, not an emoji code
        if output is None:
            console = Console(emoji=False)
            for result in results:
                _table(result, min_propaganda, console)
            return
        buffer = io.StringIO()
        console = Console(file=buffer, width=120, color_system=None, emoji=False)
        for result in results:
            _table(result, min_propaganda, console)
        text = buffer.getvalue()
    elif format == "json":
        one = single and len(results) == 1
        payload = results[0].to_dict() if one else [r.to_dict() for r in results]
        text = json.dumps(payload, ensure_ascii=False, indent=2) + "\n"
    elif format == "jsonl":
        text = "".join(r.to_json() + "\n" for r in results)
    elif format == "csv":
        text = _csv_rows(results)
    else:
        from proplens.report import render_html, render_many_html

        dicts = [r.to_dict() for r in results]
        text = render_html(dicts[0]) if single and len(dicts) == 1 else render_many_html(dicts)
    if output is None:
        sys.stdout.write(text)
    else:
        _write_atomic(output, text)
        err.print(f"wrote {output}", highlight=False, markup=False)


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all: into a temporary sibling that is renamed
    over it, so that an interrupted or failed write leaves an earlier file as it was. A symbolic
    link keeps pointing at its file; what is not a regular file (/dev/stdout, a named pipe) is
    written to directly, as renaming would replace it. Failures are one-line ProplensErrors."""
    name = str(path)
    try:
        if path.is_dir():
            raise ProplensError(f"{name}: is a folder; give a file name to write")
        if path.exists() and not path.is_file():
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
            return
        target = Path(os.path.realpath(path))
        if not target.parent.is_dir():
            raise ProplensError(f"{name}: folder {path.parent} does not exist")
        write_text_atomic(target, text)
    except PermissionError:
        raise ProplensError(f"{name}: permission denied, cannot write there") from None
    except OSError as exc:
        raise ProplensError(f"{name}: cannot write ({exc.strerror or exc})") from None


# help= rather than a docstring: Rich keeps a docstring's line breaks inside a paragraph
@app.command(
    "classify-span",
    help="Which device does a given span use? (SemEval-2020 TC)\n\n"
    "Classifies the span FILE[START:END], or each span of --spans. The span is taken to use "
    'some device: the answer is the device it most resembles, never "none"; to find which '
    "sentences use a device, use `proplens score`.",
)
def classify_span(
    file: Annotated[
        str, typer.Argument(metavar="FILE", help="Text or HTML file (or - for stdin).")
    ],
    start: Annotated[
        int | None, typer.Argument(metavar="START", help="Start offset (characters).")
    ] = None,
    end: Annotated[
        int | None, typer.Argument(metavar="END", help="End offset (exclusive).")
    ] = None,
    spans: Annotated[
        str | None,
        typer.Option(
            metavar="FILE",
            help="A file of spans to classify at once instead of START END: one 'START END' "
            "pair per line (tabs, spaces or a comma; '#' comments and a header line allowed).",
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option(metavar="MODEL", help="Model folder, NAME or NAME@VERSION.")
    ] = None,
    trust: Annotated[
        bool, typer.Option(help="Load a model file this installation did not produce.")
    ] = False,
) -> None:
    from proplens.inputs import read_document, read_stdin

    if spans is not None and (start is not None or end is not None):
        raise CommandLineError("give either START END or --spans FILE, not both")
    if spans is None and (start is None or end is None):
        missing = "START" if start is None else "END"
        raise CommandLineError(f"Missing argument '{missing}' (or give --spans FILE)")
    pairs = _read_span_pairs(spans) if spans is not None else [(start, end)]
    document = read_stdin() if file == "-" else read_document(file)
    loaded = _load_model(model, trust)
    if spans is None:  # one span: its errors say "span offsets", not "span 1"
        predictions = [loaded.classify_span(document.text, start, end)]
    else:
        predictions = loaded.classify_spans(document.text, pairs)
    answers = [
        {"start": s, "end": e, "span": document.text[s:e], **prediction.to_dict()}
        for (s, e), prediction in zip(pairs, predictions, strict=True)
    ]
    # one span: the object itself, as before --spans existed; several: a list
    print(json.dumps(answers[0] if spans is None else answers, ensure_ascii=False, indent=2))


def _read_span_pairs(path: str) -> list[tuple[int, int]]:
    """The (start, end) pairs of a --spans file; a line that is no pair is a one-line error."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None
    pairs = []
    for number, line in enumerate(lines, 1):
        fields = line.split("#", 1)[0].replace(",", " ").split()
        if not fields:
            continue
        if not pairs and [f.lower() for f in fields] == ["start", "end"]:
            continue  # a header line
        if len(fields) != 2 or not all(f.isdigit() for f in fields):
            raise InputError(f"{path} line {number}: expected 'START END', got {line.strip()!r}")
        pairs.append((int(fields[0]), int(fields[1])))
    if not pairs:
        raise InputError(f"{path}: no spans (one 'START END' pair per line)")
    return pairs


# --- training and evaluation ----------------------------------------------------------------------


@app.command()
def train(
    name: Annotated[
        str, typer.Option(metavar="NAME", help="Model name; the version is the next free v<N>.")
    ] = "ptc-default",
    data: Annotated[
        Path | None,
        typer.Option(
            metavar="FOLDER", help="Corpus root (default: PROPLENS_DATA or ../shared/data)."
        ),
    ] = None,
    labels: Annotated[
        list[Path] | None,
        typer.Option(
            metavar="FILE",
            help="New label file: CSV/TSV/JSONL sentences, stand-off, or Label Studio "
            "JSON (repeatable).",
        ),
    ] = None,
    base: Annotated[
        bool, typer.Option(help="Include the base corpus (SemEval-2020 + datasets/labels).")
    ] = True,
    corpus: Annotated[
        Path | None,
        typer.Option(
            metavar="FOLDER",
            help="Folder that stand-off --labels point into (only with --labels).",
        ),
    ] = None,
    cv: Annotated[bool, typer.Option(help="Run grouped k-fold CV for the model card.")] = True,
    folds: Annotated[
        int,
        typer.Option(metavar="N", help="CV folds (at most the number of documents or stories)."),
    ] = 5,
    jobs: Annotated[int, typer.Option(metavar="N", help="Parallel jobs.")] = 2,
    use: Annotated[
        bool, typer.Option(help="Make the new model the default if it passes the guard.")
    ] = True,
    force: Annotated[
        bool, typer.Option(help="Make it the default even if some device's F1 dropped.")
    ] = False,
    notes: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Markdown file for the model card's Notes (e.g. an ablation table).",
        ),
    ] = None,
    group_by: Annotated[
        str,
        typer.Option(
            metavar="UNIT",
            help="What a CV fold keeps whole: article, or story (articles that share much of "
            "their text kept in one fold: stricter figures).",
        ),
    ] = "article",
) -> None:
    """Train a new model version on the base corpus and/or new labels (never overwrites)."""
    if corpus is not None and not labels:
        # --corpus is where stand-off label files find their documents; alone it would be
        # silently ignored and the base corpus trained as if it had not been given.
        raise CommandLineError(
            f"--corpus {corpus}: names the folder stand-off --labels point into, so it needs "
            "--labels FILE (the base corpus is read from --data or PROPLENS_DATA)"
        )
    from proplens.evaluation import check_grouping
    from proplens.inputs import read_document
    from proplens.training import train as run

    check_grouping(group_by, "--group-by")

    notes_text = read_document(notes).text.strip() if notes is not None else ""
    # what the card gives to reproduce the model: every option that changes the model or its card
    command = "proplens train" + (f" --name {name}" if name != "ptc-default" else "")
    command += "".join(f" --labels {p}" for p in labels or [])
    command += f" --corpus {corpus}" if corpus is not None else ""
    command += "" if base else " --no-base"
    command += "" if cv else " --no-cv"
    command += f" --folds {folds}" if cv and folds != 5 else ""
    command += f" --group-by {group_by}" if group_by != "article" else ""
    command += f" --notes {notes}" if notes is not None else ""
    with _terminate_like_interrupt():
        result = run(
            name=name,
            data_dir=data,
            labels=labels or None,
            base=base,
            corpus_dir=corpus,
            evaluate=cv,
            n_splits=folds,
            n_jobs=jobs,
            promote=use,
            force=force,
            command=command,
            notes=notes_text,
            progress=lambda message: err.print(f"[dim]{message}…[/dim]"),
            group_by=group_by,
        )
    if result.cv_seconds:
        err.print(
            f"trained in {result.seconds:.0f} s (cross-validation {result.cv_seconds:.0f} s, "
            "the final fit alongside)"
        )
    else:
        err.print(f"trained in {result.seconds:.0f} s")
    m = result.metrics
    if cv and "sentence_f1" in m:
        tc = f"  TC micro-F1 {m['tc_micro_f1']:.3f}" if "tc_micro_f1" in m else ""
        block = (
            f" ({m['block_devices']} corpus devices: {m['block_micro_f1']:.3f})"
            if "block_micro_f1" in m
            else ""
        )
        err.print(
            f"CV: sentence F1 {m['sentence_f1']:.3f}  micro-F1 {m['micro_f1']:.3f}{block}  "
            f"macro-F1 {m['macro_f1']:.3f}{tc}"
        )
    decision = result.decision
    if decision is not None:
        err.print(decision.message(), highlight=False, soft_wrap=True, markup=False)
    if result.promoted:
        err.print(f"current model: {name}@{result.directory.name}")
    elif use:
        err.print(f"saved {name}@{result.directory.name} but kept the current default model")
    print(result.directory)


@contextlib.contextmanager
def _terminate_like_interrupt():
    """While training, SIGTERM (``kill``, ``timeout``, a scheduler stopping the job) unwinds the
    stack like Ctrl-C instead of ending the process on the spot, so the atomic save removes its
    temporary folder and the current model stays; the exit code is still 128 + 15."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, _frame):
        err.print("proplens: terminated", highlight=False)
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@app.command(
    help="Grouped k-fold cross-validation on the SemEval-2020 training articles; with --model "
    "and --labels, how a saved model does on your own labeled sentences instead (no "
    "cross-validation, nothing is fitted)."
)
def evaluate(
    data: Annotated[
        Path | None,
        typer.Option(
            metavar="FOLDER", help="Corpus root (default: PROPLENS_DATA or ../shared/data)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(metavar="FOLDER", help="Folder for metrics.json and per_device.csv."),
    ] = None,
    folds: Annotated[int, typer.Option(metavar="N", help="Number of folds (see --group-by).")] = 5,
    jobs: Annotated[int, typer.Option(metavar="N", help="Parallel jobs.")] = 2,
    group_by: Annotated[
        str,
        typer.Option(
            metavar="UNIT",
            help="What a fold keeps whole: article, or story (articles that share much of "
            "their text, such as a report and its rewrite, kept in one fold: stricter).",
        ),
    ] = "article",
    model: Annotated[
        str | None,
        typer.Option(
            metavar="MODEL",
            help="Evaluate this saved model (folder, NAME or NAME@VERSION) on --labels instead "
            "of cross-validating.",
        ),
    ] = None,
    labels: Annotated[
        list[Path] | None,
        typer.Option(
            metavar="FILE",
            help="Label file to evaluate --model on: CSV/TSV/JSONL sentences, stand-off, or "
            "Label Studio JSON, as train --labels reads them (repeatable).",
        ),
    ] = None,
    corpus: Annotated[
        Path | None,
        typer.Option(
            metavar="FOLDER",
            help="Folder that stand-off --labels point into (only with --labels).",
        ),
    ] = None,
    trust: Annotated[
        bool,
        typer.Option(help="Load a --model file this installation did not produce."),
    ] = False,
    split: Annotated[
        str | None,
        typer.Option(
            metavar="SPLIT",
            help="Evaluate --model on this labeled SemEval-2020 split of --data instead of "
            "--labels: dev, for those who have its gold (no cross-validation).",
        ),
    ] = None,
) -> None:
    _check_model_evaluation_options(
        model, labels, corpus, trust, split, data, folds, jobs, group_by
    )
    from proplens.evaluation import check_grouping
    from proplens.training import cross_validate, load_training_data

    if folds < 2:
        raise ValidationError(f"--folds must be at least 2, got {folds}")
    check_grouping(group_by, "--group-by")
    _check_out_folder(out)
    if model is not None:
        _evaluate_saved_model(model, labels, corpus, trust, out, split, data)
        return
    # the folds run in a pool and report when all are done: say what is happening meanwhile
    err.print("[dim]reading training data…[/dim]")
    training = load_training_data(data)
    began = time.perf_counter()
    err.print(
        f"[dim]cross-validating {len(training.devices)} devices, {folds} folds grouped by "
        f"{group_by}, on {jobs} job(s) (about two minutes for the default training data on 2 "
        "cores)…[/dim]"
    )
    metrics = cross_validate(training, n_jobs=jobs, n_splits=folds, group_by=group_by)
    err.print(f"[dim]cross-validated in {time.perf_counter() - began:.0f} s[/dim]")
    _show_metrics(metrics, f"{folds}-fold CV grouped by {group_by}", out)


def _check_out_folder(out: Path | None) -> None:
    if out is not None and out.exists() and not out.is_dir():
        raise InputError(
            f"{out}: not a folder (--out names a folder for metrics.json and per_device.csv)"
        )


def _check_model_evaluation_options(
    model, labels, corpus, trust, split, data, folds, jobs, group_by
) -> None:
    """The options of `evaluate --model` go together, and those of cross-validation do not
    apply to it: one line and exit code 2 rather than options silently ignored."""
    given = [
        option
        for option, value in (
            ("--labels", bool(labels)),
            ("--corpus", corpus is not None),
            ("--split", split is not None),
            ("--trust", trust),
        )
        if value
    ]
    if model is None:
        if given:  # cross-validation takes none of them
            raise CommandLineError(
                f"{given[0]}: belongs to evaluating a saved model, so it needs --model "
                "NAME[@VERSION] or FOLDER (cross-validation reads the SemEval-2020 training "
                "articles)"
            )
        return
    if labels and split is not None:
        raise CommandLineError(
            f"--model {model}: evaluating a saved model needs either --labels FILE (your labeled "
            "sentences) or --split dev (a labeled SemEval-2020 split), not both"
        )
    if not labels and split is None:
        raise CommandLineError(
            f"--model {model}: evaluating a saved model needs --labels FILE (the labeled "
            "sentences to score it on) or --split dev"
        )
    if split is not None and corpus is not None:
        raise CommandLineError("--corpus: belongs to --labels; --split reads --data")
    ignored = [
        option
        for option, value, default in (
            ("--data", None if split is not None else data, None),
            ("--folds", folds, 5),
            ("--jobs", jobs, 2),
            ("--group-by", group_by, "article"),
        )
        if value != default
    ]
    if ignored:
        raise CommandLineError(
            f"{', '.join(ignored)}: cross-validation options, which do not apply to evaluating "
            "--model (no model is fitted)"
        )


def _evaluate_saved_model(
    reference: str,
    labels: list[Path] | None,
    corpus: Path | None,
    trust: bool,
    out: Path | None,
    split: str | None,
    data: Path | None,
) -> None:
    """`evaluate --model --labels` (or `--split`): score labeled sentences with a saved model."""
    from proplens.evaluation import evaluate_model, evaluate_model_on_split

    loaded = _load_model(reference, trust)
    if split is not None:
        result = evaluate_model_on_split(loaded, split, data_dir=data)
        what = f"the SemEval-2020 {split} split"
    else:
        result = evaluate_model(loaded, labels, corpus_dir=corpus)
        what = "your labels"
    notes = []
    if result.unknown_devices:
        notes.append(
            f"not in {loaded.name}@{loaded.version}, not evaluated: "
            f"{', '.join(result.unknown_devices)}"
        )
    if result.sentence_note:
        notes.append(f"no sentence-level (any-device) figures: {result.sentence_note}")
    title = f"{loaded.name}@{loaded.version} on {result.sentences} labeled sentences of {what}"
    caption = (
        f"{result.documents} documents; each device over the sentences judged for it "
        f"({result.annotated_pairs} sentence-device pairs in all)"
    )
    _show_metrics(result.to_dict(), title, out, notes, caption)


def _show_metrics(
    metrics: dict,
    title: str,
    out: Path | None,
    notes: list[str] | None = None,
    caption: str | None = None,
) -> None:
    """Print ``metrics`` as a per-device table (``title``, ``caption``) and its pooled figures,
    then ``notes``; with ``out``, write them to metrics.json and per_device.csv (each
    atomically)."""
    table = Table(title=title, caption=caption)
    for column in ("device", "precision", "recall", "f1", "support"):
        table.add_column(column, justify="left" if column == "device" else "right")
    for device, row in metrics["per_device"].items():
        table.add_row(
            device, *(f"{row[k]:.3f}" for k in ("precision", "recall", "f1")), str(row["support"])
        )
    console = Console()
    console.print(table)
    for key in (
        "sentence_f1",
        "sentence_precision",
        "sentence_recall",
        "sentence_ece",
        "micro_precision",
        "micro_recall",
        "micro_f1",
        "block_micro_f1",
        "macro_f1",
        "tc_micro_f1",
    ):
        if key in metrics:
            console.print(f"{key:20s} {metrics[key]:.4f}")
    for note in notes or []:
        console.print(f"note: {note}", highlight=False, markup=False, soft_wrap=True)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        _write_atomic(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
        rows = ["device,precision,recall,f1,support"] + [
            f'"{d}",{r["precision"]},{r["recall"]},{r["f1"]},{r["support"]}'
            for d, r in metrics["per_device"].items()
        ]
        _write_atomic(out / "per_device.csv", "\n".join(rows) + "\n")
        err.print(f"wrote {out / 'metrics.json'} and {out / 'per_device.csv'}")


# --- information and models -----------------------------------------------------------------------


@app.command()
def info() -> None:
    """Versions, the model in use and the data path (paste this into bug reports)."""
    import platform

    from proplens import config
    from proplens.artifacts import current_library_versions
    from proplens.registry import current

    versions = current_library_versions()
    print(f"proplens {versions.get('proplens', '?')}")
    print(f"python {platform.python_version()} ({platform.platform()})")
    for name, version in versions.items():
        if name not in ("proplens", "python"):
            print(f"{name} {version}")
    data = config.data_dir()
    print(f"data {data} ({'found' if (data / 'ptc-semeval2020').is_dir() else 'not found'})")
    print(f"models {config.models_dir()}")
    try:
        ref = current()
        print(f"model {ref} ({ref.path})" if ref else "model none")
    except ProplensError as error:
        print(f"model unavailable: {error}")


#: what the models commands show for a value a model does not have (no CV figure, no date)
_NO_VALUE = "-"


def _figure(value, signed: bool = False) -> str:
    """An F1 or threshold with three decimals; ``_NO_VALUE`` for None or NaN (no figure)."""
    if value is None or value != value:
        return _NO_VALUE
    return f"{value:+.3f}" if signed else f"{value:.3f}"


@models_app.command("list")
def models_list() -> None:
    """All model versions, the current one marked ("-": no figure, e.g. trained with --no-cv)."""
    from proplens import config
    from proplens.registry import list_models

    frame = list_models()
    if frame.attrs.get("current_problem"):
        _warn(f"no model is marked current: {frame.attrs['current_problem']}")
    if frame.empty:
        _warn(f"no models in {config.models_dir()} (train one with `proplens train`)")
        return
    table = Table()
    for column in ("", "model", "created", "labels", "micro F1", "problem"):
        table.add_column(column)
    # a version without a figure (no CV) or whose metadata cannot be read: "-", not "nan" or 0
    frame = frame.astype(object).where(frame.notna(), None)
    for row in frame.itertuples(index=False):
        table.add_row(
            "*" if row.current else "",
            f"{row.name}@{row.version}",
            str(row.created or _NO_VALUE),
            _NO_VALUE if row.labels is None else str(int(row.labels)),
            _figure(row.micro_f1),
            str(row.problem or ""),
        )
    Console().print(table)


@models_app.command("use")
def models_use(
    ref: Annotated[str, typer.Argument(metavar="REF", help="NAME or NAME@VERSION.")],
) -> None:
    """Make a model version the default."""
    from proplens.registry import use

    print(f"current model: {use(ref)}")


@models_app.command("rollback")
def models_rollback() -> None:
    """Go back to the previous default model (skipping versions deleted since)."""
    from proplens.registry import rollback

    print(f"current model: {rollback(warn=_warn)}")


@models_app.command("diff")
def models_diff(
    a: Annotated[
        str, typer.Argument(metavar="A", help="The model before: NAME, NAME@VERSION or a folder.")
    ],
    b: Annotated[
        str, typer.Argument(metavar="B", help="The model after: NAME, NAME@VERSION or a folder.")
    ],
) -> None:
    """Per-device F1 and thresholds of two model versions side by side."""
    from proplens.registry import diff

    frame = diff(a, b, warn=_warn)

    def threshold(row) -> str:
        before, after = _figure(row.threshold_before), _figure(row.threshold_after)
        return before if before == after else f"{before} -> {after}"

    # a table, not a frame's text: the console wraps long lines, which scrambled the columns;
    # without borders and a note column it fits the longest device name in 80 columns
    table = Table(title=f"{a} -> {b}", box=None, pad_edge=False)
    table.add_column("device", no_wrap=True)
    for column in ("F1 before", "F1 after", "change"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("threshold", no_wrap=True)
    # "-": the device is not in that model, or the model has no CV figure for it
    for row in frame.itertuples(index=False):
        change = row.change if row.change in ("added", "removed") else None
        table.add_row(
            row.device,
            _figure(row.f1_before),
            _figure(row.f1_after),
            change or _figure(row.f1_change, signed=True),
            threshold(row),
        )
    Console().print(table)
    micro = frame.attrs.get("micro_f1")
    if micro:
        unmeasured = [ref for ref, value in zip((a, b), micro, strict=True) if value is None]
        note = f" ({' and '.join(unmeasured)}: no cross-validated figure)" if unmeasured else ""
        print(f"micro F1: {_figure(micro[0])} -> {_figure(micro[1])}{note}")
    spans = frame.attrs.get("tc_micro_f1")
    if spans and any(value is not None for value in spans):
        print(f"TC micro F1 (gold spans): {_figure(spans[0])} -> {_figure(spans[1])}")
    grouping = frame.attrs.get("grouping")
    if grouping and None not in grouping and grouping[0] != grouping[1]:
        # story folds score the same model lower than article folds: say so beside the changes
        # (not when only the number of folds differs, which the promotion guard compares too)
        folds = [
            cv or f"folds grouped by {g}"
            for cv, g in zip(frame.attrs.get("cv") or (None, None), grouping, strict=True)
        ]
        print(
            f"note: {a} was cross-validated with {folds[0]} and {b} with {folds[1]}; the F1 "
            "changes mix the two models' difference with the two protocols'"
        )


@models_app.command("trust")
def models_trust(
    path: Annotated[
        Path, typer.Argument(metavar="PATH", help="The model folder (holding model.joblib).")
    ],
) -> None:
    """Trust a model directory you got from elsewhere (loading a joblib file can run code)."""
    from proplens.artifacts import trust_model

    print(f"trusted {path} (sha256 {trust_model(path)})")


# --- optional extras, registered lazily so that a plain install needs none of their packages ----


_OPTIONAL_COMMANDS = ("serve", "score-corpus", "report")
_optional_registered = False


def _register_optional() -> None:
    """Register the commands of the optional extras. Their modules import FastAPI and Dask, which
    take about a second, so :func:`main` registers them only when they may be needed."""
    global _optional_registered
    if _optional_registered:
        return
    _optional_registered = True
    try:
        from proplens.server import serve_command

        app.command("serve", help="Web page and HTTP API (needs the 'serve' extra).")(serve_command)
    except ImportError:  # pragma: no cover - depends on the extras installed

        @app.command("serve")
        def serve_missing() -> None:
            """Web page and HTTP API (install proplens[serve])."""
            raise ProplensError(
                "proplens serve needs the 'serve' extra: pip install 'proplens[serve]'"
            )

    try:
        from proplens.batch import report_command, score_corpus_command

        app.command("score-corpus", help="Score a whole corpus into Parquet (needs 'batch').")(
            score_corpus_command
        )
        app.command("report", help="Compare groups of a scored corpus (needs 'batch').")(
            report_command
        )
    except ImportError:  # pragma: no cover

        @app.command("score-corpus")
        def score_corpus_missing() -> None:
            """Score a corpus (install proplens[batch])."""
            raise ProplensError(
                "proplens score-corpus needs the 'batch' extra: pip install 'proplens[batch]'"
            )

    _placeholder_help(app)


def _needs_optional(argv: list[str]) -> bool:
    """True when the command line names an optional command or asks for the command list."""
    words = [a for a in argv if not a.startswith("-")]
    return not words or words[0] in _OPTIONAL_COMMANDS or "--help" in argv[:1]


def _register_labels() -> None:
    from proplens.cli_labels import register

    register(app)


_register_labels()
_placeholder_help(app)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: run the app, turning user errors into one line and an exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if _needs_optional(arguments):
        _register_optional()
    try:
        result = app(args=argv, prog_name="proplens", standalone_mode=False)
        if result == 130:
            # Typer >= 0.2x turns Ctrl-C into a silent exit 130 (no command returns 130)
            err.print("proplens: interrupted", highlight=False)
        return result if isinstance(result, int) else 0
    except ProplensError as error:
        err.print(f"proplens: error: {error}", highlight=False, soft_wrap=True, markup=False)
        return error.exit_code
    except typer.Exit as exit_:
        return exit_.exit_code
    except typer.Abort:
        err.print("proplens: aborted", highlight=False)
        return 130
    except _ClickException as error:
        # one line, like every other proplens error, with where to look for the right usage
        context = getattr(error, "ctx", None)
        path = context.command_path if context is not None else "proplens"
        hint = f" (see '{path} --help')"
        message = f"proplens: error: {error.format_message()}{hint}"
        err.print(message, highlight=False, soft_wrap=True, markup=False)
        return error.exit_code
    except KeyboardInterrupt:
        err.print("proplens: interrupted", highlight=False)
        return 130
    except BrokenPipeError:
        return 0


_deferred_lock = threading.RLock()


class _DeferredModule(types.ModuleType):
    """Stands in for a module in ``sys.modules`` until one of its attributes is first read, then
    imports the real module and takes on its namespace."""

    def __init__(self, spec) -> None:
        super().__init__(spec.name)
        self.__spec__ = spec
        self.__loader__ = spec.loader
        self.__file__ = spec.origin
        if spec.submodule_search_locations is not None:
            self.__path__ = list(spec.submodule_search_locations)

    def __getattr__(self, attribute: str):
        # only reached for names the placeholder lacks, i.e. before the real module is loaded
        name = self.__spec__.name
        with _deferred_lock:
            if sys.modules.get(name) is self:  # not loaded by another thread meanwhile
                del sys.modules[name]
                try:
                    real = importlib.import_module(name)
                except BaseException:
                    sys.modules[name] = self
                    raise
                # code that bound the placeholder (``from scipy import stats``) reads real names
                self.__dict__.update(real.__dict__)
            real = sys.modules[name]
        return getattr(real, attribute)


def _defer_import(name: str) -> None:
    """Make ``import name`` cheap until the module is first used.

    scikit-learn imports ``scipy.stats`` when it is imported (``sklearn.utils.fixes``,
    ``sklearn.preprocessing``) but uses it only inside functions that scoring never calls; that
    import is 0.4 s of a cold ``proplens score``. A command that does use it (training, say)
    loads it in full on first use. importlib's own LazyLoader does not help here: Python 3.11's
    import statement reads ``__spec__`` of a module already in ``sys.modules``, which loads it.
    Done in the console script only, never on ``import proplens``: a library must not change
    how its host process imports other packages.
    """
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return
    sys.modules[name] = _DeferredModule(spec)


def run() -> None:
    """The ``proplens`` console script and ``python -m proplens``: run :func:`main`, then exit."""
    global _single_command_process
    _single_command_process = True
    _defer_import("scipy.stats")
    code = main()
    # The process is about to end: freezing every object moves them out of the garbage
    # collector's sight, so the interpreter's collections at shutdown no longer traverse
    # scikit-learn, SciPy, pandas and the model (~0.2 s of a cold `proplens score`). Exit
    # handlers and stream flushing run as usual; the OS reclaims the memory.
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
