"""The team's policy over a scan: what to hide, what to accept, and when to fail.

A library package (the CLI, the server and the tracker integration all call it), so it
takes values, never command-line arguments. Its rules (docs/policy.md):

- `min_severity` (`--severity`) is a display filter, as in Trivy: findings below it are
  removed from the report. They are counted in `PolicyOutcome.dropped_below_min_severity`
  (stored in `report.meta`) so reports can say how many were hidden.
- Every other rule *suppresses*: the finding stays in the report, in place, with
  `suppressed_by` naming the rule. Suppressed findings never fail the gate, and reports
  show or count them, so an accepted risk stays visible and auditable. First match wins:
  an earlier decision already on the finding, then VEX (`vex:<doc>:<status>[:<why>]`),
  then ignore files in the order given (`ignore:<file>:<id>`), then the clair-scanner
  whitelist (`whitelist:image:<key>`, `whitelist:general`), then `ignore-unfixed`.
- An ignore entry past its expiry date no longer applies; when a finding is active
  again because of that, the report gets a warning naming the entry.
- `gate` fails when an active finding trips a threshold (`failing_findings` says which
  and why: severity, CISA KEV, EPSS; `fail_on_fixable` counts only findings with a fix),
  or, with `fail_on_eol`, when the OS release was past its end of life on the scan day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path

from hullscan.distros import eol_reached
from hullscan.errors import PolicyError
from hullscan.model import Finding, FixStatus, ScanReport, Severity
from hullscan.policy.ignore import (
    IgnoreEntry,
    IgnoreFile,
    IgnoreFormat,
    find_ignore_file,
    load_ignore_file,
    parse_ignore_yaml,
    parse_trivyignore,
)
from hullscan.policy.matching import ImageGlob, ImagePattern, ScanFacts
from hullscan.policy.vex import (
    VexDocument,
    VexIndex,
    VexStatement,
    VexStatus,
    VexVerdict,
    load_vex,
    parse_vex,
)
from hullscan.policy.whitelist import (
    RULE_WHITELIST_GENERAL,
    RULE_WHITELIST_IMAGE_PREFIX,
    ClairWhitelist,
    load_clair_whitelist,
    parse_clair_whitelist,
)

META_KEY = "policy"
"""Key of the PolicyOutcome in ScanReport.meta."""

RULE_IGNORE_UNFIXED = "ignore-unfixed"

# report.meta key of the scan's start (report.base.META_STARTED_AT, set by scan.match);
# spelled out because the report package depends on this one, not the reverse.
_SCAN_STARTED_AT = "started_at"


@dataclass(frozen=True)
class Policy:
    """What the team accepts. The defaults change nothing and never fail.

    Finding thresholds combine with OR: a finding fails the gate when it is at or above
    `fail_on`, or in CISA KEV (`fail_on_kev`), or has an EPSS probability at or above
    `fail_on_epss`. `fail_on_fixable` narrows all of them to findings with a fix
    (status `fixed`); alone, it fails on any active finding with a fix.
    """

    fail_on: Severity | None = None
    ignore_unfixed: bool = False
    whitelist: ClairWhitelist | None = None
    min_severity: Severity | None = None
    fail_on_eol: bool = False
    ignore_files: tuple[IgnoreFile, ...] = ()
    vex: tuple[VexDocument, ...] = ()
    fail_on_kev: bool = False
    fail_on_epss: float | None = None
    fail_on_fixable: bool = False

    def __post_init__(self) -> None:
        # Callers may pass lists; keep the policy hashable and immutable.
        object.__setattr__(self, "ignore_files", tuple(self.ignore_files))
        object.__setattr__(self, "vex", tuple(self.vex))
        epss = self.fail_on_epss
        # `not 0 <= x <= 1` is also true for NaN
        if epss is not None and (isinstance(epss, bool) or not 0.0 <= float(epss) <= 1.0):
            raise PolicyError(f"EPSS threshold {epss!r} must be a probability between 0 and 1")

    @property
    def gates_findings(self) -> bool:
        """Whether any finding threshold is set (the EOL gate aside)."""
        return (
            self.fail_on is not None
            or self.fail_on_kev
            or self.fail_on_epss is not None
            or self.fail_on_fixable
        )

    @property
    def gating(self) -> bool:
        """Whether the run can fail at all (what `--allow-unmatched` is about)."""
        return self.gates_findings or self.fail_on_eol


@dataclass(frozen=True)
class RuleInfo:
    """What a suppression rule is, for an audit: where it comes from and why."""

    rule: str
    kind: str  # vex, ignore, whitelist, ignore-unfixed, earlier
    source: str = ""  # the file (or VEX document) it was read from
    reason: str = ""
    expires: date | None = None


@dataclass(frozen=True)
class PolicyOutcome:
    """What apply_policy did, kept in report.meta[META_KEY] for the reporters.

    `rules` describes every rule that suppressed a finding of the report, by name;
    `expired` the ignore entries past their date that left a finding active.
    """

    policy: Policy
    image_ref: str
    dropped_below_min_severity: int = 0
    rules: tuple[RuleInfo, ...] = ()
    expired: tuple[IgnoreEntry, ...] = ()

    def rule(self, name: str) -> RuleInfo | None:
        return next((r for r in self.rules if r.rule == name), None)


def policy_outcome(report: ScanReport) -> PolicyOutcome | None:
    """The outcome stored by apply_policy, or None for a report it has not seen."""
    outcome = report.meta.get(META_KEY)
    return outcome if isinstance(outcome, PolicyOutcome) else None


@dataclass(frozen=True)
class Decision:
    """Why a finding is suppressed (or not), and expired entries that would have matched."""

    rule: str = ""
    info: RuleInfo | None = None
    expired: tuple[IgnoreEntry, ...] = ()


def decide(
    finding: Finding,
    policy: Policy,
    facts: ScanFacts,
    day: date,
    vex: VexIndex | None = None,
) -> Decision:
    """The rule that suppresses this finding under the policy (first match wins)."""
    if finding.suppressed_by:  # an earlier decision stands
        return Decision(finding.suppressed_by, RuleInfo(finding.suppressed_by, "earlier"))
    if policy.vex:
        verdict = (vex or VexIndex(policy.vex)).verdict(finding, facts)
        if verdict is not None and verdict.statement.status.suppresses:
            return Decision(verdict.rule, _vex_info(verdict))
    expired: list[IgnoreEntry] = []
    for ignore_file in policy.ignore_files:
        for entry in ignore_file.entries:
            if not entry.matches(finding, facts):
                continue
            if entry.expired(day):
                expired.append(entry)
                continue
            info = RuleInfo(entry.rule, "ignore", entry.source, entry.reason, entry.expires)
            return Decision(entry.rule, info, tuple(expired))
    if policy.whitelist is not None:
        rule = policy.whitelist.rule_for(finding, facts.refs)
        if rule is not None:
            info = RuleInfo(rule, "whitelist", policy.whitelist.source)
            return Decision(rule, info, tuple(expired))
    if policy.ignore_unfixed and finding.status is not FixStatus.FIXED:
        info = RuleInfo(RULE_IGNORE_UNFIXED, "ignore-unfixed", reason="no fixed version yet")
        return Decision(RULE_IGNORE_UNFIXED, info, tuple(expired))
    return Decision(expired=tuple(expired))


def _vex_info(verdict: VexVerdict) -> RuleInfo:
    return RuleInfo(verdict.rule, "vex", verdict.document.source, verdict.statement.reason)


def suppression_rule(
    finding: Finding, policy: Policy, facts: ScanFacts, day: date | None = None
) -> str | None:
    """The rule that would suppress this one finding, or None (for "why?" questions)."""
    return decide(finding, policy, facts, day or datetime.now(UTC).date()).rule or None


def apply_policy(report: ScanReport, policy: Policy, image_ref: str) -> ScanReport:
    """A new report with the policy applied: filtered by min_severity, suppressions marked,
    a warning for each expired ignore entry that leaves a finding active.

    `image_ref` is the name the user scanned (`registry:5000/app:1.0`); per-image rules
    match it or one of the image's RepoTags. Expiry is judged on the scan day
    (`scan_day`). Idempotent.
    """
    facts = ScanFacts.of(report, image_ref)
    day = scan_day(report)
    vex = VexIndex(policy.vex) if policy.vex else None
    previous = policy_outcome(report)
    known = {r.rule: r for r in previous.rules} if previous else {}
    rules: dict[str, RuleInfo] = {}
    expired: dict[IgnoreEntry, None] = dict.fromkeys(previous.expired) if previous else {}
    kept: list[Finding] = []
    dropped = 0
    for finding in report.findings:
        if policy.min_severity is not None and finding.severity < policy.min_severity:
            dropped += 1
            continue
        decision = decide(finding, policy, facts, day, vex)
        if decision.rule:
            info = known.get(decision.rule) or decision.info
            rules.setdefault(decision.rule, info or RuleInfo(decision.rule, "earlier"))
        else:
            expired.update(dict.fromkeys(decision.expired))
        kept.append(
            finding
            if decision.rule == finding.suppressed_by
            else replace(finding, suppressed_by=decision.rule)
        )
    if previous is not None:
        dropped += previous.dropped_below_min_severity
    present = set(report.warnings) | set(report.inventory.warnings)
    warnings = [w for w in (e.expiry_warning() for e in expired) if w not in present]
    outcome = PolicyOutcome(
        policy=policy,
        image_ref=image_ref,
        dropped_below_min_severity=dropped,
        rules=tuple(sorted(rules.values(), key=lambda r: r.rule)),
        expired=tuple(expired),
    )
    return replace(
        report,
        findings=tuple(kept),
        warnings=(*report.warnings, *dict.fromkeys(warnings)),
        meta={**report.meta, META_KEY: outcome},
    )


def scan_day(report: ScanReport) -> date:
    """The UTC day the scan started (report.meta), today when the report does not say."""
    started = report.meta.get(_SCAN_STARTED_AT)
    if isinstance(started, str):
        try:
            started = datetime.fromisoformat(started)
        except ValueError:
            started = None
    if isinstance(started, datetime):
        return (started if started.tzinfo is None else started.astimezone(UTC)).date()
    return datetime.now(UTC).date()


def end_of_life(report: ScanReport) -> date | None:
    """The end-of-life date the scanned OS release had passed on the scan day, or None.

    Decided from the detected distro and the scan day, never from warning text.
    """
    return eol_reached(report.inventory.distro, scan_day(report))


def load_policy(
    *,
    fail_on: Severity | None = None,
    fail_on_kev: bool = False,
    fail_on_epss: float | None = None,
    fail_on_fixable: bool = False,
    fail_on_eol: bool = False,
    ignore_unfixed: bool = False,
    min_severity: Severity | None = None,
    whitelist: str | Path | None = None,
    ignorefiles: Sequence[str | Path] = (),
    vex: Sequence[str | Path] = (),
    discover: bool = True,
    directory: str | Path | None = None,
) -> Policy:
    """A Policy from option values and file paths, as the CLI, the server and the
    tracker take them, so all three read the files the same way.

    Without `ignorefiles`, the `.hullscanignore.yaml` of `directory` (default: the
    working directory) is used when there is one, unless `discover` is False. Any file
    that cannot be read or is malformed is a PolicyError naming it.
    """
    paths = list(ignorefiles)
    if not paths and discover and (found := find_ignore_file(directory)) is not None:
        paths.append(found)
    return Policy(
        fail_on=fail_on,
        fail_on_kev=fail_on_kev,
        fail_on_epss=fail_on_epss,
        fail_on_fixable=fail_on_fixable,
        fail_on_eol=fail_on_eol,
        ignore_unfixed=ignore_unfixed,
        min_severity=min_severity,
        whitelist=load_clair_whitelist(whitelist) if whitelist is not None else None,
        ignore_files=tuple(load_ignore_file(p) for p in paths),
        vex=tuple(load_vex(p) for p in vex),
    )


# --- the gate ----------------------------------------------------------------------------


class GateReason(StrEnum):
    """Why a finding fails the gate."""

    SEVERITY = "severity"  # at or above fail_on
    KEV = "kev"  # in CISA's Known Exploited Vulnerabilities catalog
    EPSS = "epss"  # EPSS probability at or above fail_on_epss
    FIXABLE = "fixable"  # has a fix (with fail_on_fixable, a condition of every reason)


@dataclass(frozen=True)
class FailingFinding:
    """An active finding that fails the gate, with every threshold it trips."""

    finding: Finding
    reasons: tuple[GateReason, ...]
    details: tuple[str, ...]  # one human sentence per reason, same order

    @property
    def vuln_id(self) -> str:
        return self.finding.vuln_id

    def describe(self) -> str:
        pkg = self.finding.package
        return f"{self.vuln_id} in {pkg.name} {pkg.version}: {'; '.join(self.details)}"


def _failure(finding: Finding, policy: Policy) -> FailingFinding | None:
    reasons: list[tuple[GateReason, str]] = []
    if policy.fail_on is not None and finding.severity >= policy.fail_on:
        detail = f"severity {finding.severity.name} at or above {policy.fail_on.name}"
        reasons.append((GateReason.SEVERITY, detail))
    if policy.fail_on_kev and finding.kev_added:
        reasons.append((GateReason.KEV, f"in CISA KEV since {finding.kev_added}"))
    threshold = policy.fail_on_epss
    if threshold is not None and finding.epss is not None and finding.epss >= threshold:
        reasons.append((GateReason.EPSS, f"EPSS {finding.epss:g} at or above {threshold:g}"))
    if policy.fail_on_fixable:
        fixed_in = f"fixed in {finding.fixed_version}" if finding.fixed_version else "has a fix"
        only_fixable = (
            policy.fail_on is None and not policy.fail_on_kev and policy.fail_on_epss is None
        )
        if reasons or only_fixable:
            reasons.append((GateReason.FIXABLE, fixed_in))
    if not reasons:
        return None
    return FailingFinding(finding, tuple(r for r, _ in reasons), tuple(d for _, d in reasons))


def failing_findings(report: ScanReport, policy: Policy) -> tuple[FailingFinding, ...]:
    """The active findings that fail the gate and why, in report order.

    Pass the report returned by apply_policy: suppressed findings never fail, and
    findings removed by min_severity are not there to fail. With `fail_on_fixable`, a
    finding counts only if its status is `fixed` (a fixed version exists in its release).
    """
    if not policy.gates_findings:
        return ()
    result = []
    for finding in report.active_findings:
        if policy.fail_on_fixable and finding.status is not FixStatus.FIXED:
            continue
        failure = _failure(finding, policy)
        if failure is not None:
            result.append(failure)
    return tuple(result)


def gate(report: ScanReport, policy: Policy) -> bool:
    """True when the build should fail: a failing finding (see failing_findings), or an
    end-of-life OS when `fail_on_eol` is set."""
    if policy.fail_on_eol and end_of_life(report) is not None:
        return True
    return bool(failing_findings(report, policy))


def gate_messages(report: ScanReport, policy: Policy, limit: int = 5) -> tuple[str, ...]:
    """One line per reason the gate fails, for the CLI's stderr and CI logs."""
    messages = []
    failing = failing_findings(report, policy)
    if failing:
        ids = sorted({f.vuln_id for f in failing})
        more = " ..." if len(ids) > limit else ""
        messages.append(
            f"failing: {len(failing)} finding(s) {threshold_text(policy)} "
            f"({', '.join(ids[:limit])}{more})"
        )
    if policy.fail_on_eol and (eol := end_of_life(report)) is not None:
        messages.append(f"failing: the OS reached its end of life on {eol} (--fail-on-eol)")
    return tuple(messages)


