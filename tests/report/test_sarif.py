"""SARIF 2.1.0: golden output, the official schema, and what GitHub code scanning needs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from hullscan.model import ArtifactInfo, CvssScore, ScanReport, Severity
from hullscan.report import sarif
from tests.golden import check_golden
from tests.report import fixtures as fx

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def validator(shared_schemas: Path) -> jsonschema.Draft7Validator:
    # ../shared/schemas/sarif: the OASIS sarif-schema-2.1.0.json (see SOURCES.md there)
    schema = json.loads((shared_schemas / "sarif" / "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def _validate(validator: jsonschema.Draft7Validator, text: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(text)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    return doc


def enriched_report() -> ScanReport:
    """The policied Debian report with NVD/vendor CVSS, KEV and EPSS on two findings."""
    report = fx.policied_report()
    findings = []
    for finding in report.findings:
        if finding.vuln_id == "CVE-2023-38545":
            finding = replace(
                finding,
                cvss=(
                    CvssScore(
                        "nvd",
                        "3.1",
                        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                        9.8,
                        Severity.CRITICAL,
                    ),
                ),
                cwes=("CWE-787",),
                epss=0.2546,
                epss_percentile=0.9613,
            )
        elif finding.vuln_id == "CVE-2023-4911":
            finding = replace(
                finding,
                cvss=(
                    CvssScore(
                        "nvd",
                        "3.1",
                        "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
                        7.8,
                        Severity.HIGH,
                    ),
                    CvssScore(
                        "debian",
                        "3.1",
                        "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
                        7.8,
                        Severity.HIGH,
                    ),
                ),
                kev_added="2023-11-21",
            )
        elif finding.vuln_id == "CVE-2005-2541":
            # Debian: unimportant; NVD: 10.0. The distribution's judgement is what we report.
            finding = replace(
                finding,
                cvss=(CvssScore("nvd", "2.0", "AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0, Severity.HIGH),),
            )
        elif finding.vuln_id == "CVE-2024-2236":
            finding = replace(
                finding,
                cvss=(
                    CvssScore(
                        "nvd",
                        "3.1",
                        "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N",
                        5.9,
                        Severity.MEDIUM,
                    ),
                ),
            )
        findings.append(finding)
    return replace(report, findings=tuple(findings))


def test_golden_and_schema(update_golden: bool, validator: jsonschema.Draft7Validator) -> None:
    text = sarif.render(enriched_report(), fx.options())
    _validate(validator, text)
    check_golden(GOLDEN / "debian12.sarif", text, update_golden)


def test_clean_report_golden_and_schema(
    update_golden: bool, validator: jsonschema.Draft7Validator
) -> None:
    text = sarif.render(fx.clean_report(), fx.options())
    doc = _validate(validator, text)
    run = doc["runs"][0]
    assert run["results"] == [] and run["tool"]["driver"]["rules"] == []
    check_golden(GOLDEN / "clean.sarif", text, update_golden)


def test_one_rule_per_vulnerability_one_result_per_active_finding() -> None:
    report = fx.policied_report()
    run = sarif.to_document(report, fx.options())["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert len(rule_ids) == len(set(rule_ids)) == 7
    assert len(run["results"]) == len(report.active_findings) == 9
    for result in run["results"]:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
    # suppressed findings are left out: GitHub would show them as open alerts
    assert "CVE-2023-4039" not in rule_ids and "CVE-2023-50495" not in rule_ids
    assert run["properties"]["suppressedFindings"] == 2


def test_locations_follow_githubs_container_convention() -> None:
    run = sarif.to_document(fx.policied_report(), fx.options())["runs"][0]
    (location,) = run["results"][0]["locations"]
    assert location["physicalLocation"]["artifactLocation"] == {"uri": "team/app"}
    assert location["physicalLocation"]["region"]["startLine"] == 1
    (logical,) = location["logicalLocations"]
    assert logical["fullyQualifiedName"].startswith("pkg:deb/debian/curl@")


@pytest.mark.parametrize(
    ("reference", "kind", "tags", "uri"),
    [
        ("alpine:3.10", "registry", (), "library/alpine"),
        ("ghcr.io/org/app@sha256:" + "a" * 64, "registry", (), "org/app"),
        ("build/app.tar", "docker-archive", ("team/app:1",), "team/app"),
        ("./build/app.tar", "docker-archive", (), "build/app.tar"),
        ("./rootfs", "rootfs", (), "rootfs"),
    ],
)
def test_artifact_uri(reference: str, kind: str, tags: tuple[str, ...], uri: str) -> None:
    report = fx.clean_report()
    artifact = ArtifactInfo(reference=reference, kind=kind, repo_tags=tags)
    report = replace(report, inventory=replace(report.inventory, artifact=artifact))
    assert sarif.artifact_uri(report) == uri


def test_security_severity_and_levels() -> None:
    doc = sarif.to_document(enriched_report(), fx.options())
    rules = {r["id"]: r for r in doc["runs"][0]["tool"]["driver"]["rules"]}
    # NVD rated it and NVD's severity is reported: its score
    assert rules["CVE-2023-38545"]["properties"]["security-severity"] == "9.8"
    # no CVSS from the source that rated it: the score stands for the severity
    assert rules["CVE-2023-45853"]["properties"]["security-severity"] == "9.5"
    # Debian's "unimportant" is not turned into NVD's 10.0
    assert rules["CVE-2005-2541"]["properties"]["security-severity"] == "0.0"
    # nobody rated the severity: NVD's score is the best there is
    assert rules["CVE-2024-2236"]["properties"]["security-severity"] == "5.9"
    assert rules["CVE-2023-4911"]["properties"]["kev"] == {"date_added": "2023-11-21"}
    levels = {r["ruleId"]: r["level"] for r in doc["runs"][0]["results"]}
    assert levels["CVE-2023-38545"] == "error"
    assert levels["CVE-2023-4911"] == "error"
    assert levels["CVE-2023-5678"] == "warning"
    assert levels["CVE-2005-2541"] == "note"


def test_fingerprints_keep_alerts_apart_and_survive_upgrades() -> None:
    report = fx.policied_report()
    results = sarif.to_document(report, fx.options())["runs"][0]["results"]
    prints = [r["partialFingerprints"]["primaryLocationLineHash"] for r in results]
    assert len(set(prints)) == len(prints)  # curl and libcurl4 stay two alerts
    finding = report.active_findings[0]
    upgraded = replace(finding, package=replace(finding.package, version="9:9"))
    assert sarif.fingerprint(upgraded, "team/app") == sarif.fingerprint(finding, "team/app")


def test_help_markdown_escapes_table_breakers(validator: jsonschema.Draft7Validator) -> None:
    report = fx.debian_report()
    first = report.findings[0]
    odd = replace(first, package=replace(first.package, name="lib|c6"), description="a | b")
    doc = _validate(validator, sarif.render(replace(report, findings=(odd,)), fx.options()))
    markdown = doc["runs"][0]["tool"]["driver"]["rules"][0]["help"]["markdown"]
    assert "lib\\|c6" in markdown and "a \\| b" in markdown
