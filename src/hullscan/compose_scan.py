"""Scanning several images in one run, and the reports that cover them all.

`scan_images` runs a caller-given `scan_one(reference) -> ScanReport` over the images with
bounded concurrency. Each image gets its own result: a report, or the error that stopped
it. An image that cannot be pulled is one failed result; it never stops the others. The
caller decides what scanning means (daemon or registry, policy, shared layer cache: the
LayerCache is safe to share; open one VulnDB per thread, sqlite connections are not).

The combined reports are views of the per-image ones:

- JSON (`combined_document`): `kind: "hullscan-multi"`, every image's hullscan JSON report
  (report/json.py, unchanged) or its error, the compose project's skipped services, and a
  summary across images (docs/compose.md);
- GitLab (`combined_gitlab_document`): one gl-container-scanning report with every image's
  vulnerabilities, built with report/gitlab.py's own functions, so ids and fields are
  exactly those of the single-image report (each vulnerability names its image);
- table (`render_combined("table", ...)`): each image's table, then a summary.

`exit_code` is the worst across images: 3 when an image could not be scanned (or, with a
gate, could not be matched), else 1 when one fails the policy gate, else 0.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hullscan.compose import ComposeImage, ComposeProject
from hullscan.errors import HullscanError, ReportError
from hullscan.model import ScanReport, Severity
from hullscan.policy import Policy, gate, policy_outcome
from hullscan.report import gitlab as gitlab_report
from hullscan.report import json as json_report
from hullscan.report import table as table_report
from hullscan.report.base import ReportOptions, image_name, scan_window, severity_counts
from hullscan.scan import META_UNMATCHED

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 3

MULTI_KIND = "hullscan-multi"
MULTI_SCHEMA_VERSION = 1

ScanOne = Callable[[str], ScanReport]


@dataclass(frozen=True)
class ImageResult:
    """One image of a multi-image scan: its report, or the error that stopped it."""

    reference: str
    report: ScanReport | None = None
    error: str = ""
    services: tuple[str, ...] = ()
    seconds: float = 0.0
    platform: str = ""

    @property
    def ok(self) -> bool:
        return self.report is not None

    @property
    def name(self) -> str:
        """The image's name in reports (what image_name says for the scanned report)."""
        return image_name(self.report) if self.report is not None else self.reference


def scan_images(
    refs: Sequence[str | ComposeImage],
    scan_one: ScanOne,
    max_workers: int = 4,
    *,
    on_result: Callable[[ImageResult], None] | None = None,
) -> list[ImageResult]:
    """Scan every image, at most `max_workers` at a time; results in the order of `refs`.

    A HullscanError from `scan_one` becomes that image's `error` (its message is meant for
    the user); any other exception too, marked as an internal error, so one bad image never
    loses the others' results. KeyboardInterrupt and SystemExit still stop the run.
    `on_result` is called (from worker threads) as each image finishes, for progress.
    """
    items = [_as_image(ref) for ref in refs]
    return _scan_all(items, lambda image: scan_one(image.reference), max_workers, on_result)


def scan_compose_images(
    images: Sequence[ComposeImage],
    scan_one: Callable[[ComposeImage], ScanReport],
    max_workers: int = 4,
    *,
    on_result: Callable[[ImageResult], None] | None = None,
) -> list[ImageResult]:
    """scan_images for a compose project: `scan_one` gets the whole ComposeImage, so it
    can honour the services' `platform:` and say "build it first" for `built_locally`."""
    return _scan_all(list(images), scan_one, max_workers, on_result)


def _as_image(ref: str | ComposeImage) -> ComposeImage:
    return ref if isinstance(ref, ComposeImage) else ComposeImage(ref, ref, ())


def _scan_all(
    images: list[ComposeImage],
    scan_one: Callable[[ComposeImage], ScanReport],
    max_workers: int,
    on_result: Callable[[ImageResult], None] | None,
) -> list[ImageResult]:
    def run(image: ComposeImage) -> ImageResult:
        started = time.monotonic()
        report: ScanReport | None = None
        error = ""
        try:
            report = scan_one(image)
        except HullscanError as exc:
            log.info("%s: %s", image.reference, exc)
            error = str(exc) or type(exc).__name__
        except Exception as exc:  # a bug in one image's scan must not lose the others
            log.exception("scanning %s", image.reference)
            error = f"internal error: {type(exc).__name__}: {exc}"
        result = ImageResult(
            image.reference,
            report,
            error,
            image.services,
            time.monotonic() - started,
            image.platform,
        )
        if on_result is not None:
            on_result(result)
        return result

    if not images:
        return []
    workers = max(1, min(max_workers, len(images)))
    if workers == 1:
        return [run(image) for image in images]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="image") as pool:
        return list(pool.map(run, images))


