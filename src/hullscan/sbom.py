"""SBOMs in: CycloneDX (JSON, XML), SPDX 2.x JSON or hullscan JSON -> an Inventory.

The Inventory is the seam between indexing and matching (DESIGN.md), so scanning an SBOM
is reading it into an Inventory and matching that as if the image had been indexed. This
module also holds the vocabulary hullscan's own SBOM writers (report.cyclonedx,
report.spdx) use for what the standards have no field for (source package, layer, package
DB paths, the image's layers), so that an SBOM written by hullscan and scanned back gives
the same findings as the image it describes.

Packages come from purls (packageurl-python): type, namespace, name, version, and the
qualifiers `arch`, `distro`, `epoch` (rpm), `upstream` (source package, in the Debian,
Syft or Red Hat spelling) and `rpmmod` (rpm module). The distro comes from the SBOM's
operating-system component (CycloneDX) or package (SPDX), else from the purls' `distro`
qualifier. Trivy's and Syft's own properties (layer, source package) are read too, so
their SBOMs scan as well as ours. Components without a purl of a supported ecosystem are
skipped, with one warning that counts them.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

from packageurl import PackageURL

from hullscan.distros import DEBIAN_CODENAMES, DEBIAN_UNSTABLE, UBUNTU_CODENAMES
from hullscan.errors import SourceError
from hullscan.model import ArtifactInfo, Distro, Inventory, Layer, Package, PackageType
from hullscan.purl import VENDOR_IDS, join_name, purl_for

KIND = "sbom"
"""ArtifactInfo.kind of an inventory read from an SBOM."""

FORMATS = ("cyclonedx-json", "cyclonedx-xml", "spdx-json", "hullscan-json")
"""What `detect_format` recognises."""

# --- vocabulary of hullscan's SBOMs (CycloneDX property names, SPDX annotation keys) -------

TOOL_NAME = "hullscan"

#: CycloneDX properties of the image (metadata.component); layers are `hullscan:layer:<i>:<field>`
PROP_IMAGE_REFERENCE = "hullscan:image:reference"
PROP_IMAGE_KIND = "hullscan:image:kind"
PROP_IMAGE_ID = "hullscan:image:id"
PROP_IMAGE_MANIFEST_DIGEST = "hullscan:image:manifest_digest"
PROP_IMAGE_REPO_TAG = "hullscan:image:repo_tag"
PROP_IMAGE_PLATFORM = "hullscan:image:platform"
PROP_IMAGE_CREATED = "hullscan:image:created"
PROP_LAYER_PREFIX = "hullscan:layer:"
LAYER_FIELDS = ("diff_id", "digest", "media_type", "size", "created_by")
#: CycloneDX properties of the operating-system component
PROP_DISTRO_CODENAME = "hullscan:distro:codename"
PROP_DISTRO_CHANNEL = "hullscan:distro:channel"
PROP_DISTRO_PRETTY_NAME = "hullscan:distro:pretty_name"
#: CycloneDX properties of a package component
PROP_SOURCE_NAME = "hullscan:package:source_name"
PROP_SOURCE_VERSION = "hullscan:package:source_version"
PROP_LAYER = "hullscan:package:layer"
PROP_PATH = "hullscan:package:path"
PROP_MODULARITY_LABEL = "hullscan:package:modularity_label"
PROP_VENDOR = "hullscan:package:vendor"
#: CycloneDX property of the BOM (metadata.properties): a warning from indexing
PROP_WARNING = "hullscan:inventory:warning"

#: SPDX annotation comments are `Key: value`; these keys (LayerDiffID as Trivy spells it)
ANN_REFERENCE = "Reference"
ANN_KIND = "Kind"
ANN_IMAGE_ID = "ImageID"
ANN_MANIFEST_DIGEST = "ManifestDigest"
ANN_REPO_TAG = "RepoTag"
ANN_PLATFORM = "Platform"
ANN_CREATED = "Created"
ANN_LAYER = "Layer"  # a JSON object with LAYER_FIELDS and index
ANN_CODENAME = "Codename"
ANN_CHANNEL = "Channel"
ANN_PRETTY_NAME = "PrettyName"
ANN_LAYER_DIFF_ID = "LayerDiffID"
ANN_PATH = "Path"
ANN_MODULARITY_LABEL = "ModularityLabel"
ANN_VENDOR = "Vendor"
ANN_WARNING = "Warning"
#: SPDX sourceInfo of a package built from a source package (Trivy's spelling)
SOURCE_INFO_PREFIX = "built package from: "

# Foreign producers' properties worth reading.
_TRIVY = "aquasecurity:trivy:"
_SYFT_LAYER = re.compile(r"^syft:location:\d+:layerID$")
_SYFT_PATH = re.compile(r"^syft:location:\d+:path$")

_PURL_TYPES = {t.value: t for t in PackageType}

#: OS names tools write instead of the os-release ID
_OS_NAMES = {
    "debian gnu/linux": "debian",
    "alpine linux": "alpine",
    "red hat enterprise linux": "rhel",
    "redhat": "rhel",
    "red hat": "rhel",
    "centos linux": "centos",
    "centos stream": "centos",
    "amazon linux": "amzn",
    "amazon": "amzn",
    "oracle linux": "ol",
    "oracle linux server": "ol",
    "rocky linux": "rocky",
    "almalinux": "almalinux",
    "ubuntu": "ubuntu",
    "wolfi": "wolfi",
}
_DISTRO_QUALIFIER = re.compile(r"^(?P<id>[a-z][a-z0-9._-]*?)-(?P<release>\d.*|[a-z]+)$")
_CDX_NS = re.compile(r"^\{http://cyclonedx\.org/schema/bom/(?P<version>[\d.]+)\}bom$")


# --- writing helpers shared by report.cyclonedx and report.spdx ----------------------------


def package_purl(pkg: Package, distro: Distro | None) -> str:
    """The package's purl, or one made per the purl-spec types when the analyzer set none."""
    return pkg.purl or purl_for(pkg, distro)


