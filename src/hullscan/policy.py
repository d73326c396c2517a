"""The team's policy over a scan: what to hide, what to accept, and when to fail.

A library module (the CLI, the server and the tracker integration all call it), so it
takes values, never command-line arguments. Its rules:

- `min_severity` (`--severity`) is a display filter, as in Trivy: findings below it are
  removed from the report. They are counted in `PolicyOutcome.dropped_below_min_severity`
  (stored in `report.meta`) so reports can say how many were hidden.
- Every other rule *suppresses*: the finding stays in the report, in place, with
  `suppressed_by` naming the rule (`whitelist:image:<key>`, `whitelist:general`,
  `ignore-unfixed`). Suppressed findings never fail the gate, and reports show or count
  them, so an accepted risk stays visible and auditable.
- `gate` fails when an active finding is at or above `fail_on`, or, with `fail_on_eol`,
  when the scanned OS release was past its end of life on the scan day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from hullscan.distros import eol_reached
from hullscan.errors import PolicyError
from hullscan.model import Finding, FixStatus, ScanReport, Severity
from hullscan.reference import (
    ImageReference,
    InvalidReferenceError,
    is_registry_component,
    parse_image_reference,
)

META_KEY = "policy"
"""Key of the PolicyOutcome in ScanReport.meta."""

RULE_IGNORE_UNFIXED = "ignore-unfixed"
RULE_WHITELIST_GENERAL = "whitelist:general"
RULE_WHITELIST_IMAGE_PREFIX = "whitelist:image:"

_WHITELIST_KEYS = ("generalwhitelist", "images")

# report.meta key of the scan's start (report.base.META_STARTED_AT, set by scan.match);
# spelled out because the report package depends on this module, not the reverse.
_SCAN_STARTED_AT = "started_at"


@dataclass(frozen=True)
class ImagePattern:
    """An `images:` key of a whitelist, parsed once.

    With a registry in the key (`registry:5000/app`, `docker.io/library/alpine`) the
    image must live in that registry. Without one (`team/app`, `alpine`) the key is a
    short name: it matches that path in any registry, `alpine` and `library/alpine`
    being the same name. A tag or digest in the key narrows it to that tag or digest.
    """

    key: str
    registry: str | None  # None: any registry
    paths: frozenset[str]
    tag: str = ""
    digest: str = ""

    @classmethod
    def parse(cls, key: str) -> ImagePattern:
        """Parse a key; InvalidReferenceError if Docker would not accept it as a name."""
        ref = parse_image_reference(key)
        first, slash, _ = key.strip().partition("/")
        if slash and is_registry_component(first):
            return cls(key, ref.registry.lower(), frozenset({ref.repository}), ref.tag, ref.digest)
        # No registry written: Docker Hub normalisation gives library/alpine, the short
        # name alpine; both are accepted in whatever registry the image comes from.
        paths = frozenset({ref.repository, ref.familiar_name})
        return cls(key, None, paths, ref.tag, ref.digest)

    def matches(self, ref: ImageReference) -> bool:
        if self.registry is not None and self.registry != ref.registry.lower():
            return False
        if ref.repository not in self.paths:
            return False
        if self.tag and self.tag != ref.tag:
            return False
        return not (self.digest and self.digest.lower() != ref.digest.lower())


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class ClairWhitelist:
    """A clair-scanner whitelist (`--whitelist FILE`).

    Format (github.com/arminc/clair-scanner, README and example-whitelist.yaml)::

        generalwhitelist:          # accepted for every image
          CVE-2017-6055: XML       # key: vulnerability id, value: a free note
        images:
          ubuntu:                  # accepted only for this image, any tag
            CVE-2017-5230: Java

    Either section may be missing and the file may be empty. Keys are matched against a
    finding's id and its aliases, case-insensitively. Images are matched by repository
    (see ImagePattern), which fixes clair-scanner's documented bug of cutting the name
    at the first ':' (so `registry:777/ubuntu:tag` never matched `ubuntu`).
    """

    general: Mapping[str, str] = field(default_factory=dict, hash=False)
    images: Mapping[str, Mapping[str, str]] = field(default_factory=dict, hash=False)
    source: str = "<whitelist>"
    _image_rules: tuple[tuple[ImagePattern, frozenset[str]], ...] = field(
        default=(), init=False, repr=False, compare=False
    )
    _general_ids: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Freeze the mappings and pre-parse image keys so matching never re-parses
        # and a bad key fails at load time, not halfway through a scan.
        object.__setattr__(self, "general", _frozen(self.general))
        object.__setattr__(
            self, "images", MappingProxyType({k: _frozen(v) for k, v in self.images.items()})
        )
        rules: list[tuple[ImagePattern, frozenset[str]]] = []
        for key, notes in self.images.items():
            try:
                pattern = ImagePattern.parse(key)
            except InvalidReferenceError as exc:
                raise PolicyError(
                    f"{self.source}: images key {key!r} is not a valid image name: {exc}"
                ) from None
            rules.append((pattern, frozenset(k.upper() for k in notes)))
        # Most specific key first (tag/digest, then a written registry); file order after.
        rules.sort(key=lambda rule: (not (rule[0].tag or rule[0].digest), rule[0].registry is None))
        object.__setattr__(self, "_image_rules", tuple(rules))
        object.__setattr__(self, "_general_ids", frozenset(k.upper() for k in self.general))

    @property
    def patterns(self) -> tuple[ImagePattern, ...]:
        """The parsed `images:` keys, most specific first."""
        return tuple(pattern for pattern, _ in self._image_rules)

    def rule_for(self, finding: Finding, images: Iterable[ImageReference]) -> str | None:
        """The whitelist rule accepting this finding, most specific first, or None."""
        ids = _finding_ids(finding)
        refs = tuple(images)
        for pattern, accepted in self._image_rules:
            if ids & accepted and any(pattern.matches(ref) for ref in refs):
                return RULE_WHITELIST_IMAGE_PREFIX + pattern.key
        if ids & self._general_ids:
            return RULE_WHITELIST_GENERAL
        return None


def _finding_ids(finding: Finding) -> set[str]:
    return {finding.vuln_id.upper(), *(a.upper() for a in finding.aliases)}


def _note_map(value: Any, where: str, source: str) -> dict[str, str]:
    """Validate one `{vulnerability-id: note}` mapping (a null section is empty)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PolicyError(
            f"{source}: {where} must be a mapping of vulnerability id to note "
            f"(e.g. 'CVE-2017-6055: why it is accepted'), got {_kind(value)}"
        )
    result: dict[str, str] = {}
    for key, note in value.items():
        if not isinstance(key, str) or not key.strip():
            raise PolicyError(
                f"{source}: {where}: vulnerability id {key!r} must be a non-empty string"
            )
        if isinstance(note, dict | list):
            raise PolicyError(
                f"{source}: {where}: the note of {key} must be a single value, got {_kind(note)}"
            )
        result[key.strip()] = "" if note is None else str(note)
    return result


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"{type(value).__name__} {value!r}"


