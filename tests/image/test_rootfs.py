"""Unpacked root filesystems: the same inventory as the image, and nothing read from the host."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from hullscan.errors import SourceError
from hullscan.image import rootfs as rootfs_module
from hullscan.image.archive import open_archive
from hullscan.image.rootfs import RootfsSource, index_rootfs, walk_rootfs
from hullscan.model import Inventory, PackageType
from hullscan.scan import index
from tests.conftest import REPO
from tests.image.probe import ProbeAnalyzer
from tests.image.test_archive import load_sample_builder

BASE_LAYER = REPO / "examples" / "sample-image" / "layers" / "1-base"
BENCH = REPO / "build" / "bench"


@pytest.fixture
def base_rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    shutil.copytree(BASE_LAYER, root, symlinks=True)
    return root


def _without_layers(inventory: Inventory) -> set[tuple[object, ...]]:
    return {
        (p.type, p.name, p.version, p.arch, p.source_name, p.purl, p.paths)
        for p in (replace(p, layer="") for p in inventory.packages)
    }


def test_rootfs_of_the_base_layer_equals_the_archive_of_that_layer(
    tmp_path: Path, base_rootfs: Path
) -> None:
    layers = tmp_path / "layers"
    shutil.copytree(BASE_LAYER, layers / "1-base")
    archive = load_sample_builder().build(  # type: ignore[no-untyped-call]
        tmp_path / "base.tar", "docker-archive", "none", layers
    )
    with open_archive(archive) as image:
        expected = index(image)
    actual = index_rootfs(base_rootfs)
    assert actual.distro == expected.distro
    assert actual.distro is not None and actual.distro.id == "alpine"
    assert _without_layers(actual) == _without_layers(expected)
    assert len(actual.packages) == 11
    assert {p.layer for p in actual.packages} == {""}
    assert actual.warnings == expected.warnings == ()
    assert actual.artifact.kind == "rootfs"
    assert actual.artifact.reference == str(base_rootfs)
    assert [(la.index, la.diff_id) for la in actual.artifact.layers] == [(0, "")]


def test_absolute_symlink_is_resolved_inside_the_rootfs(base_rootfs: Path) -> None:
    # Alpine's own layout: /etc/os-release -> ../usr/lib/os-release, written absolute here.
    # The host (Debian) has its own /usr/lib/os-release: it must not be read.
    (base_rootfs / "usr" / "lib").mkdir(parents=True)
    os.replace(base_rootfs / "etc" / "os-release", base_rootfs / "usr" / "lib" / "os-release")
    (base_rootfs / "etc" / "os-release").symlink_to("/usr/lib/os-release")
    inventory = index_rootfs(base_rootfs)
    assert inventory.distro is not None
    assert (inventory.distro.id, inventory.distro.version_id) == ("alpine", "3.4.0")


def test_symlink_to_itself_by_absolute_path_reads_nothing(base_rootfs: Path) -> None:
    (base_rootfs / "etc" / "os-release").unlink()
    (base_rootfs / "etc" / "alpine-release").unlink()
    (base_rootfs / "etc" / "os-release").symlink_to("/etc/os-release")  # host file exists
    assert index_rootfs(base_rootfs).distro is None


def test_relative_symlink_climbing_out_stays_inside(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "lib" / "apk" / "db").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_bytes(b"the rootfs's own passwd")
    (root / "lib" / "apk" / "db" / "installed").symlink_to("../../../../../../../etc/passwd")
    probe = ProbeAnalyzer("lib/apk/db/installed", "etc/passwd")
    result = walk_rootfs(root, [probe])
    links = {f.path: f.link for f in result.files}
    assert links == {"lib/apk/db/installed": "etc/passwd", "etc/passwd": ""}
    inventory = RootfsSource(root).index([probe])
    own = ProbeAnalyzer("x").analyze("x", b"the rootfs's own passwd").packages[0].version
    assert {p.version for p in inventory.packages} == {own}
    # without the rootfs's own file the link dangles: nothing at all, never the host's
    (root / "etc" / "passwd").unlink()
    assert RootfsSource(root).index([probe]).packages == ()


def test_directory_symlink_out_of_the_tree_is_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "var" / "lib").mkdir(parents=True)
    (root / "var" / "lib" / "dpkg").symlink_to("/var/lib/dpkg")  # the host's database
    (root / "etc").symlink_to("/etc")
    inventory = index_rootfs(root)
    assert inventory.packages == ()
    assert inventory.distro is None


def test_fifo_and_socket_are_skipped_without_hanging(base_rootfs: Path) -> None:
    os.mkfifo(base_rootfs / "etc" / "fifo")
    os.replace(base_rootfs / "etc" / "os-release", base_rootfs / "etc" / "os-release.bak")
    os.mkfifo(base_rootfs / "etc" / "os-release")  # at a wanted path: must not be opened
    (base_rootfs / "run").mkdir()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(base_rootfs / "run" / "s.sock"))
    probe = ProbeAnalyzer("etc/fifo", "run/s.sock", "etc/os-release")
    box: dict[str, object] = {}
    thread = threading.Thread(target=lambda: box.update(r=walk_rootfs(base_rootfs, [probe])))
    thread.start()
    thread.join(10)
    sock.close()
    assert not thread.is_alive(), "the walk blocked on a FIFO"
    result = box["r"]
    assert {(f.path, f.result) for f in result.files} == {  # type: ignore[attr-defined]
        ("etc/fifo", None),
        ("run/s.sock", None),
        ("etc/os-release", None),
    }
    assert index_rootfs(base_rootfs).distro is not None  # alpine-release still there


def test_unreadable_file_is_a_warning(base_rootfs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = base_rootfs / "lib" / "apk" / "db" / "installed"
    if os.geteuid() == 0:  # root reads through permissions: make the open fail instead
        real_open = os.open

        def deny(path: str, flags: int, *args: object, **kwargs: object) -> int:
            if path == "installed":
                raise PermissionError(13, "Permission denied")
            return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "open", deny)
    else:
        db.chmod(0)
    inventory = index_rootfs(base_rootfs)
    assert inventory.packages == ()
    assert inventory.distro is not None
    assert inventory.warnings == (
        f"rootfs {base_rootfs}: cannot read /lib/apk/db/installed: Permission denied",
    )


def test_unreadable_directory_is_a_warning(
    base_rootfs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def deny(path: str, flags: int, *args: object, **kwargs: object) -> int:
        if path == "db" and kwargs.get("dir_fd") is not None:
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", deny)
    inventory = index_rootfs(base_rootfs)
    assert inventory.packages == ()
    assert inventory.warnings == (
        f"rootfs {base_rootfs}: cannot enter /lib/apk/db: Permission denied",
    )


def test_huge_file_is_skipped_with_a_warning(base_rootfs: Path) -> None:
    (base_rootfs / "etc" / "big").write_bytes(b"x" * 100)
    (base_rootfs / "etc" / "small").write_bytes(b"x" * 10)
    result = walk_rootfs(base_rootfs, [ProbeAnalyzer("etc/big", "etc/small", max_file_size=50)])
    assert {f.path: f.result is not None for f in result.files} == {
        "etc/big": False,
        "etc/small": True,
    }
    assert result.warnings == (
        f"rootfs {base_rootfs}: etc/big is 100 bytes, over the 50-byte limit; skipped",
    )


def test_broken_file_is_an_analyzer_warning(base_rootfs: Path) -> None:
    (base_rootfs / "etc" / "broken").write_bytes(b"BROKEN")
    result = walk_rootfs(base_rootfs, [ProbeAnalyzer("etc/broken")])
    assert result.warnings == (
        f"rootfs {base_rootfs}: probe could not read /etc/broken: unparseable content",
    )


def test_pseudo_filesystems_at_the_top_are_not_walked(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    for top in ("proc", "sys", "dev", "srv"):
        (root / top / "x").mkdir(parents=True)
        (root / top / "x" / "f").write_bytes(b"data")
    wanted = [f"{top}/x/f" for top in ("proc", "sys", "dev", "srv")]
    result = walk_rootfs(root, [ProbeAnalyzer(*wanted)])
    assert [f.path for f in result.files] == ["srv/x/f"]


def test_excessive_nesting_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rootfs_module, "MAX_DEPTH", 5)
    deep = tmp_path / "rootfs" / "a" / "b" / "c" / "d" / "e" / "f"
    deep.mkdir(parents=True)
    result = walk_rootfs(tmp_path / "rootfs", [])
    assert result.warnings == (
        f"rootfs {tmp_path / 'rootfs'}: /a/b/c/d/e is nested over 5 levels deep; skipped",
    )


def test_root_that_is_missing_or_a_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such directory"):
        index_rootfs(tmp_path / "nope")
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(SourceError, match="not a directory"):
        index_rootfs(tmp_path / "file")
    with pytest.raises(SourceError, match="not a directory"):
        walk_rootfs(tmp_path / "file", [])


def test_no_descriptor_is_leaked(base_rootfs: Path) -> None:
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(3):
        index_rootfs(base_rootfs)
    assert len(os.listdir("/proc/self/fd")) == before


def _cached_debian_rootfs() -> Path | None:
    for marker in sorted(BENCH.glob("*/rootfs.ok")) if BENCH.is_dir() else []:
        root = marker.parent / "rootfs"
        if (root / "var" / "lib" / "dpkg" / "status").is_file():
            return root
    return None


DPKG_FORMAT = r"${Package}\t${Version}\t${Architecture}\t${db:Status-Status}\n"


@pytest.mark.skipif(
    shutil.which("debootstrap") is None
    or shutil.which("dpkg-query") is None
    or _cached_debian_rootfs() is None,
    reason="needs debootstrap, dpkg-query and a debootstrapped rootfs under build/bench",
)
def test_real_debian_rootfs_matches_dpkg_query() -> None:
    root = _cached_debian_rootfs()
    assert root is not None
    out = subprocess.run(
        ["dpkg-query", f"--admindir={root / 'var/lib/dpkg'}", "-W", "-f", DPKG_FORMAT],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    expected = {
        tuple(line.split("\t")[:3])
        for line in out.splitlines()
        if line.split("\t")[3] not in ("not-installed", "config-files")
    }
    inventory = index_rootfs(root)
    actual = {(p.name, p.version, p.arch) for p in inventory.packages if p.type is PackageType.DEB}
    assert len(expected) > 50
    assert actual == expected
    assert inventory.distro is not None and inventory.distro.id == "debian"
    assert inventory.warnings == ()
