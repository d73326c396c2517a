"""hullscan's own JSON report: the whole ScanReport, stable and documented.

Every other format is a view of this one, so it holds everything: suppressed findings
included (with `suppressed_by`), the policy that was applied, the DB that was used.
The field reference is docs/json-report.md; bump SCHEMA_VERSION on any change that is
not purely additive. Conventions: strings are never empty (absent is null), lists are
never null, and every list has a deterministic order.
"""

from __future__ import annotations

import json
from typing import Any

from hullscan.distros import namespace_of
from hullscan.model import (
    ArtifactInfo,
    CvssScore,
    DbInfo,
    Distro,
    Finding,
    Layer,
    Package,
    ScanReport,
    Severity,
)
from hullscan.policy import FailingFinding, RuleInfo, failing_findings, gate, policy_outcome
from hullscan.report.base import (
    ReportOptions,
    finding_sort_key,
    layer_index,
    merged_warnings,
    package_sort_key,
    severity_counts,
    sorted_findings,
    suppression_counts,
)

SCHEMA_VERSION = 1

JsonObject = dict[str, Any]


def _s(value: str) -> str | None:
    """Absent strings are null, so consumers test one thing."""
    return value or None


def _severity(severity: Severity | None) -> str | None:
    return None if severity is None else severity.name


def _layer(layer: Layer) -> JsonObject:
    return {
        "index": layer.index,
        "diff_id": layer.diff_id,
        "digest": _s(layer.digest),
        "media_type": _s(layer.media_type),
        "size": layer.size,
        "created_by": _s(layer.created_by),
    }


def _artifact(artifact: ArtifactInfo) -> JsonObject:
    return {
        "reference": artifact.reference,
        "kind": artifact.kind,
        "image_id": _s(artifact.image_id),
        "manifest_digest": _s(artifact.manifest_digest),
        "repo_tags": list(artifact.repo_tags),
        "platform": _s(artifact.platform),
        "created": _s(artifact.created),
        "layers": [_layer(layer) for layer in sorted(artifact.layers, key=lambda x: x.index)],
    }


def _os(distro: Distro | None) -> JsonObject | None:
    if distro is None:
        return None
    return {
        "id": distro.id,
        "version": _s(distro.version_id),
        "codename": _s(distro.codename),
        "channel": _s(distro.channel),
        "pretty_name": _s(distro.pretty_name),
        "namespace": namespace_of(distro),
    }


def _source(pkg: Package) -> JsonObject | None:
    if not pkg.source_name:
        return None
    return {"name": pkg.source_name, "version": _s(pkg.source_version)}


def _package(pkg: Package) -> JsonObject:
    return {
        "name": pkg.name,
        "version": pkg.version,
        "type": pkg.type.value,
        "arch": _s(pkg.arch),
        "purl": _s(pkg.purl),
        "source": _source(pkg),
        "layer": _s(pkg.layer),
        "paths": sorted(pkg.paths),
    }


def _finding(finding: Finding, layers: dict[str, Layer]) -> JsonObject:
    pkg = finding.package
    layer: JsonObject | None = None
    if pkg.layer:
        known = layers.get(pkg.layer)
        layer = {
            "diff_id": pkg.layer,
            "index": known.index if known else None,
            "created_by": _s(known.created_by) if known else None,
        }
    return {
        "id": finding.vuln_id,
        "aliases": list(finding.aliases),
        "package": {
            "name": pkg.name,
            "version": pkg.version,
            "type": pkg.type.value,
            "arch": _s(pkg.arch),
            "purl": _s(pkg.purl),
            "source_name": _s(pkg.source_name),
        },
        "installed_version": finding.installed_version,
        "fixed_version": _s(finding.fixed_version),
        "status": finding.status.value,
        "severity": finding.severity.name,
        "severity_source": _s(finding.severity_source),
        "namespace": _s(finding.namespace),
        "description": _s(finding.description),
        "urls": list(finding.urls),
        "cvss": [_cvss(score) for score in finding.cvss],
        "cwes": list(finding.cwes),
        "kev": {"date_added": finding.kev_added} if finding.kev_added else None,
        "epss": (
            {"score": finding.epss, "percentile": finding.epss_percentile}
            if finding.epss is not None
            else None
        ),
        "layer": layer,
        "suppressed_by": _s(finding.suppressed_by),
    }


