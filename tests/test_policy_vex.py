"""VEX: OpenVEX and CycloneDX VEX documents, from Trivy's tests and Ubuntu's feed."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from hullscan.errors import PolicyError
from hullscan.model import (
    ArtifactInfo,
    Distro,
    Finding,
    FixStatus,
    Inventory,
    Package,
    PackageType,
    ScanReport,
    Severity,
)
from hullscan.policy import (
    Policy,
    VexDocument,
    VexStatus,
    apply_policy,
    failing_findings,
    load_vex,
    parse_ignore_yaml,
    parse_vex,
    policy_outcome,
)
from hullscan.report import table
from tests.report import fixtures as fx

TRIVY = Path(__file__).parent / "policy" / "trivy"
TRIVY_GOLDEN = "golden/aquasecurity__trivy/integration/testdata"
UBUNTU_VEX = (
    "advisories/ubuntu/anchore__vunnel/tests/unit/providers/ubuntu/test-fixtures/vex/cve/2023/"
    "CVE-2023-38545.json"
)


@pytest.fixture(scope="module")
def openvex_schema(shared_schemas: Path) -> jsonschema.Draft202012Validator:
    schema = json.loads((shared_schemas / "openvex" / "openvex_json_schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


def schema_errors(validator: jsonschema.Draft202012Validator, path: Path) -> list[str]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    return sorted(e.message for e in validator.iter_errors(doc))


def image_report(
    reference: str,
    packages: tuple[Package, ...],
    findings: tuple[Finding, ...],
    distro: Distro | None = None,
    manifest_digest: str = "",
) -> ScanReport:
    artifact = ArtifactInfo(
        reference=reference,
        kind="registry",
        manifest_digest=manifest_digest,
        image_id=fx.digest("config"),
        repo_tags=(reference,),
        platform="linux/amd64",
    )
    return ScanReport(Inventory(artifact, distro, packages), findings, db=None)


def vuln(vuln_id: str, pkg: Package, aliases: tuple[str, ...] = ()) -> Finding:
    return Finding(vuln_id, pkg, FixStatus.FIXED, Severity.HIGH, "nvd", "", "9", aliases=aliases)


def suppressed(report: ScanReport, policy: Policy, image_ref: str) -> list[str]:
    return [f.suppressed_by for f in apply_policy(report, policy, image_ref).findings]


# --- OpenVEX: Trivy's fixtures -------------------------------------------------------------


def test_gomod_fixture_suppresses_opa_as_in_trivys_gomod_vex_golden(shared_data: Path) -> None:
    """fixtures/vex/file/openvex.json on the gomod project: gomod.json.golden lists
    CVE-2022-23628 in opa, gomod-vex.json.golden does not; the rest stays."""
    golden = json.loads((shared_data / TRIVY_GOLDEN / "gomod.json.golden").read_text())
    root = Package(
        "github.com/testdata/testdata",
        "",
        PackageType.GOLANG,
        purl="pkg:golang/github.com/testdata/testdata",
    )
    packages, findings = [root], []
    for result in golden["Results"]:
        for v in result.get("Vulnerabilities", []):
            pkg = Package(
                v["PkgName"],
                v["InstalledVersion"],
                PackageType.GOLANG,
                purl=v["PkgIdentifier"]["PURL"],
                paths=(result["Target"],),
            )
            packages.append(pkg)
            findings.append(vuln(v["VulnerabilityID"], pkg))
    report = image_report("testdata:latest", tuple(packages), tuple(findings))
    doc = load_vex(shared_data / TRIVY_GOLDEN / "fixtures/vex/file/openvex.json")
    result = apply_policy(report, Policy(vex=(doc,)), "testdata:latest")
    rule = (
        "vex:aquasecurity/trivy:613fd55abbc2857b5ca28b07a26f3cd4c8b0ddc4c8a97c57497a2d4c4880d7fc"
        ":not_affected:vulnerable_code_not_in_execute_path"
    )
    got = {
        (f.vuln_id, f.package.name, f.package.paths[0]): f.suppressed_by for f in result.findings
    }
    expected_golden = json.loads((shared_data / TRIVY_GOLDEN / "gomod-vex.json.golden").read_text())
    kept = {
        (v["VulnerabilityID"], v["PkgName"], r["Target"])
        for r in expected_golden["Results"]
        for v in r.get("Vulnerabilities", [])
    }
    assert {k for k, v in got.items() if not v} == kept
    assert {k: v for k, v in got.items() if v} == {
        ("CVE-2022-23628", "github.com/open-policy-agent/opa", "go.mod"): rule
    }
    # the statement is about opa *inside* testdata: without that product in the image, no match
    alone = replace(report, inventory=replace(report.inventory, packages=tuple(packages[1:])))
    assert all(not r for r in suppressed(alone, Policy(vex=(doc,)), "testdata:latest"))


BASH = Package(
    "bash",
    "5.1-2+deb11u1",
    PackageType.DEB,
    arch="amd64",
    source_name="bash",
    purl="pkg:deb/debian/bash@5.1-2%2Bdeb11u1?arch=amd64&distro=debian-11.5",
)
DEBIAN_11 = Distro("debian", "11.5", "bullseye")


@pytest.mark.parametrize(
    ("fixture", "reference", "expected"),
    [
        ("openvex-oci.json", "debian:11", True),
        ("openvex-oci.json", "docker.io/library/debian:bookworm", True),
        ("openvex-oci.json", "ghcr.io/someone/debian:11", True),  # pkg:oci names no registry
        ("openvex-oci.json", "registry:5000/ubuntu:22.04", False),
        ("openvex-oci-mismatch.json", "debian:11", False),
    ],
)
def test_oci_product_with_subcomponent(fixture: str, reference: str, expected: bool) -> None:
    report = image_report(reference, (BASH,), (vuln("CVE-2022-3715", BASH),), DEBIAN_11)
    doc = load_vex(TRIVY / fixture)
    assert doc.doc_id == ""  # no @id: rules are named after the file
    rule = f"vex:{TRIVY / fixture}:not_affected:vulnerable_code_not_in_execute_path"
    assert suppressed(report, Policy(vex=(doc,)), reference) == [rule if expected else ""]


def test_latest_statement_wins() -> None:
    """openvex-multiple.json: `affected` stamped 2023-01-15, then `not_affected` inheriting
    the document's 2023-01-16: the later one decides."""
    doc = load_vex(TRIVY / "openvex-multiple.json")
    assert [s.status for s in doc.statements] == [VexStatus.AFFECTED, VexStatus.NOT_AFFECTED]
    boot = Package(
        "org.springframework.boot:spring-boot",
        "2.6.0",
        PackageType.MAVEN,
        purl="pkg:maven/org.springframework.boot/spring-boot@2.6.0",
    )
    report = image_report("app:1", (boot,), (vuln("CVE-2021-44228", boot),))
    rule = f"vex:{doc.source}:not_affected:vulnerable_code_not_in_execute_path"
    assert suppressed(report, Policy(vex=(doc,)), "app:1") == [rule]
    # swap the timestamps: the newer statement now says affected, and the finding stays
    data = json.loads((TRIVY / "openvex-multiple.json").read_text())
    data["statements"][0]["timestamp"] = "2023-02-01T00:00:00Z"
    newer = parse_vex(json.dumps(data), "swapped.json")
    assert suppressed(report, Policy(vex=(newer,)), "app:1") == [""]
    # across documents: the later --vex breaks a tie
    affected = parse_vex(json.dumps({**data, "statements": data["statements"][:1]}), "a.json")
    assert suppressed(report, Policy(vex=(doc, affected)), "app:1") == [""]