def layer_properties(layer: Layer) -> list[tuple[str, str]]:
    """The CycloneDX properties that describe one image layer."""
    values = {
        "diff_id": layer.diff_id,
        "digest": layer.digest,
        "media_type": layer.media_type,
        "size": str(layer.size) if layer.size else "",
        "created_by": layer.created_by,
    }
    return [
        (f"{PROP_LAYER_PREFIX}{layer.index}:{key}", values[key])
        for key in LAYER_FIELDS
        if values[key]
    ]


def layer_annotation(layer: Layer) -> str:
    """The SPDX annotation comment that describes one image layer."""
    data: dict[str, object] = {"index": layer.index, "diff_id": layer.diff_id}
    for key, value in (
        ("digest", layer.digest),
        ("media_type", layer.media_type),
        ("size", layer.size),
        ("created_by", layer.created_by),
    ):
        if value:
            data[key] = value
    return f"{ANN_LAYER}: {json.dumps(data, ensure_ascii=False, sort_keys=True)}"


def source_info(pkg: Package) -> str:
    """SPDX sourceInfo naming the source package, or "" when the package is its own."""
    if not pkg.source_name:
        return ""
    text = f"{SOURCE_INFO_PREFIX}{pkg.source_name}"
    return f"{text} {pkg.source_version}" if pkg.source_version else text


# --- reading ---------------------------------------------------------------------------------


def read_sbom(path: str | PathLike[str]) -> Inventory:
    """Read an SBOM file into an Inventory; SourceError when it cannot be read or understood.

    `artifact.reference` is the path as given and `artifact.kind` is "sbom"; the image the
    SBOM describes keeps its names in `repo_tags` (first: the reference it was scanned by),
    so reports and per-image whitelist entries still name the image.
    """
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read SBOM {path}: {exc.strerror or exc}") from None
    return parse_sbom(data, str(path))


def parse_sbom(data: str | bytes, reference: str = "<sbom>") -> Inventory:
    """An Inventory from the text of an SBOM; `reference` names it in messages and reports."""
    text = _decode(data, reference)
    kind, document = _load(text, reference)
    if kind == "cyclonedx-json":
        return _CycloneDxReader(reference).read_json(document)
    if kind == "cyclonedx-xml":
        return _CycloneDxReader(reference).read_xml(document)
    if kind == "spdx-json":
        return _SpdxReader(reference).read(document)
    return _read_hullscan(document, reference)


def detect_format(data: str | bytes) -> str:
    """One of FORMATS; SourceError when the text is none of them."""
    return _load(_decode(data, "<sbom>"), "<sbom>")[0]


def image_reference(inventory: Inventory) -> str:
    """The name of the image an SBOM inventory describes: what to match whitelist `images:`
    keys against (`apply_policy(..., image_ref)`); the SBOM path when it names no image."""
    artifact = inventory.artifact
    return next((tag for tag in artifact.repo_tags if tag), "") or artifact.reference


def _decode(data: str | bytes, reference: str) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SourceError(f"{reference}: not a text file (an SBOM is UTF-8 JSON or XML)") from None


