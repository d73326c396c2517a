"""SPDX 2.3 JSON: golden output, spdx-tools' validator on the written file, the layout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from spdx_tools.spdx.parser.json import json_parser
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from hullscan.model import ScanReport
from hullscan.report import spdx
from tests.golden import check_golden
from tests.report import fixtures as fx
from tests.report.test_cyclonedx import mixed_report

GOLDEN = Path(__file__).parent / "golden"


def parse_and_validate(text: str, tmp_path: Path) -> dict[str, Any]:
    """Validate what a consumer reads: the file, parsed back by spdx-tools."""
    path = tmp_path / "sbom.spdx.json"
    path.write_text(text, encoding="utf-8")
    document = json_parser.parse_from_file(str(path))
    messages = validate_full_spdx_document(document, "SPDX-2.3")
    assert messages == [], [m.validation_message for m in messages]
    doc: dict[str, Any] = json.loads(text)
    return doc


def test_golden_and_validation(update_golden: bool, tmp_path: Path) -> None:
    text = spdx.render(fx.policied_report(), fx.options())
    parse_and_validate(text, tmp_path)
    check_golden(GOLDEN / "debian12.spdx.json", text, update_golden)


@pytest.mark.parametrize("report", [fx.clean_report(), mixed_report()])
def test_every_report_validates(report: ScanReport, tmp_path: Path) -> None:
    parse_and_validate(spdx.render(report, fx.options()), tmp_path)


def test_layout_describes_and_contains() -> None:
    doc = json.loads(spdx.render(mixed_report(), fx.options()))
    assert doc["spdxVersion"] == "SPDX-2.3"
    by_id = {p["SPDXID"]: p for p in doc["packages"]}
    relations = {
        (r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"])
        for r in doc["relationships"]
    }
    assert ("SPDXRef-DOCUMENT", "DESCRIBES", spdx.IMAGE_ID) in relations
    assert ("SPDXRef-ContainerImage", "CONTAINS", spdx.OS_ID) in relations
    assert by_id[spdx.IMAGE_ID]["primaryPackagePurpose"] == "CONTAINER"
    assert by_id[spdx.OS_ID]["primaryPackagePurpose"] == "OPERATING-SYSTEM"
    for package in doc["packages"]:
        if package["SPDXID"] in (spdx.IMAGE_ID, spdx.OS_ID):
            continue
        (ref,) = package["externalRefs"]
        assert ref["referenceType"] == "purl"
        parent = spdx.OS_ID if ref["referenceLocator"].startswith("pkg:rpm/") else spdx.IMAGE_ID
        assert (parent, "CONTAINS", package["SPDXID"]) in relations
    openssl = next(p for p in doc["packages"] if p["name"] == "openssl-libs")
    assert openssl["sourceInfo"] == "built package from: openssl 1:3.0.7-16.el9_2"
    assert openssl["supplier"] == "Organization: Red Hat, Inc."


def test_namespace_unique_per_scan_and_stable() -> None:
    first = spdx.document_namespace(fx.policied_report(), fx.options())
    assert first == spdx.document_namespace(fx.policied_report(), fx.options())
    assert first.startswith(
        "https://spdx.org/spdxdocs/hullscan-registry.example.com-5000-team-app-1.2-"
    )
    later = spdx.document_namespace(fx.policied_report(), fx.options(finished_at=fx.STARTED))
    assert later != first
