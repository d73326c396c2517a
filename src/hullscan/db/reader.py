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
    CvssScore,
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


#: enum members by stored value: a dict lookup, not an Enum call, per advisory row
_STATUSES = {status.value: status for status in FixStatus}
_SEVERITIES = {int(severity): severity for severity in Severity}


def _chunks(keys: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(keys), CHUNK):
        yield keys[start : start + CHUNK]


#: The columns of a `vulnerabilities` row after id and source, in table order.
VULNERABILITY_COLUMNS = (
    "description, aliases, urls, cvss, cwes, published, nvd_severity, kev_added, epss,"
    " epss_percentile"
)
VulnerabilityRow = tuple[str, str, str, str, str, str, int, str, float | None, float | None]


_encode = json.JSONEncoder(separators=(",", ":")).encode


def _json_list(values: Sequence[Any]) -> str:
    # Most rows (EPSS, KEV: 300,000 a day) have empty lists: skip the encoder for them.
    return _encode(list(values)) if values else "[]"


def vulnerability_row(vuln: Vulnerability) -> VulnerabilityRow:
    """The stored form of a Vulnerability (without id and source): what the builder writes."""
    return (
        vuln.description,
        _json_list(vuln.aliases),
        _json_list(vuln.urls),
        _json_list(
            [
                {
                    "source": c.source,
                    "version": c.version,
                    "vector": c.vector,
                    "score": c.score,
                    "severity": c.severity.name,
                }
                for c in vuln.cvss
            ]
        ),
        _json_list(vuln.cwes),
        vuln.published,
        int(vuln.nvd_severity),
        vuln.kev_added,
        vuln.epss,
        vuln.epss_percentile,
    )


def vulnerability_from_row(vuln_id: str, row: Sequence[Any]) -> Vulnerability:
    """A Vulnerability from the columns of VULNERABILITY_COLUMNS; ValueError/TypeError if bad."""
    description, aliases, urls, cvss, cwes, published, severity, kev, epss, percentile = row
    return Vulnerability(
        id=vuln_id,
        description=str(description),
        aliases=_strings(json.loads(aliases)),
        urls=_strings(json.loads(urls)),
        cvss=_cvss(json.loads(cvss)),
        cwes=_strings(json.loads(cwes)),
        published=str(published),
        nvd_severity=Severity(severity),
        kev_added=str(kev),
        epss=None if epss is None else float(epss),
        epss_percentile=None if percentile is None else float(percentile),
    )


def merge_vulnerabilities(vulns: Sequence[Vulnerability]) -> Vulnerability:
    """One view of several statements about an id, the most trusted first.

    Texts and single facts: the first one given (a vendor's description stays, NVD's fills
    the gap); lists: the union in order; CVSS scores: every distinct one.
    """
    first = vulns[0]
    if len(vulns) == 1:
        return first

    def text(values: Iterator[str]) -> str:
        return next((v for v in values if v), "")

    def union(lists: Iterator[tuple[str, ...]]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(item for items in lists for item in items))

    return Vulnerability(
        id=first.id,
        description=text(v.description for v in vulns),
        aliases=union(v.aliases for v in vulns),
        urls=union(v.urls for v in vulns),
        cvss=tuple(dict.fromkeys(c for v in vulns for c in v.cvss)),
        cwes=union(v.cwes for v in vulns),
        published=text(v.published for v in vulns),
        nvd_severity=next(
            (v.nvd_severity for v in vulns if v.nvd_severity is not Severity.UNKNOWN),
            Severity.UNKNOWN,
        ),
        kev_added=text(v.kev_added for v in vulns),
        epss=next((v.epss for v in vulns if v.epss is not None), None),
        epss_percentile=next(
            (v.epss_percentile for v in vulns if v.epss_percentile is not None), None
        ),
    )


class VulnDB:
    """An open vulnerability DB. Use as a context manager, or call close().

    One instance per thread (sqlite3 connections are not shared between threads).
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, info: DbInfo) -> None:
        self._conn = conn
        self._path = path
        self._info = info
        # Precedence of vulnerability rows: the order of `sources` (the builder writes the
        # vendor feeds first, then the enrichment feeds).
        self._rank = {source.name: index for index, source in enumerate(info.sources)}

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
        parsed: dict[str, tuple[AffectedRange, ...]] = {}  # many rows share one ranges text
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
                    if (affected := parsed.get(ranges)) is None:
                        affected = parsed[ranges] = _ranges(ranges)
                    advisory = Advisory(
                        namespace=namespace,
                        package=package,
                        vuln_id=vuln_id,
                        ranges=affected,
                        status=_STATUSES[status],
                        fixed_version=fixed,
                        severity=_SEVERITIES[severity],
                        severity_source=sev_source,
                        source=source,
                    )
                except (ValueError, TypeError, AttributeError, KeyError) as exc:
                    raise self._damaged(exc) from None
                result.setdefault(package, []).append(advisory)
        return result

    def vulnerabilities(self, ids: Collection[str]) -> dict[str, Vulnerability]:
        """Facts about the given ids, every feed's rows merged (unknown ids are absent).

        Precedence: vendor feeds in build order, then NVD, KEV, EPSS (merge_vulnerabilities).
        """
        keys = sorted(set(ids))
        found: dict[str, list[tuple[int, str, Vulnerability]]] = {}
        last = len(self._rank)
        for chunk in _chunks(keys):
            marks = ",".join("?" * len(chunk))
            rows = self._query(
                f"SELECT id, source, {VULNERABILITY_COLUMNS} FROM vulnerabilities"
                f" WHERE id IN ({marks})",
                tuple(chunk),
            )
            for vuln_id, source, *columns in rows:
                try:
                    vuln = vulnerability_from_row(vuln_id, columns)
                except (TypeError, ValueError, KeyError, AttributeError) as exc:
                    raise self._damaged(exc) from None
                rank = self._rank.get(source, last)
                found.setdefault(vuln_id, []).append((rank, source, vuln))
        return {
            vuln_id: merge_vulnerabilities([v for _, _, v in sorted(rows, key=lambda r: r[:2])])
            for vuln_id, rows in found.items()
        }

    def vulnerability_counts(self) -> dict[str, int]:
        """Rows each feed put into `vulnerabilities` (NVD, KEV, EPSS put nothing else)."""
        rows = self._query("SELECT name, vulnerabilities FROM sources ORDER BY rowid", ())
        return {name: int(count) for name, count in rows}

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


def _cvss(value: object) -> tuple[CvssScore, ...]:
    """The JSON list of CVSS objects from the DB, else ValueError (the DB is damaged)."""
    if not isinstance(value, list):
        raise ValueError(f"expected a list of CVSS scores, found {value!r:.60}")
    scores = []
    for item in value:
        if not isinstance(item, dict):
            raise ValueError(f"expected a CVSS score object, found {item!r:.60}")
        scores.append(
            CvssScore(
                source=str(item["source"]),
                version=str(item["version"]),
                vector=str(item["vector"]),
                score=float(item["score"]),
                severity=Severity[item["severity"]],
            )
        )
    return tuple(scores)


def _strings(value: object) -> tuple[str, ...]:
    """A JSON list of strings from the DB, else the DB is damaged (raises ValueError)."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a list of strings, found {value!r:.60}")
    return tuple(value)
