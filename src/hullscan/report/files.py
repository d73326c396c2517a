"""Writing report files so that a reader never sees half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hullscan.errors import ReportError


def write_atomically(path: Path, text: str) -> None:
    """Write via a temp file in the same directory, fsync, then rename over `path`.

    The file gets the usual 0666-less-umask mode (mkstemp alone would leave it 0600,
    unreadable to the CI job that uploads it as an artifact). A path that exists and is not
    a regular file (`/dev/null`, `/dev/stdout`, a FIFO) is written into, never replaced:
    renaming over a device would destroy it.
    """
    path = path.expanduser()
    if path.exists() and not path.is_file():
        if path.is_dir():
            raise ReportError(f"cannot write report {path}: it is a directory")
        try:
            with path.open("w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise ReportError(f"cannot write report {path}: {exc.strerror or exc}") from None
        return
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
