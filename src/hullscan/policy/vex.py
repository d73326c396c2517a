"""VEX: suppliers' statements that a product is, or is not, affected by a vulnerability.

Read: OpenVEX (github.com/openvex/spec, v0.2.0) and CycloneDX VEX (the
`vulnerabilities[].analysis` of a standalone CycloneDX document). Statements that say
`not_affected` (with a justification or an impact statement) or `fixed` suppress a
finding; `affected` and `under_investigation` keep it. CycloneDX states map as Trivy
maps them: `not_affected` and `false_positive` -> not affected, `resolved` and
`resolved_with_pedigree` -> fixed, `exploitable` -> affected, `in_triage` -> under
investigation.

Which statement applies to a finding:

- its vulnerability names the finding's id or one of its aliases (`name`, `@id`,
  `aliases`; CycloneDX `id` and `references[].id`);
- a product identifies the finding's package (purl matching, see matching.py), or
  identifies the scanned image (`pkg:oci/...`, an image name such as
  `registry:5000/team/app`, a `sha256:` digest or a `hashes` value): then every finding
  of that vulnerability in the image is covered;
- a product with `subcomponents` applies only through them: a subcomponent must
  identify the package, and the product must be the image or a package of the image
  (hullscan has no dependency graph, so a package product is taken as a parent);
- when several statements apply, the latest wins (statement timestamp, else the
  document's; ties: the later document given, then the later statement), as OpenVEX
  prescribes: a newer `affected` overrides an older `not_affected`.

The JSON Schema check belongs in tests; here the fields hullscan uses are checked, and a
document that does not have them is a PolicyError naming the file and the statement.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from hullscan.errors import PolicyError
from hullscan.model import Finding
from hullscan.policy.matching import (
    Purl,
    ScanFacts,
    image_scope,
    package_purls,
    parse_purl,
    purl_matches,
)
from hullscan.reference import InvalidReferenceError, parse_image_reference

RULE_PREFIX = "vex:"


class VexStatus(StrEnum):
    """OpenVEX's four statuses, which every format is mapped to."""

    NOT_AFFECTED = "not_affected"
    AFFECTED = "affected"
    FIXED = "fixed"
    UNDER_INVESTIGATION = "under_investigation"

    @property
    def suppresses(self) -> bool:
        return self in (VexStatus.NOT_AFFECTED, VexStatus.FIXED)


OPENVEX_JUSTIFICATIONS = frozenset(
    {
        "component_not_present",
        "vulnerable_code_not_present",
        "vulnerable_code_not_in_execute_path",
        "vulnerable_code_cannot_be_controlled_by_adversary",
        "inline_mitigations_already_exist",
    }
)
CYCLONEDX_STATES: Mapping[str, VexStatus] = {
    "not_affected": VexStatus.NOT_AFFECTED,
    "false_positive": VexStatus.NOT_AFFECTED,
    "resolved": VexStatus.FIXED,
    "resolved_with_pedigree": VexStatus.FIXED,
    "exploitable": VexStatus.AFFECTED,
    "in_triage": VexStatus.UNDER_INVESTIGATION,
}
CYCLONEDX_JUSTIFICATIONS = frozenset(
    {
        "code_not_present",
        "code_not_reachable",
        "requires_configuration",
        "requires_dependency",
        "requires_environment",
        "protected_by_compiler",
        "protected_at_runtime",
        "protected_at_perimeter",
        "protected_by_mitigating_control",
    }
)


