"""Pure-Python readers of rpm's three package databases and of the header blobs in them.

No librpm or Berkeley DB library at run time: each backend module reads its file format
from bytes and hands on numbered header blobs (`blobs.DbBlobs`); `header.parse_header`
decodes the tags a scanner needs from each blob.
"""

from __future__ import annotations

from collections.abc import Callable

from hullscan.analyze.os.rpmdb.bdb import is_bdb_hash, read_bdb
from hullscan.analyze.os.rpmdb.blobs import DbBlobs, HeaderBlob
from hullscan.analyze.os.rpmdb.header import HeaderError, HeaderInfo, parse_header
from hullscan.analyze.os.rpmdb.ndb import is_ndb, read_ndb
from hullscan.analyze.os.rpmdb.sqlite import is_sqlite, read_sqlite

__all__ = [
    "DbBlobs",
    "HeaderBlob",
    "HeaderError",
    "HeaderInfo",
    "detect_backend",
    "parse_header",
    "read_blobs",
]

#: Backend name -> reader; names as rpm's %_db_backend calls them.
READERS: dict[str, Callable[[bytes], DbBlobs]] = {
    "bdb": read_bdb,
    "ndb": read_ndb,
    "sqlite": read_sqlite,
}


def detect_backend(data: bytes) -> str:
    """ "bdb", "ndb" or "sqlite" from the file's magic; "" when it is none of them."""
    if is_sqlite(data):
        return "sqlite"
    if is_ndb(data):
        return "ndb"
    if is_bdb_hash(data):
        return "bdb"
    return ""


def read_blobs(data: bytes, backend: str) -> DbBlobs:
    """The header blobs of a database of the given backend (AnalyzerError if not one)."""
    return READERS[backend](data)