def _load(text: str, reference: str) -> tuple[str, Any]:
    """(format, parsed document)."""
    stripped = text.lstrip()
    supported = "CycloneDX JSON or XML, SPDX 2.x JSON, or a hullscan JSON report"
    if stripped.startswith("<"):
        try:
            root = ET.fromstring(stripped)
        except ET.ParseError as exc:
            raise SourceError(f"{reference}: invalid XML: {exc}") from None
        if not _CDX_NS.match(root.tag):
            raise SourceError(f"{reference}: XML but not a CycloneDX BOM; supported: {supported}")
        return "cyclonedx-xml", root
    if stripped.startswith("SPDXVersion:"):
        raise SourceError(
            f"{reference}: SPDX tag-value is not supported; convert it to SPDX JSON "
            "(e.g. `pyspdxtools -i FILE -o FILE.spdx.json`)"
        )
    try:
        document = json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise SourceError(
            f"{reference}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    if isinstance(document, dict):
        if document.get("bomFormat") == "CycloneDX":
            return "cyclonedx-json", document
        version = document.get("spdxVersion")
        if isinstance(version, str) and version.startswith("SPDX-2."):
            return "spdx-json", document
        if isinstance(version, str) or "@context" in document:
            raise SourceError(f"{reference}: {version or 'SPDX 3'} is not supported; use SPDX 2.x")
        if {"schema_version", "artifact", "packages"} <= document.keys():
            return "hullscan-json", document
    raise SourceError(f"{reference}: not a recognised SBOM; supported: {supported}")


@dataclass
class _Skipped:
    """Components that did not become packages, counted for one warning."""

    by_reason: Counter[str] = field(default_factory=Counter)

    def add(self, reason: str) -> None:
        self.by_reason[reason] += 1

    def warning(self, reference: str) -> list[str]:
        if not self.by_reason:
            return []
        total = sum(self.by_reason.values())
        detail = ", ".join(f"{reason}: {n}" for reason, n in sorted(self.by_reason.items()))
        return [
            f"{reference}: {total} component(s) skipped, not matchable ({detail}); "
            "their vulnerabilities are not reported"
        ]


@dataclass(frozen=True)
class PackageFacts:
    """What an SBOM says about a package besides its purl (None: not said)."""

    name: str | None = None
    version: str | None = None
    source_name: str | None = None
    source_version: str | None = None
    layer: str = ""
    paths: tuple[str, ...] = ()
    modularity_label: str = ""
    vendor: str = ""


def package_from_purl(purl: str, facts: PackageFacts | None = None) -> Package | str:
    """A Package from a purl and what else the SBOM says, or why it cannot be one."""
    facts = facts or PackageFacts()
    try:
        parsed = PackageURL.from_string(purl)
    except ValueError:
        return "invalid purl"
    kind = _PURL_TYPES.get(parsed.type)
    if kind is None:
        return f"purl type {parsed.type}"
    qualifiers = _qualifiers(parsed)
    name = facts.name or join_name(kind, parsed.namespace or "", parsed.name)
    version = (
        facts.version if facts.version is not None else _purl_version(kind, parsed, qualifiers)
    )
    if not version:
        return "no version"
    source_name, source_version = _upstream(kind, qualifiers.get("upstream", ""), qualifiers)
    if facts.source_name is not None:
        source_name = facts.source_name
    if facts.source_version is not None:
        source_version = facts.source_version
    if kind.is_os:
        # as the analyzers do: a package without a separate source is its own source
        source_name = source_name or name
        source_version = source_version or version
    return Package(
        name=name,
        version=version,
        type=kind,
        arch=qualifiers.get("arch", ""),
        source_name=source_name,
        source_version=source_version,
        purl=purl,
        layer=facts.layer,
        paths=facts.paths,
        modularity_label=facts.modularity_label or qualifiers.get("rpmmod", ""),
        vendor=facts.vendor,
    )


def _qualifiers(parsed: PackageURL) -> dict[str, str]:
    raw = parsed.qualifiers
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items() if v is not None}
    return {}


def _purl_version(kind: PackageType, parsed: PackageURL, qualifiers: Mapping[str, str]) -> str:
    version = str(parsed.version or "")
    epoch = qualifiers.get("epoch", "")
    if kind is PackageType.RPM and epoch and epoch != "0" and ":" not in version:
        return f"{epoch}:{version}"
    return version


_SRC_RPM = re.compile(r"^(?P<name>.+)-(?P<version>[^-]+)-(?P<release>[^-]+)\.src\.rpm$")


def _upstream(kind: PackageType, value: str, qualifiers: Mapping[str, str]) -> tuple[str, str]:
    """(source name, source version) from a purl `upstream` qualifier, in its spellings:
    `glibc` (Debian, purl-spec), `glibc@2.36-9` (Syft), `openssl-3.0.7-24.el9.src.rpm`
    (Red Hat; the source rpm's file name has no epoch, so the binary's is used)."""
    if not value:
        return "", ""
    if kind is PackageType.RPM:
        match = _SRC_RPM.match(value)
        if match:
            epoch = qualifiers.get("epoch", "")
            prefix = f"{epoch}:" if epoch and epoch != "0" else ""
            return match["name"], f"{prefix}{match['version']}-{match['release']}"
    name, _, version = value.partition("@")
    return name, version


