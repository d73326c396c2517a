"""SBOMs in (hullscan.sbom): our own CycloneDX/SPDX/JSON read back exactly, Trivy's and
Syft's read well enough to match, and the round trip that matters: an SBOM hullscan wrote
and scanned back gives the same findings as the image it describes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from packageurl import PackageURL

from hullscan import sbom
from hullscan.db.builder import build_db
from hullscan.db.feeds.registry import get_feed
from hullscan.db.reader import VulnDB
from hullscan.errors import SourceError
from hullscan.image.archive import open_archive
from hullscan.model import (
    AffectedRange,
    Distro,
    Finding,
    FixStatus,
    Inventory,
    Package,
    PackageType,
    ScanReport,
    Severity,
)
from hullscan.report import cyclonedx, json, spdx
from hullscan.report.base import ReportOptions
from hullscan.scan import index, match
from tests.conftest import REPO
from tests.db.helpers import ListFeed, advisory
from tests.image.test_archive import load_sample_builder
from tests.report import fixtures as fx
from tests.report.test_cyclonedx import mixed_report

Writer = Callable[[ScanReport, ReportOptions], str]

WRITERS: dict[str, Writer] = {
    "cyclonedx-json": cyclonedx.render_json,
    "cyclonedx-xml": cyclonedx.render_xml,
    "spdx-json": spdx.render,
    "hullscan-json": json.render,
}


def canonical(pkg: Package) -> Package:
    """The package with its purl in packageurl-python's canonical spelling (CycloneDX
    stores purls parsed, so `+` comes back as `%2B`; the purl is the same)."""
    return replace(pkg, purl=str(PackageURL.from_string(pkg.purl))) if pkg.purl else pkg


def packages(inventory: Inventory) -> list[Package]:
    return sorted((canonical(p) for p in inventory.packages), key=repr)


def round_trip(report: ScanReport, fmt: str) -> Inventory:
    text = WRITERS[fmt](report, fx.options())
    assert sbom.detect_format(text) == fmt
    return sbom.parse_sbom(text, f"app.{fmt}")


# --- our own SBOMs read back exactly -----------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(WRITERS))
@pytest.mark.parametrize(
    "make", [fx.policied_report, fx.clean_report, mixed_report], ids=["debian", "alpine", "mixed"]
)
def test_inventory_round_trip(fmt: str, make: Callable[[], ScanReport]) -> None:
    report = make()
    original = report.inventory
    read = round_trip(report, fmt)
    if fmt == "hullscan-json":  # the JSON report has no vendor (docs/json-report.md)
        original = replace(
            original, packages=tuple(replace(p, vendor="") for p in original.packages)
        )
    assert packages(read) == packages(original)
    assert read.distro == original.distro
    artifact = read.artifact
    assert (artifact.reference, artifact.kind) == (f"app.{fmt}", "sbom")
    assert artifact.layers == original.artifact.layers
    assert artifact.image_id == original.artifact.image_id
    assert artifact.platform == original.artifact.platform
    assert artifact.repo_tags[0] == original.artifact.repo_tags[0]
    assert sbom.image_reference(read) == original.artifact.repo_tags[0]
    if fmt != "hullscan-json":  # the JSON report mixes in matching's warnings (docs)
        assert read.warnings == original.warnings


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_distro_without_a_version_number(fmt: str) -> None:
    report = fx.clean_report()
    for distro in (
        Distro(id="debian", codename="trixie", channel="testing"),
        Distro(id="debian", codename="sid", channel="sid"),
        Distro(id="alpine", channel="edge", pretty_name="Alpine Linux edge"),
    ):
        changed = replace(report, inventory=replace(report.inventory, distro=distro))
        assert round_trip(changed, fmt).distro == distro


# --- the round trip that matters: same findings --------------------------------------------


def _same_findings(original: Inventory, read: Inventory, db: VulnDB) -> list[Finding]:
    before = match(original, db).findings
    after = match(read, db).findings
    assert before, "the fixture must have findings to compare"

    def key(f: Finding) -> tuple[str, str, str, str]:
        return (f.vuln_id, f.package.name, f.package.arch, f.package.version)

    def same(f: Finding) -> Finding:  # vendor: not in the JSON report, not used by matching
        return replace(f, package=replace(canonical(f.package), vendor=""))

    assert sorted(map(same, after), key=key) == sorted(map(same, before), key=key)
    return list(before)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ScanReport, VulnDB]]:
    """The bundled sample image (real apk database, 3 layers) against the real secdb."""
    root = tmp_path_factory.mktemp("sample")
    image = load_sample_builder().build(root / "sample.tar")
    build_db(root / "db", [(get_feed("alpine"), str(REPO / "examples/feeds/alpine/v3.4"))])
    with open_archive(image) as source:
        inventory = index(source)
    with VulnDB.open(root / "db") as db:
        yield match(inventory, db), db


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_sample_image_sbom_gives_the_same_findings(
    fmt: str, sample: tuple[ScanReport, VulnDB]
) -> None:
    report, db = sample
    read = round_trip(report, fmt)
    assert packages(read) == packages(report.inventory)
    findings = _same_findings(report.inventory, read, db)
    assert {f.vuln_id for f in findings} >= {"CVE-2016-8859", "CVE-2017-15650"}


@pytest.fixture(scope="module")
def debian_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VulnDB]:
    """Advisories keyed by source package, where losing the source version (binNMU) or the
    epoch in the SBOM would change the verdict."""
    path = tmp_path_factory.mktemp("debdb") / "db"
    records = [
        # bash 5.2.15-2+b2 is a binNMU of source 5.2.15-2, which is below the fix; the
        # binary version alone (5.2.15-2+b2) would look fixed
        advisory(
            "bash",
            "CVE-2099-0001",
            ranges=(AffectedRange(fixed="5.2.15-2+b1"),),
            fixed_version="5.2.15-2+b1",
            severity=Severity.HIGH,
        ),
        # zlib 1:1.2.13.dfsg-1: without its epoch it would look older than the fix
        advisory(
            "zlib", "CVE-2099-0002", ranges=(AffectedRange(fixed="1.3-1"),), fixed_version="1.3-1"
        ),
        advisory(
            "glibc",
            "CVE-2023-4911",
            ranges=(AffectedRange(fixed="2.36-9+deb12u3"),),
            fixed_version="2.36-9+deb12u3",
            severity=Severity.HIGH,
        ),
        advisory(
            "curl",
            "CVE-2023-38545",
            ranges=(AffectedRange(fixed="7.88.1-10+deb12u4"),),
            fixed_version="7.88.1-10+deb12u4",
            severity=Severity.CRITICAL,
        ),
        advisory(
            "ncurses", "CVE-2023-50495", ranges=(), status=FixStatus.FIX_DEFERRED, fixed_version=""
        ),
    ]
    (path.parent / "unused").write_text("{}")  # ListFeed yields its records, reads nothing
    build_db(path, [(ListFeed(records, name="debian"), str(path.parent / "unused"))])
    with VulnDB.open(path) as db:
        yield db


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_debian_sbom_gives_the_same_findings(fmt: str, debian_db: VulnDB) -> None:
    report = fx.debian_report()
    read = round_trip(report, fmt)
    findings = _same_findings(report.inventory, read, debian_db)
    assert {(f.vuln_id, f.package.name) for f in findings} == {
        ("CVE-2099-0001", "bash"),
        ("CVE-2023-4911", "libc6"),
        ("CVE-2023-38545", "curl"),
        ("CVE-2023-38545", "libcurl4"),
        ("CVE-2023-50495", "libtinfo6"),
    }


@pytest.fixture(scope="module")
def rhel_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VulnDB]:
    """Red Hat advisories keyed by source rpm and module stream (see match.redhat)."""
    pytest.importorskip("hullscan.versions.rpm")
    path = tmp_path_factory.mktemp("rhdb") / "db"
    records = [
        advisory(
            "openssl",
            "CVE-2024-0727",
            namespace="rhel:9",
            ranges=(AffectedRange(fixed="1:3.0.7-27.el9"),),
            fixed_version="1:3.0.7-27.el9",
            severity=Severity.MEDIUM,
            severity_source="redhat",
        ),
        advisory(
            "perl-FCGI:0.78::perl-FCGI",
            "CVE-2025-40907",
            namespace="rhel:9",
            ranges=(AffectedRange(fixed="1:0.78-12.module+el9.6.0+23146+1f5c1a26"),),
            fixed_version="1:0.78-12.module+el9.6.0+23146+1f5c1a26",
            severity=Severity.HIGH,
            severity_source="redhat",
        ),
    ]
    (path.parent / "unused").write_text("{}")
    build_db(path, [(ListFeed(records, name="redhat"), str(path.parent / "unused"))])
    with VulnDB.open(path) as db:
        yield db


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_rhel_sbom_gives_the_same_findings(fmt: str, rhel_db: VulnDB) -> None:
    report = mixed_report()
    read = round_trip(report, fmt)
    findings = _same_findings(report.inventory, read, rhel_db)
    # the epoch (openssl) and the module stream (perl-FCGI) survived the SBOM
    assert {(f.vuln_id, f.package.name) for f in findings} == {
        ("CVE-2024-0727", "openssl-libs"),
        ("CVE-2025-40907", "perl-FCGI"),
    }


# --- other producers' SBOMs ----------------------------------------------------------------


TRIVY_SBOM = "golden/aquasecurity__trivy/integration/testdata/fixtures/sbom"


def test_trivy_cyclonedx(shared_data: Path) -> None:
    inventory = sbom.read_sbom(shared_data / TRIVY_SBOM / "centos-7-cyclonedx.json")
    assert inventory.distro == Distro(id="centos", version_id="7.6.1810")
    by_name = {p.name: p for p in inventory.packages}
    openssl = by_name["openssl-libs"]
    assert (openssl.type, openssl.version, openssl.arch) == (
        PackageType.RPM,
        "1:1.0.2k-16.el7",
        "x86_64",
    )
    assert (openssl.source_name, openssl.source_version) == ("openssl", "1:1.0.2k-16.el7")
    assert openssl.layer.startswith("sha256:89169d87")
    assert inventory.artifact.image_id.startswith("sha256:f1cb7c7d")
    assert inventory.artifact.repo_tags[0] == "ghcr.io/aquasecurity/trivy-test-images:centos-7"
    assert [layer.diff_id[:15] for layer in inventory.artifact.layers] == ["sha256:89169d87"]


def test_trivy_spdx(shared_data: Path) -> None:
    inventory = sbom.read_sbom(shared_data / TRIVY_SBOM / "centos-7-spdx.json")
    assert inventory.distro == Distro(id="centos", version_id="7.6.1810")
    by_name = {p.name: p for p in inventory.packages}
    assert set(by_name) == {"bash", "openssl-libs"}
    assert by_name["openssl-libs"].version == "1:1.0.2k-16.el7"  # from the purl
    assert by_name["openssl-libs"].source_name == "openssl-libs"  # Trivy's sourceInfo says so
    assert by_name["bash"].layer.startswith("sha256:89169d87")
    assert inventory.artifact.repo_tags[0] == "ghcr.io/aquasecurity/trivy-test-images:centos-7"


def test_syft_sboms(shared_data: Path) -> None:
    snapshots = shared_data / "golden/anchore__syft/syft/format"
    cdx = sbom.read_sbom(
        snapshots / "cyclonedxjson/testdata/snapshot/TestCycloneDxImageEncoder.golden"
    )
    (deb,) = [p for p in cdx.packages if p.type is PackageType.DEB]
    assert (deb.name, deb.version, deb.paths) == ("package-2", "2.0.1", ("somefile-2.txt",))
    assert cdx.distro is not None and (cdx.distro.id, cdx.distro.version_id) == ("debian", "1.2.3")
    assert any("a-purl-1" not in w and "invalid purl: 1" in w for w in cdx.warnings)
    spdx_doc = sbom.read_sbom(
        snapshots / "spdxjson/testdata/snapshot/TestSPDXJSONImageEncoder.golden"
    )
    assert {p.name for p in spdx_doc.packages if p.type is PackageType.DEB} == {"package-2"}


# --- purls -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("purl", "expected"),
    [
        (
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u1?arch=amd64&upstream=glibc&distro=debian-12",
            ("libc6", "2.36-9+deb12u1", PackageType.DEB, "amd64", "glibc", "2.36-9+deb12u1"),
        ),
        (  # Syft spells the source version into upstream
            "pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&upstream=bash%405.2.15-2",
            ("bash", "5.2.15-2+b2", PackageType.DEB, "amd64", "bash", "5.2.15-2"),
        ),
        (  # Red Hat's upstream is the source rpm's file name, without the epoch
            "pkg:rpm/redhat/openssl-libs@3.0.7-24.el9?arch=x86_64&epoch=1"
            "&upstream=openssl-3.0.7-24.el9.src.rpm&distro=rhel-9.2",
            (
                "openssl-libs",
                "1:3.0.7-24.el9",
                PackageType.RPM,
                "x86_64",
                "openssl",
                "1:3.0.7-24.el9",
            ),
        ),
        (
            "pkg:apk/alpine/busybox@1.36.1-r5?arch=x86_64&upstream=busybox&distro=alpine-3.19.0",
            ("busybox", "1.36.1-r5", PackageType.APK, "x86_64", "busybox", "1.36.1-r5"),
        ),
        ("pkg:pypi/requests@2.31.0", ("requests", "2.31.0", PackageType.PYPI, "", "", "")),
        ("pkg:npm/%40babel/core@7.22.5", ("@babel/core", "7.22.5", PackageType.NPM, "", "", "")),
        (
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
            ("org.apache.logging.log4j:log4j-core", "2.14.1", PackageType.MAVEN, "", "", ""),
        ),
        (
            "pkg:golang/github.com/gin-gonic/gin@v1.9.0",
            ("github.com/gin-gonic/gin", "v1.9.0", PackageType.GOLANG, "", "", ""),
        ),
        ("pkg:cargo/rand@0.8.5", ("rand", "0.8.5", PackageType.CARGO, "", "", "")),
    ],
)
def test_package_from_purl(purl: str, expected: tuple[object, ...]) -> None:
    pkg = sbom.package_from_purl(purl)
    assert isinstance(pkg, Package)
    assert (pkg.name, pkg.version, pkg.type, pkg.arch, pkg.source_name, pkg.source_version) == (
        expected
    )
    assert pkg.purl == purl


@pytest.mark.parametrize(
    ("purl", "why"),
    [
        ("pkg:generic/openssl@3.0", "purl type generic"),
        ("pkg:pypi/requests", "no version"),
        ("not a purl", "invalid purl"),
    ],
)
def test_unusable_purls(purl: str, why: str) -> None:
    assert sbom.package_from_purl(purl) == why


@pytest.mark.parametrize(
    ("purl", "distro"),
    [
        ("pkg:deb/debian/a@1?distro=debian-12", Distro(id="debian", version_id="12")),
        ("pkg:deb/debian/a@1?distro=debian-bookworm", Distro(id="debian", codename="bookworm")),
        ("pkg:deb/ubuntu/a@1?distro=ubuntu-22.04", Distro(id="ubuntu", version_id="22.04")),
        ("pkg:apk/alpine/a@1?distro=3.19.0", Distro(id="alpine", version_id="3.19.0")),
        ("pkg:rpm/redhat/a@1?distro=rhel-9.2", Distro(id="rhel", version_id="9.2")),
        (
            "pkg:rpm/opensuse/a@1?distro=opensuse-leap-15.5",
            Distro(id="opensuse-leap", version_id="15.5"),
        ),
        ("pkg:rpm/amazon/a@1", Distro(id="amzn")),
        ("pkg:pypi/a@1", None),
    ],
)
def test_distro_from_purl(purl: str, distro: Distro | None) -> None:
    assert sbom.distro_from_purl(purl) == distro


def test_purl_made_for_a_package_without_one() -> None:
    maven = Package("org.example:lib", "1.0", PackageType.MAVEN)
    assert sbom.package_purl(maven, None) == "pkg:maven/org.example/lib@1.0"
    back = sbom.package_from_purl(sbom.package_purl(maven, None))
    assert isinstance(back, Package) and back.name == maven.name


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "invalid JSON at line 1, column 2"),
        ('{"hello": 1}', "not a recognised SBOM"),
        ("SPDXVersion: SPDX-2.3\n", "SPDX tag-value is not supported"),
        ("<html></html>", "XML but not a CycloneDX BOM"),
        ('{"spdxVersion": "SPDX-3.0"}', "SPDX-3.0 is not supported"),
        ('{"schema_version": 2, "artifact": {}, "packages": []}', "schema_version 2"),
        ("<bom", "invalid XML"),
    ],
)
def test_errors_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(SourceError, match="sbom.json: .*" + message.replace("(", r"\(")):
        sbom.parse_sbom(text, "sbom.json")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot read SBOM"):
        sbom.read_sbom(tmp_path / "nope.json")
    (tmp_path / "bin").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SourceError, match="not a text file"):
        sbom.read_sbom(tmp_path / "bin")
