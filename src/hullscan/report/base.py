"""What every report format shares: options, ordering, counts, layer lookup, times.

Reporters are pure functions `render(report, options) -> str`: they never read CLI
arguments, the clock (unless no time was injected) or the environment, so the same
report and options always give the same bytes and golden tests stay meaningful.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from hullscan import __version__
from hullscan.model import Finding, Layer, Package, ScanReport, Severity

META_STARTED_AT = "started_at"
"""report.meta key (datetime or ISO 8601 string) of when the scan started."""
META_FINISHED_AT = "finished_at"
"""report.meta key (datetime or ISO 8601 string) of when the scan finished."""

_DIGITS = re.compile(r"\d+")

SEVERITIES_DESC: tuple[Severity, ...] = tuple(sorted(Severity, reverse=True))


@dataclass(frozen=True)
class ReportOptions:
    """How to render; everything a format may need besides the report itself.

    `color` is for the table only and should be True only when writing to a TTY.
    `show_suppressed` lists suppressed findings in the table (they are always in the
    JSON, with `suppressed_by`, and never in the GitLab report). `started_at` and
    `finished_at` override the scan times (else report.meta, else now) so tests and
    reproducible builds get identical output.
    """

    color: bool = False
    width: int = 120
    show_suppressed: bool = False
    scanner_name: str = "hullscan"
    scanner_version: str = __version__
    started_at: datetime | None = None
    finished_at: datetime | None = None


Renderer = Callable[[ScanReport, ReportOptions], str]
"""A report format: pure, returns the whole document as text."""


def natural_key(text: str) -> str:
    """Numbers compare as numbers: CVE-2023-5678 sorts before CVE-2023-50495."""
    return _DIGITS.sub(lambda m: m.group().zfill(20), text)


def finding_sort_key(finding: Finding) -> tuple[int, str, str, str, str, str, str]:
    """Severity descending, then id, then package: stable across runs and formats."""
    pkg = finding.package
    return (
        -int(finding.severity),
        natural_key(finding.vuln_id),
        pkg.name,
        pkg.version,
        pkg.arch,
        pkg.type.value,
        pkg.purl,
    )


def sorted_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=finding_sort_key)


def package_sort_key(pkg: Package) -> tuple[str, str, str, str, str, str]:
    return (pkg.type.value, pkg.name, pkg.version, pkg.arch, pkg.purl, pkg.layer)


def severity_counts(findings: Iterable[Finding]) -> dict[Severity, int]:
    """Counts for every severity, highest first, zeros included."""
    counts = Counter(f.severity for f in findings)
    return {s: counts.get(s, 0) for s in SEVERITIES_DESC}


def suppression_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Suppressed findings per rule, by rule name."""
    counts = Counter(f.suppressed_by for f in findings if f.suppressed)
    return dict(sorted(counts.items()))


def layer_index(report: ScanReport) -> dict[str, Layer]:
    """diff_id -> Layer of the scanned artifact."""
    return {layer.diff_id: layer for layer in report.inventory.artifact.layers}


#: C0/C1 control characters: escape sequences from image content must not drive a terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text from an image or a feed, safe to show: control characters become `?`."""
    return _CONTROL.sub("?", text)


def truncate(text: str, limit: int) -> str:
    """One printable line, at most `limit` characters, with an ellipsis when cut."""
    line = printable(" ".join(text.split()))
    if len(line) <= limit:
        return line
    return line[: max(limit - 1, 0)] + "…"


def os_label(report: ScanReport) -> str:
    """`debian 12.4 (bookworm)`-style label, or empty when the OS is unknown."""
    distro = report.inventory.distro
    if distro is None:
        return ""
    parts = [distro.id]
    version = distro.version_id or distro.channel
    if version:
        parts.append(version)
    label = " ".join(parts)
    if distro.codename:
        label += f" ({distro.codename})"
    return label


def _meta_time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def scan_window(report: ScanReport, options: ReportOptions) -> tuple[datetime, datetime]:
    """(started, finished) in UTC: options first, then report.meta, then the clock."""
    started = options.started_at or _meta_time(report.meta.get(META_STARTED_AT))
    finished = options.finished_at or _meta_time(report.meta.get(META_FINISHED_AT))
    if started is None and finished is None:
        started = finished = datetime.now(UTC)
    elif started is None:
        started = finished
    elif finished is None:
        finished = started
    assert started is not None and finished is not None
    return _utc(started), _utc(finished)


def merged_warnings(report: ScanReport) -> list[str]:
    """Indexing then matching warnings, each once, in order (blank ones dropped)."""
    seen: dict[str, None] = {}
    for warning in (*report.inventory.warnings, *report.warnings):
        if warning.strip():
            seen.setdefault(warning, None)
    return list(seen)


def image_name(report: ScanReport) -> str:
    """The name the image is known by: what the user scanned (`registry/app:1.2`), else its
    first RepoTag, else where it was read from. Stable across pipelines, unlike a tar path."""
    outcome = report.meta.get("policy")
    named = getattr(outcome, "image_ref", "")
    if isinstance(named, str) and named:
        return named
    artifact = report.inventory.artifact
    return next((t for t in artifact.repo_tags if t), "") or artifact.reference


_BUILDKIT_RUN = re.compile(r"^RUN (?:\|\d+ (?:\S+=\S* )*)?/bin/sh -c (.*)$")


def strip_shell_prefix(created_by: str) -> str:
    """`RUN apt-get …` from what docker history records (shell wrapper and markers off).

    Classic builds record `/bin/sh -c #(nop)  ADD …` for metadata steps and
    `/bin/sh -c apt-get …` for RUN; BuildKit records `RUN /bin/sh -c apt-get … # buildkit`.
    """
    text = " ".join(created_by.split())
    if text.endswith("# buildkit"):
        text = text[: -len("# buildkit")].rstrip()
    if text.startswith("/bin/sh -c #(nop) "):
        return text[len("/bin/sh -c #(nop) ") :]
    if text.startswith("/bin/sh -c "):
        return "RUN " + text[len("/bin/sh -c ") :]
    match = _BUILDKIT_RUN.match(text)
    return "RUN " + match.group(1) if match else text
