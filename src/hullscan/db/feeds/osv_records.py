"""OSV semantics in one place: events -> ranges, `versions` lists, severities, alias groups.

Used by the language feeds (db/feeds/osv.py) and Ubuntu's OSV feed (db/feeds/ubuntu.py), so
"what an OSV record means" is decided once. Everything here is pure: records in, model
values out; ValueError says what is malformed and the feed adds which file and record.

Range semantics (https://ossf.github.io/osv-schema/#affectedranges-field):

- events are evaluated in version order (sorted with the scheme's comparator when one is
  given; ``introduced: "0"`` is the very first version); ``introduced`` opens an interval,
  ``fixed`` closes it exclusively, ``last_affected`` inclusively; an interval still open at
  the end is unbounded above;
- ``limit`` events are accepted and ignored: they bound GIT ranges, which hullscan cannot
  evaluate against package versions;
- an entry's explicit ``versions`` are affected too (union with its ranges); each one a
  range ranges do not already cover becomes ``{introduced: v, last_affected: v}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cmp_to_key
from typing import Any

from hullscan.cvss import score_vector
from hullscan.model import AffectedRange, CvssScore, FixStatus, Severity
from hullscan.versions.base import Comparator, VersionError
from hullscan.versions.registry import in_range

#: OSV range types whose events are package versions; GIT ranges are commits.
VERSION_RANGE_TYPES = ("ECOSYSTEM", "SEMVER")
_EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")
_CVE = re.compile(r"CVE-\d{4}-\d{4,}")

#: database_specific / ecosystem_specific severity words (GHSA says MODERATE).
SEVERITY_WORDS: dict[str, Severity] = {
    "negligible": Severity.NEGLIGIBLE,
    "none": Severity.NEGLIGIBLE,
    "low": Severity.LOW,
    "moderate": Severity.MEDIUM,
    "medium": Severity.MEDIUM,
    "high": Severity.HIGH,
    "important": Severity.HIGH,
    "critical": Severity.CRITICAL,
}
# Which CVSS vector decides when a record has several: v3 (what NVD and most tools rank
# by), then v4, then v2.
_CVSS_ORDER = {"CVSS_V3": 0, "CVSS_V4": 1, "CVSS_V2": 2}


def _checked_events(events: Any) -> list[tuple[str, str]]:
    """(kind, version) per event; ValueError for anything that is not one {kind: version}."""
    if not isinstance(events, list):
        raise ValueError("a range without an 'events' list")
    checked: list[tuple[str, str]] = []
    for event in events:
        if not isinstance(event, dict) or len(event) != 1:
            raise ValueError(f"malformed event {event!r}")
        kind, value = next(iter(event.items()))
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"event {kind!r} without a version")
        if kind not in _EVENT_KINDS:
            raise ValueError(f"unknown event {kind!r}")
        checked.append((kind, value.strip()))
    return checked


def _sorted_events(events: list[tuple[str, str]], compare: Comparator) -> list[tuple[str, str]]:
    """Events in version order ("0" first), stable; as given if a version does not parse."""

    def order(a: tuple[str, str], b: tuple[str, str]) -> int:
        if a[1] == b[1]:
            return 0
        if a[0] == "introduced" and a[1] == "0":
            return -1
        if b[0] == "introduced" and b[1] == "0":
            return 1
        return compare(a[1], b[1])

    try:
        return sorted(events, key=cmp_to_key(order))
    except VersionError:
        return events


def events_to_ranges(events: Any, compare: Comparator | None = None) -> Iterator[AffectedRange]:
    """OSV events -> intervals; `compare` sorts them first (OSV does not promise an order)."""
    checked = _checked_events(events)
    if compare is not None:
        checked = _sorted_events(checked, compare)
    start: str | None = None
    open_range = False
    for kind, value in checked:
        if kind == "introduced":
            if open_range:
                yield AffectedRange(introduced=start)
            start, open_range = (None if value == "0" else value), True
        elif kind == "fixed":
            yield AffectedRange(introduced=start, fixed=value)
            start, open_range = None, False
        elif kind == "last_affected":
            yield AffectedRange(introduced=start, last_affected=value)
            start, open_range = None, False
    if open_range:
        yield AffectedRange(introduced=start)


def ranges_of(entry: Mapping[str, Any], compare: Comparator) -> tuple[list[AffectedRange], int]:
    """Every interval of one `affected[]` entry and how many of its ranges were GIT ones.

    Ranges first, then each listed version that no range covers as an exact interval;
    bounds and versions the scheme cannot parse are dropped (returned list stays usable).
    """
    raw_ranges = entry.get("ranges") or []
    versions = entry.get("versions") or []
    if not isinstance(raw_ranges, list) or not isinstance(versions, list):
        raise ValueError("'ranges' and 'versions' must be lists")
    ranges: list[AffectedRange] = []
    git = 0
    for raw in raw_ranges:
        if not isinstance(raw, dict):
            raise ValueError(f"a range that is not an object: {raw!r:.80}")
        kind = raw.get("type")
        if kind == "GIT":
            _checked_events(raw.get("events"))
            git += 1
            continue
        if kind not in VERSION_RANGE_TYPES:
            raise ValueError(f"unknown range type {kind!r}")
        for interval in events_to_ranges(raw.get("events"), compare):
            if interval not in ranges:
                ranges.append(interval)
    for version in versions:
        if not isinstance(version, str):
            raise ValueError(f"'versions' holds {version!r:.40}, not a string")
        version = version.strip()
        if not version:
            continue
        try:
            if any(in_range(version, r, compare) for r in ranges):
                continue
        except VersionError:
            pass  # an unparseable bound: keep the listed version as it is
        exact = AffectedRange(introduced=version, last_affected=version)
        if exact not in ranges:
            ranges.append(exact)
    return ranges, git


def usable(ranges: Iterable[AffectedRange], compare: Comparator) -> tuple[list[AffectedRange], int]:
    """The ranges whose every bound parses in the scheme, and how many were dropped.

    A bound the scheme rejects could only ever turn into a warning at scan time, on every
    scan of that package; it is dropped once, at build time, and counted instead.
    """
    kept: list[AffectedRange] = []
    dropped = 0
    for interval in ranges:
        try:
            for bound in (interval.introduced, interval.fixed, interval.last_affected):
                if bound is not None and bound != "0":
                    compare(bound, bound)
        except VersionError:
            dropped += 1
            continue
        kept.append(interval)
    return kept, dropped


def fix_summary(ranges: Sequence[AffectedRange], compare: Comparator) -> tuple[FixStatus, str]:
    """FIXED with the highest fix when every interval ends in a fix, else AFFECTED.

    A summary for the DB row; the matcher works out the fix for the installed version.
    """
    fixes = [r.fixed for r in ranges]
    if not fixes or any(f is None for f in fixes):
        return FixStatus.AFFECTED, ""
    latest = ""
    for fixed in fixes:
        assert fixed is not None
        try:
            if not latest or compare(fixed, latest) > 0:
                latest = fixed
        except VersionError:
            latest = latest or fixed
    return FixStatus.FIXED, latest


def cvss_scores(severity: Any, source: str) -> tuple[list[CvssScore], int]:
    """CvssScores of an OSV `severity` list (record or entry level), best first, and how
    many vectors could not be scored. Other types (Ubuntu's priority) are not CVSS."""
    if severity is None:
        return [], 0
    if not isinstance(severity, list):
        raise ValueError("'severity' is not a list")
    entries: list[tuple[int, CvssScore]] = []
    bad = 0
    for item in severity:
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise ValueError(f"malformed severity {item!r:.80}")
        kind = item["type"]
        if kind not in _CVSS_ORDER:
            continue
        vector = item.get("score")
        if not isinstance(vector, str):
            raise ValueError(f"{kind} severity without a vector string")
        score = score_vector(vector, source)
        if score is None:
            bad += 1
            continue
        entries.append((_CVSS_ORDER[kind], score))
    entries.sort(key=lambda e: e[0])
    return [score for _, score in entries], bad


def severity_word(value: Any) -> Severity:
    """A database-specific severity word (`HIGH`, `MODERATE`) as a Severity (UNKNOWN else)."""
    if isinstance(value, str):
        return SEVERITY_WORDS.get(value.strip().lower(), Severity.UNKNOWN)
    return Severity.UNKNOWN


def database_name(osv_id: str) -> str:
    """Who published a record, from its id prefix: GHSA-... -> ghsa, PYSEC-... -> pysec."""
    prefix = osv_id.split("-", 1)[0].lower()
    return prefix if prefix.isalpha() and prefix != osv_id.lower() else "osv"


def is_cve(identifier: str) -> bool:
    return _CVE.fullmatch(identifier) is not None


def canonical_ids(groups: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Record id -> the id its findings are reported under, merging records about one issue.

    `groups` maps each record id to its aliases. Records linked by aliases (directly or
    through others) form one group; the group is reported under:

    1. its CVE, when the group names exactly one;
    2. else the record's own CVE, when the record names exactly one;
    3. else the group's preferred other id: a GHSA id first (GitHub's ids span
       ecosystems), then the smallest id.
    """
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for record_id, aliases in groups.items():
        for alias in aliases:
            parent[find(alias)] = find(record_id)
    members: dict[str, set[str]] = {}
    for record_id, aliases in groups.items():
        members.setdefault(find(record_id), set()).update((record_id, *aliases))
    result: dict[str, str] = {}
    for record_id, aliases in groups.items():
        group = members[find(record_id)]
        group_cves = sorted(i for i in group if is_cve(i))
        own_cves = sorted({i for i in (record_id, *aliases) if is_cve(i)})
        if len(group_cves) == 1:
            result[record_id] = group_cves[0]
        elif len(own_cves) == 1:
            result[record_id] = own_cves[0]
        else:
            others = sorted(i for i in group if not is_cve(i))
            result[record_id] = min(others, key=lambda i: (not i.startswith("GHSA-"), i))
    return result
