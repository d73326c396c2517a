"""SPDX 2.3 JSON SBOM (packages only, no vulnerabilities: SPDX 2.3 has no place for them),
built and validated with spdx-tools.

- The document DESCRIBES the image (a package with purpose CONTAINER); the image
  CONTAINS the operating system (purpose OPERATING-SYSTEM) and the language packages;
  the operating system CONTAINS its packages (the layout Trivy uses).
- Each package carries its purl as a PACKAGE-MANAGER external reference, its source
  package as `sourceInfo` ("built package from: glibc 2.36-9", Trivy's spelling), and
  annotations `Key: value` for what SPDX has no field for: LayerDiffID (as Trivy), Path,
  ModularityLabel, Vendor; the image's annotations hold its id, tags and layers. hullscan
  reads all of it back (`hullscan sbom`), so a rescan finds what the scan found.
- SPDX ids are derived from the package identity; documentNamespace and the creation time
  from the scan, so the same scan always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hullscan import sbom
from hullscan.model import Package, ScanReport
from hullscan.report.base import ReportOptions, image_name, package_sort_key, scan_window
from hullscan.report.cyclonedx import image_purl

if TYPE_CHECKING:
    from spdx_tools.spdx.model.annotation import Annotation
    from spdx_tools.spdx.model.document import Document

SPDX_VERSION = "SPDX-2.3"
DEFAULT_FILENAME = "hullscan.spdx.json"
NAMESPACE_ROOT = "https://spdx.org/spdxdocs/"  # the SPDX spec's own pattern for tools

DOCUMENT_ID = "SPDXRef-DOCUMENT"
IMAGE_ID = "SPDXRef-ContainerImage"
OS_ID = "SPDXRef-OperatingSystem"

_NAMESPACE_UUID = uuid.uuid5(uuid.NAMESPACE_URL, "urn:hullscan:spdx")
_ID_CHARS = re.compile(r"[^A-Za-z0-9.-]+")


def _naive_utc(moment: datetime) -> datetime:
    """spdx-tools writes naive datetimes as UTC (`…Z`)."""
    return moment.replace(tzinfo=None, microsecond=0)


def document_namespace(report: ScanReport, options: ReportOptions) -> str:
    """Unique per scan (image and time) and stable for it: SPDX wants one URI per document."""
    _, finished = scan_window(report, options)
    artifact = report.inventory.artifact
    name = image_name(report) or artifact.reference
    key = "\x1f".join((name, artifact.image_id, artifact.manifest_digest, finished.isoformat()))
    slug = _ID_CHARS.sub("-", name).strip("-")[:80] or "image"
    return f"{NAMESPACE_ROOT}{options.scanner_name}-{slug}-{uuid.uuid5(_NAMESPACE_UUID, key)}"


def package_ids(packages: list[Package]) -> dict[Package, str]:
    """SPDXRef-Package-<type>-<name>-<hash>: readable, unique, stable across runs."""
    ids: dict[Package, str] = {}
    taken: set[str] = set()
    for pkg in packages:
        key = "\x1f".join(
            (pkg.type.value, pkg.name, pkg.version, pkg.arch, pkg.purl, pkg.layer, *pkg.paths)
        )
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        name = _ID_CHARS.sub("-", pkg.name).strip("-")[:60] or "package"
        spdx_id = f"SPDXRef-Package-{pkg.type.value}-{name}-{digest}"
        n = 2
        while spdx_id in taken:
            spdx_id = f"SPDXRef-Package-{pkg.type.value}-{name}-{digest}-{n}"
            n += 1
        taken.add(spdx_id)
        ids[pkg] = spdx_id
    return ids


def to_document(report: ScanReport, options: ReportOptions) -> Document:
    """The SBOM as an spdx-tools Document."""
    from spdx_tools.spdx.model.actor import Actor, ActorType
    from spdx_tools.spdx.model.annotation import Annotation, AnnotationType
    from spdx_tools.spdx.model.document import CreationInfo, Document
    from spdx_tools.spdx.model.package import (
        ExternalPackageRef,
        ExternalPackageRefCategory,
        PackagePurpose,
    )
    from spdx_tools.spdx.model.package import Package as SpdxPackage
    from spdx_tools.spdx.model.relationship import Relationship, RelationshipType
    from spdx_tools.spdx.model.spdx_no_assertion import SpdxNoAssertion

    _, finished = scan_window(report, options)
    created = _naive_utc(finished)
    tool = Actor(ActorType.TOOL, f"{options.scanner_name}-{options.scanner_version}")
    inventory = report.inventory
    artifact = inventory.artifact
    name = image_name(report) or artifact.reference
    annotations: list[Annotation] = []

    def annotate(spdx_id: str, key: str, value: str) -> None:
        if value:
            annotations.append(
                Annotation(spdx_id, AnnotationType.OTHER, tool, created, f"{key}: {value}")
            )

    creation = CreationInfo(
        spdx_version=SPDX_VERSION,
        spdx_id=DOCUMENT_ID,
        name=name,
        document_namespace=document_namespace(report, options),
        creators=[tool],
        created=created,
    )
    for warning in dict.fromkeys(inventory.warnings):
        annotate(DOCUMENT_ID, sbom.ANN_WARNING, " ".join(warning.split()))

    image_refs = []
    oci = image_purl(report)
    if oci is not None:
        image_refs.append(
            ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", oci.to_string())
        )
    image = SpdxPackage(
        spdx_id=IMAGE_ID,
        name=name,
        download_location=SpdxNoAssertion(),
        version=artifact.image_id or None,
        files_analyzed=False,
        primary_package_purpose=PackagePurpose.CONTAINER,
        external_references=image_refs,
    )
    annotate(IMAGE_ID, sbom.ANN_REFERENCE, artifact.reference)
    annotate(IMAGE_ID, sbom.ANN_KIND, artifact.kind)
    annotate(IMAGE_ID, sbom.ANN_IMAGE_ID, artifact.image_id)
    annotate(IMAGE_ID, sbom.ANN_MANIFEST_DIGEST, artifact.manifest_digest)
    for tag in artifact.repo_tags:
        annotate(IMAGE_ID, sbom.ANN_REPO_TAG, tag)
    annotate(IMAGE_ID, sbom.ANN_PLATFORM, artifact.platform)
    annotate(IMAGE_ID, sbom.ANN_CREATED, artifact.created)
    for layer in sorted(artifact.layers, key=lambda x: x.index):
        annotate(IMAGE_ID, sbom.ANN_LAYER, sbom.layer_annotation(layer).partition(": ")[2])

    packages = [image]
    relationships = [Relationship(DOCUMENT_ID, RelationshipType.DESCRIBES, IMAGE_ID)]
    distro = inventory.distro
    if distro is not None:
        packages.append(
            SpdxPackage(
                spdx_id=OS_ID,
                name=distro.id,
                download_location=SpdxNoAssertion(),
                version=sbom.os_component_version(distro) or None,
                files_analyzed=False,
                description=distro.pretty_name or None,
                primary_package_purpose=PackagePurpose.OPERATING_SYSTEM,
            )
        )
        annotate(OS_ID, sbom.ANN_CODENAME, distro.codename)
        annotate(OS_ID, sbom.ANN_CHANNEL, distro.channel)
        annotate(OS_ID, sbom.ANN_PRETTY_NAME, distro.pretty_name)
        relationships.append(Relationship(IMAGE_ID, RelationshipType.CONTAINS, OS_ID))

    ordered = sorted(dict.fromkeys(inventory.packages), key=package_sort_key)
    ids = package_ids(ordered)
    for pkg in ordered:
        spdx_id = ids[pkg]
        packages.append(
            SpdxPackage(
                spdx_id=spdx_id,
                name=pkg.name,
                download_location=SpdxNoAssertion(),
                version=pkg.version or None,
                files_analyzed=False,
                supplier=Actor(ActorType.ORGANIZATION, pkg.vendor) if pkg.vendor else None,
                source_info=sbom.source_info(pkg) or None,
                external_references=[
                    ExternalPackageRef(
                        ExternalPackageRefCategory.PACKAGE_MANAGER,
                        "purl",
                        sbom.package_purl(pkg, distro),
                    )
                ],
                primary_package_purpose=PackagePurpose.LIBRARY,
            )
        )
        annotate(spdx_id, sbom.ANN_LAYER_DIFF_ID, pkg.layer)
        for path in sorted(pkg.paths):
            annotate(spdx_id, sbom.ANN_PATH, path)
        annotate(spdx_id, sbom.ANN_MODULARITY_LABEL, pkg.modularity_label)
        parent = OS_ID if pkg.type.is_os and distro is not None else IMAGE_ID
        relationships.append(Relationship(parent, RelationshipType.CONTAINS, spdx_id))
    return Document(
        creation_info=creation,
        packages=packages,
        relationships=relationships,
        annotations=annotations,
    )


def validation_errors(document: Document) -> list[str]:
    """spdx-tools' validation of a whole document (empty when valid); slow for big ones."""
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    messages = validate_full_spdx_document(document, SPDX_VERSION)
    return [str(m.validation_message) for m in messages]


