"""OSV advisories for language packages: PyPI, npm, Maven, Go, crates.io, RubyGems, Packagist,
NuGet - one feed per ecosystem (`osv-pypi`, `osv-npm`, ...), one parser for all.

Input, in any mix: osv.dev's per-ecosystem export
`https://osv-vulnerabilities.storage.googleapis.com/<Ecosystem>/all.zip` (the default, read
member by member), directories of OSV records as JSON or YAML (a checkout of
pypa/advisory-database, github/advisory-database, golang/vulndb, rustsec's OSV export...)
and single record files. A feed keeps the `affected[]` entries of its own ecosystem, so
one GitHub advisory-database checkout can feed every `osv-*` feed.

What a record becomes (the rules live in osv_records, shared with the Ubuntu feed):

- one Advisory per (package, vulnerability) in the ecosystem's namespace (`pypi`, ...),
  with the package name normalised (PEP 503 for PyPI), ranges from ECOSYSTEM/SEMVER events
  (GIT ignored) plus exact `versions` the ranges miss; FIXED with the highest fix when
  every interval is fixed, else AFFECTED;
- withdrawn records are skipped; records about one issue (linked by `aliases`: PYSEC and
  GHSA for one CVE) are merged at build time under one id - the CVE when there is one -
  with the union of their ranges; every other id goes to `Vulnerability.aliases`;
- severity: the CVSS vector (v3, else v4, else v2) computed with the `cvss` library,
  `severity_source` "osv:cvss_v3"...; else the database's own word (GHSA's
  `database_specific.severity`), `severity_source` its name ("ghsa"); else UNKNOWN, left
  for NVD. An `affected[]` entry's own severity wins over the record's.

A record this parser cannot read (not an object, no id, `affected` not a list of
`{package: {ecosystem, name}}`, malformed events or severities) fails the build with a
FeedError naming the file, the archive member and the record.
"""

from __future__ import annotations

import logging
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from hullscan.db.feeds.base import Feed, Record, json_kind
from hullscan.db.feeds.osv_ecosystems import BY_OSV_NAME, Ecosystem, normalize_name
from hullscan.db.feeds.osv_records import (
    canonical_ids,
    cvss_scores,
    database_name,
    fix_summary,
    ranges_of,
    severity_word,
    usable,
)
from hullscan.model import Advisory, AffectedRange, CvssScore, Severity, Vulnerability
from hullscan.versions.base import Comparator
from hullscan.versions.registry import comparator

log = logging.getLogger(__name__)

OSV_LINK = "https://osv.dev/vulnerability/{}"
_BASE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _OsvYamlLoader(_BASE_LOADER):  # type: ignore[misc]
    """YAML with every scalar a string (``1.10`` is a version, not a float), nulls kept."""


_OsvYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag == "tag:yaml.org,2002:null"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ZIP_MAGIC = b"PK\x03\x04"
# A severity source's rank: a vector beats a database's word (lower is better).
_SOURCE_RANK = {"osv:cvss_v3": 0, "osv:cvss_v4": 1, "osv:cvss_v2": 2}


@dataclass
class _Package:
    """What one record says about one package: its intervals and its own severity."""

    ranges: list[AffectedRange] = field(default_factory=list)
    severity: Severity = Severity.UNKNOWN
    severity_source: str = ""


@dataclass
class _Record:
    """The parts of one OSV record the DB keeps."""

    id: str
    aliases: tuple[str, ...]
    description: str
    urls: tuple[str, ...]
    published: str
    cwes: tuple[str, ...]
    cvss: tuple[CvssScore, ...]
    severity: Severity
    severity_source: str
    packages: dict[str, _Package]


