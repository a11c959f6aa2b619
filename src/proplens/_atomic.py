"""Replacing a file in one step, so that readers and crashes see the old file or the new one."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path


def write_text_atomic(
    path: str | os.PathLike[str], text: str, *, newline: str | None = None, mode: int | None = None
) -> None:
    """Write ``text`` (UTF-8) to a temporary sibling of ``path``, flush it to disk and rename it
    over ``path``. The temporary file is removed on any failure, Ctrl-C included, and the error
    (an ``OSError``) is the caller's to word. ``mode`` sets the file's permissions; by default
    those of the file it replaces, or what :func:`open` would give a new one (mkstemp alone would
    leave it readable by its owner only); ``newline`` is as for :func:`open`."""
    path = Path(path)
    if mode is None:
        mode = _mode_for(path)
    descriptor, temporary = tempfile.mkstemp(prefix=f".tmp-{path.name}-", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline=newline) as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _mode_for(path: Path) -> int:
    """The permissions of the file at ``path``, or those :func:`open` gives a new file."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)  # read the umask: setting it is the only way
        os.umask(umask)
        return 0o666 & ~umask
