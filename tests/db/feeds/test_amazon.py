"""AmazonAlasFeed on real ALAS updateinfo (aquasecurity/vuln-list-update's fixtures for AL2,
AL2022 and AL2023), checked against vuln-list-update's own per-ALAS goldens, and the mirror
list -> repomd.xml -> updateinfo chain served over real HTTP."""

from __future__ import annotations

import gzip
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from hullscan.db.builder import build_db
from hullscan.db.feeds.amazon import MIRROR_LISTS, AmazonAlasFeed, alas_link, evr
from hullscan.db.reader import VulnDB
from hullscan.errors import FeedError
from hullscan.model import Advisory, AffectedRange, FixStatus, Severity, Vulnerability

Key = tuple[str, str, str]
TESTDATA = "amazon/aquasecurity__vuln-list-update/amazon/testdata"


@pytest.fixture(scope="module")
def testdata(advisories_dir: Path) -> Path:
    return advisories_dir / TESTDATA


def parse(
    files: list[Path], feed: AmazonAlasFeed | None = None
) -> tuple[dict[Key, Advisory], dict[str, Vulnerability]]:
    advisories: dict[Key, Advisory] = {}
    vulns: dict[str, Vulnerability] = {}
    for record in (feed or AmazonAlasFeed()).parse(files):
        if isinstance(record, Advisory):
            key = (record.namespace, record.package, record.vuln_id)
            assert key not in advisories, f"duplicate {key}"
            advisories[key] = record
        else:
            vulns[record.id] = record
    return advisories, vulns


def test_counts(testdata: Path) -> None:
    fixtures = testdata / "fixtures"
    counts = {
        name: Counter(ns for ns, _, _ in parse([fixtures / name])[0])
        for name in (
            "updateinfo_1_item.xml.gz",
            "updateinfo_2_items.xml.gz",
            "updateinfo_AL2022.xml.gz",
            "updateinfo_AL2023.xml.gz",
        )
    }
    assert counts == {
        # kernel ALAS2-2018-939: 13 packages x 2 CVEs
        "updateinfo_1_item.xml.gz": {"amazon:2": 26},
        # qemu-kvm ALAS2-2018-942: 5 x 1; java-1.8.0-openjdk ALAS2-2018-949: 17 x 15
        "updateinfo_2_items.xml.gz": {"amazon:2": 260},
        "updateinfo_AL2022.xml.gz": {"amazon:2022": 48},
        "updateinfo_AL2023.xml.gz": {"amazon:2023": 42},
    }


def test_kernel_advisory(testdata: Path) -> None:
    advisories, vulns = parse([testdata / "fixtures/updateinfo_1_item.xml.gz"])
    assert advisories[("amazon:2", "kernel", "CVE-2017-5754")] == Advisory(
        namespace="amazon:2",
        package="kernel",
        vuln_id="CVE-2017-5754",
        ranges=(AffectedRange(fixed="4.9.76-38.79.amzn2"),),
        status=FixStatus.FIXED,
        fixed_version="4.9.76-38.79.amzn2",
        severity=Severity.CRITICAL,
        severity_source="amazon",
        source="amazon",
    )
    assert vulns["CVE-2017-5754"].urls == ("https://alas.aws.amazon.com/AL2/ALAS-2018-939.html",)


def test_epochs_and_severities(testdata: Path) -> None:
    advisories, _ = parse(
        [
            testdata / "fixtures/updateinfo_2_items.xml.gz",
            testdata / "fixtures/updateinfo_AL2023.xml.gz",
        ]
    )
    qemu = advisories[("amazon:2", "qemu-img", "CVE-2017-5715")]
    assert (qemu.fixed_version, qemu.severity) == ("10:1.5.3-141.amzn2.5.3", Severity.HIGH)
    java = advisories[("amazon:2", "java-1.8.0-openjdk", "CVE-2018-2677")]
    assert java.fixed_version == "1:1.8.0.161-0.b14.amzn2"
    # AL2023 writes "Important" capitalised; epoch 0 is left out
    rsyslog = advisories[("amazon:2023", "rsyslog", "CVE-2022-24903")]
    assert (rsyslog.fixed_version, rsyslog.severity) == ("8.2204.0-3.amzn2023.0.2", Severity.HIGH)


