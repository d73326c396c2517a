"""Build real rpm databases for test images with Debian's rpm and rpmbuild.

Each `Source` is one source rpm with its real Red Hat name, epoch, version and release;
`rpmbuild -bb` makes its binary subpackages as empty packages (no files, no scripts), so
their headers carry exactly what a scanner reads: NAME, EPOCH, VERSION, RELEASE, ARCH,
SOURCERPM (``<source>-<version>-<release>.src.rpm``, from the spec's main Name), VENDOR and
MODULARITYLABEL. `RpmRoot` installs them with ``rpm -i --justdb`` into an SQLite database
(``--define '_db_backend sqlite'``, as RHEL 9's rpm 4.16 writes it) under a root directory,
and upgrades them with ``rpm -U --justdb`` as a ``dnf update`` would.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

#: Where RHEL 9 keeps its database (rpm 4.16's %_dbpath). /usr/lib/sysimage/rpm is Fedora
#: 36+ and RHEL 10; RHEL 9 images have no database there.
RHEL9_DBPATH = "/var/lib/rpm"


@dataclass(frozen=True)
class Binary:
    """One binary rpm built from a `Source`; version/release default to the source's."""

    name: str
    arch: str = "x86_64"
    version: str = ""
    release: str = ""


@dataclass(frozen=True)
class Source:
    """One source rpm (a spec) and the binaries to build from it."""

    name: str
    version: str
    release: str
    binaries: tuple[Binary, ...]
    epoch: int | None = None
    modularity_label: str = ""
    vendor: str = "Red Hat, Inc."

    @property
    def source_rpm(self) -> str:
        return f"{self.name}-{self.version}-{self.release}.src.rpm"

    def spec(self) -> str:
        lines = [
            f"Name: {self.name}",
            *([f"Epoch: {self.epoch}"] if self.epoch is not None else []),
            f"Version: {self.version}",
            f"Release: {self.release}",
            f"Summary: {self.name} (test stub)",
            "License: MIT",
            f"Vendor: {self.vendor}",
            *([f"ModularityLabel: {self.modularity_label}"] if self.modularity_label else []),
            "%description",
            "Empty stand-in for the real package: headers only.",
        ]
        for binary in self.binaries:
            if binary.name == self.name:
                lines.append("%files")
                continue
            lines += [f"%package -n {binary.name}", f"Summary: {binary.name} (test stub)"]
            lines += [f"Version: {binary.version}"] if binary.version else []
            lines += [f"Release: {binary.release}"] if binary.release else []
            lines += ["BuildArch: noarch"] if binary.arch == "noarch" else []
            lines += [f"%description -n {binary.name}", "stub", f"%files -n {binary.name}"]
        return "\n".join(lines) + "\n"


def tool(name: str) -> str:
    """Path of a Debian rpm tool, or skip the calling test with the reason."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed (Debian package rpm): cannot build rpm databases")
    return path


def run(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{' '.join(args)}: {done.stderr}"
    return done.stdout


def build_rpms(sources: Sequence[Source], work: Path) -> dict[str, Path]:
    """Build every source's binaries; returns ``name-[epoch:]version-release.arch`` -> file."""
    rpmbuild = tool("rpmbuild")
    top = work / "rpmbuild"
    work.mkdir(parents=True, exist_ok=True)
    for source in sources:
        spec = work / f"{source.name}-{source.version}-{source.release}.spec"
        spec.write_text(source.spec())
        arches = {b.arch for b in source.binaries} - {"noarch"}
        target = ["--target", arches.pop()] if arches else []
        run(rpmbuild, "-bb", "--quiet", "--define", f"_topdir {top}", *target, str(spec))
    built: dict[str, Path] = {}
    for path in sorted(top.rglob("*.rpm")):
        built[path.name.removesuffix(".rpm")] = path
    return built


@dataclass
class RpmRoot:
    """A root directory whose rpm database `rpm --justdb` maintains."""

    root: Path
    dbpath: str = RHEL9_DBPATH
    _base: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        rpm = tool("rpm")
        self._base = [
            rpm,
            "--root",
            str(self.root),
            "--dbpath",
            self.dbpath,
            "--define",
            "_db_backend sqlite",
        ]
        self._install_flags = ["--justdb", "--nodeps", "--ignorearch", "--noscripts"]
        if "--force-debian" in run(rpm, "--help"):
            self._install_flags.append("--force-debian")  # Debian's rpm refuses without it

    @property
    def database(self) -> Path:
        return self.root / self.dbpath.lstrip("/") / "rpmdb.sqlite"

    def init(self) -> None:
        run(*self._base, "--initdb")

    def install(self, *packages: Path) -> None:
        run(*self._base, "-i", *self._install_flags, *map(str, packages))

    def upgrade(self, *packages: Path) -> None:
        run(*self._base, "-U", *self._install_flags, *map(str, packages))

    def query(self) -> list[str]:
        """``rpm -qa`` as NAME EPOCH:VERSION-RELEASE ARCH SOURCERPM MODULARITYLABEL lines."""
        fmt = "%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE} %{ARCH} %{SOURCERPM} %{MODULARITYLABEL}\\n"
        return sorted(run(*self._base, "-qa", "--qf", fmt).splitlines())
