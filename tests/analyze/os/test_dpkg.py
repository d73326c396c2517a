"""DpkgAnalyzer against real dpkg databases and the peers' expected parses.

Sources (all under ../shared/data/pkgdb/dpkg):
- Trivy: pkg/fanal/analyzer/pkg/dpkg/testdata/*.txtar, expectations in
  _expected/trivy_dpkg_*.txtar.expected.json (converted from Trivy's dpkg_test.go).
- Syft: syft/pkg/cataloger/debian/testdata (status.d fixtures, image-dpkg, image-distroless-deb).
- Claircore: dpkg/testdata/*.status.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hullscan.analyze.os.dpkg import DpkgAnalyzer, dpkg_version_problem, parse_source
from hullscan.errors import AnalyzerError
from hullscan.model import Package, PackageType
from tests.analyze import txtar

STATUS = "var/lib/dpkg/status"
TRIVY = Path("pkgdb/dpkg/aquasecurity__trivy/pkg/fanal/analyzer/pkg/dpkg/testdata")
SYFT = Path("pkgdb/dpkg/anchore__syft/syft/pkg/cataloger/debian/testdata")
CLAIR = Path("pkgdb/dpkg/quay__claircore/dpkg/testdata")

# The JSON conversion of Trivy's expectations dropped `SrcEpoch`. Trivy parses the source
# version with its epoch, and a Source field without "(version)" inherits the binary
# version, epoch included. Values checked against Trivy's dpkg_test.go (valid case:
# diffutils, libattr1, libaudit*, libgmp10, libpcre3, libprocps6, login, passwd, procps,
# zlib1g) and, for docker-ce (third-party case), Trivy's dpkg.go (SrcVersion = Version).
TRIVY_DROPPED_SRC_EPOCH = {
    "diffutils": 1,
    "libattr1": 1,
    "libaudit-common": 1,
    "libaudit1": 1,
    "libgmp10": 2,
    "libpcre3": 2,
    "libprocps6": 2,
    "login": 1,
    "passwd": 1,
    "procps": 2,
    "zlib1g": 1,
    "docker-ce": 5,
}

analyzer = DpkgAnalyzer()


def analyze(content: bytes | str, path: str = STATUS) -> tuple[dict[str, Package], list[str]]:
    data = content.encode() if isinstance(content, str) else content
    result = analyzer.analyze(path, data)
    by_name = {p.name: p for p in result.packages}
    assert len(by_name) == len(result.packages), "unexpected duplicate package names"
    return by_name, list(result.warnings)


def trivy_version(epoch: int, version: str, release: str) -> str:
    """Trivy splits a dpkg version into Epoch, Version and Release; join them back."""
    return (f"{epoch}:" if epoch else "") + version + (f"-{release}" if release else "")


def trivy_status(shared_data: Path, name: str) -> str:
    return txtar.read(shared_data / TRIVY / f"{name}.txtar").files[STATUS]


def expected(shared_data: Path, name: str) -> list[dict[str, Any]]:
    path = shared_data / "pkgdb/dpkg/_expected" / f"trivy_dpkg_{name}.txtar.expected.json"
    packages: list[dict[str, Any]] = json.loads(path.read_text())["packages"]
    return packages


@pytest.mark.parametrize(("case", "count"), [("valid", 90), ("third-party", 2), ("only-apt", 1)])
def test_matches_trivy_expected_parse(shared_data: Path, case: str, count: int) -> None:
    got, warnings = analyze(trivy_status(shared_data, case))
    want = expected(shared_data, case)
    assert len(want) == count
    assert sorted(got) == sorted(p["Name"] for p in want)
    for p in want:
        name = p["Name"]
        src_epoch = TRIVY_DROPPED_SRC_EPOCH.get(name, 0)
        assert p.get("SrcEpoch", src_epoch) == src_epoch
        pkg = got[name]
        assert (pkg.version, pkg.arch, pkg.source_name, pkg.source_version) == (
            trivy_version(p.get("Epoch", 0), p["Version"], p.get("Release", "")),
            p["Arch"],
            p["SrcName"],
            trivy_version(src_epoch, p["SrcVersion"], p.get("SrcRelease", "")),
        ), name
        assert pkg.type is PackageType.DEB
        assert pkg.paths == (STATUS,)
    assert warnings == []


def test_valid_status_keeps_epochs_binnmus_and_explicit_source_versions(shared_data: Path) -> None:
    got, _ = analyze(trivy_status(shared_data, "valid"))
    # Source: util-linux (2.31.1-0.4ubuntu3.1), binary has epoch 1: the source has none.
    assert (got["bsdutils"].version, got["bsdutils"].source_version) == (
        "1:2.31.1-0.4ubuntu3.1",
        "2.31.1-0.4ubuntu3.1",
    )
    # binNMU: the binary carries +b3, its source does not.
    assert (got["liblzma5"].version, got["liblzma5"].source_version) == (
        "5.1.1alpha+20120614-2+b3",
        "5.1.1alpha+20120614-2",
    )
    # Bare Source: the source version is the binary version, epoch included.
    assert (got["zlib1g"].source_name, got["zlib1g"].source_version) == (
        "zlib",
        "1:1.2.11.dfsg-0ubuntu2",
    )
    # The 91st stanza, git, is "deinstall ok config-files": only its conffiles remain.
    assert "git" not in got


def test_corrupted_status_keeps_good_records_and_names_the_bad_ones(shared_data: Path) -> None:
    """Trivy's corrupsed.txtar; the four packages Trivy expects (its dpkg_test.go), plus
    invalidpkg, which Trivy drops but dpkg itself keeps: dpkg reads its status file with the
    lax version parser, so an odd character in a version is a warning, not a removal."""
    got, warnings = analyze(trivy_status(shared_data, "corrupsed"))
    assert {n: (p.version, p.source_name, p.source_version) for n, p in got.items()} == {
        "libgcc1": ("1:5.1.1-12ubuntu1", "gcc-5", "5.1.1-12ubuntu1"),
        "libpam-modules-bin": ("1.1.8-3.1ubuntu3", "pam", "1.1.8-3.1ubuntu3"),
        "libpam-runtime": ("1.1.8-3.1ubuntu3", "pam", "1.1.8-3.1ubuntu3"),
        "makedev": ("2.3.1-93ubuntu1", "makedev", "2.3.1-93ubuntu1"),
        "invalidpkg": ("1:5.#", "invalidpkg-5", "5.#"),
    }
    assert len(warnings) == 2
    assert "skipped 1" in warnings[0]
    assert "brokenPackageWithNoVersionThatShouldGetThrownOut (no Version)" in warnings[0]
    assert "invalidpkg (invalid character in version '1:5.#' (kept, as dpkg does))" in warnings[1]


def test_crlf_status_file_parses_the_same(shared_data: Path) -> None:
    text = trivy_status(shared_data, "valid")
    assert analyze(text.replace("\n", "\r\n")) == analyze(text)


@pytest.mark.parametrize(
    ("fixture", "want"),
    [
        ("single", {"apt": ("1.8.2", "amd64", "apt-dev", "1.8.2")}),
        ("installed-size-4KB", {"apt": ("1.8.2", "amd64", "apt-dev", "1.8.2")}),
        (
            "multiple",
            {
                "tzdata": ("2020a-0+deb10u1", "all", "tzdata-dev", "2020a-0+deb10u1"),
                "util-linux": ("2.33.1-0.1", "amd64", "util-linux", "2.33.1-0.1"),
            },
        ),
        (
            "deinstall",
            {
                "linux-image-6.14.0-1012-aws": (
                    "6.14.0-1012.12~24.04.1",
                    "amd64",
                    "linux-signed-aws-6.14",
                    "6.14.0-1012.12~24.04.1",
                )
            },
        ),
    ],
)
def test_syft_status_d_fixtures(
    shared_data: Path, fixture: str, want: dict[str, tuple[str, str, str, str]]
) -> None:
    path = f"var/lib/dpkg/status.d/{fixture}"
    assert analyzer.wants(path)
    got, _ = analyze((shared_data / SYFT / path).read_bytes(), path)
    assert {n: (p.version, p.arch, p.source_name, p.source_version) for n, p in got.items()} == want
    assert all(p.paths == (path,) for p in got.values())


def test_versionless_records_are_skipped_with_a_warning(shared_data: Path) -> None:
    """Syft keeps a `no-version` package with an empty version; it could never be matched."""
    _, warnings = analyze((shared_data / SYFT / "var/lib/dpkg/status.d/multiple").read_bytes())
    assert warnings == [
        "skipped 2 unreadable package record(s): "
        "a record without Package name, no-version (no Version)"
    ]


def test_records_without_status_count_as_installed(shared_data: Path) -> None:
    """dpkg's documentation examples have no Status field, like distroless status.d files."""
    got, warnings = analyze(
        (shared_data / SYFT / "var/lib/dpkg/status.d/doc-examples").read_bytes()
    )
    assert sorted(got) == [f"made-up-package-{i}" for i in (1, 2, 3, 4)] + ["mutt"]
    assert got["made-up-package-1"].source_name == "glibc"
    assert warnings[0].startswith("skipped 11 unreadable package record(s): made-up-package-5")
    assert warnings[0].endswith(" and 6 more")