def render(report: ScanReport, options: ReportOptions) -> str:
    """SPDX 2.3 JSON, converted by spdx-tools.

    Not validated here: spdx-tools' validator is quadratic in the number of packages
    (seconds for a few hundred); the tests validate what this writes (`validation_errors`).
    Its converter finds each package's annotations by scanning all of them, also
    quadratic, so the annotations are converted one by one and attached here, where the
    converter would have put them.
    """
    from spdx_tools.spdx.jsonschema.annotation_converter import AnnotationConverter
    from spdx_tools.spdx.jsonschema.document_converter import DocumentConverter
    from spdx_tools.spdx.model.document import Document
    from spdx_tools.spdx.writer.write_utils import convert

    document = to_document(report, options)
    bare = Document(
        creation_info=document.creation_info,
        packages=document.packages,
        relationships=document.relationships,
    )
    converter = DocumentConverter()  # type: ignore[no-untyped-call]
    data: dict[str, Any] = convert(bare, converter)
    annotation_converter = AnnotationConverter()
    notes: dict[str, list[Any]] = {}
    for annotation in document.annotations:
        notes.setdefault(annotation.spdx_id, []).append(annotation_converter.convert(annotation))
    data = _with_annotations(data, notes.pop(DOCUMENT_ID, []))
    data["packages"] = [
        _with_annotations(package, notes.get(package["SPDXID"], []))
        for package in data.get("packages", [])
    ]
    _spec_spellings(data)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _with_annotations(element: dict[str, Any], annotations: list[Any]) -> dict[str, Any]:
    """The element with its annotations after its SPDXID, as spdx-tools places them."""
    if not annotations:
        return element
    result: dict[str, Any] = {}
    for key, value in element.items():
        result[key] = value
        if key == "SPDXID":
            result["annotations"] = annotations
    return result


def _spec_spellings(data: dict[str, Any]) -> None:
    """Enum values as the SPDX 2.3 specification (and its fixed JSON schema, and Trivy)
    spell them: OPERATING-SYSTEM, PACKAGE-MANAGER. spdx-tools 0.8 writes underscores
    (spdx/tools-python#827), which the 2.3 schema rejects for the purpose."""
    for package in data.get("packages", []):
        purpose = package.get("primaryPackagePurpose")
        if isinstance(purpose, str):
            package["primaryPackagePurpose"] = purpose.replace("_", "-")
        for ref in package.get("externalRefs", []):
            ref["referenceCategory"] = str(ref.get("referenceCategory", "")).replace("_", "-")
