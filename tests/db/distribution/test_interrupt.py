"""Interrupting an update, import or export at any point leaves the previous DB usable.

A child process runs the real update and is SIGKILLed - at a chosen step (the Nth read of
the download, an fsync, just before or after a rename) or at a random moment of a slowed
download. The parent then checks that the DB opens and is exactly the old or exactly the
new one, and that the next run leaves no temp file behind. SIGKILL is the worst case: no
`finally` runs, so the leftovers are named recognisably and cleaned by the next run.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest

import hullscan
from hullscan.db import artifact as artifact_module
from hullscan.db.artifact import export_db
from hullscan.db.distribution import import_db, load_state, update_db
from hullscan.db.reader import VulnDB
from hullscan.errors import DbError
from hullscan.image.registry import RegistryOptions

from .conftest import BuildDb
from .servers import CountingServer

ART = "hullscan.db.zst"
QUICK = RegistryOptions(docker_config=None, backoff_base=0.01, max_retries=1, timeout=5)
REPO = Path(__file__).resolve().parents[3]

#: A warm "zygote": imports hullscan once, then forks one child per command so each run
#: costs a fork, not an interpreter start. The child installs its kill hook and runs the
#: real operation; the zygote reports the child's pid, then how it ended.
ZYGOTE = r"""
import json, os, signal, sys
from pathlib import Path

from hullscan.db import artifact, distribution
from hullscan.image.registry import RegistryOptions


def run(action, stage, nth, target, source):
    calls = {}

    def hit(name):
        calls[name] = calls.get(name, 0) + 1
        if name == stage and calls[name] == nth:
            os.kill(os.getpid(), signal.SIGKILL)

    def wrap(owner, attr, before, after=None):
        original = getattr(owner, attr)

        def wrapper(*args, **kwargs):
            hit(before)
            result = original(*args, **kwargs)
            if after:
                hit(after)
            return result

        setattr(owner, attr, wrapper)

    readinto = artifact._HashingReader.readinto

    def small_reads(self, buffer):  # 8 KiB reads: many points to stop at, even in a small DB
        hit("read")
        return readinto(self, memoryview(buffer)[:8192])

    artifact._HashingReader.readinto = small_reads
    wrap(artifact._HashingWriter, "write", "write")
    wrap(os, "fsync", "fsync")
    wrap(os, "replace", "before-replace", "after-replace")
    target = Path(target)
    if action == "update":
        options = RegistryOptions(docker_config=None, backoff_base=0.01, timeout=10)
        distribution.update_db(target, [source], options=options)
    elif action == "import":
        distribution.import_db(Path(source), target)
    else:
        artifact.export_db(Path(source), target)


for line in sys.stdin:
    args = json.loads(line)
    pid = os.fork()
    if pid == 0:
        try:
            run(*args)
        except BaseException:
            os._exit(1)
        os._exit(0)
    print(pid, flush=True)
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status), flush=True)
"""


class Zygote:
    """The parent's handle on ZYGOTE: run(...) returns the child's exit code (-9: killed)."""

    def __init__(self, tmp: Path) -> None:
        script = tmp / "zygote.py"
        script.write_text(ZYGOTE)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(Path(hullscan.__file__).parents[1]), str(REPO)])
        self.process = subprocess.Popen(
            [sys.executable, str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )

    def run(self, *args: object, kill_after: float | None = None) -> int:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps([str(a) if isinstance(a, Path) else a for a in args]))
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        pid = int(self.process.stdout.readline())
        if kill_after is not None:
            time.sleep(kill_after)
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return int(self.process.stdout.readline())

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def zygote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zygote]:
    warm = Zygote(tmp_path_factory.mktemp("zygote"))
    try:
        yield warm
    finally:
        warm.close()


def temps(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def whole(dest: Path) -> bytes:
    """The DB's bytes, after checking that it opens as a DB."""
    with VulnDB.open(dest) as db:
        assert db.info().sources
    return dest.read_bytes()


@pytest.fixture
def setup(
    tmp_path: Path, make_db: BuildDb, http_server: CountingServer
) -> tuple[Path, bytes, bytes, str]:
    """An installed old DB, and a newer one published on the counting server."""
    new = make_db(tmp_path / "build-new" / "hullscan.db", 4000, "new")
    export_db(new, http_server.root / ART)
    dest = make_db(tmp_path / "cache" / "hullscan.db", 100, "old")
    return dest, dest.read_bytes(), new.read_bytes(), http_server.url(ART)


STAGES = [
    ("read", 1),  # the first bytes of the download
    ("read", 8),  # mid-download, mid-unpack
    ("fsync", 1),  # the temp DB complete, before it is made durable
    ("before-replace", 1),  # verified, about to swap
    ("after-replace", 1),  # swapped, state not written yet
    ("before-replace", 2),  # state file about to be renamed
]