@pytest.mark.parametrize("fixture", ["corrupt", "empty"])
def test_file_without_any_record_is_an_analyzer_error(shared_data: Path, fixture: str) -> None:
    content = (shared_data / SYFT / "var/lib/dpkg/status.d" / fixture).read_bytes()
    with pytest.raises(AnalyzerError, match="not a dpkg database"):
        analyzer.analyze(f"var/lib/dpkg/status.d/{fixture}", content)


def test_distroless_image_status_d(shared_data: Path) -> None:
    """The package file is a record; its .md5sums lists owned files; .preinst is neither."""
    root = shared_data / SYFT / "image-distroless-deb"
    files = sorted(str(f.relative_to(root)) for f in root.rglob("*") if f.is_file())
    wanted = [f for f in files if analyzer.wants(f)]
    assert wanted == [
        "var/lib/dpkg/status.d/libsqlite3-0",
        "var/lib/dpkg/status.d/libsqlite3-0.md5sums",
    ]
    owned = analyzer.analyze(wanted[1], (root / wanted[1]).read_bytes())
    assert owned.packages == () and owned.owned_paths[0] == (
        "usr/lib/aarch64-linux-gnu/libsqlite3.so.0.8.6"
    )
    got, warnings = analyze((root / wanted[0]).read_bytes(), wanted[0])
    pkg = got["libsqlite3-0"]
    assert (pkg.version, pkg.arch, pkg.source_name, pkg.source_version) == (
        "3.34.1-3",
        "arm64",
        "sqlite3",
        "3.34.1-3",
    )
    assert warnings == []


