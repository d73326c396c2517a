"""Enrichment at match time: NVD, KEV and EPSS facts on findings, and the severity policy
(the vendor's severity first, NVD's when the vendor has none), shown in the JSON report.

NVD, KEV and EPSS data are the real samples in ../shared/data/advisories. None of the
sample Alpine image's CVEs (2016-2018 openssl, busybox, musl, zlib) is among the 43 CVEs of
the NVD samples, so the vendor side is a secdb-like advisory (no severity, like every
Alpine secdb entry) for CVE-2021-3881, a real NVD record: libmobi, which Alpine ships.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from hullscan.db.builder import build_db
from hullscan.db.feeds.epss import EpssFeed
from hullscan.db.feeds.kev import KevFeed
from hullscan.db.feeds.nvd import NvdFeed
from hullscan.db.reader import VulnDB
from hullscan.match.matcher import attach_facts, match_inventory
from hullscan.model import (
    AffectedRange,
    ArtifactInfo,
    CvssScore,
    DbInfo,
    Distro,
    Finding,
    FixStatus,
    Inventory,
    Package,
    PackageType,
    ScanReport,
    Severity,
    Vulnerability,
)
from hullscan.report.base import ReportOptions
from hullscan.report.json import to_document
from tests.conftest import REPO
from tests.db.helpers import ListFeed, advisory

ALPINE = Distro(id="alpine", version_id="3.15.0")
SECDB = "https://security.alpinelinux.org/vuln/{}"


def secdb(package: str, vuln_id: str, fixed: str) -> list[object]:
    """What the Alpine feed yields: a fix, no severity, the CVE page as the only fact."""
    return [
        advisory(
            package,
            vuln_id,
            namespace="alpine:3.15",
            ranges=(AffectedRange(fixed=fixed),),
            fixed_version=fixed,
            severity=Severity.UNKNOWN,
            severity_source="",
            source="alpine",
        ),
        Vulnerability(vuln_id, urls=(SECDB.format(vuln_id),)),
    ]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[VulnDB]:
    samples = shared_data / "advisories"
    alpine = ListFeed(
        [
            *secdb("libmobi", "CVE-2021-3881", "0.7-r0"),  # NVD: 9.8 CRITICAL
            *secdb("clash", "CVE-2023-43250", "1.0-r0"),  # NVD: awaiting analysis, no score
            *secdb("log4j2", "CVE-2021-44228", "2.15.0-r0"),  # KEV
            *secdb("nvidia", "CVE-2022-34668", "515.65-r0"),  # EPSS
        ],
        name="alpine",
    )
    debian = ListFeed(
        [
            advisory(
                "rails",
                "CVE-2020-8167",
                namespace="debian:10",
                ranges=(AffectedRange(fixed="2:5.2.2.1+dfsg-1+deb10u1"),),
                fixed_version="2:5.2.2.1+dfsg-1+deb10u1",
                severity=Severity.LOW,
            ),
            Vulnerability("CVE-2020-8167", "Debian's summary of the rails-ujs CSRF issue."),
        ],
        name="debian",
    )
    path = tmp_path_factory.mktemp("db") / "hullscan.db"
    result = build_db(
        path,
        [
            (alpine, str(samples / "README.md")),  # ListFeeds read no file
            (debian, str(samples / "README.md")),
            (NvdFeed(), str(samples / "nvd")),
            (KevFeed(), str(samples / "kev/quay__claircore")),
            (EpssFeed(), str(samples / "epss/quay__claircore")),
        ],
        strict=True,
    )
    assert [s.name for s in result.sources] == ["alpine", "debian", "nvd", "kev", "epss"]
    with VulnDB.open(path) as opened:
        yield opened


def apk(name: str, version: str) -> Package:
    return Package(name=name, version=version, type=PackageType.APK, source_name=name)


def scan(db: VulnDB, distro: Distro, *packages: Package) -> dict[str, Finding]:
    inventory = Inventory(ArtifactInfo(reference="test", kind="rootfs"), distro, packages)
    outcome = match_inventory(inventory, db)
    return {f.vuln_id: f for f in outcome.findings}


def test_nvd_severity_when_the_vendor_has_none(db: VulnDB) -> None:
    finding = scan(db, ALPINE, apk("libmobi", "0.6-r0"))["CVE-2021-3881"]
    assert (finding.severity, finding.severity_source) == (Severity.CRITICAL, "nvd")
    assert finding.cvss == (
        CvssScore(
            "nvd", "3.1", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, Severity.CRITICAL
        ),
        CvssScore(
            "security@huntr.dev",
            "3.0",
            "CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:L",
            7.1,
            Severity.HIGH,
        ),
        CvssScore("nvd", "2.0", "AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5, Severity.HIGH),
    )
    assert finding.cwes == ("CWE-125",)
    # the vendor gave no description: NVD's fills in; the vendor's link comes first
    assert finding.description == "libmobi is vulnerable to Out-of-bounds Read"
    assert finding.urls[:2] == (
        SECDB.format("CVE-2021-3881"),
        "https://nvd.nist.gov/vuln/detail/CVE-2021-3881",
    )
    assert (finding.kev_added, finding.epss) == ("", None)


def test_vendor_severity_stays_and_nvd_scores_are_shown(db: VulnDB) -> None:
    buster = Distro(id="debian", version_id="10", codename="buster")
    rails = Package(
        name="ruby-rails",
        version="2:5.2.2.1+dfsg-1",
        type=PackageType.DEB,
        source_name="rails",
        source_version="2:5.2.2.1+dfsg-1",
    )
    finding = scan(db, buster, rails)["CVE-2020-8167"]
    assert (finding.severity, finding.severity_source) == (Severity.LOW, "debian")
    assert [(c.source, c.version, c.score, c.severity) for c in finding.cvss] == [
        ("nvd", "3.1", 6.5, Severity.MEDIUM),
        ("nvd", "2.0", 4.3, Severity.MEDIUM),
    ]
    assert finding.description == "Debian's summary of the rails-ujs CSRF issue."
    assert finding.cwes == ("CWE-352",)


def test_unknown_stays_unknown_when_nvd_has_no_score(db: VulnDB) -> None:
    finding = scan(db, ALPINE, apk("clash", "0.9-r0"))["CVE-2023-43250"]
    assert (finding.severity, finding.severity_source, finding.cvss) == (Severity.UNKNOWN, "", ())
    assert finding.description  # NVD's text, even without a score


def test_kev_and_epss(db: VulnDB) -> None:
    found = scan(db, ALPINE, apk("log4j2", "2.14.1-r0"), apk("nvidia", "510.0-r0"))
    log4shell, nvidia = found["CVE-2021-44228"], found["CVE-2022-34668"]
    assert (log4shell.kev_added, log4shell.epss) == ("2021-12-10", None)
    assert log4shell.severity is Severity.UNKNOWN  # not in the NVD samples
    assert (nvidia.kev_added, nvidia.epss, nvidia.epss_percentile) == ("", 0.00311, 0.70519)


def test_facts_of_cve_aliases_reach_other_ids(db: VulnDB) -> None:
    """A GHSA finding (language feeds) gets NVD, KEV and EPSS facts through its CVE alias."""
    ghsa = Finding(
        vuln_id="GHSA-xxxx-yyyy-zzzz",
        package=Package(name="log4j-core", version="2.14.1", type=PackageType.MAVEN),
        status=FixStatus.FIXED,
        severity=Severity.UNKNOWN,
        severity_source="",
        namespace="maven",
        aliases=("CVE-2021-44228", "CVE-2021-3881"),
    )
    (enriched,) = attach_facts([ghsa], db)
    assert enriched.kev_added == "2021-12-10"
    assert (enriched.severity, enriched.severity_source) == (Severity.CRITICAL, "nvd")
    assert enriched.aliases == ("CVE-2021-44228", "CVE-2021-3881")
    unrelated = Finding(
        vuln_id="GHSA-none",
        package=ghsa.package,
        status=FixStatus.AFFECTED,
        severity=Severity.HIGH,
        severity_source="ghsa",
        namespace="maven",
    )
    assert attach_facts([unrelated], db) == [unrelated]


def test_json_report_shows_the_facts(db: VulnDB) -> None:
    packages = (apk("libmobi", "0.6-r0"), apk("log4j2", "2.14.1-r0"), apk("nvidia", "510.0-r0"))
    inventory = Inventory(ArtifactInfo(reference="test", kind="rootfs"), ALPINE, packages)
    findings = tuple(match_inventory(inventory, db).findings)
    info = db.info()
    report = ScanReport(inventory, findings, DbInfo(info.schema_version, info.built_at))
    document = to_document(report, ReportOptions())
    schema = json.loads(
        (REPO / "tests/report/hullscan-report.schema.json").read_text(encoding="utf-8")
    )
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(
        document
    )
    by_id = {f["id"]: f for f in document["findings"]}
    libmobi = by_id["CVE-2021-3881"]
    assert (libmobi["severity"], libmobi["severity_source"]) == ("CRITICAL", "nvd")
    assert libmobi["cvss"][0] == {
        "source": "nvd",
        "version": "3.1",
        "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "score": 9.8,
        "severity": "CRITICAL",
    }
    assert libmobi["cwes"] == ["CWE-125"]
    assert (libmobi["kev"], libmobi["epss"]) == (None, None)
    assert by_id["CVE-2021-44228"]["kev"] == {"date_added": "2021-12-10"}
    assert by_id["CVE-2022-34668"]["epss"] == {"score": 0.00311, "percentile": 0.70519}
