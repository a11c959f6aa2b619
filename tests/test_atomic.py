"""proplens._atomic: one-step file replacement with the permissions a user expects."""

from __future__ import annotations

import os
import stat

import pytest

from proplens._atomic import write_text_atomic


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_new_files_get_open_s_permissions_and_replaced_files_keep_theirs(tmp_path):
    """A new file is as readable as one open() makes (not mkstemp's owner-only 0600, which made
    a shared models root's current.json or suggest's CSV unreadable to the team); a replaced
    file keeps its own bits; an explicit mode wins."""
    umask = os.umask(0o022)
    try:
        fresh = tmp_path / "current.json"
        write_text_atomic(fresh, "{}\n")
        assert _mode(fresh) == 0o644 and fresh.read_text(encoding="utf-8") == "{}\n"

        private = tmp_path / "taxonomy.toml"
        private.write_text("old", encoding="utf-8")
        private.chmod(0o600)
        write_text_atomic(private, "new")
        assert _mode(private) == 0o600 and private.read_text(encoding="utf-8") == "new"

        write_text_atomic(private, "newer", mode=0o640)
        assert _mode(private) == 0o640
    finally:
        os.umask(umask)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current.json", "taxonomy.toml"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "labels.csv"
    target.write_text("kept", encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        write_text_atomic(target, "\udcff")  # a lone surrogate cannot be written as UTF-8
    assert target.read_text(encoding="utf-8") == "kept"
    assert [p.name for p in tmp_path.iterdir()] == ["labels.csv"]