def distro_from_release(distro_id: str, release: str) -> Distro:
    """A Distro from an ID and whatever release string an SBOM gives (number or codename)."""
    distro_id = distro_id.strip().lower()
    distro_id = _OS_NAMES.get(distro_id, distro_id)
    release = release.strip()
    lowered = release.lower()
    if not release:
        return Distro(id=distro_id)
    if release[0].isdigit():
        return Distro(id=distro_id, version_id=release)
    if distro_id == "debian":
        if lowered == DEBIAN_UNSTABLE:
            return Distro(id=distro_id, codename=lowered, channel=lowered)
        if lowered == "testing":
            return Distro(id=distro_id, channel="testing")
        if lowered in DEBIAN_CODENAMES:
            return Distro(id=distro_id, codename=lowered)
    if distro_id == "ubuntu" and lowered in UBUNTU_CODENAMES:
        return Distro(id=distro_id, codename=lowered)
    if lowered in ("edge", "rolling", "stream"):
        return Distro(id=distro_id, channel=lowered)
    return Distro(id=distro_id, codename=lowered)


def os_component_version(distro: Distro) -> str:
    """The version hullscan's SBOMs give the OS: its number, else its codename or channel."""
    return distro.version_id or distro.codename or distro.channel


def exact_distro(distro_id: str, version: str, codename: str, channel: str, pretty: str) -> Distro:
    """The Distro hullscan wrote (see os_component_version) from what it wrote."""
    version_id = "" if version and version in (codename, channel) else version
    return Distro(
        id=distro_id, version_id=version_id, codename=codename, pretty_name=pretty, channel=channel
    )


def distro_from_purl(purl: str) -> Distro | None:
    """The distro an OS package purl names (`distro` qualifier, else its namespace)."""
    try:
        parsed = PackageURL.from_string(purl)
    except ValueError:
        return None
    kind = _PURL_TYPES.get(parsed.type)
    if kind is None or not kind.is_os:
        return None
    vendor = (parsed.namespace or "").lower()
    vendor_id = VENDOR_IDS.get(vendor, vendor)
    value = _qualifiers(parsed).get("distro", "").strip().lower()
    match = _DISTRO_QUALIFIER.match(value)
    if match:
        return distro_from_release(match["id"], match["release"])
    if value and vendor_id:  # `distro=3.19.0`: only the release
        return distro_from_release(vendor_id, value)
    return distro_from_release(vendor_id, "") if vendor_id else None


def _common_distro(packages: Iterable[Package]) -> Distro | None:
    """The distro most OS packages' purls name."""
    counts: Counter[Distro] = Counter()
    for pkg in packages:
        if pkg.type.is_os:
            distro = distro_from_purl(pkg.purl)
            if distro is not None:
                counts[distro] += 1
    if not counts:
        return None
    # most packages, then the most specific (a version beats none), then stable order
    return max(counts, key=lambda d: (counts[d], bool(d.version_id), repr(d)))


def _strip_slash(path: str) -> str:
    return path.lstrip("/")


# --- CycloneDX ---------------------------------------------------------------------------


@dataclass
class _Component:
    """A CycloneDX component, whichever serialisation it came from."""

    type: str
    name: str
    version: str
    purl: str
    properties: list[tuple[str, str]]
    bom_ref: str = ""

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.properties if k == name]

    def value(self, name: str) -> str:
        found = self.values(name)
        return found[0] if found else ""


