"""UbuntuOsvFeed on the real OSV records of canonical/ubuntu-security-notices that anchore/vunnel
keeps as fixtures (osv/cve, osv/usn, osv-esm-cases), read as files and as the official tarball."""

from __future__ import annotations

import copy
import io
import json
import tarfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from hullscan.db.feeds.ubuntu import OSV_ALL_URL, UbuntuOsvFeed
from hullscan.errors import FeedError
from hullscan.model import Advisory, AffectedRange, FixStatus, Severity, Vulnerability

Key = tuple[str, str, str]
FIXTURES = "ubuntu/anchore__vunnel/tests/unit/providers/ubuntu/test-fixtures"


@pytest.fixture(scope="module")
def osv_dir(advisories_dir: Path) -> Path:
    return advisories_dir / FIXTURES


@pytest.fixture(scope="module")
def record_files(osv_dir: Path) -> list[Path]:
    """Every OSV file of the fixtures: 8 UBUNTU-CVE records and one USN notice."""
    return sorted(osv_dir.glob("osv*/**/*.json"))


def parse(
    files: list[Path], feed: UbuntuOsvFeed | None = None
) -> tuple[dict[Key, Advisory], dict[str, Vulnerability]]:
    advisories: dict[Key, Advisory] = {}
    vulns: dict[str, Vulnerability] = {}
    for record in (feed or UbuntuOsvFeed()).parse(files):
        if isinstance(record, Advisory):
            key = (record.namespace, record.package, record.vuln_id)
            assert key not in advisories, f"duplicate {key}"
            advisories[key] = record
        else:
            vulns[record.id] = record
    return advisories, vulns


@pytest.fixture(scope="module")
def parsed(record_files: list[Path]) -> tuple[dict[Key, Advisory], dict[str, Vulnerability]]:
    return parse(record_files)


def test_counts_and_what_is_skipped(record_files: list[Path]) -> None:
    feed = UbuntuOsvFeed()
    advisories, vulns = parse(record_files, feed)
    assert len(record_files) == 9
    assert Counter(ns for ns, _, _ in advisories) == {
        "ubuntu:14.04": 2,
        "ubuntu:16.04": 6,
        "ubuntu:18.04": 5,
        "ubuntu:20.04": 5,
        "ubuntu:22.04": 6,
        "ubuntu:24.04": 4,
        "ubuntu:25.10": 1,
    }
    assert len(vulns) == 8
    # 19 Ubuntu Pro (ESM) entries; the USN notice restates its CVE record
    assert feed.skipped == {
        "Pro entries": 19,
        "not an UBUNTU-CVE record (USN/LSN notice)": 1,
    }


def test_fixed_release_by_release(parsed: tuple[dict[Key, Advisory], Any]) -> None:
    advisories, _ = parsed
    # UBUNTU-CVE-2021-3782: wayland fixed per release; 16.04 only has a Pro entry
    assert advisories[("ubuntu:22.04", "wayland", "CVE-2021-3782")] == Advisory(
        namespace="ubuntu:22.04",
        package="wayland",
        vuln_id="CVE-2021-3782",
        ranges=(AffectedRange(fixed="1.20.0-1ubuntu0.1"),),
        status=FixStatus.FIXED,
        fixed_version="1.20.0-1ubuntu0.1",
        severity=Severity.MEDIUM,
        severity_source="ubuntu",
        source="ubuntu",
    )
    assert advisories[("ubuntu:18.04", "wayland", "CVE-2021-3782")].fixed_version == (
        "1.16.0-1ubuntu1.1~18.04.4"
    )
    assert advisories[("ubuntu:20.04", "wayland", "CVE-2021-3782")].fixed_version == (
        "1.18.0-1ubuntu0.1"
    )
    assert ("ubuntu:16.04", "wayland", "CVE-2021-3782") not in advisories


