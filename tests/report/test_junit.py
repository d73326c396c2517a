"""JUnit XML: golden output, the suite/case structure CI tools read, and the gate rules."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from hullscan.model import Distro, Severity
from hullscan.policy import Policy, apply_policy
from hullscan.report import junit
from tests.golden import check_golden
from tests.report import fixtures as fx
from tests.report.test_sarif import enriched_report

GOLDEN = Path(__file__).parent / "golden"


def _cases(text: str) -> dict[str, ET.Element]:
    root = ET.fromstring(text)
    return {case.get("name", ""): case for case in root.iter("testcase")}


def test_golden(update_golden: bool) -> None:
    text = junit.render(fx.policied_report(), fx.options())
    check_golden(GOLDEN / "debian12.junit.xml", text, update_golden)


def test_structure_and_threshold() -> None:
    root = ET.fromstring(junit.render(fx.policied_report(), fx.options()))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "registry.example.com:5000/team/app:1.2 (debian 12 (bookworm))"
    assert (suite.get("tests"), suite.get("failures")) == ("12", "4")
    assert (root.get("tests"), root.get("failures")) == ("12", "4")
    assert suite.get("time") == "7.000" and suite.get("timestamp") == "2024-01-16T09:30:00"
    cases = _cases(junit.render(fx.policied_report(), fx.options()))
    failed = {name for name, case in cases.items() if case.find("failure") is not None}
    # --fail-on high: the three CRITICAL and the HIGH finding
    assert failed == {
        "curl 7.88.1-10+deb12u3",
        "libcurl4 7.88.1-10+deb12u3",
        "zlib1g 1:1.2.13.dfsg-1",
        "libc6 2.36-9+deb12u1",
    }
    failure = cases["libc6 2.36-9+deb12u1"].find("failure")
    assert failure is not None and failure.get("type") == "HIGH"
    assert failure.get("message") == "1 vulnerability at or above HIGH: CVE-2023-4911"
    # below the threshold and suppressed findings are shown, not failed
    openssl = cases["openssl 3.0.11-1~deb12u1"].findtext("system-out") or ""
    assert openssl.startswith("not failing the gate: CVE-2023-5678 MEDIUM")
    gcc = cases["libgcc-s1 12.2.0-14"].findtext("system-out") or ""
    assert gcc.startswith("suppressed (whitelist:general): CVE-2023-4039")
    assert cases["ca-certificates 20230311"].find("failure") is None


def test_without_a_threshold_every_active_finding_fails() -> None:
    report = apply_policy(fx.debian_report(), Policy(), fx.REFERENCE)
    root = ET.fromstring(junit.render(report, fx.options()))
    assert root.get("failures") == "11"  # every package with a finding; ca-certificates passes
    assert fx.debian_report().meta == {}
    no_policy = ET.fromstring(junit.render(fx.debian_report(), fx.options()))
    assert no_policy.get("failures") == "11"


def test_kev_threshold_fails_what_the_gate_fails() -> None:
    report = apply_policy(enriched_report(), Policy(fail_on_kev=True), fx.REFERENCE)
    cases = _cases(junit.render(report, fx.options()))
    failed = {name for name, case in cases.items() if case.find("failure") is not None}
    assert failed == {"libc6 2.36-9+deb12u1"}
    failure = cases["libc6 2.36-9+deb12u1"].find("failure")
    assert failure is not None
    assert "[in CISA KEV since 2023-11-21]" in (failure.text or "")


def test_end_of_life_case() -> None:
    report = fx.policied_report()
    old = replace(report.inventory, distro=Distro(id="debian", version_id="9", codename="stretch"))
    meta = {**report.meta, "started_at": datetime(2024, 1, 16, tzinfo=UTC)}
    report = replace(report, inventory=old, meta=meta)
    cases = _cases(junit.render(report, fx.options()))
    eol = cases["operating system support"]
    assert eol.find("failure") is None and "end of life" in (eol.findtext("system-out") or "")
    gated = apply_policy(report, Policy(fail_on=Severity.HIGH, fail_on_eol=True), fx.REFERENCE)
    eol = _cases(junit.render(gated, fx.options()))["operating system support"]
    assert eol.find("failure") is not None


def test_control_characters_cannot_break_the_xml() -> None:
    report = fx.debian_report()
    first = report.findings[0]
    odd = replace(first, description="bad \x1b[31m\x00 text <&>")
    text = junit.render(replace(report, findings=(odd,)), fx.options())
    failure = next(c for c in ET.fromstring(text).iter("failure"))
    assert "bad ?[31m? text <&>" in (failure.text or "")
