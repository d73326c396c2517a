"""Go: build info of real binaries (built here with Debian's golang-go, and Debian's own),
checked against `go version -m` and Trivy's expected parses; go.mod files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hullscan.analyze.base import AnalysisResult
from hullscan.analyze.lang.go_buildinfo import go_tag_to_semver, ldflags_version
from hullscan.analyze.lang.golang import GoAnalyzer, parse_go_mod
from hullscan.errors import AnalyzerError
from hullscan.model import PackageType
from tests.analyze.lang.elfs import elf, modinfo, pointer_buildinfo
from tests.analyze.lang.gobuild import GoProgram, build, go_version_m, publish

GO = PackageType.GOLANG
TRIVY_GO = "pkgdb/go/_expected"
# trivy's test.elf dependencies (pkg/dependency/parser/golang/binary/testdata), rebuilt here
TRIVY_TEST_ELF_DEPS = {
    "github.com/aquasecurity/go-pep440-version": "v0.0.0-20210121094942-22b2f8951d46",
    "github.com/aquasecurity/go-version": "v0.0.0-20210121072130-637058cfe492",
    "golang.org/x/xerrors": "v0.0.0-20200804184101-5ec99f83aff1",
}


def found(path: str, content: bytes) -> set[tuple[str, str]]:
    result = GoAnalyzer().analyze(path, content)
    assert all(p.type is GO and p.paths == (path,) for p in result.packages)
    return {(p.name, p.version) for p in result.packages}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three real programs: Trivy's test.elf module graph, Trivy's ldflags case, and one
    with every kind of replacement."""
    root = tmp_path_factory.mktemp("go")
    proxy = root / "proxy"
    for module, version in TRIVY_TEST_ELF_DEPS.items():
        publish(proxy, module, version)
    for module, version in [
        ("example.com/dep", "v1.2.3"),
        ("example.com/fork", "v1.2.4"),
        ("golang.org/x/net", "v0.7.0"),
        ("golang.org/x/net", "v0.17.0"),
    ]:
        publish(proxy, module, version)
    programs = {
        "test.elf": (
            GoProgram("github.com/aquasecurity/test", requires=dict(TRIVY_TEST_ELF_DEPS)),
            list(TRIVY_TEST_ELF_DEPS),
        ),
        "ldflags.elf": (
            GoProgram("github.com/aquasecurity/test", ldflags="-s -w -X main.version=v1.0.0"),
            [],
        ),
        "replaced.elf": (
            GoProgram(
                "example.com/app",
                requires={
                    "example.com/dep": "v1.2.3",
                    "golang.org/x/net": "v0.7.0",
                    "example.com/local": "v0.0.0",
                },
                replaces=[
                    "example.com/dep => example.com/fork v1.2.4",
                    "golang.org/x/net v0.7.0 => golang.org/x/net v0.17.0",
                    "example.com/local => ./local",
                ],
                local_modules={"local": "example.com/local"},
            ),
            ["example.com/dep", "golang.org/x/net", "example.com/local"],
        ),
    }
    return {
        name: build(root / name, proxy, program, imports)
        for name, (program, imports) in programs.items()
    }


def oracle(binary: Path) -> set[tuple[str, str]]:
    """What `go version -m` lists, mapped the way the analyzer reports it."""
    go_version, lines = go_version_m(binary)
    expected = {("stdlib", go_tag_to_semver(go_version))}
    last: list[str] = []
    for fields in lines:
        if fields[0] in ("mod", "dep"):
            last = fields
            if fields[2] != "(devel)":
                expected.add((fields[1], fields[2]))
        elif fields[0] == "=>":
            expected.discard((last[1], last[2]))
            if len(fields) > 2 and fields[2] != "(devel)":
                expected.add((fields[1], fields[2]))
    return expected


def test_trivy_test_elf_module_graph(built: dict[str, Path], shared_data: Path) -> None:
    """Trivy's expected parse of its test.elf (Go 1.15): same modules, rebuilt with Go 1.19;
    the main module has no version ((devel)), so it is not a package here (Trivy lists it
    as the root with an empty version)."""
    content = built["test.elf"].read_bytes()
    expected = json.loads((shared_data / TRIVY_GO / "trivy_go_test.elf.expected.json").read_text())
    want = {
        (p["Name"], p["Version"])
        for p in expected["packages"]
        if p["Version"] and p["Name"] != "stdlib"
    }
    got = found("app/test", content)
    assert {p for p in got if p[0] != "stdlib"} == want
    assert got == oracle(built["test.elf"])


def test_trivy_main_version_from_ldflags(built: dict[str, Path], shared_data: Path) -> None:
    """Trivy's main-version-via-ldflags.elf: `-X main.version=v1.0.0` versions the main module."""
    expected = json.loads(
        (shared_data / TRIVY_GO / "trivy_go_main-version-via-ldflags.elf.expected.json").read_text()
    )
    want = {(p["Name"], p["Version"]) for p in expected["packages"]}
    assert want == {("github.com/aquasecurity/test", "v1.0.0"), ("stdlib", "v1.22.1")}
    go_version, _ = go_version_m(built["ldflags.elf"])
    got = found("app/test", built["ldflags.elf"].read_bytes())
    assert got == {
        ("github.com/aquasecurity/test", "v1.0.0"),
        ("stdlib", go_tag_to_semver(go_version)),
    }


