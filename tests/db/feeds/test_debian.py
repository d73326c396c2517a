"""DebianTrackerFeed on vunnel's slice of the real tracker export, plus the rarer statuses.

Peer reference for the real slice: vunnel's snapshots of the same input
(tests/unit/providers/debian/test-fixtures/snapshots/debian:*/cve-*.json in anchore/vunnel).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from hullscan.db.feeds.debian import (
    TRACKER_JSON_URL,
    DebianTrackerFeed,
    severity_of,
)
from hullscan.errors import FeedError
from hullscan.model import Advisory, AffectedRange, FixStatus, Severity, Vulnerability


def parse(*files: Path) -> tuple[dict[tuple[str, str, str], Advisory], dict[str, Vulnerability]]:
    advisories: dict[tuple[str, str, str], Advisory] = {}
    vulns: dict[str, Vulnerability] = {}
    for record in DebianTrackerFeed().parse(list(files)):
        if isinstance(record, Advisory):
            key = (record.namespace, record.package, record.vuln_id)
            assert key not in advisories, f"duplicate {key}"
            advisories[key] = record
        else:
            assert record.id not in vulns
            vulns[record.id] = record
    return advisories, vulns


def write(tmp_path: Path, data: Any, name: str = "tracker.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def one_release(release: dict[str, Any], codename: str = "bookworm") -> dict[str, Any]:
    return {"openssl": {"CVE-2024-0001": {"description": "d", "releases": {codename: release}}}}


class TestRealExport:
    def test_namespace_counts(self, debian_json: Path) -> None:
        advisories, _ = parse(debian_json)
        assert Counter(ns for ns, _, _ in advisories) == {
            "debian:8": 3,
            "debian:9": 4,
            "debian:10": 4,
            "debian:11": 2,
            "debian:12": 2,
            "debian:13": 1,
            "debian:unstable": 5,
        }

    def test_resolved_with_version_is_fixed(self, debian_json: Path) -> None:
        advisories, _ = parse(debian_json)
        adv = advisories[("debian:10", "prototypejs", "CVE-2008-7220")]
        assert adv == Advisory(
            namespace="debian:10",
            package="prototypejs",
            vuln_id="CVE-2008-7220",
            ranges=(AffectedRange(fixed="1.6.0.2-1"),),
            status=FixStatus.FIXED,
            fixed_version="1.6.0.2-1",
            severity=Severity.HIGH,  # urgency "high**"
            severity_source="debian",
            source="debian",
        )
        assert advisories[("debian:9", "txt2man", "CVE-2013-1444")].severity is Severity.LOW
        assert advisories[("debian:8", "backupninja", "CVE-2005-3111")].severity is Severity.MEDIUM

    def test_security_repository_fix_and_trixie(self, debian_json: Path) -> None:
        advisories, _ = parse(debian_json)
        bullseye = advisories[("debian:11", "chromium", "CVE-2022-0456")]
        assert bullseye.fixed_version == "98.0.4758.80-1~deb11u1"
        assert bullseye.severity is Severity.UNKNOWN  # "not yet assigned"
        assert bullseye.severity_source == ""
        sope = advisories[("debian:13", "sope", "CVE-2025-53603")]
        assert sope.fixed_version == "5.12.1-2"
        assert advisories[("debian:unstable", "sope", "CVE-2025-53603")].status is FixStatus.FIXED

    def test_fixed_version_zero_means_not_affected(self, debian_json: Path) -> None:
        # vunnel writes these as records with an empty FixedIn: nothing to match either.
        advisories, vulns = parse(debian_json)
        assert not [k for k in advisories if k[2] == "CVE-2007-2383"]
        assert vulns["CVE-2007-2383"].description.startswith("The Prototype (prototypejs)")

    def test_open_end_of_life(self, debian_json: Path) -> None:
        advisories, _ = parse(debian_json)
        for ns in ("debian:9", "debian:10"):
            adv = advisories[(ns, "chromium", "CVE-2022-0456")]
            assert adv.status is FixStatus.END_OF_LIFE
            assert adv.fixed_version == ""
            assert adv.ranges == (AffectedRange(),)
            assert adv.severity is Severity.UNKNOWN  # vunnel says Negligible; see docs/db.md

    def test_vulnerabilities(self, debian_json: Path) -> None:
        _, vulns = parse(debian_json)
        assert len(vulns) == 7
        # chromium-browser's issue has "releases": [] in the export: no advisory, still known
        assert vulns["CVE-2022-0358"].description == ""
        assert vulns["CVE-2008-7220"].urls == (
            "https://security-tracker.debian.org/tracker/CVE-2008-7220",
        )


class TestStatuses:
    @pytest.mark.parametrize(
        ("release", "status"),
        [
            ({"status": "open", "urgency": "low"}, FixStatus.AFFECTED),
            (
                {
                    "status": "open",
                    "urgency": "low",
                    "nodsa": "Minor issue",
                    "nodsa_reason": "postponed",
                },
                FixStatus.FIX_DEFERRED,
            ),
            (
                {
                    "status": "open",
                    "urgency": "low",
                    "nodsa": "Minor issue",
                    "nodsa_reason": "ignored",
                },
                FixStatus.WILL_NOT_FIX,
            ),
            (
                {"status": "open", "urgency": "low", "nodsa": "Minor issue", "nodsa_reason": ""},
                FixStatus.WILL_NOT_FIX,
            ),
            ({"status": "open", "urgency": "end-of-life"}, FixStatus.END_OF_LIFE),
            (
                {"status": "undetermined", "urgency": "not yet assigned"},
                FixStatus.UNDER_INVESTIGATION,
            ),
            ({"status": "open", "fixed_version": "1.0", "urgency": "low"}, FixStatus.AFFECTED),
        ],
    )
    def test_unfixed(self, tmp_path: Path, release: dict[str, Any], status: FixStatus) -> None:
        advisories, _ = parse(write(tmp_path, one_release(release)))
        adv = advisories[("debian:12", "openssl", "CVE-2024-0001")]
        assert adv.status is status
        assert adv.fixed_version == ""
        assert adv.ranges == (AffectedRange(),)

    def test_resolved_without_version_is_not_affected(self, tmp_path: Path) -> None:
        advisories, _ = parse(write(tmp_path, one_release({"status": "resolved"})))
        assert advisories == {}

    @pytest.mark.parametrize(
        ("urgency", "severity"),
        [
            ("unimportant", Severity.NEGLIGIBLE),
            ("low", Severity.LOW),
            ("low**", Severity.LOW),
            ("medium*", Severity.MEDIUM),
            ("high**", Severity.HIGH),
            ("not yet assigned", Severity.UNKNOWN),
            ("end-of-life", Severity.UNKNOWN),
            ("whatever", Severity.UNKNOWN),
            ("", Severity.UNKNOWN),
        ],
    )
    def test_urgency(self, urgency: str, severity: Severity) -> None:
        assert severity_of(urgency) is severity

    def test_temp_ids_and_unknown_codenames_are_kept(self, tmp_path: Path) -> None:
        data = {
            "libfoo": {
                "TEMP-0000000-ABCDEF": {
                    "releases": {"sid": {"status": "open", "urgency": "unimportant"}}
                },
                "CVE-2024-0002": {
                    "releases": {
                        "zorro": {"status": "open", "urgency": "low"},
                        "": {"status": "open"},  # not a codename: skipped
                    }
                },
            }
        }
        advisories, vulns = parse(write(tmp_path, data))
        assert set(advisories) == {
            ("debian:unstable", "libfoo", "TEMP-0000000-ABCDEF"),
            ("debian:zorro", "libfoo", "CVE-2024-0002"),
        }
        assert "TEMP-0000000-ABCDEF" in vulns

    def test_later_file_wins(self, tmp_path: Path) -> None:
        first = write(tmp_path, one_release({"status": "open", "urgency": "low"}), "a.json")
        second = write(
            tmp_path,
            one_release({"status": "resolved", "fixed_version": "3.0.1-1", "urgency": "low"}),
            "b.json",
        )
        advisories, _ = parse(first, second)
        assert len(advisories) == 1
        assert advisories[("debian:12", "openssl", "CVE-2024-0001")].fixed_version == "3.0.1-1"


class TestMalformed:
    def test_truncated_real_file(self, debian_json: Path, tmp_path: Path) -> None:
        data = debian_json.read_bytes()
        cut = tmp_path / "debian.json"
        cut.write_bytes(data[: len(data) // 2])
        with pytest.raises(FeedError, match=r"debian feed: .*debian\.json: invalid JSON"):
            list(DebianTrackerFeed().parse([cut]))

    @pytest.mark.parametrize(
        ("data", "problem"),
        [
            ([1, 2], "expected a JSON object of source packages, got a list"),
            ({"pkg": ["CVE-1"]}, "package 'pkg': expected an object of issues"),
            ({"pkg": {"CVE-1": {"releases": "sid"}}}, "'releases' is a string"),
            ({"pkg": {"CVE-1": {"releases": {"sid": "open"}}}}, "sid: expected an object"),
            (
                {"pkg": {"CVE-1": {"releases": {"sid": {"status": "fixed"}}}}},
                "unknown status 'fixed'",
            ),
        ],
    )
    def test_wrong_shape(self, tmp_path: Path, data: Any, problem: str) -> None:
        path = write(tmp_path, data)
        with pytest.raises(FeedError) as info:
            list(DebianTrackerFeed().parse([path]))
        assert str(info.value).startswith(f"debian feed: {path}:")
        assert problem in str(info.value)


def test_default_location() -> None:
    assert DebianTrackerFeed().default_locations() == [TRACKER_JSON_URL]
    assert TRACKER_JSON_URL == "https://security-tracker.debian.org/tracker/data/json"
