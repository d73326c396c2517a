"""How an issue is recognised as an image's, and how its findings are compared.

Each issue hullscan opens carries two HTML comments in its description (hidden when the
Markdown is shown, kept verbatim by GitLab and GitHub):

    <!-- hullscan:fingerprint v1 image=docker.io/team/app digest=sha256:<64 hex> -->
    <!-- hullscan:state v1 <base64 of zlib-compressed JSON> -->

`image` is the image key (by default the repository without tag, so `team/app:1.2` and
`team/app:1.3` share one issue across releases); `digest` is a SHA-256 of the tracked
finding set, so an unchanged set is recognised without reading anything else; the state
lists those findings, so the next update can say what appeared and what was fixed.

A finding's identity is (vulnerability, package type, name, arch); the digest also covers
its installed and fixed versions and its severity, which the issue shows. Layer digests
are left out on purpose: a rebuild changes them without changing what is vulnerable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote

from hullscan.model import Severity
from hullscan.reference import DEFAULT_TAG, InvalidReferenceError, parse_image_reference
from hullscan.report.load import ReportFinding

FINGERPRINT_VERSION = "v1"
_FINGERPRINT_RE = re.compile(
    r"<!-- hullscan:fingerprint v1 image=(?P<image>\S+) digest=(?P<digest>sha256:[0-9a-f]{64}) -->"
)
_STATE_RE = re.compile(r"<!-- hullscan:state v1 (?P<data>[A-Za-z0-9+/=]*) -->")


class KeyBy(StrEnum):
    """What one issue stands for."""

    REPOSITORY = "repository"  # registry/repository, any tag (default)
    TAG = "tag"  # registry/repository:tag (one issue per tag)


def image_key(image: str, key_by: KeyBy = KeyBy.REPOSITORY) -> str:
    """The issue key of an image name: `docker.io/library/alpine` for `alpine:3.19`.

    Names that are not image references (a tar path without RepoTags) are kept as they
    are, made safe to sit in an HTML comment.
    """
    try:
        ref = parse_image_reference(image)
    except InvalidReferenceError:
        return quote(image.strip() or "unknown", safe="/:@._+-")
    if key_by is KeyBy.TAG:
        return f"{ref.name}:{ref.tag or DEFAULT_TAG}"
    return ref.name


def display_name(key: str) -> str:
    """The short name people use for a key: `alpine`, `team/app`, `ghcr.io/o/app`."""
    try:
        ref = parse_image_reference(key)
    except InvalidReferenceError:
        return key
    name = ref.familiar_name
    return f"{name}:{ref.tag}" if ref.tag else name


@dataclass(frozen=True, order=True)
class TrackedFinding:
    """A finding as an issue tracks it (sortable: severity order is applied by callers)."""

    id: str
    type: str
    package: str
    arch: str
    installed: str
    fixed: str
    severity: str

    @property
    def identity(self) -> tuple[str, str, str, str]:
        """What stays the same while the vulnerability is present in that package."""
        return (self.id, self.type, self.package, self.arch)

    @property
    def level(self) -> Severity:
        try:
            return Severity.parse(self.severity)
        except ValueError:
            return Severity.UNKNOWN

    @classmethod
    def of(cls, finding: ReportFinding) -> TrackedFinding:
        return cls(
            id=finding.id,
            type=finding.type,
            package=finding.package,
            arch=finding.arch,
            installed=finding.installed_version,
            fixed=finding.fixed_version,
            severity=finding.severity.name,
        )


def tracked_set(findings: Iterable[TrackedFinding]) -> tuple[TrackedFinding, ...]:
    """De-duplicated, in a stable order (highest severity first, then id and package)."""
    unique = set(findings)
    return tuple(sorted(unique, key=lambda f: (-int(f.level), f.id, f.package, f.arch, f)))


def finding_digest(findings: Iterable[TrackedFinding]) -> str:
    """SHA-256 of the canonical JSON of the set: equal sets, equal digests."""
    rows = sorted(
        [f.id, f.type, f.package, f.arch, f.installed, f.fixed, f.severity] for f in set(findings)
    )
    payload = json.dumps(rows, separators=(",", ":"), ensure_ascii=False).encode()
    return "sha256:" + hashlib.sha256(payload).hexdigest()


@dataclass(frozen=True)
class Fingerprint:
    """What a description says about itself; `findings` None when its state is missing or
    unreadable (someone edited it): the next update then cannot list what changed."""

    image: str
    digest: str
    findings: tuple[TrackedFinding, ...] | None = None


def fingerprint_marker(image: str, digest: str) -> str:
    return f"<!-- hullscan:fingerprint {FINGERPRINT_VERSION} image={image} digest={digest} -->"


def state_marker(findings: Iterable[TrackedFinding]) -> str:
    rows = [[f.id, f.type, f.package, f.arch, f.installed, f.fixed, f.severity] for f in findings]
    packed = zlib.compress(json.dumps(rows, separators=(",", ":")).encode(), 9)
    return f"<!-- hullscan:state {FINGERPRINT_VERSION} {base64.b64encode(packed).decode()} -->"


def parse_description(text: str) -> Fingerprint | None:
    """The fingerprint of an issue description, None when it has none (not ours)."""
    match = _FINGERPRINT_RE.search(text or "")
    if match is None:
        return None
    return Fingerprint(match["image"], match["digest"], _state(text))


def _state(text: str) -> tuple[TrackedFinding, ...] | None:
    match = _STATE_RE.search(text)
    if match is None:
        return None
    try:
        rows = json.loads(zlib.decompress(base64.b64decode(match["data"], validate=True)))
        return tuple(TrackedFinding(*(str(v) for v in row)) for row in rows if len(row) == 7)
    except (binascii.Error, zlib.error, ValueError, TypeError):
        return None