@pytest.mark.parametrize(
    ("golden", "fixture"),
    [
        ("ALAS2-2018-939.json.golden", "updateinfo_1_item.xml.gz"),
        ("ALAS2-2018-949.json.golden", "updateinfo_2_items.xml.gz"),
        ("ALAS2022-2021-001.json.golden", "updateinfo_AL2022.xml.gz"),
        ("ALAS2023-2023-001.json.golden", "updateinfo_AL2023.xml.gz"),
    ],
)
def test_vuln_list_update_goldens(testdata: Path, golden: str, fixture: str) -> None:
    """Every (package, CVE, EVR) vuln-list-update extracts from the ALAS is ours too."""
    expected = json.loads((testdata / golden).read_text())
    release = {"ALAS2-": "2", "ALAS2022-": "2022", "ALAS2023-": "2023"}
    namespace = "amazon:" + next(v for k, v in release.items() if expected["id"].startswith(k))
    want = {
        (p["name"], cve, evr(p["epoch"], p["version"], p["release"]))
        for p in expected["packages"]
        for cve in expected["cveids"]
    }
    advisories, vulns = parse([testdata / "fixtures" / fixture])
    got = {
        (pkg, cve, adv.fixed_version)
        for (ns, pkg, cve), adv in advisories.items()
        if ns == namespace and cve in expected["cveids"] and adv.fixed_version
    }
    assert want <= got
    severity = {
        "critical": Severity.CRITICAL,
        "important": Severity.HIGH,
        "medium": Severity.MEDIUM,
    }
    assert {advisories[(namespace, p, c)].severity for p, c, _ in want} == {
        severity[expected["severity"].lower()]
    }
    assert alas_link(expected["id"]) in vulns[expected["cveids"][0]].urls


UPDATE = """<update type="{type}"><id>{id}</id><issued date="{issued}"/>
<severity>{severity}</severity><references><reference type="cve" id="CVE-2024-0001"/>
</references><pkglist><collection>
<package name="curl" epoch="0" version="{version}" release="{release}" arch="x86_64"/>
<package name="curl" epoch="0" version="{version}" release="{release}" arch="aarch64"/>
</collection></pkglist></update>"""


def updateinfo(tmp_path: Path, *updates: dict[str, str], name: str = "updateinfo.xml") -> Path:
    defaults = {"type": "security", "severity": "medium", "issued": "2024-01-01 00:00"}
    body = "".join(UPDATE.format(**{**defaults, **u}) for u in updates)
    path = tmp_path / name
    path.write_text(f'<?xml version="1.0" ?>\n<updates>{body}</updates>\n')
    return path


def test_a_later_alas_for_the_same_cve_widens_the_fix(tmp_path: Path) -> None:
    path = updateinfo(
        tmp_path,
        {
            "id": "ALAS2023-2024-002",
            "version": "8.5.0",
            "release": "1.amzn2023.0.4",
            "issued": "2024-02-01 10:00",
            "severity": "important",
        },
        {"id": "ALAS2023-2024-001", "version": "8.5.0", "release": "1.amzn2023.0.2"},
    )
    advisories, vulns = parse([path])
    curl = advisories[("amazon:2023", "curl", "CVE-2024-0001")]
    assert curl.ranges == (
        AffectedRange(fixed="8.5.0-1.amzn2023.0.2"),
        AffectedRange(fixed="8.5.0-1.amzn2023.0.4"),
    )
    assert (curl.fixed_version, curl.severity) == ("8.5.0-1.amzn2023.0.4", Severity.HIGH)
    assert vulns["CVE-2024-0001"].urls == (
        "https://alas.aws.amazon.com/AL2023/ALAS-2024-002.html",
        "https://alas.aws.amazon.com/AL2023/ALAS-2024-001.html",
    )


def test_al1_bugfixes_and_extras(tmp_path: Path) -> None:
    path = updateinfo(
        tmp_path,
        {"id": "ALAS-2018-1000", "version": "7.53.1", "release": "16.85.amzn1"},
        {"id": "ALAS2-2019-0001", "version": "7.61.1", "release": "9.amzn2", "type": "bugfix"},
        {"id": "ALAS2KERNEL-5.10-2022-001", "version": "5.10.1", "release": "1.amzn2"},
    )
    feed = AmazonAlasFeed()
    advisories, _ = parse([path], feed)
    assert list(advisories) == [("amazon:1", "curl", "CVE-2024-0001")]
    assert feed.skipped == {"bugfix updates": 1, "AL2 extras updates": 1}


@pytest.mark.parametrize(
    ("alas_id", "link"),
    [
        ("ALAS-2018-1000", "https://alas.aws.amazon.com/ALAS-2018-1000.html"),
        ("ALAS2-2018-939", "https://alas.aws.amazon.com/AL2/ALAS-2018-939.html"),
        ("ALAS2022-2021-001", "https://alas.aws.amazon.com/AL2022/ALAS-2021-001.html"),
        ("ALAS2023-2023-126", "https://alas.aws.amazon.com/AL2023/ALAS-2023-126.html"),
    ],
)
def test_alas_link(alas_id: str, link: str) -> None:
    assert alas_link(alas_id) == link


def test_default_locations_are_mirror_lists() -> None:
    assert AmazonAlasFeed().default_locations() == list(MIRROR_LISTS.values())
    assert all(u.startswith("https://cdn.amazonlinux.com/") for u in MIRROR_LISTS.values())


def serve_repository(testdata: Path, root: Path, guid: str) -> None:
    """A repository as cdn.amazonlinux.com lays it out (repomd.xml names the updateinfo)."""
    repodata = root / guid / "repodata"
    repodata.mkdir(parents=True)
    shutil.copy(testdata / "fixtures/repomd_valid.xml", repodata / "repomd.xml")
    shutil.copy(testdata / "fixtures/updateinfo_AL2023.xml.gz", repodata / "updateinfo.xml.gz")


