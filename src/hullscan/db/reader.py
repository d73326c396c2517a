"""Read-only access to a built vulnerability DB: the only way matching sees advisories.

The file is opened with SQLite's `mode=ro`, so a scan can never change it, and checked
once on open (is it a hullscan DB, of this schema version?) so that every later failure
is a real I/O problem rather than a confusing "no such column".
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from hullscan.db.schema import APPLICATION_ID, SCHEMA_VERSION
from hullscan.errors import DbError
from hullscan.model import (
    Advisory,
    AffectedRange,
    DbInfo,
    FixStatus,
    Severity,
    SourceInfo,
    Vulnerability,
)

# Keys per IN (...) list: below SQLite's historical 999-variable limit with room to spare.
CHUNK = 900

_REBUILD = "run `hullscan db build` to create a new one"


@lru_cache(maxsize=4096)
def _ranges(text: str) -> tuple[AffectedRange, ...]:
    return tuple(
        AffectedRange(
            introduced=item.get("introduced"),
            fixed=item.get("fixed"),
            last_affected=item.get("last_affected"),
        )
        for item in json.loads(text)
    )


def _chunks(keys: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(keys), CHUNK):
        yield keys[start : start + CHUNK]


class VulnDB:
    """An open vulnerability DB. Use as a context manager, or call close().

    One instance per thread (sqlite3 connections are not shared between threads).
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, info: DbInfo) -> None:
        self._conn = conn
        self._path = path
        self._info = info

    @classmethod
    def open(cls, path: Path | str) -> VulnDB:
        """Open `path` read-only; DbError with the fix when it is missing, foreign or stale."""
        path = Path(path).expanduser()
        if not path.exists():
            raise DbError(f"no vulnerability DB at {path}: run `hullscan db build`")
        if not path.is_file():
            raise DbError(f"{path} is not a vulnerability DB file")
        try:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise DbError(f"cannot open the vulnerability DB {path}: {exc}") from None
        try:
            info = cls._check(conn, path)
        except BaseException:
            conn.close()
            raise
        return cls(conn, path, info)

    @staticmethod
    def _check(conn: sqlite3.Connection, path: Path) -> DbInfo:
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        except sqlite3.DatabaseError:
            raise DbError(
                f"{path} is not a hullscan vulnerability DB (not SQLite, or corrupt): {_REBUILD}"
            ) from None
        if app_id != APPLICATION_ID:
            raise DbError(f"{path} is not a hullscan vulnerability DB: {_REBUILD}")
        try:
            row = conn.execute("SELECT schema_version, built_at FROM meta").fetchone()
            if row is None:
                raise sqlite3.DatabaseError("meta table is empty")
            version, built_at = int(row[0]), str(row[1])
            if version != SCHEMA_VERSION:
                newer = "a newer" if version > SCHEMA_VERSION else "an older"
                hint = (
                    "upgrade hullscan, or run `hullscan db build` to rebuild it"
                    if version > SCHEMA_VERSION
                    else "run `hullscan db build` to rebuild it"
                )
                raise DbError(
                    f"the vulnerability DB {path} has schema version {version} (from {newer} "
                    f"hullscan); this hullscan reads version {SCHEMA_VERSION}: {hint}"
                )
            sources = tuple(
                SourceInfo(
                    name=name,
                    location=location,
                    fingerprint=fingerprint,
                    fetched_at=fetched_at,
                    advisories=int(count),
                )
                for name, location, fingerprint, fetched_at, count in conn.execute(
                    "SELECT name, location, fingerprint, fetched_at, advisories"
                    " FROM sources ORDER BY rowid"
                )
            )
        except (sqlite3.DatabaseError, TypeError, ValueError) as exc:
            raise DbError(f"the vulnerability DB {path} is damaged ({exc}): {_REBUILD}") from None
        return DbInfo(schema_version=version, built_at=built_at, path=str(path), sources=sources)

    @property
    def path(self) -> Path:
        return self._path

    def info(self) -> DbInfo:
        """Schema version, build time and the sources (name, location, fingerprint...)."""
        return self._info

    def advisories(self, namespace: str, packages: Collection[str]) -> dict[str, list[Advisory]]:
        """Advisories of `packages` in `namespace`, by package; packages with none are absent.

        One query per call (per CHUNK packages): an image with 2,000 packages costs three
        index range scans, not 2,000 round trips.
        """
        keys = sorted(set(packages))
        result: dict[str, list[Advisory]] = {}
        for chunk in _chunks(keys):
            marks = ",".join("?" * len(chunk))
            rows = self._query(
                "SELECT package, vuln_id, ranges, status, fixed_version, severity,"
                " severity_source, source FROM advisories"
                f" WHERE namespace = ? AND package IN ({marks}) ORDER BY package, vuln_id",
                (namespace, *chunk),
            )
            for package, vuln_id, ranges, status, fixed, severity, sev_source, source in rows:
                try:
                    advisory = Advisory(
                        namespace=namespace,
                        package=package,
                        vuln_id=vuln_id,
                        ranges=_ranges(ranges),
                        status=FixStatus(status),
                        fixed_version=fixed,
                        severity=Severity(severity),
                        severity_source=sev_source,
                        source=source,
                    )
                except (ValueError, TypeError, AttributeError) as exc:
                    raise self._damaged(exc) from None
                result.setdefault(package, []).append(advisory)
        return result

    def vulnerabilities(self, ids: Collection[str]) -> dict[str, Vulnerability]:
        """Description, aliases and URLs of the given ids (unknown ids are absent)."""
        keys = sorted(set(ids))
        result: dict[str, Vulnerability] = {}
        for chunk in _chunks(keys):
            marks = ",".join("?" * len(chunk))
            rows = self._query(
                f"SELECT id, description, aliases, urls FROM vulnerabilities WHERE id IN ({marks})",
                tuple(chunk),
            )
            for vuln_id, description, aliases, urls in rows:
                try:
                    result[vuln_id] = Vulnerability(
                        id=vuln_id,
                        description=description,
                        aliases=_strings(json.loads(aliases)),
                        urls=_strings(json.loads(urls)),
                    )
                except (TypeError, ValueError) as exc:
                    raise self._damaged(exc) from None
        return result

    def has_namespace(self, namespace: str) -> bool:
        """Whether any feed covered `namespace` (an index probe, unlike counts())."""
        rows = self._query("SELECT 1 FROM advisories WHERE namespace = ? LIMIT 1", (namespace,))
        return bool(rows)

    def counts(self) -> dict[str, int]:
        """Number of advisories per namespace, for `hullscan db status`."""
        rows = self._query(
            "SELECT namespace, count(*) FROM advisories GROUP BY namespace ORDER BY namespace",
            (),
        )
        return {namespace: int(count) for namespace, count in rows}

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.ProgrammingError as exc:
            raise DbError(f"the vulnerability DB {self._path} is not usable: {exc}") from None
        except sqlite3.Error as exc:
            raise self._damaged(exc) from None

    def _damaged(self, exc: BaseException) -> DbError:
        return DbError(f"the vulnerability DB {self._path} is damaged ({exc}): {_REBUILD}")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _strings(value: object) -> tuple[str, ...]:
    """A JSON list of strings from the DB, else the DB is damaged (raises ValueError)."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a list of strings, found {value!r:.60}")
    return tuple(value)