def threshold_text(policy: Policy) -> str:
    """The finding thresholds of a policy in words, as gate messages and JUnit say them."""
    parts = []
    if policy.fail_on is not None:
        parts.append(f"at or above {policy.fail_on.name}")
    if policy.fail_on_kev:
        parts.append("in CISA KEV")
    if policy.fail_on_epss is not None:
        parts.append(f"with EPSS >= {policy.fail_on_epss:g}")
    text = " or ".join(parts)
    if policy.fail_on_fixable:
        text = f"{text}, with a fix" if text else "with a fix"
    return text


__all__ = [
    "META_KEY",
    "RULE_IGNORE_UNFIXED",
    "RULE_WHITELIST_GENERAL",
    "RULE_WHITELIST_IMAGE_PREFIX",
    "ClairWhitelist",
    "Decision",
    "FailingFinding",
    "GateReason",
    "IgnoreEntry",
    "IgnoreFile",
    "IgnoreFormat",
    "ImageGlob",
    "ImagePattern",
    "Policy",
    "PolicyOutcome",
    "RuleInfo",
    "ScanFacts",
    "VexDocument",
    "VexIndex",
    "VexStatement",
    "VexStatus",
    "apply_policy",
    "decide",
    "end_of_life",
    "failing_findings",
    "find_ignore_file",
    "gate",
    "gate_messages",
    "load_clair_whitelist",
    "load_ignore_file",
    "load_policy",
    "load_vex",
    "parse_clair_whitelist",
    "parse_ignore_yaml",
    "parse_trivyignore",
    "parse_vex",
    "policy_outcome",
    "scan_day",
    "suppression_rule",
    "threshold_text",
]
