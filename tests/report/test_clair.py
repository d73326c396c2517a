"""clair-scanner compatible JSON: golden and the fields scripts read."""

from __future__ import annotations

import json
from pathlib import Path

from hullscan.model import Severity
from hullscan.policy import Policy, apply_policy
from hullscan.report import clair
from tests.golden import check_golden
from tests.report import fixtures as fx

GOLDEN = Path(__file__).parent / "golden"

# clair-scanner's vulnerabilityInfo (clair.go): these keys, all strings
KEYS = {
    "featurename",
    "featureversion",
    "vulnerability",
    "namespace",
    "description",
    "link",
    "severity",
    "fixedby",
}


def test_golden(update_golden: bool) -> None:
    text = clair.render(fx.policied_report(), fx.options())
    check_golden(GOLDEN / "debian12.clair.json", text, update_golden)


def test_shape_and_unapproved() -> None:
    doc = json.loads(clair.render(fx.policied_report(), fx.options()))
    assert set(doc) == {"image", "unapproved", "vulnerabilities"}
    assert doc["image"] == fx.REFERENCE
    # --fail-on high: the findings that fail the gate, each id once
    assert doc["unapproved"] == ["CVE-2023-38545", "CVE-2023-45853", "CVE-2023-4911"]
    # every finding is listed, whitelisted ones too (as clair-scanner's approved ones)
    assert len(doc["vulnerabilities"]) == len(fx.policied_report().findings) == 11
    for vuln in doc["vulnerabilities"]:
        assert set(vuln) == KEYS and all(isinstance(v, str) for v in vuln.values())
    severities = {v["severity"] for v in doc["vulnerabilities"]}
    assert severities <= {"Unknown", "Negligible", "Low", "Medium", "High", "Critical"}
    first = doc["vulnerabilities"][0]
    assert (first["featurename"], first["fixedby"]) == ("curl", "7.88.1-10+deb12u4")


def test_without_threshold_every_active_finding_is_unapproved() -> None:
    report = apply_policy(fx.debian_report(), Policy(), fx.REFERENCE)
    doc = clair.to_document(report, fx.options())
    assert len(doc["unapproved"]) == len({f.vuln_id for f in report.findings}) == 9
    whitelisted = fx.policied_report()
    gated = apply_policy(whitelisted, Policy(fail_on=Severity.UNKNOWN), fx.REFERENCE)
    unapproved = clair.to_document(gated, fx.options())["unapproved"]
    assert "CVE-2023-4039" not in unapproved  # whitelisted
