"""Build real Go programs offline with Debian's golang-go, for the Go analyzer's tests.

Dependencies come from a module proxy on disk (`GOPROXY=file://...`, a layout the go
command reads natively: `<module>/@v/list`, `.info`, `.mod`, `.zip`), so a test can give a
program any module graph, replacements included, without the network; the build info the
linker writes is the real thing, and `go version -m` is the oracle for what it says.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

#: Debian package that provides `go` (Go 1.19 in bookworm).
DEBIAN_PACKAGE = "golang-go"


def go_binary() -> str:
    found = shutil.which("go") or (
        "/usr/lib/go/bin/go" if Path("/usr/lib/go/bin/go").exists() else None
    )
    if found is None:
        pytest.skip(f"`go` not installed (Debian package {DEBIAN_PACKAGE})")
    return found


@dataclass
class GoProgram:
    """A main module: its requirements (path -> version), replace lines and source."""

    module: str
    requires: dict[str, str] = field(default_factory=dict)
    replaces: list[str] = field(default_factory=list)
    local_modules: dict[str, str] = field(default_factory=dict)  # dir -> module path
    ldflags: str = ""


def publish(proxy: Path, module: str, version: str) -> None:
    """Put `module@version` (one package that exports Name) into the file proxy."""
    where = proxy / module / "@v"
    where.mkdir(parents=True, exist_ok=True)
    gomod = f"module {module}\n\ngo 1.19\n"
    (where / f"{version}.mod").write_text(gomod)
    (where / f"{version}.info").write_text(
        json.dumps({"Version": version, "Time": "2021-01-21T09:49:42Z"})
    )
    with (where / "list").open("a") as listing:
        listing.write(version + "\n")
    package = module.rsplit("/", 1)[-1].replace("-", "").replace(".", "")
    with zipfile.ZipFile(where / f"{version}.zip", "w") as archive:
        archive.writestr(f"{module}@{version}/go.mod", gomod)
        archive.writestr(
            f"{module}@{version}/{package}.go",
            f'package {package}\n\nfunc Name() string {{ return "{module}" }}\n',
        )


def build(work: Path, proxy: Path, program: GoProgram, imports: list[str]) -> Path:
    """`go build` the program offline; returns the binary's path."""
    go = go_binary()
    src = work / "src"
    src.mkdir(parents=True)
    lines = [f"module {program.module}", "", "go 1.19", ""]
    lines += [f"require {path} {version}" for path, version in program.requires.items()]
    lines += [f"replace {line}" for line in program.replaces]
    (src / "go.mod").write_text("\n".join(lines) + "\n")
    for directory, module in program.local_modules.items():
        (src / directory).mkdir()
        (src / directory / "go.mod").write_text(f"module {module}\n\ngo 1.19\n")
        package = module.rsplit("/", 1)[-1]
        (src / directory / "x.go").write_text(
            f'package {package}\n\nfunc Name() string {{ return "{module}" }}\n'
        )
    calls = []
    import_lines = []
    for i, path in enumerate(imports):
        import_lines.append(f'\tp{i} "{path}"')
        calls.append(f"p{i}.Name()")
    (src / "main.go").write_text(
        'package main\n\nimport (\n\t"fmt"\n'
        + "\n".join(import_lines)
        + '\n)\n\nvar version = "dev"\n\nfunc main() { fmt.Println(version, '
        + ", ".join(calls or ['""'])
        + ") }\n"
    )
    out = work / "program"
    env = {
        **os.environ,
        "GOPROXY": f"file://{proxy}",
        "GOSUMDB": "off",
        "GOFLAGS": "-mod=mod",
        "GOCACHE": str(work / "cache"),
        "GOPATH": str(work / "gopath"),
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
        "HOME": str(work),
    }
    command = [go, "build", "-buildvcs=false", "-o", str(out)]
    if program.ldflags:
        command.append(f"-ldflags={program.ldflags}")
    subprocess.run([*command, "."], cwd=src, env=env, check=True, capture_output=True, timeout=120)
    return out


def go_version_m(binary: Path) -> tuple[str, list[list[str]]]:
    """`go version -m`: the Go version and the tab-separated module lines (the oracle)."""
    out = subprocess.run(
        [go_binary(), "version", "-m", str(binary)], check=True, capture_output=True, text=True
    ).stdout
    first, *rest = out.splitlines()
    lines = [line.strip("\t").split("\t") for line in rest if line.strip()]
    return first.rsplit(": ", 1)[1], lines
