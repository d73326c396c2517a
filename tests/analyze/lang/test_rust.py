"""Rust: Cargo.lock files against Trivy's expected parses, cargo's own lock files, and
cargo-auditable's `.dep-v0` section in a binary linked by rustc here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

from hullscan.analyze.lang.rust import RustAnalyzer, parse_audit_data
from hullscan.errors import AnalyzerError
from hullscan.model import PackageType
from tests.analyze.lang.elfs import elf

TRIVY = "pkgdb/rust/aquasecurity__trivy/pkg/dependency/parser/rust/cargo/testdata"
SYFT = "pkgdb/rust/anchore__syft/syft/pkg/cataloger/rust/testdata"


def found(path: str, content: bytes) -> set[tuple[str, str]]:
    result = RustAnalyzer().analyze(path, content)
    assert all(p.type is PackageType.CARGO and p.paths == (path,) for p in result.packages)
    return {(p.name, p.version) for p in result.packages}


def tool(name: str) -> str:
    found_at = shutil.which(name) or str(Path.home() / ".cargo" / "bin" / name)
    if not os.access(found_at, os.X_OK):
        pytest.skip(f"`{name}` not installed (rustup, or Debian packages rustc and cargo)")
    return found_at


@pytest.mark.parametrize("lock", ["cargo_normal.lock", "cargo_mixed.lock", "cargo_v3.lock"])
def test_trivy_expected_parses(shared_data: Path, lock: str) -> None:
    cases = json.loads((shared_data / "pkgdb/rust/_expected/trivy_cargo.expected.json").read_text())
    (case,) = [c for c in cases["cases"] if c["input"].endswith(lock)]
    want = {(p["Name"], p["Version"]) for p in case["want"]}
    assert found("app/Cargo.lock", (shared_data / TRIVY / lock).read_bytes()) == want


def test_trivy_invalid_lock_is_an_error(shared_data: Path) -> None:
    with pytest.raises(AnalyzerError, match=r"not a Cargo\.lock"):
        RustAnalyzer().analyze(
            "Cargo.lock", (shared_data / TRIVY / "cargo_invalid.lock").read_bytes()
        )


def test_syft_locks_with_git_dependencies(shared_data: Path) -> None:
    plain = found("Cargo.lock", (shared_data / SYFT / "Cargo.lock").read_bytes())
    assert len(plain) == 14
    assert {("ansi_term", "0.12.1"), ("windows-sys", "0.52.0"), ("windows-sys", "0.59.0")} <= plain
    # regex, regex-automata and regex-syntax come both from crates.io and from git: once each
    git = RustAnalyzer().analyze(
        "Cargo.lock", (shared_data / SYFT / "Cargo.lock-with-git-deps").read_bytes()
    )
    names = sorted(p.name for p in git.packages)
    assert (
        len(names) == 9
        and names.count("regex") == 1
        and ("hello_world", "0.1.0") in {(p.name, p.version) for p in git.packages}
    )


def test_trivy_repo_fixture(shared_data: Path) -> None:
    """Trivy's integration fixture repo/cargo (a v4 lock) and its golden package list. Trivy
    also reads Cargo.toml and drops the dev-dependency winapi with its two crates; a
    Cargo.lock alone cannot tell, so they are reported here."""
    base = shared_data / "golden/aquasecurity__trivy/integration/testdata"
    golden = json.loads((base / "cargo.lock.json.golden").read_text())
    want = {(p["Name"], p["Version"]) for r in golden["Results"] for p in r["Packages"]}
    assert len(want) == 7
    dev = {
        ("winapi", "0.3.9"),
        ("winapi-i686-pc-windows-gnu", "0.4.0"),
        ("winapi-x86_64-pc-windows-gnu", "0.4.0"),
    }
    lock = base / "fixtures/repo/cargo/Cargo.lock"
    assert found("Cargo.lock", lock.read_bytes()) == want | dev


def test_lock_written_by_cargo_here(tmp_path: Path) -> None:
    """The lock format of the installed cargo (v4 today), with a path dependency."""
    cargo = tool("cargo")
    for name, deps in [("helper", ""), ("app", 'helper = { path = "../helper" }\n')]:
        (tmp_path / name / "src").mkdir(parents=True)
        (tmp_path / name / "Cargo.toml").write_text(
            f'[package]\nname = "{name}"\nversion = "0.3.1"\nedition = "2021"\n\n'
            f"[dependencies]\n{deps}"
        )
        (tmp_path / name / "src" / "lib.rs").write_text("")
    env = {**os.environ, "CARGO_HOME": str(tmp_path / "home"), "CARGO_NET_OFFLINE": "true"}
    subprocess.run(
        [cargo, "generate-lockfile", "--offline"],
        cwd=tmp_path / "app",
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    lock = (tmp_path / "app" / "Cargo.lock").read_bytes()
    assert b"version = " in lock.split(b"[[package]]")[0]
    assert found("src/app/Cargo.lock", lock) == {("app", "0.3.1"), ("helper", "0.3.1")}


AUDIT = {
    "packages": [
        {
            "name": "hello",
            "version": "0.1.0",
            "source": "local",
            "dependencies": [1, 2],
            "root": True,
        },
        {"name": "itoa", "version": "1.0.10", "source": "crates.io"},
        {"name": "smallvec", "version": "0.6.9", "source": "crates.io", "kind": "runtime"},
        {"name": "cc", "version": "1.0.83", "source": "crates.io", "kind": "build"},
        {"name": "serde_derive", "version": "1.0.190", "source": "crates.io", "kind": "build"},
    ]
}
AUDIT_RUNTIME = {("hello", "0.1.0"), ("itoa", "1.0.10"), ("smallvec", "0.6.9")}


def test_auditable_binary_linked_by_rustc(tmp_path: Path) -> None:
    """cargo-auditable is not packaged here, so the section is put in the way it does it:
    a `#[used]` static in `.dep-v0` holding the zlib-compressed JSON, linked by rustc into
    a real executable."""
    rustc = tool("rustc")
    data = zlib.compress(json.dumps(AUDIT).encode())
    (tmp_path / "audit.z").write_bytes(data)
    (tmp_path / "main.rs").write_text(
        f'#[used]\n#[link_section = ".dep-v0"]\n'
        f'static AUDITABLE_VERSION_INFO: [u8; {len(data)}] = *include_bytes!("audit.z");\n\n'
        'fn main() {\n    println!("hello");\n}\n'
    )
    subprocess.run(
        [rustc, "-O", "-o", str(tmp_path / "hello"), str(tmp_path / "main.rs")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert found("usr/local/bin/hello", (tmp_path / "hello").read_bytes()) == AUDIT_RUNTIME


def test_auditable_section_in_a_hand_built_elf() -> None:
    data = zlib.compress(json.dumps(AUDIT).encode())
    assert found("bin/hello", elf([(".text", b"\x90" * 64), (".dep-v0", data)])) == AUDIT_RUNTIME
    assert found("bin/plain", elf([(".text", b"\x90" * 64)])) == set()
    assert found("bin/ls", Path("/bin/ls").read_bytes()) == set()
    assert found("bin/data", b"not a program" * 100) == set()


def test_broken_audit_data() -> None:
    with pytest.raises(AnalyzerError, match="not zlib"):
        parse_audit_data(b"plain", "x")
    with pytest.raises(AnalyzerError, match="not JSON"):
        parse_audit_data(zlib.compress(b"{"), "x")
    with pytest.raises(AnalyzerError, match="no package list"):
        parse_audit_data(zlib.compress(b"[]"), "x")
    bomb = zlib.compress(b" " * (32 * 1024 * 1024))
    with pytest.raises(AnalyzerError, match="inflates past"):
        parse_audit_data(bomb, "x")
    odd = zlib.compress(
        json.dumps({"packages": [{"name": "a"}, 3, {"name": "b", "version": "1"}]}).encode()
    )
    result = parse_audit_data(odd, "x")
    assert [(p.name, p.version) for p in result.packages] == [("b", "1")]
    assert result.warnings == ("2 crates without a name or version skipped",)


def test_which_files() -> None:
    rust = RustAnalyzer()
    assert rust.wants("Cargo.lock") and rust.wants("src/app/Cargo.lock")
    assert not rust.wants("Cargo.toml") and not rust.wants("xCargo.lock")
    assert rust.wants_file("usr/local/bin/app", 0o100755, 4 * 1024 * 1024)
    assert not rust.wants_file("usr/local/lib/libapp.so", 0o100755, 4 * 1024 * 1024)
