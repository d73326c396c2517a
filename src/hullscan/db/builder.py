"""Build the vulnerability DB from feeds: fetch, parse, write a new file, swap it in.

A scan must never see a half-written DB, so everything goes into a temporary file next
to the destination (same filesystem) and replaces it with one os.replace() at the end.
Any failure - a 404, a truncated feed, Ctrl-C - removes the temporary file and leaves the
previous DB exactly as it was.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from hullscan.db.feeds.base import Feed, Record
from hullscan.db.fetch import DEFAULT_TIMEOUT, fetch, fetch_text, fingerprint, is_url
from hullscan.db.schema import APPLICATION_ID, INDEXES, SCHEMA_VERSION, TABLES
from hullscan.errors import DbError, FeedError
from hullscan.model import Advisory, AffectedRange, DbInfo, SourceInfo, Vulnerability

Progress = Callable[[str, int, int], None]
"""progress(message, feeds done, feeds total): called before and after each feed."""

_BATCH = 5000
_ADVISORY_INSERT = (
    "INSERT INTO advisories (namespace, package, vuln_id, ranges, status, fixed_version,"
    " severity, severity_source, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_AdvisoryRow = tuple[str, str, str, str, str, str, int, str, str]


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


def build_db(
    dest: Path,
    sources: Sequence[tuple[Feed, str]],
    progress: Progress | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> DbInfo:
    """Fetch and parse every source and atomically replace `dest` with the new DB.

    `sources` pairs a feed with one location (URL, file or directory); a feed may appear
    with several locations (Alpine: one file per branch and repository) and is then parsed
    once over all of its files. Raises FeedError naming the feed and file for bad input,
    DbError when the DB cannot be written; `dest` is untouched in both cases.
    """
    if not sources:
        raise DbError("no feeds to build the vulnerability DB from")
    groups: dict[str, tuple[Feed, list[str]]] = {}
    for feed, location in sources:
        feed_locations = groups.setdefault(feed.name, (feed, []))[1]
        if location not in feed_locations:
            feed_locations.append(location)

    dest = Path(dest).expanduser()
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
            info = _write(tmp, groups, Path(work), progress or _no_progress, timeout)
        _fsync(tmp)
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise DbError(f"cannot write the vulnerability DB {dest}: {exc}") from None
        raise
    return replace(info, path=str(dest))


def _no_progress(message: str, done: int, total: int) -> None:
    return None


def _write(
    tmp: Path,
    groups: dict[str, tuple[Feed, list[str]]],
    work: Path,
    progress: Progress,
    timeout: float,
) -> DbInfo:
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        # The file is thrown away on any error, so no journal and no syncs until the end.
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.executescript(TABLES)
        conn.execute("BEGIN")
        total = len(groups)
        vulnerabilities: dict[str, Vulnerability] = {}
        source_infos: list[SourceInfo] = []
        for done, (name, (feed, locations)) in enumerate(groups.items()):
            progress(f"{name}: fetching", done, total)
            files, origins = _fetch_all(feed, locations, work / f"{done}-{name}", timeout)
            fetched_at = utc_now()
            digest = fingerprint(files)
            progress(f"{name}: parsing", done, total)
            count = _insert_feed(conn, feed, files, origins, vulnerabilities)
            source_infos.append(
                SourceInfo(
                    name=name,
                    location=", ".join(locations),
                    fingerprint=digest,
                    fetched_at=fetched_at,
                    advisories=count,
                )
            )
            progress(f"{name}: {count} advisories", done + 1, total)

        progress("writing vulnerabilities and indexes", total, total)
        conn.executemany(
            "INSERT INTO vulnerabilities (id, description, aliases, urls) VALUES (?, ?, ?, ?)",
            (
                (v.id, v.description, json.dumps(list(v.aliases)), json.dumps(list(v.urls)))
                for v in vulnerabilities.values()
            ),
        )
        conn.executemany(
            "INSERT INTO sources (name, location, fingerprint, fetched_at, advisories)"
            " VALUES (?, ?, ?, ?, ?)",
            [(s.name, s.location, s.fingerprint, s.fetched_at, s.advisories) for s in source_infos],
        )
        built_at = utc_now()
        conn.execute(
            "INSERT INTO meta (schema_version, built_at) VALUES (?, ?)",
            (SCHEMA_VERSION, built_at),
        )
        _create_indexes(conn)
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
    except sqlite3.Error as exc:
        raise DbError(f"cannot write the vulnerability DB: {exc}") from None
    finally:
        conn.close()
    progress("done", total, total)
    return DbInfo(schema_version=SCHEMA_VERSION, built_at=built_at, sources=tuple(source_infos))


def _fetch_all(
    feed: Feed, locations: list[str], work: Path, timeout: float
) -> tuple[list[Path], dict[str, str]]:
    """All files of one feed, plus downloaded-path -> URL so errors can name the URL."""
    files: list[Path] = []
    origins: dict[str, str] = {}
    for index, given in enumerate(locations):
        try:
            location = given
            if is_url(given):
                location = feed.resolve_location(
                    given, lambda url: fetch_text(url, timeout=min(timeout, 60.0))
                )
            got = fetch(location, work / str(index), feed.file_patterns, timeout=timeout)
        except FeedError as exc:
            raise FeedError(f"{feed.name} feed: {exc}") from None
        if is_url(location) and not location.lower().startswith("file:"):
            origins.update((str(path), location) for path in got)
        files.extend(got)
    return files, origins


def _insert_feed(
    conn: sqlite3.Connection,
    feed: Feed,
    files: list[Path],
    origins: dict[str, str],
    vulnerabilities: dict[str, Vulnerability],
) -> int:
    count = 0
    batch: list[_AdvisoryRow] = []
    records: Iterable[Record] = feed.parse(files)
    try:
        for record in records:
            if isinstance(record, Advisory):
                batch.append(_advisory_row(record, feed.name))
                if len(batch) >= _BATCH:
                    conn.executemany(_ADVISORY_INSERT, batch)
                    count += len(batch)
                    batch.clear()
            else:
                known = vulnerabilities.get(record.id)
                vulnerabilities[record.id] = record if known is None else _merge(known, record)
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


def _merge(old: Vulnerability, new: Vulnerability) -> Vulnerability:
    """Several feeds (or packages) describe one id: keep the first text, union the lists."""
    return Vulnerability(
        id=old.id,
        description=old.description or new.description,
        aliases=tuple(dict.fromkeys((*old.aliases, *new.aliases))),
        urls=tuple(dict.fromkeys((*old.urls, *new.urls))),
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


def _fsync_dir(path: Path) -> None:
    """Make the rename durable; not every platform can fsync a directory."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
