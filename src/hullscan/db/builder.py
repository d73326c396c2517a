"""Build the vulnerability DB from feeds: fetch, parse, write a new file, swap it in.

A scan must never see a half-written DB, so everything goes into a temporary file next
to the destination (same filesystem) and replaces it with one os.replace() at the end.
Any failure of the build as a whole - a full disk, Ctrl-C, a failing feed with
`strict=True` - removes the temporary file and leaves the previous DB exactly as it was.

Rebuilding is cheap when little changed: each feed is fetched with a fingerprint (a
conditional request with the ETag / Last-Modified of the previous build, or the sha256 of a
local file), and a feed whose source is unchanged is not parsed: its rows are copied from
the previous DB into the new one. NVD is fetched incrementally on top of its previous rows.
A feed that fails (unreachable, malformed, truncated) keeps its previous rows, if any, and
the others still build, unless `strict`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from hullscan import __version__
from hullscan.db.artifact import fsync_dir
from hullscan.db.feeds.base import Feed, Record
from hullscan.db.fetch import (
    DEFAULT_TIMEOUT,
    Downloads,
    download,
    fetch,
    fetch_text,
    fingerprint,
    is_http,
    is_url,
)
from hullscan.db.reader import (
    VULNERABILITY_COLUMNS,
    merge_vulnerabilities,
    vulnerability_from_row,
    vulnerability_row,
)
from hullscan.db.schema import APPLICATION_ID, INDEXES, SCHEMA_VERSION, TABLES
from hullscan.errors import DbError, FeedError
from hullscan.model import Advisory, AffectedRange, DbInfo, SourceInfo, Vulnerability

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""progress(message, feeds done, feeds total): before and after each feed, and in between
(NVD pages, "unchanged", "failed: ...")."""

