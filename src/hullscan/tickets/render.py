"""The Markdown of issues and comments: what a person reads in GitLab or GitHub.

Everything from an image or a feed (package names, versions, Dockerfile steps) is
untrusted text: it goes into code spans or escaped table cells, never as raw Markdown or
HTML, so it cannot inject links, mention people (`@scope/pkg` in a code span pings nobody)
or break the table. Descriptions stay under the tracker's size limit (GitHub: 65,536
characters): the table is cut with a note when it would not fit, and the hidden state
(tickets/fingerprint.py) is left out only when even that does not fit.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hullscan.model import Severity
from hullscan.report.gitlab import identifier
from hullscan.report.load import LoadedReport, ReportFinding
from hullscan.tickets.fingerprint import (
    TrackedFinding,
    display_name,
    finding_digest,
    fingerprint_marker,
    state_marker,
)
from hullscan.tickets.pipeline import PipelineInfo

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~@])")
_URL = re.compile(r"^https?://[^\s<>()\[\]]+$")
FOOTER = (
    "_This issue is kept up to date by hullscan: it is updated when the findings change and "
    "closed when they are fixed. This description is rewritten on each change; comment below "
    "to discuss._"
)


@dataclass(frozen=True)
class IssueContent:
    """What an issue description is made of."""

    key: str
    reports: tuple[LoadedReport, ...]
    findings: tuple[TrackedFinding, ...]  # the tracked set, highest severity first
    details: Mapping[tuple[str, str, str, str], ReportFinding] = field(default_factory=dict)
    threshold: Severity = Severity.UNKNOWN
    below_threshold: int = 0
    suppressed: int = 0
    pipeline: PipelineInfo = field(default_factory=PipelineInfo)
    attachment: str | None = None  # Markdown link to the uploaded report
    embed_summary: bool = False  # no upload API: put a JSON summary in the description


def code(text: str, limit: int = 80, *, cell: bool = False) -> str:
    """An inline code span for untrusted text (one line, at most `limit` characters).

    In a table `cell`, `|` is escaped even inside the span: GFM splits cells on any
    unescaped pipe, and shows `\\|` in a span as `|`.
    """
    line = " ".join(_CONTROL.sub(" ", text).split())
    if len(line) > limit:
        line = line[: limit - 1] + "…"
    if not line:
        return "–"
    if cell:
        line = line.replace("|", "\\|")
    fence = "``" if "`" in line else "`"
    pad = " " if fence == "``" or line.startswith(" ") else ""
    return f"{fence}{pad}{line}{pad}{fence}"


def escape(text: str, limit: int = 200) -> str:
    """Untrusted text as plain Markdown: control characters gone, specials escaped."""
    line = " ".join(_CONTROL.sub(" ", text).split())
    if len(line) > limit:
        line = line[: limit - 1] + "…"
    return _MD_SPECIAL.sub(r"\\\1", line)


def vuln_link(finding: TrackedFinding, detail: ReportFinding | None) -> str:
    """`[CVE-2023-1234](https://nvd...)`, else the advisory's first URL, else the id."""
    url = identifier(finding.id).get("url")
    if not url and detail is not None:
        url = next((u for u in detail.urls if _URL.match(u)), None)
    label = escape(finding.id, 60)
    return f"[{label}]({url})" if url and _URL.match(str(url)) else label


def layer_text(detail: ReportFinding | None) -> str:
    if detail is None or (detail.layer_index is None and not detail.layer_diff_id):
        return "–"
    parts = []
    if detail.layer_index is not None:
        parts.append(f"#{detail.layer_index}")
    if detail.layer_created_by:
        step = re.sub(r"^/bin/sh -c (#\(nop\) )?", "", detail.layer_created_by.strip())
        parts.append(code(step, 60, cell=True))
    elif detail.layer_diff_id:
        parts.append(code(detail.layer_diff_id.split(":")[-1][:12], cell=True))
    return " ".join(parts)


def title(key: str, findings: Sequence[TrackedFinding]) -> str:
    count = len(findings)
    noun = "vulnerability" if count == 1 else "vulnerabilities"
    highest = max((f.level for f in findings), default=Severity.UNKNOWN)
    return f"{display_name(key)}: {count} {noun} (highest {highest.name})"


def _table(
    findings: Sequence[TrackedFinding],
    details: Mapping[tuple[str, str, str, str], ReportFinding],
    budget: int,
) -> tuple[str, int]:
    """The findings table within `budget` characters; (text, rows left out)."""
    header = (
        "| Severity | Vulnerability | Package | Installed | Fixed in | Layer |\n"
        "|---|---|---|---|---|---|\n"
    )
    lines = [header]
    used = len(header)
    for shown, finding in enumerate(findings):
        detail = details.get(finding.identity)
        fixed = code(finding.fixed, 40, cell=True) if finding.fixed else "no fix yet"
        package = code(finding.package, 60, cell=True)
        installed = code(finding.installed, 40, cell=True)
        row = (
            f"| {finding.severity} | {vuln_link(finding, detail)} | {package} "
            f"| {installed} | {fixed} | {layer_text(detail)} |\n"
        )
        if used + len(row) > budget:
            return "".join(lines), len(findings) - shown
        lines.append(row)
        used += len(row)
    return "".join(lines), 0


