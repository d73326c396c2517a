"""Matching OS packages against their distribution's own advisories.

Distribution feeds are keyed by source package (Debian's tracker, Alpine's aports origin),
so each binary package is looked up by its source name and compared by its source version:
a binNMU `1.2-3+b1` of source `1.2-3` is fixed exactly when its source is.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable

from hullscan.db.reader import VulnDB
from hullscan.distros import namespace_of
from hullscan.model import Advisory, Distro, Finding, FixStatus, Package
from hullscan.versions.base import Comparator, VersionError
from hullscan.versions.registry import comparator, in_range

log = logging.getLogger(__name__)

#: Version scheme of each distribution's packages.
SCHEMES = {"debian": "dpkg", "ubuntu": "dpkg", "alpine": "apk"}


class OsMatcher:
    """Finds the OS packages of one distro release that its vendor says are affected."""

    def __init__(self, db: VulnDB) -> None:
        self.db = db

    def match(
        self, distro: Distro | None, packages: Iterable[Package]
    ) -> tuple[list[Finding], list[str]]:
        """Findings and warnings (an unsupported distro is a warning, not an error)."""
        os_packages = [p for p in packages if p.type.is_os]
        if not os_packages:
            return [], []
        if distro is None:
            return [], [
                "OS packages found but the OS could not be detected; OS packages not matched"
            ]
        namespace = namespace_of(distro)
        scheme = SCHEMES.get(distro.id)
        if namespace is None or scheme is None:
            release = distro.version_id or distro.codename or "?"
            return [], [f"OS {distro.id} {release} is not supported yet; OS packages not matched"]
        compare = comparator(scheme)
        by_source: dict[str, list[Package]] = defaultdict(list)
        for pkg in os_packages:
            by_source[pkg.source_name or pkg.name].append(pkg)
        advisories = self.db.advisories(namespace, list(by_source))
        if not advisories and not self.db.has_namespace(namespace):
            return [], [
                f"the vulnerability DB has no advisories for {namespace}; is the feed built?"
            ]
        findings: list[Finding] = []
        warnings: list[str] = []
        for source, pkgs in by_source.items():
            for advisory in advisories.get(source, ()):
                for pkg in pkgs:
                    try:
                        affected = _affects(advisory, pkg, compare)
                    except VersionError as exc:
                        warnings.append(f"{pkg.name} {pkg.version}: {exc}; not matched")
                        continue
                    if affected:
                        findings.append(_finding(advisory, pkg))
        return findings, warnings


def _affects(advisory: Advisory, pkg: Package, compare: Comparator) -> bool:
    if advisory.status is not FixStatus.FIXED and not advisory.ranges:
        return True  # open, postponed, will-not-fix: every version in the release
    version = pkg.source_version or pkg.version
    return any(in_range(version, r, compare) for r in advisory.ranges)


def _finding(advisory: Advisory, pkg: Package) -> Finding:
    return Finding(
        vuln_id=advisory.vuln_id,
        package=pkg,
        status=advisory.status,
        severity=advisory.severity,
        severity_source=advisory.severity_source,
        namespace=advisory.namespace,
        fixed_version=advisory.fixed_version,
    )
