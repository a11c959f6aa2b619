"""CLI commands for new labels: ``proplens labels add|validate`` and ``proplens suggest``.

Thin like the rest of the CLI: parse options, call one function of :mod:`proplens.labeling` or
:mod:`proplens.suggest`, print. :func:`register` attaches them to the main Typer app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from proplens.errors import InputError, ValidationError

labels_app = typer.Typer(
    help="Declare devices, and check new labels (with per-device counts) before training.",
    no_args_is_help=True,
)
err = Console(stderr=True)
# `suggest` names this many unreadable documents, one line each, and counts the rest in one line.
_NAMED_UNREADABLE = 5


@labels_app.command("add")
def labels_add(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Device name, e.g. Vague_Sourcing.")],
    definition: Annotated[
        str, typer.Option(metavar="TEXT", help="What the device is, in one or two sentences.")
    ],
    example: Annotated[
        str, typer.Option(metavar="SENTENCE", help="An example sentence you wrote yourself.")
    ],
    requires: Annotated[
        str | None,
        typer.Option(
            metavar="REGEX", help="Regex a sentence must match for the device to be possible."
        ),
    ] = None,
    colour: Annotated[
        str | None, typer.Option(metavar="COLOUR", help="Highlight colour, e.g. #aa6e28.")
    ] = None,
    taxonomy: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="Taxonomy file (default: datasets/taxonomy.toml)."),
    ] = None,
) -> None:
    """Declare a new device in the taxonomy file (written atomically)."""
    from proplens import config
    from proplens.labeling import add_device

    device = add_device(name, definition, example, requires=requires, colour=colour, path=taxonomy)
    print(f"added {device.name} to {taxonomy or config.taxonomy_path()}")


@labels_app.command("validate")
def labels_validate(
    files: Annotated[
        list[Path],
        typer.Argument(metavar="FILES", help="Label files (CSV, TSV, JSONL, JSON)."),
    ],
    corpus: Annotated[
        Path | None,
        typer.Option(
            metavar="FOLDER",
            help="Folder stand-off labels point into (default: SemEval train articles).",
        ),
    ] = None,
) -> None:
    """Check label files together: list every problem with file and line.

    Exit 3 if there is any problem, 2 if a file could not be read.

    Otherwise print the labeled sentences per device (positive, negative).
    """
    from proplens.labeling import UNREADABLE, validate_labels

    report = validate_labels(files, corpus_dir=corpus)
    if report.problems and all(problem.kind == UNREADABLE for problem in report.problems):
        # a mistyped path: one line, like any command given a file that is not there
        raise report.error("; ".join(str(problem) for problem in report.problems))
    for problem in report.problems:
        err.print(str(problem), highlight=False, soft_wrap=True, markup=False)
    if not report.ok:
        raise report.error(f"{len(report.problems)} problem(s) in {len(files)} file(s)")
    labels = report.labels
    print(f"ok: {len(labels)} labeled sentences in {len(files)} file(s)", end="")
    print(f", {labels.skipped} not labeled yet (skipped)" if labels.skipped else "")
    counts = labels.counts()
    for device, count in counts.items():
        print(f"  {device}: {count['positive']} positive, {count['negative']} negative")
    for device, count in counts.items():
        # A warning, not a problem: `train` adds the base corpus, which may hold the other
        # class for this device. Alone (--no-base, or a device the base does not label) the
        # device's regression would learn a constant.
        for kind in ("positive", "negative"):
            if not count[kind]:
                err.print(
                    f"proplens: warning: {device}: no {kind} example; a model cannot learn it "
                    "from these labels alone",
                    highlight=False,
                    soft_wrap=True,
                    markup=False,
                )


def suggest_command(
    device: Annotated[
        str, typer.Option("--device", "-d", metavar="DEVICE", help="Device to find examples for.")
    ],
    sources: Annotated[
        list[Path],
        typer.Option("--from", metavar="FOLDER", help="Folder or file of documents (repeatable)."),
    ],
    n: Annotated[
        int, typer.Option("-n", "--number", metavar="N", help="How many sentences to pick.")
    ] = 50,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            metavar="FILE",
            help="CSV to write (a Label Studio .json goes beside).",
        ),
    ] = Path("suggestions.csv"),
    # "NAME[@VERSION]" showed as "NAME.": Rich takes "[@VERSION]" for markup
    model: Annotated[
        str | None, typer.Option(metavar="MODEL", help="Model folder, NAME or NAME@VERSION.")
    ] = None,
    trust: Annotated[
        bool, typer.Option(help="Load a model file this installation did not produce.")
    ] = False,
    exclude: Annotated[
        list[Path] | None,
        typer.Option(
            metavar="FILE", help="Label files whose sentences are already labeled (repeatable)."
        ),
    ] = None,
    corpus: Annotated[
        Path | None,
        typer.Option(
            metavar="FOLDER",
            help="Folder stand-off --exclude files point into (default: SemEval train articles).",
        ),
    ] = None,
    max_similarity: Annotated[
        float,
        typer.Option(
            metavar="SIMILARITY",
            help="Skip a sentence this TF-IDF-similar to one already picked.",
        ),
    ] = 0.8,
) -> None:
    """Pick the sentences whose labels would teach the model most; export CSV + Label Studio."""
    from proplens.labeling import validate_labels
    from proplens.suggest import suggest, write_suggestions

    if corpus is not None and not exclude:
        from proplens.cli import CommandLineError

        # as `train --corpus` without --labels: alone it would be silently ignored
        raise CommandLineError(
            f"--corpus {corpus}: names the folder stand-off --exclude files point into, so it "
            "needs --exclude FILE"
        )
    if out.suffix.lower() != ".csv" and not out.is_dir():
        # `train --labels` reads a file by its extension: a CSV named .json would not read back
        raise ValidationError(
            f"--out {out}: must be a .csv file (the Label Studio tasks are written beside it)"
        )
    _refuse_labeled_output(out, exclude or [])
    done: list[str] = []
    if exclude:  # an invalid file is named as such, before any model is loaded
        report = validate_labels(exclude, corpus_dir=corpus)
        _refuse_unresolved_exclude(report, corpus)
        labels = report.raise_for_problems("the --exclude file(s), nothing was suggested")
        done = labels.frame["text"].tolist()
    skipped: list[InputError] = []
    picks = suggest(
        device,
        sources,
        n=n,
        model=model,
        trust=trust,
        max_similarity=max_similarity,
        exclude=done,
        on_unreadable=lambda errors: _warn_unreadable(skipped, errors),
    )
    written = write_suggestions(picks, out, out.with_suffix(".label_studio.json"))
    for path in written:
        err.print(f"wrote {path}", highlight=False)
    if skipped:
        _warn(f"{len(skipped)} unreadable document(s) skipped; the picks come from the others")
    print(
        f"{len(picks)} sentences for {device}: fill the 'devices' column of {out} "
        f"with {device} or none, then run: proplens train --labels {out}"
    )


def _warn(message: str) -> None:
    err.print(f"proplens: warning: {message}", highlight=False, soft_wrap=True, markup=False)


def _warn_unreadable(skipped: list[InputError], errors: list[InputError]) -> None:
    """Name each document `suggest` could not read as `score` does, one line each, then count
    the rest in one line: a folder of many unreadable files should not bury the output."""
    skipped.extend(errors)
    for error in errors[:_NAMED_UNREADABLE]:
        _warn(f"{error}; skipped")
    if len(errors) > _NAMED_UNREADABLE:
        _warn(f"{len(errors) - _NAMED_UNREADABLE} more unreadable document(s) skipped")


def _refuse_unresolved_exclude(report, corpus: Path | None) -> None:
    """Stand-off labels name documents, not text: without --corpus they are looked for in the
    default corpus folder, and a folder of one's own needs saying. One line, not one per row."""
    from proplens.labeling import CORPUS_HINT, MISSING_DOCUMENT

    missing = [problem for problem in report.problems if problem.kind == MISSING_DOCUMENT]
    if corpus is not None or not missing:
        return
    files = ", ".join(dict.fromkeys(Path(problem.source).name for problem in missing))
    first = f"{missing[0].source}:{missing[0].line}: {missing[0].message.removesuffix(CORPUS_HINT)}"
    raise report.error(
        f"--exclude {files}: {len(missing)} stand-off label(s) name a document not found "
        f"(first: {first}); pass --corpus FOLDER, the folder they point into"
    )


def _refuse_labeled_output(out: Path, exclude: list[Path]) -> None:
    """Writing the picks over a file someone has labeled would lose that round's work (repeating
    the loop's command with ``--exclude picks.csv -o picks.csv`` did)."""
    import csv

    if not out.is_file():
        return
    if any(out.resolve() == path.resolve() for path in exclude):
        raise ValidationError(f"--out {out} is also an --exclude file; choose another --out")
    try:
        with out.open(encoding="utf-8-sig", newline="") as handle:
            labeled = sum(1 for row in csv.DictReader(handle) if (row.get("devices") or "").strip())
    except (OSError, UnicodeDecodeError, csv.Error):
        return  # not a label file we can read: the write's own checks decide
    if labeled:
        raise ValidationError(
            f"--out {out} holds {labeled} labeled row(s); choose another --out, or move it and "
            "pass it as --exclude"
        )


def register(app: typer.Typer) -> None:
    """Attach ``labels`` and ``suggest`` to the main app."""
    app.add_typer(labels_app, name="labels")
    app.command("suggest")(suggest_command)
