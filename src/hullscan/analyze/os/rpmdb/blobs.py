"""What every rpm database backend hands on: numbered header blobs and what went wrong."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HeaderBlob:
    """One package record: rpm's header instance number (hnum / pkgidx / BDB key) and blob."""

    number: int
    data: bytes


@dataclass(frozen=True)
class DbBlobs:
    """The records a backend could read, in instance order, and warnings about the rest.

    Backends raise AnalyzerError only when the file is not their kind of database at all
    (or its very first structures are unreadable); damage further in becomes a warning
    and the records around it are still returned.
    """

    blobs: tuple[HeaderBlob, ...]
    warnings: tuple[str, ...] = ()
