"""OS matching against a DB built from the real feed slices in examples/feeds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from hullscan.analyze.os.release import OsReleaseAnalyzer, detect_distro
from hullscan.db.builder import build_db
from hullscan.db.feeds.registry import get_feed
from hullscan.db.reader import VulnDB
from hullscan.match.matcher import match_inventory
from hullscan.match.os import OsMatcher
from hullscan.model import (
    AffectedRange,
    ArtifactInfo,
    Distro,
    FixStatus,
    Inventory,
    Package,
    PackageType,
    Severity,
)
from tests.conftest import REPO
from tests.db.helpers import ListFeed, advisory

BOOKWORM = Distro(id="debian", version_id="12", codename="bookworm")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VulnDB]:
    path = tmp_path_factory.mktemp("db") / "hullscan.db"
    feeds = REPO / "examples" / "feeds"
    build_db(
        path,
        [
            (get_feed("debian"), str(feeds / "debian" / "tracker-slice.json")),
            (get_feed("alpine"), str(feeds / "alpine" / "v3.4")),
        ],
    )
    with VulnDB.open(path) as opened:
        yield opened


def deb(name: str, version: str, source: str = "", source_version: str = "") -> Package:
    return Package(
        name=name,
        version=version,
        type=PackageType.DEB,
        arch="amd64",
        source_name=source or name,
        source_version=source_version or version,
    )


def ids(db: VulnDB, distro: Distro | None, *pkgs: Package) -> set[tuple[str, str, str]]:
    findings, _ = OsMatcher(db).match(distro, pkgs)
    return {(f.vuln_id, f.package.name, f.status.value) for f in findings}


def test_binary_package_matches_through_its_source(db: VulnDB) -> None:
    # tracker: sope CVE-2025-53603 bookworm resolved in 5.8.0-1+deb12u1 (bookworm had 5.8.0-1)
    found = ids(db, BOOKWORM, deb("libsope1", "5.8.0-1", "sope"))
    assert found == {("CVE-2025-53603", "libsope1", "fixed")}


def test_fixed_version_installed_is_clean(db: VulnDB) -> None:
    assert ids(db, BOOKWORM, deb("libsope1", "5.8.0-1+deb12u1", "sope")) == set()


def test_binnmu_is_judged_by_its_source_version(db: VulnDB) -> None:
    # 5.8.0-1+b1 sorts above 5.8.0-1 but is a rebuild of the unfixed source
    binnmu = deb("libsope1", "5.8.0-1+b1", "sope", "5.8.0-1")
    assert ids(db, BOOKWORM, binnmu) == {("CVE-2025-53603", "libsope1", "fixed")}


def test_each_release_has_its_own_fixed_version(db: VulnDB) -> None:
    bullseye = Distro(id="debian", version_id="11", codename="bullseye")
    # bullseye's fix is 5.0.1-2+deb11u1: 5.0.1-2 is affected, and bookworm's fix is irrelevant
    findings, _ = OsMatcher(db).match(bullseye, [deb("libsope1", "5.0.1-2", "sope")])
    assert [(f.vuln_id, f.fixed_version) for f in findings] == [
        ("CVE-2025-53603", "5.0.1-2+deb11u1")
    ]


def test_open_issue_in_an_end_of_life_release(db: VulnDB) -> None:
    # tracker: chromium CVE-2022-0456 buster status open, urgency end-of-life
    buster = Distro(id="debian", version_id="10", codename="buster")
    found = ids(db, buster, deb("chromium", "89.0.4389.114-1~deb10u1"))
    assert found == {("CVE-2022-0456", "chromium", FixStatus.END_OF_LIFE.value)}


def test_testing_is_matched_by_its_codename(db: VulnDB) -> None:
    trixie = Distro(id="debian", codename="trixie", channel="testing")
    assert ids(db, trixie, deb("libsope1", "5.12.1-1", "sope")) == {
        ("CVE-2025-53603", "libsope1", "fixed")
    }


def test_not_affected_entries_never_match(db: VulnDB) -> None:
    # tracker: prototypejs CVE-2007-2383 sid resolved in "0" = never affected
    sid = Distro(id="debian", codename="sid", channel="sid")
    found = ids(db, sid, deb("libjs-prototype", "1.0-1", "prototypejs"))
    assert ("CVE-2007-2383", "libjs-prototype", "fixed") not in found
    assert ("CVE-2008-7220", "libjs-prototype", "fixed") in found


def test_alpine_matches_by_origin(db: VulnDB) -> None:
    alpine = Distro(id="alpine", version_id="3.4.6")
    ssl = Package(
        name="libssl1.0",
        version="1.0.2h-r1",
        type=PackageType.APK,
        source_name="openssl",
        source_version="1.0.2h-r1",
    )
    found = ids(db, alpine, ssl)
    assert ("CVE-2016-6304", "libssl1.0", "fixed") in found
    assert ("CVE-2016-2177", "libssl1.0", "fixed") not in found  # fixed in 1.0.2h-r1 itself


def test_unsupported_and_unknown_os_are_warnings(db: VulnDB) -> None:
    pkg = deb("bash", "5.2-1")
    findings, warnings = OsMatcher(db).match(Distro(id="gentoo", version_id="2.8"), [pkg])
    assert findings == [] and "gentoo 2.8 is not supported yet" in warnings[0]
    # supported, but this DB was built without the ubuntu feed
    findings, warnings = OsMatcher(db).match(Distro(id="ubuntu", version_id="22.04"), [pkg])
    assert findings == [] and "no advisories for ubuntu:22.04" in warnings[0]
    findings, warnings = OsMatcher(db).match(None, [pkg])
    assert findings == [] and "OS could not be detected" in warnings[0]


def test_release_missing_from_the_db_is_a_warning(db: VulnDB) -> None:
    wheezy = Distro(id="debian", version_id="7")
    findings, warnings = OsMatcher(db).match(wheezy, [deb("bash", "4.2-1")])
    assert findings == [] and "no advisories for debian:7" in warnings[0]


def test_invalid_installed_version_is_a_warning_not_a_crash(db: VulnDB) -> None:
    broken = deb("libsope1", "not a version", "sope", "not a version")
    findings, warnings = OsMatcher(db).match(BOOKWORM, [broken])
    assert findings == []
    assert "libsope1" in warnings[0]


def test_matcher_attaches_descriptions_and_sorts(db: VulnDB) -> None:
    inventory = Inventory(
        artifact=ArtifactInfo(reference="x", kind="test"),
        distro=BOOKWORM,
        packages=(deb("libsope1", "5.8.0-1", "sope"), deb("sope-dev", "5.8.0-1", "sope")),
    )
    findings = match_inventory(inventory, db).findings
    assert [f.package.name for f in findings] == ["libsope1", "sope-dev"]
    assert "NULL pointer dereference" in findings[0].description


# --- Ubuntu, Amazon Linux, Wolfi/Chainguard, Alpine edge, the RHEL fallback, end of life ---
# A DB built from the real samples in ../shared/data/advisories (see tests/db/feeds/).

OSV = "ubuntu/anchore__vunnel/tests/unit/providers/ubuntu/test-fixtures"
ALAS = "amazon/aquasecurity__vuln-list-update/amazon/testdata/fixtures"
WOLFI = "wolfi/anchore__vunnel/tests/unit/providers/wolfi/test-fixtures/input/secdb/security.json"
ALPINE_EDGE = "alpine/aquasecurity__vuln-list-update/alpine/testdata/edge-main.json"


@pytest.fixture(scope="module")
def more_db(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[VulnDB]:
    advisories = shared_data / "advisories"
    work = tmp_path_factory.mktemp("more-db")
    chainguard = json.loads((advisories / WOLFI).read_text())
    chainguard.update(reponame="chainguard", urlprefix="https://packages.cgr.dev")
    (work / "chainguard.json").write_text(json.dumps(chainguard))
    extra = ListFeed(
        [
            # Red Hat data for the Oracle Linux fallback
            advisory(
                "openssl",
                "CVE-2023-0286",
                namespace="rhel:9",
                ranges=(AffectedRange(fixed="1:3.0.7-6.el9_2"),),
                fixed_version="1:3.0.7-6.el9_2",
                severity=Severity.HIGH,
                severity_source="redhat",
            ),
            # one id filed under a binary and its source rpm, with different fixes
            advisory(
                "curl-minimal",
                "CVE-2023-0001",
                namespace="amazon:2023",
                ranges=(AffectedRange(fixed="8.0.1-1.amzn2023"),),
                fixed_version="8.0.1-1.amzn2023",
            ),
            advisory(
                "curl",
                "CVE-2023-0001",
                namespace="amazon:2023",
                ranges=(AffectedRange(fixed="8.0.1-5.amzn2023"),),
                fixed_version="8.0.1-5.amzn2023",
            ),
        ],
        name="extra",
    )
    path = work / "hullscan.db"
    build_db(
        path,
        [
            (get_feed("ubuntu"), str(advisories / OSV / "osv")),
            (get_feed("amazon"), str(advisories / ALAS / "updateinfo_2_items.xml.gz")),
            (get_feed("amazon"), str(advisories / ALAS / "updateinfo_AL2023.xml.gz")),
            (get_feed("wolfi"), str(advisories / WOLFI)),
            (get_feed("chainguard"), str(work / "chainguard.json")),
            (get_feed("alpine"), str(advisories / ALPINE_EDGE)),
            (extra, str(work / "chainguard.json")),  # any file: ListFeed ignores it
        ],
    )
    with VulnDB.open(path) as opened:
        yield opened


def found(db: VulnDB, distro: Distro, *pkgs: Package) -> set[tuple[str, str, str, str]]:
    findings, warnings = OsMatcher(db).match(distro, pkgs)
    assert warnings == []
    return {(f.vuln_id, f.package.name, f.status.value, f.fixed_version) for f in findings}


def rpm(name: str, version: str, source: str = "") -> Package:
    return Package(
        name=name,
        version=version,
        type=PackageType.RPM,
        arch="x86_64",
        source_name=source or name,
        source_version=version,
    )


def apk(name: str, version: str, origin: str) -> Package:
    return Package(
        name=name, version=version, type=PackageType.APK, source_name=origin, source_version=version
    )


JAMMY = Distro(id="ubuntu", version_id="22.04", codename="jammy")


def test_ubuntu_binary_matches_through_its_source(more_db: VulnDB) -> None:
    # UBUNTU-CVE-2021-3782: wayland fixed in 22.04 by 1.20.0-1ubuntu0.1
    client = deb("libwayland-client0", "1.20.0-1", "wayland")
    assert found(more_db, JAMMY, client) == {
        ("CVE-2021-3782", "libwayland-client0", "fixed", "1.20.0-1ubuntu0.1")
    }
    assert found(more_db, JAMMY, deb("libwayland-client0", "1.20.0-1ubuntu0.1", "wayland")) == set()
    # 18.04 has its own fix; a codename-only image finds it too
    bionic = Distro(id="ubuntu", codename="bionic")
    assert found(
        more_db, bionic, deb("libwayland-client0", "1.16.0-1ubuntu1.1~18.04.3", "wayland")
    ) == {("CVE-2021-3782", "libwayland-client0", "fixed", "1.16.0-1ubuntu1.1~18.04.4")}


def test_ubuntu_unfixed_affects_every_version(more_db: VulnDB) -> None:
    findings, _ = OsMatcher(more_db).match(JAMMY, [deb("libc6", "2.35-0ubuntu3.8", "glibc")])
    assert [(f.vuln_id, f.status, f.severity) for f in findings] == [
        ("CVE-2016-20013", FixStatus.AFFECTED, Severity.NEGLIGIBLE)
    ]


def test_amazon_linux_2_epochs(more_db: VulnDB) -> None:
    al2 = Distro(id="amzn", version_id="2")
    # ALAS2-2018-942 fixed qemu-img in 10:1.5.3-141.amzn2.5.3
    assert found(more_db, al2, rpm("qemu-img", "10:1.5.3-141.amzn2.5.2", "qemu-kvm")) == {
        ("CVE-2017-5715", "qemu-img", "fixed", "10:1.5.3-141.amzn2.5.3")
    }
    assert found(more_db, al2, rpm("qemu-img", "10:1.5.3-141.amzn2.5.3", "qemu-kvm")) == set()
    # a newer upstream version without the epoch is still older: epoch 0 < 10
    assert found(more_db, al2, rpm("qemu-img", "2.0.0-1.amzn2", "qemu-kvm")) != set()


def test_amazon_subpackage_missing_from_the_alas_matches_through_its_source(
    more_db: VulnDB,
) -> None:
    al2 = Distro(id="amzn", version_id="2")
    extra = rpm("qemu-kvm-ev-extra", "10:1.5.3-141.amzn2.5.2", "qemu-kvm")
    assert found(more_db, al2, extra) == {
        ("CVE-2017-5715", "qemu-kvm-ev-extra", "fixed", "10:1.5.3-141.amzn2.5.3")
    }


def test_amazon_linux_2023(more_db: VulnDB) -> None:
    al2023 = Distro(id="amzn", version_id="2023")
    findings, _ = OsMatcher(more_db).match(al2023, [rpm("rsyslog", "8.2204.0-3.amzn2023.0.1")])
    assert {(f.vuln_id, f.severity, f.namespace) for f in findings} == {
        ("CVE-2014-3634", Severity.HIGH, "amazon:2023"),
        ("CVE-2022-24903", Severity.HIGH, "amazon:2023"),
    }


def test_rpm_advisory_naming_the_binary_wins_over_its_source(more_db: VulnDB) -> None:
    al2023 = Distro(id="amzn", version_id="2023")
    # curl-minimal's own advisory says 8.0.1-1 fixed it; curl's (its source) says 8.0.1-5
    assert found(more_db, al2023, rpm("curl-minimal", "8.0.1-3.amzn2023", "curl")) == set()
    assert found(more_db, al2023, rpm("curl-minimal", "8.0.1-0.amzn2023", "curl")) == {
        ("CVE-2023-0001", "curl-minimal", "fixed", "8.0.1-1.amzn2023")
    }
    assert found(more_db, al2023, rpm("libcurl", "8.0.1-3.amzn2023", "curl")) == {
        ("CVE-2023-0001", "libcurl", "fixed", "8.0.1-5.amzn2023")
    }


@pytest.mark.parametrize(
    ("distro", "namespace"),
    [
        (Distro(id="wolfi", version_id="20230201"), "wolfi:rolling"),
        (Distro(id="chainguard", version_id="20230214"), "chainguard:rolling"),
    ],
)
def test_wolfi_and_chainguard(more_db: VulnDB, distro: Distro, namespace: str) -> None:
    findings, _ = OsMatcher(more_db).match(distro, [apk("libcrypto3", "3.0.6-r0", "openssl")])
    assert {(f.vuln_id, f.fixed_version, f.namespace) for f in findings} == {
        (cve, "3.0.7-r0", namespace) for cve in ("CVE-2022-3358", "CVE-2022-3602", "CVE-2022-3786")
    }
    assert OsMatcher(more_db).match(distro, [apk("libcrypto3", "3.0.7-r0", "openssl")]) == ([], [])


def test_alpine_edge_image_matches_edge_advisories(more_db: VulnDB) -> None:
    analyzer = OsReleaseAnalyzer()
    os_release = (
        'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.21.0_alpha20240807\n'
        'PRETTY_NAME="Alpine Linux edge"\n'
    )
    files = {
        "etc/os-release": analyzer.analyze("etc/os-release", os_release.encode()).distro,
        "etc/alpine-release": analyzer.analyze("etc/alpine-release", b"edge\n").distro,
    }
    distro = detect_distro({k: v for k, v in files.items() if v is not None})
    assert distro is not None and distro.channel == "edge"
    # vuln-list-update's edge secdb: apk-tools CVE-2021-36159 fixed in 2.12.6-r0
    assert found(more_db, distro, apk("apk-tools", "2.12.5-r0", "apk-tools")) == {
        ("CVE-2021-36159", "apk-tools", "fixed", "2.12.6-r0")
    }


def test_oracle_linux_falls_back_to_red_hat_with_a_warning(more_db: VulnDB) -> None:
    ol9 = Distro(id="ol", version_id="9.2")
    findings, warnings = OsMatcher(more_db).match(ol9, [rpm("openssl", "1:3.0.7-5.0.1.el9_2")])
    assert [(f.vuln_id, f.namespace, f.fixed_version) for f in findings] == [
        ("CVE-2023-0286", "rhel:9", "1:3.0.7-6.el9_2")
    ]
    assert warnings == [
        "the vulnerability DB has no advisories for oracle:9; OS packages matched against "
        "rhel:9 instead, whose fixed versions and statuses may differ from the "
        "distribution's own"
    ]


def test_rocky_is_covered_by_red_hat_without_a_warning(more_db: VulnDB) -> None:
    rocky = Distro(id="rocky", version_id="9.3")
    findings, warnings = OsMatcher(more_db).match(rocky, [rpm("openssl", "1:3.0.7-5.el9")])
    assert [f.namespace for f in findings] == ["rhel:9"] and warnings == []


def test_no_namespace_of_the_list_in_the_db(more_db: VulnDB) -> None:
    findings, warnings = OsMatcher(more_db).match(
        Distro(id="ol", version_id="8.9"), [rpm("x", "1-1")]
    )
    assert findings == []
    assert warnings == [
        "the vulnerability DB has no advisories for oracle:8 or rhel:8; is the feed built?"
    ]
    _, warnings = OsMatcher(more_db).match(
        Distro(id="amzn", version_id="2018.03"), [rpm("x", "1-1")]
    )
    assert warnings == ["the vulnerability DB has no advisories for amazon:1; is the feed built?"]


def test_end_of_life_warning_on_the_scan_day(db: VulnDB) -> None:
    buster = Distro(id="debian", version_id="10", codename="buster")
    message = "Debian 10 (buster) reached end of life on 2024-06-30; it receives no security fixes"
    pkg = deb("chromium", "89.0.4389.114-1~deb10u1")
    findings, warnings = OsMatcher(db, scan_date=date(2025, 1, 1)).match(buster, [pkg])
    assert warnings[0] == message and findings
    # also without any OS package, and never before the date or without a scan date
    assert OsMatcher(db, scan_date=date(2025, 1, 1)).match(buster, []) == ([], [message])
    assert OsMatcher(db, scan_date=date(2024, 6, 30)).match(buster, [pkg])[1] == []
    assert OsMatcher(db).match(buster, [pkg])[1] == []


def test_rhel_without_its_feed_is_unmatched_not_clean(db: VulnDB) -> None:
    # the DB holds Debian and Alpine only: a RHEL image cannot be judged, and the gate must
    # know (before, the Red Hat path returned a bare warning and the image passed as clean)
    rhel = Distro(id="rhel", version_id="9.2")
    pkg = Package("openssl-libs", "1:3.0.7-16.el9_2", PackageType.RPM, "x86_64", "openssl")
    matcher = OsMatcher(db)
    findings, warnings = matcher.match(rhel, [pkg])
    assert findings == []
    assert "no advisories for rhel:9" in matcher.unmatched
    assert matcher.unmatched in warnings
