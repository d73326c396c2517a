"""The table a person reads in a terminal or a CI log.

One header for the target (reference and OS), one row per finding, the layer that
brought the package in (so the fix lands in the right Dockerfile line), then the totals.
Rendered with rich into a string; colour only when the options say so (TTY).
"""

from __future__ import annotations

from io import StringIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hullscan.distros import eol_warning
from hullscan.model import Finding, Layer, ScanReport, Severity
from hullscan.policy import end_of_life, policy_outcome, scan_day
from hullscan.report.base import (
    ReportOptions,
    image_name,
    layer_index,
    os_label,
    printable,
    severity_counts,
    sorted_findings,
    strip_shell_prefix,
    suppression_counts,
    truncate,
)

LAYER_TEXT_LIMIT = 40

# BuildKit: `RUN /bin/sh -c cmd` or, with build args, `RUN |2 A=1 B=2 /bin/sh -c cmd`.

SEVERITY_STYLES: dict[Severity, str] = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "blue",
    Severity.NEGLIGIBLE: "dim",
    Severity.UNKNOWN: "dim",
}


def _console(options: ReportOptions) -> tuple[Console, StringIO]:
    """A console that ignores the environment (COLUMNS, NO_COLOR, TERM, FORCE_COLOR...)."""
    buffer = StringIO()
    console = Console(
        file=buffer,
        width=options.width,
        height=25,
        force_terminal=options.color,
        force_jupyter=False,
        force_interactive=False,
        color_system="standard" if options.color else None,
        no_color=not options.color,
        legacy_windows=False,
        highlight=False,
        emoji=False,
        markup=False,
        soft_wrap=False,
    )
    return console, buffer


def layer_text(finding: Finding, layers: dict[str, Layer]) -> str:
    """`#2 RUN apt-get install …`: the layer number (1-based, as in messages) and history."""
    diff_id = finding.package.layer
    if not diff_id:
        return ""
    layer = layers.get(diff_id)
    if layer is None:
        return truncate(diff_id, 19)
    command = strip_shell_prefix(layer.created_by)
    number = f"#{layer.index + 1}"
    return truncate(f"{number} {command}" if command else number, LAYER_TEXT_LIMIT)


def _status_text(finding: Finding) -> str:
    return finding.status.value.replace("_", " ")


def _vulnerability_text(finding: Finding) -> Text:
    """The id, marked `KEV` when CISA lists it as exploited in the wild: fix those first."""
    text = Text(printable(finding.vuln_id))
    if finding.kev_added:
        text.append(" KEV", style="bold red")
    return text


def _kev_line(findings: tuple[Finding, ...]) -> str:
    count = sum(1 for f in findings if f.kev_added)
    return f"Known exploited (CISA KEV): {count}" if count else ""


def _summary_line(findings: tuple[Finding, ...]) -> str:
    counts = severity_counts(findings)
    parts = ", ".join(f"{s.name}: {n}" for s, n in counts.items())
    return f"Total: {len(findings)} ({parts})"


def _suppressed_line(report: ScanReport) -> str:
    rules = suppression_counts(report.findings)
    total = sum(rules.values())
    if not total:
        return ""
    detail = ", ".join(f"{rule}: {n}" for rule, n in rules.items())
    return f"Suppressed: {total} ({detail})"


def _header(report: ScanReport) -> str:
    name = image_name(report)
    path = report.inventory.artifact.reference
    details = ", ".join(part for part in (path if path != name else "", os_label(report)) if part)
    return f"{name} ({details})" if details else name


def _table(findings: list[Finding], layers: dict[str, Layer], show_rule: bool) -> Table:
    table = Table(box=box.SQUARE, show_lines=False, header_style="bold", expand=False)
    # Identity columns never wrap; the layer and the rule give way when space is short.
    table.add_column("Package", no_wrap=True)
    table.add_column("Installed", no_wrap=True)
    table.add_column("Fixed", no_wrap=True)
    table.add_column("Vulnerability", no_wrap=True)
    table.add_column("Severity", no_wrap=True)
    table.add_column("Status")
    table.add_column("Layer", max_width=LAYER_TEXT_LIMIT)
    if show_rule:
        table.add_column("Suppressed by", overflow="fold")
    arches: dict[str, set[str]] = {}
    for finding in findings:
        arches.setdefault(finding.package.name, set()).add(finding.package.arch)
    for finding in findings:
        row_style = "dim" if finding.suppressed else ""
        name = finding.package.name
        if len(arches[name]) > 1:  # multi-arch: libc6:amd64 and libc6:i386 are two packages
            name = f"{name}:{finding.package.arch}"
        cells: list[str | Text] = [
            printable(name),
            printable(finding.installed_version),
            printable(finding.fixed_version),
            _vulnerability_text(finding),
            Text(finding.severity.name, style=SEVERITY_STYLES[finding.severity]),
            _status_text(finding),
            Text(layer_text(finding, layers), no_wrap=True, overflow="ellipsis"),
        ]
        if show_rule:
            cells.append(finding.suppressed_by)
        table.add_row(*cells, style=row_style)
    return table


def _end_of_life_line(report: ScanReport) -> str:
    """The end-of-life warning, under the header, when the matcher reported it.

    The table shows no other warnings (the CLI prints them on stderr), but a table saved to
    a file must still say that the OS gets no fixes. Shown exactly when report.warnings has
    it, so every format agrees; the fact itself comes from the distro and the scan day.
    """
    distro = report.inventory.distro
    if end_of_life(report) is None:
        return ""
    message = eol_warning(distro, scan_day(report))
    return message if message and message in report.warnings else ""


def render(report: ScanReport, options: ReportOptions) -> str:
    """The table report; `show_suppressed` adds suppressed findings (dimmed) and a column."""
    console, buffer = _console(options)
    header = printable(_header(report))
    console.print(Text(header, style="bold"))
    console.print("=" * min(len(header), options.width))
    active = report.active_findings
    console.print(_summary_line(active))
    kev_line = _kev_line(active)
    if kev_line:
        console.print(Text(kev_line, style="bold red"))
    suppressed_line = _suppressed_line(report)
    if suppressed_line:
        console.print(suppressed_line)
    eol = _end_of_life_line(report)
    if eol:
        console.print(Text(f"WARNING: {eol}", style="bold yellow"))
    outcome = policy_outcome(report)
    if outcome is not None and outcome.dropped_below_min_severity:
        threshold = outcome.policy.min_severity
        name = threshold.name if threshold is not None else "?"
        console.print(f"Not shown: {outcome.dropped_below_min_severity} below {name} (--severity)")
    shown = [f for f in report.findings if options.show_suppressed or not f.suppressed]
    console.print()
    if not report.findings:
        console.print("No vulnerabilities found")
    elif not shown:
        console.print(f"No active vulnerabilities found ({len(report.findings)} suppressed)")
    else:
        show_rule = options.show_suppressed and any(f.suppressed for f in shown)
        console.print(_table(sorted_findings(shown), layer_index(report), show_rule))
    return buffer.getvalue()
