"""A Markdown summary sized for a merge-request comment (GitLab note, GitHub PR comment).

What a reviewer needs at a glance: whether the gate passed, counts per severity, the top
findings (highest severity first) with the layer that brought each package in, then the
suppressed findings and warnings folded away. GitLab notes hold up to 1,000,000
characters and GitHub comments 65,536, but long comments bury the conversation: the
whole comment is kept under MAX_CHARS (60,000) and at most MAX_ROWS findings are listed;
what is cut is counted in a note that points to the full report. GitHub-flavoured
Markdown (GitLab renders it the same); text from images and feeds is escaped, so a
package name cannot inject links, HTML or table breaks.
"""

from __future__ import annotations

import re

from hullscan.model import Finding, FixStatus, Layer, ScanReport
from hullscan.policy import end_of_life, policy_outcome
from hullscan.report.base import (
    ReportOptions,
    image_name,
    layer_index,
    merged_warnings,
    os_label,
    printable,
    scan_window,
    severity_counts,
    sorted_findings,
    truncate,
)
from hullscan.report.junit import gate_view
from hullscan.report.sarif import primary_url
from hullscan.report.table import layer_text

DEFAULT_FILENAME = "hullscan-report.md"
MAX_CHARS = 60_000
MAX_ROWS = 100
MAX_SUPPRESSED_ROWS = 50
MAX_WARNINGS = 20

#: the "Fixed" cell of a finding without a fixed version, by the vendor's status
NO_FIX_LABELS: dict[FixStatus, str] = {
    FixStatus.FIXED: "-",
    FixStatus.AFFECTED: "no fix yet",
    FixStatus.WILL_NOT_FIX: "won't fix",
    FixStatus.FIX_DEFERRED: "fix postponed",
    FixStatus.END_OF_LIFE: "end of life",
    FixStatus.UNDER_INVESTIGATION: "investigating",
}

_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
_URL = re.compile(r"^https?://[A-Za-z0-9\-._~:/?#@!$&'()*+,;=%]+$")


def escape(text: str) -> str:
    """Plain text in a table cell: one line, Markdown and HTML characters escaped."""
    return _SPECIAL.sub(r"\\\1", printable(" ".join(text.split())))


def code(text: str) -> str:
    """A code span (versions, package names): backticks cannot close it, pipes cannot
    end the cell."""
    cleaned = printable(" ".join(text.split())).replace("`", "'").replace("|", "\\|")
    return f"`{cleaned}`" if cleaned else "-"


def link(label: str, url: str) -> str:
    if not _URL.match(url):
        return escape(label)
    return f"[{escape(label)}]({url.replace('(', '%28').replace(')', '%29')})"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def _verdict(report: ScanReport) -> str:
    """`**Failed**: …` / `**Passed**: …` when a gate was applied, else ""."""
    outcome = policy_outcome(report)
    if outcome is None or not outcome.policy.gating:
        return ""
    view = gate_view(report)
    failing = len(view.failing)
    eol = outcome.policy.fail_on_eol and end_of_life(report) is not None
    reasons = []
    if failing:
        noun = "finding" if failing == 1 else "findings"
        reasons.append(f"{failing} {noun} {escape(view.threshold)}")
    if eol:
        reasons.append("the OS has reached its end of life (`--fail-on-eol`)")
    if reasons:
        return "**Failed**: " + "; ".join(reasons) + "."
    if view.gated:
        return f"**Passed**: no finding {escape(view.threshold)}."
    return "**Passed**."


def _header(report: ScanReport, options: ReportOptions) -> list[str]:
    active = report.active_findings
    suppressed = len(report.findings) - len(active)
    lines = [f"## {escape(options.scanner_name)}: {code(image_name(report))}", ""]
    verdict = _verdict(report)
    if verdict:
        lines += [verdict, ""]
    facts = [escape(os_label(report)) if os_label(report) else "OS not detected"]
    facts.append(_count(len(report.inventory.packages), "package"))
    facts.append(
        _count(len(active), "active finding") + (f", {suppressed} suppressed" if suppressed else "")
    )
    if report.db is not None:
        facts.append(f"DB built {escape(report.db.built_at)}")
    lines += [" · ".join(facts), ""]
    counts = severity_counts(active)
    lines += [
        "| " + " | ".join(s.label for s in counts) + " |",
        "|" + " ---: |" * len(counts),
        "| " + " | ".join(str(n) for n in counts.values()) + " |",
        "",
    ]
    outcome = policy_outcome(report)
    if outcome is not None and outcome.dropped_below_min_severity:
        minimum = outcome.policy.min_severity
        lines += [
            f"_Not shown: {outcome.dropped_below_min_severity} findings below "
            f"{minimum.name if minimum else '?'} (`--severity`)._",
            "",
        ]
    return lines