def parse_clair_whitelist(text: str, source: str = "<whitelist>") -> ClairWhitelist:
    """Parse clair-scanner whitelist YAML; PolicyError names the file and the problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PolicyError(f"{source}: invalid YAML{where}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: invalid YAML: {exc}") from None
    if data is None:
        return ClairWhitelist(source=source)
    if not isinstance(data, dict):
        raise PolicyError(
            f"{source}: a whitelist must be a mapping with 'generalwhitelist' and/or "
            f"'images', got {_kind(data)}"
        )
    unknown = [str(k) for k in data if k not in _WHITELIST_KEYS]
    if unknown:
        raise PolicyError(
            f"{source}: unknown key(s) {', '.join(map(repr, unknown))}; "
            "a whitelist has only 'generalwhitelist' and 'images'"
        )
    general = _note_map(data.get("generalwhitelist"), "generalwhitelist", source)
    raw_images = data.get("images")
    if raw_images is None:
        raw_images = {}
    if not isinstance(raw_images, dict):
        raise PolicyError(
            f"{source}: images must be a mapping of image name to "
            f"{{vulnerability id: note}}, got {_kind(raw_images)}"
        )
    images: dict[str, dict[str, str]] = {}
    for image, notes in raw_images.items():
        if not isinstance(image, str) or not image.strip():
            raise PolicyError(f"{source}: images: image name {image!r} must be a string")
        images[image.strip()] = _note_map(notes, f"images: {image}", source)
    return ClairWhitelist(general=general, images=images, source=source)


def load_clair_whitelist(path: str | Path) -> ClairWhitelist:
    """Read a whitelist file; unreadable files are a PolicyError too (the user can fix it)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read whitelist {path}: {exc}") from None
    return parse_clair_whitelist(text, str(path))


