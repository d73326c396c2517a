"""Scheme name -> comparator, and the one place AffectedRange bounds are interpreted."""

from __future__ import annotations

from hullscan.model import AffectedRange
from hullscan.versions.apk import compare_apk
from hullscan.versions.base import Comparator, UnknownSchemeError
from hullscan.versions.composer import compare_composer
from hullscan.versions.dpkg import compare_dpkg
from hullscan.versions.gomod import compare_gomod
from hullscan.versions.maven import compare_maven
from hullscan.versions.npm import compare_npm
from hullscan.versions.nuget import compare_nuget
from hullscan.versions.pep440 import compare_pep440
from hullscan.versions.rpm import compare_rpm
from hullscan.versions.rubygems import compare_gem
from hullscan.versions.semver import compare_cargo, compare_semver

_COMPARATORS: dict[str, Comparator] = {
    "dpkg": compare_dpkg,
    "deb": compare_dpkg,  # PackageType.DEB / purl type, so callers need no mapping
    "apk": compare_apk,
    "rpm": compare_rpm,
    # Language ecosystems, by scheme name and by PackageType / purl type.
    "pep440": compare_pep440,
    "pypi": compare_pep440,
    "npm": compare_npm,
    "semver": compare_semver,
    "maven": compare_maven,
    "go": compare_gomod,
    "golang": compare_gomod,
    "cargo": compare_cargo,
    "gem": compare_gem,
    "rubygems": compare_gem,
    "composer": compare_composer,
    "nuget": compare_nuget,
}


def comparator(scheme: str) -> Comparator:
    """The comparator of a version scheme; UnknownSchemeError names the known ones."""
    try:
        return _COMPARATORS[scheme]
    except KeyError:
        known = ", ".join(sorted(_COMPARATORS))
        raise UnknownSchemeError(f"unknown version scheme {scheme!r} (known: {known})") from None


def in_range(version: str, range: AffectedRange, compare: Comparator) -> bool:
    """Whether `version` lies in the affected interval, bounds as OSV defines them.

    `introduced` is inclusive and "0" (or None) means from the very first version, which
    is not the same as comparing with "0": in dpkg ``0~beta < 0``. `fixed` is exclusive,
    `last_affected` inclusive; a missing upper bound leaves the interval open. A bound
    the scheme cannot parse raises VersionError, like the version itself.
    """
    start = range.introduced
    if start is not None and start != "0" and compare(version, start) < 0:
        return False
    if range.fixed is not None and compare(version, range.fixed) >= 0:
        return False
    return range.last_affected is None or compare(version, range.last_affected) <= 0
