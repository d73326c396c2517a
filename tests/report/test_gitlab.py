"""GitLab container-scanning report: golden output and the official 15.0.7 schema."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from hullscan.model import FixStatus, Severity
from hullscan.report import gitlab
from hullscan.report.base import ReportOptions
from tests.golden import check_golden
from tests.report import fixtures as fx

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def validator(shared_schemas: Path) -> jsonschema.Draft7Validator:
    path = shared_schemas / "gitlab" / "15.0.7" / "container-scanning-report-format.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def _validate(validator: jsonschema.Draft7Validator, text: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(text)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    return doc


def test_golden_and_schema(update_golden: bool, validator: jsonschema.Draft7Validator) -> None:
    text = gitlab.render(fx.policied_report(), fx.options())
    _validate(validator, text)
    check_golden(GOLDEN / "debian12.gitlab.json", text, update_golden)


def test_clean_report_golden_and_schema(
    update_golden: bool, validator: jsonschema.Draft7Validator
) -> None:
    text = gitlab.render(fx.clean_report(), fx.options())
    doc = _validate(validator, text)
    assert doc["vulnerabilities"] == []
    check_golden(GOLDEN / "clean.gitlab.json", text, update_golden)


def test_suppressed_findings_are_left_out() -> None:
    report = fx.policied_report()
    doc = gitlab.to_document(report, fx.options())
    names = [
        (v["name"], v["location"]["dependency"]["package"]["name"]) for v in doc["vulnerabilities"]
    ]
    assert ("CVE-2023-4039", "libgcc-s1") not in names
    assert ("CVE-2023-50495", "libtinfo6") not in names
    assert len(names) == len(report.active_findings) == 9


def test_ids_are_stable_unique_uuids() -> None:
    first = gitlab.to_document(fx.policied_report(), fx.options())
    second = gitlab.to_document(fx.policied_report(), fx.options(started_at=fx.FINISHED))
    ids = [v["id"] for v in first["vulnerabilities"]]
    assert ids == [v["id"] for v in second["vulnerabilities"]]
    assert len(set(ids)) == len(ids)
    for value in ids:
        assert uuid.UUID(value).version == 5


def test_id_changes_with_image_and_version() -> None:
    finding = fx.debian_findings()[0]
    base = gitlab.finding_id(finding, "app:1")
    assert gitlab.finding_id(finding, "app:2") != base
    upgraded = replace(finding, package=replace(finding.package, version="2.36-9+deb12u2"))
    assert gitlab.finding_id(upgraded, "app:1") != base


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        (Severity.CRITICAL, "Critical"),
        (Severity.HIGH, "High"),
        (Severity.MEDIUM, "Medium"),
        (Severity.LOW, "Low"),
        (Severity.NEGLIGIBLE, "Info"),
        (Severity.UNKNOWN, "Unknown"),
    ],
)
def test_severity_mapping(severity: Severity, expected: str) -> None:
    assert gitlab.GITLAB_SEVERITY[severity] == expected


def test_severity_mapping_keeps_order() -> None:
    gitlab_order = ["Unknown", "Info", "Low", "Medium", "High", "Critical"]
    ranks = [gitlab_order.index(gitlab.GITLAB_SEVERITY[s]) for s in sorted(Severity)]
    assert ranks == sorted(ranks)


@pytest.mark.parametrize(
    ("vuln_id", "kind", "url"),
    [
        ("CVE-2023-5678", "cve", "https://nvd.nist.gov/vuln/detail/CVE-2023-5678"),
        ("GHSA-jfh8-c2jp-5v3q", "ghsa", "https://github.com/advisories/GHSA-jfh8-c2jp-5v3q"),
        (
            "TEMP-0841856-B18BAF",
            "temp",
            "https://security-tracker.debian.org/tracker/TEMP-0841856-B18BAF",
        ),
        ("PYSEC-2021-108", "pysec", None),
    ],
)
def test_identifiers(vuln_id: str, kind: str, url: str | None) -> None:
    ident = gitlab.identifier(vuln_id)
    assert ident["type"] == kind
    assert ident["name"] == ident["value"] == vuln_id
    assert ident.get("url") == url


def test_aliases_become_secondary_identifiers(validator: jsonschema.Draft7Validator) -> None:
    report = fx.debian_report()
    first = replace(report.findings[0], aliases=("GHSA-xxxx-yyyy-zzzz", "CVE-2023-4911"))
    report = replace(report, findings=(first,))
    doc = _validate(validator, gitlab.render(report, fx.options()))
    values = [i["value"] for i in doc["vulnerabilities"][0]["identifiers"]]
    assert values == ["CVE-2023-4911", "GHSA-xxxx-yyyy-zzzz"]


@pytest.mark.parametrize(
    ("status", "fixed", "expected"),
    [
        (FixStatus.FIXED, "1.2-3", "Upgrade libc6 to 1.2-3"),
        (FixStatus.WILL_NOT_FIX, "", "No fix: the vendor will not fix this in this release."),
        (FixStatus.AFFECTED, "", "No fix is available yet."),
        (FixStatus.FIX_DEFERRED, "", "No fix yet: the vendor has postponed the fix."),
    ],
)
def test_solution(status: FixStatus, fixed: str, expected: str) -> None:
    finding = replace(fx.debian_findings()[0], status=status, fixed_version=fixed)
    assert gitlab.solution(finding) == expected


def test_unknown_os_unusual_urls_and_no_description(
    validator: jsonschema.Draft7Validator,
) -> None:
    report = fx.debian_report()
    odd = replace(
        report.findings[6],
        urls=("not a url", "https://example.org/a", "https://example.org/a", "ftp://x/y"),
        description="",
    )
    report = replace(
        report,
        inventory=replace(report.inventory, distro=None),
        findings=(odd,),
        warnings=("", "matcher: no advisories for namespace"),
    )
    doc = _validate(validator, gitlab.render(report, fx.options()))
    vuln = doc["vulnerabilities"][0]
    assert vuln["location"]["operating_system"] == "unknown"
    assert vuln["links"] == [{"url": "https://example.org/a"}, {"url": "ftp://x/y"}]
    assert "description" not in vuln
    assert [m["value"] for m in doc["scan"]["messages"]] == [
        "python: cannot parse /opt/app/requirements.txt line 3: 'foo ==='",
        "matcher: no advisories for namespace",
    ]


def test_times_from_report_meta_naive_and_aware() -> None:
    report = replace(
        fx.clean_report(),
        meta={"started_at": "2024-02-01T10:00:00+01:00", "finished_at": "2024-02-01T09:00:05"},
    )
    scan = gitlab.to_document(report, ReportOptions())["scan"]
    assert scan["start_time"] == "2024-02-01T09:00:00"
    assert scan["end_time"] == "2024-02-01T09:00:05"


def test_times_default_to_now_and_match_schema(validator: jsonschema.Draft7Validator) -> None:
    _validate(validator, gitlab.render(fx.clean_report(), ReportOptions()))