class OsvFeed(Feed):
    """OSV records of one language ecosystem (subclasses name it)."""

    ecosystem: ClassVar[Ecosystem]
    file_patterns = ("*.json", "*.yaml", "*.yml", "*.zip")

    def __init__(self) -> None:
        #: Why entries were left out, counted: shown in the log, checked by the tests.
        self.skipped: Counter[str] = Counter()
        self._compare: Comparator = comparator(self.ecosystem.scheme)

    def default_locations(self) -> list[str]:
        return [self.ecosystem.url]

    def parse(self, files: Sequence[Path]) -> Iterator[Record]:
        # Later files win per OSV id (an export plus a local correction of one record).
        records: dict[str, _Record] = {}
        seen = 0
        for path in files:
            for where, data in self._documents(path):
                seen += 1
                record = self._record(path, where, data)
                if record is not None:
                    records[record.id] = record
        if files and not seen:
            raise self.error(files[0], "no OSV records found")
        if self.skipped:
            log.info("%s feed: skipped %s", self.name, dict(sorted(self.skipped.items())))
        yield from self._merged(records)

    # -- reading -------------------------------------------------------------------------

    def _documents(self, path: Path) -> Iterator[tuple[str, Any]]:
        """(where, parsed record) of every record in one file: JSON, YAML or a zip of them."""
        try:
            with path.open("rb") as fh:
                magic = fh.read(4)
        except OSError as exc:
            raise self.error(path, f"cannot read: {exc.strerror or exc}") from None
        if magic == _ZIP_MAGIC:
            yield from self._zip_members(path)
        elif path.suffix.lower() in (".yaml", ".yml"):
            yield "", self._load_yaml(path)
        else:
            yield "", self.load_json(path)

    def _zip_members(self, path: Path) -> Iterator[tuple[str, Any]]:
        try:
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    if info.is_dir() or not info.filename.lower().endswith(".json"):
                        continue
                    payload = archive.read(info)
                    yield info.filename, self.decode_json(path, payload, info.filename)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
            raise self.error(path, f"not a readable zip archive ({exc})") from None
        except OSError as exc:
            raise self.error(path, f"cannot read: {exc.strerror or exc}") from None

    def _load_yaml(self, path: Path) -> Any:
        try:
            with path.open("rb") as fh:
                return yaml.load(fh, Loader=_OsvYamlLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or exc
            raise self.error(path, f"invalid YAML{where}: {problem}") from None
        except UnicodeDecodeError as exc:
            raise self.error(path, f"not UTF-8 text ({exc.reason})") from None
        except OSError as exc:
            raise self.error(path, f"cannot read: {exc.strerror or exc}") from None

    # -- one record ----------------------------------------------------------------------

    def _count(self, reason: str, count: int) -> None:
        if count:
            self.skipped[reason] += count

    def _record(self, path: Path, where: str, data: Any) -> _Record | None:
        prefix = f"{where}: " if where else ""
        if not isinstance(data, dict):
            raise self.error(path, f"{prefix}expected an OSV object, got {json_kind(data)}")
        osv_id = data.get("id")
        if not isinstance(osv_id, str) or not osv_id.strip():
            raise self.error(path, f"{prefix}OSV record without an 'id'")
        osv_id = osv_id.strip()
        prefix = f"{prefix}{osv_id}: "
        try:
            return self._parse_record(osv_id, data)
        except ValueError as exc:
            raise self.error(path, f"{prefix}{exc}") from None

    def _parse_record(self, osv_id: str, data: dict[str, Any]) -> _Record | None:
        if data.get("withdrawn"):
            self.skipped["withdrawn"] += 1
            return None
        affected = data.get("affected")
        affected = [] if affected is None else affected
        if not isinstance(affected, list):
            raise ValueError(f"'affected' is {json_kind(affected)}, not a list")
        source = database_name(osv_id)
        record_scores, bad = cvss_scores(data.get("severity"), source)
        self._count("unusable CVSS vectors", bad)
        severity, severity_source = _severity(record_scores, data.get("database_specific"), source)

        packages: dict[str, _Package] = {}
        for index, entry in enumerate(affected):
            package = entry.get("package") if isinstance(entry, dict) else None
            ecosystem = package.get("ecosystem") if isinstance(package, dict) else None
            name = package.get("name") if isinstance(package, dict) else None
            if not isinstance(ecosystem, str) or not isinstance(name, str) or not name.strip():
                raise ValueError(f"affected[{index}]: expected {{package: {{ecosystem, name}}}}")
            assert isinstance(entry, dict)
            if BY_OSV_NAME.get(ecosystem.strip()) is not self.ecosystem:
                continue  # another ecosystem's entry (a GHSA checkout holds them all)
            try:
                ranges, git = ranges_of(entry, self._compare)
                entry_scores, bad = cvss_scores(entry.get("severity"), source)
            except ValueError as exc:
                raise ValueError(f"affected[{index}] ({name}): {exc}") from None
            self._count("unusable CVSS vectors", bad)
            ranges, dropped = usable(ranges, self._compare)
            self._count(f"ranges with versions {self.ecosystem.scheme} cannot read", dropped)
            if not ranges:
                reason = "only GIT ranges" if git else "no version ranges or versions"
                self.skipped[f"affected entries with {reason}"] += 1
                continue
            specific = entry.get("ecosystem_specific")
            entry_severity, entry_source = _severity(entry_scores, specific, source)
            if entry_severity is Severity.UNKNOWN:
                entry_severity, entry_source = _severity([], entry.get("database_specific"), source)
            merged = packages.setdefault(normalize_name(self.ecosystem, name), _Package())
            merged.ranges.extend(r for r in ranges if r not in merged.ranges)
            if entry_severity is not Severity.UNKNOWN:
                merged.severity, merged.severity_source = entry_severity, entry_source
        if not packages:
            self.skipped[f"records without {self.ecosystem.osv} packages"] += 1
            return None
        return _Record(
            id=osv_id,
            aliases=_strings(data.get("aliases"), "aliases"),
            description=_text(data.get("details")) or _text(data.get("summary")),
            urls=_reference_urls(data.get("references")),
            published=_text(data.get("published")),
            cwes=_cwes(data.get("database_specific")),
            cvss=tuple(record_scores),
            severity=severity,
            severity_source=severity_source,
            packages=packages,
        )

    # -- merging records about one issue -------------------------------------------------

    def _merged(self, records: dict[str, _Record]) -> Iterator[Record]:
        canonical = canonical_ids({r.id: r.aliases for r in records.values()})
        by_issue: dict[str, list[_Record]] = {}
        for record in records.values():
            by_issue.setdefault(canonical[record.id], []).append(record)
        advisories: list[Advisory] = []
        vulnerabilities: list[Vulnerability] = []
        for vuln_id, group in sorted(by_issue.items()):
            # GHSA first (its summaries and CVSS vectors are reviewed), then by id.
            group.sort(key=lambda r: (not r.id.startswith("GHSA-"), r.id))
            advisories.extend(self._advisories(vuln_id, group))
            vulnerabilities.append(_vulnerability(vuln_id, group))
        advisories.sort(key=lambda a: (a.package, a.vuln_id))
        yield from advisories
        yield from vulnerabilities

    def _advisories(self, vuln_id: str, group: list[_Record]) -> Iterator[Advisory]:
        names = sorted({name for record in group for name in record.packages})
        for name in names:
            ranges: list[AffectedRange] = []
            best: tuple[Severity, str] = (Severity.UNKNOWN, "")
            for record in group:
                package = record.packages.get(name)
                if package is None:
                    continue
                ranges.extend(r for r in package.ranges if r not in ranges)
                candidate: tuple[Severity, str]
                if package.severity is not Severity.UNKNOWN:
                    candidate = (package.severity, package.severity_source)
                else:
                    candidate = (record.severity, record.severity_source)
                best = _better(best, candidate)
            status, fixed = fix_summary(ranges, self._compare)
            yield Advisory(
                namespace=self.ecosystem.namespace,
                package=name,
                vuln_id=vuln_id,
                ranges=tuple(ranges),
                status=status,
                fixed_version=fixed,
                severity=best[0],
                severity_source=best[1],
                source=self.name,
            )


def _severity(scores: Sequence[CvssScore], specific: Any, source: str) -> tuple[Severity, str]:
    """The first scored vector's rating, else a database's word, with who said so."""
    for score in scores:
        if score.severity is not Severity.UNKNOWN:
            return score.severity, f"osv:cvss_v{score.version[0]}"
    if isinstance(specific, dict):
        word = severity_word(specific.get("severity"))
        if word is not Severity.UNKNOWN:
            return word, source
    return Severity.UNKNOWN, ""


def _better(current: tuple[Severity, str], candidate: tuple[Severity, str]) -> tuple[Severity, str]:
    """Of two records' ratings: a vector's over a word; between equals, the higher."""
    if candidate[0] is Severity.UNKNOWN:
        return current
    if current[0] is Severity.UNKNOWN:
        return candidate
    rank_now = _SOURCE_RANK.get(current[1], 9)
    rank_new = _SOURCE_RANK.get(candidate[1], 9)
    if rank_new != rank_now:
        return candidate if rank_new < rank_now else current
    return candidate if candidate[0] > current[0] else current


def _vulnerability(vuln_id: str, group: list[_Record]) -> Vulnerability:
    ids = [r.id for r in group]
    aliases = [a for r in group for a in (r.id, *r.aliases)]
    return Vulnerability(
        id=vuln_id,
        description=next((r.description for r in group if r.description), ""),
        aliases=tuple(dict.fromkeys(a for a in sorted(aliases) if a != vuln_id)),
        urls=tuple(
            dict.fromkeys([*(OSV_LINK.format(i) for i in ids), *(u for r in group for u in r.urls)])
        ),
        cvss=tuple(dict.fromkeys(c for r in group for c in r.cvss)),
        cwes=tuple(dict.fromkeys(c for r in group for c in r.cwes)),
        published=min((r.published for r in group if r.published), default=""),
    )


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"'{what}' is not a list of strings")
    return tuple(dict.fromkeys(v.strip() for v in value if v.strip()))


