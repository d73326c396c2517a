"""Language packages matched against a DB built from real OSV records (see test_osv.py for
the sources): the known cases verified by hand against each advisory's ranges."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hullscan.db.builder import build_db
from hullscan.db.feeds.registry import get_feed
from hullscan.db.reader import VulnDB
from hullscan.match.lang import LangMatcher
from hullscan.match.matcher import match_inventory
from hullscan.model import (
    Advisory,
    AffectedRange,
    ArtifactInfo,
    Distro,
    Finding,
    FixStatus,
    Inventory,
    Package,
    PackageType,
    Severity,
)

FIXTURES = Path(__file__).parents[1] / "db" / "feeds" / "osv"
PYPA = "osv-pypi/pypa__advisory-database/vulns"
GO = "osv-go"


@pytest.fixture(scope="module")
def db(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VulnDB]:
    advisories_dir = shared_data / "advisories"
    path = tmp_path_factory.mktemp("langdb") / "hullscan.db"
    build_db(
        path,
        [
            (get_feed("osv-pypi"), str(advisories_dir / PYPA / "django")),
            (get_feed("osv-pypi"), str(FIXTURES / "GHSA-v6rh-hp5x-86rv.json")),
            (get_feed("osv-npm"), str(FIXTURES)),
            (get_feed("osv-maven"), str(FIXTURES / "GHSA-jfh8-c2jp-5v3q.json")),
            (get_feed("osv-go"), str(advisories_dir / GO)),
        ],
    )
    with VulnDB.open(path) as opened:
        yield opened


def pkg(type_: PackageType, name: str, version: str, path: str = "") -> Package:
    return Package(name=name, version=version, type=type_, paths=(path,) if path else ())


def findings_for(db: VulnDB, package: Package) -> dict[str, Finding]:
    found, warnings = LangMatcher(db).match([package])
    assert warnings == []
    return {f.vuln_id: f for f in found}


# -- Django: PYSEC-2021-439 + GHSA-v6rh-hp5x-86rv (CVE-2021-44420) -----------------------


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        # PYSEC: [2.2, 2.2.25) [3.1, 3.1.14) [3.2, 3.2.10)
        # GHSA:  [0, 2.2.25) [3.0, 3.1.14) [3.2, 3.2.10)
        ("2.2.24", (FixStatus.FIXED, "2.2.25")),
        ("2.2.25", None),
        ("2.1.15", (FixStatus.FIXED, "2.2.25")),  # GHSA's wider interval
        ("3.0.14", (FixStatus.FIXED, "3.1.14")),  # GHSA only
        ("3.1.13", (FixStatus.FIXED, "3.1.14")),
        ("3.1.14", None),
        ("3.2", (FixStatus.FIXED, "3.2.10")),
        ("3.2.10rc1", (FixStatus.FIXED, "3.2.10")),  # a prerelease of the fix is before it
        ("3.2.10", None),
        ("4.0", None),
    ],
)
def test_django_cve_2021_44420(
    db: VulnDB, version: str, expected: tuple[FixStatus, str] | None
) -> None:
    found = findings_for(db, pkg(PackageType.PYPI, "Django", version))
    finding = found.get("CVE-2021-44420")
    if expected is None:
        assert finding is None
        return
    assert finding is not None
    assert (finding.status, finding.fixed_version) == expected
    assert finding.namespace == "pypi"
    assert (finding.severity, finding.severity_source) == (Severity.HIGH, "osv:cvss_v3")


def test_django_3_2_findings_carry_every_id(db: VulnDB) -> None:
    inventory = Inventory(
        artifact=ArtifactInfo(reference="test", kind="rootfs"),
        distro=None,
        packages=(pkg(PackageType.PYPI, "django", "3.2.9"),),
    )
    outcome = match_inventory(inventory, db)
    by_id = {f.vuln_id: f for f in outcome.findings}
    finding = by_id["CVE-2021-44420"]
    assert set(finding.aliases) >= {"GHSA-v6rh-hp5x-86rv", "PYSEC-2021-439"}
    assert "https://osv.dev/vulnerability/PYSEC-2021-439" in finding.urls
    assert not any(
        f.vuln_id.startswith(("GHSA-", "PYSEC-")) and f.vuln_id in finding.aliases
        for f in outcome.findings
    )
    # every Django advisory of the PyPA tree that covers 3.2.9, each once
    assert len(by_id) == len(outcome.findings)
    assert outcome.unmatched == ""


# -- lodash (npm): GHSA-35jh-r3h4-6jhm, GHSA-p6mc-m468-83gw ----------------------------------


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("4.17.15", {"CVE-2020-8203": "4.17.20", "CVE-2021-23337": "4.17.21"}),
        ("4.17.19", {"CVE-2020-8203": "4.17.20", "CVE-2021-23337": "4.17.21"}),
        ("4.17.20", {"CVE-2021-23337": "4.17.21"}),
        ("4.17.21", {}),
        ("4.17.21-rc.1", {"CVE-2021-23337": "4.17.21"}),
        ("v3.10.1", {"CVE-2020-8203": "4.17.20", "CVE-2021-23337": "4.17.21"}),
    ],
)
def test_lodash(db: VulnDB, version: str, expected: dict[str, str]) -> None:
    found = findings_for(db, pkg(PackageType.NPM, "lodash", version))
    assert {k: f.fixed_version for k, f in found.items()} == expected
    for finding in found.values():
        assert finding.status is FixStatus.FIXED
        assert finding.severity is Severity.HIGH  # 7.2 and 7.4: CVSS v3.1 High


# -- log4j-core (Maven): GHSA-jfh8-c2jp-5v3q, CVE-2021-44228 -----------------------------------


@pytest.mark.parametrize(
    ("version", "fixed"),
    [
        # [0, 2.3.1) [2.4, 2.12.2) [2.13.0, 2.15.0)
        ("2.0-beta9", "2.3.1"),
        ("2.3", "2.3.1"),
        ("2.3.1", None),
        ("2.4", "2.12.2"),
        ("2.12.1", "2.12.2"),
        ("2.12.2", None),
        ("2.13.0", "2.15.0"),
        ("2.14.1", "2.15.0"),
        ("2.15.0-rc1", "2.15.0"),
        ("2.15.0", None),
        ("2.17.1", None),
    ],
)
def test_log4shell(db: VulnDB, version: str, fixed: str | None) -> None:
    found = findings_for(db, pkg(PackageType.MAVEN, "org.apache.logging.log4j:log4j-core", version))
    finding = found.get("CVE-2021-44228")
    if fixed is None:
        assert finding is None
        return
    assert finding is not None and finding.fixed_version == fixed
    assert (finding.severity, finding.severity_source) == (Severity.CRITICAL, "osv:cvss_v3")


def test_log4j_api_is_not_log4j_core(db: VulnDB) -> None:
    assert (
        findings_for(db, pkg(PackageType.MAVEN, "org.apache.logging.log4j:log4j-api", "2.14.1"))
        == {}
    )


# -- golang.org/x/net and the Go toolchain: GO-2022-0969 (CVE-2022-27664) -----------------------


@pytest.mark.parametrize(
    ("name", "version", "fixed"),
    [
        (
            "golang.org/x/net",
            "v0.0.0-20220826154423-83b083e8dc8b",
            "0.0.0-20220906165146-f3363e06e74c",
        ),
        ("golang.org/x/net", "v0.0.0-20220906165146-f3363e06e74c", None),
        ("golang.org/x/net", "v0.1.0", None),
        ("stdlib", "go1.18.5", "1.18.6"),
        ("stdlib", "v1.18.6", None),
        ("stdlib", "go1.19rc2", "1.19.1"),
        ("stdlib", "1.19.0", "1.19.1"),
        ("stdlib", "go1.19.1", None),
    ],
)
def test_go_2022_0969(db: VulnDB, name: str, version: str, fixed: str | None) -> None:
    found = findings_for(db, pkg(PackageType.GOLANG, name, version))
    finding = found.get("CVE-2022-27664")
    if fixed is None:
        assert finding is None
        return
    assert finding is not None and finding.fixed_version == fixed
    assert finding.status is FixStatus.FIXED and finding.severity is Severity.UNKNOWN


def test_open_range_is_affected_without_fix(db: VulnDB) -> None:
    # GO-2023-2385: github.com/pubnub/go, introduced 0, no fix
    found = findings_for(
        db, pkg(PackageType.GOLANG, "github.com/pubnub/go", "v4.10.0+incompatible")
    )
    assert [(f.status, f.fixed_version) for f in found.values()] == [(FixStatus.AFFECTED, "")]


# -- lookups, warnings and dedup ----------------------------------------------------------------


def test_one_finding_per_vulnerability_and_package(db: VulnDB) -> None:
    copies = [
        pkg(PackageType.NPM, "lodash", "4.17.20", "/app/node_modules/lodash/package.json"),
        pkg(PackageType.NPM, "lodash", "4.17.20", "/srv/node_modules/lodash/package.json"),
    ]
    found, _ = LangMatcher(db).match([*copies, copies[0]])
    assert sorted((f.vuln_id, f.package.paths) for f in found) == [
        ("CVE-2021-23337", ("/app/node_modules/lodash/package.json",)),
        ("CVE-2021-23337", ("/srv/node_modules/lodash/package.json",)),
    ]


def test_unreadable_versions_are_warnings(db: VulnDB) -> None:
    found, warnings = LangMatcher(db).match(
        [pkg(PackageType.PYPI, "django", "3.2-SNAPSHOT"), pkg(PackageType.NPM, "lodash", "latest")]
    )
    assert found == []
    assert warnings == [  # by namespace: npm, pypi
        "lodash latest: invalid npm version 'latest': not a semantic version "
        "(MAJOR.MINOR.PATCH); not matched",
        "django 3.2-SNAPSHOT: invalid pep440 version '3.2-SNAPSHOT': not a PEP 440 version; "
        "not matched",
    ]


def test_ecosystem_missing_from_the_db_is_a_warning(db: VulnDB) -> None:
    found, warnings = LangMatcher(db).match([pkg(PackageType.GEM, "rails", "6.0.0")])
    assert found == []
    assert warnings == [
        "the vulnerability DB has no advisories for rubygems: 1 RubyGems package(s) not "
        "matched (build the osv-rubygems feed: `hullscan db build --only osv-rubygems`)"
    ]


def test_os_and_language_findings_together(db: VulnDB) -> None:
    inventory = Inventory(
        artifact=ArtifactInfo(reference="test", kind="rootfs"),
        distro=Distro(id="debian", version_id="12"),
        packages=(
            Package(name="bash", version="5.2.15-2+b2", type=PackageType.DEB, source_name="bash"),
            pkg(PackageType.NPM, "lodash", "4.17.20"),
        ),
    )
    outcome = match_inventory(inventory, db)
    assert [f.vuln_id for f in outcome.findings] == ["CVE-2021-23337"]
    # no Debian feed in this DB: the OS side says so, the language side still matched
    assert "debian:12" in outcome.unmatched


def test_many_packages_one_query_per_namespace(db: VulnDB) -> None:
    packages = [pkg(PackageType.PYPI, f"package-{i}", "1.0") for i in range(3000)]
    packages.append(pkg(PackageType.PYPI, "django", "3.2.9"))
    start = time.perf_counter()
    found, warnings = LangMatcher(db).match(packages)
    assert time.perf_counter() - start < 2.0
    assert warnings == [] and {f.package.name for f in found} == {"django"}


class _OneNamespaceDb:
    """Just the two calls LangMatcher makes, over advisories given in the test."""

    def __init__(self, advisories: dict[str, list[Advisory]]) -> None:
        self._advisories = advisories

    def advisories(self, namespace: str, packages: object) -> dict[str, list[Advisory]]:
        return self._advisories

    def has_namespace(self, namespace: str) -> bool:
        return True


def test_unreadable_bounds_and_versions_never_crash_the_match() -> None:
    from hullscan.match.lang import LangMatcher

    good = Advisory(
        "pypi", "django", "CVE-GOOD", (AffectedRange(fixed="3.2.10"),), FixStatus.FIXED, "3.2.10"
    )
    mixed = Advisory(
        "pypi",
        "django",
        "CVE-MIXED",
        (AffectedRange(fixed="not a version!"), AffectedRange(fixed="3.2.11")),
        FixStatus.FIXED,
    )
    db = _OneNamespaceDb({"django": [mixed, good]})
    readable = Package("django", "3.2.1", PackageType.PYPI)
    unreadable = Package("django", "not a version!", PackageType.PYPI, paths=("x",))
    findings, warnings = LangMatcher(db).match([unreadable, readable])  # type: ignore[arg-type]
    # the unreadable bound only drops its own interval; the readable one still decides
    assert {(f.vuln_id, f.fixed_version) for f in findings} == {
        ("CVE-GOOD", "3.2.10"),
        ("CVE-MIXED", "3.2.11"),
    }
    assert all(f.package is readable for f in findings)
    # an unreadable installed version: one warning for the package, then the next package
    assert warnings == [w for w in warnings if "not a version!" in w] and len(warnings) == 1
