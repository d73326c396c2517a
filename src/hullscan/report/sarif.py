"""SARIF 2.1.0 for GitHub code scanning (`github/codeql-action/upload-sarif`).

GitHub turns each result into an alert and each rule into the alert's description, so:

- One rule per vulnerability id (CVE-…), with a help text listing the affected packages
  of this image; `properties.security-severity` is the CVSS score GitHub sorts and
  labels alerts by (critical >= 9.0, high >= 7.0, medium >= 4.0, else low).
- One result per active finding (vulnerability, package). Suppressed findings are left
  out, as in the GitLab report: GitHub ignores SARIF `suppressions` and would show an
  accepted risk as a new open alert.
- Results are located where GitHub expects container findings, as Trivy does: the
  artifact URI is the image's repository path (`library/alpine`, `team/app`; a scanned
  archive or directory keeps its path), line 1. A logical location names the package by
  its purl. `partialFingerprints` keeps one alert per (vulnerability, package, image),
  which GitHub would otherwise merge (every result has the same file and line).
- `level`: CRITICAL and HIGH -> error, MEDIUM -> warning, anything lower -> note.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from hullscan.model import CvssScore, Finding, Layer, ScanReport, Severity
from hullscan.reference import InvalidReferenceError, parse_image_reference
from hullscan.report.base import (
    ReportOptions,
    image_name,
    layer_index,
    merged_warnings,
    printable,
    scan_window,
    sorted_findings,
    strip_shell_prefix,
)
from hullscan.report.gitlab import identifier, solution

SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
VERSION = "2.1.0"
DEFAULT_FILENAME = "hullscan.sarif"

LEVELS: dict[Severity, str] = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.NEGLIGIBLE: "note",
    Severity.UNKNOWN: "note",
}

#: security-severity of a finding without a CVSS score from its severity's source: a
#: score inside GitHub's band for the severity, so GitHub shows the severity we report
#: (Trivy's choice of values).
SEVERITY_SCORES: dict[Severity, float] = {
    Severity.CRITICAL: 9.5,
    Severity.HIGH: 8.0,
    Severity.MEDIUM: 5.5,
    Severity.LOW: 2.0,
    Severity.NEGLIGIBLE: 0.0,
    Severity.UNKNOWN: 0.0,
}

_SHORT_MAX = 120
JsonObject = dict[str, Any]


def primary_url(finding: Finding) -> str:
    """The first web reference of a finding, else the id's home (NVD, GitHub, Debian)."""
    for url in finding.urls:
        if url.startswith(("https://", "http://")):
            return url
    home = identifier(finding.vuln_id).get("url")
    return home if isinstance(home, str) else ""


def preferred_cvss(finding: Finding) -> CvssScore | None:
    """The CVSS assessment to quote: the severity's own source first, then NVD, newest
    CVSS version first; None without any."""
    if not finding.cvss:
        return None

    def rank(score: CvssScore) -> tuple[bool, bool, str]:
        return (score.source == finding.severity_source, score.source == "nvd", score.version)

    return max(finding.cvss, key=rank)


def security_severity(finding: Finding) -> float:
    """The score GitHub ranks the alert by, consistent with the severity we report.

    The CVSS base score of the source that rated the severity; for an unrated finding,
    any CVSS score (NVD first); otherwise a representative score of the severity. A
    distribution's "low" next to NVD's 9.8 stays low, as the distribution judged it
    for its build.
    """
    cvss = preferred_cvss(finding)
    if cvss is not None and (
        cvss.source == finding.severity_source or finding.severity is Severity.UNKNOWN
    ):
        return cvss.score
    return SEVERITY_SCORES[finding.severity]


def artifact_uri(report: ScanReport) -> str:
    """Where GitHub files the alerts: the image's repository path (Trivy's convention)."""
    name = image_name(report) or "image"
    artifact = report.inventory.artifact
    if name == artifact.reference and artifact.kind not in ("registry", "docker-daemon"):
        path = name.replace("\\", "/")
        return path[2:] if path.startswith("./") else path
    try:
        return parse_image_reference(name).repository
    except InvalidReferenceError:
        return name.replace("\\", "/")