# --- OpenVEX: Ubuntu's feed ----------------------------------------------------------------


def ubuntu_curl(version: str, release: str, codename: str, arch: str = "amd64") -> ScanReport:
    pkgs = tuple(
        Package(
            name,
            version,
            PackageType.DEB,
            arch=arch,
            source_name="curl",
            source_version=version,
            purl=f"pkg:deb/ubuntu/{name}@{version}?arch={arch}&distro=ubuntu-{release}",
        )
        for name in ("curl", "libcurl4")
    )
    findings = tuple(vuln("CVE-2023-38545", p, aliases=("USN-6429-1",)) for p in pkgs)
    return image_report("ubuntu:" + release, pkgs, findings, Distro("ubuntu", release, codename))


def test_ubuntu_vex_validates_against_the_openvex_schema(
    shared_data: Path, openvex_schema: jsonschema.Draft202012Validator
) -> None:
    assert schema_errors(openvex_schema, shared_data / UBUNTU_VEX) == []
    doc = load_vex(shared_data / UBUNTU_VEX)
    assert doc.format == "openvex" and len(doc.statements) == 3
    assert doc.name == (
        "https://github.com/canonical/ubuntu-security-notices/blob/main/vex/cve/2023/CVE-2023-38545"
    )


FIXED = "fixed"
NOT_PRESENT = "not_affected:vulnerable_code_not_present"


