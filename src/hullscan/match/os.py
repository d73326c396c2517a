"""Matching OS packages against their distribution's own advisories.

Which advisories: `distros.advisory_namespaces` lists the namespaces that cover a distro,
best first (Oracle Linux: its own errata, else Red Hat's); the first one the DB has is
used, and a fallback is reported as a warning. Red Hat's `rhel:N` (RHEL, UBI, CentOS,
Rocky, AlmaLinux, Oracle's fallback) is matched by `match.redhat`, which knows modules and
minor-release branches; everything else here.

How packages are looked up depends on the version scheme:

- dpkg and apk feeds (Debian's tracker, Ubuntu OSV, Alpine and Wolfi secdb) are keyed by
  source package, so each binary package is looked up by its source name and compared by
  its source version: a binNMU `1.2-3+b1` of source `1.2-3` is fixed exactly when its
  source is.
- rpm feeds name binary packages (ALAS updateinfo, Red Hat OVAL) or source packages, so an
  rpm is looked up by its own name, then its source name, and compared by its own full
  epoch:version-release: a source rpm's file name carries no epoch, so its version
  would compare wrongly against an advisory's `10:1.5.3-141`. When both names have an
  advisory for one id, the one naming the binary wins.

The release's end of life (distros.EOL_DATES) on the scan day becomes a warning.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from hullscan.db.reader import VulnDB
from hullscan.distros import advisory_namespaces, eol_warning
from hullscan.match import redhat
from hullscan.model import Advisory, Distro, Finding, FixStatus, Package
from hullscan.versions.base import Comparator, VersionError
from hullscan.versions.registry import comparator, in_range

log = logging.getLogger(__name__)

#: Version scheme of each distribution's packages (by os-release ID).
SCHEMES = {
    "debian": "dpkg",
    "ubuntu": "dpkg",
    "alpine": "apk",
    "wolfi": "apk",
    "chainguard": "apk",
    "amzn": "rpm",
    "rhel": "rpm",
    "centos": "rpm",
    "rocky": "rpm",
    "almalinux": "rpm",
    "ol": "rpm",
}

#: Schemes whose feeds name binary packages: look up the binary first, compare its own EVR.
BINARY_KEYED_SCHEMES = frozenset({"rpm"})


class OsMatcher:
    """Finds the OS packages of one distro release that its vendor says are affected.

    `scan_date` is the day the scan ran, for the end-of-life warning; None skips that
    check (the caller passes the report's scan date, so tests never depend on the clock).
    """

    def __init__(self, db: VulnDB, *, scan_date: date | None = None) -> None:
        self.db = db
        self.scan_date = scan_date
        #: why the image's OS packages could not be matched at all ("" when they were):
        #: a CI gate must not pass an image nobody looked at
        self.unmatched = ""

    def match(
        self, distro: Distro | None, packages: Iterable[Package]
    ) -> tuple[list[Finding], list[str]]:
        """Findings and warnings (an unsupported distro is a warning, not an error)."""
        notes: list[str] = []
        if self.scan_date is not None and (eol := eol_warning(distro, self.scan_date)):
            notes.append(eol)
        self.unmatched = ""
        findings, warnings = self._match(distro, packages)
        return findings, notes + warnings

    def _gap(self, reason: str) -> tuple[list[Finding], list[str]]:
        self.unmatched = reason
        return [], [reason]

    def _match(
        self, distro: Distro | None, packages: Iterable[Package]
    ) -> tuple[list[Finding], list[str]]:
        os_packages = [p for p in packages if p.type.is_os]
        if not os_packages:
            return [], []
        if distro is None:
            return self._gap(
                "OS packages found but the OS could not be detected; OS packages not matched"
            )
        namespaces = advisory_namespaces(distro)
        scheme = SCHEMES.get(distro.id)
        if not namespaces or scheme is None:
            release = distro.version_id or distro.codename or "?"
            return self._gap(
                f"OS {distro.id} {release} is not supported yet; OS packages not matched"
            )
        warnings: list[str] = []
        namespace = self._namespace(namespaces, warnings)
        if namespace is None:  # for every matcher, Red Hat's too: a gate must not pass this
            return self._gap(warnings[-1])
        if redhat.handles(namespace):  # modules, minor branches, source-keyed VEX
            matched, more = redhat.RedHatMatcher(self.db).match(namespace, os_packages)
            return matched, warnings + more
        compare = comparator(scheme)
        binary_keyed = scheme in BINARY_KEYED_SCHEMES
        by_name: dict[str, list[Package]] = defaultdict(list)
        for pkg in os_packages:
            for name in _lookup_names(pkg, binary_keyed):
                by_name[name].append(pkg)
        advisories = self.db.advisories(namespace, list(by_name))
        findings: list[Finding] = []
        for pkg in os_packages:
            seen: set[str] = set()
            for name in _lookup_names(pkg, binary_keyed):
                for advisory in advisories.get(name, ()):
                    if advisory.vuln_id in seen:
                        continue  # an advisory naming the binary already decided
                    seen.add(advisory.vuln_id)
                    try:
                        affected = _affects(advisory, pkg, compare, binary_keyed)
                    except VersionError as exc:
                        warnings.append(f"{pkg.name} {pkg.version}: {exc}; not matched")
                        continue
                    if affected:
                        findings.append(_finding(advisory, pkg))
        return findings, warnings

    def _namespace(self, namespaces: list[str], warnings: list[str]) -> str | None:
        """The first namespace the DB has (an index probe each); a fallback is a warning."""
        for namespace in namespaces:
            if self.db.has_namespace(namespace):
                if namespace != namespaces[0]:
                    warnings.append(
                        f"the vulnerability DB has no advisories for {namespaces[0]}; OS "
                        f"packages matched against {namespace} instead, whose fixed versions "
                        "and statuses may differ from the distribution's own"
                    )
                return namespace
        wanted = " or ".join(namespaces)
        warnings.append(f"the vulnerability DB has no advisories for {wanted}; is the feed built?")
        return None


def _lookup_names(pkg: Package, binary_keyed: bool) -> tuple[str, ...]:
    """The names an advisory may file this package under, most specific first."""
    if not binary_keyed:
        return (pkg.source_name or pkg.name,)
    if pkg.source_name and pkg.source_name != pkg.name:
        return (pkg.name, pkg.source_name)
    return (pkg.name,)


def _affects(advisory: Advisory, pkg: Package, compare: Comparator, binary_keyed: bool) -> bool:
    if advisory.status is not FixStatus.FIXED and not advisory.ranges:
        return True  # open, postponed, will-not-fix: every version in the release
    version = pkg.version if binary_keyed else (pkg.source_version or pkg.version)
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
