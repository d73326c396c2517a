"""The OSV language feeds on real records: pypa/advisory-database (the full tree in
../shared), github/advisory-database (the 10 trivy-db fixtures in ../shared, plus trimmed
copies in tests/db/feeds/osv/, see its README), the Go vulnerability database (grype and
vunnel fixtures) and osv.dev's all.zip exports (vuln-list-update fixtures)."""

from __future__ import annotations

import json
import shutil
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from hullscan.db.feeds.osv import OSV_FEEDS, OsvFeed, _OsvYamlLoader
from hullscan.db.feeds.registry import feed_names, get_feed
from hullscan.db.fetch import fetch
from hullscan.errors import FeedError
from hullscan.model import Advisory, AffectedRange, FixStatus, Severity, Vulnerability

HERE = Path(__file__).parent / "osv"
PYPA = "osv-pypi/pypa__advisory-database/vulns"
GHSA = "osv-ghsa/aquasecurity__trivy-db/pkg/vulnsrc/ghsa/testdata/happy/ghsa"
GO = "osv-go"
OSVDEV = "osv-osvdev/aquasecurity__vuln-list-update/osvdev/testdata"
R = AffectedRange
Parsed = tuple[dict[tuple[str, str], Advisory], dict[str, Vulnerability]]


def parse(feed_name: str, *locations: Path) -> tuple[Parsed, OsvFeed]:
    feed = get_feed(feed_name)
    assert isinstance(feed, OsvFeed)
    files: list[Path] = []
    for location in locations:
        files.extend(fetch(str(location), Path("/nonexistent"), feed.file_patterns))
    advisories: dict[tuple[str, str], Advisory] = {}
    vulns: dict[str, Vulnerability] = {}
    for record in feed.parse(files):
        if isinstance(record, Advisory):
            key = (record.package, record.vuln_id)
            assert key not in advisories, f"duplicate {key}"
            assert record.namespace == feed.ecosystem.namespace
            advisories[key] = record
        else:
            assert record.id not in vulns
            vulns[record.id] = record
    return (advisories, vulns), feed


@pytest.fixture(scope="module")
def pypa(advisories_dir: Path) -> tuple[Parsed, OsvFeed]:
    return parse("osv-pypi", advisories_dir / PYPA)


# -- the feeds and their names ------------------------------------------------------------


def test_one_feed_per_ecosystem() -> None:
    names = {feed.name for feed in OSV_FEEDS}
    assert names == {
        "osv-pypi", "osv-npm", "osv-maven", "osv-go", "osv-crates", "osv-rubygems",
        "osv-packagist", "osv-nuget",
    }  # fmt: skip
    assert names <= set(feed_names())
    npm = get_feed("osv-npm")
    assert isinstance(npm, OsvFeed)
    assert npm.default_locations() == [
        "https://osv-vulnerabilities.storage.googleapis.com/npm/all.zip"
    ]
    crates = get_feed("osv-crates")
    assert isinstance(crates, OsvFeed) and crates.ecosystem.namespace == "crates.io"


# -- the records are OSV ------------------------------------------------------------------


