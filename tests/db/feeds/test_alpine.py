"""AlpineSecdbFeed on real secdb files: the YAML edition (v3.3..v3.11), its JSON conversion,
claircore's and vunnel's excerpts, and vuln-list-update's inputs with its goldens."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from hullscan.db.feeds.alpine import AlpineSecdbFeed, cve_ids
from hullscan.errors import FeedError
from hullscan.model import Advisory, AffectedRange, FixStatus, Severity, Vulnerability

Key = tuple[str, str, str]


def parse(files: list[Path]) -> tuple[dict[Key, Advisory], dict[str, Vulnerability]]:
    advisories: dict[Key, Advisory] = {}
    vulns: dict[str, Vulnerability] = {}
    for record in AlpineSecdbFeed().parse(files):
        if isinstance(record, Advisory):
            key = (record.namespace, record.package, record.vuln_id)
            assert key not in advisories, f"duplicate {key}"
            advisories[key] = record
        else:
            vulns[record.id] = record
    return advisories, vulns


@pytest.fixture(scope="module")
def yaml_edition(secdb_yaml_dir: Path) -> dict[Key, Advisory]:
    return parse(sorted(secdb_yaml_dir.glob("v*/*.yaml")))[0]


def fixed(advisories: dict[Key, Advisory], ns: str, pkg: str, cve: str) -> str:
    adv = advisories[(ns, pkg, cve)]
    assert adv.status is FixStatus.FIXED
    assert adv.ranges == (AffectedRange(fixed=adv.fixed_version),)
    return adv.fixed_version


def test_yaml_edition_namespace_counts(yaml_edition: dict[Key, Advisory]) -> None:
    assert Counter(ns for ns, _, _ in yaml_edition) == {
        "alpine:3.3": 460,
        "alpine:3.4": 680,
        "alpine:3.5": 918,
        "alpine:3.6": 1103,
        "alpine:3.7": 1463,
        "alpine:3.8": 1575,
        "alpine:3.9": 1669,
        "alpine:3.10": 1856,
        "alpine:3.11": 2051,
    }


def test_fixed_advisory(yaml_edition: dict[Key, Advisory]) -> None:
    assert yaml_edition[("alpine:3.10", "apache2", "CVE-2019-10098")] == Advisory(
        namespace="alpine:3.10",
        package="apache2",
        vuln_id="CVE-2019-10098",
        ranges=(AffectedRange(fixed="2.4.41-r0"),),
        status=FixStatus.FIXED,
        fixed_version="2.4.41-r0",
        severity=Severity.UNKNOWN,
        severity_source="",
        source="alpine",
    )
    assert fixed(yaml_edition, "alpine:3.10", "ansible", "CVE-2019-10156") == "2.8.2-r0"


def test_id_listed_under_several_versions_keeps_the_latest(
    yaml_edition: dict[Key, Advisory],
) -> None:
    # v3.10 main lists busybox CVE-2019-5747 under 1.30.1-r2 and 1.29.3-r10 (in that order)
    assert fixed(yaml_edition, "alpine:3.10", "busybox", "CVE-2019-5747") == "1.30.1-r2"
    assert fixed(yaml_edition, "alpine:3.10", "exim", "CVE-2018-6789") == "4.91-r0"
    assert fixed(yaml_edition, "alpine:3.6", "bind", "CVE-2017-3142") == "9.11.3-r0"
    assert fixed(yaml_edition, "alpine:3.4", "openssl", "CVE-2017-3738") == "1.0.2o-r0"


def test_fixed_version_zero_means_never_affected(yaml_edition: dict[Key, Advisory]) -> None:
    # v3.8 main: db "0": [CVE-2016-0682, ...]
    assert not [k for k in yaml_edition if k[:2] == ("alpine:3.8", "db")]


def test_free_text_ids(yaml_edition: dict[Key, Advisory]) -> None:
    assert fixed(yaml_edition, "alpine:3.10", "openjdk7", "CVE-2019-2426") == "7.211.2.6.17-r0"
    assert fixed(yaml_edition, "alpine:3.9", "ansible", "CVE-2018-16859") == "2.7.3-r0"
    assert fixed(yaml_edition, "alpine:3.10", "tcpdump", "CVE-2018-16301") == "4.9.3-r0"
    assert fixed(yaml_edition, "alpine:3.10", "xen", "CVE-2018-3639") == "4.11.0-r0"
    assert fixed(yaml_edition, "alpine:3.10", "rsync", "CVE-2017-17434") == "3.1.2-r7"
    assert fixed(yaml_edition, "alpine:3.11", "dia", "CVE-2019-19451") == "0.97.3-r1"
    assert {k[2][:4] for k in yaml_edition} == {"CVE-"}  # no XSA-, TALOS-, wnpa-sec- ids


def test_json_edition_equals_yaml_edition(alpine_dir: Path, secdb_yaml_dir: Path) -> None:
    for branch in ("v3.9", "v3.10", "v3.11"):
        for repo in ("main", "community"):
            from_json = parse([alpine_dir / "_converted_json" / branch / f"{repo}.json"])
            from_yaml = parse([secdb_yaml_dir / branch / f"{repo}.yaml"])
            assert from_json == from_yaml, (branch, repo)
            assert from_json[0]


@pytest.mark.parametrize(
    ("testdata", "golden"),
    [
        ("311-main.json", "311-apache2.json"),
        ("312-main.json", "312-ansible.json"),
        ("edge-main.json", "edge-apk-tools.json"),
    ],
)
def test_vuln_list_update_goldens(alpine_dir: Path, testdata: str, golden: str) -> None:
    base = alpine_dir / "aquasecurity__vuln-list-update/alpine/testdata"
    expected = json.loads((base / "golden" / golden).read_text())
    namespace = "alpine:" + expected["distroversion"].lstrip("v")
    want = {
        (namespace, expected["name"], cve, version)
        for version, cves in expected["secfixes"].items()
        for cve in cves
    }
    advisories, _ = parse([base / testdata])
    assert {(*key, adv.fixed_version) for key, adv in advisories.items()} == want


def test_vuln_list_update_edge_and_empty_repositories(alpine_dir: Path) -> None:
    base = alpine_dir / "aquasecurity__vuln-list-update/alpine/testdata"
    advisories, vulns = parse(sorted(base.glob("*.json")))
    assert fixed(advisories, "alpine:edge", "apk-tools", "CVE-2021-36159") == "2.12.6-r0"
    # 312-main lists ansible "2.8.0-r0": {} (no ids); *-community have "packages": {}
    assert len(advisories) == 5
    assert vulns["CVE-2021-36159"].urls == ("https://security.alpinelinux.org/vuln/CVE-2021-36159",)


def test_claircore_and_vunnel_excerpts(alpine_dir: Path) -> None:
    claircore = alpine_dir / "quay__claircore/alpine/testdata/fetch/v3.10/community.json"
    advisories, _ = parse([claircore])
    assert fixed(advisories, "alpine:3.10", "botan", "CVE-2018-20187") == "2.9.0-r0"

    vunnel = sorted(alpine_dir.glob("anchore__vunnel/**/v3.15/*.yaml"))
    advisories, _ = parse(vunnel)
    assert len(advisories) == 16
    assert fixed(advisories, "alpine:3.15", "zlib", "CVE-2022-37434") == "1.2.12-r2"
    assert fixed(advisories, "alpine:3.15", "alpine", "CVE-2021-38370") == "2.25-r0"


def test_default_locations() -> None:
    locations = AlpineSecdbFeed().default_locations()
    assert "https://secdb.alpinelinux.org/v3.10/main.json" in locations
    assert "https://secdb.alpinelinux.org/edge/community.json" in locations
    assert "https://secdb.alpinelinux.org/v3.2/main.json" in locations
    assert "https://secdb.alpinelinux.org/v3.2/community.json" not in locations
    assert len(locations) == len(set(locations))


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("CVE-2019-1234", ["CVE-2019-1234"]),
        ("CVE-2018-3639   XSA-263", ["CVE-2018-3639"]),
        (
            "CVE-2017-5753 CVE-2017-5715 CVE-2017-5754 XSA-254 XPTI",
            ["CVE-2017-5753", "CVE-2017-5715", "CVE-2017-5754"],
        ),
        ("CVE_2019-2426", ["CVE-2019-2426"]),
        ("CVE-????-?????  XSA-295", []),
        ("XSA-207", []),
        ("", []),
    ],
)
def test_cve_ids(text: str, ids: list[str]) -> None:
    assert cve_ids(text) == ids


class TestMalformed:
    def test_truncated_real_yaml(self, secdb_yaml_dir: Path, tmp_path: Path) -> None:
        text = (secdb_yaml_dir / "v3.10/main.yaml").read_text()
        cut = tmp_path / "main.yaml"
        cut.write_text(text[: len(text) // 2] + "\n  - pkg: [unclosed\n")
        with pytest.raises(FeedError, match=r"alpine feed: .*main\.yaml: invalid YAML at line"):
            parse([cut])

    def test_truncated_real_json(self, alpine_dir: Path, tmp_path: Path) -> None:
        data = (alpine_dir / "_converted_json/v3.10/main.json").read_bytes()
        cut = tmp_path / "main.json"
        cut.write_bytes(data[: len(data) // 2])
        with pytest.raises(FeedError, match=r"alpine feed: .*main\.json: invalid JSON"):
            parse([cut])

    @pytest.mark.parametrize(
        ("data", "problem"),
        [
            ([], "expected a secdb object, got a list"),
            ({"packages": []}, "missing 'distroversion'"),
            ({"distroversion": "v3.10", "packages": "x"}, "'packages' is a string"),
            ({"distroversion": "v3.10", "packages": [{"name": "x"}]}, "packages[0]: expected"),
            (
                {"distroversion": "v3.10", "packages": [{"pkg": {"name": "x", "secfixes": [1]}}]},
                "x: 'secfixes' is a list",
            ),
            (
                {
                    "distroversion": "v3.10",
                    "packages": [{"pkg": {"name": "x", "secfixes": {"1.0-r0": "CVE-2020-1"}}}],
                },
                "x 1.0-r0: expected a list of ids",
            ),
        ],
    )
    def test_wrong_shape(self, tmp_path: Path, data: object, problem: str) -> None:
        path = tmp_path / "main.json"
        path.write_text(json.dumps(data))
        with pytest.raises(FeedError) as info:
            parse([path])
        assert str(info.value).startswith(f"alpine feed: {path}:")
        assert problem in str(info.value)