_BATCH = 5000
_ADVISORY_INSERT = (
    "INSERT INTO advisories (namespace, package, vuln_id, ranges, status, fixed_version,"
    " severity, severity_source, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_VULNERABILITY_INSERT = (
    f"INSERT OR REPLACE INTO vulnerabilities (id, source, {VULNERABILITY_COLUMNS})"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_ADVISORY_COLUMNS = (
    "namespace, package, vuln_id, ranges, status, fixed_version, severity, severity_source, source"
)
_AdvisoryRow = tuple[str, str, str, str, str, str, int, str, str]


@dataclass(frozen=True)
class FeedFailure:
    """A feed that could not be updated in a build that went on without it."""

    name: str
    message: str
    #: the previous DB's rows for it were kept (stale, but nothing lost)
    kept_previous: bool = False


@dataclass(frozen=True)
class BuildResult(DbInfo):
    """The DbInfo of the new DB, plus what happened to each feed on the way."""

    #: feeds that failed (only when strict=False); their previous rows are kept if any
    failures: tuple[FeedFailure, ...] = ()
    #: feeds whose source was unchanged: nothing parsed, rows copied from the previous DB
    unchanged: tuple[str, ...] = ()


@dataclass(frozen=True)
class _SourceRow:
    """A `sources` row, previous or new."""

    name: str
    location: str
    fingerprint: str
    fetched_at: str
    advisories: int
    vulnerabilities: int
    state: dict[str, Any]

    def info(self) -> SourceInfo:
        return SourceInfo(
            name=self.name,
            location=self.location,
            fingerprint=self.fingerprint,
            fetched_at=self.fetched_at,
            advisories=self.advisories,
        )


@dataclass
class _Location:
    """One location of a feed after fetching."""

    given: str
    files: list[Path]
    state: dict[str, Any]
    unchanged: bool
    fingerprint: str = ""
    delta: bool = False
    own_download: bool = False  # fetched by the feed's Downloads.download
    url: str = ""  # what was downloaded (after resolve_location), for error messages


@dataclass
class _FeedFiles:
    files: list[Path]
    origins: dict[str, str]
    fingerprint: str
    state: dict[str, Any]
    unchanged: bool = False
    delta: bool = False


def utc_now() -> str:
    """ISO-8601 UTC with a Z, second precision: what meta.built_at and fetched_at hold."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@lru_cache(maxsize=4096)
def ranges_json(ranges: tuple[AffectedRange, ...]) -> str:
    """The JSON stored in advisories.ranges (cached: most rows share a few shapes)."""
    return json.dumps(
        [
            {"introduced": r.introduced, "fixed": r.fixed, "last_affected": r.last_affected}
            for r in ranges
        ],
        separators=(",", ":"),
    )


def is_enrichment(feed: Feed) -> bool:
    """NVD, KEV, EPSS: they add facts to the ids other feeds name, and rank after them."""
    return bool(getattr(feed, "enrichment", False))


def build_db(
    dest: Path,
    sources: Sequence[tuple[Feed, str]],
    progress: Progress | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    strict: bool = False,
    incremental: bool = True,
    previous: Path | None = None,
) -> BuildResult:
    """Fetch and parse every source and atomically replace `dest` with the new DB.

    `sources` pairs a feed with one location (URL, file or directory); a feed may appear
    with several locations (Alpine: one file per branch and repository) and is then parsed
    once over all of its files. Vendor feeds are built first, in the order given, then the
    enrichment feeds (NVD, KEV, EPSS): that order is the precedence of their facts.

    `previous` (default: `dest` itself) is the DB to start from: unchanged sources are
    copied from it and NVD continues from its high-water mark; `incremental=False` ignores
    it (fetch and parse everything). A feed that fails is reported in
    `BuildResult.failures` and keeps its previous rows; with `strict=True` it fails the
    whole build instead. FeedError when every feed failed (or the first failure, strict),
    DbError when the DB cannot be written; `dest` is untouched in both cases.
    """
    if not sources:
        raise DbError("no feeds to build the vulnerability DB from")
    groups: dict[str, tuple[Feed, list[str]]] = {}
    for feed, location in sources:
        feed_locations = groups.setdefault(feed.name, (feed, []))[1]
        if location not in feed_locations:
            feed_locations.append(location)
    ordered = sorted(groups.values(), key=lambda group: is_enrichment(group[0]))

    dest = Path(dest).expanduser()
    start_from = Path(previous).expanduser() if previous is not None else dest
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        # Not mkstemp: its 0600 would make a shared DB unreadable for other users; 0644
        # less the umask is what any other file the user creates gets.
        tmp_name = str(dest.parent / f".{dest.name}.{secrets.token_hex(6)}.tmp")
        os.close(os.open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    except OSError as exc:
        raise DbError(f"cannot create the vulnerability DB in {dest.parent}: {exc}") from None
    tmp = Path(tmp_name)
    try:
        with tempfile.TemporaryDirectory(prefix=".hullscan-fetch-", dir=dest.parent) as work:
            builder = _Builder(
                tmp,
                Path(work),
                progress or _no_progress,
                timeout=timeout,
                strict=strict,
                previous=start_from if incremental else None,
            )
            info = builder.run(ordered)
        _fsync(tmp)
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise DbError(f"cannot write the vulnerability DB {dest}: {exc}") from None
        raise
    return replace(info, path=str(dest))


def _no_progress(message: str, done: int, total: int) -> None:
    return None


class _Builder:
    """One build: the new DB's connection, the previous DB attached as `old`."""

    def __init__(
        self,
        tmp: Path,
        work: Path,
        progress: Progress,
        *,
        timeout: float,
        strict: bool,
        previous: Path | None,
    ) -> None:
        self.tmp = tmp
        self.work = work
        self.progress = progress
        self.timeout = timeout
        self.strict = strict
        self.previous_path = previous
        self.previous: dict[str, _SourceRow] = {}
        self.attached = False
        self.done = 0
        self.total = 0

    def run(self, groups: Sequence[tuple[Feed, list[str]]]) -> BuildResult:
        # A URI connection, so that ATTACH can open the previous DB with mode=ro.
        conn = sqlite3.connect(self.tmp.resolve().as_uri(), uri=True, isolation_level=None)
        self.conn = conn
        try:
            # The file is thrown away on any error, so no journal and no syncs until the end;
            # a failed feed's rows are deleted rather than rolled back.
            conn.execute("PRAGMA journal_mode = OFF")
            conn.execute("PRAGMA synchronous = OFF")
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.executescript(TABLES)
            self.previous = self._attach_previous()
            conn.execute("BEGIN")
            self.total = len(groups)
            rows: list[_SourceRow] = []
            failures: list[FeedFailure] = []
            unchanged: list[str] = []
            for self.done, (feed, locations) in enumerate(groups):
                row, failure, skipped = self._one_feed(feed, locations)
                if row is not None:
                    rows.append(row)
                if failure is not None:
                    failures.append(failure)
                if skipped:
                    unchanged.append(feed.name)
            if len(failures) == len(groups):
                # Nothing new: the previous DB (if any) is as good as what we could write.
                if len(failures) == 1:
                    raise FeedError(failures[0].message)
                raise FeedError("every feed failed: " + "; ".join(f.message for f in failures))

            self.progress("writing sources and indexes", self.total, self.total)
            conn.executemany(
                "INSERT INTO sources (name, location, fingerprint, fetched_at, advisories,"
                " vulnerabilities, state) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        r.name,
                        r.location,
                        r.fingerprint,
                        r.fetched_at,
                        r.advisories,
                        r.vulnerabilities,
                        json.dumps(r.state, sort_keys=True, separators=(",", ":")),
                    )
                    for r in rows
                ],
            )
            built_at = utc_now()
            conn.execute(
                "INSERT INTO meta (schema_version, built_at) VALUES (?, ?)",
                (SCHEMA_VERSION, built_at),
            )
            _create_indexes(conn)
            conn.execute("COMMIT")
            if self.attached:
                conn.execute("DETACH DATABASE old")  # ANALYZE would try to write to it
            conn.execute("ANALYZE")
        except sqlite3.Error as exc:
            raise DbError(f"cannot write the vulnerability DB: {exc}") from None
        finally:
            conn.close()
        self.progress("done", self.total, self.total)
        return BuildResult(
            schema_version=SCHEMA_VERSION,
            built_at=built_at,
            sources=tuple(r.info() for r in rows),
            failures=tuple(failures),
            unchanged=tuple(unchanged),
        )

    # -- the previous DB --------------------------------------------------------------

    def _attach_previous(self) -> dict[str, _SourceRow]:
        """The previous DB's sources, attached as `old`; {} when there is none usable.

        Only a hullscan DB of this schema version is used: rows of another layout cannot
        be copied, and a damaged file is simply not a starting point.
        """
        path = self.previous_path
        if path is None or not path.is_file():
            return {}
        try:
            uri = f"{path.resolve().as_uri()}?mode=ro"
            self.conn.execute("ATTACH DATABASE ? AS old", (uri,))
        except sqlite3.Error as exc:
            log.info("not starting from %s: %s", path, exc)
            return {}
        self.attached = True
        try:
            app_id = self.conn.execute("PRAGMA old.application_id").fetchone()[0]
            meta = self.conn.execute("SELECT schema_version FROM old.meta").fetchone()
            if app_id != APPLICATION_ID or meta is None or meta[0] != SCHEMA_VERSION:
                raise ValueError(f"not a hullscan DB of schema {SCHEMA_VERSION}")
            found: dict[str, _SourceRow] = {}
            for name, location, fp, fetched_at, adv, vul, state in self.conn.execute(
                "SELECT name, location, fingerprint, fetched_at, advisories, vulnerabilities,"
                " state FROM old.sources"
            ):
                parsed = json.loads(state)
                found[str(name)] = _SourceRow(
                    name=str(name),
                    location=str(location),
                    fingerprint=str(fp),
                    fetched_at=str(fetched_at),
                    advisories=int(adv),
                    vulnerabilities=int(vul),
                    state=parsed if isinstance(parsed, dict) else {},
                )
        except (sqlite3.Error, ValueError, TypeError) as exc:
            log.info("not starting from %s: %s", path, exc)
            self.conn.execute("DETACH DATABASE old")
            self.attached = False
            return {}
        return found

    def _copy_previous(self, name: str) -> tuple[int, int]:
        """Copy a feed's rows from the previous DB: (advisories, vulnerabilities)."""
        adv = self.conn.execute(
            f"INSERT INTO advisories ({_ADVISORY_COLUMNS})"
            f" SELECT {_ADVISORY_COLUMNS} FROM old.advisories WHERE source = ?",
            (name,),
        ).rowcount
        vul = self.conn.execute(
            f"INSERT OR REPLACE INTO vulnerabilities (id, source, {VULNERABILITY_COLUMNS})"
            f" SELECT id, source, {VULNERABILITY_COLUMNS} FROM old.vulnerabilities"
            " WHERE source = ?",
            (name,),
        ).rowcount
        return adv, vul

    def _delete_rows(self, name: str) -> None:
        self.conn.execute("DELETE FROM advisories WHERE source = ?", (name,))
        self.conn.execute("DELETE FROM vulnerabilities WHERE source = ?", (name,))

    # -- one feed ---------------------------------------------------------------------

    def _one_feed(
        self, feed: Feed, locations: list[str]
    ) -> tuple[_SourceRow | None, FeedFailure | None, bool]:
        """(its sources row, its failure, whether it was unchanged); FeedError if strict."""
        name = feed.name
        previous = self.previous.get(name)
        try:
            row, unchanged = self._build_feed(feed, locations, previous)
        except FeedError as exc:
            if self.strict:
                raise
            self._delete_rows(name)
            kept = None
            if previous is not None:
                self._copy_previous(name)
                kept = previous
            message = str(exc)
            note = " (keeping the previous data)" if kept else ""
            log.warning("%s%s", message, note)
            self.progress(f"{name}: failed{note}: {message}", self.done + 1, self.total)
            return kept, FeedFailure(name, message, kept is not None), False
        if unchanged:
            message = f"{name}: unchanged, {row.advisories} advisories kept"
            if not row.advisories:
                message = f"{name}: unchanged, {row.vulnerabilities} vulnerabilities kept"
        elif row.advisories or not is_enrichment(feed):
            message = f"{name}: {row.advisories} advisories"
        else:
            message = f"{name}: {row.vulnerabilities} vulnerabilities"
        self.progress(message, self.done + 1, self.total)
        return row, None, unchanged

    def _build_feed(
        self, feed: Feed, locations: list[str], previous: _SourceRow | None
    ) -> tuple[_SourceRow, bool]:
        name = feed.name
        joined = ", ".join(locations)
        key = _build_key(feed)
        usable = (
            previous
            if previous is not None
            and previous.location == joined
            and previous.state.get("build") == key
            else None
        )
        self.progress(f"{name}: fetching", self.done, self.total)
        got = self._fetch(feed, locations, usable)
        state = {"build": key, **got.state}
        if got.unchanged and usable is not None:
            adv, vul = self._copy_previous(name)
            row = _SourceRow(name, joined, usable.fingerprint, utc_now(), adv, vul, state)
            return row, True
        fetched_at = utc_now()
        if got.delta and usable is not None:
            self._copy_previous(name)  # the delta's records replace rows of their ids
        self.progress(f"{name}: parsing", self.done, self.total)
        adv = _insert_feed(self.conn, feed, got.files, got.origins, delta=got.delta)
        if got.delta:
            adv = self._count("advisories", name)
        vul = self._count("vulnerabilities", name)
        return _SourceRow(name, joined, got.fingerprint, fetched_at, adv, vul, state), False

    def _count(self, table: str, name: str) -> int:
        row = self.conn.execute(f"SELECT count(*) FROM {table} WHERE source = ?", (name,))
        return int(row.fetchone()[0])

    # -- fetching ---------------------------------------------------------------------

    def _note(self, message: str) -> None:
        self.progress(message, self.done, self.total)

    def _fetch(self, feed: Feed, locations: list[str], usable: _SourceRow | None) -> _FeedFiles:
        """Every location of a feed, conditionally; whether anything changed at all."""
        work = self.work / f"{self.done}-{feed.name}"
        before = usable.state.get("locations") if usable is not None else None
        before_list = before if isinstance(before, list) else []
        got: list[_Location] = []
        for index, given in enumerate(locations):
            earlier = before_list[index] if index < len(before_list) else None
            earlier = (
                earlier if isinstance(earlier, dict) and earlier.get("location") == given else {}
            )
            try:
                got.append(self._fetch_one(feed, given, work / str(index), earlier, usable))
            except FeedError as exc:
                raise FeedError(f"{feed.name} feed: {exc}") from None
        state = {"locations": [loc.state for loc in got]}
        if usable is not None and all(loc.unchanged for loc in got):
            return _FeedFiles([], {}, usable.fingerprint, state, unchanged=True)
        delta = usable is not None and any(loc.delta for loc in got)
        if not delta:
            # A full parse needs every file: fetch again, unconditionally, what a 304 (or a
            # delta-only downloader) left out.
            for index, loc in enumerate(got):
                if loc.unchanged and not loc.files:
                    try:
                        fresh = self._fetch_one(feed, loc.given, work / f"{index}-full", {}, None)
                    except FeedError as exc:
                        raise FeedError(f"{feed.name} feed: {exc}") from None
                    got[index] = fresh
            state = {"locations": [loc.state for loc in got]}
        files = [path for loc in got for path in loc.files]
        origins = {str(path): loc.url for loc in got if loc.url for path in loc.files}
        if not any(loc.own_download for loc in got):
            digest = fingerprint(files)
        elif len(got) == 1:
            digest = got[0].fingerprint
        else:
            joined = "\n".join(loc.fingerprint for loc in got).encode()
            digest = f"sha256:{hashlib.sha256(joined).hexdigest()}"
        return _FeedFiles(files, origins, digest, state, delta=delta)

    def _fetch_one(
        self,
        feed: Feed,
        given: str,
        dest: Path,
        earlier: Mapping[str, Any],
        usable: _SourceRow | None,
    ) -> _Location:
        if is_http(given) and isinstance(feed, Downloads):
            own = feed.download(
                given,
                dest,
                earlier.get("feed") if usable is not None and earlier else None,
                timeout=self.timeout,
                note=self._note,
            )
            return _Location(
                given=given,
                files=own.files,
                state={"location": given, "feed": own.state},
                unchanged=own.unchanged,
                fingerprint=own.fingerprint,
                delta=own.delta,
                own_download=True,
                url=given,
            )
        location = given
        if is_url(given):
            location = feed.resolve_location(
                given, lambda url: fetch_text(url, timeout=min(self.timeout, 60.0))
            )
        if is_http(location):
            same = earlier.get("url") == location
            got = download(
                location,
                dest,
                timeout=self.timeout,
                etag=str(earlier.get("etag") or "") if same else "",
                last_modified=str(earlier.get("last_modified") or "") if same else "",
            )
            if got.path is None:
                digest = str(earlier.get("sha256") or "")
                files: list[Path] = []
            else:
                files = [got.path]
                digest = fingerprint(files)
            return _Location(
                given=given,
                files=files,
                state={
                    "location": given,
                    "url": location,
                    "etag": got.etag,
                    "last_modified": got.last_modified,
                    "sha256": digest,
                },
                unchanged=got.path is None or (same and digest == earlier.get("sha256")),
                url=location,
            )
        files = fetch(location, dest, feed.file_patterns, timeout=self.timeout)
        digest = _tree_digest(files)
        # A local mirror list (Amazon) only points at remote data: never "unchanged".
        pointer = any(path.name.endswith("mirror.list") for path in files)
        return _Location(
            given=given,
            files=files,
            state={"location": given, "sha256": digest},
            unchanged=not pointer and bool(earlier) and digest == earlier.get("sha256"),
        )