@pytest.fixture(scope="module")
def osv_schema(shared_schemas: Path) -> jsonschema.protocols.Validator:
    schema = json.loads((shared_schemas / "osv" / "schema.json").read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def _load(path: Path) -> Any:
    if path.suffix == ".yaml":
        return yaml.load(path.read_bytes(), Loader=_OsvYamlLoader)
    return json.loads(path.read_text())


# Real records the published schema rejects and the parser still reads (their odd parts
# are GIT events or a vector with a trailing slash, which hullscan does not use as such).
SCHEMA_EXCEPTIONS = {"PYSEC-2021-371", "PYSEC-2021-424", "PYSEC-2021-436", "GHSA-f5pg-7wfw-84q9"}


def test_samples_and_fixtures_follow_the_osv_schema(
    advisories_dir: Path, osv_schema: jsonschema.protocols.Validator
) -> None:
    # Every GHSA, Go and all.zip record and our fixtures; every 10th PyPA file (the whole
    # tree takes 8 s to validate; 7 of its 2,661 records fail, all on GIT events).
    paths = sorted((advisories_dir / PYPA).rglob("*.yaml"))[::10]
    paths += sorted((advisories_dir / GHSA).rglob("*.json"))
    paths += sorted((advisories_dir / GO).rglob("*.json")) + sorted(HERE.glob("*.json"))
    records = [(p.name, _load(p)) for p in paths]
    for archive in sorted((advisories_dir / OSVDEV).glob("*/all.zip")):
        with zipfile.ZipFile(archive) as zf:
            records += [(n, json.loads(zf.read(n))) for n in zf.namelist()]
    assert len(records) > 290
    invalid = {
        data["id"] for _, data in records if next(osv_schema.iter_errors(data), None) is not None
    }
    assert invalid <= SCHEMA_EXCEPTIONS


# -- PyPA: the full tree --------------------------------------------------------------------


def test_pypa_counts(pypa: tuple[Parsed, OsvFeed]) -> None:
    (advisories, vulns), feed = pypa
    assert len(advisories) == 2648
    assert len(vulns) == 2056  # 2,661 records: 10 withdrawn, 2 without a PyPI range
    assert (
        len({pkg for pkg, _ in advisories}) == 658
    )  # tensorflow-cpu, -gpu: own PYSEC ids, one CVE
    assert feed.skipped == Counter(
        {
            "ranges with versions pep440 cannot read": 110,  # e.g. '0.1-bulbasaur', '2019-09-12'
            "withdrawn": 10,
            "records without PyPI packages": 2,
            "affected entries with only GIT ranges": 1,
            "affected entries with no version ranges or versions": 1,
        }
    )
    statuses = Counter(a.status for a in advisories.values())
    assert statuses[FixStatus.FIXED] > 2000


def test_django_pysec_2021_439(pypa: tuple[Parsed, OsvFeed]) -> None:
    """PYSEC-2021-439 by hand: 2.2 <= v < 2.2.25, 3.1 <= v < 3.1.14, 3.2 <= v < 3.2.10;
    its `versions` list only repeats what the ranges say, so it adds nothing."""
    (advisories, vulns), _ = pypa
    advisory = advisories[("django", "CVE-2021-44420")]
    assert advisory.ranges == (
        R(introduced="2.2", fixed="2.2.25"),
        R(introduced="3.1", fixed="3.1.14"),
        R(introduced="3.2", fixed="3.2.10"),
    )
    assert advisory.status is FixStatus.FIXED and advisory.fixed_version == "3.2.10"
    assert advisory.severity is Severity.UNKNOWN and advisory.severity_source == ""
    vuln = vulns["CVE-2021-44420"]
    assert vuln.aliases == ("GHSA-v6rh-hp5x-86rv", "PYSEC-2021-439")
    assert vuln.description.startswith("In Django 2.2 before 2.2.25")
    assert vuln.urls[0] == "https://osv.dev/vulnerability/PYSEC-2021-439"


def test_withdrawn_records_are_skipped(pypa: tuple[Parsed, OsvFeed]) -> None:
    (advisories, vulns), _ = pypa
    # PYSEC-2023-73 (redis, CVE-2023-31655) was withdrawn on 2023-06-06
    assert ("redis", "CVE-2023-31655") not in advisories
    assert "CVE-2023-31655" not in vulns


def test_versions_outside_the_ranges_become_exact_ranges(pypa: tuple[Parsed, OsvFeed]) -> None:
    # PYSEC-2006-2's sibling in the tree: trac, `introduced 0, fixed 0.9.6` covers its
    # versions; a record with only GIT ranges keeps its listed versions as exact ranges.
    (advisories, _), _ = pypa
    exact = [
        a
        for a in advisories.values()
        if any(r.introduced and r.introduced == r.last_affected for r in a.ranges)
    ]
    assert exact, "some PyPA records list versions no ECOSYSTEM range covers"
    for advisory in exact:
        for r in advisory.ranges:
            if r.last_affected is not None and r.introduced == r.last_affected:
                assert r.fixed is None


# -- GHSA: one checkout feeds every ecosystem --------------------------------------------------


def test_ghsa_checkout_per_ecosystem(advisories_dir: Path) -> None:
    counts = {}
    for name in ("osv-npm", "osv-maven", "osv-go", "osv-crates", "osv-packagist", "osv-nuget"):
        (advisories, _), _ = parse(name, advisories_dir / GHSA)
        counts[name] = len(advisories)
    assert counts == {
        "osv-npm": 1,
        "osv-maven": 3,
        "osv-go": 3,
        "osv-crates": 1,
        "osv-packagist": 1,
        "osv-nuget": 1,
    }


def test_ghsa_severity_from_the_cvss_vector(advisories_dir: Path) -> None:
    (advisories, vulns), _ = parse("osv-packagist", advisories_dir / GHSA)
    advisory = advisories[("contao/core-bundle", "CVE-2019-19745")]
    # two affected[] entries for one package: one row, both intervals
    assert advisory.ranges == (R("4.0.0", "4.4.46"), R("4.5.0", "4.8.6"))
    # CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H = 8.8, High
    assert (advisory.severity, advisory.severity_source) == (Severity.HIGH, "osv:cvss_v3")
    vuln = vulns["CVE-2019-19745"]
    assert vuln.aliases == ("GHSA-wjx8-cgrm-hh8p",)
    assert [(c.version, c.score, c.source) for c in vuln.cvss] == [("3.1", 8.8, "ghsa")]
    assert vuln.cwes == ("CWE-434",)
    assert vuln.published == "2019-12-17T22:53:10Z"


def test_ghsa_open_range_and_prerelease_bound(advisories_dir: Path) -> None:
    (advisories, _), _ = parse("osv-npm", advisories_dir / GHSA)
    advisory = advisories[("formidable", "CVE-2025-46653")]
    # introduced 3.1.1-canary.20211030 fixed 3.5.3; introduced 2.1.0 with no fix (GHSA's
    # last_known_affected_version_range is a hint; OSV's open interval is what counts)
    assert set(advisory.ranges) == {R("3.1.1-canary.20211030", "3.5.3"), R("2.1.0")}
    assert advisory.status is FixStatus.AFFECTED
    assert (advisory.severity, advisory.severity_source) == (Severity.LOW, "osv:cvss_v3")


def test_maven_names_are_group_and_artifact(advisories_dir: Path) -> None:
    (advisories, _), _ = parse("osv-maven", advisories_dir / GHSA, HERE)
    assert ("org.springframework.boot:spring-boot", "CVE-2018-1196") in advisories
    log4j = advisories[("org.apache.logging.log4j:log4j-core", "CVE-2021-44228")]
    assert set(log4j.ranges) == {R("2.13.0", "2.15.0"), R(None, "2.3.1"), R("2.4", "2.12.2")}
    assert log4j.status is FixStatus.FIXED and log4j.fixed_version == "2.15.0"
    assert (log4j.severity, log4j.severity_source) == (Severity.CRITICAL, "osv:cvss_v3")


# -- Go vulndb ----------------------------------------------------------------------------------


def test_go_vulndb_semver_ranges(advisories_dir: Path) -> None:
    (advisories, vulns), _ = parse("osv-go", advisories_dir / GO)
    assert len(advisories) == 17 and len(vulns) == 9
    x_net = advisories[("golang.org/x/net", "CVE-2022-27664")]
    assert x_net.ranges == (R(None, "0.0.0-20220906165146-f3363e06e74c"),)
    stdlib = advisories[("stdlib", "CVE-2022-27664")]
    assert stdlib.ranges == (R(None, "1.18.6"), R("1.19.0-0", "1.19.1"))
    assert vulns["CVE-2022-27664"].aliases == ("GHSA-69cg-p879-7622", "GO-2022-0969")
    # no CVSS, no database severity: UNKNOWN, for NVD to fill
    assert stdlib.severity is Severity.UNKNOWN


def test_go_records_merge_with_ghsa_by_alias(advisories_dir: Path) -> None:
    """GO-2024-2611 and a GHSA record are one issue: one row per package, all ids kept."""
    (advisories, vulns), _ = parse("osv-go", advisories_dir / GO, advisories_dir / GHSA)
    assert len({vuln for _, vuln in advisories}) == len(vulns)
    for vuln in vulns.values():
        assert vuln.id not in vuln.aliases


# -- osv.dev all.zip exports -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("feed_name", "archive", "expected"),
    [
        ("osv-pypi", "python/all.zip", {("aiohttp", "CVE-2023-37276"), ("trac", "CVE-2006-3695")}),
        ("osv-go", "go/all.zip", {("github.com/gin-gonic/gin", "GO-2020-0001")}),
        ("osv-crates", "rust/all.zip", {("smallvec", "CVE-2019-15551"), ("tar", "CVE-2018-20990")}),
    ],
)
def test_all_zip_exports(
    advisories_dir: Path, feed_name: str, archive: str, expected: set[tuple[str, str]]
) -> None:
    (advisories, _), _ = parse(feed_name, advisories_dir / OSVDEV / archive)
    assert expected <= set(advisories)


