"""The rpm databases Debian's own rpm writes (and reads), against `rpm -qa`.

The tests build small noarch and arch packages with `rpmbuild` (epochs, explicit epoch 0,
'~' and '^' in versions, a subpackage whose source rpm has another name and version, a
modularity label, two arches of one name), install them with `rpm -i --justdb` into a
fresh database and import a signing key (a gpg-pubkey record). Each database hullscan
reads is then compared with what `rpm -qa` lists from the very same file.

What Debian's rpm 4.18 can do, and so what is tested here:
- SQLite: written by rpm itself (its default backend).
- Berkeley DB: rpm can only *read* it (bdb_ro). The `Packages` files are written with
  Berkeley DB's own db5.3_load (Debian package db5.3-util) from the header blobs rpm
  stored, keyed by instance number as rpm keys them, in both byte orders and at several
  page sizes (512 gives long overflow chains, 64 KiB keeps headers on the hash page), and
  `rpm -qa --define '_db_backend bdb_ro'` reads them back as the oracle.
- NDB: Debian's rpm has no NDB backend (neither read nor write); NDB is checked against
  go-rpmdb's SUSE list in test_rpm.py, and here only through the test suite's own writer.
Takes about two seconds; skipped with a reason when rpm, rpmbuild or db5.3_load is missing.
"""

from __future__ import annotations

import shutil
import sqlite3
import struct
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from hullscan.analyze.os.rpm import RpmAnalyzer, read_rpmdb
from hullscan.analyze.os.rpmdb import HeaderInfo, parse_header
from hullscan.model import PackageType
from tests.analyze.os.test_rpm import build_ndb

TESTDATA = Path(__file__).parent / "testdata" / "rpm"
QUERY = (
    "%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\t%{VENDOR}"
    "\\t%{MODULARITYLABEL}\\t%{EVR}\\n"
)

SPECS = {
    "alpha.spec": """\
Name: hs-alpha
Epoch: 3
Version: 1.2~rc1^git5
Release: 7.el9~beta
Summary: epoch, tilde and caret
License: MIT
Vendor: Hullscan Tests
BuildArch: noarch
%description
alpha
%package -n hs-beta
Summary: a subpackage with its own name and version
Version: 2.0
%description -n hs-beta
beta
%files
%files -n hs-beta
""",
    "module.spec": """\
Name: hs-module
Epoch: 0
Version: 18.14.2
Release: 2.module+el8.7.0+18154+c3ed0c52
Summary: explicit epoch 0 and a modularity label
License: MIT
ModularityLabel: nodejs:18:8070020230306170042:7c4ff9a4
BuildArch: noarch
%description
module
%files
""",
    "multi.spec": """\
Name: hs-multi
Version: 0.1^20240101
Release: 1
Summary: one name, two arches
License: MIT
%description
multi
%files
""",
}


@dataclass(frozen=True)
class Built:
    """A database rpm wrote, what `rpm -qa` says about it and its header blobs."""

    sqlite: Path
    rows: list[tuple[str, ...]]
    blobs: list[tuple[int, bytes]]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed (Debian packages rpm and db5.3-util)")
    return path


