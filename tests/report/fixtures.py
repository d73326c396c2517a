"""Hand-built ScanReports for the report and policy tests.

A realistic Debian 12 (bookworm) image: a base layer from debian:bookworm and an
`apt-get install curl` layer, with advisories as the Debian security tracker and NVD
described them in late 2023 (fixed, will-not-fix, postponed, unimportant, unscored).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime

from hullscan.model import (
    ArtifactInfo,
    DbInfo,
    Distro,
    Finding,
    FixStatus,
    Inventory,
    Layer,
    Package,
    PackageType,
    ScanReport,
    Severity,
    SourceInfo,
)
from hullscan.policy import Policy, apply_policy, parse_clair_whitelist
from hullscan.report.base import ReportOptions

REFERENCE = "registry.example.com:5000/team/app:1.2"
STARTED = datetime(2024, 1, 16, 9, 30, 0, tzinfo=UTC)
FINISHED = datetime(2024, 1, 16, 9, 30, 7, tzinfo=UTC)


def digest(label: str) -> str:
    """A stable, realistic-looking sha256 digest."""
    return "sha256:" + hashlib.sha256(label.encode()).hexdigest()


BASE_LAYER = Layer(
    index=0,
    diff_id=digest("diff:debian-bookworm-20231218"),
    digest=digest("blob:debian-bookworm-20231218"),
    media_type="application/vnd.oci.image.layer.v1.tar+gzip",
    size=29_150_431,
    created_by=(
        "/bin/sh -c #(nop) ADD "
        "file:9deb26e1dbc258df47629e6f8fd5f5c0f3e8a0e5b2e6b0d2c0bd46d9c1bc9d3c in / "
    ),
)
APT_LAYER = Layer(
    index=1,
    diff_id=digest("diff:apt-install-curl"),
    digest=digest("blob:apt-install-curl"),
    media_type="application/vnd.oci.image.layer.v1.tar+gzip",
    size=10_482_112,
    created_by=(
        "RUN /bin/sh -c apt-get update && apt-get install -y --no-install-recommends curl "
        "ca-certificates && rm -rf /var/lib/apt/lists/* # buildkit"
    ),
)
APP_LAYER = Layer(
    index=2,
    diff_id=digest("diff:copy-app"),
    digest=digest("blob:copy-app"),
    media_type="application/vnd.oci.image.layer.v1.tar+gzip",
    size=1_024,
    created_by="COPY app /opt/app # buildkit",
)

DEBIAN_12 = Distro(
    id="debian",
    version_id="12",
    codename="bookworm",
    pretty_name="Debian GNU/Linux 12 (bookworm)",
)


def deb(
    name: str,
    version: str,
    source: str = "",
    source_version: str = "",
    layer: Layer = BASE_LAYER,
    arch: str = "amd64",
) -> Package:
    purl = f"pkg:deb/debian/{name}@{version.replace(':', '%3A')}?arch={arch}&distro=debian-12"
    return Package(
        name=name,
        version=version,
        type=PackageType.DEB,
        arch=arch,
        source_name=source or name,
        source_version=source_version or version,
        purl=purl,
        layer=layer.diff_id,
        paths=("var/lib/dpkg/status",),
    )


LIBC6 = deb("libc6", "2.36-9+deb12u1", "glibc")
ZLIB1G = deb("zlib1g", "1:1.2.13.dfsg-1", "zlib")
TAR = deb("tar", "1.34+dfsg-1.2+deb12u1")
BASH = deb("bash", "5.2.15-2+b2", source_version="5.2.15-2")
LIBTINFO6 = deb("libtinfo6", "6.4-4", "ncurses")
LIBGCC = deb("libgcc-s1", "12.2.0-14", "gcc-12")
LIBGCRYPT = deb("libgcrypt20", "1.10.1-3")
LIBSSL3 = deb("libssl3", "3.0.11-1~deb12u1", "openssl", layer=APT_LAYER)
OPENSSL = deb("openssl", "3.0.11-1~deb12u1", layer=APT_LAYER)
CURL = deb("curl", "7.88.1-10+deb12u3", layer=APT_LAYER)
LIBCURL4 = deb("libcurl4", "7.88.1-10+deb12u3", "curl", layer=APT_LAYER)
CA_CERTIFICATES = deb("ca-certificates", "20230311", layer=APT_LAYER, arch="all")

PACKAGES = (
    LIBC6,
    ZLIB1G,
    TAR,
    BASH,
    LIBTINFO6,
    LIBGCC,
    LIBGCRYPT,
    LIBSSL3,
    OPENSSL,
    CURL,
    LIBCURL4,
    CA_CERTIFICATES,
)


def tracker_urls(vuln_id: str) -> tuple[str, ...]:
    urls = [f"https://security-tracker.debian.org/tracker/{vuln_id}"]
    if vuln_id.startswith("CVE-"):
        urls.append(f"https://nvd.nist.gov/vuln/detail/{vuln_id}")
    return tuple(urls)


def finding(
    vuln_id: str,
    package: Package,
    severity: Severity,
    status: FixStatus,
    fixed: str = "",
    source: str = "nvd",
    description: str = "",
    aliases: tuple[str, ...] = (),
    suppressed_by: str = "",
) -> Finding:
    return Finding(
        vuln_id=vuln_id,
        package=package,
        status=status,
        severity=severity,
        severity_source=source,
        namespace="debian:12",
        fixed_version=fixed,
        description=description,
        aliases=aliases,
        urls=tracker_urls(vuln_id),
        suppressed_by=suppressed_by,
    )


CURL_DESC = "This flaw makes curl overflow a heap based buffer in the SOCKS5 proxy handshake."
OPENSSL_DESC = (
    "Issue summary: Generating excessively long X9.42 DH keys or checking excessively "
    "long X9.42 DH keys or parameters may be very slow."
)


def debian_findings() -> tuple[Finding, ...]:
    """Findings in matcher order (by package), not in report order."""
    return (
        finding(
            "CVE-2023-4911",
            LIBC6,
            Severity.HIGH,
            FixStatus.FIXED,
            fixed="2.36-9+deb12u3",
            description=(
                "A buffer overflow was discovered in the GNU C Library's dynamic loader ld.so "
                "while processing the GLIBC_TUNABLES environment variable."
            ),
        ),
        finding(
            "CVE-2023-45853",
            ZLIB1G,
            Severity.CRITICAL,
            FixStatus.WILL_NOT_FIX,
            description=(
                "MiniZip in zlib through 1.3 has an integer overflow and resultant heap-based "
                "buffer overflow in zipOpenNewFileInZip4_64 via a long filename, comment, or "
                "extra field."
            ),
        ),
        finding(
            "CVE-2005-2541",
            TAR,
            Severity.NEGLIGIBLE,
            FixStatus.AFFECTED,
            source="debian",
            description=(
                "Tar 1.15.1 does not properly warn the user when extracting setuid or setgid "
                "files, which may allow local users or remote attackers to gain privileges."
            ),
        ),
        finding(
            "TEMP-0841856-B18BAF",
            BASH,
            Severity.NEGLIGIBLE,
            FixStatus.AFFECTED,
            source="debian",
            description="[Privilege escalation possible to other user than root]",
        ),
        finding(
            "CVE-2023-50495",
            LIBTINFO6,
            Severity.MEDIUM,
            FixStatus.FIX_DEFERRED,
            description=(
                "NCurse v6.4-20230418 was discovered to contain a segmentation fault via the "
                "component _nc_wrap_entry()."
            ),
        ),
        finding(
            "CVE-2023-4039",
            LIBGCC,
            Severity.MEDIUM,
            FixStatus.AFFECTED,
            description=(
                "A failure in the -fstack-protector feature in GCC-based toolchains that "
                "target AArch64 allows an attacker to exploit an existing buffer overflow."
            ),
        ),
        finding("CVE-2024-2236", LIBGCRYPT, Severity.UNKNOWN, FixStatus.AFFECTED, source=""),
        finding(
            "CVE-2023-5678",
            LIBSSL3,
            Severity.MEDIUM,
            FixStatus.FIXED,
            fixed="3.0.11-1~deb12u2",
            description=OPENSSL_DESC,
        ),
        finding(
            "CVE-2023-5678",
            OPENSSL,
            Severity.MEDIUM,
            FixStatus.FIXED,
            fixed="3.0.11-1~deb12u2",
            description=OPENSSL_DESC,
        ),
        finding(
            "CVE-2023-38545",
            CURL,
            Severity.CRITICAL,
            FixStatus.FIXED,
            fixed="7.88.1-10+deb12u4",
            description=CURL_DESC,
        ),
        finding(
            "CVE-2023-38545",
            LIBCURL4,
            Severity.CRITICAL,
            FixStatus.FIXED,
            fixed="7.88.1-10+deb12u4",
            description=CURL_DESC,
        ),
    )


DB = DbInfo(
    schema_version=1,
    built_at="2024-01-16T03:00:00Z",
    path="/home/ci/.cache/hullscan/db/hullscan.db",
    sources=(
        SourceInfo(
            name="nvd",
            location="https://services.nvd.nist.gov/rest/json/cves/2.0",
            fingerprint="2024-01-16T02:00:00Z",
            fetched_at="2024-01-16T02:41:09Z",
            advisories=235_112,
        ),
        SourceInfo(
            name="debian",
            location="https://security-tracker.debian.org/tracker/data/json",
            fingerprint='W/"65a5d2f1-1b2c3d4"',
            fetched_at="2024-01-16T02:40:12Z",
            advisories=48_211,
        ),
    ),
)


def debian_inventory(
    reference: str = REFERENCE, repo_tags: tuple[str, ...] = (REFERENCE,)
) -> Inventory:
    return Inventory(
        artifact=ArtifactInfo(
            reference=reference,
            kind="registry",
            image_id=digest("config:team/app:1.2"),
            manifest_digest=digest("manifest:team/app:1.2"),
            repo_tags=repo_tags,
            platform="linux/amd64",
            created="2024-01-15T10:12:44Z",
            layers=(BASE_LAYER, APT_LAYER, APP_LAYER),
        ),
        distro=DEBIAN_12,
        packages=PACKAGES,
        warnings=("python: cannot parse /opt/app/requirements.txt line 3: 'foo ==='",),
    )


def debian_report(reference: str = REFERENCE) -> ScanReport:
    """The Debian image as matching produced it: nothing suppressed yet."""
    return ScanReport(
        inventory=debian_inventory(reference, (reference,)),
        findings=debian_findings(),
        db=DB,
    )


WHITELIST_YAML = """\
generalwhitelist:
  CVE-2023-4039: gcc stack protector, AArch64 only; we ship amd64
