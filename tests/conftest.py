"""Shared fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proplens import config


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The corpus root; tests marked ``corpus`` fail (not skip) without it, so CI cannot go green
    while silently testing nothing."""
    # absolute: a relative PROPLENS_DATA would point elsewhere from the notebooks' kernels,
    # which run in notebooks/
    root = config.data_dir().resolve()
    if not (root / "ptc-semeval2020").is_dir():
        pytest.fail(
            f"corpus not found: {root / 'ptc-semeval2020'} is missing; set PROPLENS_DATA to the "
            "folder holding ptc-semeval2020/ (or deselect with -m 'not corpus')",
            pytrace=False,
        )
    return root


REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_ARTICLE = REPO_ROOT / "datasets" / "examples" / "harbour-bridge.txt"


@pytest.fixture(scope="session")
def default_model():
    """The shipped default model, loaded once per test session (loading takes about a second)."""
    import proplens

    return proplens.load_model()


@pytest.fixture(scope="session")
def example_text() -> str:
    """The project's own example article (mixes neutral and propagandistic sentences)."""
    return EXAMPLE_ARTICLE.read_text(encoding="utf-8")


# --- browser tests ---------------------------------------------------------------------------

SCREENSHOTS = REPO_ROOT / "test-output"
# The flags keep Chromium off the network (this machine has none) and runnable as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """Debian's Chromium (or PROPLENS_CHROMIUM); missing -> fail, so CI cannot skip the browser."""
    import os
    import shutil

    found = (
        os.environ.get("PROPLENS_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )
    if not found or not Path(found).exists():
        pytest.fail(
            "Chromium not found: install Debian's chromium package (apt-get install chromium) or "
            "set PROPLENS_CHROMIUM to the browser binary; deselect with -m 'not browser'",
            pytrace=False,
        )
    return found


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium driven by Playwright, one per test module."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install playwright", pytrace=False)
    executable = chromium_path()
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        except Exception as exc:  # the launch error text is long; keep its first line
            first_line = str(exc).strip().splitlines()[0]
            pytest.fail(f"Chromium at {executable} did not start: {first_line}", pytrace=False)
        yield launched
        launched.close()


def rewrite_metadata(directory: Path, change) -> None:
    """Edit a saved model's metadata.json in place: ``change`` gets the parsed dict."""
    path = directory / "metadata.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def drop_metadata_record(directory: Path, *, trust: bool = False) -> Path:
    """Make ``directory`` a model saved before model.joblib recorded its metadata.json (and
    metadata.json its card): the same packed bundle without the record, its artifact record
    updated, no card record (and, with ``trust``, its new hash trusted)."""
    import joblib

    from proplens.artifacts import file_sha256, trust_model

    container = joblib.load(directory / "model.joblib")
    assert container.pop("metadata_sha256")
    with open(directory / "model.joblib", "wb") as handle:
        joblib.dump(container, handle)
    artifact = {
        "file": "model.joblib",
        "sha256": file_sha256(directory / "model.joblib"),
        "bytes": (directory / "model.joblib").stat().st_size,
    }
    rewrite_metadata(directory, lambda data: data.update(artifact=artifact, card_sha256=None))
    if trust:
        trust_model(directory)
    return directory