def test_syft_image_dpkg_status(shared_data: Path) -> None:
    root = shared_data / SYFT / "image-dpkg"
    wanted = sorted(
        str(f.relative_to(root))
        for f in root.rglob("*")
        if f.is_file() and analyzer.wants(str(f.relative_to(root)))
    )
    assert wanted == [STATUS]
    got, _ = analyze((root / STATUS).read_bytes())
    assert [(p.name, p.version, p.source_name) for p in got.values()] == [
        ("libpam-runtime", "1.1.8-3.6", "pam")
    ]


@pytest.mark.parametrize(
    ("fixture", "count"),
    [("debian-only", 1), ("postgresql", 3), ("texlive", 357), ("vcpkg", 15)],
)
def test_claircore_status_files(shared_data: Path, fixture: str, count: int) -> None:
    content = (shared_data / CLAIR / f"{fixture}.status").read_bytes()
    assert len(analyzer.analyze(STATUS, content).packages) == count


def test_claircore_postgresql_sources(shared_data: Path) -> None:
    got, _ = analyze((shared_data / CLAIR / "postgresql.status").read_bytes())
    assert (got["postgresql-client"].source_name, got["postgresql-client"].source_version) == (
        "postgresql-common",
        "200+deb10u5",
    )
    assert got["postgresql-client-11"].source_name == "postgresql-11"


def test_vcpkg_feature_records_are_not_packages(shared_data: Path) -> None:
    """vcpkg reuses dpkg's format; its 'Feature' records carry no version and are skipped."""
    result = analyzer.analyze(STATUS, (shared_data / CLAIR / "vcpkg.status").read_bytes())
    assert [(p.name, p.arch) for p in result.packages if p.name == "libffi"] == [
        ("libffi", "x64-windows"),
        ("libffi", "x86-windows"),
    ]
    assert result.warnings[0].startswith("skipped 9 ")


def stanza(status: str | None, name: str = "pkg", version: str = "1.0-1") -> str:
    lines = [f"Package: {name}"]
    if status is not None:
        lines.append(f"Status: {status}")
    lines += ["Architecture: amd64", f"Version: {version}"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("status", "installed"),
    [
        ("install ok installed", True),
        ("hold ok installed", True),
        ("deinstall ok installed", True),  # marked for removal, still on disk (Trivy drops it)
        ("install reinstreq half-installed", True),
        ("install ok unpacked", True),
        ("install ok half-configured", True),
        ("install ok triggers-awaited", True),
        ("install ok triggers-pending", True),
        ("deinstall ok config-files", False),
        ("purge ok config-files", False),
        ("install ok config-files", False),  # Trivy keeps it; only conffiles are left
        ("install ok not-installed", False),
        ("purge ok not-installed", False),
        (None, True),
    ],
)
def test_installed_follows_dpkg_state(status: str | None, installed: bool) -> None:
    got, warnings = analyze(stanza(status))
    assert ("pkg" in got) is installed
    assert warnings == []


