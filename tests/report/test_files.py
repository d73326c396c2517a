"""Report files: atomic for regular files, and never a rename over a device or FIFO."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from hullscan.errors import ReportError
from hullscan.report.files import write_atomically


def test_regular_file_is_replaced_whole_with_a_normal_mode(tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.json"
    write_atomically(target, "first")
    write_atomically(target, "second")
    assert target.read_text() == "second"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in target.parent.iterdir()] == ["report.json"]  # no temp left


def test_a_fifo_is_written_into_not_replaced(tmp_path: Path) -> None:
    # the same path as `-o /dev/null` or `-o /dev/stdout`: renaming over it would destroy it
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    write_atomically(fifo, "report text")
    reader.join(timeout=10)
    assert received == ["report text"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="is a directory"):
        write_atomically(tmp_path, "x")