@pytest.mark.parametrize(
    ("version", "release", "codename", "rules"),
    [
        # `fixed` for these exact jammy versions (distro=jammy matches ubuntu-22.04)
        ("7.81.0-1ubuntu1.24", "22.04", "jammy", [FIXED, FIXED]),
        # an older jammy version is not what the statement lists
        ("7.81.0-1ubuntu1.13", "22.04", "jammy", ["", ""]),
        # the jammy version on noble: distro=jammy does not name noble
        ("7.81.0-1ubuntu1.24", "24.04", "noble", ["", ""]),
        # xenial: `affected` (end of standard support): kept
        ("7.47.0-1ubuntu2.19", "16.04", "xenial", ["", ""]),
        # xenial ESM: `not_affected` lists the curl binary and the curl source package
        # (arch=source), which covers libcurl4 built from it; esm-infra/xenial names xenial
        ("7.47.0-1ubuntu2.19+esm15", "16.04", "xenial", [NOT_PRESENT, NOT_PRESENT]),
        ("7.68.0-1ubuntu2.25+esm3", "20.04", "focal", [NOT_PRESENT, NOT_PRESENT]),
    ],
)
def test_ubuntu_statements(
    shared_data: Path, version: str, release: str, codename: str, rules: list[str]
) -> None:
    doc = load_vex(shared_data / UBUNTU_VEX)
    report = ubuntu_curl(version, release, codename)
    expected = [f"vex:{doc.name}:{rule}" if rule else "" for rule in rules]
    assert suppressed(report, Policy(vex=(doc,)), "ubuntu:" + release) == expected


def test_source_package_statements_cover_their_binaries() -> None:
    doc = parse_vex(
        json.dumps(
            openvex(
                [
                    statement(
                        "CVE-2023-38545",
                        "pkg:deb/ubuntu/curl@7.81.0-1ubuntu1.24?arch=source&distro=jammy",
                        status="fixed",
                    )
                ]
            )
        ),
        "src.json",
    )
    report = ubuntu_curl("7.81.0-1ubuntu1.24", "22.04", "jammy", arch="arm64")
    assert suppressed(report, Policy(vex=(doc,)), "ubuntu:22.04") == ["vex:x:fixed"] * 2


# --- hand-written documents: product matching ----------------------------------------------


def openvex(statements: list[dict[str, Any]], doc_id: str = "x") -> dict[str, Any]:
    return {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": doc_id,
        "author": "Team",
        "timestamp": "2024-01-10T00:00:00Z",
        "version": 1,
        "statements": statements,
    }


def statement(
    vuln_id: str,
    *products: str | dict[str, Any],
    status: str = "not_affected",
    justification: str = "component_not_present",
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "vulnerability": {"name": vuln_id},
        "products": [p if isinstance(p, dict) else {"@id": p} for p in products],
        "status": status,
    }
    if status == "not_affected":
        item["justification"] = justification
    if status == "affected":
        item["action_statement"] = "upgrade"
    return item


def debian_vex(
    *products: str | dict[str, Any], vuln_id: str = "CVE-2023-5678", status: str = "not_affected"
) -> list[str]:
    """suppressed_by of libssl3 and openssl (both CVE-2023-5678) in the Debian fixture."""
    doc = parse_vex(json.dumps(openvex([statement(vuln_id, *products, status=status)])), "d.json")
    report = replace(
        fx.debian_report(),
        inventory=replace(
            fx.debian_inventory(),
            artifact=replace(fx.debian_inventory().artifact, manifest_digest="sha256:" + "ab" * 32),
        ),
    )
    result = apply_policy(report, Policy(vex=(doc,)), fx.REFERENCE)
    return [f.suppressed_by for f in result.findings if f.vuln_id == "CVE-2023-5678"]


