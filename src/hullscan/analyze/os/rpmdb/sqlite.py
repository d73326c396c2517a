"""rpm's SQLite `rpmdb.sqlite` (RHEL/UBI 9, Fedora 33+, CBL-Mariner, Amazon Linux 2023).

The header blobs are the `blob` column of table `Packages (hnum INTEGER PRIMARY KEY, blob
BLOB)`; every other table is an index rpm can rebuild. The database is opened from the
bytes the walker read, in memory (`sqlite3.Connection.deserialize`), never from a path in
the image: nothing in a hostile image can make SQLite open another file. rpm keeps the
file in WAL mode; an in-memory copy cannot have a WAL, so the two header bytes that say
"WAL" are set back to "rollback journal" in the copy. Transactions still in a -wal file
next to the database are not seen (Trivy and Syft do not see them either); rpm
checkpoints when it closes the database, so images normally have none.

Hostile files: SQLite itself detects corrupt pages (each is an error, reported with the
rows read before it); a progress handler aborts a query after a bounded number of
virtual-machine steps, so a crafted file cannot keep the scan busy.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from hullscan.analyze.base import some_names
from hullscan.analyze.os.rpmdb.blobs import DbBlobs, HeaderBlob
from hullscan.errors import AnalyzerError

SQLITE_MAGIC = b"SQLite format 3\x00"
#: Progress-handler calls (each every _STEPS VM instructions) before a query is aborted;
#: 50 000 x 1000 steps read a database of a million packages many times over.
_MAX_PROGRESS_CALLS = 50_000
_STEPS = 1000
#: sqlite3_deserialize is optional in SQLite builds (Python exposes it since 3.11).
_HAS_DESERIALIZE = hasattr(sqlite3.Connection, "deserialize")


def is_sqlite(data: bytes) -> bool:
    return data[:16] == SQLITE_MAGIC


def read_sqlite(data: bytes) -> DbBlobs:
    """Header blobs of an rpmdb.sqlite (see module docs)."""
    if len(data) < 100 or not is_sqlite(data):
        raise AnalyzerError("not an SQLite database (bad magic)")
    image = bytearray(data)
    if image[18] == 2 or image[19] == 2:  # WAL mode; see module docs
        image[18] = image[19] = 1
    with _opened(bytes(image)) as con:
        calls = 0

        def progress() -> int:
            nonlocal calls
            calls += 1
            return 1 if calls > _MAX_PROGRESS_CALLS else 0  # non-zero aborts the query

        con.set_progress_handler(progress, _STEPS)
        con.text_factory = _text  # damaged text must not raise UnicodeDecodeError
        try:
            tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master")}
        except (sqlite3.Error, ValueError) as exc:
            raise AnalyzerError(f"unreadable SQLite database: {exc}") from None
        if "Packages" not in tables:
            raise AnalyzerError("SQLite database without a Packages table: not an rpmdb")
        blobs: list[HeaderBlob] = []
        not_blobs: list[str] = []
        warnings: list[str] = []
        calls = 0  # a fresh budget for the one query that matters
        try:
            for hnum, blob in con.execute("SELECT hnum, blob FROM Packages ORDER BY hnum"):
                if isinstance(blob, bytes) and isinstance(hnum, int):
                    blobs.append(HeaderBlob(hnum, blob))
                else:
                    not_blobs.append(f"#{hnum}")
        except (sqlite3.Error, ValueError) as exc:
            reason = "took too long" if calls > _MAX_PROGRESS_CALLS else str(exc)
            warnings.append(f"stopped reading after {len(blobs)} package(s): {reason}")
        if not_blobs:
            warnings.append(
                f"skipped {len(not_blobs)} record(s) without a header blob: {some_names(not_blobs)}"
            )
    return DbBlobs(tuple(blobs), tuple(warnings))


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


@contextmanager
def _opened(image: bytes) -> Iterator[sqlite3.Connection]:
    """A connection to a private copy of `image`: in memory, else a temp file of our own."""
    if _HAS_DESERIALIZE:
        con = sqlite3.connect(":memory:")
        try:
            try:
                con.deserialize(image)
            except sqlite3.Error as exc:
                raise AnalyzerError(f"unreadable SQLite database: {exc}") from None
            con.execute("PRAGMA query_only = ON")
            yield con
        finally:
            con.close()
        return
    # SQLite built without sqlite3_deserialize: a file only this process knows about.
    with tempfile.TemporaryDirectory(prefix="hullscan-rpmdb-") as tmp:
        path = os.path.join(tmp, "rpmdb.sqlite")
        with open(path, "wb") as fh:
            fh.write(image)
        con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        try:
            yield con
        finally:
            con.close()
