"""GitLab container-scanning report (schema 15.0.7), `gl-container-scanning-report.json`.

GitLab shows these findings in merge requests and the vulnerability report and applies
its own approval rules, so only active findings go in: a finding the team suppressed
(whitelist, ignore-unfixed, VEX) must not reappear there as a new vulnerability.

Choices, documented in docs/json-report.md too:
- `id` is a UUIDv5 of vulnerability id, package (type, name, arch), installed version
  and image, so the same finding keeps its id across runs.
- Severity: ours map one to one, except NEGLIGIBLE -> "Info". GitLab ranks Info below
  Low, so the order of the scale is kept and "unimportant" Debian issues do not count
  as Low in GitLab's severity filters and approval rules.
- `location.operating_system` is the advisory namespace (`debian:12`), like GitLab's
  own examples; `image` is the scanned reference.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from hullscan.distros import namespace_of
from hullscan.model import Finding, FixStatus, ScanReport, Severity
from hullscan.report.base import (
    ReportOptions,
    image_name,
    merged_warnings,
    scan_window,
    sorted_findings,
)

SCHEMA_VERSION = "15.0.7"
DEFAULT_FILENAME = "gl-container-scanning-report.json"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"

# Fixed namespace for finding ids: changing it changes every id GitLab has seen.
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:hullscan:gitlab-container-scanning")

GITLAB_SEVERITY: dict[Severity, str] = {
    Severity.CRITICAL: "Critical",
    Severity.HIGH: "High",
    Severity.MEDIUM: "Medium",
    Severity.LOW: "Low",
    Severity.NEGLIGIBLE: "Info",
    Severity.UNKNOWN: "Unknown",
}

_URL_RE = re.compile(r"^(https?|ftp)://.+")
_NAME_MAX = 255
_SOLUTION_MAX = 7000
_DESCRIPTION_MAX = 1048576

_NO_FIX_SOLUTIONS: dict[FixStatus, str] = {
    FixStatus.AFFECTED: "No fix is available yet.",
    FixStatus.WILL_NOT_FIX: "No fix: the vendor will not fix this in this release.",
    FixStatus.FIX_DEFERRED: "No fix yet: the vendor has postponed the fix.",
    FixStatus.END_OF_LIFE: (
        "No fix: this release is no longer supported for this package; move to a supported release."
    ),
    FixStatus.UNDER_INVESTIGATION: "No fix yet: the vendor is investigating.",
}

JsonObject = dict[str, Any]


def finding_id(finding: Finding, image: str) -> str:
    """Stable UUID of a finding in an image."""
    pkg = finding.package
    key = "\x1f".join((finding.vuln_id, pkg.type.value, pkg.name, pkg.arch, pkg.version, image))
    return str(uuid.uuid5(ID_NAMESPACE, key))


def identifier(vuln_id: str) -> JsonObject:
    """A GitLab identifier; the type is the id's scheme (cve, ghsa, temp, ...)."""
    upper = vuln_id.upper()
    scheme = upper.split("-", 1)[0].lower() if "-" in upper else "id"
    ident: JsonObject = {"type": scheme or "id", "name": vuln_id, "value": vuln_id}
    url = None
    if upper.startswith("CVE-"):
        url = f"https://nvd.nist.gov/vuln/detail/{upper}"
    elif upper.startswith("GHSA-"):
        url = f"https://github.com/advisories/{vuln_id}"
    elif upper.startswith(("DSA-", "DLA-", "TEMP-")):
        url = f"https://security-tracker.debian.org/tracker/{vuln_id}"
    if url:
        ident["url"] = url
    return ident


def solution(finding: Finding) -> str:
    if finding.fixed_version:
        return f"Upgrade {finding.package.name} to {finding.fixed_version}"
    return _NO_FIX_SOLUTIONS.get(finding.status, "No fix is available yet.")


def operating_system(report: ScanReport) -> str:
    distro = report.inventory.distro
    if distro is None:
        return "unknown"
    namespace = namespace_of(distro)
    if namespace:
        return namespace
    release = distro.version_id or distro.channel or distro.codename
    return f"{distro.id}:{release}" if release else distro.id


def _links(urls: tuple[str, ...]) -> list[JsonObject]:
    seen: dict[str, None] = {}
    for url in urls:
        if _URL_RE.match(url):
            seen.setdefault(url, None)
    return [{"url": url} for url in seen]


def _vulnerability(finding: Finding, image: str, os_name: str) -> JsonObject:
    identifiers = [identifier(finding.vuln_id)]
    for alias in finding.aliases:
        if alias != finding.vuln_id:
            identifiers.append(identifier(alias))
    vuln: JsonObject = {
        "id": finding_id(finding, image),
        "name": finding.vuln_id[:_NAME_MAX],
    }
    if finding.description:
        vuln["description"] = finding.description[:_DESCRIPTION_MAX]
    vuln.update(
        {
            "severity": GITLAB_SEVERITY[finding.severity],
            "solution": solution(finding)[:_SOLUTION_MAX],
            "location": {
                "dependency": {
                    "package": {"name": finding.package.name},
                    "version": finding.installed_version,
                },
                "operating_system": os_name,
                "image": image,
            },
            "identifiers": identifiers,
            "links": _links(finding.urls),
        }
    )
    return vuln


def to_document(report: ScanReport, options: ReportOptions) -> JsonObject:
    """The GitLab report as JSON data."""
    started, finished = scan_window(report, options)
    tool: JsonObject = {
        "id": options.scanner_name,
        "name": options.scanner_name,
        "vendor": {"name": options.scanner_name},
        "version": options.scanner_version,
    }
    scan: JsonObject = {
        "analyzer": dict(tool),
        "scanner": dict(tool),
        "type": "container_scanning",
        "start_time": started.strftime(TIME_FORMAT),
        "end_time": finished.strftime(TIME_FORMAT),
        "status": "success",
    }
    warnings = merged_warnings(report)
    if warnings:
        scan["messages"] = [{"level": "warn", "value": w} for w in warnings]
    image = image_name(report) or "unknown"
    os_name = operating_system(report)
    return {
        "version": SCHEMA_VERSION,
        "scan": scan,
        "vulnerabilities": [
            _vulnerability(f, image, os_name) for f in sorted_findings(report.active_findings)
        ],
    }


def render(report: ScanReport, options: ReportOptions) -> str:
    """The report text; suppressed findings are left out (see the module docstring)."""
    return json.dumps(to_document(report, options), indent=2, ensure_ascii=False) + "\n"