# -- alias merging ------------------------------------------------------------------------------


def test_pysec_and_ghsa_for_one_cve_are_one_advisory(advisories_dir: Path) -> None:
    """PYSEC-2021-439 (django) and GHSA-v6rh-hp5x-86rv (Django) both say CVE-2021-44420 with
    different ranges; the row is the union, reported once under the CVE with both ids."""
    (advisories, vulns), _ = parse(
        "osv-pypi", advisories_dir / PYPA / "django", HERE / "GHSA-v6rh-hp5x-86rv.json"
    )
    advisory = advisories[("django", "CVE-2021-44420")]
    assert set(advisory.ranges) == {
        R(None, "2.2.25"),  # GHSA: from the first version
        R("2.2", "2.2.25"),  # PYSEC
        R("3.0", "3.1.14"),  # GHSA: 3.0.x too
        R("3.1", "3.1.14"),
        R("3.2", "3.2.10"),
    }
    # GHSA's vector beats PYSEC's silence: CVSS:3.1/.../C:L/I:L/A:L = 7.3 High
    assert (advisory.severity, advisory.severity_source) == (Severity.HIGH, "osv:cvss_v3")
    assert vulns["CVE-2021-44420"].aliases == ("GHSA-v6rh-hp5x-86rv", "PYSEC-2021-439")
    assert not any(vuln_id.startswith(("GHSA-", "PYSEC-2021-439")) for _, vuln_id in advisories)