@dataclass(frozen=True)
class VexComponent:
    """A product or subcomponent: its identifiers (purls, image names, IRIs), hashes and,
    for CycloneDX `affects[].versions`, the exact versions it is limited to."""

    ids: tuple[str, ...]
    hashes: tuple[str, ...] = ()
    subcomponents: tuple[VexComponent, ...] = ()
    versions: tuple[str, ...] = ()

    def identifies_package(self, purls: Sequence[Purl], facts: ScanFacts) -> bool:
        for text in self.ids:
            constraint = parse_purl(text) if text.startswith("pkg:") else None
            if constraint is None or constraint.type == "oci":
                continue
            # a source package (`arch=source`) covers the binaries built from it
            candidates = purls if ("arch", "source") in constraint.qualifiers else purls[:1]
            for target in candidates:
                if purl_matches(constraint, target, facts.aliases) and (
                    not self.versions or target.version in self.versions
                ):
                    return True
        return False

    def identifies_image(self, facts: ScanFacts) -> bool:
        if any(facts.has_digest(h) for h in self.hashes):
            return True
        return any(_names_image(text, facts) for text in self.ids)

    def identifies_inventory_package(self, facts: ScanFacts) -> bool:
        return self.identifies_any(facts.inventory, facts)

    def identifies_any(self, purls: Iterable[Purl], facts: ScanFacts) -> bool:
        return any(self.identifies_package((p,), facts) for p in purls)


def _names_image(text: str, facts: ScanFacts) -> bool:
    """`pkg:oci/NAME[@DIGEST]?repository_url=...&tag=...&arch=...`, a digest, or a name."""
    if text.startswith("pkg:"):
        purl = parse_purl(text)
        return purl is not None and purl.type == "oci" and _oci_matches(purl, facts)
    if text.lower().startswith("sha256:"):
        return facts.has_digest(text)
    if "://" in text or text.startswith("urn:"):
        return False
    try:
        pattern = image_scope(text)
    except InvalidReferenceError:
        return False
    return any(pattern.matches(ref) for ref in facts.refs)


def _oci_matches(purl: Purl, facts: ScanFacts) -> bool:
    """purl-spec's oci type: the name is the last path component of the repository;
    `repository_url` (normalised as `docker pull` does), `tag`, `arch` and `os` narrow
    it; the version is the manifest digest. Other qualifiers cannot be checked: no match."""
    quals = purl.qualifier_map
    if purl.version and not facts.has_digest(purl.version):
        return False
    if quals.get("arch", facts.arch) != facts.arch or quals.get("os", facts.os) != facts.os:
        return False
    if set(quals) - {"repository_url", "tag", "arch", "os"}:
        return False
    wanted = None
    if "repository_url" in quals:
        url = quals["repository_url"].split("://", 1)[-1].rstrip("/")
        try:
            wanted = parse_image_reference(url)
        except InvalidReferenceError:
            return False
    for ref in facts.refs:
        if ref.repository.rpartition("/")[2] != purl.name.lower():
            continue
        if wanted is not None and (wanted.registry.lower(), wanted.repository) != (
            ref.registry.lower(),
            ref.repository,
        ):
            continue
        if "tag" in quals and quals["tag"] != ref.tag:
            continue
        return True
    return False


@dataclass(frozen=True)
class VexStatement:
    """One statement, in OpenVEX terms whatever the format; `label` is the status as the
    document wrote it (CycloneDX `resolved`), `reason` its justification or impact text."""

    vulnerability: str
    ids: frozenset[str]  # upper case: name, @id, aliases
    status: VexStatus
    label: str
    justification: str
    reason: str
    products: tuple[VexComponent, ...]
    timestamp: datetime | None
    index: int

    def applies_to(self, finding: Finding, facts: ScanFacts) -> bool:
        purls = package_purls(finding.package, facts.distro)
        for product in self.products:
            if product.subcomponents:
                if not any(s.identifies_package(purls, facts) for s in product.subcomponents):
                    continue
                if product.identifies_image(facts) or product.identifies_inventory_package(facts):
                    return True
            elif product.identifies_package(purls, facts) or product.identifies_image(facts):
                return True
        return False


@dataclass(frozen=True)
class VexDocument:
    """A parsed VEX document; `name` (its id, else the file) names the rules."""

    source: str
    format: str  # "openvex" or "cyclonedx"
    doc_id: str
    statements: tuple[VexStatement, ...]

    @property
    def name(self) -> str:
        return self.doc_id or self.source

    def rule(self, statement: VexStatement) -> str:
        """`vex:<doc>:not_affected:<justification>`, `vex:<doc>:fixed`, ..."""
        rule = f"{RULE_PREFIX}{self.name}:{statement.label}"
        return f"{rule}:{statement.justification}" if statement.justification else rule