def _cvss(score: CvssScore) -> JsonObject:
    return {
        "source": score.source,
        "version": score.version,
        "vector": score.vector,
        "score": score.score,
        "severity": score.severity.name,
    }


def _summary(report: ScanReport) -> JsonObject:
    active = report.active_findings
    outcome = policy_outcome(report)
    return {
        "total": len(active),
        "by_severity": {s.name: n for s, n in severity_counts(active).items()},
        "suppressed": len(report.findings) - len(active),
        "suppressed_by_rule": suppression_counts(report.findings),
        "dropped_below_min_severity": outcome.dropped_below_min_severity if outcome else 0,
    }


def _rule(info: RuleInfo) -> JsonObject:
    return {
        "rule": info.rule,
        "kind": info.kind,
        "source": _s(info.source),
        "reason": _s(info.reason),
        "expires": info.expires.isoformat() if info.expires else None,
    }


def _failing(failure: FailingFinding) -> JsonObject:
    pkg = failure.finding.package
    return {
        "id": failure.vuln_id,
        "package": pkg.name,
        "version": pkg.version,
        "purl": _s(pkg.purl),
        "reasons": [r.value for r in failure.reasons],
    }


def _policy(report: ScanReport) -> JsonObject | None:
    outcome = policy_outcome(report)
    if outcome is None:
        return None
    policy = outcome.policy
    failing = sorted(failing_findings(report, policy), key=lambda f: finding_sort_key(f.finding))
    return {
        "image_ref": outcome.image_ref,
        "fail_on": _severity(policy.fail_on),
        "fail_on_kev": policy.fail_on_kev,
        "fail_on_epss": policy.fail_on_epss,
        "fail_on_fixable": policy.fail_on_fixable,
        "fail_on_eol": policy.fail_on_eol,
        "ignore_unfixed": policy.ignore_unfixed,
        "min_severity": _severity(policy.min_severity),
        "whitelist": policy.whitelist.source if policy.whitelist else None,
        "ignorefiles": [f.source for f in policy.ignore_files],
        "vex": [{"source": d.source, "format": d.format, "id": _s(d.doc_id)} for d in policy.vex],
        "rules": [_rule(r) for r in outcome.rules],
        "failing": [_failing(f) for f in failing],
        "failed": gate(report, policy),
    }


def _db(db: DbInfo | None) -> JsonObject | None:
    if db is None:
        return None
    return {
        "schema_version": db.schema_version,
        "built_at": db.built_at,
        "sources": [
            {
                "name": src.name,
                "location": src.location,
                "fingerprint": src.fingerprint,
                "fetched_at": src.fetched_at,
                "advisories": src.advisories,
            }
            for src in sorted(db.sources, key=lambda src: src.name)
        ],
    }


def to_document(report: ScanReport, options: ReportOptions) -> JsonObject:
    """The report as plain JSON data, for callers that embed it (server, tracker)."""
    layers = layer_index(report)
    return {
        "schema_version": SCHEMA_VERSION,
        "scanner": {"name": options.scanner_name, "version": options.scanner_version},
        "artifact": _artifact(report.inventory.artifact),
        "os": _os(report.inventory.distro),
        "packages": [_package(p) for p in sorted(report.inventory.packages, key=package_sort_key)],
        "findings": [_finding(f, layers) for f in sorted_findings(report.findings)],
        "summary": _summary(report),
        "policy": _policy(report),
        "db": _db(report.db),
        "warnings": merged_warnings(report),
    }


def render(report: ScanReport, options: ReportOptions) -> str:
    """The JSON report text: two-space indent, UTF-8 characters kept, newline at the end."""
    return json.dumps(to_document(report, options), indent=2, ensure_ascii=False) + "\n"