def _write(directory: Path, name: str, record: dict[str, Any]) -> Path:
    path = directory / name
    path.write_text(json.dumps(record))
    return path


def _record(osv_id: str, *aliases: str, name: str = "pkg", fixed: str = "1.0") -> dict[str, Any]:
    return {
        "id": osv_id,
        "modified": "2024-01-01T00:00:00Z",
        "aliases": list(aliases),
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": name},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
            }
        ],
    }


def test_alias_groups_without_a_cve_prefer_ghsa(tmp_path: Path) -> None:
    _write(tmp_path, "a.json", _record("PYSEC-2024-1", "GHSA-aaaa-bbbb-cccc"))
    _write(tmp_path, "b.json", _record("GHSA-aaaa-bbbb-cccc", fixed="1.1"))
    # linked through a third record only
    _write(tmp_path, "c.json", _record("PYSEC-2024-2", "OSV-2024-9"))
    _write(tmp_path, "d.json", _record("GHSA-dddd-eeee-ffff", "OSV-2024-9", "CVE-2024-10001"))
    (advisories, vulns), _ = parse("osv-pypi", tmp_path)
    assert set(advisories) == {("pkg", "GHSA-aaaa-bbbb-cccc"), ("pkg", "CVE-2024-10001")}
    assert vulns["GHSA-aaaa-bbbb-cccc"].aliases == ("PYSEC-2024-1",)
    assert vulns["CVE-2024-10001"].aliases == ("GHSA-dddd-eeee-ffff", "OSV-2024-9", "PYSEC-2024-2")


def test_a_record_naming_two_cves_is_not_glued_to_either(tmp_path: Path) -> None:
    _write(tmp_path, "a.json", _record("GHSA-aaaa-bbbb-cccc", "CVE-2024-10001", "CVE-2024-10002"))
    _write(tmp_path, "b.json", _record("PYSEC-2024-1", "CVE-2024-10001"))
    (advisories, _), _ = parse("osv-pypi", tmp_path)
    assert set(advisories) == {("pkg", "GHSA-aaaa-bbbb-cccc"), ("pkg", "CVE-2024-10001")}


def test_later_files_win_per_record(tmp_path: Path) -> None:
    first = _write(tmp_path, "1.json", _record("PYSEC-2024-1", fixed="1.0"))
    second = tmp_path / "2"
    second.mkdir()
    _write(second, "1.json", _record("PYSEC-2024-1", fixed="2.0"))
    (advisories, _), _ = parse("osv-pypi", first, second)
    assert advisories[("pkg", "PYSEC-2024-1")].ranges == (R(None, "2.0"),)


def test_names_are_normalised_per_ecosystem(tmp_path: Path) -> None:
    _write(tmp_path, "a.json", _record("PYSEC-2024-1", name="Zope.Interface_x"))
    (advisories, _), _ = parse("osv-pypi", tmp_path)
    assert set(advisories) == {("zope-interface-x", "PYSEC-2024-1")}


def test_events_are_sorted_by_version(tmp_path: Path) -> None:
    record = _record("PYSEC-2024-1")
    record["affected"][0]["ranges"][0]["events"] = [
        {"fixed": "2.0.1"},
        {"introduced": "1.10"},
        {"fixed": "1.2"},
        {"introduced": "0"},
        {"last_affected": "3.0"},
        {"introduced": "2.5"},
        {"limit": "9"},
    ]
    _write(tmp_path, "a.json", record)
    (advisories, _), _ = parse("osv-pypi", tmp_path)
    assert advisories[("pkg", "PYSEC-2024-1")].ranges == (
        R(None, "1.2"),
        R("1.10", "2.0.1"),
        R("2.5", last_affected="3.0"),
    )