NA = "vex:x:not_affected:component_not_present"


@pytest.mark.parametrize(
    ("products", "expected"),
    [
        # purls: no version = all versions; qualifiers must be present with equal values
        (("pkg:deb/debian/libssl3",), [NA, ""]),
        (("pkg:deb/debian/libssl3@3.0.11-1~deb12u1",), [NA, ""]),
        (("pkg:deb/debian/libssl3@3.0.11-1%7Edeb12u1",), [NA, ""]),  # escapes decoded
        (("pkg:deb/debian/libssl3@3.0.11-1~deb12u2",), ["", ""]),
        (("pkg:deb/debian/libssl3?arch=amd64",), [NA, ""]),
        (("pkg:deb/debian/libssl3?arch=i386",), ["", ""]),
        (("pkg:deb/debian/libssl3?distro=bookworm",), [NA, ""]),
        (("pkg:deb/debian/libssl3?distro=debian-11",), ["", ""]),
        (("pkg:deb/ubuntu/libssl3",), ["", ""]),
        (({"identifiers": {"purl": "pkg:deb/debian/openssl"}},), ["", NA]),
        (("pkg:deb/debian/openssl?arch=source",), [NA, NA]),  # the source covers both
        # the image: by name, by pkg:oci, by digest: every finding of the vulnerability
        (("registry.example.com:5000/team/app",), [NA, NA]),
        (("team/app:1.2",), [NA, NA]),
        (("team/app:1.3",), ["", ""]),
        (("pkg:oci/app",), [NA, NA]),
        (("pkg:oci/app?repository_url=registry.example.com:5000/team/app",), [NA, NA]),
        (("pkg:oci/app?repository_url=https://registry.example.com:5000/team/app/",), [NA, NA]),
        (("pkg:oci/app?repository_url=registry.example.com:5000/other/app",), ["", ""]),
        (("pkg:oci/app?tag=1.2&arch=amd64",), [NA, NA]),
        (("pkg:oci/app?arch=arm64",), ["", ""]),
        (("pkg:oci/app@sha256%3A" + "ab" * 32,), [NA, NA]),
        (("pkg:oci/app@sha256%3A" + "cd" * 32,), ["", ""]),
        (("sha256:" + "ab" * 32,), [NA, NA]),
        (({"@id": "https://example.com/app", "hashes": {"sha-256": "ab" * 32}},), [NA, NA]),
        (("https://example.com/products/app",), ["", ""]),
        # image + subcomponent: only that package in that image
        (({"@id": "team/app", "subcomponents": [{"@id": "pkg:deb/debian/openssl"}]},), ["", NA]),
        (({"@id": "alpine", "subcomponents": [{"@id": "pkg:deb/debian/openssl"}]},), ["", ""]),
        # a package of the image as the product, the vulnerable one as its subcomponent
        (
            ({"@id": "pkg:deb/debian/curl", "subcomponents": [{"@id": "pkg:deb/debian/libssl3"}]},),
            [NA, ""],
        ),
        (
            (
                {
                    "@id": "pkg:deb/debian/nginx",
                    "subcomponents": [{"@id": "pkg:deb/debian/libssl3"}],
                },
            ),
            ["", ""],
        ),
    ],
)
def test_product_matching(products: tuple[str | dict[str, Any], ...], expected: list[str]) -> None:
    assert debian_vex(*products) == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("not_affected", [NA, NA]),
        ("fixed", ["vex:x:fixed", "vex:x:fixed"]),
        ("affected", ["", ""]),
        ("under_investigation", ["", ""]),
    ],
)
def test_statuses(status: str, expected: list[str]) -> None:
    assert debian_vex("team/app", status=status) == expected


def test_vulnerability_aliases_and_at_id() -> None:
    doc = openvex(
        [
            {
                "vulnerability": {
                    "@id": "https://nvd.nist.gov/vuln/detail/CVE-2023-4911",
                    "name": "GHSA-xxxx",
                    "aliases": ["cve-2023-4911"],
                },
                "products": [{"@id": "pkg:deb/debian/libc6"}],
                "status": "fixed",
            }
        ]
    )
    result = apply_policy(fx.debian_report(), Policy(vex=(parse_vex(json.dumps(doc), "v"),)), "x")
    assert [f.suppressed_by for f in result.findings if f.suppressed] == ["vex:x:fixed"]


