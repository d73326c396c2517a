"""One tracker issue per vulnerable image, kept in step with the latest scan.

The algorithm, the same for every tracker (tickets/base.py):

1. Reports are grouped by image key (tickets/fingerprint.py: the repository without tag
   by default, so every tag of `team/app` shares one issue; reports of two tags in one
   run are merged into that issue). The tracked findings of a key are its active findings
   at or above the threshold.
2. The open issues with the label (`security`) are listed once, every page, and matched
   by the fingerprint hidden in their description, never by title.
3. Per key:
   - no open issue, tracked findings: create one (table of findings, the JSON report
     attached where the tracker has uploads, the pipeline's details);
   - open issue, same finding digest: nothing is written ("already up to date");
   - open issue, other digest: upload the new report, comment what appeared, was fixed
     or changed (with the pipeline), then rewrite the description and labels. The
     description is written last, so a run that fails halfway is redone in full by the
     next one (at worst a repeated comment, never a missed one);
   - open issue, no tracked findings: comment, then close (or, with keep_open, rewrite the
     description to say so and leave it open);
   - no issue, no tracked findings: nothing to do.
4. A failure on one key is that key's result; the others go on. Failures that would
   repeat for every key (bad token, missing permission, unknown project) stop the calls
   for the remaining keys, which are reported as failed with the same reason.

`dry_run` reads (lists issues) but writes nothing, and says what it would do.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from hullscan.model import Severity
from hullscan.report.load import LoadedReport, ReportFinding
from hullscan.tickets.base import ErrorKind, Tracker, TrackerError, TrackerIssue
from hullscan.tickets.fingerprint import (
    Fingerprint,
    KeyBy,
    TrackedFinding,
    display_name,
    finding_digest,
    image_key,
    parse_description,
    tracked_set,
)
from hullscan.tickets.pipeline import PipelineInfo
from hullscan.tickets.render import (
    IssueContent,
    close_comment,
    compare,
    description,
    title,
    update_comment,
)

log = logging.getLogger(__name__)

#: Exit codes for `hullscan issues` (cli maps them; 2 and 3 keep their usual meaning).
EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_TRACKER_FAILED = 4

DEFAULT_LABEL = "security"


class Action(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    CLOSED = "closed"
    CLEAN = "clean"  # no issue and nothing to track: nothing to do
    FAILED = "failed"


@dataclass(frozen=True)
class SyncOptions:
    """How issues are kept. `threshold`: the lowest severity an issue tracks (and that
    makes `exit_code` report findings); `extra_labels` are added to every issue."""

    threshold: Severity = Severity.UNKNOWN
    keep_open: bool = False
    confidential: bool = False
    dry_run: bool = False
    label: str = DEFAULT_LABEL
    extra_labels: tuple[str, ...] = ()
    key_by: KeyBy = KeyBy.REPOSITORY
    pipeline: PipelineInfo = field(default_factory=PipelineInfo)


@dataclass(frozen=True)
class SyncResult:
    """What happened to one image key; `message` is one line for the user."""

    key: str
    images: tuple[str, ...]
    action: Action
    message: str
    issue_id: int | None = None
    issue_url: str = ""
    findings: int = 0
    highest: Severity | None = None
    new: int = 0
    fixed: int = 0
    changed: int = 0
    dry_run: bool = False
    error_kind: ErrorKind | None = None

    @property
    def failed(self) -> bool:
        return self.action is Action.FAILED

    @property
    def has_findings(self) -> bool:
        """Tracked findings (at or above the threshold) remain for this image."""
        return self.findings > 0


def exit_code(results: Sequence[SyncResult]) -> int:
    """4 when any tracker update failed, else 1 when any image has tracked findings, else 0."""
    if any(r.failed for r in results):
        return EXIT_TRACKER_FAILED
    return EXIT_FINDINGS if any(r.has_findings for r in results) else EXIT_OK


def sync_reports(
    tracker: Tracker,
    reports: Sequence[LoadedReport],
    options: SyncOptions | None = None,
    *,
    progress: Callable[[SyncResult], None] | None = None,
) -> list[SyncResult]:
    """Bring the tracker in line with `reports`; one result per image key, in input order."""
    opts = options or SyncOptions()
    groups: dict[str, list[LoadedReport]] = {}
    for report in reports:
        groups.setdefault(image_key(report.image, opts.key_by), []).append(report)

    results: list[SyncResult] = []

    def done(result: SyncResult) -> None:
        results.append(result)
        if progress is not None:
            progress(result)

    try:
        open_issues = _index(tracker, opts.label)
    except TrackerError as exc:
        for key, group in groups.items():
            done(_failed(key, group, exc, opts, "listing the open issues failed"))
        return results
    stop: TrackerError | None = None
    for key, group in groups.items():
        if stop is not None:
            done(_failed(key, group, stop, opts, "not attempted"))
            continue
        try:
            done(_sync_one(tracker, key, group, open_issues.get(key, []), opts))
        except TrackerError as exc:
            done(_failed(key, group, exc, opts))
            if exc.fatal:
                stop = exc
        except Exception as exc:  # one image's bug must not lose the others' updates
            log.exception("tracker sync of %s", key)
            done(
                SyncResult(
                    key,
                    _names(group),
                    Action.FAILED,
                    f"internal error: {type(exc).__name__}: {exc}",
                    findings=len(_tracked(group, opts.threshold)),
                    dry_run=opts.dry_run,
                )
            )
    return results


def _names(group: Sequence[LoadedReport]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(r.image for r in group))


def _failed(
    key: str,
    group: Sequence[LoadedReport],
    exc: TrackerError,
    opts: SyncOptions,
    context: str = "",
) -> SyncResult:
    message = f"{context}: {exc}" if context else str(exc)
    return SyncResult(
        key,
        _names(group),
        Action.FAILED,
        message,
        findings=len(_tracked(group, opts.threshold)),
        dry_run=opts.dry_run,
        error_kind=exc.kind,
    )


def _index(tracker: Tracker, label: str) -> dict[str, list[tuple[TrackerIssue, Fingerprint]]]:
    """Open issues by image key, oldest first (a duplicate made by a race is left alone)."""
    found: dict[str, list[tuple[TrackerIssue, Fingerprint]]] = {}
    for issue in tracker.iter_open_issues(label):
        fingerprint = parse_description(issue.description)
        if fingerprint is not None:
            found.setdefault(fingerprint.image, []).append((issue, fingerprint))
    for issues in found.values():
        issues.sort(key=lambda pair: pair[0].id)
    return found


def _tracked(group: Sequence[LoadedReport], threshold: Severity) -> tuple[TrackedFinding, ...]:
    return tracked_set(
        TrackedFinding.of(f)
        for report in group
        for f in report.active_findings
        if f.severity >= threshold
    )


def _labels(
    tracker: Tracker, opts: SyncOptions, highest: Severity | None, existing: Sequence[str] = ()
) -> list[str]:
    """Existing labels kept (people add their own), ours set, the old severity replaced."""
    prefix = tracker.severity_label_prefix
    labels = [label for label in existing if not label.startswith(prefix)]
    for label in (opts.label, *opts.extra_labels):
        if label and label not in labels:
            labels.append(label)
    if highest is not None:
        labels.append(f"{prefix}{highest.name.lower()}")
    return labels


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[:100] or "image"


def _attach(tracker: Tracker, group: Sequence[LoadedReport]) -> tuple[str | None, str]:
    """Upload each report; (Markdown links or None, a note when an upload failed)."""
    if not tracker.supports_uploads:
        return None, ""
    links: list[str] = []
    for report in group:
        filename = f"hullscan-{_safe_name(report.image)}.json"
        try:
            link = tracker.upload(filename, report.text.encode("utf-8"))
        except TrackerError as exc:
            if exc.fatal:
                raise
            return (", ".join(links) or None), f"; report not attached: {exc}"
        if link:
            links.append(link)
    return (", ".join(links) or None), ""


def _sync_one(
    tracker: Tracker,
    key: str,
    group: Sequence[LoadedReport],
    existing: Sequence[tuple[TrackerIssue, Fingerprint]],
    opts: SyncOptions,
) -> SyncResult:
    tracked = _tracked(group, opts.threshold)
    digest = finding_digest(tracked)
    highest = max((f.level for f in tracked), default=None)
    details: dict[tuple[str, str, str, str], ReportFinding] = {}
    below = suppressed = 0
    for report in group:
        for finding in report.findings:
            if not finding.active:
                suppressed += 1
            elif finding.severity < opts.threshold:
                below += 1
            else:
                details.setdefault(TrackedFinding.of(finding).identity, finding)
    names = _names(group)
    name = display_name(key)
    would = "would " if opts.dry_run else ""
    base = SyncResult(
        key, names, Action.CLEAN, "", findings=len(tracked), highest=highest, dry_run=opts.dry_run
    )

    def content(attachment: str | None) -> IssueContent:
        return IssueContent(
            key=key,
            reports=tuple(group),
            findings=tracked,
            details=details,
            threshold=opts.threshold,
            below_threshold=below,
            suppressed=suppressed,
            pipeline=opts.pipeline,
            attachment=attachment,
            embed_summary=not tracker.supports_uploads,
        )

    summary = f"{len(tracked)} finding(s) at or above {opts.threshold.name}" + (
        f", highest {highest.name}" if highest is not None else ""
    )
    if not existing:
        if not tracked:
            return _with(
                base,
                Action.CLEAN,
                f"{name}: no findings at or above {opts.threshold.name}, no open issue",
            )
        if opts.dry_run:
            return _with(base, Action.CREATED, f"{name}: {would}create an issue: {summary}")
        attachment, note = _attach(tracker, group)
        issue = tracker.create_issue(
            title(key, tracked),
            description(content(attachment), tracker.max_body),
            _labels(tracker, opts, highest),
            opts.confidential and tracker.supports_confidential,
        )
        return _with(
            base,
            Action.CREATED,
            f"{name}: created issue #{issue.id}: {summary}{note}",
            issue,
            new=len(tracked),
        )

    issue, fingerprint = existing[0]
    duplicates = "".join(
        f", also open with the same fingerprint: #{other.id}" for other, _ in existing[1:]
    )
    if fingerprint.digest == digest:
        return _with(
            base,
            Action.UNCHANGED,
            f"{name}: issue #{issue.id} already up to date{duplicates}",
            issue,
        )
    changes = compare(fingerprint.findings, tracked)
    counts = {"new": len(changes.new), "fixed": len(changes.fixed), "changed": len(changes.changed)}
    if not tracked:
        fixed = fingerprint.findings
        if opts.dry_run:
            verb = "update and keep open" if opts.keep_open else "close"
            return _with(
                base,
                Action.UPDATED if opts.keep_open else Action.CLOSED,
                f"{name}: {would}{verb} issue #{issue.id}: no findings at or above "
                f"{opts.threshold.name} any more",
                issue,
                **counts,
            )
        tracker.add_comment(
            issue, close_comment(fixed, opts.pipeline, opts.keep_open, tracker.max_body)
        )
        if opts.keep_open:
            tracker.update_issue(
                issue,
                title=f"{name}: no vulnerabilities left",
                description=description(content(None), tracker.max_body),
                labels=_labels(tracker, opts, None, issue.labels),
            )
            return _with(
                base,
                Action.UPDATED,
                f"{name}: issue #{issue.id}: all fixed, left open (keep-open){duplicates}",
                issue,
                **counts,
            )
        tracker.close_issue(issue)
        return _with(
            base,
            Action.CLOSED,
            f"{name}: closed issue #{issue.id}: all fixed{duplicates}",
            issue,
            **counts,
        )

    change_text = (
        f"{counts['new']} new, {counts['fixed']} fixed, {counts['changed']} changed"
        if changes.known
        else "findings changed"
    )
    if opts.dry_run:
        return _with(
            base,
            Action.UPDATED,
            f"{name}: {would}update issue #{issue.id} ({change_text}): {summary}",
            issue,
            **counts,
        )
    attachment, note = _attach(tracker, group)
    tracker.add_comment(
        issue,
        update_comment(changes, tracked, details, opts.pipeline, attachment, tracker.max_body),
    )
    updated = tracker.update_issue(
        issue,
        title=title(key, tracked),
        description=description(content(attachment), tracker.max_body),
        labels=_labels(tracker, opts, highest, issue.labels),
    )
    return _with(
        base,
        Action.UPDATED,
        f"{name}: updated issue #{issue.id} ({change_text}): {summary}{note}{duplicates}",
        updated,
        **counts,
    )


def _with(
    base: SyncResult,
    action: Action,
    message: str,
    issue: TrackerIssue | None = None,
    *,
    new: int = 0,
    fixed: int = 0,
    changed: int = 0,
) -> SyncResult:
    return SyncResult(
        key=base.key,
        images=base.images,
        action=action,
        message=message,
        issue_id=issue.id if issue is not None else None,
        issue_url=issue.web_url if issue is not None else "",
        findings=base.findings,
        highest=base.highest,
        new=new,
        fixed=fixed,
        changed=changed,
        dry_run=base.dry_run,
    )
