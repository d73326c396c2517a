"""clair-scanner's JSON report (`clair-scanner -r FILE`), for scripts migrating from it.

The shape is clair-scanner's `vulnerabilityReport` (github.com/arminc/clair-scanner,
reporter.go and clair.go), with its four-space indentation:

    {"image": "...", "unapproved": ["CVE-..."],
     "vulnerabilities": [{"featurename", "featureversion", "vulnerability", "namespace",
                          "description", "link", "severity", "fixedby"}]}

- `vulnerabilities`: every finding, suppressed ones included, as clair-scanner lists
  whitelisted ones too. `featurename`/`featureversion` are the binary package and its
  installed version (Clair v2 named Debian features after the source package; the binary
  is what an upgrade installs and what every other hullscan report names).
- `unapproved`: the ids of the active findings that fail the gate (`--threshold` /
  `--fail-on`, and the KEV/EPSS/fixable thresholds), each once, highest severity first;
  without any threshold every active finding, like clair-scanner's default "Unknown".
- `severity`: Clair's names (Unknown, Negligible, Low, Medium, High, Critical).
  `namespace` is hullscan's (`debian:12`, `alpine:3.19`); Clair v2 wrote `alpine:v3.19`.
"""

from __future__ import annotations

import json
from typing import Any

from hullscan.model import Finding, ScanReport, Severity
from hullscan.report.base import ReportOptions, image_name, sorted_findings
from hullscan.report.junit import gate_view
from hullscan.report.sarif import primary_url

DEFAULT_FILENAME = "clair-scanner-report.json"

#: our severity -> clair's name (Severity.label: Critical, High, …)
SEVERITIES: dict[Severity, str] = {s: s.label for s in Severity}

JsonObject = dict[str, Any]


def _vulnerability(finding: Finding) -> JsonObject:
    return {
        "featurename": finding.package.name,
        "featureversion": finding.installed_version,
        "vulnerability": finding.vuln_id,
        "namespace": finding.namespace,
        "description": finding.description,
        "link": primary_url(finding),
        "severity": SEVERITIES[finding.severity],
        "fixedby": finding.fixed_version,
    }


def to_document(report: ScanReport, options: ReportOptions) -> JsonObject:
    """clair-scanner's report as JSON data."""
    view = gate_view(report)
    findings = sorted_findings(report.findings)
    unapproved = dict.fromkeys(f.vuln_id for f in findings if view.fails(f))
    return {
        "image": image_name(report),
        "unapproved": list(unapproved),
        "vulnerabilities": [_vulnerability(f) for f in findings],
    }


def render(report: ScanReport, options: ReportOptions) -> str:
    """The report text, indented like clair-scanner's (four spaces)."""
    return json.dumps(to_document(report, options), indent=4, ensure_ascii=False) + "\n"