def test_vex_comes_before_ignore_files_and_never_overrides_earlier_rules() -> None:
    doc = parse_vex(
        json.dumps(openvex([statement("CVE-2023-5678", "pkg:deb/debian/libssl3")])), "v.json"
    )
    ignore = parse_ignore_yaml("ignore:\n- id: CVE-2023-5678\n  reason: r\n", "i.yaml")
    result = apply_policy(fx.debian_report(), Policy(vex=(doc,), ignore_files=(ignore,)), "x")
    got = {f.package.name: f.suppressed_by for f in result.findings if f.vuln_id == "CVE-2023-5678"}
    assert got == {"libssl3": NA, "openssl": "ignore:i.yaml:CVE-2023-5678"}
    outcome = policy_outcome(result)
    assert outcome is not None
    info = outcome.rule(NA)
    assert info is not None and (info.kind, info.source) == ("vex", "v.json")
    assert info.reason == "component_not_present"


# --- CycloneDX VEX -------------------------------------------------------------------------


def test_cyclonedx_fixture() -> None:
    doc = load_vex(TRIVY / "cyclonedx.json")
    assert doc.format == "cyclonedx" and [s.vulnerability for s in doc.statements] == [
        "CVE-2018-7489",
        "CVE-2022-27943",
    ]
    jackson = Package(
        "com.fasterxml.jackson.core:jackson-databind",
        "2.8.0",
        PackageType.MAVEN,
        purl="pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.8.0",
    )
    libstdcpp = Package(
        "libstdc++6",
        "12.3.0-1ubuntu1~22.04",
        PackageType.DEB,
        arch="amd64",
        purl="pkg:deb/ubuntu/libstdc%2B%2B6@12.3.0-1ubuntu1~22.04?arch=amd64&distro=ubuntu-22.04",
    )
    newer = replace(
        libstdcpp,
        version="12.3.0-1ubuntu1~22.04.1",
        purl="pkg:deb/ubuntu/libstdc%2B%2B6@12.3.0-1ubuntu1~22.04.1?arch=amd64&distro=ubuntu-22.04",
    )
    report = image_report(
        "app:1",
        (jackson, libstdcpp, newer),
        (
            vuln("CVE-2018-7489", jackson),
            vuln("CVE-2022-27943", libstdcpp),
            vuln("CVE-2022-27943", newer),
            vuln(
                "CVE-2018-7489",
                replace(
                    jackson,
                    version="2.9.0",
                    purl="pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.9.0",
                ),
            ),
        ),
        Distro("ubuntu", "22.04", "jammy"),
    )
    assert suppressed(report, Policy(vex=(doc,)), "app:1") == [
        f"vex:{doc.source}:not_affected:code_not_reachable",
        f"vex:{doc.source}:not_affected",
        "",  # affects[].versions lists only 12.3.0-1ubuntu1~22.04
        "",  # the BOM-Link names jackson-databind 2.8.0
    ]


def cdx(state: str, ref: str = "pkg:deb/debian/libssl3", **analysis: Any) -> dict[str, Any]:
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        "version": 1,
        "metadata": {
            "timestamp": "2024-01-10T00:00:00Z",
            "component": {
                "bom-ref": "app",
                "name": "app",
                "type": "container",
                "purl": "pkg:oci/app?repository_url=registry.example.com:5000/team/app",
            },
        },
        "components": [
            {
                "bom-ref": "ssl",
                "type": "library",
                "name": "libssl3",
                "purl": "pkg:deb/debian/libssl3@3.0.11-1~deb12u1",
            }
        ],
        "vulnerabilities": [
            {
                "id": "GHSA-0000",
                "references": [{"id": "CVE-2023-5678", "source": {"name": "NVD"}}],
                "analysis": {"state": state, **analysis},
                "affects": [{"ref": ref}],
            }
        ],
    }


