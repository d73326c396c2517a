"""Ubuntu's OSV feed (canonical/ubuntu-security-notices, `osv/cve/**/UBUNTU-CVE-*.json`).

Input: the official tarball https://security-metadata.canonical.com/osv/osv-all.tar.xz
(read member by member, never unpacked to disk), a checkout of the repository (every
UBUNTU-CVE-*.json below a directory) or single record files. One OSV record per CVE::

    {id: UBUNTU-CVE-2021-3782, upstream: [CVE-2021-3782], details, severity: [{type: Ubuntu,
     score: medium}, ...], affected: [{package: {ecosystem: "Ubuntu:22.04:LTS", name,
     purl: "pkg:deb/ubuntu/wayland@...?arch=source&distro=jammy"}, ranges: [{type: ECOSYSTEM,
     events: [{introduced: "0"}, {fixed: "1.20.0-1ubuntu0.1"}]}], versions: [...]}]}

Package names are SOURCE packages (the purl says `arch=source`; the binaries built from it
are listed in `ecosystem_specific.binaries`), which is what the OS matcher looks up. The
release comes from the ecosystem (`Ubuntu:22.04:LTS`, `Ubuntu:25.10` -> ubuntu:22.04,
ubuntu:25.10); Ubuntu Pro/ESM and its sub-tiers (`Ubuntu:Pro:...`, FIPS, Realtime,
BlueField) are skipped: they are other builds, only on subscribed machines. The mapping of
events, priorities and statuses is documented in docs/db.md.
"""

from __future__ import annotations

import bz2
import gzip
import logging
import lzma
import re
import tarfile
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, cast

from hullscan.db.feeds.base import Feed, Record, json_kind
from hullscan.db.feeds.osv_records import events_to_ranges as _events
from hullscan.db.feeds.osv_records import fix_summary
from hullscan.model import Advisory, AffectedRange, Severity, Vulnerability
from hullscan.versions.dpkg import compare_dpkg

log = logging.getLogger(__name__)

OSV_ALL_URL = "https://security-metadata.canonical.com/osv/osv-all.tar.xz"
UBUNTU_CVE_LINK = "https://ubuntu.com/security/{}"
RECORD_PATTERN = "UBUNTU-CVE-*.json"
_ARCHIVE_SUFFIXES = (".tar", ".tar.xz", ".txz", ".tar.gz", ".tgz", ".tar.bz2")

# `Ubuntu:<YY.MM>` plus `:LTS` once an LTS is released; anything between `Ubuntu` and the
# version (Pro, Pro:FIPS-updates, Nvidia-BlueField, ...) is a separately built channel.
_BASE_ECOSYSTEM = re.compile(r"Ubuntu:(\d+\.\d+)(?::LTS)?")
_CVE = re.compile(r"CVE-\d{4}-\d{4,}")
_PRIORITY: dict[str, Severity] = {
    "negligible": Severity.NEGLIGIBLE,
    "low": Severity.LOW,
    "medium": Severity.MEDIUM,
    "high": Severity.HIGH,
    "critical": Severity.CRITICAL,
}
# How Canonical passes on the CVE program's rejection in `details`: not a vulnerability.
_REJECTED = ("** reject **", "rejected reason:")
_UNFIXED = (AffectedRange(),)

Key = tuple[str, str, str]