# --- reading ---------------------------------------------------------------------------


def load_vex(path: str | Path) -> VexDocument:
    """Read an OpenVEX or CycloneDX VEX JSON document (told apart by its content)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read VEX document {path}: {exc}") from None
    return parse_vex(text, str(path))


def parse_vex(text: str, source: str = "<vex>") -> VexDocument:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError(
            f"{source}: not JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
        ) from None
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: a VEX document is a JSON object")
    context = data.get("@context")
    if isinstance(context, str) and "openvex" in context:
        return _openvex(data, source)
    if data.get("bomFormat") == "CycloneDX":
        return _cyclonedx(data, source)
    document = data.get("document")
    if isinstance(document, dict) and "csaf_version" in document:
        raise PolicyError(f"{source}: CSAF VEX is not supported; use OpenVEX or CycloneDX VEX")
    raise PolicyError(
        f"{source}: not a VEX document hullscan reads (OpenVEX: '@context' "
        "https://openvex.dev/ns/...; CycloneDX: 'bomFormat': 'CycloneDX')"
    )


def _timestamp(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PolicyError(f"{where}: timestamp {value!r} is not text")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise PolicyError(f"{where}: timestamp {value!r} is not RFC 3339") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(value: Any, where: str, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise PolicyError(f"{where} must be a non-empty string")
    return value.strip()


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PolicyError(f"{where} must be a list")
    return value


def _component(value: Any, where: str, nested: bool) -> VexComponent:
    if isinstance(value, str):  # OpenVEX 0.0.x: products were plain identifiers
        return VexComponent(ids=(value.strip(),))
    if not isinstance(value, dict):
        raise PolicyError(f"{where} must be an object with '@id' or 'identifiers'")
    ids = [_text(value.get("@id"), f"{where}: @id")]
    identifiers = value.get("identifiers", {})
    if not isinstance(identifiers, dict):
        raise PolicyError(f"{where}: identifiers must be an object")
    ids += [_text(v, f"{where}: identifiers.{k}") for k, v in identifiers.items()]
    hashes = value.get("hashes", {})
    if not isinstance(hashes, dict):
        raise PolicyError(f"{where}: hashes must be an object")
    ids = [i for i in ids if i]
    if not ids and not hashes:
        raise PolicyError(f"{where} has neither '@id' nor 'identifiers'")
    subs: tuple[VexComponent, ...] = ()
    if nested:
        subs = tuple(
            _component(s, f"{where}: subcomponent {i}", nested=False)
            for i, s in enumerate(_list(value.get("subcomponents"), f"{where}: subcomponents"), 1)
        )
    return VexComponent(
        ids=tuple(ids),
        hashes=tuple(_text(h, f"{where}: hash").lower() for h in hashes.values()),
        subcomponents=subs,
    )


def _openvex(data: dict[str, Any], source: str) -> VexDocument:
    doc_id = _text(data.get("@id"), f"{source}: @id")
    doc_time = _timestamp(data.get("timestamp"), f"{source}: document")
    statements = []
    raw = _list(data.get("statements"), f"{source}: statements")
    for index, item in enumerate(raw, start=1):
        where = f"{source}: statement {index}"
        if not isinstance(item, dict):
            raise PolicyError(f"{where} must be an object")
        vuln = item.get("vulnerability")
        if isinstance(vuln, str):  # OpenVEX 0.0.x
            vuln = {"name": vuln}
        if not isinstance(vuln, dict):
            raise PolicyError(f"{where}: 'vulnerability' must be an object with a 'name'")
        names = [_text(vuln.get("name"), f"{where}: vulnerability.name")]
        names.append(_text(vuln.get("@id"), f"{where}: vulnerability.@id"))
        names += [
            _text(a, f"{where}: vulnerability.aliases[]")
            for a in _list(vuln.get("aliases"), f"{where}: aliases")
        ]
        names = [n for n in names if n]
        if not names:
            raise PolicyError(f"{where}: the vulnerability has neither 'name' nor '@id'")
        try:
            status = VexStatus(str(item.get("status")))
        except ValueError:
            raise PolicyError(
                f"{where} ({names[0]}): status {item.get('status')!r} is not one of "
                f"{', '.join(s.value for s in VexStatus)}"
            ) from None
        justification = _text(item.get("justification"), f"{where}: justification")
        impact = _text(item.get("impact_statement"), f"{where}: impact_statement")
        if justification and justification not in OPENVEX_JUSTIFICATIONS:
            raise PolicyError(
                f"{where} ({names[0]}): justification {justification!r} is not one of "
                f"{', '.join(sorted(OPENVEX_JUSTIFICATIONS))}"
            )
        if status is VexStatus.NOT_AFFECTED and not (justification or impact):
            raise PolicyError(
                f"{where} ({names[0]}): not_affected needs a justification or an "
                "impact_statement (OpenVEX)"
            )
        products = tuple(
            _component(p, f"{where}: product {i}", nested=True)
            for i, p in enumerate(_list(item.get("products"), f"{where}: products"), start=1)
        )
        if not products:
            raise PolicyError(f"{where} ({names[0]}): no products; it applies to nothing")
        statements.append(
            VexStatement(
                vulnerability=names[0],
                ids=frozenset(n.upper() for n in names),
                status=status,
                label=status.value,
                justification=justification if status is VexStatus.NOT_AFFECTED else "",
                reason=impact or justification or _text(item.get("status_notes"), where),
                products=products,
                timestamp=_timestamp(item.get("timestamp"), where) or doc_time,
                index=index,
            )
        )
    return VexDocument(source, "openvex", doc_id, tuple(statements))


def _bom_refs(data: dict[str, Any]) -> dict[str, str]:
    """bom-ref -> purl of the components the document itself describes."""
    refs: dict[str, str] = {}
    metadata = data.get("metadata")
    pending: list[Any] = [metadata.get("component") if isinstance(metadata, dict) else None]
    pending += list(data.get("components") or [])
    while pending:
        comp = pending.pop()
        if not isinstance(comp, dict):
            continue
        ref, purl = comp.get("bom-ref"), comp.get("purl")
        if isinstance(ref, str) and isinstance(purl, str):
            refs[ref] = purl
        pending += list(comp.get("components") or [])
    return refs


def _affects(entry: Any, where: str, refs: Mapping[str, str]) -> VexComponent:
    if not isinstance(entry, dict):
        raise PolicyError(f"{where} must be an object with a 'ref'")
    ref = _text(entry.get("ref"), f"{where}: ref", required=True)
    candidates = [ref]
    if ref.startswith("urn:cdx:") and "#" in ref:  # BOM-Link: urn:cdx:serial/version#bom-ref
        fragment = ref.partition("#")[2]
        # the bom-ref may be percent-encoded for the link, or be a purl with its own escapes
        candidates = list(dict.fromkeys([fragment, unquote(fragment)]))
    ids = list(dict.fromkeys(i for c in candidates for i in (c, refs.get(c, "")) if i))
    versions = []
    for item in _list(entry.get("versions"), f"{where}: versions"):
        if isinstance(item, dict) and isinstance(item.get("version"), str):
            versions.append(item["version"])
        elif not (isinstance(item, dict) and isinstance(item.get("range"), str)):
            raise PolicyError(f"{where}: versions entries need a 'version' or a 'range'")
    if entry.get("versions") and not versions:
        versions = ["\0only ranges: not evaluated"]  # never matches: stay conservative
    return VexComponent(ids=tuple(ids), versions=tuple(versions))


def _cyclonedx(data: dict[str, Any], source: str) -> VexDocument:
    metadata = data.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    doc_time = _timestamp(metadata.get("timestamp"), f"{source}: metadata")
    refs = _bom_refs(data)
    statements = []
    raw = _list(data.get("vulnerabilities"), f"{source}: vulnerabilities")
    for index, item in enumerate(raw, start=1):
        where = f"{source}: vulnerability {index}"
        if not isinstance(item, dict):
            raise PolicyError(f"{where} must be an object")
        vuln_id = _text(item.get("id"), f"{where}: id", required=True)
        where += f" ({vuln_id})"
        analysis = item.get("analysis")
        if analysis is None:
            continue  # a scan result, not a statement
        if not isinstance(analysis, dict) or not isinstance(analysis.get("state"), str):
            raise PolicyError(f"{where}: analysis needs a 'state'")
        state = analysis["state"]
        if state not in CYCLONEDX_STATES:
            raise PolicyError(
                f"{where}: analysis state {state!r} is not one of {', '.join(CYCLONEDX_STATES)}"
            )
        status = CYCLONEDX_STATES[state]
        justification = _text(analysis.get("justification"), f"{where}: justification")
        if justification and justification not in CYCLONEDX_JUSTIFICATIONS:
            raise PolicyError(
                f"{where}: justification {justification!r} is not one of "
                f"{', '.join(sorted(CYCLONEDX_JUSTIFICATIONS))}"
            )
        aliases = [
            _text(r.get("id"), f"{where}: references[].id")
            for r in _list(item.get("references"), f"{where}: references")
            if isinstance(r, dict)
        ]
        products = tuple(
            _affects(a, f"{where}: affects {i}", refs)
            for i, a in enumerate(_list(item.get("affects"), f"{where}: affects"), start=1)
        )
        if not products:
            raise PolicyError(f"{where}: no 'affects'; it applies to nothing")
        when = (
            _timestamp(analysis.get("lastUpdated"), where)
            or _timestamp(analysis.get("firstIssued"), where)
            or _timestamp(item.get("updated"), where)
            or doc_time
        )
        statements.append(
            VexStatement(
                vulnerability=vuln_id,
                ids=frozenset(i.upper() for i in [vuln_id, *aliases] if i),
                status=status,
                label=state,
                justification=justification if status is VexStatus.NOT_AFFECTED else "",
                reason=_text(analysis.get("detail"), where) or justification,
                products=products,
                timestamp=when,
                index=index,
            )
        )
    serial = data.get("serialNumber")
    doc_id = serial.strip() if isinstance(serial, str) else ""
    return VexDocument(source, "cyclonedx", doc_id, tuple(statements))


# --- deciding --------------------------------------------------------------------------

_EARLIEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class VexVerdict:
    """The statement that decides a finding, and the document it is in."""

    document: VexDocument
    statement: VexStatement

    @property
    def rule(self) -> str:
        return self.document.rule(self.statement)


class VexIndex:
    """Every statement of the documents by vulnerability id, to find the latest that
    applies to a finding; ties go to the later document, then the later statement."""

    def __init__(self, documents: Sequence[VexDocument]) -> None:
        self._by_id: dict[str, list[tuple[tuple[datetime, int, int], VexVerdict]]] = {}
        for d, doc in enumerate(documents):
            for stmt in doc.statements:
                item = ((stmt.timestamp or _EARLIEST, d, stmt.index), VexVerdict(doc, stmt))
                for vid in stmt.ids:
                    self._by_id.setdefault(vid, []).append(item)

    def verdict(self, finding: Finding, facts: ScanFacts) -> VexVerdict | None:
        """The latest applicable statement, or None when no document speaks of it."""
        candidates: dict[tuple[datetime, int, int], VexVerdict] = {}
        for vid in {finding.vuln_id.upper(), *(a.upper() for a in finding.aliases)}:
            candidates.update(self._by_id.get(vid, ()))
        for key in sorted(candidates, reverse=True):
            if candidates[key].statement.applies_to(finding, facts):
                return candidates[key]
        return None
