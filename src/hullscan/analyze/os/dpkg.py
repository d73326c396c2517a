"""Debian packages from dpkg's database: var/lib/dpkg/status and distroless status.d/*.

Which packages count as installed follows dpkg itself: the Status field is
"<want> <flag> <state>" and a package is on disk unless its state is `not-installed` or
`config-files` (what `dpkg-query -W` treats as absent). So `half-installed`, `unpacked`,
`half-configured` and `triggers-*` packages are reported: their files, and whatever
vulnerable code is in them, are in the image. The *want* part (install, hold, deinstall,
purge) is a wish, not a fact, and is ignored. Trivy instead drops every package whose want
is deinstall/purge, even when still installed, and keeps `install ok config-files`
entries; for its fixtures (installed or `deinstall ok config-files`) both rules agree.
A stanza without Status counts as installed: distroless images write status.d files
without one, and Trivy and Syft do the same.

Robustness: a stanza without Package or Version, or with a version dpkg's strict parser
rejects (an empty part, an epoch that is not a number, characters outside
[A-Za-z0-9.+~:-]; as Trivy does), or a second record for the same name and arch, is
skipped and named in one warning per file; stray lines are ignored with a warning. Only
a non-empty file with no package record at all raises AnalyzerError (it is not a dpkg
database). An empty file is an empty database.

Source package: `Source: name (version)` gives both; a bare `Source: name` means the
source version equals the binary version (epoch included); no Source means the source
package has the binary's name and version (dpkg-query's ${source:Package}/${source:Version}).

Owned files (so the Applier can drop language packages an OS package installed, see
docs/language-packages.md): `var/lib/dpkg/info/<pkg>[:<arch>].list` names every path a
package installed, as `dpkg -S` reads it; directories are left out (a directory entry is
followed by its own children in a .list, which is how they are recognised), since only
files can be package metadata. Distroless images have no .list files; their
`status.d/<pkg>.md5sums` (regular files only, relative paths) are read instead, when present.
Diversions (`dpkg-divert`) are not followed: a diverted file is owned under its original path.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

from hullscan.analyze.base import AnalysisResult, Analyzer, some_names
from hullscan.errors import AnalyzerError
from hullscan.model import Package, PackageType
from hullscan.versions.base import VersionError
from hullscan.versions.dpkg import parse_dpkg

STATUS_FILE = "var/lib/dpkg/status"
STATUS_DIR = "var/lib/dpkg/status.d/"
INFO_DIR = "var/lib/dpkg/info/"
LIST_SUFFIX = ".list"
MD5SUMS_SUFFIX = ".md5sums"

#: Files next to the per-package records in status.d that are not records themselves.
_CONTROL_SUFFIXES = (
    ".md5sums",
    ".conffiles",
    ".list",
    ".preinst",
    ".postinst",
    ".prerm",
    ".postrm",
    ".triggers",
    ".shlibs",
    ".symbols",
    ".templates",
    ".config",
)
_ABSENT_STATES = frozenset({"not-installed", "config-files"})
_KNOWN_STATES = _ABSENT_STATES | frozenset(
    {
        "half-installed",
        "unpacked",
        "half-configured",
        "triggers-awaited",
        "triggers-pending",
        "installed",
    }
)
_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_UPSTREAM_CHARS = _ALNUM | frozenset(".+~-:")
_REVISION_CHARS = _ALNUM | frozenset(".+~")


@dataclass
class Stanza:
    """One paragraph of a control file: first value of each field (lower-cased names).

    Mutable on purpose: it is the parser's accumulator and never leaves this module's API
    as a result (packages are the frozen output).
    """

    fields: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def iter_stanzas(text: str) -> Iterator[Stanza]:
    """Split deb822 text into paragraphs; tolerant of CRLF, comments and stray lines.

    Only the first line of each field is kept: the fields a scanner needs are single-line,
    and skipping continuation lines keeps multi-megabyte status files cheap to read.
    """
    current = Stanza()
    last_field = ""
    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        if not line.strip():
            if current.fields or current.problems:
                yield current
            current, last_field = Stanza(), ""
            continue
        first = line[0]
        if first in " \t":
            if not last_field:
                current.problems.append(f"continuation line without a field: {line.strip()[:40]!r}")
            continue
        if first == "#":
            continue
        name, sep, value = line.partition(":")
        name = name.strip().lower()
        if not sep or not name:
            current.problems.append(f"not a 'Field: value' line: {line[:40]!r}")
            last_field = ""
            continue
        if name in current.fields:
            current.problems.append(f"duplicate {name.title()} field; kept the first")
        else:
            current.fields[name] = value.strip()
        last_field = name
    if current.fields or current.problems:
        yield current


def dpkg_version_problem(version: str) -> str:
    """Why dpkg would refuse this version string, or "" if it would read it.

    dpkg reads its status file with the lax version parser: characters outside the policy
    set are only warned about and the package stays installed; only what parse_dpkg
    rejects (empty parts, a non-numeric epoch, spaces) makes dpkg refuse the record.
    """
    try:
        parse_dpkg(version)
    except VersionError as exc:
        return exc.reason
    return ""


def lax_version_warning(version: str) -> str:
    """A warning for characters dpkg accepts only leniently (as dpkg itself warns)."""
    epoch, colon, rest = version.partition(":")
    rest = rest if colon else epoch
    upstream, _, revision = rest.rpartition("-") if "-" in rest else (rest, "", "")
    if set(upstream) <= _UPSTREAM_CHARS and set(revision) <= _REVISION_CHARS:
        return ""
    return f"invalid character in version {version!r} (kept, as dpkg does)"


def parse_source(source: str, version: str) -> tuple[str, str]:
    """`Source: name (version)` -> (name, version); bare or missing parts default."""
    name, _, rest = source.strip().partition(" ")
    rest = rest.strip()
    source_version = ""
    if rest.startswith("(") and rest.endswith(")"):
        source_version = rest[1:-1].strip()
    return name, source_version or version


def is_installed(status: str | None) -> bool:
    """dpkg's notion: present unless the state (third word) says the files are gone."""
    if status is None:
        return True
    return _state(status) not in _ABSENT_STATES