class UbuntuOsvFeed(Feed):
    """Ubuntu's CVE records in OSV format, for every release Canonical publishes."""

    name = "ubuntu"
    description = "Ubuntu OSV (ubuntu-security-notices)"
    file_patterns = (RECORD_PATTERN, *(f"*{suffix}" for suffix in _ARCHIVE_SUFFIXES))

    def __init__(self) -> None:
        #: Why entries were left out, counted: shown in the log, checked by the tests.
        self.skipped: Counter[str] = Counter()

    def default_locations(self) -> list[str]:
        return [OSV_ALL_URL]

    def parse(self, files: Sequence[Path]) -> Iterator[Record]:
        # A record given twice (tarball + a local correction) is replaced as a whole: a later
        # file wins per OSV id, so a corrected record can also drop a package.
        records: dict[str, tuple[list[Advisory], Vulnerability]] = {}
        seen_records = 0
        for path in files:
            for where, data in self._documents(path):
                seen_records += 1
                parsed = self._record(path, where, data)
                if parsed is not None:
                    osv_id, advisories, vulnerability = parsed
                    records[osv_id] = (advisories, vulnerability)
        if files and not seen_records:
            raise self.error(files[0], f"no {RECORD_PATTERN} records found")
        if self.skipped:
            log.info("ubuntu feed: skipped %s", dict(sorted(self.skipped.items())))
        unique: dict[Key, Advisory] = {}
        vulnerabilities: dict[str, Vulnerability] = {}
        for advisories, vulnerability in records.values():
            for advisory in advisories:
                unique[(advisory.namespace, advisory.package, advisory.vuln_id)] = advisory
            vulnerabilities[vulnerability.id] = vulnerability
        for key in sorted(unique):
            yield unique[key]
        for vuln_id in sorted(vulnerabilities):
            yield vulnerabilities[vuln_id]

    def _documents(self, path: Path) -> Iterator[tuple[str, Any]]:
        """(where, parsed JSON) of every record in one file: a record or an archive of them."""
        if not path.name.lower().endswith(_ARCHIVE_SUFFIXES):
            yield "", self.load_json(path)
            return
        try:
            # One pass, members read as they come. Decompression is left to lzma/gzip/bz2
            # file objects, which hand tarfile small reads: tarfile's own "r|xz" keeps
            # re-slicing one growing buffer and is quadratic on well-compressed input.
            with _decompressed(path) as raw, tarfile.open(fileobj=raw, mode="r|") as archive:
                for member in archive:
                    name = PurePosixPath(member.name).name
                    if not member.isfile() or not fnmatchcase(name, RECORD_PATTERN):
                        continue  # USN-*, LSN-* notices and directories
                    stream = archive.extractfile(member)
                    if stream is None:
                        continue
                    yield member.name, self.decode_json(path, stream.read(), member.name)
        except (tarfile.TarError, EOFError, lzma.LZMAError, zlib.error, gzip.BadGzipFile) as exc:
            problem = f"not a readable tar archive ({exc or type(exc).__name__})"
            raise self.error(path, problem) from None
        except OSError as exc:
            raise self.error(path, f"cannot read: {exc.strerror or exc}") from None

    def _record(
        self, path: Path, where: str, data: Any
    ) -> tuple[str, list[Advisory], Vulnerability] | None:
        """One OSV record -> (its id, its advisories, its Vulnerability), None to skip it."""
        prefix = f"{where}: " if where else ""
        if not isinstance(data, dict):
            raise self.error(path, f"{prefix}expected an OSV object, got {json_kind(data)}")
        osv_id = data.get("id")
        if not isinstance(osv_id, str) or not osv_id.strip():
            raise self.error(path, f"{prefix}OSV record without an 'id'")
        osv_id = osv_id.strip()
        prefix = f"{where}: {osv_id}: " if where else f"{osv_id}: "
        if not osv_id.startswith("UBUNTU-"):
            self.skipped["not an UBUNTU-CVE record (USN/LSN notice)"] += 1
            return None
        details = data.get("details")
        details = details.strip() if isinstance(details, str) else ""
        if details.lower().startswith(_REJECTED):
            self.skipped["rejected by the CVE program"] += 1
            return None
        vuln_id = _vuln_id(osv_id, data.get("upstream"))
        severity = _priority(data.get("severity"))
        affected = data.get("affected")
        affected = [] if affected is None else affected
        if not isinstance(affected, list):
            raise self.error(path, f"{prefix}'affected' is {json_kind(affected)}, not a list")

        ranges_by_key: dict[Key, list[AffectedRange]] = {}
        for index, entry in enumerate(affected):
            package = entry.get("package") if isinstance(entry, dict) else None
            ecosystem = package.get("ecosystem") if isinstance(package, dict) else None
            name = package.get("name") if isinstance(package, dict) else None
            if not isinstance(ecosystem, str) or not isinstance(name, str) or not name.strip():
                raise self.error(
                    path, f"{prefix}affected[{index}]: expected {{package: {{ecosystem, name}}}}"
                )
            assert isinstance(entry, dict)
            release = _BASE_ECOSYSTEM.fullmatch(ecosystem.strip())
            if release is None:
                channel = ecosystem.split(":")[1] if ecosystem.startswith("Ubuntu:") else ""
                self.skipped[f"{channel or ecosystem} entries"] += 1
                continue
            try:
                ranges = _ranges(entry)
            except ValueError as exc:
                raise self.error(path, f"{prefix}affected[{index}] ({name}): {exc}") from None
            key = (f"ubuntu:{release[1]}", name.strip(), vuln_id)
            merged = ranges_by_key.setdefault(key, [])
            merged.extend(r for r in ranges if r not in merged)

        advisories: list[Advisory] = []
        for (namespace, package, _), ranges in ranges_by_key.items():
            # OSV folds Ubuntu's needed/deferred/ignored into "no fix": AFFECTED
            status, fixed = fix_summary(ranges, compare_dpkg)
            advisories.append(
                Advisory(
                    namespace=namespace,
                    package=package,
                    vuln_id=vuln_id,
                    ranges=tuple(ranges),
                    status=status,
                    fixed_version=fixed,
                    severity=severity,
                    severity_source="ubuntu" if severity is not Severity.UNKNOWN else "",
                    source=self.name,
                )
            )
        vulnerability = Vulnerability(
            id=vuln_id,
            description=details,
            aliases=(osv_id,) if osv_id != vuln_id else (),
            urls=(UBUNTU_CVE_LINK.format(vuln_id),),
        )
        return osv_id, advisories, vulnerability