@pytest.mark.parametrize(
    ("state", "ref", "expected"),
    [
        ("not_affected", "pkg:deb/debian/libssl3", "not_affected"),
        ("false_positive", "pkg:deb/debian/libssl3", "false_positive"),
        ("resolved", "pkg:deb/debian/libssl3", "resolved"),
        ("resolved_with_pedigree", "pkg:deb/debian/libssl3", "resolved_with_pedigree"),
        ("exploitable", "pkg:deb/debian/libssl3", ""),
        ("in_triage", "pkg:deb/debian/libssl3", ""),
        ("not_affected", "ssl", "not_affected"),  # bom-ref of a component of the document
        ("not_affected", "urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#ssl", "not_affected"),
        ("not_affected", "nope", ""),
    ],
)
def test_cyclonedx_states_and_refs(state: str, ref: str, expected: str) -> None:
    doc = parse_vex(json.dumps(cdx(state, ref)), "c.json")
    assert doc.name == "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79"
    result = apply_policy(fx.debian_report(), Policy(vex=(doc,)), fx.REFERENCE)
    libssl = next(f for f in result.findings if f.package.name == "libssl3")
    assert libssl.suppressed_by == (f"vex:{doc.name}:{expected}" if expected else "")


def test_cyclonedx_image_ref_covers_every_package() -> None:
    doc = parse_vex(
        json.dumps(
            cdx(
                "not_affected",
                "app",
                justification="requires_environment",
                detail="no DH in our TLS setup",
            )
        ),
        "c.json",
    )
    result = apply_policy(fx.debian_report(), Policy(vex=(doc,)), fx.REFERENCE)
    rule = f"vex:{doc.name}:not_affected:requires_environment"
    assert {f.package.name for f in result.findings if f.suppressed_by == rule} == {
        "libssl3",
        "openssl",
    }
    outcome = policy_outcome(result)
    assert outcome is not None
    info = outcome.rule(rule)
    assert info is not None and info.reason == "no DH in our TLS setup"


# --- validation ----------------------------------------------------------------------------