def test_replacements(built: dict[str, Path]) -> None:
    """A replacement is what is compiled in; a local directory has no version to report."""
    got = found("usr/local/bin/app", built["replaced.elf"].read_bytes())
    assert got == oracle(built["replaced.elf"])
    assert {name for name, _ in got} == {"stdlib", "example.com/fork", "golang.org/x/net"}
    assert ("golang.org/x/net", "v0.17.0") in got


@pytest.mark.parametrize(
    "program", ["/usr/bin/skopeo", "/usr/bin/umoci", "/usr/bin/docker-registry"]
)
def test_debian_go_binaries(program: str) -> None:
    """Debian builds in GOPATH mode: no module list, only the Go release (`go version -m`)."""
    if not Path(program).exists():
        pytest.skip(f"{program} not installed (Debian packages skopeo, umoci, docker-registry)")
    if shutil.which("go") is None:
        pytest.skip("`go` not installed (Debian package golang-go)")
    path = Path(program)
    go_version, lines = go_version_m(path)
    assert not [f for f in lines if f[0] in ("mod", "dep")]
    assert found(program[1:], path.read_bytes()) == {("stdlib", go_tag_to_semver(go_version))}


def test_pointer_layout_of_go_before_1_18() -> None:
    """Go 1.13-1.17 point from the header to string headers in .data (Trivy's test.elf is
    such a binary: Go 1.15.2); both word sizes and byte orders."""
    info = modinfo(
        "path\tgithub.com/aquasecurity/test\n"
        "mod\tgithub.com/aquasecurity/test\t(devel)\t\n"
        + "".join(f"dep\t{m}\t{v}\th1:x=\n" for m, v in TRIVY_TEST_ELF_DEPS.items())
    )
    want = {("stdlib", "v1.15.2"), *TRIVY_TEST_ELF_DEPS.items()}
    for bits, big in [(64, False), (32, True), (32, False)]:
        binary = pointer_buildinfo("go1.15.2", info, bits=bits, big_endian=big)
        assert found("bin/test", binary) == want, (bits, big)


def test_header_found_by_scanning_without_the_section() -> None:
    """Without section headers (sstrip) or ELF, the aligned magic is searched for."""
    header = b"\xff Go buildinf:" + bytes([8, 2]) + bytes(16)
    text = modinfo("path\tx/cmd\nmod\tx\tv1.0.0\t\n")
    inline = header + bytes([8]) + b"go1.18.3" + bytes([len(text)]) + text
    binary = bytearray(elf([(".noptrdata", bytes(16) + inline)]))
    assert found("bin/x", bytes(binary)) == set()  # sections, none of them .go.buildinfo
    binary[40:48], binary[60:62] = bytes(8), bytes(2)  # e_shoff, e_shnum: sections removed
    assert found("bin/x", bytes(binary)) == {("stdlib", "v1.18.3"), ("x", "v1.0.0")}
    # non-ELF (a Mach-O or PE in a Linux image) works the same; unaligned magic is no header
    assert found("bin/x", bytes(32) + inline) == {("stdlib", "v1.18.3"), ("x", "v1.0.0")}
    assert found("bin/x", bytes(33) + inline) == set()


def test_not_go_and_broken_go() -> None:
    assert GoAnalyzer().analyze("usr/bin/ls", Path("/bin/ls").read_bytes()).packages == ()
    assert GoAnalyzer().analyze("usr/bin/data", b"\0" * 300_000).packages == ()
    damaged = bytearray(elf([(".text", bytes(4096))]))
    damaged[40:48] = (1 << 40).to_bytes(8, "little")  # section headers past the end
    assert GoAnalyzer().analyze("usr/bin/damaged", bytes(damaged)) == AnalysisResult()
    header = b"\xff Go buildinf:" + bytes([8, 2]) + bytes(16)
    for tail in (b"\x7f", b"\xff\xff\xff\xff\x0f", b"\x80"):
        with pytest.raises(AnalyzerError, match="build info"):
            GoAnalyzer().analyze("usr/bin/broken", bytes(64) + header + tail)


def test_development_toolchain_is_a_warning_not_a_version() -> None:
    header = b"\xff Go buildinf:" + bytes([8, 2]) + bytes(16)
    version = b"devel go1.23-abc123 Tue Jan 1 2024"
    text = modinfo("path\tx/cmd\nmod\tx\tv1.0.0\t\n")
    binary = elf(
        [(".go.buildinfo", header + bytes([len(version)]) + version + bytes([len(text)]) + text)]
    )
    result = GoAnalyzer().analyze("bin/x", binary)
    assert {(p.name, p.version) for p in result.packages} == {("x", "v1.0.0")}
    assert result.warnings and "not a release" in result.warnings[0]


