"""Amazon Linux security advisories (ALAS) from the repositories' updateinfo.xml.

Amazon publishes its advisories as yum/dnf `updateinfo.xml.gz` in each release's core
repository, found through a mirror list: `mirror.list` -> `<mirror>/repodata/repomd.xml`
-> the `updateinfo` location. Each `<update>` is one ALAS::

    <update type="security"><id>ALAS2-2018-939</id><severity>critical</severity>
      <issued date="2018-01-11 21:05"/><references><reference type="cve" id="CVE-..."/>
      <pkglist><collection><package name="kernel" epoch="0" version="4.9.76"
        release="38.79.amzn2" arch="x86_64"/>...

and becomes one FIXED advisory per (binary package, CVE) with the fixed version
`[epoch:]version-release`. A location may be an updateinfo file (.xml or .xml.gz) or a
mirror list: a mirror list URL is resolved to its updateinfo URL before the builder fetches
(`resolve_location`), a mirror list file is followed while parsing.
The release comes from the ALAS id: ALAS- (AL1) -> amazon:1, ALAS2- -> amazon:2,
ALAS2022- -> amazon:2022, ALAS2023- -> amazon:2023. docs/db.md has the details.
"""

from __future__ import annotations

import gzip
import logging
import re
import tempfile
import xml.etree.ElementTree as ET
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from hullscan.db.feeds.base import Feed, Record
from hullscan.db.fetch import DEFAULT_TIMEOUT, fetch
from hullscan.errors import FeedError
from hullscan.model import Advisory, AffectedRange, FixStatus, Severity, Vulnerability

log = logging.getLogger(__name__)

#: The core repositories' mirror lists (x86_64: the advisories are the same for every arch).
MIRROR_LISTS: dict[str, str] = {
    "2": "https://cdn.amazonlinux.com/2/core/latest/x86_64/mirror.list",
    "2023": "https://cdn.amazonlinux.com/al2023/core/mirrors/latest/x86_64/mirror.list",
}
ALAS_SITE = "https://alas.aws.amazon.com"
_REPO_NS = "{http://linux.duke.edu/metadata/repo}"

# ALAS ids: ALAS-2018-1000 (AL1), ALAS2-2018-939, ALAS2022-2021-001, ALAS2023-2023-001.
# AL2 "extras" topics (ALAS2KERNEL-5.10-2022-001, ALAS2DOCKER-...) ship other builds of
# the same package names (kernel 5.10 next to core's 4.14), so they are not core advisories.
_ALAS_ID = re.compile(r"ALAS(?P<release>2023|2022|2)?-(?P<year>\d{4})-(?P<number>\d+)")
_SEVERITY: dict[str, Severity] = {
    "critical": Severity.CRITICAL,
    "important": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "moderate": Severity.MEDIUM,
    "low": Severity.LOW,
}


def alas_link(alas_id: str) -> str:
    """The ALAS page: ALAS2-2018-939 -> https://alas.aws.amazon.com/AL2/ALAS-2018-939.html."""
    match = _ALAS_ID.fullmatch(alas_id)
    if match is None:
        return f"{ALAS_SITE}/{alas_id}.html"
    page = f"ALAS-{match['year']}-{match['number']}.html"
    release = match["release"]
    return f"{ALAS_SITE}/AL{release}/{page}" if release else f"{ALAS_SITE}/{page}"


def updateinfo_url(where: str, mirror_list: str, get_text: Callable[[str], str]) -> str:
    """The updateinfo URL of the first mirror (one repository URL a line) that answers.

    `<mirror>/repodata/repomd.xml` names it (`<data type="updateinfo"><location href>`), as
    dnf finds it. FeedError names `where` (the mirror list) and every mirror's problem.
    """
    mirrors = [m.strip() for m in mirror_list.splitlines() if m.strip() and not m.startswith("#")]
    if not mirrors or not all(m.startswith(("https://", "http://")) for m in mirrors):
        raise FeedError(
            f"{where}: neither updateinfo XML nor a mirror list (one repository URL a line)"
        )
    problems: list[str] = []
    for mirror in mirrors:
        base = mirror.rstrip("/")
        try:
            href = _updateinfo_href(get_text(f"{base}/repodata/repomd.xml"))
        except FeedError as exc:
            problems.append(str(exc))
            continue
        return f"{base}/{href.lstrip('/')}"
    raise FeedError(f"{where}: no mirror gave an updateinfo: " + "; ".join(problems))


