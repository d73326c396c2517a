"""The data that crosses hullscan's boundaries: image -> Inventory -> Findings -> ScanReport.

Everything here is a frozen dataclass so that per-layer results can be cached and shared
between threads, and so that no stage can quietly edit what an earlier stage produced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any


class Severity(IntEnum):
    """The scale every feed is mapped to; ordered so thresholds are plain comparisons."""

    UNKNOWN = 0
    NEGLIGIBLE = 1
    LOW = 2
    MEDIUM = 3
    HIGH = 4
    CRITICAL = 5

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Parse a user-typed or feed severity name, case-insensitively."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.name.lower() for s in cls)
            raise ValueError(f"unknown severity {text!r} (expected one of: {names})") from None

    @property
    def label(self) -> str:
        return self.name.capitalize()


class FixStatus(StrEnum):
    """Where the vendor stands on a vulnerability in a release (Trivy's vocabulary)."""

    FIXED = "fixed"  # a fixed version exists in the release
    AFFECTED = "affected"  # open, no fix published yet
    WILL_NOT_FIX = "will_not_fix"  # vendor decided not to fix (Debian no-dsa/ignored)
    FIX_DEFERRED = "fix_deferred"  # vendor postponed the fix (Debian postponed)
    END_OF_LIFE = "end_of_life"  # release is out of support for this package
    UNDER_INVESTIGATION = "under_investigation"


class PackageType(StrEnum):
    """The ecosystem a package belongs to; the value is its purl type."""

    DEB = "deb"
    APK = "apk"
    RPM = "rpm"
    PYPI = "pypi"
    NPM = "npm"
    MAVEN = "maven"
    GOLANG = "golang"
    CARGO = "cargo"
    GEM = "gem"
    COMPOSER = "composer"
    NUGET = "nuget"

    @property
    def is_os(self) -> bool:
        """OS packages are matched against their distribution's feed, the rest against OSV."""
        return self in (PackageType.DEB, PackageType.APK, PackageType.RPM)


@dataclass(frozen=True)
class Distro:
    """The operating system of an image, as its release files describe it.

    `id` is the os-release ID (debian, alpine, ubuntu, ...); `version_id` the full version
    ("12", "3.10.4"); `codename` e.g. "bookworm"; `channel` marks rolling releases
    ("testing", "sid", "edge") where there is no version number.
    """

    id: str
    version_id: str = ""
    codename: str = ""
    pretty_name: str = ""
    channel: str = ""


@dataclass(frozen=True)
class Layer:
    """One image layer; diff_id is the digest of the uncompressed tar (the cache key)."""

    index: int
    diff_id: str
    digest: str = ""
    media_type: str = ""
    size: int = 0
    created_by: str = ""


@dataclass(frozen=True)
class Package:
    """An installed package.

    `source_name`/`source_version` are the package it was built from (dpkg Source:,
    apk origin), which is what distribution advisories are keyed by. `layer` is the
    diff_id of the layer that introduced the installed version; `paths` the package
    database files it was read from.
    """

    name: str
    version: str
    type: PackageType
    arch: str = ""
    source_name: str = ""
    source_version: str = ""
    purl: str = ""
    layer: str = ""
    paths: tuple[str, ...] = ()
    #: rpm MODULARITYLABEL (name:stream:version:context); modular advisories only match it
    modularity_label: str = ""
    vendor: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity of a package slot in an image, independent of version."""
        return (self.type.value, self.name, self.arch)


@dataclass(frozen=True)
class ArtifactInfo:
    """What was scanned: reference, digests, platform, layers in order."""

    reference: str
    kind: str  # docker-archive, oci-layout, registry, rootfs, ...
    image_id: str = ""  # digest of the image config
    manifest_digest: str = ""
    repo_tags: tuple[str, ...] = ()
    platform: str = ""  # os/arch[/variant]
    created: str = ""
    layers: tuple[Layer, ...] = ()


@dataclass(frozen=True)
class Inventory:
    """Everything indexing learned about an image; the only input of matching."""

    artifact: ArtifactInfo
    distro: Distro | None
    packages: tuple[Package, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class AffectedRange:
    """One affected interval of versions in the advisory's own version scheme.

    All bounds optional: no `introduced` means from the beginning; no `fixed` and no
    `last_affected` means every later version is affected too.
    """

    introduced: str | None = None
    fixed: str | None = None
    last_affected: str | None = None


@dataclass(frozen=True)
class Advisory:
    """One vendor statement: `vuln_id` affects `package` in `namespace` (e.g. debian:12)."""

    namespace: str
    package: str
    vuln_id: str
    ranges: tuple[AffectedRange, ...]
    status: FixStatus
    fixed_version: str = ""
    severity: Severity = Severity.UNKNOWN
    severity_source: str = ""
    source: str = ""  # the feed name that said so: debian, alpine, ...


@dataclass(frozen=True)
class CvssScore:
    """One CVSS assessment, kept with who made it (NVD, the vendor, GitHub)."""

    source: str  # nvd, redhat, ghsa, osv, ...
    version: str  # "2.0", "3.0", "3.1", "4.0"
    vector: str
    score: float
    severity: Severity = Severity.UNKNOWN


@dataclass(frozen=True)
class Vulnerability:
    """Feed-independent facts about a vulnerability id (enrichment: NVD, KEV, EPSS)."""

    id: str
    description: str = ""
    aliases: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    cvss: tuple[CvssScore, ...] = ()
    cwes: tuple[str, ...] = ()
    published: str = ""
    #: NVD's own severity, the fallback when the vendor gave none
    nvd_severity: Severity = Severity.UNKNOWN
    #: date added to CISA's Known Exploited Vulnerabilities catalog, "" when not in it
    kev_added: str = ""
    epss: float | None = None
    epss_percentile: float | None = None


@dataclass(frozen=True)
class Finding:
    """A package in the image affected by a vulnerability."""

    vuln_id: str
    package: Package
    status: FixStatus
    severity: Severity
    severity_source: str
    namespace: str
    fixed_version: str = ""
    description: str = ""
    aliases: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    suppressed_by: str = ""  # the policy rule that accepted it, empty when active
    cvss: tuple[CvssScore, ...] = ()
    cwes: tuple[str, ...] = ()
    kev_added: str = ""
    epss: float | None = None
    epss_percentile: float | None = None

    @property
    def installed_version(self) -> str:
        return self.package.version

    @property
    def suppressed(self) -> bool:
        return bool(self.suppressed_by)


@dataclass(frozen=True)
class SourceInfo:
    """A feed as it went into a DB build."""

    name: str
    location: str
    fingerprint: str
    fetched_at: str
    advisories: int


@dataclass(frozen=True)
class DbInfo:
    """Metadata of the vulnerability DB used for a scan."""

    schema_version: int
    built_at: str
    path: str = ""
    sources: tuple[SourceInfo, ...] = ()


@dataclass(frozen=True)
class ScanReport:
    """The result of one scan: the model every report format is a view of."""

    inventory: Inventory
    findings: tuple[Finding, ...]
    db: DbInfo | None
    warnings: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def active_findings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.suppressed)