def test_entry_severity_and_database_word(tmp_path: Path) -> None:
    record = _record("GHSA-aaaa-bbbb-cccc")
    record["database_specific"] = {"severity": "MODERATE"}
    _write(tmp_path, "a.json", record)
    other = _record("GHSA-dddd-eeee-ffff", name="other")
    other["severity"] = [
        {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
    ]
    other["affected"][0]["severity"] = [{"type": "CVSS_V2", "score": "AV:N/AC:L/Au:N/C:N/I:N/A:P"}]
    _write(tmp_path, "b.json", other)
    (advisories, _), _ = parse("osv-pypi", tmp_path)
    first = advisories[("pkg", "GHSA-aaaa-bbbb-cccc")]
    assert (first.severity, first.severity_source) == (Severity.MEDIUM, "ghsa")
    second = advisories[("other", "GHSA-dddd-eeee-ffff")]
    assert (second.severity, second.severity_source) == (Severity.MEDIUM, "osv:cvss_v2")  # 5.0


# -- malformed input fails naming the file and record ---------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.update(affected={}), "'affected' is an object, not a list"),
        (lambda r: r["affected"][0].update(package={"name": "x"}), r"affected\[0\]: expected"),
        (
            lambda r: r["affected"][0]["ranges"][0].update(type="CALVER"),
            r"affected\[0\] \(pkg\): unknown range type 'CALVER'",
        ),
        (
            lambda r: r["affected"][0]["ranges"][0].update(events=[{"fixed": ""}]),
            "event 'fixed' without a version",
        ),
        (
            lambda r: r["affected"][0]["ranges"][0].update(events=[{"patched": "1"}]),
            "unknown event 'patched'",
        ),
        (lambda r: r.update(aliases="CVE-1"), "'aliases' is not a list of strings"),
        (lambda r: r.update(severity=[{"type": "CVSS_V3", "score": 9.8}]), "without a vector"),
        (lambda r: r["affected"][0].update(versions=[1.0]), "'versions' holds 1.0"),
    ],
)
def test_malformed_records(tmp_path: Path, change: Any, message: str) -> None:
    record = _record("PYSEC-2024-1")
    change(record)
    path = _write(tmp_path, "bad.json", record)
    with pytest.raises(FeedError, match=message) as info:
        parse("osv-pypi", path)
    assert str(info.value).startswith(f"osv-pypi feed: {path}: PYSEC-2024-1: ")


def test_record_without_id_and_bad_files(tmp_path: Path) -> None:
    with pytest.raises(FeedError, match=r"a.json: OSV record without an 'id'"):
        parse("osv-pypi", _write(tmp_path, "a.json", {"affected": []}))
    bad_yaml = tmp_path / "b.yaml"
    bad_yaml.write_text("id: [unclosed\n")
    with pytest.raises(FeedError, match=r"b.yaml: invalid YAML at line 2"):
        parse("osv-pypi", bad_yaml)
    truncated = tmp_path / "all.zip"
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("PYSEC-2024-1.json", json.dumps(_record("PYSEC-2024-1")))
        zf.writestr("PYSEC-2024-2.json", "{not json")
    with pytest.raises(FeedError, match=r"good.zip: PYSEC-2024-2.json: invalid JSON"):
        parse("osv-pypi", good)
    truncated.write_bytes(good.read_bytes()[:60])
    with pytest.raises(FeedError, match=r"all.zip: not a readable zip archive"):
        parse("osv-pypi", truncated)


def test_a_directory_of_records_the_registry_hands_over(
    tmp_path: Path, advisories_dir: Path
) -> None:
    # a GHSA-style tree: nested folders, JSON only; README/LICENSE are not feed files
    tree = tmp_path / "advisories" / "github-reviewed" / "2021"
    tree.mkdir(parents=True)
    for fixture in HERE.glob("GHSA-*.json"):
        shutil.copy(fixture, tree / fixture.name)
    (tmp_path / "README.md").write_text("not a record")
    (advisories, _), feed = parse("osv-npm", tmp_path)
    assert set(advisories) == {
        ("lodash", "CVE-2021-23337"),
        ("lodash-es", "CVE-2021-23337"),
        ("lodash", "CVE-2020-8203"),
        ("lodash-es", "CVE-2020-8203"),
    }
    assert feed.skipped["records without npm packages"] == 2
