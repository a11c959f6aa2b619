"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from proplens import config


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The corpus root; tests marked ``corpus`` fail (not skip) without it, so CI cannot go green
    while silently testing nothing."""
    root = config.data_dir()
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
