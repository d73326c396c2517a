"""Matching language packages (PyPI, npm, Maven, Go, Cargo, RubyGems, Composer, NuGet)
against the OSV advisories of their ecosystem.

A package is looked up by its ecosystem's namespace (`pypi`, `npm`, ...: the table in
db/feeds/osv_ecosystems.py) and its name normalised the way the feed stored it (PEP 503 for
PyPI), one DB query per namespace for the whole image. Its version is compared with the
ecosystem's own scheme (versions/), against every interval of the advisory: it is affected
when any interval holds it.

The finding says FIXED with the lowest fix above the installed version that no interval of
the advisory still covers (records merged under one CVE may disagree: GHSA says fixed in
2.2.24, PYSEC in 2.2.25 - upgrading to 2.2.24 would not help), and AFFECTED when no such
fix exists. A version the scheme cannot read (``dev-main``, a legacy PyPI version) is a
warning naming the package, never a guess.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import cmp_to_key

from hullscan.db.feeds.osv_ecosystems import BY_PACKAGE_TYPE, Ecosystem, normalize_name
from hullscan.db.reader import VulnDB
from hullscan.model import Advisory, AffectedRange, Finding, FixStatus, Package
from hullscan.versions.base import Comparator, VersionError
from hullscan.versions.registry import comparator, in_range


class LangMatcher:
    """Findings for the language packages of an inventory, one per (vulnerability, package)."""

    def __init__(self, db: VulnDB) -> None:
        self.db = db

    def match(self, packages: Iterable[Package]) -> tuple[list[Finding], list[str]]:
        by_ecosystem: dict[Ecosystem, list[Package]] = defaultdict(list)
        for package in packages:
            ecosystem = BY_PACKAGE_TYPE.get(package.type)
            if ecosystem is not None:
                by_ecosystem[ecosystem].append(package)
        findings: list[Finding] = []
        warnings: list[str] = []
        for ecosystem in sorted(by_ecosystem, key=lambda e: e.namespace):
            found, notes = self._match_ecosystem(ecosystem, by_ecosystem[ecosystem])
            findings.extend(found)
            warnings.extend(notes)
        return findings, warnings

    def _match_ecosystem(
        self, ecosystem: Ecosystem, packages: list[Package]
    ) -> tuple[list[Finding], list[str]]:
        keys = {id(p): normalize_name(ecosystem, p.name) for p in packages}
        advisories = self.db.advisories(ecosystem.namespace, set(keys.values()))
        if not advisories and not self.db.has_namespace(ecosystem.namespace):
            return [], [
                f"the vulnerability DB has no advisories for {ecosystem.namespace}: "
                f"{len(packages)} {ecosystem.osv} package(s) not matched (build the "
                f"{ecosystem.feed} feed: `hullscan db build --only {ecosystem.feed}`)"
            ]
        compare = comparator(ecosystem.scheme)
        findings: dict[tuple[str, Package], Finding] = {}
        warnings: list[str] = []
        for package in packages:
            found = advisories.get(keys[id(package)], ())
            version = package.version.strip()
            try:
                if found:
                    compare(version, version)  # the installed version must be readable, once
            except VersionError as exc:
                warnings.append(f"{package.name} {package.version}: {exc}; not matched")
                continue
            for advisory in found:
                try:
                    finding = _judge(advisory, package, version, compare)
                except VersionError as exc:  # a bound of this advisory the scheme rejects
                    warnings.append(f"{advisory.vuln_id} for {package.name}: {exc}; skipped")
                    continue
                if finding is not None:
                    findings.setdefault((finding.vuln_id, package), finding)
        return list(findings.values()), warnings


def _judge(
    advisory: Advisory, package: Package, version: str, compare: Comparator
) -> Finding | None:
    """The finding `advisory` makes for `package` (its readable `version`), None when clean."""
    if not advisory.ranges:
        holding: Sequence[AffectedRange] = [AffectedRange()]
    else:
        holding = [r for r in advisory.ranges if _holds(version, r, compare)]
    if not holding:
        return None
    fixed = _first_clean_fix(version, holding, advisory.ranges, compare)
    return Finding(
        vuln_id=advisory.vuln_id,
        package=package,
        status=FixStatus.FIXED if fixed else FixStatus.AFFECTED,
        severity=advisory.severity,
        severity_source=advisory.severity_source,
        namespace=advisory.namespace,
        fixed_version=fixed,
    )


def _holds(version: str, interval: AffectedRange, compare: Comparator) -> bool:
    """in_range, except that a bound the scheme rejects makes the interval not count."""
    try:
        return in_range(version, interval, compare)
    except VersionError:  # the installed version was checked readable: the bound is at fault
        return False


def _first_clean_fix(
    version: str,
    holding: Sequence[AffectedRange],
    ranges: Sequence[AffectedRange],
    compare: Comparator,
) -> str:
    """The lowest fix above `version` that leaves every interval; "" when there is none."""
    candidates = {r.fixed for r in holding if r.fixed is not None}
    ordered = sorted(candidates, key=cmp_to_key(compare))
    for fix in ordered:
        if compare(fix, version) > 0 and not any(_holds(fix, r, compare) for r in ranges):
            return fix
    return ""