def _finding_row(finding: Finding, layers: dict[str, Layer]) -> str:
    pkg = finding.package
    layer = layer_text(finding, layers)
    cells = [
        f"**{finding.severity.name}**"
        if finding.severity.name in ("CRITICAL", "HIGH")
        else finding.severity.name,
        link(finding.vuln_id, primary_url(finding)),
        code(pkg.name),
        code(pkg.version),
        code(finding.fixed_version) if finding.fixed_version else NO_FIX_LABELS[finding.status],
        escape(layer) if layer else "-",
    ]
    return "| " + " | ".join(cells) + " |"


def _suppressed(report: ScanReport) -> list[str]:
    suppressed = sorted_findings(f for f in report.findings if f.suppressed)
    if not suppressed:
        return []
    lines = [
        f"<details><summary>Suppressed ({len(suppressed)})</summary>",
        "",
        "| Severity | Vulnerability | Package | Rule |",
        "| --- | --- | --- | --- |",
    ]
    for finding in suppressed[:MAX_SUPPRESSED_ROWS]:
        lines.append(
            f"| {finding.severity.name} | {link(finding.vuln_id, primary_url(finding))} | "
            f"{code(finding.package.name)} | {code(finding.suppressed_by)} |"
        )
    if len(suppressed) > MAX_SUPPRESSED_ROWS:
        lines += ["", f"_… and {len(suppressed) - MAX_SUPPRESSED_ROWS} more._"]
    lines += ["", "</details>", ""]
    return lines


def _warnings(report: ScanReport) -> list[str]:
    warnings = merged_warnings(report)
    if not warnings:
        return []
    lines = [f"<details><summary>Warnings ({len(warnings)})</summary>", ""]
    lines += [f"- {escape(truncate(w, 300))}" for w in warnings[:MAX_WARNINGS]]
    if len(warnings) > MAX_WARNINGS:
        lines.append(f"- _… and {len(warnings) - MAX_WARNINGS} more._")
    lines += ["", "</details>", ""]
    return lines


def render(report: ScanReport, options: ReportOptions) -> str:
    """The comment text, at most MAX_CHARS characters."""
    _, finished = scan_window(report, options)
    head = _header(report, options)
    tail = _suppressed(report) + _warnings(report)
    footer = [
        f"<sub>{escape(options.scanner_name)} {escape(options.scanner_version)} · "
        f"scanned {finished.strftime('%Y-%m-%d %H:%M')} UTC</sub>"
    ]
    active = sorted_findings(report.active_findings)
    body: list[str] = []
    if not report.findings:
        body += ["No vulnerabilities found.", ""]
    elif not active:
        body += [f"No active vulnerabilities ({len(report.findings)} suppressed).", ""]
    else:
        table = [
            "### Top findings",
            "",
            "| Severity | Vulnerability | Package | Installed | Fixed | Layer |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        budget = MAX_CHARS - sum(len(x) + 1 for x in (*head, *table, *tail, *footer)) - 200
        layers = layer_index(report)
        shown = 0
        for finding in active[:MAX_ROWS]:
            row = _finding_row(finding, layers)
            if len(row) + 1 > budget:
                break
            budget -= len(row) + 1
            table.append(row)
            shown += 1
        table.append("")
        if shown < len(active):
            table += [
                f"_Showing the top {shown} of {len(active)} active findings; "
                "the full list is in the JSON or HTML report._",
                "",
            ]
        body += table
    text = "\n".join([*head, *body, *tail, *footer]) + "\n"
    if len(text) > MAX_CHARS:  # only a pathological header or tail can get here
        text = text[: MAX_CHARS - 40].rsplit("\n", 1)[0] + "\n\n_… (truncated)_\n"
    return text