def _updateinfo_href(repomd: str) -> str:
    try:
        root = ET.fromstring(repomd)
    except ET.ParseError as exc:
        raise FeedError(f"not a repomd.xml ({exc})") from None
    for data in root.iter(f"{_REPO_NS}data"):
        if data.get("type") == "updateinfo":
            location = data.find(f"{_REPO_NS}location")
            href = location.get("href") if location is not None else None
            if href:
                return href
    raise FeedError("repomd.xml lists no updateinfo")


def evr(epoch: str | None, version: str, release: str) -> str:
    """rpm's `[epoch:]version-release`; epoch 0 is rpm's default and left out."""
    epoch = (epoch or "").strip()
    prefix = f"{epoch}:" if epoch and epoch != "0" else ""
    return f"{prefix}{version}-{release}"


@dataclass
class _Fix:
    """What the updates say about one (namespace, package, CVE)."""

    versions: list[str] = field(default_factory=list)
    latest: tuple[str, str, str] = ("", "", "")  # (issued, updated, ALAS id) of the newest
    fixed: str = ""
    severity: Severity = Severity.UNKNOWN


class AmazonAlasFeed(Feed):
    """Amazon Linux 2 and 2023 (and AL1/AL2022 when given) security updates."""

    name = "amazon"
    description = "Amazon Linux ALAS (updateinfo)"
    file_patterns = ("*updateinfo*.xml", "*updateinfo*.xml.gz", "*mirror.list")

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        #: Why updates were left out, counted: shown in the log, checked by the tests.
        self.skipped: Counter[str] = Counter()

    def default_locations(self) -> list[str]:
        return list(MIRROR_LISTS.values())

    def parse(self, files: Sequence[Path]) -> Iterator[Record]:
        fixes: dict[tuple[str, str, str], _Fix] = {}
        links: dict[str, list[str]] = {}
        for path in files:
            for update in self._updates(path):
                self._collect(update, fixes, links)
        if self.skipped:
            log.info("amazon feed: skipped %s", dict(sorted(self.skipped.items())))
        for (namespace, package, vuln_id), fix in sorted(fixes.items()):
            yield Advisory(
                namespace=namespace,
                package=package,
                vuln_id=vuln_id,
                # One interval per fixed version: several ALAS (a fix, then a fix of the
                # fix) or arches may name different versions; the union is "< the highest".
                ranges=tuple(AffectedRange(fixed=v) for v in sorted(fix.versions)),
                status=FixStatus.FIXED,
                fixed_version=fix.fixed,
                severity=fix.severity,
                severity_source="amazon" if fix.severity is not Severity.UNKNOWN else "",
                source=self.name,
            )
        for vuln_id in sorted(links):
            yield Vulnerability(id=vuln_id, urls=tuple(links[vuln_id]))

    def _collect(
        self,
        update: _Update,
        fixes: dict[tuple[str, str, str], _Fix],
        links: dict[str, list[str]],
    ) -> None:
        when = (update.issued, update.updated, update.id)
        for vuln_id in update.vuln_ids:
            link = alas_link(update.id)
            known = links.setdefault(vuln_id, [])
            if link not in known:
                known.append(link)
            for package, version in update.packages:
                fix = fixes.setdefault((update.namespace, package, vuln_id), _Fix())
                if version not in fix.versions:
                    fix.versions.append(version)
                if when >= fix.latest:  # the newest ALAS states the current fix
                    fix.latest, fix.fixed, fix.severity = when, version, update.severity

    # -- reading ------------------------------------------------------------------------

    def _updates(self, path: Path) -> Iterator[_Update]:
        """Every security update of one location: updateinfo (.xml/.gz) or a mirror list."""
        try:
            with path.open("rb") as fh:
                head = fh.read(512)
        except OSError as exc:
            raise self.error(path, f"cannot read: {exc.strerror or exc}") from None
        if head.startswith(b"\x1f\x8b") or head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
            yield from self._updateinfo(path, path)
            return
        yield from self._follow_mirror_list(path)

    def resolve_location(self, location: str, get_text: Callable[[str], str]) -> str:
        """A mirror list URL -> the updateinfo URL its first working mirror names.

        Called by the builder before fetching, so what is downloaded, fingerprinted and
        parsed is the updateinfo itself. Any other URL is fetched as given.
        """
        if not urlsplit(location).path.endswith("mirror.list"):
            return location
        return updateinfo_url(location, get_text(location), get_text)

    def _follow_mirror_list(self, path: Path) -> Iterator[_Update]:
        """A mirror list given as a file: resolve it here, then parse what it names."""
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise self.error(path, f"cannot read as a mirror list: {exc}") from None
        with tempfile.TemporaryDirectory(prefix="hullscan-alas-") as tmp:
            work = Path(tmp)
            downloads = iter(range(1 << 30))

            def get_text(url: str) -> str:
                got = fetch(url, work / str(next(downloads)), timeout=self.timeout)
                return got[0].read_text(encoding="utf-8", errors="replace")

            try:
                url = updateinfo_url(str(path), text, get_text)
                info = fetch(url, work / "updateinfo", timeout=self.timeout)
            except FeedError as exc:
                raise FeedError(f"{self.name} feed: {exc}") from None
            # Parse while the download exists; errors name the URL the user can check.
            yield from self._updateinfo(info[0], url)

    def _updateinfo(self, path: Path, where: Path | str) -> Iterator[_Update]:
        """Stream one updateinfo.xml(.gz): one `<update>` in memory at a time."""
        try:
            with path.open("rb") as raw:
                stream: IO[bytes] | gzip.GzipFile = raw
                if raw.read(2) == b"\x1f\x8b":
                    raw.seek(0)
                    stream = gzip.GzipFile(fileobj=raw)
                else:
                    raw.seek(0)
                root: ET.Element | None = None
                for event, elem in ET.iterparse(stream, events=("start", "end")):
                    if root is None:
                        root = elem
                        if elem.tag != "updates":
                            raise self._error(where, f"expected <updates>, got <{elem.tag}>")
                        continue
                    if event == "end" and elem.tag == "update":
                        update = self._update(where, elem)
                        root.clear()  # keep memory flat on a 20 MB updateinfo
                        if update is not None:
                            yield update
                if root is None:
                    raise self._error(where, "empty file")
        except ET.ParseError as exc:
            line, column = exc.position
            raise self._error(where, f"invalid XML at line {line} column {column}") from None
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise self._error(where, f"truncated or corrupt gzip ({exc})") from None
        except OSError as exc:
            raise self._error(where, f"cannot read: {exc.strerror or exc}") from None

    def _error(self, where: Path | str, problem: str) -> FeedError:
        return FeedError(f"{self.name} feed: {where}: {problem}")

    def _update(self, where: Path | str, elem: ET.Element) -> _Update | None:
        alas_id = (elem.findtext("id") or "").strip()
        if not alas_id:
            raise self._error(where, "an <update> without <id>")
        if elem.get("type", "security") != "security":
            self.skipped[f"{elem.get('type')} updates"] += 1
            return None
        match = _ALAS_ID.fullmatch(alas_id)
        if match is None:
            if alas_id.startswith("ALAS"):
                self.skipped["AL2 extras updates"] += 1
                return None
            raise self._error(where, f"{alas_id}: not an ALAS id, cannot tell the release")
        namespace = f"amazon:{match['release'] or '1'}"
        vuln_ids = [
            ref.get("id", "").strip()
            for ref in elem.iter("reference")
            if ref.get("type") == "cve" and ref.get("id", "").strip()
        ]
        packages: list[tuple[str, str]] = []
        for pkg in elem.iter("package"):
            name, version, release = pkg.get("name"), pkg.get("version"), pkg.get("release")
            if not name or not version or not release:
                raise self._error(where, f"{alas_id}: a <package> without name, version or release")
            fixed = evr(pkg.get("epoch"), version, release)
            if (name, fixed) not in packages:
                packages.append((name, fixed))
        if not packages:
            raise self._error(where, f"{alas_id}: no <package> in <pkglist>")
        issued = elem.find("issued")
        updated = elem.find("updated")
        severity = _SEVERITY.get((elem.findtext("severity") or "").strip().lower())
        return _Update(
            id=alas_id,
            namespace=namespace,
            # An ALAS without CVE references still fixes something: keep it under its own id.
            vuln_ids=tuple(dict.fromkeys(vuln_ids)) or (alas_id,),
            packages=tuple(packages),
            severity=severity or Severity.UNKNOWN,
            issued=(issued.get("date", "") if issued is not None else "").strip(),
            updated=(updated.get("date", "") if updated is not None else "").strip(),
        )


@dataclass(frozen=True)
class _Update:
    """The parts of one ALAS the advisories need."""

    id: str
    namespace: str
    vuln_ids: tuple[str, ...]
    packages: tuple[tuple[str, str], ...]  # (binary name, fixed EVR)
    severity: Severity
    issued: str
    updated: str