def test_unfixed_is_affected_in_every_version(parsed: tuple[dict[Key, Advisory], Any]) -> None:
    advisories, _ = parsed
    # UBUNTU-CVE-2016-20013: glibc in 22.04 has only {"introduced": "0"} and 15 versions
    glibc = advisories[("ubuntu:22.04", "glibc", "CVE-2016-20013")]
    assert glibc.status is FixStatus.AFFECTED
    assert glibc.ranges == (AffectedRange(),)
    assert glibc.fixed_version == ""
    assert (glibc.severity, glibc.severity_source) == (Severity.NEGLIGIBLE, "ubuntu")
    # keyed by SOURCE package: eglibc/glibc, never libc6
    assert {pkg for _, pkg, vid in advisories if vid == "CVE-2016-20013"} == {
        "dietlibc",
        "glibc",
        "sssd",
        "syslinux",
        "syslinux-legacy",
        "zabbix",
    }


def test_interim_release_and_pro_only_packages(parsed: tuple[dict[Key, Advisory], Any]) -> None:
    advisories, _ = parsed
    # UBUNTU-CVE-2022-24823 netty: Pro entries for every LTS, base only for 25.10
    netty = [k for k in advisories if k[1] == "netty"]
    assert netty == [("ubuntu:25.10", "netty", "CVE-2022-24823")]
    assert advisories[netty[0]].severity is Severity.LOW
    # UBUNTU-CVE-2014-9913 unzip: 16.04 base fixed, 14.04 Pro skipped
    assert [k[0] for k in advisories if k[1] == "unzip"] == ["ubuntu:16.04"]


def test_withdrawn_record_is_still_read(parsed: tuple[dict[Key, Advisory], Any]) -> None:
    advisories, _ = parsed
    # UBUNTU-CVE-2013-2208 carries "withdrawn" (Canonical stopped regenerating it)
    assert advisories[("ubuntu:14.04", "tpp", "CVE-2013-2208")].fixed_version == "1.3.1-3"


def test_vulnerabilities(parsed: tuple[Any, dict[str, Vulnerability]]) -> None:
    _, vulns = parsed
    vuln = vulns["CVE-2021-3782"]
    assert vuln.aliases == ("UBUNTU-CVE-2021-3782",)
    assert vuln.urls == ("https://ubuntu.com/security/CVE-2021-3782",)
    assert vuln.description.startswith("An internal reference count is held on the buffer")
    # no "upstream" in UBUNTU-CVE-2020-36325: the id without its prefix
    assert "CVE-2020-36325" in vulns


def write_tar(tmp_path: Path, osv_dir: Path, name: str, mode: str) -> Path:
    """The fixtures laid out like osv-all.tar.xz (osv/cve/<year>/..., osv/usn/...)."""
    path = tmp_path / name
    with tarfile.open(path, mode) as archive:  # type: ignore[call-overload]
        for file in sorted(osv_dir.glob("osv*/**/*.json")):
            rel = file.relative_to(osv_dir).as_posix().replace("osv-esm-cases/", "osv/")
            archive.add(file, arcname=rel)
    return path


@pytest.mark.parametrize(("name", "mode"), [("osv-all.tar.xz", "w:xz"), ("osv.tgz", "w:gz")])
def test_tarball_equals_the_files(
    tmp_path: Path,
    osv_dir: Path,
    parsed: tuple[dict[Key, Advisory], dict[str, Vulnerability]],
    name: str,
    mode: str,
) -> None:
    assert parse([write_tar(tmp_path, osv_dir, name, mode)]) == parsed


def test_directory_patterns_select_cve_records(osv_dir: Path) -> None:
    from hullscan.db.fetch import fetch

    files = fetch(str(osv_dir), osv_dir, UbuntuOsvFeed.file_patterns)
    assert [f.name for f in files if f.name.startswith("USN")] == []
    assert len(files) == 8


def record(osv_dir: Path, rel: str = "osv/cve/2021/UBUNTU-CVE-2021-3782.json") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((osv_dir / rel).read_text())
    return copy.deepcopy(data)