def _run(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        args, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"{args}: {done.stderr}"
    return done.stdout


def rpm_qa(dbpath: Path, backend: str) -> list[tuple[str, ...]]:
    """`rpm -qa` of one database directory, one tuple of QUERY fields per package."""
    out = _run(
        _tool("rpm"), "-qa", "--dbpath", str(dbpath), "--define", f"_db_backend {backend}",
        "--qf", QUERY,
    )  # fmt: skip
    return sorted(tuple(line.split("\t")) for line in out.splitlines())


def as_rows(headers: Sequence[HeaderInfo]) -> list[tuple[str, ...]]:
    """Our headers in rpm's QUERY shape ("(none)" for a missing tag, %{EVR} with 0:)."""

    def text(value: str) -> str:
        return value or "(none)"

    rows = []
    for h in headers:
        epoch = "(none)" if h.epoch is None else str(h.epoch)
        evr = (
            f"{h.version}-{h.release}" if h.epoch is None else f"{h.epoch}:{h.version}-{h.release}"
        )
        fields = [h.name, epoch, h.version, h.release, text(h.arch), text(h.source_rpm)]
        fields += [text(h.vendor), text(h.modularity_label), evr]
        rows.append(tuple(fields))
    return sorted(rows)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    rpm, rpmbuild = _tool("rpm"), _tool("rpmbuild")
    work = tmp_path_factory.mktemp("rpmbuild")
    top = work / "top"
    for name, text in SPECS.items():
        (work / name).write_text(text)
        targets = ["x86_64", "i686"] if name == "multi.spec" else [""]
        for target in targets:
            args = [rpmbuild, "-bb", "--quiet", "--define", f"_topdir {top}"]
            args += ["--target", target] if target else []
            _run(*args, str(work / name))
    packages = sorted(str(p) for p in top.rglob("*.rpm"))
    assert len(packages) == 5, packages
    root = work / "root"
    base = [rpm, "--root", str(root), "--dbpath", "/var/lib/rpm"]
    _run(*base, "--initdb")
    install = [*base, "-i", "--justdb", "--nodeps", "--ignorearch", "--noscripts"]
    if "--force-debian" in _run(rpm, "--help"):
        install.append("--force-debian")  # Debian's rpm refuses installs without it
    _run(*install, *packages)
    _run(*base, "--import", str(TESTDATA / "gpg-pubkey.asc"))
    sqlite_path = root / "var/lib/rpm/rpmdb.sqlite"
    con = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    blobs = [(int(n), bytes(b)) for n, b in con.execute("SELECT hnum, blob FROM Packages")]
    con.close()
    return Built(sqlite_path, rpm_qa(sqlite_path.parent, "sqlite"), blobs)


def test_the_fixture_has_what_the_tests_need(built: Built) -> None:
    by_name = {(r[0], r[4]) for r in built.rows}
    assert by_name >= {
        ("hs-alpha", "noarch"),
        ("hs-beta", "noarch"),
        ("hs-module", "noarch"),
        ("hs-multi", "x86_64"),
        ("hs-multi", "i686"),
        ("gpg-pubkey", "(none)"),
    }
    assert len(built.rows) == 6


def test_sqlite_written_by_rpm(built: Built) -> None:
    db = read_rpmdb(built.sqlite.read_bytes())
    assert (db.backend, db.warnings) == ("sqlite", ())
    assert as_rows(db.headers) == built.rows


def test_packages_of_the_rpm_written_database(built: Built) -> None:
    path = "var/lib/rpm/rpmdb.sqlite"
    result = RpmAnalyzer().analyze(path, built.sqlite.read_bytes())
    got = {(p.name, p.arch): (p.version, p.source_name, p.source_version) for p in result.packages}
    assert got == {
        ("hs-alpha", "noarch"): (
            "3:1.2~rc1^git5-7.el9~beta",
            "hs-alpha",
            "3:1.2~rc1^git5-7.el9~beta",
        ),
        ("hs-beta", "noarch"): ("3:2.0-7.el9~beta", "hs-alpha", "3:1.2~rc1^git5-7.el9~beta"),
        ("hs-module", "noarch"): (
            "18.14.2-2.module+el8.7.0+18154+c3ed0c52",  # rpm's %{EVR} says "0:18.14.2-..."
            "hs-module",
            "18.14.2-2.module+el8.7.0+18154+c3ed0c52",
        ),
        ("hs-multi", "x86_64"): ("0.1^20240101-1", "hs-multi", "0.1^20240101-1"),
        ("hs-multi", "i686"): ("0.1^20240101-1", "hs-multi", "0.1^20240101-1"),
    }  # and no gpg-pubkey
    assert all(p.type is PackageType.RPM and p.paths == (path,) for p in result.packages)
    assert result.warnings == ()


def _bdb_load(target: Path, blobs: Sequence[tuple[int, bytes]], order: str, page_size: int) -> None:
    """A Packages hash database as rpm keeps it: key 0 -> highest instance, n -> header."""
    fmt = "<I" if order == "1234" else ">I"
    lines = [
        "VERSION=3",
        "format=bytevalue",
        "type=hash",
        f"db_pagesize={page_size}",
        f"db_lorder={order}",
        "HEADER=END",
        " " + struct.pack(fmt, 0).hex(),
        " " + struct.pack(fmt, max(n for n, _ in blobs)).hex(),
    ]
    for number, blob in blobs:
        lines += [" " + struct.pack(fmt, number).hex(), " " + blob.hex()]
    lines.append("DATA=END")
    target.mkdir(parents=True)
    _run(_tool("db5.3_load"), str(target / "Packages"), stdin="\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("order", "page_size"),
    [("1234", 4096), ("1234", 512), ("4321", 4096), ("4321", 512), ("1234", 65536)],
)
def test_berkeley_db_read_by_rpm(built: Built, tmp_path: Path, order: str, page_size: int) -> None:
    """Little- and big-endian files, long overflow chains (512) and on-page headers (64K)."""
    dbdir = tmp_path / "db"
    _bdb_load(dbdir, built.blobs, order, page_size)
    want = rpm_qa(dbdir, "bdb_ro")
    assert want == built.rows  # rpm reads back what it stored
    db = read_rpmdb((dbdir / "Packages").read_bytes())
    assert (db.backend, db.warnings) == ("bdb", ())
    assert as_rows(db.headers) == want


def test_many_packages_in_a_big_endian_berkeley_db(shared_data: Path, tmp_path: Path) -> None:
    """CBL-Mariner's 129 headers in one Berkeley DB: many buckets, bucket overflow pages."""
    con = sqlite3.connect(":memory:")
    image = bytearray(
        (
            shared_data / "pkgdb/rpm/knqyf263__go-rpmdb/pkg/testdata/cbl-mariner-2.0/rpmdb.sqlite"
        ).read_bytes()
    )
    image[18] = image[19] = 1
    con.deserialize(bytes(image))
    blobs = [(int(n), bytes(b)) for n, b in con.execute("SELECT hnum, blob FROM Packages")]
    for order, page_size in (("4321", 1024), ("1234", 16384)):
        dbdir = tmp_path / f"db-{order}-{page_size}"
        _bdb_load(dbdir, blobs, order, page_size)
        want = rpm_qa(dbdir, "bdb_ro")
        assert len(want) == 129
        db = read_rpmdb((dbdir / "Packages").read_bytes())
        assert not db.warnings
        assert as_rows(db.headers) == want


def test_debian_rpm_has_no_ndb_backend(built: Built, tmp_path: Path) -> None:
    """Why NDB is not tested against rpm here; it would start to be if rpm gained one."""
    done = subprocess.run(
        [_tool("rpm"), "--dbpath", str(tmp_path), "--define", "_db_backend ndb", "--initdb"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if "invalid %_db_backend: ndb" not in done.stderr:
        pytest.fail("this rpm may support NDB now: add it to the oracle comparisons")
    db = read_rpmdb(build_ndb(built.blobs))
    assert (db.backend, db.warnings) == ("ndb", ())
    assert as_rows(db.headers) == built.rows


def test_header_blobs_rpm_wrote(built: Built) -> None:
    infos = {parse_header(b).name: parse_header(b) for _, b in built.blobs}
    assert infos["hs-module"].modularity_label == "nodejs:18:8070020230306170042:7c4ff9a4"
    assert infos["hs-alpha"].vendor == "Hullscan Tests"
    assert infos["hs-module"].epoch == 0
    assert infos["gpg-pubkey"].arch == ""
