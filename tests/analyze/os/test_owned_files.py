"""Files OS packages own (AnalysisResult.owned_paths): dpkg .list/.md5sums, apk F:/R:, rpm
file lists, the latter checked against `rpm -qa --qf [%{FILENAMES}]` on the same databases."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from hullscan.analyze.os.apk import ApkAnalyzer, parse_apk_installed
from hullscan.analyze.os.dpkg import DpkgAnalyzer, parse_dpkg_list, parse_dpkg_md5sums
from hullscan.analyze.os.rpm import RpmAnalyzer, parse_rpmdb, read_rpmdb
from hullscan.analyze.os.rpmdb import parse_header

SYFT_DPKG = "pkgdb/dpkg/anchore__syft/syft/pkg/cataloger/debian/testdata"
SYFT_APK = "pkgdb/apk/anchore__syft/syft/pkg/cataloger/alpine/testdata"
GO_RPMDB = "pkgdb/rpm/knqyf263__go-rpmdb/pkg/testdata"
SYFT_RPM = "pkgdb/rpm/anchore__syft/syft/pkg/cataloger/redhat/testdata/Packages"

# A real .list (Debian 12 python3-six 1.16.0-4), as dpkg writes it: directories first.
SIX_LIST = b"""/.
/usr
/usr/lib
/usr/lib/python3
/usr/lib/python3/dist-packages
/usr/lib/python3/dist-packages/six-1.16.0.egg-info
/usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO
/usr/lib/python3/dist-packages/six-1.16.0.egg-info/dependency_links.txt
/usr/lib/python3/dist-packages/six-1.16.0.egg-info/top_level.txt
/usr/lib/python3/dist-packages/six.py
/usr/share
/usr/share/doc
/usr/share/doc/python3-six
/usr/share/doc/python3-six/changelog.Debian.gz
/usr/share/doc/python3-six/copyright
"""


def test_dpkg_list_keeps_files_and_drops_directories() -> None:
    assert parse_dpkg_list(SIX_LIST) == (
        "usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO",
        "usr/lib/python3/dist-packages/six-1.16.0.egg-info/dependency_links.txt",
        "usr/lib/python3/dist-packages/six-1.16.0.egg-info/top_level.txt",
        "usr/lib/python3/dist-packages/six.py",
        "usr/share/doc/python3-six/changelog.Debian.gz",
        "usr/share/doc/python3-six/copyright",
    )
    # an empty directory at the end, a sibling sharing a prefix, and undecodable bytes
    odd = b"/usr/lib/x\n/usr/lib/x-y\n/usr/lib/caf\xe9\n/var/empty\n"
    assert parse_dpkg_list(odd) == ("usr/lib/x", "usr/lib/x-y", "usr/lib/caf\\xe9", "var/empty")
    assert parse_dpkg_list(b"") == ()


def test_dpkg_list_through_the_analyzer() -> None:
    analyzer = DpkgAnalyzer()
    path = "var/lib/dpkg/info/python3-six.list"
    assert analyzer.wants(path)
    result = analyzer.analyze(path, SIX_LIST)
    assert result.packages == () and result.warnings == ()
    assert "usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO" in result.owned_paths


def test_dpkg_md5sums(shared_data: Path) -> None:
    content = (shared_data / SYFT_DPKG / "info/zlib1g.md5sums").read_bytes()
    owned = parse_dpkg_md5sums(content)
    assert owned[0] == "lib/x86_64-linux-gnu/libz.so.1.2.11"
    assert len(owned) == len(content.decode().splitlines())
    assert parse_dpkg_md5sums(b"0123  /abs/path\r\nabcd *binary/mode\n\n") == (
        "abs/path",
        "binary/mode",
    )


def test_apk_f_and_r_lines(shared_data: Path) -> None:
    text = (shared_data / SYFT_APK / "single").read_text()
    result = ApkAnalyzer().analyze("lib/apk/db/installed", text.encode())
    assert [p.name for p in result.packages] == ["musl-utils"]
    assert result.owned_paths[:3] == ("sbin/ldconfig", "usr/bin/iconv", "usr/bin/ldd")
    assert len(result.owned_paths) == text.count("\nR:")
    # the package list is what it was before owned files were read
    assert parse_apk_installed(text, "lib/apk/db/installed")[0] == list(result.packages)


def test_apk_files_of_a_real_image_database(shared_data: Path) -> None:
    text = (shared_data / SYFT_APK / "base").read_text()
    result = ApkAnalyzer().analyze("lib/apk/db/installed", text.encode())
    assert len(result.owned_paths) == text.count("\nR:") == 27
    assert all(not p.startswith("/") and "//" not in p for p in result.owned_paths)


def rpm_oracle(db: Path, backend: str | None = None) -> set[str]:
    """Non-directory files of every package, as rpm itself lists them."""
    if shutil.which("rpm") is None:
        pytest.skip("rpm (Debian package rpm) is not installed")
    command = ["rpm", "--dbpath", str(db), "-qa", "--qf", "[%{FILENAMES}\\t%{FILEMODES}\\n]"]
    if backend:
        command[1:1] = ["--define", f"_db_backend {backend}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    files = set()
    for line in out.splitlines():
        name, _, mode = line.rpartition("\t")
        if not stat.S_ISDIR(int(mode) & 0xFFFF):
            files.add(name.lstrip("/"))
    return files


def test_rpm_files_match_rpm_itself_sqlite(shared_data: Path, tmp_path: Path) -> None:
    shutil.copy(shared_data / GO_RPMDB / "cbl-mariner-2.0/rpmdb.sqlite", tmp_path)
    content = (tmp_path / "rpmdb.sqlite").read_bytes()
    expected = rpm_oracle(tmp_path)
    result = RpmAnalyzer().analyze("var/lib/rpm/rpmdb.sqlite", content)
    assert len(expected) > 5000
    assert set(result.owned_paths) == expected
    assert len(result.owned_paths) == len(expected)  # files two packages share: listed once
    assert "usr/lib/os-release" in expected and "usr/lib" not in expected


def test_rpm_files_match_rpm_itself_berkeley_db(shared_data: Path, tmp_path: Path) -> None:
    shutil.copy(shared_data / SYFT_RPM, tmp_path / "Packages")
    expected = rpm_oracle(tmp_path, backend="bdb_ro")
    result = RpmAnalyzer().analyze("var/lib/rpm/Packages", (tmp_path / "Packages").read_bytes())
    assert set(result.owned_paths) == expected == {"usr/local/bin/dive"}


def test_rpm_files_of_an_ndb_database(shared_data: Path) -> None:
    """Debian's rpm cannot read NDB: the SUSE list is only checked for shape."""
    content = (shared_data / GO_RPMDB / "sle15-bci/Packages.db").read_bytes()
    owned = RpmAnalyzer().analyze("var/lib/rpm/Packages.db", content).owned_paths
    assert "usr/bin/bash" in owned and "usr/bin" not in owned
    assert all(p and not p.startswith("/") for p in owned)


def test_file_lists_cost_nothing_unless_asked(shared_data: Path) -> None:
    content = (shared_data / GO_RPMDB / "cbl-mariner-2.0/rpmdb.sqlite").read_bytes()
    assert all(info.files == () for info in read_rpmdb(content).headers)
    with_files = read_rpmdb(content, files=True).headers
    assert sum(len(info.files) for info in with_files) > 5000
    assert [p.name for p in parse_rpmdb(content, "x")[0]] == [
        p.name for p in RpmAnalyzer().analyze("x", content).packages
    ]


def test_damaged_file_list_keeps_the_package(shared_data: Path) -> None:
    """go-rpmdb's fuzzing seed: its last DIRINDEXES entry (4) points past its 4 DIRNAMES."""
    blob = (shared_data / GO_RPMDB / "blob.bin").read_bytes()
    info = parse_header(blob, files=True)
    assert info.name == "publicsuffix-list-dafsa" and info.files == ()
    assert info.problems == ("file list: dir index out of range",)
    assert parse_header(blob).problems == ()  # not looked at unless asked