def test_trivy_fixtures_and_schema(
    openvex_schema: jsonschema.Draft202012Validator, shared_data: Path
) -> None:
    """Trivy's own OpenVEX test files are not schema-valid (no @id, a vulnerability named
    only by @id); hullscan reads them anyway, as Trivy does, checking what it uses."""
    assert "'@id' is a required property" in schema_errors(
        openvex_schema, TRIVY / "openvex-oci.json"
    )
    gomod = shared_data / TRIVY_GOLDEN / "fixtures/vex/file/openvex.json"
    assert "'name' is a required property" in schema_errors(openvex_schema, gomod)
    assert load_vex(gomod).statements[0].ids == frozenset({"CVE-2022-23628"})
    generated = openvex(
        [
            statement("CVE-1", "pkg:deb/debian/x"),
            statement("CVE-2", "alpine", status="affected"),
            statement("CVE-3", "alpine", status="fixed"),
        ]
    )
    assert list(openvex_schema.iter_errors(generated)) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(statements="x"), r"v\.json: statements must be a list"),
        (
            lambda d: d["statements"][0].update(status="unknown"),
            r"v\.json: statement 1 \(CVE-1\): status 'unknown' is not one of not_affected, ",
        ),
        (
            lambda d: d["statements"][0].pop("justification"),
            r"statement 1 \(CVE-1\): not_affected needs a justification or an impact_statement",
        ),
        (
            lambda d: d["statements"][0].update(justification="because"),
            r"justification 'because' is not one of component_not_present",
        ),
        (
            lambda d: d["statements"][0].update(vulnerability={"description": "x"}),
            r"statement 1: the vulnerability has neither 'name' nor '@id'",
        ),
        (
            lambda d: d["statements"][0].update(vulnerability=["CVE-1"]),
            r"statement 1: 'vulnerability' must be an object",
        ),
        (lambda d: d["statements"][0].update(products=[]), r"\(CVE-1\): no products"),
        (
            lambda d: d["statements"][0].update(products=[{"hashes": []}]),
            r"statement 1: product 1: hashes must be an object",
        ),
        (
            lambda d: d["statements"][0].update(products=[{"supplier": "me"}]),
            r"statement 1: product 1 has neither '@id' nor 'identifiers'",
        ),
        (
            lambda d: d["statements"][0].update(timestamp="yesterday"),
            r"statement 1: timestamp 'yesterday' is not RFC 3339",
        ),
        (lambda d: d.update(timestamp=20240101), r"document: timestamp 20240101 is not text"),
    ],
)
def test_malformed_openvex(change: Any, message: str) -> None:
    doc = openvex([statement("CVE-1", "pkg:deb/debian/x")])
    change(doc)
    with pytest.raises(PolicyError, match=message):
        parse_vex(json.dumps(doc), "v.json")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["vulnerabilities"][0]["analysis"].update(state="safe"),
            r"c\.json: vulnerability 1 \(GHSA-0000\): analysis state 'safe' is not one of",
        ),
        (
            lambda d: d["vulnerabilities"][0]["analysis"].update(justification="trust me"),
            r"justification 'trust me' is not one of code_not_present",
        ),
        (lambda d: d["vulnerabilities"][0].update(affects=[]), r"no 'affects'"),
        (
            lambda d: d["vulnerabilities"][0].update(affects=[{"ref": ""}]),
            r"affects 1: ref must be a non-empty string",
        ),
        (lambda d: d["vulnerabilities"][0].pop("id"), r"vulnerability 1: id must be a non-empty"),
        (
            lambda d: d["vulnerabilities"][0].update(analysis={"detail": "x"}),
            r"analysis needs a 'state'",
        ),
    ],
)
def test_malformed_cyclonedx(change: Any, message: str) -> None:
    doc = cdx("not_affected")
    change(doc)
    with pytest.raises(PolicyError, match=message):
        parse_vex(json.dumps(doc), "c.json")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", r"v\.json: not JSON \(line 1, column 2\)"),
        ("[]", r"v\.json: a VEX document is a JSON object"),
        ('{"document": {"csaf_version": "2.0"}}', r"CSAF VEX is not supported"),
        ('{"bomFormat": "SPDX"}', r"not a VEX document hullscan reads"),
    ],
)
def test_not_vex(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_vex(text, "v.json")


def test_unreadable_vex(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"cannot read VEX document .*missing\.json"):
        load_vex(tmp_path / "missing.json")


def test_cyclonedx_without_analysis_is_not_a_statement() -> None:
    doc = cdx("not_affected")
    del doc["vulnerabilities"][0]["analysis"]
    assert parse_vex(json.dumps(doc), "c.json").statements == ()


def test_suppressed_by_vex_never_fails_the_gate() -> None:
    policy = Policy(
        fail_on=Severity.CRITICAL,
        vex=(
            parse_vex(
                json.dumps(
                    openvex(
                        [
                            statement(
                                "CVE-2023-38545",
                                "pkg:deb/debian/curl",
                                "pkg:deb/debian/libcurl4",
                                status="fixed",
                            )
                        ]
                    )
                ),
                "v.json",
            ),
        ),
    )
    result = apply_policy(fx.debian_report(), policy, fx.REFERENCE)
    failing = [f.finding.package.name for f in failing_findings(result, policy)]
    assert failing == ["zlib1g"]  # curl's CVE-2023-38545 is fixed per VEX; zlib's is not
    assert isinstance(policy.vex[0], VexDocument)


def test_full_policy_is_idempotent_hashable_and_shown_in_the_table() -> None:
    doc = parse_vex(
        json.dumps(openvex([statement("CVE-2023-5678", "pkg:deb/debian/libssl3")])), "v.json"
    )
    ignore = parse_ignore_yaml(
        "ignore:\n- id: CVE-2023-38545\n  reason: r\n  expires: 2023-12-31\n"
        "- id: CVE-2023-4911\n  reason: r\n",
        "i.yaml",
    )
    policy = Policy(fail_on=Severity.HIGH, vex=(doc,), ignore_files=(ignore,), ignore_unfixed=True)
    assert hash(policy) == hash(replace(policy))
    base = replace(fx.debian_report(), meta={"started_at": "2024-01-16T09:30:00Z"})
    once = apply_policy(base, policy, fx.REFERENCE)
    twice = apply_policy(once, policy, fx.REFERENCE)
    assert twice.findings == once.findings and twice.warnings == once.warnings
    assert len(once.warnings) == 1
    first, second = policy_outcome(once), policy_outcome(twice)
    assert first is not None and second is not None and first.rules == second.rules
    assert [r.kind for r in first.rules] == ["ignore-unfixed", "ignore", "vex"]
    text = table.render(once, fx.options(show_suppressed=True, width=220))
    assert "vex:x:not_affected:component_not_present" in text
    assert "ignore:i.yaml:CVE-2023-4911" in text