def test_unknown_state_is_kept_with_a_warning() -> None:
    got, warnings = analyze(stanza("install ok levitating"))
    assert "pkg" in got
    assert warnings == ["unknown dpkg state for pkg; counted as installed"]


def test_multiarch_same_name_is_two_packages() -> None:
    text = (
        stanza("install ok installed", "libc6")
        + "\n"
        + stanza(None, "libc6").replace("amd64", "i386")
    )
    result = analyzer.analyze(STATUS, text.encode())
    assert sorted(p.arch for p in result.packages) == ["amd64", "i386"]


def test_stray_lines_are_ignored_with_a_warning() -> None:
    text = "Package: a\nthis line is junk\nVersion: 1.0\n Description continuation\n"
    got, warnings = analyze(text)
    assert got["a"].version == "1.0"
    assert warnings == [
        "ignored 1 malformed line(s), first: not a 'Field: value' line: 'this line is junk'"
    ]


def test_empty_status_file_is_an_empty_database() -> None:
    assert analyzer.analyze(STATUS, b"").packages == ()
    assert analyzer.analyze(STATUS, b"\n\n  \n").warnings == ()


def test_binary_garbage_is_an_analyzer_error() -> None:
    with pytest.raises(AnalyzerError):
        analyzer.analyze(STATUS, bytes(range(256)) * 4)


@pytest.mark.parametrize(
    ("source", "version", "want"),
    [
        (
            "util-linux (2.31.1-0.4ubuntu3.1)",
            "1:2.31.1-0.4ubuntu3.1",
            ("util-linux", "2.31.1-0.4ubuntu3.1"),
        ),
        ("pam", "1.5.2-6", ("pam", "1.5.2-6")),
        ("gcc-5 (5.1.1-12ubuntu1)", "1:5.1.1-12ubuntu1", ("gcc-5", "5.1.1-12ubuntu1")),
        ("foo ()", "2.0", ("foo", "2.0")),
    ],
)
def test_parse_source(source: str, version: str, want: tuple[str, str]) -> None:
    assert parse_source(source, version) == want


@pytest.mark.parametrize(
    ("version", "ok"),
    [
        ("1.0", True),
        ("1:2.31.1-0.4ubuntu3.1", True),
        ("5:20.10.7~3-0~debian-buster", True),
        ("2.9.11_pre20061021-r2", True),  # '_' is not a policy character: dpkg only warns
        ("1:5.#", True),
        ("a:1.0", False),
        ("1.0-", False),
        ("", False),
        ("2:", False),
    ],
)
def test_dpkg_version_problem(version: str, ok: bool) -> None:
    assert (dpkg_version_problem(version) == "") is ok


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("var/lib/dpkg/status", True),
        ("var/lib/dpkg/status.d/base-files", True),
        ("var/lib/dpkg/status.d/libpython3.11-minimal", True),
        ("var/lib/dpkg/status.d/base-files.md5sums", True),  # owned files (distroless)
        ("var/lib/dpkg/status.d/libsqlite3-0.preinst", False),
        ("var/lib/dpkg/status.d/", False),
        ("var/lib/dpkg/status.d/sub/pkg", False),
        ("var/lib/dpkg/status-old", False),
        ("var/lib/dpkg/available", False),
        ("var/lib/dpkg/info/bash.list", True),  # owned files
        ("var/lib/dpkg/info/libc6:amd64.list", True),
        ("var/lib/dpkg/info/bash.md5sums", False),
        ("var/lib/dpkg/info/sub/bash.list", False),
        ("usr/var/lib/dpkg/status", False),
    ],
)
def test_wants(path: str, wanted: bool) -> None:
    assert analyzer.wants(path) is wanted


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("Package: Version1.0-\n \t#:\rabc")), max_size=300))
def test_never_crashes_on_arbitrary_text(text: str) -> None:
    try:
        result = analyzer.analyze(STATUS, text.encode())
    except AnalyzerError:
        return
    assert all(p.name and p.version for p in result.packages)