def _short_description(vuln_id: str, findings: Sequence[Finding]) -> str:
    """GitHub's alert title: the first sentence of the advisory, else id and packages."""
    description = " ".join(findings[0].description.split())
    if description:
        sentence = description.split(". ")[0].rstrip(".")
        if len(sentence) > _SHORT_MAX:
            sentence = sentence[: _SHORT_MAX - 1].rstrip() + "…"
        return printable(f"{vuln_id}: {sentence}")
    names = ", ".join(dict.fromkeys(f.package.name for f in findings))
    return printable(f"{vuln_id} in {names}")


def layer_command(created_by: str) -> str:
    """The Dockerfile step of a layer as a person wrote it (`RUN apt-get …`)."""
    return strip_shell_prefix(created_by)


def _layer_label(finding: Finding, layers: dict[str, Layer]) -> str:
    layer = layers.get(finding.package.layer)
    if layer is None:
        return ""
    return f"#{layer.index + 1} {layer_command(layer.created_by)}".strip()


def _md_cell(text: str) -> str:
    return printable(" ".join(text.split())).replace("\\", "\\\\").replace("|", "\\|")


def _help(vuln_id: str, findings: Sequence[Finding], layers: dict[str, Layer]) -> JsonObject:
    first = findings[0]
    url = primary_url(first)
    lines = [f"Vulnerability {vuln_id}", f"Severity: {first.severity.name}"]
    md = [
        f"**Vulnerability {vuln_id}**" + (f" ([advisory]({url}))" if url else ""),
        "",
        "| Package | Installed | Fixed | Severity | Status | Layer |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for finding in findings:
        pkg = finding.package
        fixed = finding.fixed_version or "-"
        layer = _layer_label(finding, layers)
        lines.append(
            f"Package: {pkg.name} {pkg.version}: {solution(finding)}"
            + (f" (layer {layer})" if layer else "")
        )
        md.append(
            "| "
            + " | ".join(
                _md_cell(cell)
                for cell in (
                    pkg.name,
                    pkg.version,
                    fixed,
                    finding.severity.name,
                    finding.status.value.replace("_", " "),
                    layer or "-",
                )
            )
            + " |"
        )
    if first.description:
        lines += ["", printable(first.description)]
        md += ["", _md_cell(first.description)]
    links = [u for u in dict.fromkeys(first.urls) if u.startswith(("https://", "http://"))]
    if links:
        lines += ["", *links]
        md += ["", *(f"- <{u}>" for u in links)]
    return {"text": "\n".join(lines), "markdown": "\n".join(md)}


def _rule(vuln_id: str, findings: Sequence[Finding], layers: dict[str, Layer]) -> JsonObject:
    first = findings[0]
    worst = max(findings, key=lambda f: (f.severity, security_severity(f)))
    score = max(security_severity(f) for f in findings)
    properties: JsonObject = {
        "security-severity": f"{score:.1f}",
        "precision": "very-high",
        "tags": ["vulnerability", "security", worst.severity.name],
    }
    cvss = preferred_cvss(worst)
    if cvss is not None:
        properties["cvss"] = {
            "source": cvss.source,
            "version": cvss.version,
            "vector": cvss.vector,
            "score": cvss.score,
        }
    if first.cwes:
        properties["cwes"] = list(first.cwes)
    if first.kev_added:
        properties["kev"] = {"date_added": first.kev_added}
    if first.epss is not None:
        properties["epss"] = {"score": first.epss, "percentile": first.epss_percentile}
    full = " ".join(first.description.split()) or _short_description(vuln_id, findings)
    rule: JsonObject = {
        "id": vuln_id,
        "name": "OsPackageVulnerability"
        if first.package.type.is_os
        else "LanguageSpecificPackageVulnerability",
        "shortDescription": {"text": _short_description(vuln_id, findings)},
        "fullDescription": {"text": printable(full)},
        "defaultConfiguration": {"level": LEVELS[worst.severity]},
        "help": _help(vuln_id, findings, layers),
        "properties": properties,
    }
    url = primary_url(first)
    if url:
        rule["helpUri"] = url
    return rule


def fingerprint(finding: Finding, uri: str) -> str:
    """Stable across upgrades of the package: an alert stays one alert until it is fixed."""
    pkg = finding.package
    key = "\x1f".join((uri, finding.vuln_id, pkg.type.value, pkg.name, pkg.arch))
    return hashlib.sha256(key.encode()).hexdigest() + ":1"


def _result(finding: Finding, rule_index: int, uri: str, layers: dict[str, Layer]) -> JsonObject:
    pkg = finding.package
    advice = solution(finding)
    text = (
        f"{pkg.name} {pkg.version} is affected by {finding.vuln_id} "
        f"(severity {finding.severity.name}). {advice}{'' if advice.endswith('.') else '.'}"
    )
    layer = _layer_label(finding, layers)
    if layer:
        text += f" Installed by layer {layer}."
    location: JsonObject = {
        "physicalLocation": {
            "artifactLocation": {"uri": uri},
            "region": {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1},
        },
        "message": {"text": printable(f"{uri}: {pkg.name}@{pkg.version}")},
        "logicalLocations": [
            {
                "name": pkg.name,
                "fullyQualifiedName": pkg.purl or f"{pkg.type.value}/{pkg.name}@{pkg.version}",
                "kind": "package",
            }
        ],
    }
    properties: JsonObject = {
        "package": pkg.name,
        "installed_version": pkg.version,
        "fixed_version": finding.fixed_version or None,
        "status": finding.status.value,
        "severity": finding.severity.name,
    }
    if pkg.purl:
        properties["purl"] = pkg.purl
    if pkg.layer:
        properties["layer"] = pkg.layer
    return {
        "ruleId": finding.vuln_id,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": printable(" ".join(text.split()))},
        "locations": [location],
        "partialFingerprints": {"primaryLocationLineHash": fingerprint(finding, uri)},
        "properties": properties,
    }


def to_document(report: ScanReport, options: ReportOptions) -> JsonObject:
    """The SARIF log as JSON data: one run, rules first seen first (highest severity)."""
    started, finished = scan_window(report, options)
    uri = artifact_uri(report)
    layers = layer_index(report)
    findings = sorted_findings(report.active_findings)
    by_rule: dict[str, list[Finding]] = {}
    for finding in findings:
        by_rule.setdefault(finding.vuln_id, []).append(finding)
    rule_ids = list(by_rule)
    rules = [_rule(vuln_id, by_rule[vuln_id], layers) for vuln_id in rule_ids]
    index = {vuln_id: i for i, vuln_id in enumerate(rule_ids)}
    artifact = report.inventory.artifact
    invocation: JsonObject = {
        "executionSuccessful": True,
        "startTimeUtc": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "endTimeUtc": finished.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    warnings = merged_warnings(report)
    if warnings:
        invocation["toolExecutionNotifications"] = [
            {"level": "warning", "message": {"text": printable(w)}} for w in warnings
        ]
    run: JsonObject = {
        "tool": {
            "driver": {
                "name": options.scanner_name,
                "fullName": f"{options.scanner_name} container image vulnerability scanner",
                "version": options.scanner_version,
                "semanticVersion": options.scanner_version,
                "rules": rules,
            }
        },
        "invocations": [invocation],
        "results": [_result(f, index[f.vuln_id], uri, layers) for f in findings],
        "columnKind": "utf16CodeUnits",
        "properties": {
            "imageName": image_name(report),
            "imageID": artifact.image_id or None,
            "manifestDigest": artifact.manifest_digest or None,
            "repoTags": list(artifact.repo_tags),
            "platform": artifact.platform or None,
            "suppressedFindings": len(report.findings) - len(findings),
        },
    }
    return {"version": VERSION, "$schema": SCHEMA_URI, "runs": [run]}


def render(report: ScanReport, options: ReportOptions) -> str:
    """The SARIF text; suppressed findings are left out (see the module docstring)."""
    return json.dumps(to_document(report, options), indent=2, ensure_ascii=False) + "\n"