@pytest.mark.parametrize(
    ("tag", "semver"),
    [
        ("go1.22.1", "v1.22.1"),
        ("go1.21", "v1.21.0"),
        ("go1.21.0", "v1.21.0"),
        ("go1.21rc2", "v1.21.0-rc.2"),
        ("go1.19beta1", "v1.19.0-beta.1"),
        ("go1.9.2rc2", "v1.9.2-rc.2"),
        ("go1", "v1.0.0"),
        ("go1.22.1 X:boringcrypto", "v1.22.1"),
        ("devel go1.23-abc", ""),
        ("", ""),
    ],
)
def test_go_tags_as_semver(tag: str, semver: str) -> None:
    """golang.org/x/vuln's GoTagToSemver: the versions of the Go vulnerability DB's stdlib."""
    assert go_tag_to_semver(tag) == semver


@pytest.mark.parametrize(
    ("ldflags", "version"),
    [
        ("-X main.version=v1.0.0", "v1.0.0"),
        ("-s -w -X 'github.com/x/y/cmd.Version=1.2.3'", "v1.2.3"),
        ("-X=main.ver=2.0.0-rc1", "v2.0.0-rc1"),
        ("-X main.commit=abc -X main.date=2024", ""),
        ("-X main.version=dev", ""),
        ("", ""),
    ],
)
def test_ldflags_versions(ldflags: str, version: str) -> None:
    assert ldflags_version(ldflags) == version


def test_go_mod_of_trivys_repo_fixture(shared_data: Path) -> None:
    """Trivy's integration fixture repo/gomod: its golden report matches
    docker/distribution v2.7.1+incompatible, opa v0.35.0 and x/text v0.3.6 from this go.mod."""
    path = (
        shared_data / "golden/aquasecurity__trivy/integration/testdata/fixtures/repo/gomod/go.mod"
    )
    got = {(p.name, p.version) for p in parse_go_mod(path.read_bytes(), "src/go.mod")}
    assert len(got) == 18
    assert {
        ("github.com/docker/distribution", "v2.7.1+incompatible"),
        ("github.com/open-policy-agent/opa", "v0.35.0"),
        ("golang.org/x/text", "v0.3.6"),
        ("golang.org/x/net", "v0.0.0-20211111083644-e5c967477495"),
    } <= got
    grype = shared_data / (
        "golden/anchore__grype/test/integration/testdata/image-debian-match-coverage/golang/go.mod"
    )
    assert {(p.name, p.version) for p in parse_go_mod(grype.read_bytes(), "go.mod")} == {
        ("github.com/google/uuid", "v1.3.0")
    }


def test_go_mod_replace_directives_and_goroot() -> None:
    text = b"""module example.com/app // the app

go 1.21
toolchain go1.21.5

require (
\tgolang.org/x/net v0.7.0
\texample.com/old v1.0.0 // indirect
\texample.com/local v0.0.0
\texample.com/pinned v1.1.0
)

replace (
\tgolang.org/x/net => golang.org/x/net v0.17.0
\texample.com/old => example.com/new v2.0.0
\texample.com/local => ../local
\texample.com/pinned v1.0.0 => example.com/pinned v1.0.5
)
"""
    got = {(p.name, p.version) for p in parse_go_mod(text, "go.mod")}
    assert got == {
        ("golang.org/x/net", "v0.17.0"),
        ("example.com/new", "v2.0.0"),
        ("example.com/pinned", "v1.1.0"),  # the replace is for another version
    }
    assert parse_go_mod(b"module std\n\ngo 1.19\n\nrequire golang.org/x/net v0.1.0\n", "x") == []
    with pytest.raises(AnalyzerError):
        parse_go_mod(b"not a go.mod", "go.mod")


def test_which_files() -> None:
    go = GoAnalyzer()
    assert go.wants("go.mod") and go.wants("src/app/go.mod")
    assert not go.wants("root/go/pkg/mod/github.com/x/y@v1.0.0/go.mod")
    assert not go.wants("app/vendor/github.com/x/go.mod")
    assert not go.wants("usr/lib/go/src/cmd/go/testdata/mod/go.mod")
    assert not go.wants("go.sum") and not go.wants("app/notgo.mod")
    mib = 1024 * 1024
    assert go.wants_file("usr/local/bin/app", 0o100755, 20 * mib)
    assert go.wants_file("app/server", -1, 20 * mib)  # image layers: no mode, by size and name
    assert not go.wants_file("usr/local/bin/app", 0o100644, 20 * mib)  # not executable
    assert not go.wants_file("usr/local/bin/tiny", 0o100755, 4096)
    assert not go.wants_file("usr/lib/x86_64-linux-gnu/libLLVM.so.15", 0o100755, 90 * mib)
    assert not go.wants_file("opt/model/weights.bin", -1, 90 * mib)
    assert not go.wants_file("usr/share/doc/big", -1, 9 * mib)
    assert not go.wants_file("usr/local/bin/huge", 0o100755, 2048 * mib)