images:
  registry.example.com:5000/team/app:
    CVE-2023-50495: ncurses, no untrusted terminfo
"""


def policied_report() -> ScanReport:
    """The Debian image after `--fail-on high --whitelist`: two findings suppressed."""
    policy = Policy(
        fail_on=Severity.HIGH,
        whitelist=parse_clair_whitelist(WHITELIST_YAML, "clair-whitelist.yaml"),
    )
    return apply_policy(debian_report(), policy, REFERENCE)


def clean_report() -> ScanReport:
    """An Alpine image with nothing to report and no DB metadata."""
    layer = Layer(index=0, diff_id=digest("diff:alpine-3.19.0"), created_by="ADD rootfs /")
    pkg = Package(
        name="musl",
        version="1.2.4_git20230717-r4",
        type=PackageType.APK,
        arch="x86_64",
        source_name="musl",
        source_version="1.2.4_git20230717-r4",
        purl="pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=3.19.0",
        layer=layer.diff_id,
        paths=("lib/apk/db/installed",),
    )
    inventory = Inventory(
        artifact=ArtifactInfo(
            reference="alpine.tar",
            kind="docker-archive",
            image_id=digest("config:alpine:3.19"),
            repo_tags=("alpine:3.19",),
            platform="linux/amd64",
            layers=(layer,),
        ),
        distro=Distro(id="alpine", version_id="3.19.0", pretty_name="Alpine Linux v3.19"),
        packages=(pkg,),
    )
    return ScanReport(inventory=inventory, findings=(), db=None)


def options(**changes: object) -> ReportOptions:
    """Deterministic options: fixed scanner version and scan times."""
    base = ReportOptions(
        scanner_version="0.1.0", started_at=STARTED, finished_at=FINISHED, width=140
    )
    return replace(base, **changes)  # type: ignore[arg-type]