def _policy_of(report: ScanReport, policy: Policy | None) -> Policy | None:
    if policy is not None:
        return policy
    outcome = policy_outcome(report)
    return outcome.policy if outcome is not None else None


def image_exit_code(
    result: ImageResult, policy: Policy | None = None, *, allow_unmatched: bool = False
) -> int:
    """One image's code, as `hullscan image` would exit for it."""
    if result.report is None:
        return EXIT_ERROR
    chosen = _policy_of(result.report, policy)
    if chosen is None:
        return EXIT_OK
    # Policy.gating where the policy module has it (finding thresholds or the EOL gate)
    gating = bool(getattr(chosen, "gating", chosen.fail_on is not None or chosen.fail_on_eol))
    if gating and result.report.meta.get(META_UNMATCHED) and not allow_unmatched:
        return EXIT_ERROR
    return EXIT_FINDINGS if gate(result.report, chosen) else EXIT_OK


def exit_code(
    results: Sequence[ImageResult], policy: Policy | None = None, *, allow_unmatched: bool = False
) -> int:
    """The worst code across images: 3 (an image not scanned) > 1 (findings) > 0.

    `policy` None: each report's own applied policy (report.meta) is used.
    """
    codes = [image_exit_code(r, policy, allow_unmatched=allow_unmatched) for r in results]
    if EXIT_ERROR in codes:
        return EXIT_ERROR
    return EXIT_FINDINGS if EXIT_FINDINGS in codes else EXIT_OK


def report_filename(reference: str, suffix: str = ".json") -> str:
    """A safe file name for one image's report: `registry.example.com_5000_team_app_1.2.json`."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", reference).strip("._") or "image"
    return cleaned[:200] + suffix


# --- combined reports ------------------------------------------------------------------------


def summary(
    results: Sequence[ImageResult], policy: Policy | None = None, *, allow_unmatched: bool = False
) -> dict[str, Any]:
    """Counts across images: how many scanned/failed, active findings per severity, gates."""
    by_severity = {s: 0 for s in sorted(Severity, reverse=True)}
    total = suppressed = 0
    failed_gate: list[str] = []
    for result in results:
        if result.report is None:
            continue
        active = result.report.active_findings
        total += len(active)
        suppressed += len(result.report.findings) - len(active)
        for severity, count in severity_counts(active).items():
            by_severity[severity] += count
        if image_exit_code(result, policy, allow_unmatched=allow_unmatched) == EXIT_FINDINGS:
            failed_gate.append(result.name)
    return {
        "images": len(results),
        "scanned": sum(1 for r in results if r.ok),
        "failed": sum(1 for r in results if not r.ok),
        "total": total,
        "by_severity": {s.name: n for s, n in by_severity.items()},
        "suppressed": suppressed,
        "failed_gate": failed_gate,
        "exit_code": exit_code(results, policy, allow_unmatched=allow_unmatched),
    }


def combined_document(
    results: Sequence[ImageResult],
    options: ReportOptions,
    *,
    project: ComposeProject | None = None,
    policy: Policy | None = None,
    allow_unmatched: bool = False,
) -> dict[str, Any]:
    """The combined JSON: each image's own JSON report (or error) plus a summary."""
    images = []
    for result in results:
        images.append(
            {
                "reference": result.reference,
                "services": list(result.services),
                "status": "scanned" if result.ok else "error",
                "error": result.error or None,
                "report": (
                    json_report.to_document(result.report, options)
                    if result.report is not None
                    else None
                ),
            }
        )
    document: dict[str, Any] = {
        "schema_version": MULTI_SCHEMA_VERSION,
        "kind": MULTI_KIND,
        "scanner": {"name": options.scanner_name, "version": options.scanner_version},
        "project": None,
        "images": images,
        "summary": summary(results, policy, allow_unmatched=allow_unmatched),
    }
    if project is not None:
        document["project"] = {
            "name": project.name,
            "files": [str(f) for f in project.files],
            "profiles": list(project.profiles),
            "skipped": [{"service": s.service, "reason": s.reason} for s in project.skipped],
            "inactive": list(project.inactive),
            "warnings": list(project.warnings),
        }
    return document


