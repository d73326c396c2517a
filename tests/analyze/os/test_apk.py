"""ApkAnalyzer against real apk databases and the peers' expected parses.

Sources (under ../shared/data):
- Trivy: pkgdb/apk/aquasecurity__trivy/.../testdata/apk, expected parse in
  pkgdb/apk/_expected/trivy_apk.expected.json.
- Syft: pkgdb/apk/anchore__syft/syft/pkg/cataloger/alpine/testdata; expectations from Syft's
  cataloger_test.go (multiple-1) are written out below.
- The alpine:3.10 image archive
  images/aquasecurity__trivy/pkg/fanal/test/testdata/alpine-310.tar.gz.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from hullscan.analyze.os.apk import ApkAnalyzer
from hullscan.errors import AnalyzerError
from hullscan.model import Package, PackageType

DB = "lib/apk/db/installed"
TRIVY = Path("pkgdb/apk/aquasecurity__trivy/pkg/fanal/analyzer/pkg/apk/testdata/apk")
SYFT = Path("pkgdb/apk/anchore__syft/syft/pkg/cataloger/alpine/testdata")
ALPINE_310 = Path("images/aquasecurity__trivy/pkg/fanal/test/testdata/alpine-310.tar.gz")

analyzer = ApkAnalyzer()


def analyze(content: bytes | str) -> tuple[dict[str, Package], list[str]]:
    data = content.encode() if isinstance(content, str) else content
    result = analyzer.analyze(DB, data)
    return {p.name: p for p in result.packages}, list(result.warnings)


def facts(packages: dict[str, Package]) -> dict[str, tuple[str, str, str, str]]:
    return {n: (p.version, p.arch, p.source_name, p.source_version) for n, p in packages.items()}


def test_matches_trivy_expected_parse(shared_data: Path) -> None:
    expected = json.loads((shared_data / "pkgdb/apk/_expected/trivy_apk.expected.json").read_text())
    got, warnings = analyze((shared_data / TRIVY).read_bytes())
    want = {
        p["Name"]: (p["Version"], p["Arch"], p["SrcName"], p["SrcVersion"])
        for p in expected["packages"]
    }
    assert len(want) == 15
    assert facts(got) == want
    assert all(p.type is PackageType.APK and p.paths == (DB,) for p in got.values())
    assert warnings == [
        "skipped 1 incomplete package block(s): invalidPackageWithoutAVersion (no version)"
    ]


def test_syft_multiple_1(shared_data: Path) -> None:
    got, warnings = analyze((shared_data / SYFT / "multiple-1" / DB).read_bytes())
    assert facts(got) == {
        "bash": ("5.2.21-r0", "x86_64", "bash", "5.2.21-r0"),
        "busybox-binsh": ("1.36.1-r15", "x86_64", "busybox", "1.36.1-r15"),
        "musl": ("1.2.4_git20230717-r4", "x86_64", "musl", "1.2.4_git20230717-r4"),
        "readline": ("8.2.1-r2", "x86_64", "readline", "8.2.1-r2"),
    }
    assert warnings == []


@pytest.mark.parametrize(
    ("fixture", "want"),
    [
        ("base", {"alpine-baselayout": ("3.2.0-r6", "x86_64", "alpine-baselayout", "3.2.0-r6")}),
        ("single", {"musl-utils": ("1.1.24-r2", "x86_64", "musl", "1.1.24-r2")}),
        (
            "empty-deps-and-provides",
            {"alpine-baselayout-data": ("3.4.0-r0", "x86_64", "alpine-baselayout", "3.4.0-r0")},
        ),
        (
            "extra-file-attributes",
            {"openjdk8-jre": ("8.212.04-r0", "x86_64", "openjdk8", "8.212.04-r0")},
        ),
    ],
)
def test_syft_single_package_fixtures(
    shared_data: Path, fixture: str, want: dict[str, tuple[str, str, str, str]]
) -> None:
    got, warnings = analyze((shared_data / SYFT / fixture).read_bytes())
    assert facts(got) == want
    assert warnings == []


def test_syft_multiple_2_is_a_whole_alpine_316_base(shared_data: Path) -> None:
    got, _ = analyze((shared_data / SYFT / "multiple-2" / DB).read_bytes())
    assert len(got) == 14
    assert got["libcrypto1.1"].source_name == "openssl"
    assert got["ssl_client"].source_name == "busybox"


def test_corrupt_db_keeps_the_packages_around_the_garbage(shared_data: Path) -> None:
    """Syft fails this fixture as a whole; a scanner should still report what it can read."""
    got, warnings = analyze((shared_data / SYFT / "corrupt" / DB).read_bytes())
    assert facts(got) == {
        "alpine-baselayout-data": ("3.2.0-r22", "x86_64", "alpine-baselayout", "3.2.0-r22")
    }
    assert warnings == ["ignored 1 line(s) that are not 'K:value'"]


def test_db_without_any_package_is_an_analyzer_error(shared_data: Path) -> None:
    with pytest.raises(AnalyzerError, match="not an apk database"):
        analyze((shared_data / SYFT / "glob-paths" / DB).read_bytes())


def test_alpine_310_image(shared_data: Path) -> None:
    with tarfile.open(shared_data / ALPINE_310) as image:
        layer = next(m for m in image.getmembers() if m.name.endswith("/layer.tar"))
        layer_file = image.extractfile(layer)
        assert layer_file is not None
        with tarfile.open(fileobj=layer_file) as rootfs:
            wanted = [m for m in rootfs.getmembers() if m.isfile() and analyzer.wants(m.name)]
            assert [m.name for m in wanted] == [DB]
            db = rootfs.extractfile(wanted[0])
            assert db is not None
            got, warnings = analyze(db.read())
    # images/README.md says 15 packages; the database lists 14 (P: lines), as apk would.
    assert len(got) == 14
    assert facts(got)["musl"] == ("1.1.22-r3", "x86_64", "musl", "1.1.22-r3")
    assert got["libcrypto1.1"].source_name == "openssl"
    assert warnings == []


def test_missing_origin_and_arch_default() -> None:
    got, warnings = analyze("P:foo\nV:1.0-r0\n\n")
    assert facts(got) == {"foo": ("1.0-r0", "", "foo", "1.0-r0")}
    assert warnings == ["no origin (o:) for foo; used the package name as source"]


def test_missing_blank_line_does_not_merge_packages() -> None:
    got, _ = analyze("P:a\nV:1-r0\no:x\nP:b\nV:2-r0\n")
    assert facts(got) == {"a": ("1-r0", "", "x", "1-r0"), "b": ("2-r0", "", "b", "2-r0")}


def test_crlf_db() -> None:
    got, _ = analyze("P:a\r\nV:1-r0\r\nA:aarch64\r\n\r\nP:b\r\nV:2-r0\r\n")
    assert facts(got) == {"a": ("1-r0", "aarch64", "a", "1-r0"), "b": ("2-r0", "", "b", "2-r0")}


def test_empty_db_is_no_packages() -> None:
    assert analyzer.analyze(DB, b"").packages == ()


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        (DB, True),
        ("lib/apk/db/installed.bak", False),
        ("lib/apk/db/lock", False),
        ("lib/apk/db/scripts.tar", False),
        ("usr/lib/apk/db/installed2", False),
    ],
)
def test_wants(path: str, wanted: bool) -> None:
    assert analyzer.wants(path) is wanted


def test_merged_usr_database_path_is_read() -> None:
    from hullscan.analyze.os.apk import ApkAnalyzer

    analyzer = ApkAnalyzer()
    assert analyzer.wants("usr/lib/apk/db/installed")  # apk-tools 3, Wolfi/Chainguard usr-merge
    assert analyzer.wants("lib/apk/db/installed")
    result = analyzer.analyze("usr/lib/apk/db/installed", b"P:musl\nV:1.2.5-r0\nA:x86_64\no:musl\n")
    assert [(p.name, p.version) for p in result.packages] == [("musl", "1.2.5-r0")]
