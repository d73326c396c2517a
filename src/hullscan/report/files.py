"""Writing report files so that a reader never sees half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hullscan.errors import ReportError


def write_atomically(path: Path, text: str) -> None:
    """Write via a temp file in the same directory, fsync, then rename over `path`.

    The file gets the usual 0666-less-umask mode (mkstemp alone would leave it 0600,
    unreadable to the CI job that uploads it as an artifact).
    """
    path = path.expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, 0o666 & ~umask)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ReportError(f"cannot write report {path}: {exc.strerror or exc}") from None
