"""Atomic writes: the whole file or the old one, with the mode a plain write would give."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pytest_cmdgen.atomic import write_bytes_atomic, write_text_atomic


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_gets_the_mode_of_a_plain_write_and_its_directory(tmp_path: Path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    written = write_text_atomic(tmp_path / "new" / "dir" / "file.txt", "one\ntwo\n")
    assert written.read_bytes() == b"one\ntwo\n"
    assert _mode(written) == _mode(plain)  # not mkstemp's private 0o600
    assert write_text_atomic(tmp_path / "run.sh", "#!/bin/sh\n", mode=0o755).stat().st_mode & 0o777 == 0o755


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = write_text_atomic(tmp_path / "data.json", "old")

    with pytest.raises(TypeError):  # the write itself fails, after the temporary file was made
        write_bytes_atomic(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["data.json"]
