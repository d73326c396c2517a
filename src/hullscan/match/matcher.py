"""Inventory + DB -> findings, with the facts about each vulnerability attached."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date

from hullscan.db.reader import VulnDB, merge_vulnerabilities
from hullscan.match.lang import LangMatcher
from hullscan.match.os import OsMatcher
from hullscan.model import Finding, Inventory, Severity, Vulnerability

_CVE_ID = re.compile(r"CVE-\d{4}-\d{4,}")


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
    # Language packages (OSV): already one finding per (vulnerability, package).
    lang_findings, lang_warnings = LangMatcher(db).match(inventory.packages)
    enriched = attach_facts([*unique.values(), *lang_findings], db)
    return MatchOutcome(enriched, warnings + lang_warnings, matcher.unmatched)


def attach_facts(findings: Iterable[Finding], db: VulnDB) -> list[Finding]:
    """Findings with their vulnerabilities' facts and the severity policy applied.

    Facts (description, aliases, URLs, CVSS, CWEs, KEV, EPSS) come from every feed that
    named the id, vendors first. A finding whose id is not a CVE (GHSA-..., PYSEC-...)
    also gets the facts of its CVE aliases: NVD, KEV and EPSS only know CVE ids.
    """
    findings = list(findings)
    facts = db.vulnerabilities({f.vuln_id for f in findings})
    wanted = {
        alias
        for f in findings
        if not _CVE_ID.fullmatch(f.vuln_id)
        for alias in _cve_aliases(f, facts.get(f.vuln_id))
    }
    if wanted - facts.keys():
        facts.update(db.vulnerabilities(wanted - facts.keys()))
    enriched = []
    # many packages share one vulnerability (libssl3, libcrypto3, openssl): merge once per id
    merged: dict[tuple[str, tuple[str, ...]], Vulnerability | None] = {}
    for finding in findings:
        own = facts.get(finding.vuln_id)
        related: tuple[str, ...] = ()
        if not _CVE_ID.fullmatch(finding.vuln_id):
            related = tuple(a for a in _cve_aliases(finding, own) if a in facts)
        key = (finding.vuln_id, related)
        if key not in merged:
            sources = [*filter(None, [own]), *(facts[a] for a in related)]
            merged[key] = merge_vulnerabilities(sources) if sources else None
        if (vuln := merged[key]) is not None:
            finding = with_facts(finding, vuln)
        enriched.append(finding)
    return enriched


def with_facts(finding: Finding, vuln: Vulnerability) -> Finding:
    """`finding` with `vuln`'s facts; severity: the vendor's, else NVD's.

    The vendor's rating (finding.severity) is what the policy uses whenever the vendor gave
    one; NVD's fills in only an UNKNOWN, with severity_source "nvd". Every CVSS score
    (NVD's and the CNAs') stays on the finding, so both views are shown.
    """
    severity, source = finding.severity, finding.severity_source
    if severity is Severity.UNKNOWN and vuln.nvd_severity is not Severity.UNKNOWN:
        severity, source = vuln.nvd_severity, "nvd"
    aliases = tuple(a for a in dict.fromkeys((*finding.aliases, *vuln.aliases)) if a)
    return replace(
        finding,
        severity=severity,
        severity_source=source,
        description=vuln.description or finding.description,
        aliases=tuple(a for a in aliases if a != finding.vuln_id),
        urls=tuple(dict.fromkeys((*finding.urls, *vuln.urls))),
        cvss=vuln.cvss,
        cwes=vuln.cwes,
        kev_added=vuln.kev_added,
        epss=vuln.epss,
        epss_percentile=vuln.epss_percentile,
    )


def _cve_aliases(finding: Finding, vuln: Vulnerability | None) -> list[str]:
    known = (*finding.aliases, *(vuln.aliases if vuln else ()))
    return sorted({a for a in known if _CVE_ID.fullmatch(a)})