class _CycloneDxReader:
    def __init__(self, reference: str) -> None:
        self.reference = reference
        self.skipped = _Skipped()

    # JSON ------------------------------------------------------------------------------
    def read_json(self, document: Mapping[str, Any]) -> Inventory:
        metadata = document.get("metadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        image = metadata.get("component")
        components = list(self._json_components(document.get("components")))
        return self._inventory(
            image=self._json_component(image) if isinstance(image, dict) else None,
            components=components,
            bom_properties=_json_properties(metadata.get("properties")),
            ours=_json_tool_names(metadata.get("tools")),
        )

    def _json_components(self, items: Any) -> Iterator[_Component]:
        if not isinstance(items, list):
            return
        for item in items:
            if isinstance(item, dict):
                yield self._json_component(item)
                yield from self._json_components(item.get("components"))

    @staticmethod
    def _json_component(item: Mapping[str, Any]) -> _Component:
        return _Component(
            type=str(item.get("type") or ""),
            name=str(item.get("name") or ""),
            version=str(item.get("version") or ""),
            purl=str(item.get("purl") or ""),
            properties=_json_properties(item.get("properties")),
            bom_ref=str(item.get("bom-ref") or ""),
        )

    # XML -------------------------------------------------------------------------------
    def read_xml(self, root: ET.Element) -> Inventory:
        ns = root.tag[: root.tag.index("}") + 1]
        metadata = root.find(f"{ns}metadata")
        image = metadata.find(f"{ns}component") if metadata is not None else None
        components_el = root.find(f"{ns}components")
        components = list(self._xml_components(components_el, ns))
        tools: set[str] = set()
        bom_properties: list[tuple[str, str]] = []
        if metadata is not None:
            for tool in metadata.iterfind(f"{ns}tools//{ns}name"):
                tools.add((tool.text or "").strip().lower())
            bom_properties = _xml_properties(metadata, ns)
        return self._inventory(
            image=self._xml_component(image, ns) if image is not None else None,
            components=components,
            bom_properties=bom_properties,
            ours=tools,
        )

    def _xml_components(self, parent: ET.Element | None, ns: str) -> Iterator[_Component]:
        if parent is None:
            return
        for element in parent.findall(f"{ns}component"):
            yield self._xml_component(element, ns)
            yield from self._xml_components(element.find(f"{ns}components"), ns)

    @staticmethod
    def _xml_component(element: ET.Element, ns: str) -> _Component:
        def text(tag: str) -> str:
            found = element.find(f"{ns}{tag}")
            return (found.text or "").strip() if found is not None else ""

        return _Component(
            type=element.get("type", ""),
            name=text("name"),
            version=text("version"),
            purl=text("purl"),
            properties=_xml_properties(element, ns),
            bom_ref=element.get("bom-ref", ""),
        )

    # common ----------------------------------------------------------------------------
    def _inventory(
        self,
        image: _Component | None,
        components: Sequence[_Component],
        bom_properties: Sequence[tuple[str, str]],
        ours: set[str],
    ) -> Inventory:
        trusted = TOOL_NAME in ours  # our own names and versions are exact
        packages: list[Package] = []
        os_components: list[_Component] = []
        for component in components:
            if component.type == "operating-system":
                os_components.append(component)
                continue
            if not component.purl:
                if component.type in ("library", "application", "framework"):
                    self.skipped.add("no purl")
                continue
            made = package_from_purl(component.purl, self._facts(component, trusted))
            if isinstance(made, str):
                self.skipped.add(made)
            else:
                packages.append(made)
        distro = self._distro(os_components, trusted) or _common_distro(packages)
        warnings = [v for k, v in bom_properties if k == PROP_WARNING]
        return Inventory(
            artifact=self._artifact(image, trusted),
            distro=distro,
            packages=tuple(packages),
            warnings=tuple(warnings + self.skipped.warning(self.reference)),
        )

    @staticmethod
    def _facts(component: _Component, trusted: bool) -> PackageFacts:
        props = component.properties
        get = component.value
        layer = get(PROP_LAYER) or get(_TRIVY + "LayerDiffID")
        if not layer:
            layer = next((v for k, v in props if _SYFT_LAYER.match(k)), "")
        paths = component.values(PROP_PATH) or [v for k, v in props if _SYFT_PATH.match(k)]
        source_name: str | None = None
        source_version: str | None = None
        if any(k == PROP_SOURCE_NAME for k, _ in props):
            source_name = get(PROP_SOURCE_NAME)
        elif get(_TRIVY + "SrcName"):
            source_name = get(_TRIVY + "SrcName")
        if any(k == PROP_SOURCE_VERSION for k, _ in props):
            source_version = get(PROP_SOURCE_VERSION)
        elif get(_TRIVY + "SrcVersion"):
            source_version = _trivy_source_version(component)
        return PackageFacts(
            name=component.name if trusted and component.name else None,
            version=component.version if trusted and component.version else None,
            source_name=source_name,
            source_version=source_version,
            layer=layer,
            paths=tuple(sorted({_strip_slash(p) for p in paths if p})),
            modularity_label=get(PROP_MODULARITY_LABEL),
            vendor=get(PROP_VENDOR),
        )

    @staticmethod
    def _distro(components: Sequence[_Component], trusted: bool) -> Distro | None:
        if not components:
            return None
        component = components[0]
        get = component.value
        distro_id = get("syft:distro:id") or component.name
        if not distro_id:
            return None
        if trusted:
            return exact_distro(
                distro_id,
                component.version,
                get(PROP_DISTRO_CODENAME),
                get(PROP_DISTRO_CHANNEL),
                get(PROP_DISTRO_PRETTY_NAME),
            )
        distro = distro_from_release(distro_id, get("syft:distro:versionID") or component.version)
        return Distro(
            id=distro.id,
            version_id=distro.version_id,
            codename=get("syft:distro:versionCodename") or distro.codename,
            pretty_name=get("syft:distro:prettyName"),
            channel=distro.channel,
        )

    def _artifact(self, image: _Component | None, trusted: bool) -> ArtifactInfo:
        if image is None:
            return ArtifactInfo(reference=self.reference, kind=KIND)
        get = image.value
        # ours: the name reports showed first (the component's), then the tags. Trivy names
        # the component after what it scanned (maybe a tar path): its Reference comes first.
        tags = [*image.values(_TRIVY + "Reference"), *image.values(_TRIVY + "RepoTag")]
        tags = [image.name, *tags] if trusted else [*tags, image.name]
        tags += image.values(PROP_IMAGE_REPO_TAG)
        image_id = get(PROP_IMAGE_ID) or get(_TRIVY + "ImageID")
        if not image_id and image.version.startswith("sha256:"):
            image_id = image.version
        return ArtifactInfo(
            reference=self.reference,
            kind=KIND,
            image_id=image_id,
            manifest_digest=get(PROP_IMAGE_MANIFEST_DIGEST),
            repo_tags=tuple(dict.fromkeys(t for t in tags if t)),
            platform=get(PROP_IMAGE_PLATFORM),
            created=get(PROP_IMAGE_CREATED),
            layers=_layers_from_properties(image.properties)
            or _trivy_layers(image.values(_TRIVY + "DiffID")),
        )


def _trivy_source_version(component: _Component) -> str:
    """Trivy's SrcEpoch/SrcVersion/SrcRelease as one `[epoch:]version[-release]`."""
    get = component.value
    version = get(_TRIVY + "SrcVersion")
    release = get(_TRIVY + "SrcRelease")
    epoch = get(_TRIVY + "SrcEpoch")
    text = f"{version}-{release}" if release else version
    return f"{epoch}:{text}" if epoch and epoch != "0" else text


def _layers_from_properties(properties: Sequence[tuple[str, str]]) -> tuple[Layer, ...]:
    fields: dict[int, dict[str, str]] = {}
    for key, value in properties:
        if not key.startswith(PROP_LAYER_PREFIX):
            continue
        position, _, name = key[len(PROP_LAYER_PREFIX) :].partition(":")
        if position.isdigit() and name in LAYER_FIELDS:
            fields.setdefault(int(position), {})[name] = value
    layers = []
    for index in sorted(fields):
        values = fields[index]
        if not values.get("diff_id"):
            continue
        size = values.get("size", "")
        layers.append(
            Layer(
                index=index,
                diff_id=values["diff_id"],
                digest=values.get("digest", ""),
                media_type=values.get("media_type", ""),
                size=int(size) if size.isdigit() else 0,
                created_by=values.get("created_by", ""),
            )
        )
    return tuple(layers)


def _trivy_layers(diff_ids: Sequence[str]) -> tuple[Layer, ...]:
    return tuple(Layer(index=i, diff_id=d) for i, d in enumerate(diff_ids) if d)


def _json_properties(items: Any) -> list[tuple[str, str]]:
    if not isinstance(items, list):
        return []
    return [
        (str(item.get("name") or ""), str(item.get("value") or ""))
        for item in items
        if isinstance(item, dict)
    ]


def _xml_properties(element: ET.Element, ns: str) -> list[tuple[str, str]]:
    properties = element.find(f"{ns}properties")
    if properties is None:
        return []
    return [(p.get("name", ""), p.text or "") for p in properties.findall(f"{ns}property")]


def _json_tool_names(tools: Any) -> set[str]:
    """Names of the tools that made a BOM (1.5+ `tools.components`, or the 1.4 list)."""
    items: list[Any] = []
    if isinstance(tools, list):
        items = tools
    elif isinstance(tools, dict):
        for key in ("components", "services"):
            value = tools.get(key)
            if isinstance(value, list):
                items.extend(value)
    return {str(t.get("name") or "").lower() for t in items if isinstance(t, dict)}


# --- SPDX ------------------------------------------------------------------------------------


class _SpdxReader:
    def __init__(self, reference: str) -> None:
        self.reference = reference
        self.skipped = _Skipped()

    def read(self, document: Mapping[str, Any]) -> Inventory:
        creation = document.get("creationInfo")
        creators = creation.get("creators", []) if isinstance(creation, dict) else []
        trusted = any(
            isinstance(c, str) and c.lower().startswith(f"tool: {TOOL_NAME}-") for c in creators
        )
        packages_raw = [p for p in document.get("packages") or [] if isinstance(p, dict)]
        notes = self._notes(document, packages_raw)
        described = {
            str(r.get("relatedSpdxElement"))
            for r in document.get("relationships") or []
            if isinstance(r, dict)
            and r.get("relationshipType") == "DESCRIBES"
            and r.get("spdxElementId") == "SPDXRef-DOCUMENT"
        }
        described.update(str(d) for d in document.get("documentDescribes") or [])
        image: dict[str, Any] | None = None
        os_package: dict[str, Any] | None = None
        packages: list[Package] = []
        for raw in packages_raw:
            spdx_id = str(raw.get("SPDXID") or "")
            purpose = str(raw.get("primaryPackagePurpose") or "")
            if purpose == "CONTAINER" or (
                image is None and spdx_id.startswith("SPDXRef-Container")
            ):
                image = raw
                continue
            if purpose in ("OPERATING-SYSTEM", "OPERATING_SYSTEM") or spdx_id.startswith(
                "SPDXRef-OperatingSystem"
            ):
                os_package = os_package or raw
                continue
            purl = _spdx_purl(raw)
            if not purl:
                if spdx_id not in described:
                    self.skipped.add("no purl")
                continue
            made = package_from_purl(purl, self._facts(raw, notes.get(spdx_id, {}), trusted))
            if isinstance(made, str):
                self.skipped.add(made)
            else:
                packages.append(made)
        if image is None:
            image = next(
                (
                    p
                    for p in packages_raw
                    if str(p.get("SPDXID")) in described and not _spdx_purl(p)
                ),
                None,
            )
        distro = None
        if os_package is not None and os_package.get("name"):
            distro = self._distro(os_package, notes.get(str(os_package.get("SPDXID")), {}), trusted)
        warnings = notes.get("SPDXRef-DOCUMENT", {}).get(ANN_WARNING, [])
        return Inventory(
            artifact=self._artifact(image, notes, trusted),
            distro=distro or _common_distro(packages),
            packages=tuple(packages),
            warnings=tuple(warnings + self.skipped.warning(self.reference)),
        )

    @staticmethod
    def _notes(
        document: Mapping[str, Any], packages: Sequence[Mapping[str, Any]]
    ) -> dict[str, dict[str, list[str]]]:
        """SPDX id -> annotation/attribution key -> values (`Key: value` comments)."""
        notes: dict[str, dict[str, list[str]]] = {}

        def add(spdx_id: str, text: Any) -> None:
            if not isinstance(text, str):
                return
            key, sep, value = text.partition(": ")
            if sep and key and " " not in key:
                notes.setdefault(spdx_id, {}).setdefault(key, []).append(value)

        for annotation in document.get("annotations") or []:
            if isinstance(annotation, dict):
                add(
                    str(annotation.get("spdxElementId") or "SPDXRef-DOCUMENT"),
                    annotation.get("comment"),
                )
        for package in packages:
            spdx_id = str(package.get("SPDXID") or "")
            for annotation in package.get("annotations") or []:
                if isinstance(annotation, dict):
                    add(spdx_id, annotation.get("comment"))
            for text in package.get("attributionTexts") or []:
                add(spdx_id, text)
        return notes

    @staticmethod
    def _facts(
        raw: Mapping[str, Any], notes: Mapping[str, list[str]], trusted: bool
    ) -> PackageFacts:
        def first(key: str) -> str:
            values = notes.get(key)
            return values[0] if values else ""

        source_name: str | None = None
        source_version: str | None = None
        info = raw.get("sourceInfo")
        if isinstance(info, str) and info.startswith(SOURCE_INFO_PREFIX):
            name, _, version = info[len(SOURCE_INFO_PREFIX) :].strip().partition(" ")
            source_name, source_version = name, version.strip()
        supplier = raw.get("supplier")
        vendor = first(ANN_VENDOR)
        if not vendor and trusted and isinstance(supplier, str):
            vendor = supplier.partition(": ")[2] if supplier.startswith("Organization: ") else ""
        raw_name = raw.get("name")
        raw_version = raw.get("versionInfo")
        return PackageFacts(
            name=str(raw_name) if trusted and raw_name else None,
            version=str(raw_version) if trusted and raw_version else None,
            source_name=source_name,
            source_version=source_version,
            layer=first(ANN_LAYER_DIFF_ID),
            paths=tuple(sorted({_strip_slash(p) for p in notes.get(ANN_PATH, []) if p})),
            modularity_label=first(ANN_MODULARITY_LABEL),
            vendor=vendor,
        )

    @staticmethod
    def _distro(raw: Mapping[str, Any], notes: Mapping[str, list[str]], trusted: bool) -> Distro:
        name = str(raw.get("name") or "")
        version = str(raw.get("versionInfo") or "")
        if trusted:
            return exact_distro(
                name,
                version,
                *(
                    (notes.get(key) or [""])[0]
                    for key in (ANN_CODENAME, ANN_CHANNEL, ANN_PRETTY_NAME)
                ),
            )
        return distro_from_release(name, version)

    def _artifact(
        self,
        image: Mapping[str, Any] | None,
        notes: Mapping[str, Mapping[str, list[str]]],
        trusted: bool,
    ) -> ArtifactInfo:
        if image is None:
            return ArtifactInfo(reference=self.reference, kind=KIND)
        mine = notes.get(str(image.get("SPDXID")), {})

        def first(key: str) -> str:
            values = mine.get(key)
            return values[0] if values else ""

        # ours: the package is named as reports named the image; Trivy names it after what
        # it scanned (maybe a tar path) and keeps the image reference in `Reference`
        name = str(image.get("name") or "")
        if trusted:
            tags = [name, *mine.get(ANN_REPO_TAG, [])]
        else:
            tags = [*mine.get(ANN_REFERENCE, []), *mine.get(ANN_REPO_TAG, []), name]
        image_id = first(ANN_IMAGE_ID)
        version = str(image.get("versionInfo") or "")
        if not image_id and version.startswith("sha256:"):
            image_id = version
        layers: list[Layer] = []
        for text in mine.get(ANN_LAYER, []):
            layer = _layer_from_json(text)
            if layer is not None:
                layers.append(layer)
        if not layers:
            layers = list(_trivy_layers(mine.get("DiffID", [])))
        return ArtifactInfo(
            reference=self.reference,
            kind=KIND,
            image_id=image_id,
            manifest_digest=first(ANN_MANIFEST_DIGEST),
            repo_tags=tuple(dict.fromkeys(t for t in tags if t)),
            platform=first(ANN_PLATFORM),
            created=first(ANN_CREATED),
            layers=tuple(sorted(layers, key=lambda x: x.index)),
        )


def _spdx_purl(raw: Mapping[str, Any]) -> str:
    for ref in raw.get("externalRefs") or []:
        if isinstance(ref, dict) and ref.get("referenceType") == "purl":
            locator = ref.get("referenceLocator")
            if isinstance(locator, str) and locator:
                return locator
    return ""


def _layer_from_json(text: str) -> Layer | None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("diff_id"), str):
        return None
    index = data.get("index")
    size = data.get("size")
    return Layer(
        index=index if isinstance(index, int) else 0,
        diff_id=data["diff_id"],
        digest=str(data.get("digest") or ""),
        media_type=str(data.get("media_type") or ""),
        size=size if isinstance(size, int) else 0,
        created_by=str(data.get("created_by") or ""),
    )


