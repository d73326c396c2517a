"""RPM packages from rpm's database: Berkeley DB, NDB or SQLite, read in pure Python.

Where: var/lib/rpm and usr/lib/sysimage/rpm (Fedora 36+, openSUSE; often one is a
symlink to the other), files Packages (Berkeley DB hash), Packages.db (NDB) and
rpmdb.sqlite (SQLite). The backend is told by the file's magic, not its name; the
readers are in `rpmdb/`. A Berkeley DB Packages file of a full system reaches 100 MB and
more (headers carry file lists), hence a larger size cap than other package lists. An
image holding two databases (a Packages left behind by a migration to SQLite or NDB) has
both read, where rpm uses only the one its %_db_backend names; the applier merges what
they agree on.

What a package looks like:
- `version` is ``[epoch:]version-release``, the string `compare_rpm` orders. The epoch is
  written only when it is not 0, as dnf and Trivy display it; ``rpm -q --qf %{EVR}``
  also writes an explicit ``0:``, which compares equal. Red Hat advisories use "0:".
- `source_name`/`source_version` come from SOURCERPM (``name-version-release.src.rpm``):
  the source package's epoch is not in that file name, so it takes the binary's epoch
  (as Trivy does; a subpackage rarely sets an epoch of its own). Without SOURCERPM
  (source packages themselves) the package is its own source; an unparsable SOURCERPM
  does the same with a warning.
- `arch` is ARCH, "" when absent.
- VENDOR and MODULARITYLABEL are read (see `rpmdb.HeaderInfo`) but `model.Package` has no
  field for them yet.

`gpg-pubkey` records are skipped: they are the public keys `rpm --import` stores as
pseudo-packages (no files, no arch, version = key id), not software. `rpm -qa` lists
them and so do go-rpmdb based tools (Trivy, Syft); Claircore skips them, as we do.

Owned files: the analyzer also decodes every header's file list (`HeaderInfo.files`) into
`AnalysisResult.owned_paths`, so the Applier can drop language packages that an rpm
installed (python3-urllib3's dist-info is reported as the rpm, not again as PyPI).

Robustness: a damaged database gives the packages that could be read and warnings
(see each backend); a header blob that cannot be decoded is skipped and named. Only a
file that is no rpm database at all raises AnalyzerError. An empty file is an empty
database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from hullscan.analyze.base import AnalysisResult, Analyzer, some_names
from hullscan.analyze.os.rpmdb import (
    HeaderError,
    HeaderInfo,
    detect_backend,
    parse_header,
    read_blobs,
)
from hullscan.errors import AnalyzerError
from hullscan.model import Package, PackageType

RPMDB_DIRS = ("var/lib/rpm/", "usr/lib/sysimage/rpm/")
RPMDB_FILES = ("Packages", "Packages.db", "rpmdb.sqlite")
RPMDB_PATHS = frozenset(d + f for d in RPMDB_DIRS for f in RPMDB_FILES)
GPG_PUBKEY = "gpg-pubkey"


@dataclass(frozen=True)
class RpmDbContent:
    """Every readable header of one database (gpg-pubkey included) and the warnings."""

    backend: str
    headers: tuple[HeaderInfo, ...]
    warnings: tuple[str, ...]


def read_rpmdb(content: bytes, *, files: bool = False) -> RpmDbContent:
    """Decode one rpm database file of any backend (see module docs); `files` also decodes
    each header's file list."""
    if not content:
        return RpmDbContent("", (), ())
    backend = detect_backend(content)
    if not backend:
        raise AnalyzerError(
            f"not an rpm database: neither Berkeley DB, NDB nor SQLite "
            f"(starts with {content[:16].hex()})"
        )
    found = read_blobs(content, backend)
    warnings = list(found.warnings)
    headers: list[HeaderInfo] = []
    unreadable: list[str] = []
    damaged: list[str] = []
    for blob in found.blobs:
        try:
            info = parse_header(blob.data, files=files)
        except HeaderError as exc:
            unreadable.append(f"#{blob.number} ({exc})")
            continue
        if info.problems:
            damaged.append(f"{info.name} ({'; '.join(info.problems)})")
        headers.append(info)
    if unreadable:
        warnings.append(
            f"skipped {len(unreadable)} unreadable package header(s): {some_names(unreadable)}"
        )
    if damaged:
        warnings.append(f"damaged tags read as missing in {some_names(damaged)}")
    return RpmDbContent(backend, tuple(headers), tuple(warnings))


def split_source_rpm(source_rpm: str) -> tuple[str, str, str] | None:
    """``name-version-release.src.rpm`` -> (name, version, release); None if malformed."""
    stem = source_rpm.removesuffix(".rpm")
    stem, dot, arch = stem.rpartition(".")
    if not dot or not arch:
        return None
    parts = stem.rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        return None
    name, version, release = parts
    return name, version, release


def to_package(info: HeaderInfo, path: str) -> tuple[Package, bool]:
    """The Package of one header, and whether its SOURCERPM had to be ignored."""
    prefix = f"{info.epoch}:" if info.epoch else ""
    source_name, source_version = info.name, info.evr
    bad_source = False
    if info.source_rpm and info.source_rpm != "(none)":
        source = split_source_rpm(info.source_rpm)
        if source is None:
            bad_source = True
        else:
            source_name = source[0]
            source_version = f"{prefix}{source[1]}-{source[2]}"
    package = Package(
        name=info.name,
        version=info.evr,
        type=PackageType.RPM,
        arch=info.arch,
        source_name=source_name,
        source_version=source_version,
        paths=(path,),
        modularity_label=info.modularity_label,
        vendor=info.vendor,
    )
    return package, bad_source


def parse_rpmdb(content: bytes, path: str) -> tuple[list[Package], list[str]]:
    """Installed packages of one rpm database file and its warnings (see module docs)."""
    return packages_of(read_rpmdb(content), path)


def packages_of(db: RpmDbContent, path: str) -> tuple[list[Package], list[str]]:
    """The packages (gpg-pubkey left out) of a decoded database and its warnings."""
    packages: list[Package] = []
    bad_sources: list[str] = []
    for info in db.headers:
        if info.name == GPG_PUBKEY:
            continue
        package, bad_source = to_package(info, path)
        if bad_source:
            bad_sources.append(f"{info.name} ({info.source_rpm!r})")
        packages.append(package)
    warnings = list(db.warnings)
    if bad_sources:
        warnings.append(
            f"unparsable SOURCERPM for {some_names(bad_sources)}; used the binary package as source"
        )
    return packages, warnings


@dataclass(frozen=True)
class RpmAnalyzer(Analyzer):
    """rpm database (RHEL and its rebuilds, Fedora, SUSE, Amazon Linux, CBL-Mariner)."""

    name: ClassVar[str] = "rpm"
    version: ClassVar[int] = 2
    max_file_size: ClassVar[int] = 512 * 1024 * 1024

    def wants(self, path: str) -> bool:
        return path in RPMDB_PATHS

    def analyze(self, path: str, content: bytes) -> AnalysisResult:
        db = read_rpmdb(content, files=True)
        packages, warnings = packages_of(db, path)
        # multilib and shared directories' files are listed by several packages: once here
        owned = tuple(dict.fromkeys(file for info in db.headers for file in info.files))
        return AnalysisResult(packages=tuple(packages), warnings=tuple(warnings), owned_paths=owned)
