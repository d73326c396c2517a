"""hullscan JSON report: golden files, the strict schema of docs/json-report.md, order."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from hullscan.model import Severity
from hullscan.policy import Policy, apply_policy
from hullscan.report import json as json_report
from tests.golden import check_golden
from tests.report import fixtures as fx

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((HERE / "hullscan-report.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _load(validator: jsonschema.Draft202012Validator, text: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(text)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    return doc


def test_golden(update_golden: bool, validator: jsonschema.Draft202012Validator) -> None:
    text = json_report.render(fx.policied_report(), fx.options())
    _load(validator, text)
    check_golden(GOLDEN / "debian12.json", text, update_golden)


def test_clean_golden(update_golden: bool, validator: jsonschema.Draft202012Validator) -> None:
    text = json_report.render(fx.clean_report(), fx.options())
    doc = _load(validator, text)
    assert doc["findings"] == [] and doc["db"] is None and doc["policy"] is None
    check_golden(GOLDEN / "clean.json", text, update_golden)


def test_suppressed_findings_are_kept_with_their_rule() -> None:
    doc = json_report.to_document(fx.policied_report(), fx.options())
    suppressed = {(f["id"], f["suppressed_by"]) for f in doc["findings"] if f["suppressed_by"]}
    assert suppressed == {
        ("CVE-2023-4039", "whitelist:general"),
        ("CVE-2023-50495", "whitelist:image:registry.example.com:5000/team/app"),
    }
    summary = doc["summary"]
    assert summary["suppressed"] == 2
    assert summary["total"] == 9 == sum(summary["by_severity"].values())
    assert summary["by_severity"]["MEDIUM"] == 2  # the two suppressed MEDIUMs not counted
    assert doc["policy"]["failed"] is True
    assert doc["policy"]["fail_on"] == "HIGH"


def test_order_is_deterministic_whatever_the_input_order() -> None:
    report = fx.policied_report()
    expected = json_report.render(report, fx.options())
    rng = random.Random(1234)
    for _ in range(5):
        findings = list(report.findings)
        packages = list(report.inventory.packages)
        rng.shuffle(findings)
        rng.shuffle(packages)
        shuffled = replace(
            report,
            findings=tuple(findings),
            inventory=replace(report.inventory, packages=tuple(packages)),
        )
        assert json_report.render(shuffled, fx.options()) == expected


def test_findings_sorted_by_severity_then_natural_id() -> None:
    doc = json_report.to_document(fx.debian_report(), fx.options())
    keys = [(f["severity"], f["id"], f["package"]["name"]) for f in doc["findings"]]
    assert keys[:3] == [
        ("CRITICAL", "CVE-2023-38545", "curl"),
        ("CRITICAL", "CVE-2023-38545", "libcurl4"),
        ("CRITICAL", "CVE-2023-45853", "zlib1g"),
    ]
    medium = [k[1] for k in keys if k[0] == "MEDIUM"]
    assert medium == ["CVE-2023-4039", "CVE-2023-5678", "CVE-2023-5678", "CVE-2023-50495"]
    ranks = [Severity[k[0]] for k in keys]
    assert ranks == sorted(ranks, reverse=True)


def test_layer_attribution() -> None:
    doc = json_report.to_document(fx.debian_report(), fx.options())
    curl = next(f for f in doc["findings"] if f["package"]["name"] == "curl")
    assert curl["layer"]["index"] == 1
    assert curl["layer"]["diff_id"] == fx.APT_LAYER.diff_id
    assert curl["layer"]["created_by"].startswith("RUN /bin/sh -c apt-get update")


def test_unknown_layer_and_no_layer(validator: jsonschema.Draft202012Validator) -> None:
    report = fx.debian_report()
    first, second = report.findings[:2]
    first = replace(first, package=replace(first.package, layer=fx.digest("elsewhere")))
    second = replace(second, package=replace(second.package, layer=""))
    doc = _load(
        validator, json_report.render(replace(report, findings=(first, second)), fx.options())
    )
    by_id = {f["id"]: f for f in doc["findings"]}
    assert by_id[first.vuln_id]["layer"] == {
        "diff_id": fx.digest("elsewhere"),
        "index": None,
        "created_by": None,
    }
    assert by_id[second.vuln_id]["layer"] is None


def test_dropped_below_min_severity_is_reported(
    validator: jsonschema.Draft202012Validator,
) -> None:
    report = apply_policy(fx.debian_report(), Policy(min_severity=Severity.HIGH), fx.REFERENCE)
    doc = _load(validator, json_report.render(report, fx.options()))
    assert doc["summary"]["dropped_below_min_severity"] == 7
    assert doc["summary"]["total"] == 4
    assert doc["policy"]["min_severity"] == "HIGH"
    assert doc["policy"]["failed"] is False  # no fail_on


def test_warnings_merged_once_in_order() -> None:
    report = replace(
        fx.debian_report(),
        warnings=(
            "debian feed: CVE-2024-0001 has no severity",
            "python: cannot parse /opt/app/requirements.txt line 3: 'foo ==='",
        ),
    )
    doc = json_report.to_document(report, fx.options())
    assert doc["warnings"] == [
        "python: cannot parse /opt/app/requirements.txt line 3: 'foo ==='",
        "debian feed: CVE-2024-0001 has no severity",
    ]


def test_non_ascii_kept_and_trailing_newline() -> None:
    finding = replace(fx.debian_findings()[0], description="Débordement de tampon — ld.so")
    report = replace(fx.debian_report(), findings=(finding,))
    text = json_report.render(report, fx.options())
    assert "Débordement de tampon — ld.so" in text
    assert text.endswith("}\n")
