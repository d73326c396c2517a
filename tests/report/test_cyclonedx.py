"""CycloneDX 1.6: golden JSON and XML, cyclonedx-python-lib's schema validators, and
the purls, dependencies and vulnerability analysis a consumer relies on."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from cyclonedx.validation.xml import XmlValidator

from hullscan.model import (
    ArtifactInfo,
    Distro,
    Inventory,
    Layer,
    Package,
    PackageType,
    ScanReport,
)
from hullscan.purl import purl_for
from hullscan.report import cyclonedx
from tests.golden import check_golden
from tests.report import fixtures as fx
from tests.report.test_sarif import enriched_report

GOLDEN = Path(__file__).parent / "golden"


def validate_json(text: str) -> dict[str, Any]:
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text, all_errors=True)
    assert errors is None, [str(e) for e in errors]
    doc: dict[str, Any] = json.loads(text)
    return doc


def validate_xml(text: str) -> None:
    errors = XmlValidator(SchemaVersion.V1_6).validate_str(text, all_errors=True)
    assert errors is None, [str(e) for e in errors]


def mixed_report() -> ScanReport:
    """One package of every ecosystem, purls as the analyzers write them (purl-spec)."""
    layer = Layer(index=0, diff_id=fx.digest("diff:rhel9"), created_by="ADD rootfs /")
    distro = Distro(id="rhel", version_id="9.2", pretty_name="Red Hat Enterprise Linux 9.2")

    def os_pkg(pkg: Package) -> Package:
        return replace(pkg, purl=purl_for(pkg, distro), layer=layer.diff_id)

    packages = (
        os_pkg(
            Package(
                "openssl-libs",
                "1:3.0.7-16.el9_2",
                PackageType.RPM,
                "x86_64",
                "openssl",
                "1:3.0.7-16.el9_2",
                paths=("var/lib/rpm/rpmdb.sqlite",),
                vendor="Red Hat, Inc.",
            )
        ),
        os_pkg(
            Package(
                "perl-FCGI",
                "1:0.78-11.module+el9.1.0+16238+7fdea31c",
                PackageType.RPM,
                "x86_64",
                "perl-FCGI",
                "1:0.78-11.module+el9.1.0+16238+7fdea31c",
                modularity_label="perl-FCGI:0.78:9010020220720113916:9edba152",
            )
        ),
        Package(
            "requests",
            "2.31.0",
            PackageType.PYPI,
            purl="pkg:pypi/requests@2.31.0",
            layer=layer.diff_id,
            paths=("usr/lib/python3.9/site-packages/requests-2.31.0.dist-info/METADATA",),
        ),
        Package("@babel/core", "7.22.5", PackageType.NPM, purl="pkg:npm/%40babel/core@7.22.5"),
        Package(
            "org.apache.logging.log4j:log4j-core",
            "2.14.1",
            PackageType.MAVEN,
            purl="pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
        ),
        Package(
            "golang.org/x/net",
            "v0.7.0",
            PackageType.GOLANG,
            purl="pkg:golang/golang.org/x/net@v0.7.0",
        ),
    )
    inventory = Inventory(
        artifact=ArtifactInfo(
            reference="app.tar", kind="docker-archive", repo_tags=("app:1",), layers=(layer,)
        ),
        distro=distro,
        packages=packages,
    )
    return ScanReport(inventory=inventory, findings=(), db=None)


def test_json_golden_and_schema(update_golden: bool) -> None:
    text = cyclonedx.render_json(enriched_report(), fx.options())
    validate_json(text)
    check_golden(GOLDEN / "debian12.cdx.json", text, update_golden)


def test_xml_golden_and_schema(update_golden: bool) -> None:
    text = cyclonedx.render_xml(enriched_report(), fx.options())
    validate_xml(text)
    check_golden(GOLDEN / "debian12.cdx.xml", text, update_golden)


@pytest.mark.parametrize("report", [fx.clean_report(), fx.debian_report(), mixed_report()])
def test_every_report_validates(report: ScanReport) -> None:
    validate_json(cyclonedx.render_json(report, fx.options()))
    validate_xml(cyclonedx.render_xml(report, fx.options()))


def test_components_purls_per_ecosystem() -> None:
    doc = json.loads(cyclonedx.render_json(mixed_report(), fx.options()))
    purls = {c["name"]: c.get("purl") for c in doc["components"]}
    assert purls == {
        "rhel": None,  # the operating system
        "openssl-libs": "pkg:rpm/redhat/openssl-libs@3.0.7-16.el9_2"
        "?arch=x86_64&distro=rhel-9.2&epoch=1",
        "perl-FCGI": "pkg:rpm/redhat/perl-FCGI@0.78-11.module%2Bel9.1.0%2B16238%2B7fdea31c"
        "?arch=x86_64&distro=rhel-9.2&epoch=1"
        "&rpmmod=perl-FCGI:0.78:9010020220720113916:9edba152",
        "requests": "pkg:pypi/requests@2.31.0",
        "@babel/core": "pkg:npm/%40babel/core@7.22.5",
        "org.apache.logging.log4j:log4j-core": (
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"
        ),
        "golang.org/x/net": "pkg:golang/golang.org/x/net@v0.7.0",
    }
    by_name = {c["name"]: c for c in doc["components"]}
    props = {p["name"]: p["value"] for p in by_name["openssl-libs"]["properties"]}
    assert props["hullscan:package:source_name"] == "openssl"
    assert props["hullscan:package:vendor"] == "Red Hat, Inc."
    assert by_name["rhel"]["type"] == "operating-system" and by_name["rhel"]["version"] == "9.2"


def test_dependencies_image_os_packages() -> None:
    doc = json.loads(cyclonedx.render_json(mixed_report(), fx.options()))
    image = doc["metadata"]["component"]
    assert image["type"] == "container" and image["name"] == "app:1"
    deps = {d["ref"]: set(d.get("dependsOn", [])) for d in doc["dependencies"]}
    os_ref = "os:rhel@9.2"
    refs = {c["name"]: c["bom-ref"] for c in doc["components"]}
    assert deps[image["bom-ref"]] == {
        os_ref,
        refs["requests"],
        refs["@babel/core"],
        refs["org.apache.logging.log4j:log4j-core"],
        refs["golang.org/x/net"],
    }
    assert deps[os_ref] == {refs["openssl-libs"], refs["perl-FCGI"]}


def test_image_purl_for_registry_images() -> None:
    doc = json.loads(cyclonedx.render_json(fx.policied_report(), fx.options()))
    image = doc["metadata"]["component"]
    assert image["purl"] == (
        "pkg:oci/app@sha256:"
        + fx.digest("manifest:team/app:1.2").split(":")[1]
        + "?arch=amd64&repository_url=registry.example.com:5000/team/app&tag=1.2"
    )


def test_vulnerabilities_ratings_affects_and_analysis() -> None:
    doc = json.loads(cyclonedx.render_json(enriched_report(), fx.options()))
    vulns = {v["bom-ref"]: v for v in doc["vulnerabilities"]}
    curl = vulns["CVE-2023-38545"]
    assert [a["ref"].split("@")[0] for a in curl["affects"]] == [
        "pkg:deb/debian/curl",
        "pkg:deb/debian/libcurl4",
    ]
    assert curl["affects"][0]["versions"] == [
        {"status": "affected", "version": "7.88.1-10+deb12u3"},
        {"status": "unaffected", "version": "7.88.1-10+deb12u4"},
    ]
    assert curl["ratings"] == [
        {
            "method": "CVSSv31",
            "score": 9.8,
            "severity": "critical",
            "source": {"name": "nvd"},
            "vector": "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        }
    ]
    assert curl["cwes"] == [787]
    assert {"name": "hullscan:epss:score", "value": "0.2546"} in curl["properties"]
    # a severity of the distribution's own scale is a rating of its own
    tar = vulns["CVE-2005-2541"]
    assert {"method": "other", "severity": "info", "source": {"name": "debian"}} in tar["ratings"]
    # suppressed: still listed, with the decision
    gcc = vulns["CVE-2023-4039"]
    assert gcc["analysis"] == {
        "detail": "Suppressed by the hullscan policy rule whitelist:general",
        "response": ["will_not_fix"],
        "state": "exploitable",
    }
    assert "analysis" not in curl


@pytest.mark.parametrize(
    ("rule", "state", "justification", "responses"),
    [
        (
            "vex:vex.json:not_affected:vulnerable_code_not_in_execute_path",
            "not_affected",
            "code_not_reachable",
            [],
        ),
        ("vex:https://example.com/vex.json:fixed", "resolved", "", ["update"]),
        ("ignore-unfixed", "exploitable", "", ["can_not_fix"]),
        ("ignore:.hullscanignore.yaml:CVE-2023-4039", "exploitable", "", ["will_not_fix"]),
        ("whitelist:image:fixed-app", "exploitable", "", ["will_not_fix"]),
    ],
)
def test_analysis_of_suppression_rules(
    rule: str, state: str, justification: str, responses: list[str]
) -> None:
    assert cyclonedx.analysis_of(rule)[:3] == (state, justification, responses)


def test_split_when_packages_differ() -> None:
    report = fx.policied_report()
    first = next(f for f in report.findings if f.package.name == "libssl3")
    suppressed = replace(first, suppressed_by="ignore-unfixed")
    findings = tuple(suppressed if f is first else f for f in report.findings)
    doc = json.loads(cyclonedx.render_json(replace(report, findings=findings), fx.options()))
    refs = [v["bom-ref"] for v in doc["vulnerabilities"] if v["id"] == "CVE-2023-5678"]
    assert len(refs) == len(set(refs)) == 2


def test_deterministic_serial_number() -> None:
    first = cyclonedx.serial_number(fx.policied_report(), fx.options())
    assert first == cyclonedx.serial_number(fx.policied_report(), fx.options())
    assert first != cyclonedx.serial_number(
        fx.policied_report(), fx.options(finished_at=fx.STARTED)
    )