def pipeline_line(pipeline: PipelineInfo) -> str:
    """`Pipeline [#42](url) · commit [`abc1234`](url) on `main` · job [scan](url)`."""
    parts = []
    if pipeline.pipeline_url:
        noun = "run" if pipeline.provider == "github" else "pipeline"
        ident = pipeline.pipeline_id
        label = f"#{ident}" if ident.isdigit() else escape(ident) if ident else "link"
        parts.append(f"{noun} [{label}]({pipeline.pipeline_url})")
    if pipeline.commit_sha:
        short = code(pipeline.commit_sha[:12])
        commit = f"[{short}]({pipeline.commit_url})" if pipeline.commit_url else short
        parts.append(f"commit {commit}" + (f" on {code(pipeline.ref)}" if pipeline.ref else ""))
    elif pipeline.ref:
        parts.append(f"ref {code(pipeline.ref)}")
    if pipeline.job_url and pipeline.job_url != pipeline.pipeline_url:
        parts.append(f"job [{escape(pipeline.job_name or 'log')}]({pipeline.job_url})")
    return " · ".join(parts)


def _scanned_lines(reports: Sequence[LoadedReport]) -> list[str]:
    lines = []
    for report in reports:
        facts = [f"**Image:** {code(report.image, 120)}"]
        digest = report.manifest_digest or report.image_id
        if digest:
            facts.append(code(digest[:19] + "…" if len(digest) > 19 else digest))
        if report.os_name:
            facts.append(f"OS {escape(report.os_name, 60)}")
        scanner = report.scanner
        if report.db_built_at:
            scanner += f", DB built {report.db_built_at}"
        facts.append(escape(scanner, 80))
        lines.append(" · ".join(facts))
    return lines


def _summary_json(report: LoadedReport) -> str:
    document = report.document
    artifact = document.get("artifact") or {}
    summary: dict[str, Any] = {
        "image": report.image,
        "artifact": {
            k: artifact.get(k) for k in ("reference", "manifest_digest", "image_id", "platform")
        },
        "os": document.get("os"),
        "summary": document.get("summary"),
        "policy": document.get("policy"),
        "db": {"built_at": (document.get("db") or {}).get("built_at")},
        "scanner": document.get("scanner"),
        "warnings": list(report.warnings)[:20],
    }
    text = json.dumps(summary, indent=2, ensure_ascii=False)
    return text.replace("```", "`\u200b``")


def description(content: IssueContent, max_length: int) -> str:
    """The issue description: fingerprint, facts, table, report, pipeline, hidden state."""
    findings = content.findings
    digest = finding_digest(findings)
    head = [fingerprint_marker(content.key, digest)]
    count = len(findings)
    highest = max((f.level for f in findings), default=None)
    if count:
        head.append(
            f"## {count} {'vulnerability' if count == 1 else 'vulnerabilities'} in "
            f"{code(display_name(content.key), 120)}"
            + (f" (highest: **{highest.name}**)" if highest is not None else "")
        )
    else:
        head.append(f"## No tracked vulnerabilities left in {code(display_name(content.key), 120)}")
    head.extend(_scanned_lines(content.reports))
    tracked = f"Tracked here: active findings at or above **{content.threshold.name}**"
    extra = []
    if content.below_threshold:
        extra.append(f"{content.below_threshold} below it")
    if content.suppressed:
        extra.append(f"{content.suppressed} suppressed by policy")
    if extra:
        tracked += f" ({' and '.join(extra)} are in the report only)"
    head.append(tracked + ".")

    tail: list[str] = []
    if content.attachment:
        tail.append(f"**Report:** {content.attachment}")
    if content.embed_summary:
        for report in content.reports:
            tail.append(
                f"<details><summary>Scan summary of {html.escape(report.image[:120])} (JSON)"
                "</summary>"
                f"\n\n```json\n{_summary_json(report)}\n```\n\n</details>"
            )
        if content.pipeline.pipeline_url:
            run = content.pipeline.pipeline_url
            tail.append(f"The full JSON report is in the artifacts of the [run]({run}).")
    line = pipeline_line(content.pipeline)
    if line:
        tail.append(f"**Found by:** {line}")
    tail.append(FOOTER)

    state = state_marker(findings)
    fixed_parts = "\n\n".join(head) + "\n\n" + "\n\n".join(tail) + "\n"
    margin = 200
    if len(fixed_parts) + len(state) + margin > max_length // 2:
        state = ""  # too large to keep: the next update will not list the differences
    budget = max_length - len(fixed_parts) - len(state) - margin
    table, left_out = _table(findings, content.details, budget) if findings else ("", 0)
    if left_out:
        table += (
            f"\n…and {left_out} more finding(s) not shown here (the issue would be too long); "
            "see the report.\n"
        )
    body = "\n\n".join(head) + "\n\n"
    if table:
        body += table + "\n"
    body += "\n\n".join(tail) + "\n"
    if state:
        body += state + "\n"
    return body


