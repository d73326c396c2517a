"""Scans that opened the DB keep working while updates swap new files in (POSIX rename), and
parallel updates of one DB download it once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import hullscan
from hullscan.db.artifact import DbArtifact, export_db
from hullscan.db.distribution import update_db
from hullscan.db.reader import VulnDB
from hullscan.image.registry import RegistryOptions

from .conftest import BuildDb
from .servers import CountingServer

QUICK = RegistryOptions(docker_config=None, backoff_base=0.01, max_retries=1, timeout=5)


def two_exports(tmp_path: Path, make_db: BuildDb) -> tuple[DbArtifact, DbArtifact]:
    a = make_db(tmp_path / "a" / "hullscan.db", 300, "a")
    b = make_db(tmp_path / "b" / "hullscan.db", 500, "b")
    return export_db(a, tmp_path / "ea" / "db.zst"), export_db(b, tmp_path / "eb" / "db.zst")


def test_a_reader_thread_keeps_its_db_through_many_swaps(tmp_path: Path, make_db: BuildDb) -> None:
    first, second = two_exports(tmp_path, make_db)
    dest = tmp_path / "cache" / "hullscan.db"
    update_db(dest, [str(first.path)])
    opened = threading.Event()
    done = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def scan() -> None:
        try:
            with VulnDB.open(dest) as db:
                opened.set()
                while not done.is_set() or len(seen) < 5:
                    found = db.advisories("debian:12", [f"pkg{i}-a" for i in range(300)])
                    seen.append(sum(len(v) for v in found.values()))
                    assert db.counts() == {"debian:12": 300}
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
            opened.set()

    reader = threading.Thread(target=scan)
    reader.start()
    assert opened.wait(10)
    for round_ in range(6):
        update_db(dest, [str((second if round_ % 2 == 0 else first).path)])
    done.set()
    reader.join(10)
    assert not errors, errors
    assert set(seen) == {300}  # the old DB, whole, all along
    with VulnDB.open(dest) as db:
        assert db.counts() == {"debian:12": 300}  # six swaps: back to the first one
    update_db(dest, [str(second.path)])
    with VulnDB.open(dest) as db:
        assert db.counts() == {"debian:12": 500}


READER = """
import sys
from hullscan.db.reader import VulnDB
with VulnDB.open(sys.argv[1]) as db:
    print(sum(db.counts().values()), flush=True)
    sys.stdin.readline()  # the parent swaps the DB meanwhile
    print(sum(db.counts().values()), len(db.advisories("debian:12", ["pkg7-a"])), flush=True)
"""


def test_a_reader_process_keeps_its_db_through_a_swap(tmp_path: Path, make_db: BuildDb) -> None:
    first, second = two_exports(tmp_path, make_db)
    dest = tmp_path / "cache" / "hullscan.db"
    update_db(dest, [str(first.path)])
    env = dict(os.environ, PYTHONPATH=str(Path(hullscan.__file__).parents[1]))
    with subprocess.Popen(
        [sys.executable, "-c", READER, str(dest)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    ) as child:
        assert child.stdin is not None and child.stdout is not None
        assert child.stdout.readline().strip() == "300"
        assert update_db(dest, [str(second.path)]).updated
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline().split() == ["300", "1"]
        assert child.wait(10) == 0


def test_parallel_updates_download_once(
    tmp_path: Path, make_db: BuildDb, http_server: CountingServer
) -> None:
    """Two CI jobs sharing a cache: the second waits for the first, then finds it current."""
    built = make_db(tmp_path / "b" / "hullscan.db", 4000, "new")
    export_db(built, http_server.root / "db.zst")
    http_server.behaviour.rate = (http_server.root / "db.zst").stat().st_size * 4
    dest = tmp_path / "cache" / "hullscan.db"
    results = []

    def job() -> None:
        results.append(update_db(dest, [http_server.url("db.zst")], options=QUICK))

    jobs = [threading.Thread(target=job) for _ in range(2)]
    for each in jobs:
        each.start()
    for each in jobs:
        each.join(20)
    assert sorted(r.updated for r in results) == [False, True]
    assert http_server.count("db.zst") == 1
    assert dest.read_bytes() == built.read_bytes()
