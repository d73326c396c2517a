"""JUnit XML for CI test tabs (GitLab `artifacts:reports:junit`, Jenkins, Azure, …).

One `<testsuite>` per image and one `<testcase>` per package, so the test tab reads like
an inventory: every package passes or fails. A package fails when one of its active
findings fails the gate of the policy applied to the report (PolicyOutcome in
report.meta: `--fail-on`/`--threshold`, `--fail-on-kev`, `--fail-on-epss`,
`--fail-on-fixable`) - the same rule as the exit code, so the test tab and the pipeline
agree. Without any threshold every active finding fails its package, as with
clair-scanner's default threshold (Unknown) and Trivy's JUnit template: asking for a
JUnit report means wanting to see the vulnerabilities.

The `<failure>` of a package lists its failing findings and why; the other active
findings and suppressed ones (with the rule that accepted them) are in the test case's
`<system-out>`, so nothing is hidden. With `--fail-on-eol` an image whose OS reached its
end of life gets a failing "operating system" test case. Warnings go to the suite's
`<system-err>`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from hullscan.distros import eol_warning
from hullscan.model import Finding, Package, ScanReport
from hullscan.policy import (
    end_of_life,
    failing_findings,
    policy_outcome,
    scan_day,
    threshold_text,
)
from hullscan.report.base import (
    ReportOptions,
    image_name,
    merged_warnings,
    os_label,
    package_sort_key,
    printable,
    scan_window,
    sorted_findings,
)
from hullscan.report.gitlab import solution
from hullscan.report.sarif import primary_url

DEFAULT_FILENAME = "hullscan-junit.xml"
_TIME = "%Y-%m-%dT%H:%M:%S"


@dataclass(frozen=True)
class GateView:
    """Which active findings fail, and why, as the formats that show a gate need it.

    `gated` is False when the policy sets no finding threshold (`--fail-on`, `--fail-on-kev`,
    `--fail-on-epss`, `--fail-on-fixable`); JUnit and the clair-scanner report then count
    every active finding as failing, as clair-scanner's default threshold (Unknown) does.
    """

    gated: bool
    failing: Mapping[Finding, tuple[str, ...]]  # finding -> why (one sentence per reason)
    threshold: str  # "at or above HIGH or in CISA KEV", "" when not gated

    def fails(self, finding: Finding) -> bool:
        if finding.suppressed:
            return False
        return finding in self.failing if self.gated else True


def gate_view(report: ScanReport) -> GateView:
    """The gate of the policy applied to `report` (report.meta), per finding."""
    outcome = policy_outcome(report)
    if outcome is None or not outcome.policy.gates_findings:
        return GateView(gated=False, failing={}, threshold="")
    policy = outcome.policy
    failing = {f.finding: f.details for f in failing_findings(report, policy)}
    return GateView(gated=True, failing=failing, threshold=threshold_text(policy))


def _package_label(pkg: Package, multi_arch: bool) -> str:
    label = f"{pkg.name} {pkg.version}"
    return f"{label} ({pkg.arch})" if multi_arch and pkg.arch else label


def _line(finding: Finding) -> str:
    """`CVE-… HIGH: Upgrade libc6 to 2.36-9+deb12u3 <advisory URL>`."""
    url = primary_url(finding)
    text = f"{finding.vuln_id} {finding.severity.name}: {solution(finding)}"
    return f"{text} {url}" if url else text


def _text(value: str) -> str:
    """XML 1.0 cannot carry control characters even escaped: replace them."""
    return printable(value)


def _testcase(
    pkg: Package, findings: list[Finding], view: GateView, multi_arch: bool
) -> tuple[ET.Element, bool]:
    case = ET.Element(
        "testcase",
        {
            "classname": pkg.type.value,
            "name": _text(_package_label(pkg, multi_arch)),
            "time": "0",
        },
    )
    failing = [f for f in findings if view.fails(f)]
    if failing:
        worst = failing[0].severity  # findings are sorted, highest severity first
        ids = ", ".join(dict.fromkeys(f.vuln_id for f in failing))
        count = len(failing)
        noun = "vulnerability" if count == 1 else "vulnerabilities"
        why = f" {view.threshold}" if view.gated else ""
        failure = ET.SubElement(
            case,
            "failure",
            {"message": _text(f"{count} {noun}{why}: {ids}"), "type": worst.name},
        )
        blocks = []
        for finding in failing:
            block = _line(finding)
            reasons = view.failing.get(finding, ())
            if reasons:
                block += f" [{'; '.join(reasons)}]"
            if finding.description:
                block += "\n  " + " ".join(finding.description.split())
            blocks.append(block)
        failure.text = _text("\n".join(blocks))
    notes = [
        f"not failing the gate: {_line(f)}"
        for f in findings
        if not f.suppressed and not view.fails(f)
    ]
    notes += [f"suppressed ({f.suppressed_by}): {_line(f)}" for f in findings if f.suppressed]
    if notes:
        ET.SubElement(case, "system-out").text = _text("\n".join(notes))
    return case, bool(failing)


def _eol_case(report: ScanReport) -> tuple[ET.Element, bool] | None:
    eol = end_of_life(report)
    if eol is None:
        return None
    outcome = policy_outcome(report)
    fails = outcome is not None and outcome.policy.fail_on_eol
    case = ET.Element(
        "testcase", {"classname": "os", "name": "operating system support", "time": "0"}
    )
    message = eol_warning(report.inventory.distro, scan_day(report)) or f"end of life on {eol}"
    if fails:
        failure = ET.SubElement(case, "failure", {"message": _text(message), "type": "EOL"})
        failure.text = _text(f"{message} (--fail-on-eol)")
    else:
        ET.SubElement(case, "system-out").text = _text(message)
    return case, fails


def to_element(report: ScanReport, options: ReportOptions) -> ET.Element:
    """`<testsuites>` with one suite for the scanned image."""
    started, finished = scan_window(report, options)
    seconds = f"{max((finished - started).total_seconds(), 0.0):.3f}"
    view = gate_view(report)
    name = image_name(report)
    label = os_label(report)
    suite = ET.Element(
        "testsuite",
        {
            "name": _text(f"{name} ({label})" if label else name),
            "tests": "0",
            "failures": "0",
            "errors": "0",
            "skipped": "0",
            "time": seconds,
            "timestamp": started.strftime(_TIME),
        },
    )
    properties = ET.SubElement(suite, "properties")
    for key, value in (
        ("image", name),
        ("os", label),
        ("threshold", view.threshold if view.gated else "none (every active finding fails)"),
        ("scanner", f"{options.scanner_name} {options.scanner_version}"),
        ("db.built_at", report.db.built_at if report.db else ""),
    ):
        if value:
            ET.SubElement(properties, "property", {"name": key, "value": _text(value)})

    by_package: dict[Package, list[Finding]] = {}
    for finding in sorted_findings(report.findings):
        by_package.setdefault(finding.package, []).append(finding)
    packages = sorted(
        dict.fromkeys((*report.inventory.packages, *by_package)), key=package_sort_key
    )
    arches = Counter((p.type, p.name) for p in packages)
    tests = failures = 0
    eol = _eol_case(report)
    if eol is not None:
        suite.append(eol[0])
        tests += 1
        failures += eol[1]
    for pkg in packages:
        multi_arch = arches[(pkg.type, pkg.name)] > 1
        case, failed = _testcase(pkg, by_package.get(pkg, []), view, multi_arch)
        suite.append(case)
        tests += 1
        failures += failed
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    warnings = merged_warnings(report)
    if warnings:
        ET.SubElement(suite, "system-err").text = _text("\n".join(warnings))
    root = ET.Element(
        "testsuites",
        {
            "name": options.scanner_name,
            "tests": str(tests),
            "failures": str(failures),
            "errors": "0",
            "skipped": "0",
            "time": seconds,
        },
    )
    root.append(suite)
    return root


def render(report: ScanReport, options: ReportOptions) -> str:
    """The JUnit XML text (UTF-8, two-space indent)."""
    root = to_element(report, options)
    ET.indent(root, "  ")
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'
