"""Where proplens finds the corpus, the models and the taxonomy.

Every location can be overridden by an environment variable so that a user's installation, CI and a
development checkout all work without absolute paths in the code:

- ``PROPLENS_DATA``: the corpus root (default ``<checkout>/../shared/data``).
- ``PROPLENS_MODELS``: the models root (default ``<checkout>/models``, else the user's data dir).
- ``PROPLENS_TAXONOMY``: the taxonomy file (default ``<checkout>/datasets/taxonomy.toml``, else the
  copy bundled with the package).
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def checkout_root() -> Path | None:
    """The source checkout holding this package (``src/proplens``); None for an installed wheel."""
    candidate = _PACKAGE_DIR.parent.parent
    if (candidate / "pyproject.toml").is_file() and (candidate / "src" / "proplens").is_dir():
        return candidate
    return None


def data_dir() -> Path:
    """The corpus root holding ``ptc-semeval2020/`` and the other releases."""
    env = os.environ.get("PROPLENS_DATA")
    if env:
        return Path(env).expanduser()
    root = checkout_root()
    if root is not None:
        return root.parent / "shared" / "data"
    return Path.cwd().parent / "shared" / "data"


def models_dir() -> Path:
    """The folder holding model directories and the ``current.json`` pointer."""
    env = os.environ.get("PROPLENS_MODELS")
    if env:
        return Path(env).expanduser()
    root = checkout_root()
    if root is not None:
        return root / "models"
    return Path.home() / ".local" / "share" / "proplens" / "models"


def bundled_models_dir() -> Path:
    """Models shipped inside an installed wheel (empty in a checkout, which uses ``models/``)."""
    return _PACKAGE_DIR / "_bundled" / "models"


def taxonomy_path() -> Path:
    """The editable taxonomy file."""
    env = os.environ.get("PROPLENS_TAXONOMY")
    if env:
        return Path(env).expanduser()
    root = checkout_root()
    if root is not None:
        return root / "datasets" / "taxonomy.toml"
    return _PACKAGE_DIR / "_bundled" / "taxonomy.toml"
