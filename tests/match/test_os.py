"""OS matching against a DB built from the real feed slices in examples/feeds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hullscan.db.builder import build_db
from hullscan.db.feeds.registry import get_feed
from hullscan.db.reader import VulnDB
from hullscan.match.matcher import match_inventory
from hullscan.match.os import OsMatcher
from hullscan.model import ArtifactInfo, Distro, FixStatus, Inventory, Package, PackageType
from tests.conftest import REPO

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
    findings, warnings = OsMatcher(db).match(Distro(id="ubuntu", version_id="22.04"), [pkg])
    assert findings == [] and "ubuntu 22.04 is not supported yet" in warnings[0]
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
    findings, _ = match_inventory(inventory, db)
    assert [f.package.name for f in findings] == ["libsope1", "sope-dev"]
    assert "NULL pointer dereference" in findings[0].description
