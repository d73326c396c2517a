"""export_db / import_db: one zstd artifact plus metadata, verified and swapped in atomically."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path

import pytest
import zstandard

from hullscan.db.artifact import (
    CONFIG_MEDIA_TYPE,
    DbMetadata,
    clean_stale_temps,
    export_db,
    metadata_path_for,
    read_artifact,
)
from hullscan.db.distribution import import_db, load_state
from hullscan.db.reader import VulnDB
from hullscan.db.schema import SCHEMA_VERSION
from hullscan.errors import DbError

from .conftest import BuildDb


def sha(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def temps(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture
def exported(tmp_path: Path, make_db: BuildDb) -> Path:
    db = make_db(tmp_path / "build" / "hullscan.db", 200)
    return export_db(db, tmp_path / "out" / "hullscan.db.zst").path


@pytest.fixture
def installed(tmp_path: Path, make_db: BuildDb) -> Path:
    """A previous DB in place: what every failed import must leave exactly as it was."""
    return make_db(tmp_path / "cache" / "hullscan.db", 10, "old")


def test_export_writes_the_artifact_and_its_metadata(tmp_path: Path, make_db: BuildDb) -> None:
    db = make_db(tmp_path / "build" / "hullscan.db", 200)
    (tmp_path / "out").mkdir()
    artifact = export_db(db, tmp_path / "out")  # a directory: the default name inside
    assert artifact.path == tmp_path / "out" / "hullscan.db.zst"
    assert artifact.metadata_path == tmp_path / "out" / "hullscan.db.zst.json"
    doc = json.loads(artifact.metadata_path.read_text())
    with VulnDB.open(db) as opened:
        info = opened.info()
    assert doc["mediaType"] == CONFIG_MEDIA_TYPE
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["built_at"] == info.built_at
    assert doc["db"] == {"digest": sha(db), "size": db.stat().st_size}
    assert doc["artifact"]["digest"] == sha(artifact.path)
    assert doc["artifact"]["size"] == artifact.path.stat().st_size
    assert doc["artifact"]["compression"] == "zstd"
    assert doc["advisories"] == 200
    assert doc["namespaces"] == {"debian:12": 200}
    (source,) = doc["sources"]
    assert source["name"] == "listfeed"
    assert source["fingerprint"] == info.sources[0].fingerprint
    assert source["advisories"] == 200
    # a plain zstd file: `zstd -d` gives the DB back
    assert zstandard.ZstdDecompressor().decompress(artifact.path.read_bytes()) == db.read_bytes()
    assert temps(tmp_path / "out") == []
    again = export_db(db, f"{tmp_path}/new-dir/")  # not there yet, but clearly a directory
    assert again.path == tmp_path / "new-dir" / "hullscan.db.zst"


def test_import_installs_the_db_and_records_what_it_is(
    tmp_path: Path, exported: Path, installed: Path
) -> None:
    result = import_db(exported, installed)
    assert result.updated
    assert installed.read_bytes() == (tmp_path / "build" / "hullscan.db").read_bytes()
    state = load_state(installed)
    assert state.artifact_digest == sha(exported)
    assert state.db_digest == sha(installed)
    assert state.describes(installed)
    assert oct(installed.stat().st_mode & 0o777) == oct(0o644 & ~_umask())
    again = import_db(exported, installed)
    assert not again.updated and "already" in again.message
    assert temps(installed.parent) == []


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_import_by_the_metadata_path(tmp_path: Path, exported: Path, installed: Path) -> None:
    assert import_db(metadata_path_for(exported), installed).updated
    assert installed.read_bytes() == (tmp_path / "build" / "hullscan.db").read_bytes()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b[: len(b) // 2], id="truncated"),
        pytest.param(lambda b: b[:100] + bytes([b[100] ^ 1]) + b[101:], id="flipped-byte"),
        pytest.param(lambda b: b + b"\0", id="trailing-byte"),
    ],
)
def test_a_damaged_artifact_is_refused_and_nothing_changes(
    exported: Path, installed: Path, damage: object
) -> None:
    before = installed.read_bytes()
    exported.write_bytes(damage(exported.read_bytes()))  # type: ignore[operator]
    with pytest.raises(DbError, match=r"digest mismatch|not valid zstd|does not match its meta"):
        import_db(exported, installed)
    assert installed.read_bytes() == before
    assert temps(installed.parent) == []
    assert not load_state(installed).db_digest


def _edit(exported: Path, **changes: object) -> None:
    meta = metadata_path_for(exported)
    doc = json.loads(meta.read_text())
    for key, value in changes.items():
        target, _, leaf = key.partition("__")
        if leaf:
            doc[target][leaf] = value
        else:
            doc[target] = value
    meta.write_text(json.dumps(doc))


def test_a_db_that_differs_from_its_metadata_is_refused(exported: Path, installed: Path) -> None:
    before = installed.read_bytes()
    _edit(exported, db__digest="sha256:" + "1" * 64)
    with pytest.raises(DbError, match=r"the unpacked DB is sha256:.*the metadata says sha256:1111"):
        import_db(exported, installed)
    assert installed.read_bytes() == before


def test_unpacking_stops_at_the_announced_size(exported: Path, installed: Path) -> None:
    _edit(exported, db__size=4096)
    with pytest.raises(DbError, match="unpacks to more than the 4096 bytes"):
        import_db(exported, installed)
    assert temps(installed.parent) == []


@pytest.mark.parametrize(
    ("schema", "advice"),
    [
        (SCHEMA_VERSION + 1, "upgrade hullscan"),
        (SCHEMA_VERSION - 1, "its publisher has not moved to schema"),
    ],
)
def test_an_incompatible_schema_is_refused_with_what_to_do(
    exported: Path, installed: Path, schema: int, advice: str
) -> None:
    before = installed.read_bytes()
    _edit(exported, schema_version=schema)
    with pytest.raises(DbError) as info:
        import_db(exported, installed)
    message = str(info.value)
    assert f"has schema {schema}; this hullscan reads {SCHEMA_VERSION}: {advice}" in message
    assert str(exported) in message
    assert installed.read_bytes() == before


def test_metadata_problems_name_the_file(exported: Path, installed: Path) -> None:
    meta = metadata_path_for(exported)
    meta.write_text('{"hello": 1}')
    with pytest.raises(DbError, match="not hullscan DB metadata"):
        import_db(exported, installed)
    meta.write_text("{")
    with pytest.raises(DbError, match="invalid JSON"):
        import_db(exported, installed)
    meta.unlink()
    with pytest.raises(DbError, match=r"expected .*hullscan\.db\.zst\.json .*db export"):
        import_db(exported, installed)


def test_metadata_from_a_newer_format_asks_for_an_upgrade(exported: Path, installed: Path) -> None:
    _edit(exported, format=99)
    with pytest.raises(DbError, match=r"newer hullscan.*upgrade hullscan"):
        import_db(exported, installed)


def test_metadata_tolerates_fields_it_does_not_know(exported: Path) -> None:
    """An exporter whose SourceInfo has more (or fewer) fields still reads."""
    doc = json.loads(metadata_path_for(exported).read_text())
    doc["sources"][0]["vulnerabilities"] = 7
    del doc["sources"][0]["fetched_at"]
    doc["something_new"] = {"x": 1}
    metadata = DbMetadata.from_json(json.dumps(doc).encode(), "test")
    assert metadata.sources[0].name == "listfeed"
    assert metadata.sources[0].fetched_at == ""


def test_metadata_round_trips(exported: Path) -> None:
    metadata = read_artifact(exported).metadata
    assert DbMetadata.from_json(metadata.to_json(), "again") == metadata


def test_export_refuses_what_is_not_a_db(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    other.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(DbError, match="not a hullscan vulnerability DB"):
        export_db(other, tmp_path / "out.zst")
    with pytest.raises(DbError, match="no vulnerability DB at"):
        export_db(tmp_path / "missing.db", tmp_path / "out.zst")
    assert temps(tmp_path) == []


def test_stale_temp_files_are_told_from_live_ones_by_their_lock(tmp_path: Path) -> None:
    dest = tmp_path / "hullscan.db"
    dead = tmp_path / ".hullscan.db.0123456789ab.install.tmp"
    dead.write_bytes(b"left by a SIGKILLed update")
    live = tmp_path / ".hullscan.db.ba9876543210.install.tmp"
    live.write_bytes(b"being written right now")
    other = tmp_path / ".unrelated.0123456789ab.install.tmp"
    other.write_bytes(b"someone else's")
    with live.open("rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        assert clean_stale_temps(dest) == [dead]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name])


def test_a_dead_build_is_cleaned_but_a_running_one_is_left_alone(tmp_path: Path) -> None:
    """The builder's temp DB has no lock: a process holding it open means it is alive."""
    dest = tmp_path / "hullscan.db"
    build_tmp = tmp_path / ".hullscan.db.0123456789ab.tmp"
    build_tmp.write_bytes(b"half a DB")
    fetch = tmp_path / ".hullscan-fetch-abc"
    (fetch / "0-debian").mkdir(parents=True)
    (fetch / "0-debian" / "json").write_text("{}")
    with build_tmp.open("rb"):
        assert clean_stale_temps(dest) == []
        assert build_tmp.exists() and fetch.exists()
    assert set(clean_stale_temps(dest)) == {build_tmp, fetch}
    assert list(tmp_path.iterdir()) == []
