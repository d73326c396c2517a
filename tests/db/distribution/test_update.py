"""update_db from --db-url (a real HTTP server that counts requests) and files; ensure_fresh_db.

The point of most assertions is the request count: an update that finds the published DB
equal to the installed one must not download the artifact again.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hullscan.db.artifact import export_db
from hullscan.db.distribution import (
    DbSource,
    db_age_warning,
    ensure_fresh_db,
    load_state,
    parse_db_source,
    parse_duration,
    update_db,
)
from hullscan.db.reader import VulnDB
from hullscan.errors import DbError
from hullscan.image.registry import RegistryOptions
from hullscan.model import DbInfo

from .conftest import BuildDb
from .servers import CountingServer

ART = "hullscan.db.zst"
META = "hullscan.db.zst.json"
QUICK = RegistryOptions(docker_config=None, backoff_base=0.01, max_retries=2, timeout=5)


def publish(server: CountingServer, make_db: BuildDb, tmp: Path, tag: str, n: int = 50) -> Path:
    """Build a DB and export it into the served directory; returns the built DB."""
    db = make_db(tmp / f"build-{tag}" / "hullscan.db", n, tag)
    export_db(db, server.root / ART)
    return db


def temps(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_second_update_downloads_nothing(
    tmp_path: Path, make_db: BuildDb, http_server: CountingServer
) -> None:
    built = publish(http_server, make_db, tmp_path, "a")
    dest = tmp_path / "cache" / "hullscan.db"
    url = DbSource.url(http_server.url(ART))

    first = update_db(dest, [url], options=QUICK)
    assert first.updated and first.downloaded == (http_server.root / ART).stat().st_size
    assert dest.read_bytes() == built.read_bytes()
    assert (http_server.count(META), http_server.count(ART)) == (1, 1)

    second = update_db(dest, [url], options=QUICK)
    assert not second.updated and second.downloaded == 0
    assert (http_server.count(META), http_server.count(ART)) == (2, 1)
    assert http_server.requests[-1].status == 304  # If-None-Match with the stored ETag

    newer = publish(http_server, make_db, tmp_path, "b")
    third = update_db(dest, [url], options=QUICK)
    assert third.updated
    assert dest.read_bytes() == newer.read_bytes()
    assert (http_server.count(META), http_server.count(ART)) == (3, 2)


def test_the_metadata_url_names_the_artifact(
    tmp_path: Path, make_db: BuildDb, http_server: CountingServer
) -> None:
    built = publish(http_server, make_db, tmp_path, "a")
    dest = tmp_path / "cache" / "hullscan.db"
    assert update_db(dest, [http_server.url(META)], options=QUICK).updated
    assert dest.read_bytes() == built.read_bytes()


def test_the_same_db_from_another_mirror_is_not_downloaded(
    tmp_path: Path, make_db: BuildDb, http_server: CountingServer
) -> None:
    """No validators for a new URL, but the metadata's DB digest equals the local one."""
    publish(http_server, make_db, tmp_path, "a")
    mirror = http_server.root / "mirror"
    mirror.mkdir()
    shutil.copy(http_server.root / ART, mirror / ART)
    shutil.copy(http_server.root / META, mirror / META)
    dest = tmp_path / "cache" / "hullscan.db"
    update_db(dest, [http_server.url(ART)], options=QUICK)
    again = update_db(dest, [http_server.url(f"mirror/{ART}")], options=QUICK)
    assert not again.updated
    assert http_server.count(f"mirror/{ART}") == 0


def test_a_local_rebuild_is_noticed(
    tmp_path: Path, make_db: BuildDb, http_server: CountingServer
) -> None:
    """The state file describes the file it was written for; a rebuilt DB is not that file."""
    built = publish(http_server, make_db, tmp_path, "a")
    dest = tmp_path / "cache" / "hullscan.db"
    update_db(dest, [http_server.url(ART)], options=QUICK)
    make_db(dest, 5, "local")
    assert not load_state(dest).describes(dest)
    assert update_db(dest, [http_server.url(ART)], options=QUICK).updated
    assert dest.read_bytes() == built.read_bytes()
    assert http_server.count(ART) == 2


