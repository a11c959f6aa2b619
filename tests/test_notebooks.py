"""The numbered notebooks: committed without outputs, in sync with their builder, and each runs
top to bottom on the real corpus (an error in any cell fails the test run, and so CI).

Executed with nbclient rather than ``pytest --nbmake`` so that the normal ``pytest`` run covers
them with no extra flag, and so the tests can set the matplotlib backend and check that notebook
04 leaves the repository untouched.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from proplens import config

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ["01-explore-corpus", "02-model-and-errors", "03-score-articles", "04-add-a-device"]
# Per cell, generous: the notebooks take well under two minutes each on an idle 2-core machine,
# but CI machines are shared; a hung kernel must still fail rather than block the run.
CELL_TIMEOUT = 900


def test_notebooks_match_their_builder():
    """The .ipynb files are exactly what build_notebooks.py writes (edit the builder, not them)."""
    result = subprocess.run(
        [sys.executable, str(NOTEBOOKS / "build_notebooks.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_has_no_outputs(name):
    """Outputs would carry corpus sentences into the repo; each notebook opens with its question."""
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and "**Question:**" in first.source
    assert any("import proplens" in c.source for c in notebook.cells if c.cell_type == "code")


def _fingerprint(paths: list[Path]) -> dict[str, str]:
    """sha256 of every file under ``paths``, to prove a notebook wrote nothing there."""
    found = {}
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.mark.corpus
@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(name, corpus_dir, monkeypatch, tmp_path):
    """Each notebook runs without error on the real corpus (and 04 leaves the repo as it was)."""
    # The kernel inherits this: matplotlib's inline backend draws with Agg into PNG outputs (no
    # display, nothing interactive), so the test can check that charts were really drawn.
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("PROPLENS_DATA", str(corpus_dir))
    # Notebook 04 declares a device and trains models: it must do so in a temporary folder.
    # (Only 04 is watched: others working in the same checkout may change models/ meanwhile.)
    watched = [config.taxonomy_path(), config.models_dir()] if name.startswith("04") else []
    before = _fingerprint(watched)
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    if name.startswith("04"):
        # 04 points the environment at its temporary folder and must put back what was there
        monkeypatch.setenv("PROPLENS_MODELS", str(config.models_dir()))
        monkeypatch.delenv("PROPLENS_TAXONOMY", raising=False)
        notebook.cells.append(
            nbformat.v4.new_code_cell(
                'import os; print(os.environ.get("PROPLENS_MODELS"), '
                'os.environ.get("PROPLENS_TAXONOMY"))'
            )
        )
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    started = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - started
    # Keep the executed copy out of the repo, for a look when something seems off.
    nbformat.write(notebook, tmp_path / f"{name}.ipynb")
    (tmp_path / "seconds.json").write_text(json.dumps({name: round(seconds, 1)}))
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert errors == []
    figures = sum(
        1
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    )
    assert figures >= 1, "every notebook shows at least one chart"
    assert _fingerprint(watched) == before
    if name.startswith("04"):
        restored = notebook.cells[-1].outputs[0]["text"].strip()
        assert restored == f"{config.models_dir()} None"