def parse_dpkg_status(text: str, path: str) -> tuple[list[Package], list[str]]:
    """Installed packages of one dpkg status file and its warnings (see module docs).

    Raises AnalyzerError when the text has content but not a single package record.
    """
    packages: list[Package] = []
    skipped: list[str] = []
    unknown_state: list[str] = []
    lax_versions: list[str] = []
    stray: list[str] = []
    records = 0
    seen: set[tuple[str, str]] = set()
    for stanza in iter_stanzas(text):
        stray += stanza.problems
        fields = stanza.fields
        if not fields:
            continue
        name, version = fields.get("package", ""), fields.get("version", "")
        problem = _record_problem(name, version)
        if problem:
            skipped.append(f"{name} ({problem})" if name else "a record without Package name")
            continue
        records += 1
        status = fields.get("status")
        if status is not None and _state(status) not in _KNOWN_STATES:
            unknown_state.append(name)
        if not is_installed(status):
            continue
        arch = fields.get("architecture", "")
        if (name, arch) in seen:
            skipped.append(f"{name} (listed twice)")
            continue
        seen.add((name, arch))
        if lax := lax_version_warning(version):
            lax_versions.append(f"{name} ({lax})")
        source_name, source_version = parse_source(fields.get("source", "") or name, version)
        packages.append(
            Package(
                name=name,
                version=version,
                type=PackageType.DEB,
                arch=arch,
                source_name=source_name,
                source_version=source_version,
                paths=(path,),
            )
        )
    if not records and text.strip():
        reason = f" ({skipped[0]})" if skipped else ""
        raise AnalyzerError(f"not a dpkg database: no package record found{reason}")
    warnings: list[str] = []
    if skipped:
        warnings.append(
            f"skipped {len(skipped)} unreadable package record(s): {some_names(skipped)}"
        )
    if stray:
        warnings.append(f"ignored {len(stray)} malformed line(s), first: {stray[0]}")
    if unknown_state:
        warnings.append(f"unknown dpkg state for {some_names(unknown_state)}; counted as installed")
    if lax_versions:
        warnings.append(f"odd versions: {some_names(lax_versions)}")
    return packages, warnings


def _record_problem(name: str, version: str) -> str:
    if not name:
        return "no Package name"
    if any(c.isspace() for c in name):
        return "invalid Package name"
    if not version:
        return "no Version"
    problem = dpkg_version_problem(version)
    return f"{problem}: {version!r}" if problem else ""


def parse_dpkg_list(content: bytes) -> tuple[str, ...]:
    """The files (not directories) of one `info/*.list`, without the leading '/'.

    Undecodable bytes become `\\xNN`, as the walker writes such names, so paths compare equal.
    """
    paths = [
        line.lstrip("/")
        for line in content.decode("utf-8", "backslashreplace").split("\n")
        if line and line != "/."
    ]
    owned: list[str] = []
    for index, path in enumerate(paths):
        following = paths[index + 1] if index + 1 < len(paths) else ""
        if following.startswith(path) and following[len(path) : len(path) + 1] == "/":
            continue  # a directory: its first child comes right after it
        owned.append(path)
    return tuple(owned)


def parse_dpkg_md5sums(content: bytes) -> tuple[str, ...]:
    """The files of one `<pkg>.md5sums` (`<md5>  <relative path>` lines)."""
    owned: list[str] = []
    for line in content.decode("utf-8", "backslashreplace").split("\n"):
        _digest, sep, path = line.rstrip("\r").partition(" ")
        path = path.lstrip(" *").lstrip("/")
        if sep and path:
            owned.append(path)
    return tuple(owned)


def _state(status: str) -> str:
    words = status.split()
    return words[-1] if words else ""


@dataclass(frozen=True)
class DpkgAnalyzer(Analyzer):
    """dpkg status database (Debian, Ubuntu) and distroless per-package status.d files."""

    name: ClassVar[str] = "dpkg"
    version: ClassVar[int] = 2

    def wants(self, path: str) -> bool:
        if path == STATUS_FILE:
            return True
        if path.startswith(INFO_DIR):
            return path.endswith(LIST_SUFFIX) and "/" not in path[len(INFO_DIR) :]
        if not path.startswith(STATUS_DIR):
            return False
        base = path[len(STATUS_DIR) :]
        if not base or "/" in base:
            return False
        return base.endswith(MD5SUMS_SUFFIX) or not base.endswith(_CONTROL_SUFFIXES)

    def analyze(self, path: str, content: bytes) -> AnalysisResult:
        if path.startswith(INFO_DIR):
            return AnalysisResult(owned_paths=parse_dpkg_list(content))
        if path.endswith(MD5SUMS_SUFFIX):
            return AnalysisResult(owned_paths=parse_dpkg_md5sums(content))
        text = content.decode("utf-8", errors="replace")
        packages, warnings = parse_dpkg_status(text, path)
        return AnalysisResult(packages=tuple(packages), warnings=tuple(warnings))