def test_mirror_list_is_followed(
    tmp_path: Path, testdata: Path, http_root: tuple[str, Path]
) -> None:
    base, root = http_root
    serve_repository(testdata, root, "guids/abc/x86_64")
    # the first mirror is down: the next one is used, as dnf would
    (root / "mirror.list").write_text(f"{base}/missing/x86_64/\n{base}/guids/abc/x86_64/\n")
    db_path = tmp_path / "db" / "hullscan.db"
    info = build_db(db_path, [(AmazonAlasFeed(), f"{base}/mirror.list")])
    assert info.sources[0].advisories == 42
    with VulnDB.open(db_path) as db:
        found = db.advisories("amazon:2023", ["rsyslog"])["rsyslog"]
    assert {a.vuln_id for a in found} == {"CVE-2014-3634", "CVE-2022-24903"}
    direct, _ = parse([testdata / "fixtures/updateinfo_AL2023.xml.gz"])
    assert len(direct) == 42


def test_resolve_location_follows_the_mirror_list(testdata: Path) -> None:
    """The builder's hook: what gets downloaded and fingerprinted is the updateinfo itself."""
    pages = {
        "https://cdn.example/2/mirror.list": "https://m1.example/a/\nhttps://m2.example/b\n",
        "https://m2.example/b/repodata/repomd.xml": (
            testdata / "fixtures/repomd_valid.xml"
        ).read_text(),
    }

    def get_text(url: str) -> str:
        if url not in pages:
            raise FeedError(f"cannot fetch {url}: HTTP 404")
        return pages[url]

    feed = AmazonAlasFeed()
    resolved = feed.resolve_location("https://cdn.example/2/mirror.list", get_text)
    assert resolved == "https://m2.example/b/repodata/updateinfo.xml.gz"
    direct = "https://m2.example/b/repodata/updateinfo.xml.gz"
    assert feed.resolve_location(direct, get_text) == direct
    pages["https://cdn.example/2/mirror.list"] = "https://m1.example/a/\n"
    with pytest.raises(FeedError, match=r"^https://cdn\.example/2/mirror\.list: no mirror gave"):
        feed.resolve_location("https://cdn.example/2/mirror.list", get_text)


def test_mirror_list_without_a_working_mirror(tmp_path: Path, http_root: tuple[str, Path]) -> None:
    base, _ = http_root
    mirror_list = tmp_path / "mirror.list"
    mirror_list.write_text(f"{base}/gone/x86_64/\n")
    with pytest.raises(FeedError) as caught:
        parse([mirror_list])
    message = str(caught.value)
    assert message.startswith(f"amazon feed: {mirror_list}: no mirror gave an updateinfo:")
    assert "HTTP 404" in message


class TestMalformed:
    def test_invalid_xml_fixture(self, testdata: Path) -> None:
        """vuln-list-update's own broken fixture: the last element is cut."""
        path = testdata / "fixtures/updateinfo_invalid.xml.gz"
        with pytest.raises(
            FeedError, match=r"^amazon feed: .*updateinfo_invalid\.xml\.gz: invalid XML at line 12"
        ):
            parse([path])

    def test_truncated_gzip(self, tmp_path: Path, testdata: Path) -> None:
        data = (testdata / "fixtures/updateinfo_2_items.xml.gz").read_bytes()
        path = tmp_path / "updateinfo.xml.gz"
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(
            FeedError, match=r"^amazon feed: .*updateinfo\.xml\.gz: truncated or corrupt gzip"
        ):
            parse([path])

    def test_not_a_mirror_list(self, tmp_path: Path) -> None:
        path = tmp_path / "mirror.list"
        path.write_text("this is not a list of URLs\n")
        with pytest.raises(FeedError, match=r"neither updateinfo XML nor a mirror list"):
            parse([path])

    def test_repomd_given_instead_of_updateinfo(self, testdata: Path) -> None:
        with pytest.raises(FeedError, match=r"repomd_valid\.xml: expected <updates>, got <\{http"):
            parse([testdata / "fixtures/repomd_valid.xml"])

    @pytest.mark.parametrize(
        ("body", "problem"),
        [
            ('<update type="security"><pkglist/></update>', "an <update> without <id>"),
            (
                '<update type="security"><id>RHSA-2024:1</id></update>',
                "RHSA-2024:1: not an ALAS id, cannot tell the release",
            ),
            (
                '<update type="security"><id>ALAS2-2024-1</id><pkglist/></update>',
                "ALAS2-2024-1: no <package> in <pkglist>",
            ),
            (
                '<update type="security"><id>ALAS2-2024-1</id><pkglist><collection>'
                '<package name="x" version="1"/></collection></pkglist></update>',
                "ALAS2-2024-1: a <package> without name, version or release",
            ),
        ],
    )
    def test_wrong_shape(self, tmp_path: Path, body: str, problem: str) -> None:
        path = tmp_path / "updateinfo.xml.gz"
        path.write_bytes(gzip.compress(f"<updates>{body}</updates>".encode()))
        with pytest.raises(FeedError) as caught:
            parse([path])
        assert str(caught.value) == f"amazon feed: {path}: {problem}"