# --- hullscan JSON ---------------------------------------------------------------------------


def _read_hullscan(document: Mapping[str, Any], reference: str) -> Inventory:
    """The inventory half of a hullscan JSON report (docs/json-report.md), for a rescan."""
    if not isinstance(document.get("schema_version"), int) or document["schema_version"] > 1:
        raise SourceError(
            f"{reference}: hullscan JSON schema_version {document.get('schema_version')!r} "
            "is not supported (this hullscan reads version 1)"
        )
    skipped = _Skipped()
    artifact = document.get("artifact") or {}
    packages: list[Package] = []
    for raw in document.get("packages") or []:
        if not isinstance(raw, dict):
            continue
        kind = _PURL_TYPES.get(str(raw.get("type") or ""))
        if kind is None:
            skipped.add(f"type {raw.get('type')}")
            continue
        raw_source = raw.get("source")
        source: dict[str, Any] = raw_source if isinstance(raw_source, dict) else {}
        purl = str(raw.get("purl") or "")
        rpmmod = ""
        if purl and "rpmmod=" in purl:
            made = package_from_purl(purl)
            rpmmod = made.modularity_label if isinstance(made, Package) else ""
        packages.append(
            Package(
                name=str(raw.get("name") or ""),
                version=str(raw.get("version") or ""),
                type=kind,
                arch=str(raw.get("arch") or ""),
                source_name=str(source.get("name") or ""),
                source_version=str(source.get("version") or ""),
                purl=purl,
                layer=str(raw.get("layer") or ""),
                paths=tuple(str(p) for p in raw.get("paths") or []),
                modularity_label=rpmmod,
            )
        )
    os_doc = document.get("os")
    distro = None
    if isinstance(os_doc, dict) and os_doc.get("id"):
        distro = Distro(
            id=str(os_doc["id"]),
            version_id=str(os_doc.get("version") or ""),
            codename=str(os_doc.get("codename") or ""),
            pretty_name=str(os_doc.get("pretty_name") or ""),
            channel=str(os_doc.get("channel") or ""),
        )
    layers = tuple(
        Layer(
            index=int(layer.get("index") or 0),
            diff_id=str(layer.get("diff_id") or ""),
            digest=str(layer.get("digest") or ""),
            media_type=str(layer.get("media_type") or ""),
            size=int(layer.get("size") or 0),
            created_by=str(layer.get("created_by") or ""),
        )
        for layer in artifact.get("layers") or []
        if isinstance(layer, dict) and layer.get("diff_id")
    )
    # the name the reports showed (report.base.image_name): the policy's, a tag, the reference
    policy = document.get("policy")
    named = str(policy.get("image_ref") or "") if isinstance(policy, dict) else ""
    repo_tags = [t for t in artifact.get("repo_tags") or [] if isinstance(t, str) and t]
    original = named or next(iter(repo_tags), "") or str(artifact.get("reference") or "")
    tags = [original, *repo_tags]
    # Only indexing's warnings describe the inventory; the report mixes in matching's,
    # which a rescan produces afresh. Those this scan repeats are dropped by merged_warnings.
    return Inventory(
        artifact=ArtifactInfo(
            reference=reference,
            kind=KIND,
            image_id=str(artifact.get("image_id") or ""),
            manifest_digest=str(artifact.get("manifest_digest") or ""),
            repo_tags=tuple(dict.fromkeys(t for t in tags if t)),
            platform=str(artifact.get("platform") or ""),
            created=str(artifact.get("created") or ""),
            layers=layers,
        ),
        distro=distro,
        packages=tuple(packages),
        warnings=tuple(skipped.warning(reference)),
    )


__all__ = [
    "FORMATS",
    "KIND",
    "PackageFacts",
    "detect_format",
    "distro_from_purl",
    "distro_from_release",
    "image_reference",
    "package_from_purl",
    "package_purl",
    "parse_sbom",
    "read_sbom",
]
