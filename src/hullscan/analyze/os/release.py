"""Which OS an image runs: os-release, alpine-release, debian_version and the Red Hat style
"<Name> release <version>" files.

Every release file becomes a partial `Distro` on its own (so per-layer results stay
cacheable); `detect_distro` merges the files of the final filesystem, by priority:
etc/os-release > usr/lib/os-release > etc/alpine-release, etc/debian_version >
etc/oracle-release, etc/rocky-release, etc/almalinux-release, etc/centos-release >
etc/system-release > etc/redhat-release. One os-release decides the distribution; the
other files only fill gaps for that same ID (Ubuntu ships an /etc/debian_version such as
"bookworm/sid" that must not turn it into Debian). Without os-release (CentOS 6, Amazon
Linux AMI) the first file present names it: vendor files come before redhat-release,
because Oracle Linux's /etc/redhat-release claims to be "Red Hat Enterprise Linux".

Rolling releases carry no version number, so `Distro.channel` names them (see
`hullscan.distros.namespace_of`):

- Debian testing: os-release without VERSION_ID and a debian_version of "<codename>/sid".
  Testing and unstable ship the very same base-files, so the release files cannot tell
  them apart; we report channel "testing" with the codename (namespace debian:13 for
  trixie), whose tracker data is what such an image is closest to. Only a release file
  that literally says "sid" gives channel "sid" (namespace debian:unstable).
- Alpine edge: a version with a pre-release suffix ("3.20.0_alpha20240329") or a
  PRETTY_NAME ending in "edge" gives channel "edge".

- CentOS Stream: os-release NAME "CentOS Stream" (or "CentOS Stream release 8") gives
  channel "stream" (its own end-of-life dates; matched against rhel:N like CentOS).

Debian's version_id is normalised to the major release ("12.5" -> "12"), the unit of
Debian's advisories; Alpine keeps its full version ("3.10.4"), and so do the RHEL family
("7.9.2009") and Amazon Linux ("2", "2023", "2018.03" for AL1).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import ClassVar

from hullscan.analyze.base import AnalysisResult, Analyzer
from hullscan.distros import DEBIAN_UNSTABLE
from hullscan.errors import AnalyzerError
from hullscan.model import Distro

ETC_OS_RELEASE = "etc/os-release"
USR_OS_RELEASE = "usr/lib/os-release"
ALPINE_RELEASE = "etc/alpine-release"
DEBIAN_VERSION = "etc/debian_version"
ORACLE_RELEASE = "etc/oracle-release"
ROCKY_RELEASE = "etc/rocky-release"
ALMA_RELEASE = "etc/almalinux-release"
CENTOS_RELEASE = "etc/centos-release"
SYSTEM_RELEASE = "etc/system-release"
REDHAT_RELEASE = "etc/redhat-release"

#: "<Name> release <version> (<codename>)" files, vendor-specific before generic.
REDHAT_STYLE_FILES: tuple[str, ...] = (
    ORACLE_RELEASE,
    ROCKY_RELEASE,
    ALMA_RELEASE,
    CENTOS_RELEASE,
    SYSTEM_RELEASE,
    REDHAT_RELEASE,
)
#: Highest priority first.
RELEASE_FILES: tuple[str, ...] = (
    ETC_OS_RELEASE,
    USR_OS_RELEASE,
    ALPINE_RELEASE,
    DEBIAN_VERSION,
    *REDHAT_STYLE_FILES,
)
_OS_RELEASE_FILES = frozenset({ETC_OS_RELEASE, USR_OS_RELEASE})
_EXTRA_FILES = tuple(p for p in RELEASE_FILES if p not in _OS_RELEASE_FILES)
_WANTED = frozenset(RELEASE_FILES)

# "CentOS Linux release 7.9.2009 (Core)", "Amazon Linux AMI release 2018.03",
# "Red Hat Enterprise Linux Server release 7.9 (Maipo)", "Rocky Linux release 8.4 (Green
# Obsidian)", "Oracle Linux Server release 7.9", "Amazon Linux release 2 (Karoo)".
_RELEASE_LINE = re.compile(r"^(?P<name>.+?)\s+release\s+(?P<version>\d[\w.]*)", re.IGNORECASE)
#: Name prefix (lower case) -> os-release ID, most specific first.
_RELEASE_NAMES: tuple[tuple[str, str], ...] = (
    ("red hat enterprise linux", "rhel"),
    ("centos", "centos"),
    ("rocky linux", "rocky"),
    ("almalinux", "almalinux"),
    ("oracle linux", "ol"),
    ("amazon linux", "amzn"),
    ("fedora", "fedora"),
)

_DQUOTE_ESCAPABLE = frozenset('"\\$`')
_KEY_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_KEY_CHARS = _KEY_START | frozenset("0123456789")


def parse_os_release(text: str) -> tuple[dict[str, str], list[str]]:
    """Parse os-release per the freedesktop spec: KEY=value lines in shell quoting.

    Returns the variables and a warning for each line that is not an assignment. Blank
    lines and lines starting with '#' are ignored; a later assignment of a key wins, as
    it would when the file is sourced by a shell.
    """
    values: dict[str, str] = {}
    warnings: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not _is_key(key):
            warnings.append(f"line {number} is not a KEY=value assignment: {line[:80]!r}")
            continue
        parsed, problem = _unquote(value.strip())
        if problem:
            warnings.append(f"line {number}: {problem}")
        values[key] = parsed
    return values, warnings


def _is_key(key: str) -> bool:
    return bool(key) and key[0] in _KEY_START and all(c in _KEY_CHARS for c in key)


def _unquote(value: str) -> tuple[str, str]:
    """Undo shell quoting of one value: '...' literal, "..." with \\-escapes, bare words.

    Quoted and bare parts concatenate as in a shell (A="x"y is xy). Unquoted whitespace
    ends the value (what follows is a comment or junk). Returns (value, problem).
    """
    out: list[str] = []
    quote = ""
    i, n = 0, len(value)
    while i < n:
        c = value[i]
        if quote == "'":
            if c == "'":
                quote = ""
            else:
                out.append(c)
        elif quote == '"':
            if c == '"':
                quote = ""
            elif c == "\\" and i + 1 < n and value[i + 1] in _DQUOTE_ESCAPABLE:
                i += 1
                out.append(value[i])
            else:
                out.append(c)
        elif c in "'\"":
            quote = c
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(value[i])
        elif c in " \t":
            rest = value[i:].strip()
            if rest and not rest.startswith("#"):
                return "".join(out), f"unquoted whitespace; ignored {rest[:40]!r}"
            break
        else:
            out.append(c)
        i += 1
    if quote:
        return "".join(out), f"unterminated {quote} quote"
    return "".join(out), ""


def distro_from_os_release(values: Mapping[str, str]) -> Distro:
    """The Distro an os-release file describes on its own (ID defaults to "linux")."""
    distro_id = values.get("ID", "").strip().lower() or "linux"
    version_id = values.get("VERSION_ID", "").strip()
    pretty = values.get("PRETTY_NAME", "").strip()
    codename = (
        values.get("VERSION_CODENAME", "").strip() or values.get("UBUNTU_CODENAME", "").strip()
    ).lower()
    channel = ""
    if distro_id == "debian":
        if not codename:
            # Debian 7 and 8 have no VERSION_CODENAME, only VERSION="8 (jessie)".
            codename = _parenthesised_word(values.get("VERSION", ""))
        version_id = _debian_major(version_id)
        if not version_id:
            channel = DEBIAN_UNSTABLE if codename == DEBIAN_UNSTABLE else "testing"
    elif distro_id == "alpine" and (_alpine_prerelease(version_id) or pretty.endswith(" edge")):
        channel = "edge"
    elif distro_id == "centos" and "stream" in f"{values.get('NAME', '')} {pretty}".lower():
        channel = "stream"
    return Distro(
        id=distro_id, version_id=version_id, codename=codename, pretty_name=pretty, channel=channel
    )


def distro_from_debian_version(text: str) -> Distro | None:
    """/etc/debian_version: "12.5" (a release) or "trixie/sid" (testing) or "sid"."""
    line = _first_line(text)
    if not line:
        return None
    if line[0].isdigit():
        major = _debian_major(line)
        return Distro(id="debian", version_id=major) if major.isdigit() else None
    name, slash, _ = line.partition("/")
    name = name.lower()
    if name in (DEBIAN_UNSTABLE, "unstable"):
        return Distro(id="debian", codename=DEBIAN_UNSTABLE, channel=DEBIAN_UNSTABLE)
    if name == "testing":  # very old images: "testing/unstable"
        return Distro(id="debian", channel="testing")
    if slash and name.isalpha():
        return Distro(id="debian", codename=name, channel="testing")
    return None


def distro_from_alpine_release(text: str) -> Distro | None:
    """/etc/alpine-release: "3.10.4", or "3.20.0_alpha20240329" on edge."""
    line = _first_line(text)
    if line.lower() == "edge":
        return Distro(id="alpine", channel="edge")
    if not line or not line[0].isdigit():
        return None
    return Distro(id="alpine", version_id=line, channel="edge" if _alpine_prerelease(line) else "")


def distro_from_redhat_release(text: str) -> Distro | None:
    """/etc/redhat-release and its kin: "CentOS release 6.10 (Final)" -> centos 6.10.

    Amazon Linux 2023 writes its build ("2023.6.20241010"); like its os-release, the
    version is the release, "2023".
    """
    line = _first_line(text)
    match = _RELEASE_LINE.match(line)
    if match is None:
        return None
    name = match["name"].strip().lower()
    distro_id = next((i for prefix, i in _RELEASE_NAMES if name.startswith(prefix)), None)
    if distro_id is None:
        return None
    version = match["version"].rstrip(".")
    channel = ""
    if distro_id == "centos" and "stream" in name:
        channel = "stream"
    if distro_id == "amzn" and version.split(".")[0] in ("2022", "2023"):
        version = version.split(".")[0]
    return Distro(id=distro_id, version_id=version, pretty_name=line, channel=channel)


def detect_distro(files: Mapping[str, Distro]) -> Distro | None:
    """Merge the partial Distros of the final filesystem's release files into one.

    `files` maps release-file path to what that file said; unknown paths are ignored. Only
    the first os-release present counts (etc/ overrides usr/lib/, as the spec says); it
    names the distribution, and alpine-release/debian_version of that same distribution
    fill the fields it leaves empty. Without any os-release, those files speak alone.
    """
    os_release = next((files[p] for p in (ETC_OS_RELEASE, USR_OS_RELEASE) if p in files), None)
    extras = [files[p] for p in _EXTRA_FILES if p in files]
    if os_release is None:
        if not extras:
            return None
        os_release, extras = extras[0], extras[1:]
    chosen = os_release.id
    if chosen == "linux":  # os-release without ID: let a distribution's own file name it
        chosen = next((d.id for d in extras), chosen)
    ranked = [os_release, *(d for d in extras if d.id == chosen)]

    def first(field: str) -> str:
        return next((v for d in ranked if (v := getattr(d, field))), "")

    merged = Distro(
        id=chosen,
        version_id=first("version_id"),
        codename=first("codename"),
        pretty_name=first("pretty_name"),
        channel=first("channel"),
    )
    if merged.id == "debian" and merged.version_id and merged.channel == "testing":
        # A numbered release is not testing, whatever a stripped os-release implied.
        merged = replace(merged, channel="")
    return merged


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _debian_major(version: str) -> str:
    return version.split(".", 1)[0].strip()


def _alpine_prerelease(version: str) -> bool:
    return "_" in version


def _parenthesised_word(text: str) -> str:
    start, end = text.find("("), text.find(")")
    if start < 0 or end <= start:
        return ""
    words = text[start + 1 : end].split()
    return words[0].lower() if words else ""


@dataclass(frozen=True)
class OsReleaseAnalyzer(Analyzer):
    """Reads each release file into a partial Distro; `detect_distro` merges them."""

    name: ClassVar[str] = "os-release"
    version: ClassVar[int] = 2
    max_file_size: ClassVar[int] = 64 * 1024

    def wants(self, path: str) -> bool:
        return path in _WANTED

    def analyze(self, path: str, content: bytes) -> AnalysisResult:
        text = content.decode("utf-8", errors="replace")
        if path in _OS_RELEASE_FILES:
            values, warnings = parse_os_release(text)
            if not values:
                if text.strip():
                    raise AnalyzerError("not an os-release file: no KEY=value line")
                return AnalysisResult()
            return AnalysisResult(distro=distro_from_os_release(values), warnings=tuple(warnings))
        if path == ALPINE_RELEASE:
            distro = distro_from_alpine_release(text)
        elif path == DEBIAN_VERSION:
            distro = distro_from_debian_version(text)
        elif path in REDHAT_STYLE_FILES:
            distro = distro_from_redhat_release(text)
        else:
            return AnalysisResult()
        if distro is None and text.strip():
            line = _first_line(text)[:60]
            return AnalysisResult(warnings=(f"unrecognised release string {line!r}; ignored",))
        return AnalysisResult(distro=distro)