@pytest.mark.parametrize(("stage", "nth"), STAGES, ids=[f"{s}-{n}" for s, n in STAGES])
def test_update_killed_at_each_step(
    zygote: Zygote,
    http_server: CountingServer,
    setup: tuple[Path, bytes, bytes, str],
    stage: str,
    nth: int,
) -> None:
    dest, old, new, url = setup
    code = zygote.run("update", stage, nth, dest, url)
    assert code == -signal.SIGKILL
    got = whole(dest)
    assert got in (old, new)  # exactly one of them: never a mix or a prefix
    assert (got == new) == (stage == "after-replace" or (stage, nth) == ("before-replace", 2))

    downloads = http_server.count(ART)
    result = update_db(dest, [url], options=QUICK)  # the next run: cleans, then completes
    assert temps(dest.parent) == []
    assert dest.read_bytes() == new
    assert load_state(dest).describes(dest)
    if got == new:  # swapped before the kill: recognised by its digest, not downloaded again
        assert not result.updated and http_server.count(ART) == downloads


def test_update_killed_at_random_moments_of_a_slow_download(
    zygote: Zygote, http_server: CountingServer, setup: tuple[Path, bytes, bytes, str]
) -> None:
    dest, old, new, url = setup
    http_server.behaviour.rate = (http_server.root / ART).stat().st_size * 3  # ~0.3 s
    seed = random.randrange(1 << 30)
    moments = random.Random(seed).sample(range(5, 50), 2)
    for moment in moments:
        zygote.run("update", "none", 0, dest, url, kill_after=moment / 100)
        assert whole(dest) in (old, new), f"seed {seed}, killed after {moment / 100} s"
    http_server.behaviour.rate = 0
    update_db(dest, [url], options=QUICK)
    assert dest.read_bytes() == new
    assert temps(dest.parent) == []


def test_import_killed_mid_unpack(
    zygote: Zygote, tmp_path: Path, setup: tuple[Path, bytes, bytes, str]
) -> None:
    dest, old, new, _url = setup
    exported = export_db(tmp_path / "build-new" / "hullscan.db", tmp_path / "usb" / ART)
    assert zygote.run("import", "read", 4, dest, exported.path) == -signal.SIGKILL
    assert whole(dest) == old
    assert temps(dest.parent)  # a SIGKILLed process cannot clean up after itself...
    import_db(exported.path, dest)  # ...the next run does
    assert temps(dest.parent) == []
    assert dest.read_bytes() == new


EXPORT_STAGES = [("write", 1), ("fsync", 1), ("before-replace", 2)]


@pytest.mark.parametrize(("stage", "nth"), EXPORT_STAGES, ids=[s for s, _ in EXPORT_STAGES])
def test_export_killed_keeps_the_previous_export(
    zygote: Zygote, tmp_path: Path, setup: tuple[Path, bytes, bytes, str], stage: str, nth: int
) -> None:
    dest, old, new, _url = setup
    out = tmp_path / "export" / ART
    previous = export_db(dest, out)
    before = (out.read_bytes(), previous.metadata_path.read_bytes())
    source = tmp_path / "build-new" / "hullscan.db"
    assert zygote.run("export", stage, nth, out, source) == -signal.SIGKILL
    check = tmp_path / "check" / "hullscan.db"
    if stage == "before-replace":
        # killed between the two renames: the new artifact, the old metadata - a pair that
        # import refuses as a whole rather than installing the wrong DB
        with pytest.raises(DbError, match="does not match its metadata"):
            import_db(out, check)
    else:
        assert (out.read_bytes(), previous.metadata_path.read_bytes()) == before
        import_db(out, check)
        assert check.read_bytes() == old
    export_db(source, out)
    assert temps(out.parent) == []
    import_db(out, check)
    assert check.read_bytes() == new


def test_ctrl_c_cleans_up_at_once(
    monkeypatch: pytest.MonkeyPatch, setup: tuple[Path, bytes, bytes, str]
) -> None:
    dest, old, new, url = setup
    original = artifact_module._HashingReader.readinto
    calls = {"n": 0}

    def interrupted(self: artifact_module._HashingReader, buffer: memoryview) -> int:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, buffer)

    monkeypatch.setattr(artifact_module._HashingReader, "readinto", interrupted)
    with pytest.raises(KeyboardInterrupt):
        update_db(dest, [url], options=QUICK)
    assert dest.read_bytes() == old
    assert temps(dest.parent) == []
    monkeypatch.undo()
    update_db(dest, [url], options=QUICK)  # the lock was released
    assert dest.read_bytes() == new