def _reference_urls(references: Any) -> tuple[str, ...]:
    if not isinstance(references, list):
        return ()
    urls = (r.get("url") for r in references if isinstance(r, dict))
    return tuple(dict.fromkeys(u.strip() for u in urls if isinstance(u, str) and u.strip()))


def _cwes(specific: Any) -> tuple[str, ...]:
    """GHSA's `database_specific.cwe_ids` (["CWE-434"])."""
    if not isinstance(specific, dict) or not isinstance(specific.get("cwe_ids"), list):
        return ()
    return tuple(c for c in specific["cwe_ids"] if isinstance(c, str) and c.startswith("CWE-"))


def _feed_class(ecosystem: Ecosystem) -> type[OsvFeed]:
    """A Feed subclass per ecosystem: the registry maps a name to a class it instantiates."""
    attrs = {
        "name": ecosystem.feed,
        "description": f"OSV advisories for {ecosystem.osv} packages",
        "ecosystem": ecosystem,
        "__doc__": f"OSV records of the {ecosystem.osv} ecosystem ({ecosystem.namespace}).",
    }
    return type(f"Osv{ecosystem.namespace.title().replace('.', '')}Feed", (OsvFeed,), attrs)


OSV_FEEDS: tuple[type[OsvFeed], ...] = tuple(_feed_class(e) for e in BY_OSV_NAME.values())