def write(tmp_path: Path, data: Any, name: str = "UBUNTU-CVE-2021-3782.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_later_file_wins_per_record(tmp_path: Path, osv_dir: Path) -> None:
    corrected = record(osv_dir)
    corrected["affected"] = [
        a for a in corrected["affected"] if "22.04" in a["package"]["ecosystem"]
    ]
    corrected["affected"][0]["ranges"][0]["events"][1]["fixed"] = "1.20.0-1ubuntu0.2"
    first = osv_dir / "osv/cve/2021/UBUNTU-CVE-2021-3782.json"
    sub = tmp_path / "later"
    sub.mkdir()
    advisories, _ = parse([first, write(sub, corrected)])
    assert list(advisories) == [("ubuntu:22.04", "wayland", "CVE-2021-3782")]
    assert advisories[("ubuntu:22.04", "wayland", "CVE-2021-3782")].fixed_version == (
        "1.20.0-1ubuntu0.2"
    )


def test_release_named_twice_is_one_advisory(tmp_path: Path, osv_dir: Path) -> None:
    """Before GA a release is `Ubuntu:26.04`, after it `Ubuntu:26.04:LTS`: one namespace."""
    data = record(osv_dir)
    entry = next(a for a in data["affected"] if a["package"]["ecosystem"] == "Ubuntu:22.04:LTS")
    pre_ga = copy.deepcopy(entry)
    pre_ga["package"]["ecosystem"] = "Ubuntu:22.04"
    pre_ga["ranges"][0]["events"] = [{"introduced": "0"}, {"fixed": "1.20.0-1ubuntu0.1~rc1"}]
    data["affected"].append(pre_ga)
    advisories, _ = parse([write(tmp_path, data)])
    merged = advisories[("ubuntu:22.04", "wayland", "CVE-2021-3782")]
    assert merged.ranges == (
        AffectedRange(fixed="1.20.0-1ubuntu0.1"),
        AffectedRange(fixed="1.20.0-1ubuntu0.1~rc1"),
    )
    assert (merged.status, merged.fixed_version) == (FixStatus.FIXED, "1.20.0-1ubuntu0.1")


def test_versions_only_and_introduced_bounds(tmp_path: Path, osv_dir: Path) -> None:
    data = record(osv_dir)
    data["affected"] = [
        {
            "package": {"ecosystem": "Ubuntu:24.04:LTS", "name": "exact"},
            "versions": ["1.0-1", "1.0-2"],
        },
        {
            "package": {"ecosystem": "Ubuntu:24.04:LTS", "name": "window"},
            "ranges": [
                {"type": "GIT", "repo": "x", "events": [{"introduced": "abc"}]},
                {
                    "type": "ECOSYSTEM",
                    "events": [{"introduced": "2.0-1"}, {"last_affected": "2.0-5"}],
                },
            ],
        },
    ]
    advisories, _ = parse([write(tmp_path, data)])
    exact = advisories[("ubuntu:24.04", "exact", "CVE-2021-3782")]
    assert exact.ranges == (
        AffectedRange(introduced="1.0-1", last_affected="1.0-1"),
        AffectedRange(introduced="1.0-2", last_affected="1.0-2"),
    )
    assert exact.status is FixStatus.AFFECTED
    window = advisories[("ubuntu:24.04", "window", "CVE-2021-3782")]
    assert window.ranges == (AffectedRange(introduced="2.0-1", last_affected="2.0-5"),)


@pytest.mark.parametrize(
    ("score", "severity"),
    [
        ("critical", Severity.CRITICAL),
        ("high", Severity.HIGH),
        ("Medium", Severity.MEDIUM),
        ("low", Severity.LOW),
        ("negligible", Severity.NEGLIGIBLE),
        ("untriaged", Severity.UNKNOWN),
    ],
)
def test_priority(tmp_path: Path, osv_dir: Path, score: str, severity: Severity) -> None:
    data = record(osv_dir)
    data["severity"] = [
        {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N"},
        {"type": "Ubuntu", "score": score},
    ]
    advisories, _ = parse([write(tmp_path, data)])
    adv = advisories[("ubuntu:22.04", "wayland", "CVE-2021-3782")]
    assert adv.severity is severity
    assert adv.severity_source == ("" if severity is Severity.UNKNOWN else "ubuntu")


def test_rejected_cve_is_skipped(tmp_path: Path, osv_dir: Path) -> None:
    data = record(osv_dir)
    data["details"] = "** REJECT ** DO NOT USE THIS CANDIDATE NUMBER."
    feed = UbuntuOsvFeed()
    assert parse([write(tmp_path, data)], feed) == ({}, {})
    assert feed.skipped == {"rejected by the CVE program": 1}


def test_default_location() -> None:
    assert UbuntuOsvFeed().default_locations() == [OSV_ALL_URL]
    assert OSV_ALL_URL == "https://security-metadata.canonical.com/osv/osv-all.tar.xz"


class TestMalformed:
    def test_truncated_record(self, tmp_path: Path, osv_dir: Path) -> None:
        text = (osv_dir / "osv/cve/2021/UBUNTU-CVE-2021-3782.json").read_text()
        path = tmp_path / "UBUNTU-CVE-2021-3782.json"
        path.write_text(text[: len(text) // 2])
        with pytest.raises(
            FeedError, match=r"^ubuntu feed: .*UBUNTU-CVE-2021-3782\.json: invalid JSON"
        ):
            parse([path])

    def test_truncated_tarball(self, tmp_path: Path, osv_dir: Path) -> None:
        path = write_tar(tmp_path, osv_dir, "osv-all.tar.xz", "w:xz")
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(
            FeedError, match=r"^ubuntu feed: .*osv-all\.tar\.xz: not a readable tar"
        ):
            parse([path])

    def test_bad_member_is_named(self, tmp_path: Path) -> None:
        path = tmp_path / "osv-all.tar.gz"
        with tarfile.open(path, "w:gz") as archive:
            payload = b'{"id": "UBUNTU-CVE-2024-1", '
            info = tarfile.TarInfo("osv/cve/2024/UBUNTU-CVE-2024-1.json")
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
        with pytest.raises(FeedError) as caught:
            parse([path])
        message = str(caught.value)
        assert message.startswith(f"ubuntu feed: {path}: osv/cve/2024/UBUNTU-CVE-2024-1.json:")
        assert "invalid JSON" in message

    def test_archive_without_records(self, tmp_path: Path) -> None:
        path = tmp_path / "empty.tar.gz"
        with tarfile.open(path, "w:gz"):
            pass
        with pytest.raises(FeedError, match=r"no UBUNTU-CVE-\*\.json records found"):
            parse([path])

    @pytest.mark.parametrize(
        ("data", "problem"),
        [
            ([], "expected an OSV object, got a list"),
            ({"affected": []}, "OSV record without an 'id'"),
            ({"id": "UBUNTU-CVE-2024-1", "affected": {}}, "'affected' is an object, not a list"),
            ({"id": "UBUNTU-CVE-2024-1", "affected": [{"package": {}}]}, "affected[0]: expected"),
            (
                {
                    "id": "UBUNTU-CVE-2024-1",
                    "affected": [
                        {
                            "package": {"ecosystem": "Ubuntu:24.04:LTS", "name": "x"},
                            "ranges": [{"type": "ECOSYSTEM", "events": [{"fixed": ""}]}],
                        }
                    ],
                },
                "affected[0] (x): event 'fixed' without a version",
            ),
            (
                {
                    "id": "UBUNTU-CVE-2024-1",
                    "affected": [
                        {
                            "package": {"ecosystem": "Ubuntu:24.04:LTS", "name": "x"},
                            "ranges": [{"type": "ECOSYSTEM", "events": [{"patched": "1"}]}],
                        }
                    ],
                },
                "unknown event 'patched'",
            ),
        ],
    )
    def test_wrong_shape(self, tmp_path: Path, data: Any, problem: str) -> None:
        path = write(tmp_path, data, "UBUNTU-CVE-2024-1.json")
        with pytest.raises(FeedError) as caught:
            parse([path])
        assert str(caught.value).startswith(f"ubuntu feed: {path}:")
        assert problem in str(caught.value)