def _build_key(feed: Feed) -> str:
    """Rows are only reused by the same parser: another hullscan may parse differently."""
    kind = type(feed)
    version = getattr(feed, "version", "")
    return f"hullscan {__version__} {kind.__module__}.{kind.__qualname__} {version}".rstrip()


def _tree_digest(files: Sequence[Path]) -> str:
    """sha256 over the files' names and bytes: a renamed, added or edited file changes it."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path).encode("utf-8", "surrogateescape") + b"\0")
        try:
            with path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
        except OSError as exc:
            raise FeedError(f"cannot read {path}: {exc.strerror or exc}") from None
        digest.update(b"\0")
    return f"sha256:{digest.hexdigest()}"


def _insert_feed(
    conn: sqlite3.Connection,
    feed: Feed,
    files: list[Path],
    origins: dict[str, str],
    *,
    delta: bool = False,
) -> int:
    """Parse a feed into the DB; its advisory count. Vulnerability rows of one id merge."""
    count = 0
    batch: list[_AdvisoryRow] = []
    vulns = _VulnerabilityWriter(conn, feed.name)
    records: Iterable[Record] = feed.parse(files)
    try:
        for record in records:
            if isinstance(record, Advisory):
                if delta:
                    raise FeedError(
                        f"{feed.name} feed: an incremental download cannot carry advisories"
                    )
                batch.append(_advisory_row(record, feed.name))
                if len(batch) >= _BATCH:
                    conn.executemany(_ADVISORY_INSERT, batch)
                    count += len(batch)
                    batch.clear()
            else:
                vulns.add(record)
        vulns.flush()
    except FeedError as exc:
        message = str(exc)
        for local, url in origins.items():
            message = message.replace(local, url)
        raise FeedError(message) from None
    except (sqlite3.Error, OSError):
        raise
    except Exception as exc:
        # A parser bug or a shape it did not foresee: still the feed's fault for the user.
        where = ", ".join(origins.get(str(p), str(p)) for p in files)
        raise FeedError(
            f"{feed.name} feed: cannot parse {where}: {type(exc).__name__}: {exc}"
        ) from exc
    if batch:
        conn.executemany(_ADVISORY_INSERT, batch)
        count += len(batch)
    return count


class _VulnerabilityWriter:
    """Streams a feed's Vulnerability records into its rows, merging repeats of an id.

    A feed may name an id several times (Amazon: once per ALAS); the repeats merge with
    what this parse already wrote (read back from the DB, so memory holds only the ids).
    A first record of an id replaces any row copied from the previous DB (a NVD delta).
    """

    def __init__(self, conn: sqlite3.Connection, source: str) -> None:
        self.conn = conn
        self.source = source
        self.batch: dict[str, Vulnerability] = {}
        self.written: set[str] = set()

    def add(self, vuln: Vulnerability) -> None:
        known = self.batch.get(vuln.id)
        self.batch[vuln.id] = vuln if known is None else merge_vulnerabilities([known, vuln])
        if len(self.batch) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.batch:
            return
        again = [vuln_id for vuln_id in self.batch if vuln_id in self.written]
        for vuln_id in again:
            row = self.conn.execute(
                f"SELECT {VULNERABILITY_COLUMNS} FROM vulnerabilities WHERE id = ? AND source = ?",
                (vuln_id, self.source),
            ).fetchone()
            if row is not None:
                earlier = vulnerability_from_row(vuln_id, row)
                self.batch[vuln_id] = merge_vulnerabilities([earlier, self.batch[vuln_id]])
        self.conn.executemany(
            _VULNERABILITY_INSERT,
            (
                (vuln_id, self.source, *vulnerability_row(vuln))
                for vuln_id, vuln in sorted(self.batch.items())
            ),
        )
        self.written.update(self.batch)
        self.batch.clear()


def _advisory_row(advisory: Advisory, source: str) -> _AdvisoryRow:
    return (
        advisory.namespace,
        advisory.package,
        advisory.vuln_id,
        ranges_json(advisory.ranges),
        advisory.status.value,
        advisory.fixed_version,
        int(advisory.severity),
        advisory.severity_source,
        source,
    )


def _create_indexes(conn: sqlite3.Connection) -> None:
    try:
        # execute(), not executescript(): the latter would COMMIT the build transaction.
        for statement in filter(None, (s.strip() for s in INDEXES.split(";"))):
            conn.execute(statement)
    except sqlite3.IntegrityError:
        row = conn.execute(
            "SELECT source, namespace, package, vuln_id FROM advisories"
            " GROUP BY namespace, package, vuln_id HAVING count(*) > 1 LIMIT 1"
        ).fetchone()
        detail = f"{row[0]} feed lists {row[3]} for {row[2]} in {row[1]} twice" if row else ""
        raise DbError(f"duplicate advisory in the feeds: {detail}") from None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