@dataclass(frozen=True)
class Changes:
    """What changed between the last description and this scan."""

    new: tuple[TrackedFinding, ...]
    fixed: tuple[TrackedFinding, ...]
    changed: tuple[tuple[TrackedFinding, TrackedFinding], ...]  # (before, after)
    known: bool = True  # False: the old state was unreadable, differences unknown


def compare(old: Sequence[TrackedFinding] | None, new: Sequence[TrackedFinding]) -> Changes:
    if old is None:
        return Changes(new=(), fixed=(), changed=(), known=False)
    before = {f.identity: f for f in old}
    after = {f.identity: f for f in new}
    return Changes(
        new=tuple(f for f in new if f.identity not in before),
        fixed=tuple(f for f in old if f.identity not in after),
        changed=tuple(
            (before[f.identity], f) for f in new if f.identity in before and before[f.identity] != f
        ),
    )


def _item(finding: TrackedFinding, detail: ReportFinding | None) -> str:
    fixed = f", fixed in {code(finding.fixed, 40)}" if finding.fixed else ", no fix yet"
    return (
        f"- **{finding.severity}** {vuln_link(finding, detail)} in {code(finding.package, 60)} "
        f"{code(finding.installed, 40)}{fixed}"
    )


def _change(before: TrackedFinding, after: TrackedFinding) -> str:
    what = []
    if before.severity != after.severity:
        what.append(f"severity {before.severity} → {after.severity}")
    if before.installed != after.installed:
        what.append(f"installed {code(before.installed, 40)} → {code(after.installed, 40)}")
    if before.fixed != after.fixed:
        what.append(
            f"fixed in {code(before.fixed, 40) if before.fixed else 'none'} → "
            f"{code(after.fixed, 40) if after.fixed else 'none'}"
        )
    return f"- {escape(after.id, 60)} in {code(after.package, 60)}: {'; '.join(what)}"


def _limited(lines: list[str], budget: int) -> list[str]:
    kept, used = [], 0
    for index, line in enumerate(lines):
        if used + len(line) + 1 > budget:
            kept.append(f"- …and {len(lines) - index} more (see the report)")
            break
        kept.append(line)
        used += len(line) + 1
    return kept


def update_comment(
    changes: Changes,
    findings: Sequence[TrackedFinding],
    details: Mapping[tuple[str, str, str, str], ReportFinding],
    pipeline: PipelineInfo,
    attachment: str | None,
    max_length: int,
) -> str:
    """The comment left when the findings changed: what appeared, what was fixed."""
    line = pipeline_line(pipeline)
    intro = "**The findings changed**" + (f" in {line}" if line else "") + "."
    highest = max((f.level for f in findings), default=Severity.UNKNOWN)
    counts = f"Now {len(findings)} tracked finding(s), highest {highest.name}."
    parts = [intro]
    budget = max(1000, (max_length - 2000) // 3)
    if not changes.known:
        parts.append(
            f"{counts} The previous list could not be read from the description (was it "
            "edited?), so the differences are not listed; the description has the full table."
        )
    else:
        summary = (
            f"{len(changes.new)} new, {len(changes.fixed)} fixed, {len(changes.changed)} changed. "
            + counts
        )
        parts.append(summary)
        if changes.new:
            lines = [_item(f, details.get(f.identity)) for f in changes.new]
            parts.append("**New:**\n" + "\n".join(_limited(lines, budget)))
        if changes.fixed:
            lines = [_item(f, None) for f in changes.fixed]
            parts.append("**Fixed since last time:**\n" + "\n".join(_limited(lines, budget)))
        if changes.changed:
            lines = [_change(before, after) for before, after in changes.changed]
            parts.append("**Changed:**\n" + "\n".join(_limited(lines, budget)))
    if attachment:
        parts.append(f"**Report:** {attachment}")
    return "\n\n".join(parts) + "\n"


def close_comment(
    fixed: Sequence[TrackedFinding] | None, pipeline: PipelineInfo, keep_open: bool, max_length: int
) -> str:
    """The comment left when no tracked finding remains."""
    line = pipeline_line(pipeline)
    intro = "**No tracked findings remain**" + (f" as of {line}" if line else "") + "."
    parts = [intro]
    if fixed:
        lines = [_item(f, None) for f in fixed]
        parts.append("**Fixed:**\n" + "\n".join(_limited(lines, max(1000, max_length - 2000))))
    parts.append("Leaving this issue open (keep-open)." if keep_open else "Closing this issue.")
    return "\n\n".join(parts) + "\n"
