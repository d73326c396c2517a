"""Inventory + DB -> findings, with the facts about each vulnerability attached."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from hullscan.db.reader import VulnDB
from hullscan.match.os import OsMatcher
from hullscan.model import Finding, Inventory


@dataclass(frozen=True)
class MatchOutcome:
    """Findings, warnings, and why packages could not be matched at all ("" if they were)."""

    findings: list[Finding]
    warnings: list[str]
    unmatched: str = ""


def match_inventory(
    inventory: Inventory, db: VulnDB, scan_date: date | None = None
) -> MatchOutcome:
    """Every finding for the inventory (one per vulnerability and package), and warnings.

    `scan_date` is the day the scan ran: an OS past its end of life on that day is warned
    about (None skips the check, for callers that replay old scans)."""
    matcher = OsMatcher(db, scan_date=scan_date)
    findings, warnings = matcher.match(inventory.distro, inventory.packages)
    unique: dict[tuple[str, str, str, str], Finding] = {}
    for finding in findings:
        pkg = finding.package
        unique.setdefault((finding.vuln_id, pkg.name, pkg.version, pkg.arch), finding)
    facts = db.vulnerabilities({f.vuln_id for f in unique.values()})
    enriched = []
    for finding in unique.values():
        vuln = facts.get(finding.vuln_id)
        if vuln is not None:
            finding = replace(
                finding, description=vuln.description, aliases=vuln.aliases, urls=vuln.urls
            )
        enriched.append(finding)
    return MatchOutcome(enriched, warnings, matcher.unmatched)
