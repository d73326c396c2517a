"""VulnDB: read-only access, batched lookups, and actionable errors for bad files."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from hullscan.db import reader
from hullscan.db.builder import build_db
from hullscan.db.feeds.debian import DebianTrackerFeed
from hullscan.db.reader import VulnDB
from hullscan.db.schema import APPLICATION_ID
from hullscan.errors import DbError
from hullscan.model import AffectedRange, FixStatus, Severity, Vulnerability

from .helpers import ListFeed, advisory

N_PACKAGES = 2000


@pytest.fixture(scope="module")
def big_db(tmp_path_factory: pytest.TempPathFactory, debian_json: Path) -> Path:
    """2,000 packages with 2 advisories each in debian:12, plus the real Debian slice."""
    records: list[object] = []
    for i in range(N_PACKAGES):
        records.append(advisory(f"pkg{i:04d}", f"CVE-2024-{i:05d}"))
        records.append(
            advisory(
                f"pkg{i:04d}",
                f"CVE-2023-{i:05d}",
                ranges=(AffectedRange(introduced="0.5", last_affected="0.9"),),
                status=FixStatus.AFFECTED,
                fixed_version="",
                severity=Severity.HIGH,
            )
        )
        records.append(Vulnerability(f"CVE-2024-{i:05d}", f"text {i}", urls=(f"https://u/{i}",)))
    dest = tmp_path_factory.mktemp("db") / "hullscan.db"
    build_db(
        dest,
        [(DebianTrackerFeed(), str(debian_json)), (ListFeed(records), str(debian_json))],  # type: ignore[arg-type]
    )
    return dest


def test_advisories_batched(big_db: Path) -> None:
    wanted = [f"pkg{i:04d}" for i in range(N_PACKAGES)] + ["not-installed-anywhere"]
    with VulnDB.open(big_db) as db:
        statements: list[str] = []
        db._conn.set_trace_callback(statements.append)
        found = db.advisories("debian:12", wanted)
        db._conn.set_trace_callback(None)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == -(-len(wanted) // reader.CHUNK) == 3
    assert len(found) == N_PACKAGES and "not-installed-anywhere" not in found
    first, second = found["pkg0042"]  # ordered by vuln_id
    assert (first.vuln_id, first.status, first.severity) == (
        "CVE-2023-00042",
        FixStatus.AFFECTED,
        Severity.HIGH,
    )
    assert first.ranges == (AffectedRange(introduced="0.5", last_affected="0.9"),)
    assert second.ranges == (AffectedRange(fixed="1.0-1"),)
    assert second.fixed_version == "1.0-1" and second.namespace == "debian:12"
    assert second.source == "listfeed" and second.severity_source == "debian"


def test_advisories_real_debian(big_db: Path) -> None:
    with VulnDB.open(big_db) as db:
        found = db.advisories("debian:10", ["chromium", "prototypejs", "openssl"])
        assert db.advisories("debian:10", []) == {}
        assert db.advisories("nosuch:1", ["chromium"]) == {}
    assert [a.status for a in found["chromium"]] == [FixStatus.END_OF_LIFE]
    assert [a.fixed_version for a in found["prototypejs"]] == ["1.6.0.2-1"]
    assert "openssl" not in found


def test_vulnerabilities(big_db: Path) -> None:
    ids = [f"CVE-2024-{i:05d}" for i in range(N_PACKAGES)] + ["CVE-2008-7220", "CVE-0-0"]
    with VulnDB.open(big_db) as db:
        found = db.vulnerabilities(ids)
    assert len(found) == N_PACKAGES + 1
    assert found["CVE-2024-00007"] == Vulnerability(
        "CVE-2024-00007", "text 7", urls=("https://u/7",)
    )
    assert found["CVE-2008-7220"].description.startswith("Unspecified vulnerability")


def test_info_and_counts(big_db: Path) -> None:
    with VulnDB.open(big_db) as db:
        info = db.info()
        counts = db.counts()
    assert info.schema_version == 2 and info.path == str(big_db)
    assert [(s.name, s.advisories) for s in info.sources] == [
        ("debian", 21),
        ("listfeed", 2 * N_PACKAGES),
    ]
    assert counts["debian:12"] == 2 * N_PACKAGES + 2
    assert counts["debian:unstable"] == 5


def test_read_only_and_closed(big_db: Path) -> None:
    with VulnDB.open(big_db) as db, pytest.raises(sqlite3.OperationalError, match="readonly"):
        db._conn.execute("DELETE FROM advisories")
    with pytest.raises(DbError, match="not usable"):
        db.counts()


def test_missing(tmp_path: Path) -> None:
    with pytest.raises(
        DbError, match=r"no vulnerability DB at .*nope\.db: run `hullscan db build`"
    ):
        VulnDB.open(tmp_path / "nope.db")
    with pytest.raises(DbError, match="is not a vulnerability DB file"):
        VulnDB.open(tmp_path)


@pytest.mark.parametrize("content", [b"", b"not a database at all\n" * 100])
def test_not_sqlite(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "hullscan.db"
    path.write_bytes(content)
    with pytest.raises(DbError, match=r"is not a hullscan vulnerability DB.*hullscan db build"):
        VulnDB.open(path)


def test_other_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE meta (schema_version INTEGER, built_at TEXT)")
        conn.execute("INSERT INTO meta VALUES (1, 'x')")
    conn.close()
    with pytest.raises(DbError, match="is not a hullscan vulnerability DB"):
        VulnDB.open(path)


def modified_copy(src: Path, tmp_path: Path, *sql: str) -> Path:
    path = tmp_path / "copy.db"
    shutil.copy(src, path)
    conn = sqlite3.connect(path)
    with conn:
        for statement in sql:
            conn.execute(statement)
    conn.close()
    return path


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (3, r"schema version 3 \(from a newer hullscan\).*reads version 2: upgrade hullscan"),
        (1, r"schema version 1 \(from an older hullscan\).*run `hullscan db build`"),
    ],
)
def test_wrong_schema_version(big_db: Path, tmp_path: Path, version: int, message: str) -> None:
    path = modified_copy(big_db, tmp_path, f"UPDATE meta SET schema_version = {version}")
    with pytest.raises(DbError, match=message):
        VulnDB.open(path)


def test_damaged(big_db: Path, tmp_path: Path) -> None:
    path = modified_copy(big_db, tmp_path, "DROP TABLE meta")
    with pytest.raises(DbError, match=r"is damaged \(no such table: meta\).*hullscan db build"):
        VulnDB.open(path)
    path = modified_copy(big_db, tmp_path, "DROP TABLE advisories")
    with VulnDB.open(path) as db, pytest.raises(DbError, match="is damaged"):
        db.counts()


def test_truncated_db(big_db: Path, tmp_path: Path) -> None:
    data = big_db.read_bytes()
    path = tmp_path / "cut.db"
    path.write_bytes(data[: len(data) // 2])
    # Depending on which pages survived, opening or a later query fails: both must say
    # what to do, neither may leak a raw sqlite3 error.
    with pytest.raises(DbError, match="hullscan db build"), VulnDB.open(path) as db:
        db.counts()
        db.advisories("debian:12", [f"pkg{i:04d}" for i in range(N_PACKAGES)])
        db.vulnerabilities([f"CVE-2024-{i:05d}" for i in range(N_PACKAGES)])


def test_application_id_is_set(big_db: Path) -> None:
    conn = sqlite3.connect(f"{big_db.as_uri()}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("sql", "query"),
    [
        ("UPDATE meta SET schema_version = 'one'", "info"),
        ("UPDATE vulnerabilities SET aliases = '5'", "vulnerabilities"),
        ("UPDATE vulnerabilities SET urls = '{\"a\": 1}'", "vulnerabilities"),
    ],
)
def test_crafted_values_are_reported_as_damage(tmp_path: Path, sql: str, query: str) -> None:
    import sqlite3

    from hullscan.db.builder import build_db
    from hullscan.db.feeds.registry import get_feed
    from hullscan.errors import DbError
    from tests.conftest import REPO

    path = tmp_path / "hullscan.db"
    build_db(path, [(get_feed("debian"), str(REPO / "examples/feeds/debian/tracker-slice.json"))])
    with sqlite3.connect(path) as conn:
        conn.execute(sql)
    with pytest.raises(DbError, match="damaged"), VulnDB.open(path) as db:
        db.vulnerabilities({"CVE-2025-53603"}) if query == "vulnerabilities" else db.info()