def combined_gitlab_document(
    results: Sequence[ImageResult], options: ReportOptions
) -> dict[str, Any]:
    """One gl-container-scanning report with every scanned image's vulnerabilities.

    Each image's vulnerabilities are those of report/gitlab.py's document for it (same
    ids, so GitLab tracks them across runs whichever way the report was produced). The
    scan window spans all images; each image's warnings and each failed image become
    `scan.messages` (`warn`: a partial result); if no image could be scanned at all the
    status is `failure`.
    """
    vulnerabilities: list[dict[str, Any]] = []
    messages: list[dict[str, str]] = []
    starts: list[datetime] = []
    ends: list[datetime] = []
    scanned = [r for r in results if r.report is not None]
    for result in scanned:
        assert result.report is not None
        document = gitlab_report.to_document(result.report, options)
        vulnerabilities.extend(document["vulnerabilities"])
        for message in document["scan"].get("messages", []):
            messages.append(
                {"level": message["level"], "value": f"{result.name}: {message['value']}"}
            )
        started, finished = scan_window(result.report, options)
        starts.append(started)
        ends.append(finished)
    for result in results:
        if result.report is None:
            messages.append(
                {"level": "warn", "value": f"{result.reference}: not scanned: {result.error}"}
            )
    if not starts:
        now = options.started_at or datetime.now(UTC)
        starts, ends = [now], [options.finished_at or now]
    tool = {
        "id": options.scanner_name,
        "name": options.scanner_name,
        "vendor": {"name": options.scanner_name},
        "version": options.scanner_version,
    }
    scan: dict[str, Any] = {
        "analyzer": dict(tool),
        "scanner": dict(tool),
        "type": "container_scanning",
        "start_time": min(starts).strftime(gitlab_report.TIME_FORMAT),
        "end_time": max(ends).strftime(gitlab_report.TIME_FORMAT),
        "status": "success" if scanned or not results else "failure",
    }
    if messages:
        scan["messages"] = messages
    return {
        "version": gitlab_report.SCHEMA_VERSION,
        "scan": scan,
        "vulnerabilities": vulnerabilities,
    }


def render_table(
    results: Sequence[ImageResult],
    options: ReportOptions,
    *,
    project: ComposeProject | None = None,
    policy: Policy | None = None,
) -> str:
    """Each image's table, then one line per failed image and skipped service, then totals."""
    parts: list[str] = []
    for result in results:
        if result.report is not None:
            parts.append(table_report.render(result.report, options).rstrip("\n"))
        else:
            parts.append(f"{result.reference}: not scanned: {result.error}")
    if project is not None:
        for skipped in project.skipped:
            parts.append(f"service {skipped.service}: skipped: {skipped.reason}")
    totals = summary(results, policy)
    counts = ", ".join(f"{n} {name}" for name, n in totals["by_severity"].items() if n)
    parts.append(
        f"{totals['scanned']} of {totals['images']} image(s) scanned, "
        f"{totals['total']} finding(s)" + (f" ({counts})" if counts else "")
    )
    return "\n\n".join(parts) + "\n"


def render_combined(
    fmt: str,
    results: Sequence[ImageResult],
    options: ReportOptions,
    *,
    project: ComposeProject | None = None,
    policy: Policy | None = None,
    allow_unmatched: bool = False,
) -> str:
    """A combined report as text: `json`, `gitlab` or `table`."""
    if fmt == "json":
        document = combined_document(
            results, options, project=project, policy=policy, allow_unmatched=allow_unmatched
        )
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if fmt == "gitlab":
        return (
            json.dumps(combined_gitlab_document(results, options), indent=2, ensure_ascii=False)
            + "\n"
        )
    if fmt == "table":
        return render_table(results, options, project=project, policy=policy)
    raise ReportError(f"no combined {fmt!r} report (available: gitlab, json, table)")
