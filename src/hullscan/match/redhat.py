"""Matching rpm packages of RHEL-family images against Red Hat's advisories (rhel:N).

Red Hat's VEX data is keyed by SOURCE rpm and module stream (db/feeds/redhat.py), so a
binary is looked up by ``<module>:<stream>::<source>`` (or ``<source>`` outside modules)
and three rpm facts the generic OS matcher does not know about are applied here:

- The version compared is the binary's own ``epoch:version-release`` when it was built
  with its source's version (the usual case: the binary carries the right epoch, which
  the SOURCERPM file name lacks). A subpackage with a version of its own (perl-Errno
  1.30-480.el9 from perl-4:5.32.1-480.el9) is judged by its source's version-release,
  with the fix's epoch.
- Builds of one module version for several contexts differ only in a trailing hash
  (``+23147+95b68fad`` vs ``+23147+20b7d289``); it is ignored.
- A build made for a minor branch (``.el9_4``, ``+el8.6.0``) is clean once it reaches the
  fix Red Hat shipped for that branch (a 9.4 z-stream or EUS update), else it is judged by
  the main stream's fix - which is also the fix reported.

``kernel-headers`` is not matched against kernel advisories: it ships header files, and
every kernel CVE would otherwise land on every image that builds C code (Grype does the
same by default).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from packageurl import PackageURL

from hullscan.db.feeds.redhat import (
    advisory_key,
    branch_of,
    newest,
    normalize_evr,
    rpm_comparator,
)
from hullscan.db.reader import VulnDB
from hullscan.model import Advisory, Finding, FixStatus, Package, PackageType
from hullscan.versions.base import VersionError

Compare = Callable[[str, str], int]

#: Source rpms whose advisories are not matched through kernel-headers.
KERNEL_SOURCES = frozenset({"kernel", "kernel-rt", "kernel-alt"})


def handles(namespace: str) -> bool:
    """Whether this matcher owns a namespace (Red Hat's rhel:N)."""
    return namespace.startswith("rhel:")


def module_stream(pkg: Package) -> str:
    """``name:stream`` of the module a package came from, "" for non-modular packages.

    Read from ``Package.modularity_label`` (rpm's MODULARITYLABEL, ``name:stream:version:
    context``), else from the purl's ``rpmmod`` qualifier (Red Hat's purl convention, for
    packages that come from an SBOM).
    """
    label = pkg.modularity_label
    if not label and "rpmmod=" in pkg.purl:
        try:
            qualifiers = PackageURL.from_string(pkg.purl).qualifiers
        except ValueError:
            qualifiers = {}
        if isinstance(qualifiers, dict):
            label = str(qualifiers.get("rpmmod") or "")
    name, _, rest = label.strip().partition(":")
    stream = rest.split(":", 1)[0]
    return f"{name}:{stream}" if name and stream else ""


def package_key(pkg: Package) -> str:
    """The advisory key of an installed rpm: its source name within its module stream."""
    return advisory_key(pkg.source_name or pkg.name, module_stream(pkg))


def _strip_epoch(evr: str) -> str:
    head, sep, tail = evr.partition(":")
    return tail if sep and head.isdigit() else evr


def _epoch(evr: str) -> str:
    head, sep, _ = evr.partition(":")
    return head if sep and head.isdigit() else "0"


def installed_version(pkg: Package, fixed: str) -> str:
    """The ``[epoch:]version-release`` of `pkg` to compare with a source-package fix."""
    if not pkg.source_version:
        return pkg.version
    source = _strip_epoch(pkg.source_version)
    if _strip_epoch(pkg.version) == source:
        return pkg.version  # built with its source's version: its epoch is the right one
    return f"{_epoch(fixed)}:{source}"


def verdict(advisory: Advisory, pkg: Package, compare: Compare) -> tuple[bool, str]:
    """(affected, fixed version to report) of one package under one advisory.

    A build for a minor branch that has its own fix (9.4 z-stream, EUS) is clean from that
    fix on; when it is affected, the reported fix is still the main stream's - what a UBI
    or RHEL image updates to. Raises VersionError when the comparator rejects a version.
    """
    reported = advisory.fixed_version if advisory.status is FixStatus.FIXED else ""
    branch = branch_of(installed_version(pkg, ""))
    if branch is not None:
        candidates = [r.fixed for r in advisory.ranges if r.fixed and branch_of(r.fixed) == branch]
        if candidates:
            fix = newest(candidates, compare)
            clean = compare(normalize_evr(installed_version(pkg, fix)), normalize_evr(fix)) >= 0
            return (False, "") if clean else (True, reported)
    if not reported:
        return True, ""  # affected, deferred, will not fix...: every version of the release
    installed = installed_version(pkg, reported)
    return compare(normalize_evr(installed), normalize_evr(reported)) < 0, reported


class RedHatMatcher:
    """Finds the rpm packages that Red Hat's advisories for one RHEL major call affected."""

    def __init__(self, db: VulnDB, compare: Compare | None = None) -> None:
        self.db = db
        self._compare = compare

    def match(self, namespace: str, packages: Iterable[Package]) -> tuple[list[Finding], list[str]]:
        """Findings and warnings for the rpm packages among `packages`."""
        by_key: dict[str, list[Package]] = defaultdict(list)
        for pkg in packages:
            if pkg.type is not PackageType.RPM:
                continue
            if pkg.name == "kernel-headers" and (pkg.source_name or "kernel") in KERNEL_SOURCES:
                continue
            by_key[package_key(pkg)].append(pkg)
        if not by_key:
            return [], []
        advisories = self.db.advisories(namespace, list(by_key))
        if not advisories and not self.db.has_namespace(namespace):
            return [], [
                f"the vulnerability DB has no advisories for {namespace}; is the redhat feed built?"
            ]
        compare = self._compare or rpm_comparator()
        findings: list[Finding] = []
        warnings: list[str] = []
        for key, pkgs in by_key.items():
            for advisory in advisories.get(key, ()):
                for pkg in pkgs:
                    try:
                        affected, fixed = verdict(advisory, pkg, compare)
                    except VersionError as exc:
                        warnings.append(f"{pkg.name} {pkg.version}: {exc}; not matched")
                        continue
                    if affected:
                        findings.append(
                            Finding(
                                vuln_id=advisory.vuln_id,
                                package=pkg,
                                status=advisory.status,
                                severity=advisory.severity,
                                severity_source=advisory.severity_source,
                                namespace=advisory.namespace,
                                fixed_version=fixed,
                            )
                        )
        return findings, warnings
