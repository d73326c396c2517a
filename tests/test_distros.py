"""Release naming, the advisory namespaces of each distribution, and the end-of-life calendar
(with the policy gate that can fail on it). Dates are always given, never the clock."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from hullscan.db.builder import build_db
from hullscan.db.reader import VulnDB
from hullscan.distros import (
    EOL_DATES,
    advisory_namespaces,
    amazon_release,
    eol_date,
    eol_reached,
    eol_warning,
    namespace_of,
    release_name,
    ubuntu_release,
)
from hullscan.model import ArtifactInfo, Distro, Inventory, ScanReport
from hullscan.policy import Policy, end_of_life, gate, scan_day
from tests.db.helpers import ListFeed, advisory


@pytest.mark.parametrize(
    ("distro", "own", "matched"),
    [
        (Distro(id="debian", version_id="12", codename="bookworm"), "debian:12", ["debian:12"]),
        (Distro(id="ubuntu", version_id="22.04", codename="jammy"), "ubuntu:22.04", None),
        (Distro(id="ubuntu", codename="focal"), "ubuntu:20.04", None),
        (Distro(id="ubuntu", version_id="25.10"), "ubuntu:25.10", None),
        (
            Distro(id="alpine", version_id="3.21.0_alpha20240807", channel="edge"),
            "alpine:edge",
            None,
        ),
        (Distro(id="amzn", version_id="2"), "amazon:2", None),
        (Distro(id="amzn", version_id="2023"), "amazon:2023", None),
        (Distro(id="amzn", version_id="2022"), "amazon:2022", None),
        (Distro(id="amzn", version_id="2018.03"), "amazon:1", None),
        (Distro(id="wolfi", version_id="20230201"), "wolfi:rolling", None),
        (Distro(id="chainguard", version_id="20230214"), "chainguard:rolling", None),
        (Distro(id="rhel", version_id="9.3"), "rhel:9", ["rhel:9"]),
        (Distro(id="rhel", version_id="8"), "rhel:8", ["rhel:8"]),
        (Distro(id="centos", version_id="7"), "centos:7", ["rhel:7"]),
        (Distro(id="centos", version_id="9", channel="stream"), "centos:9", ["rhel:9"]),
        (Distro(id="rocky", version_id="9.3"), "rocky:9", ["rhel:9"]),
        (Distro(id="almalinux", version_id="8.9"), "alma:8", ["rhel:8"]),
        (Distro(id="ol", version_id="9.2"), "oracle:9", ["oracle:9", "rhel:9"]),
        (Distro(id="rhel"), None, []),
        (Distro(id="amzn"), None, []),
        (Distro(id="ubuntu"), None, []),
        (Distro(id="gentoo", version_id="2.8"), None, []),
    ],
)
def test_namespaces(distro: Distro, own: str | None, matched: list[str] | None) -> None:
    assert namespace_of(distro) == own
    assert advisory_namespaces(distro) == (matched if matched is not None else [own])


@pytest.mark.parametrize(
    ("name", "release"),
    [("jammy", "22.04"), ("Noble", "24.04"), ("22.04", "22.04"), ("22.04.4", "22.04"), ("", "")],
)
def test_ubuntu_release(name: str, release: str) -> None:
    assert ubuntu_release(name) == release


@pytest.mark.parametrize(
    ("version", "release"),
    [("2", "2"), ("2023", "2023"), ("2023.6.20241010", "2023"), ("2018.03", "1"), ("", "")],
)
def test_amazon_release(version: str, release: str) -> None:
    assert amazon_release(version) == release


@pytest.mark.parametrize(
    ("distro", "name"),
    [
        (Distro(id="debian", version_id="10", codename="buster"), "Debian 10 (buster)"),
        (Distro(id="debian", version_id="10"), "Debian 10 (buster)"),
        (Distro(id="ubuntu", version_id="18.04"), "Ubuntu 18.04 (bionic)"),
        (Distro(id="alpine", version_id="3.10.4"), "Alpine Linux 3.10"),
        (Distro(id="amzn", version_id="2"), "Amazon Linux 2"),
        (Distro(id="amzn", version_id="2018.03"), "Amazon Linux 1 (2018.03)"),
        (Distro(id="rhel", version_id="7.9"), "Red Hat Enterprise Linux 7"),
        (Distro(id="centos", version_id="8", channel="stream"), "CentOS Stream 8"),
        (Distro(id="ol", version_id="7.9"), "Oracle Linux 7"),
        (Distro(id="wolfi", version_id="20230201"), "Wolfi 20230201"),
    ],
)
def test_release_name(distro: Distro, name: str) -> None:
    assert release_name(distro) == name


def test_debian_buster_message() -> None:
    buster = Distro(id="debian", version_id="10", codename="buster")
    assert eol_warning(buster, date(2025, 1, 1)) == (
        "Debian 10 (buster) reached end of life on 2024-06-30; it receives no security fixes"
    )


def test_the_eol_date_is_the_last_supported_day() -> None:
    buster = Distro(id="debian", version_id="10")
    assert eol_date(buster) == date(2024, 6, 30)
    assert eol_reached(buster, date(2024, 6, 30)) is None
    assert eol_reached(buster, date(2024, 7, 1)) == date(2024, 6, 30)
    assert eol_warning(buster, date(2024, 6, 30)) is None


@pytest.mark.parametrize(
    ("distro", "end"),
    [
        (Distro(id="ubuntu", version_id="18.04"), date(2023, 5, 31)),
        (Distro(id="alpine", version_id="3.16.9"), date(2024, 5, 23)),
        (Distro(id="amzn", version_id="2"), date(2026, 6, 30)),
        (Distro(id="amzn", version_id="2018.03"), date(2023, 12, 31)),
        (Distro(id="rhel", version_id="7.9"), date(2024, 6, 30)),
        (Distro(id="centos", version_id="8"), date(2021, 12, 31)),
        (Distro(id="centos", version_id="8", channel="stream"), date(2024, 5, 31)),
        (Distro(id="ol", version_id="7.9"), date(2024, 12, 31)),
    ],
)
def test_eol_dates(distro: Distro, end: date) -> None:
    assert eol_date(distro) == end


@pytest.mark.parametrize(
    "distro",
    [
        Distro(id="debian", codename="trixie", channel="testing"),
        Distro(id="debian", codename="sid", channel="sid"),
        Distro(id="alpine", version_id="3.21.0_alpha20240807", channel="edge"),
        Distro(id="wolfi", version_id="20230201"),
        Distro(id="chainguard"),
        Distro(id="gentoo", version_id="2.8"),
    ],
)
def test_rolling_and_unknown_releases_never_end(distro: Distro) -> None:
    assert eol_date(distro) is None
    assert eol_warning(distro, date(2099, 1, 1)) is None


def test_every_major_release_family_is_in_the_table() -> None:
    families = {key.split(":")[0] for key in EOL_DATES}
    assert families >= {
        "debian",
        "ubuntu",
        "alpine",
        "amazon",
        "rhel",
        "centos",
        "rocky",
        "alma",
        "oracle",
    }
    assert all(key.count(":") == 1 for key in EOL_DATES)


# --- the policy gate ------------------------------------------------------------------


def report(distro: Distro | None, started: object) -> ScanReport:
    inventory = Inventory(
        artifact=ArtifactInfo(reference="img", kind="test"), distro=distro, packages=()
    )
    return ScanReport(inventory=inventory, findings=(), db=None, meta={"started_at": started})


BUSTER = Distro(id="debian", version_id="10", codename="buster")


@pytest.mark.parametrize(
    "started",
    [datetime(2025, 3, 1, 12, tzinfo=UTC), "2025-03-01T12:00:00+00:00", datetime(2025, 3, 1)],
)
def test_fail_on_eol_uses_the_scan_day(started: object) -> None:
    scanned = report(BUSTER, started)
    assert scan_day(scanned) == date(2025, 3, 1)
    assert end_of_life(scanned) == date(2024, 6, 30)
    assert gate(scanned, Policy(fail_on_eol=True)) is True
    assert gate(scanned, Policy()) is False  # off by default


def test_fail_on_eol_before_the_end() -> None:
    scanned = report(BUSTER, datetime(2024, 6, 30, 23, 59, tzinfo=UTC))
    assert end_of_life(scanned) is None
    assert gate(scanned, Policy(fail_on_eol=True)) is False


def test_fail_on_eol_without_os_or_for_a_rolling_release() -> None:
    assert gate(report(None, "2030-01-01T00:00:00Z"), Policy(fail_on_eol=True)) is False
    edge = Distro(id="alpine", version_id="3.21.0_alpha20240807", channel="edge")
    assert gate(report(edge, "2030-01-01T00:00:00Z"), Policy(fail_on_eol=True)) is False


def test_scan_day_is_utc() -> None:
    late = datetime.fromisoformat("2024-06-30T23:30:00-02:00")  # 2024-07-01 01:30 UTC
    assert scan_day(report(BUSTER, late)) == date(2024, 7, 1)
    assert end_of_life(report(BUSTER, late)) == date(2024, 6, 30)


# --- the warning in every output format -----------------------------------------------


def test_end_of_life_reaches_every_format(tmp_path: Path) -> None:
    """Matched with a scan date, the warning is in report.warnings: JSON, GitLab and the
    table (which shows no other warning) all carry it."""
    from hullscan.match.os import OsMatcher
    from hullscan.report.registry import render

    db_path = tmp_path / "hullscan.db"
    anchor = tmp_path / "listfeed.txt"  # ListFeed ignores its location; the builder wants one
    anchor.write_text("")
    feed = ListFeed([advisory("bash", "CVE-2019-18276", namespace="debian:10")])
    build_db(db_path, [(feed, str(anchor))])
    message = "Debian 10 (buster) reached end of life on 2024-06-30; it receives no security fixes"
    with VulnDB.open(db_path) as db:
        _, warnings = OsMatcher(db, scan_date=date(2025, 3, 1)).match(BUSTER, [])
        assert warnings == [message]
        scanned = replace(
            report(BUSTER, datetime(2025, 3, 1, 9, tzinfo=UTC)), warnings=tuple(warnings)
        )
        scanned = replace(scanned, db=db.info())
    gitlab = json.loads(render("gitlab", scanned))
    assert {"level": "warn", "value": message} in gitlab["scan"]["messages"]
    assert message in json.loads(render("json", scanned))["warnings"]
    assert f"WARNING: {message}" in render("table", scanned)
    # a report whose matcher had no scan date says nothing, in the table too
    assert "end of life" not in render("table", report(BUSTER, datetime(2025, 3, 1, tzinfo=UTC)))