def _decompressed(path: Path) -> BinaryIO:
    """The archive's tar stream, whatever compression its first bytes announce."""
    with path.open("rb") as fh:
        magic = fh.read(6)
    if magic.startswith(b"\xfd7zXZ\x00"):
        return cast(BinaryIO, lzma.open(path, "rb"))
    if magic.startswith(b"\x1f\x8b"):
        return cast(BinaryIO, gzip.open(path, "rb"))
    if magic.startswith(b"BZh"):
        return cast(BinaryIO, bz2.open(path, "rb"))
    return path.open("rb")


def _vuln_id(osv_id: str, upstream: Any) -> str:
    """The CVE a record is about: its single upstream CVE, else its id without UBUNTU-."""
    cves = [u for u in upstream if isinstance(u, str) and _CVE.fullmatch(u)] if upstream else []
    if isinstance(upstream, list) and len(cves) == 1:
        return str(cves[0])
    return osv_id.removeprefix("UBUNTU-")


def _priority(severity: Any) -> Severity:
    """Ubuntu's priority (severity type "Ubuntu"); CVSS vectors are NVD's business."""
    if not isinstance(severity, list):
        return Severity.UNKNOWN
    for entry in severity:
        if isinstance(entry, Mapping) and entry.get("type") == "Ubuntu":
            return _PRIORITY.get(str(entry.get("score", "")).strip().lower(), Severity.UNKNOWN)
    return Severity.UNKNOWN


def _ranges(entry: Mapping[str, Any]) -> list[AffectedRange]:
    """OSV ECOSYSTEM ranges as AffectedRanges; exact `versions` only when there is no range.

    Canonical writes the affected versions next to every range; the range already covers
    them (and every later unfixed upload), so they only matter on their own.
    """
    raw_ranges = entry.get("ranges") or []
    versions = entry.get("versions") or []
    if not isinstance(raw_ranges, list) or not isinstance(versions, list):
        raise ValueError("'ranges' and 'versions' must be lists")
    ranges: list[AffectedRange] = []
    for raw in raw_ranges:
        if not isinstance(raw, dict) or not isinstance(raw.get("events"), list):
            raise ValueError("a range without an 'events' list")
        if raw.get("type") != "ECOSYSTEM":
            continue  # GIT/SEMVER ranges say nothing about Ubuntu's package versions
        ranges.extend(_events(raw["events"]))
    if ranges:
        return ranges
    exact = [v.strip() for v in versions if isinstance(v, str) and v.strip()]
    if exact:
        return [AffectedRange(introduced=v, last_affected=v) for v in exact]
    return list(_UNFIXED)  # the package is named as affected, with no bound at all