def test_a_tampered_artifact_is_refused_and_the_old_db_stays(
    tmp_path: Path, make_db: BuildDb, http_server: CountingServer
) -> None:
    publish(http_server, make_db, tmp_path, "a")
    dest = make_db(tmp_path / "cache" / "hullscan.db", 10, "old")
    before = dest.read_bytes()
    data = bytearray((http_server.root / ART).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (http_server.root / ART).write_bytes(bytes(data))
    with pytest.raises(DbError, match="digest mismatch"):
        update_db(dest, [http_server.url(ART)], options=QUICK)
    assert dest.read_bytes() == before
    assert temps(dest.parent) == []
    assert not load_state(dest).last_check_ok


def test_a_dropped_download_resumes_with_a_range_request(
    tmp_path: Path, make_db: BuildDb, http_server: CountingServer
) -> None:
    built = publish(http_server, make_db, tmp_path, "a", n=2000)
    http_server.behaviour.drop_after[f"/{ART}"] = 5000
    dest = tmp_path / "cache" / "hullscan.db"
    assert update_db(dest, [http_server.url(ART)], options=QUICK).updated
    assert dest.read_bytes() == built.read_bytes()
    ranges = [r.headers.get("Range") for r in http_server.requests if r.path == f"/{ART}"]
    assert ranges == [None, "bytes=5000-"]


def test_sources_are_tried_in_order(
    tmp_path: Path, make_db: BuildDb, http_server: CountingServer
) -> None:
    built = publish(http_server, make_db, tmp_path, "a")
    dest = tmp_path / "cache" / "hullscan.db"
    missing = http_server.url("gone/" + ART)
    result = update_db(dest, [missing, http_server.url(ART)], options=QUICK)
    assert result.updated and result.source == http_server.url(META)
    assert dest.read_bytes() == built.read_bytes()
    with pytest.raises(DbError, match=r"from .*gone/hullscan\.db\.zst\.json.*HTTP 404"):
        update_db(dest, [missing], options=QUICK)


def test_a_file_source_and_a_file_url(tmp_path: Path, make_db: BuildDb) -> None:
    built = make_db(tmp_path / "build" / "hullscan.db", 20)
    artifact = export_db(built, tmp_path / "usb" / ART)
    dest = tmp_path / "cache" / "hullscan.db"
    assert update_db(dest, [str(artifact.path)]).updated
    assert not update_db(dest, [artifact.path.as_uri()]).updated
    assert dest.read_bytes() == built.read_bytes()


def test_unreachable_source_is_a_db_error(tmp_path: Path) -> None:
    quick = RegistryOptions(docker_config=None, max_retries=0, timeout=2)
    with pytest.raises(DbError, match="connection error"):
        update_db(tmp_path / "hullscan.db", ["http://127.0.0.1:9/db.zst"], options=quick)


def test_source_parsing() -> None:
    assert parse_db_source("oci://ghcr.io/org/db") == DbSource("oci", "oci://ghcr.io/org/db")
    assert DbSource.oci("ghcr.io/org/db:nightly").location == "oci://ghcr.io/org/db:nightly"
    with pytest.raises(DbError, match="not an OCI reference"):
        DbSource.oci("ghcr.io/Org/db:bad tag")
    assert parse_db_source("https://x/db.zst") == DbSource("url", "https://x/db.zst")
    assert parse_db_source("file:///srv/db.zst") == DbSource("file", "/srv/db.zst")
    assert parse_db_source("/srv/db.zst") == DbSource("file", "/srv/db.zst")
    with pytest.raises(DbError, match="use https://"):
        DbSource.url("ftp://x/db.zst")


# -- ensure_fresh_db ------------------------------------------------------------------------


def built_at(dest: Path) -> datetime:
    with VulnDB.open(dest) as db:
        return datetime.fromisoformat(db.info().built_at.replace("Z", "+00:00"))


def test_offline_and_skip_update_never_touch_the_network(
    tmp_path: Path, make_db: BuildDb, http_server: CountingServer
) -> None:
    publish(http_server, make_db, tmp_path, "a")
    dest = make_db(tmp_path / "cache" / "hullscan.db", 5, "old")
    later = built_at(dest) + timedelta(days=30)
    for offline, skip in ((True, False), (False, True)):
        result = ensure_fresh_db(
            dest, [http_server.url(ART)], offline=offline, skip_update=skip, now=later
        )
        assert not result.checked and not result.updated
    assert http_server.requests == []
    with pytest.raises(DbError, match=r"no vulnerability DB at .*--offline forbids"):
        ensure_fresh_db(tmp_path / "none" / "hullscan.db", [http_server.url(ART)], offline=True)
    assert http_server.requests == []


def test_a_fresh_db_is_not_checked(
    tmp_path: Path, make_db: BuildDb, http_server: CountingServer
) -> None:
    publish(http_server, make_db, tmp_path, "a")
    dest = make_db(tmp_path / "cache" / "hullscan.db", 5, "old")
    result = ensure_fresh_db(dest, [http_server.url(ART)], now=built_at(dest) + timedelta(hours=23))
    assert (result.checked, result.reason) == (False, "fresh")
    assert http_server.requests == []


def test_an_old_db_is_updated_at_most_once_per_interval(
    tmp_path: Path, make_db: BuildDb, http_server: CountingServer
) -> None:
    newest = publish(http_server, make_db, tmp_path, "a")
    dest = make_db(tmp_path / "cache" / "hullscan.db", 5, "old")
    # the published DB is as old as the local one claims to be: an update never makes it fresh
    start = built_at(newest) + timedelta(days=2)
    src = [http_server.url(ART)]

    first = ensure_fresh_db(dest, src, now=start, options=QUICK)
    assert first.checked and first.updated
    assert dest.read_bytes() == newest.read_bytes()
    assert http_server.count(META) == 1

    for hours in (1, 12, 23):
        again = ensure_fresh_db(dest, src, now=start + timedelta(hours=hours), options=QUICK)
        assert not again.checked and again.reason.startswith("checked at")
    assert http_server.count(META) == 1

    later = ensure_fresh_db(dest, src, now=start + timedelta(hours=25), options=QUICK)
    assert later.checked and not later.updated
    assert (http_server.count(META), http_server.count(ART)) == (2, 1)

    custom = ensure_fresh_db(
        dest, src, now=start + timedelta(hours=26), check_interval=timedelta(0), options=QUICK
    )
    assert custom.checked
    assert http_server.count(META) == 3


def test_a_failed_update_warns_and_the_scan_goes_on(tmp_path: Path, make_db: BuildDb) -> None:
    dest = make_db(tmp_path / "cache" / "hullscan.db", 5, "old")
    start = built_at(dest) + timedelta(days=3)
    quick = RegistryOptions(docker_config=None, max_retries=0, timeout=2)
    down = ["http://127.0.0.1:9/hullscan.db.zst"]
    result = ensure_fresh_db(dest, down, now=start, options=quick)
    assert result.checked and not result.updated and result.info is not None
    (warning,) = result.warnings
    assert "could not be updated" in warning and "scanning with the one built at" in warning
    # a failed check is retried after an hour, not after the whole interval
    assert not ensure_fresh_db(dest, down, now=start + timedelta(minutes=30), options=quick).checked
    assert ensure_fresh_db(dest, down, now=start + timedelta(minutes=61), options=quick).checked


def test_a_missing_db_is_fetched_whatever_the_interval(
    tmp_path: Path, make_db: BuildDb, http_server: CountingServer
) -> None:
    built = publish(http_server, make_db, tmp_path, "a")
    dest = tmp_path / "cache" / "hullscan.db"
    result = ensure_fresh_db(dest, [http_server.url(ART)], options=QUICK)
    assert result.updated and dest.read_bytes() == built.read_bytes()
    with pytest.raises(DbError, match="no --db-repository or --db-url"):
        ensure_fresh_db(tmp_path / "none" / "hullscan.db", [])


def test_a_db_of_another_schema_is_replaced(
    tmp_path: Path, make_db: BuildDb, http_server: CountingServer
) -> None:
    import sqlite3

    built = publish(http_server, make_db, tmp_path, "a")
    dest = make_db(tmp_path / "cache" / "hullscan.db", 5, "old")
    with sqlite3.connect(dest) as conn:
        conn.execute("UPDATE meta SET schema_version = 0")
    conn.close()
    result = ensure_fresh_db(dest, [http_server.url(ART)], options=QUICK)
    assert result.updated and dest.read_bytes() == built.read_bytes()


def test_age_warning() -> None:
    info = DbInfo(schema_version=1, built_at="2026-01-01T00:00:00Z")
    day = datetime(2026, 1, 1, tzinfo=UTC)
    assert db_age_warning(info, day + timedelta(days=7)) is None
    warning = db_age_warning(info, day + timedelta(days=9, hours=3))
    assert warning is not None
    assert warning.startswith("the vulnerability DB is 9 days old (built 2026-01-01T00:00:00Z)")
    assert "hullscan db update" in warning
    assert "hours old" in (db_age_warning(info, day + timedelta(hours=30), timedelta(1)) or "")
    broken = DbInfo(schema_version=1, built_at="yesterday")
    assert "no valid build time" in (db_age_warning(broken, day) or "")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("24h", 86400), ("7d", 604800), ("90m", 5400), ("1d12h", 129600), ("0", 0), ("2w", 1209600)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "24", "h", "1x", "1h foo"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)
