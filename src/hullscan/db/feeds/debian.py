"""Debian Security Tracker JSON export -> advisories keyed by SOURCE package.

Input: https://security-tracker.debian.org/tracker/data/json, shaped
``{source_pkg: {issue_id: {description, scope, debianbug,
releases: {codename: {status, repositories, fixed_version, urgency, nodsa?, nodsa_reason?}}}}}``.
The semantics (what "resolved 0" or "no-dsa postponed" mean) are documented in docs/db.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from hullscan.db.feeds.base import Feed, Record, json_kind
from hullscan.distros import debian_release
from hullscan.model import Advisory, AffectedRange, FixStatus, Severity, Vulnerability

TRACKER_JSON_URL = "https://security-tracker.debian.org/tracker/data/json"
TRACKER_LINK = "https://security-tracker.debian.org/tracker/{}"

# Tracker urgencies; a trailing "*" / "**" only marks "not yet reviewed by the team".
_URGENCY_SEVERITY: dict[str, Severity] = {
    "unimportant": Severity.NEGLIGIBLE,
    "low": Severity.LOW,
    "medium": Severity.MEDIUM,
    "high": Severity.HIGH,
}
_CODENAME = re.compile(r"[a-z][a-z0-9-]*")
_UNFIXED = (AffectedRange(),)


@lru_cache(maxsize=64)
def severity_of(urgency: str) -> Severity:
    """Map a tracker urgency to our scale; "not yet assigned", "end-of-life" -> UNKNOWN."""
    return _URGENCY_SEVERITY.get(urgency.strip().lower().rstrip("*"), Severity.UNKNOWN)


@lru_cache(maxsize=64)
def _namespace(codename: str) -> str:
    """debian:12 for bookworm, debian:unstable for sid, debian:<codename> when unknown."""
    return f"debian:{debian_release(codename)}"


def status_of(release: Mapping[str, Any]) -> tuple[FixStatus, str] | None:
    """(status, fixed version) of one release entry, or None when it is not affected.

    Raises ValueError for a status the tracker has never emitted, so a format change is
    noticed at build time instead of turning into silent misses.
    """
    status = release.get("status")
    fixed = release.get("fixed_version")
    fixed = fixed.strip() if isinstance(fixed, str) else ""
    if status == "resolved":
        # "0" is the tracker's way to say the release never shipped a vulnerable version.
        # A resolved entry without any version carries no fix to compare against either.
        if not fixed or fixed == "0":
            return None
        return FixStatus.FIXED, fixed
    if status == "undetermined":
        return FixStatus.UNDER_INVESTIGATION, ""
    if status == "open":
        if str(release.get("urgency", "")).strip().lower() == "end-of-life":
            return FixStatus.END_OF_LIFE, ""
        if "nodsa" in release:
            reason = str(release.get("nodsa_reason") or "").strip().lower()
            if reason == "postponed":
                return FixStatus.FIX_DEFERRED, ""
            return FixStatus.WILL_NOT_FIX, ""  # "ignored" and plain no-dsa alike
        return FixStatus.AFFECTED, ""
    raise ValueError(f"unknown status {status!r}")


class DebianTrackerFeed(Feed):
    """The Debian Security Tracker's JSON export (all supported releases, one file)."""

    name = "debian"
    description = "Debian Security Tracker"
    file_patterns = ("*.json",)

    def default_locations(self) -> list[str]:
        return [TRACKER_JSON_URL]

    def parse(self, files: Sequence[Path]) -> Iterator[Record]:
        # Several exports may be given; a later file wins per (package, issue), which makes
        # "base export + local corrections" possible and keeps DB rows unique.
        issues: dict[str, dict[str, tuple[Path, Any]]] = {}
        for path in files:
            data = self.load_json(path)
            if not isinstance(data, dict):
                raise self.error(
                    path, f"expected a JSON object of source packages, got {json_kind(data)}"
                )
            for package, by_id in data.items():
                if not isinstance(by_id, dict):
                    raise self.error(
                        path,
                        f"package {package!r}: expected an object of issues, got "
                        f"{json_kind(by_id)}",
                    )
                slot = issues.setdefault(package, {})
                for vuln_id, issue in by_id.items():
                    slot[vuln_id] = (path, issue)

        descriptions: dict[str, str] = {}
        for package, by_id in issues.items():
            if not package:
                continue
            for vuln_id, (path, issue) in by_id.items():
                if not vuln_id:
                    continue
                yield from self._issue(path, package, vuln_id, issue, descriptions)
        for vuln_id in sorted(descriptions):
            yield Vulnerability(
                id=vuln_id,
                description=descriptions[vuln_id],
                urls=(TRACKER_LINK.format(vuln_id),),
            )

    def _issue(
        self,
        path: Path,
        package: str,
        vuln_id: str,
        issue: Any,
        descriptions: dict[str, str],
    ) -> Iterator[Advisory]:
        where = f"{package} {vuln_id}"
        if not isinstance(issue, dict):
            raise self.error(path, f"{where}: expected an object, got {json_kind(issue)}")
        description = issue.get("description")
        if not descriptions.get(vuln_id):
            descriptions[vuln_id] = description.strip() if isinstance(description, str) else ""
        releases = issue.get("releases") or {}  # the export writes [] when there are none
        if not isinstance(releases, dict):
            raise self.error(path, f"{where}: 'releases' is {json_kind(releases)}, not an object")
        for codename, release in releases.items():
            if not _CODENAME.fullmatch(codename):
                continue
            if not isinstance(release, dict):
                raise self.error(path, f"{where} {codename}: expected an object")
            try:
                statement = status_of(release)
            except ValueError as exc:
                raise self.error(path, f"{where} {codename}: {exc}") from None
            if statement is None:
                continue
            status, fixed = statement
            severity = severity_of(str(release.get("urgency") or ""))
            yield Advisory(
                namespace=_namespace(codename),
                package=package,
                vuln_id=vuln_id,
                ranges=(AffectedRange(fixed=fixed),) if fixed else _UNFIXED,
                status=status,
                fixed_version=fixed,
                severity=severity,
                severity_source="debian" if severity is not Severity.UNKNOWN else "",
                source=self.name,
            )
