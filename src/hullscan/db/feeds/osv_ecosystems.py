"""The language ecosystems hullscan reads from OSV: one table, used by the feed and the matcher.

Each row ties an OSV ecosystem name to the feed that reads it (`osv-pypi`), the DB namespace
its advisories go to (`pypi`), the version scheme that orders its versions, and the
PackageType analyzers give its packages. `normalize_name` is applied on both sides (DB build
and lookup), so `Django` from one source and `django` from another meet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hullscan.model import PackageType

OSV_BUCKET = "https://osv-vulnerabilities.storage.googleapis.com"


@dataclass(frozen=True)
class Ecosystem:
    """One OSV ecosystem as hullscan stores and matches it."""

    osv: str  # the `affected[].package.ecosystem` value: PyPI, npm, Maven, ...
    feed: str  # feed name users pass to --source / --only
    namespace: str  # DB namespace of its advisories
    scheme: str  # versions.registry scheme name
    package_type: PackageType

    @property
    def url(self) -> str:
        """osv.dev's per-ecosystem export (every record of the ecosystem, one JSON each)."""
        return f"{OSV_BUCKET}/{self.osv}/all.zip"


ECOSYSTEMS: tuple[Ecosystem, ...] = (
    Ecosystem("PyPI", "osv-pypi", "pypi", "pep440", PackageType.PYPI),
    Ecosystem("npm", "osv-npm", "npm", "npm", PackageType.NPM),
    Ecosystem("Maven", "osv-maven", "maven", "maven", PackageType.MAVEN),
    Ecosystem("Go", "osv-go", "go", "go", PackageType.GOLANG),
    Ecosystem("crates.io", "osv-crates", "crates.io", "cargo", PackageType.CARGO),
    Ecosystem("RubyGems", "osv-rubygems", "rubygems", "gem", PackageType.GEM),
    Ecosystem("Packagist", "osv-packagist", "packagist", "composer", PackageType.COMPOSER),
    Ecosystem("NuGet", "osv-nuget", "nuget", "nuget", PackageType.NUGET),
)
BY_OSV_NAME: dict[str, Ecosystem] = {e.osv: e for e in ECOSYSTEMS}
BY_PACKAGE_TYPE: dict[PackageType, Ecosystem] = {e.package_type: e for e in ECOSYSTEMS}

_PEP503 = re.compile(r"[-_.]+")


def normalize_name(ecosystem: Ecosystem, name: str) -> str:
    """The key a package name is stored and looked up under in `ecosystem`.

    PyPI: PEP 503 (`Foo_Bar.baz` -> `foo-bar-baz`); Packagist and NuGet ids are
    case-insensitive (lower-cased); npm, Maven, Go, crates.io and RubyGems names are
    compared exactly, as their registries do.
    """
    name = name.strip()
    if ecosystem.package_type is PackageType.PYPI:
        return _PEP503.sub("-", name).lower()
    if ecosystem.package_type in (PackageType.COMPOSER, PackageType.NUGET):
        return name.lower()
    return name