@dataclass(frozen=True)
class Policy:
    """What the team accepts. The defaults change nothing and never fail."""

    fail_on: Severity | None = None
    ignore_unfixed: bool = False
    whitelist: ClairWhitelist | None = None
    min_severity: Severity | None = None
    fail_on_eol: bool = False


@dataclass(frozen=True)
class PolicyOutcome:
    """What apply_policy did, kept in report.meta[META_KEY] for the reporters."""

    policy: Policy
    image_ref: str
    dropped_below_min_severity: int = 0


def policy_outcome(report: ScanReport) -> PolicyOutcome | None:
    """The outcome stored by apply_policy, or None for a report it has not seen."""
    outcome = report.meta.get(META_KEY)
    return outcome if isinstance(outcome, PolicyOutcome) else None


def _image_refs(image_ref: str, report: ScanReport) -> tuple[ImageReference, ...]:
    """Every name the scanned image is known by: the reference, then its RepoTags.

    An archive path given as reference does not parse and is skipped; the RepoTags of
    a `docker save` archive still let per-image whitelist entries apply.
    """
    refs: list[ImageReference] = []
    for candidate in (image_ref, *report.inventory.artifact.repo_tags):
        try:
            ref = parse_image_reference(candidate)
        except InvalidReferenceError:
            continue
        if ref not in refs:
            refs.append(ref)
    return tuple(refs)


def suppression_rule(
    finding: Finding, policy: Policy, images: Iterable[ImageReference]
) -> str | None:
    """The rule that suppresses this finding under the policy, most specific first."""
    if finding.suppressed_by:
        return finding.suppressed_by  # an earlier decision (e.g. VEX) stands
    if policy.whitelist is not None:
        rule = policy.whitelist.rule_for(finding, images)
        if rule is not None:
            return rule
    if policy.ignore_unfixed and finding.status is not FixStatus.FIXED:
        return RULE_IGNORE_UNFIXED
    return None


def apply_policy(report: ScanReport, policy: Policy, image_ref: str) -> ScanReport:
    """A new report with the policy applied: filtered by min_severity, suppressions marked.

    `image_ref` is the name the user scanned (`registry:5000/app:1.0`); per-image
    whitelist entries match it or one of the image's RepoTags. Idempotent.
    """
    images = _image_refs(image_ref, report)
    kept: list[Finding] = []
    dropped = 0
    for finding in report.findings:
        if policy.min_severity is not None and finding.severity < policy.min_severity:
            dropped += 1
            continue
        rule = suppression_rule(finding, policy, images)
        kept.append(
            finding if rule == finding.suppressed_by else replace(finding, suppressed_by=rule or "")
        )
    previous = policy_outcome(report)
    if previous is not None:
        dropped += previous.dropped_below_min_severity
    outcome = PolicyOutcome(policy=policy, image_ref=image_ref, dropped_below_min_severity=dropped)
    return replace(report, findings=tuple(kept), meta={**report.meta, META_KEY: outcome})


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


def gate(report: ScanReport, policy: Policy) -> bool:
    """True when the build should fail: an active finding at or above `fail_on`, or an
    end-of-life OS when `fail_on_eol` is set.

    Pass the report returned by apply_policy; suppressed findings never fail.
    """
    if policy.fail_on_eol and end_of_life(report) is not None:
        return True
    if policy.fail_on is None:
        return False
    threshold = policy.fail_on
    return any(f.severity >= threshold for f in report.active_findings)


def failing_findings(report: ScanReport, policy: Policy) -> tuple[Finding, ...]:
    """The active findings that make `gate` fail, for messages like clair-scanner's."""
    if policy.fail_on is None:
        return ()
    threshold = policy.fail_on
    return tuple(f for f in report.active_findings if f.severity >= threshold)


__all__ = [
    "META_KEY",
    "RULE_IGNORE_UNFIXED",
    "RULE_WHITELIST_GENERAL",
    "RULE_WHITELIST_IMAGE_PREFIX",
    "ClairWhitelist",
    "ImagePattern",
    "Policy",
    "PolicyOutcome",
    "apply_policy",
    "end_of_life",
    "failing_findings",
    "gate",
    "load_clair_whitelist",
    "parse_clair_whitelist",
    "policy_outcome",
    "scan_day",
    "suppression_rule",
]
