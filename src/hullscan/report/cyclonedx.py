"""CycloneDX 1.6 SBOM with vulnerabilities (JSON and XML), via cyclonedx-python-lib.

Structure (as Trivy and Syft lay out an image):

- `metadata.component`: the image (type `container`), named as it was scanned; its id,
  digests, tags, platform and layers are `hullscan:` properties (docs/report-formats.md).
- `components`: the operating system (type `operating-system`) and every package (type
  `library`, with its purl; bom-ref = purl). Source package, layer, package-DB paths and
  rpm module are `hullscan:package:*` properties, so `hullscan sbom` reads back exactly
  what was scanned (see hullscan.sbom).
- `dependencies`: image -> OS and language packages, OS -> OS packages: what contains
  what. Package-to-package dependencies are not known to the scan and not invented.
- `vulnerabilities`: one entry per vulnerability id (split when packages differ in
  severity, status or suppression), rated by every CVSS assessment and by the severity
  hullscan reports; `affects` names each package with its installed version (affected)
  and its fixed version (unaffected). Suppressed findings are included with an
  `analysis` saying why (see `analysis_of`), so a VEX-aware consumer sees the decision.

Output is deterministic: serial number and timestamp derive from the scan, not the clock.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from hullscan import sbom
from hullscan.model import Finding, Package, ScanReport, Severity
from hullscan.reference import InvalidReferenceError, parse_image_reference
from hullscan.report.base import (
    ReportOptions,
    image_name,
    package_sort_key,
    scan_window,
    sorted_findings,
)
from hullscan.report.gitlab import identifier, solution
from hullscan.report.sarif import primary_url

if TYPE_CHECKING:
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component
    from cyclonedx.model.impact_analysis import (
        ImpactAnalysisJustification,
        ImpactAnalysisResponse,
        ImpactAnalysisState,
    )
    from cyclonedx.model.vulnerability import Vulnerability, VulnerabilityRating
    from packageurl import PackageURL

DEFAULT_FILENAME_JSON = "hullscan.cdx.json"
DEFAULT_FILENAME_XML = "hullscan.cdx.xml"

# Fixed namespace of serial numbers: the same scan always gets the same serialNumber.
SERIAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:hullscan:cyclonedx")

#: our severity -> CycloneDX severity (NEGLIGIBLE is "info", as GitLab's Info)
SEVERITIES: dict[Severity, str] = {
    Severity.CRITICAL: "critical",
    Severity.HIGH: "high",
    Severity.MEDIUM: "medium",
    Severity.LOW: "low",
    Severity.NEGLIGIBLE: "info",
    Severity.UNKNOWN: "unknown",
}

#: OpenVEX justification (and CycloneDX's own names) -> CycloneDX justification
_JUSTIFICATIONS = {
    "component_not_present": "code_not_present",
    "vulnerable_code_not_present": "code_not_present",
    "vulnerable_code_not_in_execute_path": "code_not_reachable",
    "vulnerable_code_cannot_be_controlled_by_adversary": "requires_environment",
    "inline_mitigations_already_exist": "protected_by_mitigating_control",
    "code_not_present": "code_not_present",
    "code_not_reachable": "code_not_reachable",
    "requires_configuration": "requires_configuration",
    "requires_dependency": "requires_dependency",
    "requires_environment": "requires_environment",
    "protected_by_compiler": "protected_by_compiler",
    "protected_at_runtime": "protected_at_runtime",
    "protected_at_perimeter": "protected_at_perimeter",
    "protected_by_mitigating_control": "protected_by_mitigating_control",
}

_CVSS_METHODS = {"2": "CVSSv2", "3.0": "CVSSv3", "3": "CVSSv3", "3.1": "CVSSv31", "4": "CVSSv4"}
_CWE = re.compile(r"^CWE-(\d+)$", re.IGNORECASE)
_WORD = re.compile(r"[a-z_]+")

_TOP_LEVEL_ORDER = (
    "$schema",
    "bomFormat",
    "specVersion",
    "serialNumber",
    "version",
    "metadata",
    "components",
    "dependencies",
    "vulnerabilities",
)


def analysis_of(rule: str) -> tuple[str, str, list[str], str]:
    """(state, justification, responses, detail) for a suppression rule (suppressed_by).

    - a VEX `not_affected` (with its justification, OpenVEX names mapped) -> not_affected;
    - a VEX `fixed` -> resolved; a rule naming a false positive -> false_positive;
    - `ignore-unfixed` -> exploitable, response can_not_fix (there is no fix to apply);
    - anything else (whitelist, ignore file: an accepted risk) -> exploitable, response
      will_not_fix. The package is still affected; the team decided to live with it.
    """
    lowered = rule.lower()
    words = set(_WORD.findall(lowered.replace("-", "_")))
    detail = f"Suppressed by the hullscan policy rule {rule}"
    if "not_affected" in lowered.replace("-", "_"):
        justification = next((_JUSTIFICATIONS[w] for w in words if w in _JUSTIFICATIONS), "")
        return "not_affected", justification, [], detail
    if "false_positive" in words:
        return "false_positive", "", [], detail
    if words & {"fixed", "resolved"}:
        return "resolved", "", ["update"], detail
    if "unfixed" in lowered:
        return "exploitable", "", ["can_not_fix"], detail
    return "exploitable", "", ["will_not_fix"], detail


def serial_number(report: ScanReport, options: ReportOptions) -> uuid.UUID:
    """One per scan (image and scan time), the same on every rendering of it."""
    _, finished = scan_window(report, options)
    artifact = report.inventory.artifact
    key = "\x1f".join(
        (image_name(report), artifact.image_id, artifact.manifest_digest, finished.isoformat())
    )
    return uuid.uuid5(SERIAL_NAMESPACE, key)


def _component_refs(report: ScanReport) -> dict[Package, str]:
    """bom-ref of every package: its purl, numbered when two packages share one."""
    refs: dict[Package, str] = {}
    used: dict[str, int] = {}
    distro = report.inventory.distro
    for pkg in sorted(report.inventory.packages, key=package_sort_key):
        if pkg in refs:
            continue
        purl = sbom.package_purl(pkg, distro)
        count = used.get(purl, 0) + 1
        used[purl] = count
        refs[pkg] = purl if count == 1 else f"{purl}#{count}"
    return refs


def _image_component(report: ScanReport) -> Component:
    from cyclonedx.model import Property
    from cyclonedx.model.component import Component, ComponentType

    artifact = report.inventory.artifact
    name = image_name(report) or artifact.reference
    props: list[tuple[str, str]] = [
        (sbom.PROP_IMAGE_REFERENCE, artifact.reference),
        (sbom.PROP_IMAGE_KIND, artifact.kind),
        (sbom.PROP_IMAGE_ID, artifact.image_id),
        (sbom.PROP_IMAGE_MANIFEST_DIGEST, artifact.manifest_digest),
        (sbom.PROP_IMAGE_PLATFORM, artifact.platform),
        (sbom.PROP_IMAGE_CREATED, artifact.created),
    ]
    props += [(sbom.PROP_IMAGE_REPO_TAG, tag) for tag in artifact.repo_tags]
    for layer in sorted(artifact.layers, key=lambda x: x.index):
        props += sbom.layer_properties(layer)
    return Component(
        type=ComponentType.CONTAINER,
        name=name,
        version=artifact.image_id or None,
        purl=image_purl(report),
        bom_ref=f"image:{artifact.image_id or name}",
        properties=[Property(name=k, value=v) for k, v in props if v],
    )


def image_purl(report: ScanReport) -> PackageURL | None:
    """purl-spec's `pkg:oci/<name>@<manifest digest>?repository_url=…&arch=…&tag=…`, when
    the image came from a registry (a manifest digest and a repository to name)."""
    from packageurl import PackageURL

    artifact = report.inventory.artifact
    if not artifact.manifest_digest:
        return None
    try:
        ref = parse_image_reference(image_name(report))
    except InvalidReferenceError:
        return None
    qualifiers = {"repository_url": ref.name}
    parts = artifact.platform.split("/")
    if len(parts) >= 2 and parts[1]:
        qualifiers["arch"] = parts[1]
    if ref.tag:
        qualifiers["tag"] = ref.tag
    return PackageURL(
        type="oci",
        name=ref.repository.rsplit("/", 1)[-1].lower(),
        version=artifact.manifest_digest,
        qualifiers=qualifiers,
    )


def _os_component(report: ScanReport) -> Component | None:
    from cyclonedx.model import Property
    from cyclonedx.model.component import Component, ComponentType

    distro = report.inventory.distro
    if distro is None:
        return None
    version = sbom.os_component_version(distro)
    props = [
        (sbom.PROP_DISTRO_CODENAME, distro.codename),
        (sbom.PROP_DISTRO_CHANNEL, distro.channel),
        (sbom.PROP_DISTRO_PRETTY_NAME, distro.pretty_name),
    ]
    return Component(
        type=ComponentType.OPERATING_SYSTEM,
        name=distro.id,
        version=version or None,
        description=distro.pretty_name or None,
        bom_ref=f"os:{distro.id}@{version}" if version else f"os:{distro.id}",
        properties=[Property(name=k, value=v) for k, v in props if v],
    )


def _package_component(pkg: Package, ref: str, report: ScanReport) -> Component:
    from cyclonedx.model import Property
    from cyclonedx.model.component import Component, ComponentType
    from packageurl import PackageURL

    props: list[tuple[str, str]] = [
        (sbom.PROP_SOURCE_NAME, pkg.source_name),
        (sbom.PROP_SOURCE_VERSION, pkg.source_version),
        (sbom.PROP_LAYER, pkg.layer),
        (sbom.PROP_MODULARITY_LABEL, pkg.modularity_label),
        (sbom.PROP_VENDOR, pkg.vendor),
    ]
    props += [(sbom.PROP_PATH, path) for path in sorted(pkg.paths)]
    purl_text = sbom.package_purl(pkg, report.inventory.distro)
    try:
        purl: PackageURL | None = PackageURL.from_string(purl_text)
    except ValueError:
        purl = None
    return Component(
        type=ComponentType.LIBRARY,
        name=pkg.name,
        version=pkg.version or None,
        purl=purl,
        bom_ref=ref,
        properties=[Property(name=k, value=v) for k, v in props if v],
    )


def _ratings(findings: list[Finding]) -> list[VulnerabilityRating]:
    from cyclonedx.model.vulnerability import (
        VulnerabilityRating,
        VulnerabilityScoreSource,
        VulnerabilitySeverity,
        VulnerabilitySource,
    )

    first = findings[0]
    ratings: list[VulnerabilityRating] = []
    seen_sources: set[str] = set()
    for cvss in first.cvss:
        method = _CVSS_METHODS.get(cvss.version) or _CVSS_METHODS.get(cvss.version.split(".")[0])
        ratings.append(
            VulnerabilityRating(
                source=VulnerabilitySource(name=cvss.source) if cvss.source else None,
                score=Decimal(str(cvss.score)),
                severity=VulnerabilitySeverity(SEVERITIES[cvss.severity])
                if cvss.severity is not Severity.UNKNOWN
                else None,
                method=VulnerabilityScoreSource(method)
                if method
                else VulnerabilityScoreSource.OTHER,
                vector=cvss.vector or None,
            )
        )
        seen_sources.add(cvss.source)
    if first.severity_source not in seen_sources or not first.severity_source:
        # the severity hullscan reports, as its source rated it (a vendor's own scale)
        ratings.append(
            VulnerabilityRating(
                source=VulnerabilitySource(name=first.severity_source)
                if first.severity_source
                else None,
                severity=VulnerabilitySeverity(SEVERITIES[first.severity]),
                method=VulnerabilityScoreSource.OTHER,
            )
        )
    return ratings


def _analysis(rule: str) -> Any:
    from cyclonedx.model.impact_analysis import (
        ImpactAnalysisJustification,
        ImpactAnalysisResponse,
        ImpactAnalysisState,
    )
    from cyclonedx.model.vulnerability import VulnerabilityAnalysis

    state, justification, responses, detail = analysis_of(rule)
    justified: ImpactAnalysisJustification | None = (
        ImpactAnalysisJustification(justification) if justification else None
    )
    chosen: list[ImpactAnalysisResponse] = [ImpactAnalysisResponse(r) for r in responses]
    analysed: ImpactAnalysisState = ImpactAnalysisState(state)
    return VulnerabilityAnalysis(
        state=analysed, justification=justified, responses=chosen, detail=detail
    )


def _source_of(finding: Finding) -> tuple[str, str]:
    """(name, url) of who published the advisory that matched."""
    name = finding.namespace.partition(":")[0]
    if not name:
        name = identifier(finding.vuln_id)["type"]
    return name, primary_url(finding)


def _vulnerability(findings: list[Finding], ref: str, refs: dict[Package, str]) -> Vulnerability:
    from cyclonedx.model import Property, XsUri
    from cyclonedx.model.impact_analysis import ImpactAnalysisAffectedStatus
    from cyclonedx.model.vulnerability import (
        BomTarget,
        BomTargetVersionRange,
        Vulnerability,
        VulnerabilityAdvisory,
        VulnerabilityReference,
        VulnerabilitySource,
    )

    first = findings[0]
    source_name, source_url = _source_of(first)
    references = []
    for alias in dict.fromkeys(first.aliases):
        if alias == first.vuln_id:
            continue
        ident = identifier(alias)
        url = ident.get("url")
        references.append(
            VulnerabilityReference(
                id=alias,
                source=VulnerabilitySource(
                    name=str(ident["type"]), url=XsUri(url) if isinstance(url, str) else None
                ),
            )
        )
    advisories = [
        VulnerabilityAdvisory(url=XsUri(url))
        for url in dict.fromkeys(first.urls)
        if url.startswith(("https://", "http://"))
    ]
    affects = []
    for finding in findings:
        versions = [
            BomTargetVersionRange(
                version=finding.installed_version, status=ImpactAnalysisAffectedStatus.AFFECTED
            )
        ]
        if finding.fixed_version:
            versions.append(
                BomTargetVersionRange(
                    version=finding.fixed_version, status=ImpactAnalysisAffectedStatus.UNAFFECTED
                )
            )
        affects.append(BomTarget(ref=refs[finding.package], versions=versions))
    props = [("hullscan:status", first.status.value)]
    if first.kev_added:
        props.append(("hullscan:kev:date_added", first.kev_added))
    if first.epss is not None:
        props.append(("hullscan:epss:score", f"{first.epss:g}"))
    if first.epss_percentile is not None:
        props.append(("hullscan:epss:percentile", f"{first.epss_percentile:g}"))
    recommendations = [solution(f) for f in findings]
    cwes = [int(m.group(1)) for m in (_CWE.match(c) for c in first.cwes) if m]
    return Vulnerability(
        bom_ref=ref,
        id=first.vuln_id,
        source=VulnerabilitySource(name=source_name, url=XsUri(source_url) if source_url else None),
        references=references,
        ratings=_ratings(findings),
        cwes=cwes,
        description=first.description or None,
        recommendation="\n".join(dict.fromkeys(recommendations)) or None,
        advisories=advisories,
        analysis=_analysis(first.suppressed_by) if first.suppressed_by else None,
        affects=affects,
        properties=[Property(name=k, value=v) for k, v in props],
    )


def _groups(findings: Iterable[Finding]) -> list[list[Finding]]:
    """Findings of one vulnerability that can share one CycloneDX entry."""
    groups: dict[tuple[str, Severity, str, str, str], list[Finding]] = {}
    for finding in findings:
        key = (
            finding.vuln_id,
            finding.severity,
            finding.severity_source,
            finding.suppressed_by,
            finding.status.value,
        )
        groups.setdefault(key, []).append(finding)
    return list(groups.values())


def to_bom(report: ScanReport, options: ReportOptions) -> Bom:
    """The report as a cyclonedx-python-lib Bom (for callers that add to it)."""
    from cyclonedx.model import Property
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.dependency import Dependency
    from cyclonedx.model.tool import ToolRepository

    _, finished = scan_window(report, options)
    image = _image_component(report)
    tools = ToolRepository(
        components=[
            Component(
                type=ComponentType.APPLICATION,
                name=options.scanner_name,
                version=options.scanner_version,
            )
        ]
    )
    metadata = BomMetaData(
        component=image,
        tools=tools,
        timestamp=finished,
        properties=[
            Property(name=sbom.PROP_WARNING, value=w)
            for w in dict.fromkeys(report.inventory.warnings)
            if w.strip()
        ],
    )
    bom = Bom(serial_number=serial_number(report, options), metadata=metadata)
    refs = _component_refs(report)
    os_component = _os_component(report)
    image_children: list[Component] = []
    os_children: list[Component] = []
    components = []
    for pkg, ref in refs.items():
        component = _package_component(pkg, ref, report)
        components.append(component)
        (os_children if pkg.type.is_os and os_component else image_children).append(component)
    # The dependency graph, built directly: Bom.register_dependency searches the graph on
    # every call, which is quadratic in the number of packages.
    graph = [Dependency(ref=c.bom_ref) for c in (*image_children, *os_children)]
    if os_component is not None:
        components.append(os_component)
        graph.append(
            Dependency(
                ref=os_component.bom_ref,
                dependencies=[Dependency(ref=c.bom_ref) for c in os_children],
            )
        )
        image_children.insert(0, os_component)
    graph.append(
        Dependency(
            ref=image.bom_ref, dependencies=[Dependency(ref=c.bom_ref) for c in image_children]
        )
    )
    bom.components = components
    bom.dependencies = graph
    taken: set[str] = set()
    vulnerabilities = []
    for number, group in enumerate(_groups(sorted_findings(report.findings))):
        first = group[0]
        ref = first.vuln_id if first.vuln_id not in taken else f"{first.vuln_id}#{number}"
        taken.add(ref)
        vulnerabilities.append(_vulnerability(group, ref, refs))
    bom.vulnerabilities = vulnerabilities
    return bom


def render_json(report: ScanReport, options: ReportOptions) -> str:
    """CycloneDX 1.6 JSON; the top-level keys in the spec's order, for people reading it."""
    from cyclonedx.output.json import JsonV1Dot6

    raw: dict[str, Any] = json.loads(JsonV1Dot6(to_bom(report, options)).output_as_string())
    ordered = {key: raw[key] for key in _TOP_LEVEL_ORDER if key in raw}
    ordered.update((key, value) for key, value in raw.items() if key not in ordered)
    return json.dumps(ordered, indent=2, ensure_ascii=False) + "\n"


def render_xml(report: ScanReport, options: ReportOptions) -> str:
    """CycloneDX 1.6 XML."""
    from cyclonedx.output.xml import XmlV1Dot6

    text: str = XmlV1Dot6(to_bom(report, options)).output_as_string(indent=2)
    return text if text.endswith("\n") else text + "\n"


render = render_json
