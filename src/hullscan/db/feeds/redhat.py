"""Red Hat CSAF VEX (one document per CVE) -> advisories keyed by SOURCE rpm, namespace rhel:N.

Input: the per-CVE VEX documents of https://security.access.redhat.com/data/csaf/v2/vex/
(legacy) or .../vex-feed/ (the 2026 "GA" layout), as loose ``*.json`` files or as Red Hat's
daily ``csaf_vex_YYYY-MM-DD.tar.zst`` archive, read as a stream. CSAF security advisories
(RHSA documents) are accepted too and only add "fixed" statements. Red Hat's OVAL streams
are not read: VEX is the superset (per-product fixed, affected, deferred, will-not-fix and
not-affected states) and the format Red Hat recommends to scanner vendors.

A statement is (product, component, status): the product is the ``product_name`` at the
right end of a relationship chain (its CPE says which RHEL major and which stream), the
component the rpm purl at the left end (``arch=src`` marks the source rpm, ``rpmmod`` the
module stream). Only source rpms of RHEL are kept - unfixed statements name nothing else
in the new layout - and statements of one (CVE, RHEL major, source package, module stream)
are merged into one advisory. The rules are documented in docs/db.md ("redhat").
"""

from __future__ import annotations

import logging
import re
import tarfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, NamedTuple

import zstandard
from packageurl import PackageURL

from hullscan.db.feeds.base import Feed, Record, json_kind
from hullscan.errors import FeedError
from hullscan.model import Advisory, AffectedRange, FixStatus, Severity, Vulnerability

log = logging.getLogger(__name__)

VEX_BASE_URL = "https://security.access.redhat.com/data/csaf/v2/vex/"
#: A one-line text file naming the current ``csaf_vex_YYYY-MM-DD.tar.zst`` in VEX_BASE_URL.
VEX_ARCHIVE_POINTER = VEX_BASE_URL + "archive_latest.txt"
CVE_PAGE = "https://access.redhat.com/security/cve/{}"

#: Largest JSON document read from an archive: far above any real one, below a memory bomb.
MAX_DOCUMENT = 256 << 20

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_POINTER = re.compile(rb"\s*(csaf_vex_\d{4}-\d{2}-\d{2}\.tar\.zst)\s*")

# Red Hat's impact ratings (threats[category=impact]); medium/high seen on non-RHEL content.
_IMPACT: dict[str, Severity] = {
    "critical": Severity.CRITICAL,
    "important": Severity.HIGH,
    "high": Severity.HIGH,
    "moderate": Severity.MEDIUM,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
}

# RHEL CPE products: the rolling "main" stream, extended life (RHEL 7 today), and the
# pinned-minor streams (EUS/AUS/TUS/E4S...) whose fixes only count for their own branch.
_MAIN_PRODUCTS = frozenset({"enterprise_linux"})
_ELS_PRODUCTS = frozenset({"rhel_els"})
_PINNED_PRODUCTS = frozenset(
    {
        "rhel_eus",
        "rhel_aus",
        "rhel_tus",
        "rhel_e4s",
        "rhel_eus_long_life",
        "enterprise_linux_eus",
    }
)

# Modular releases end in "+<MBS build id>+<8 hex context>": builds of one module version
# for several contexts differ only in that hash, which carries no ordering.
_MODULE_CONTEXT = re.compile(r"(\.module\+el[0-9][0-9a-z._]*\+[0-9]+)\+[0-9a-f]{8}")
# The RHEL minor a build was made for: ".el9_4" (z-stream) or "+el8.6.0" (module build).
_BRANCH = re.compile(r"\.el([0-9]+)_([0-9]+)|\+el([0-9]+)\.([0-9]+)")


class Tier(IntEnum):
    """Which kind of RHEL stream a product is; lower wins when statements disagree."""

    MAIN = 0
    ELS = 1
    PINNED = 2


class Kind(IntEnum):
    """What a CSAF product_status list says about a product."""

    FIXED = 0
    UNFIXED = 1
    NOT_AFFECTED = 2


# Unfixed statuses when several products of one stream disagree: the most actionable wins.
_UNFIXED_ORDER = (
    FixStatus.AFFECTED,
    FixStatus.FIX_DEFERRED,
    FixStatus.UNDER_INVESTIGATION,
    FixStatus.WILL_NOT_FIX,
    FixStatus.END_OF_LIFE,
)

# CSAF product_status keys. Red Hat uses the first four; the others are mapped for
# completeness. Anything else is not CSAF 2.0 and fails the build.
_STATUS_KIND: dict[str, Kind | None] = {
    "fixed": Kind.FIXED,
    "known_affected": Kind.UNFIXED,
    "known_not_affected": Kind.NOT_AFFECTED,
    "under_investigation": Kind.UNFIXED,
    "first_fixed": Kind.FIXED,
    "first_affected": Kind.UNFIXED,
    "last_affected": Kind.UNFIXED,
    "recommended": None,
}


class Statement(NamedTuple):
    """One product/component pair's state for one CVE, reduced to what matching needs."""

    namespace: str  # rhel:9
    package: str  # advisory key: source name, or "<module>:<stream>::<source name>"
    tier: Tier
    kind: Kind
    status: FixStatus  # FIXED for Kind.FIXED; the unfixed status otherwise
    version: str  # fixed "[epoch:]version-release", empty unless FIXED
    severity: Severity


# ------------------------------------------------------------------ shared version helpers


def normalize_evr(evr: str) -> str:
    """Drop a module build's context hash, so builds of one module version compare equal.

    ``1:0.78-12.module+el8.10.0+23147+95b68fad`` and ``...+20b7d289`` are the same fix
    built for two contexts; plain rpm ordering would call one of them older.
    """
    return _MODULE_CONTEXT.sub(r"\1", evr)


def branch_of(evr: str) -> str | None:
    """The RHEL minor branch a build targets (``el9_4`` -> "9.4"), None for GA builds."""
    found = _BRANCH.search(evr)
    if found is None:
        return None
    major, minor = (found.group(1), found.group(2)) if found.group(1) else found.groups()[2:]
    return f"{major}.{minor}"


def rpm_comparator() -> Callable[[str, str], int]:
    """rpm's ordering, imported when first needed (hullscan.versions.rpm)."""
    from hullscan.versions.registry import comparator

    return comparator("rpm")


def newest(versions: Iterable[str], compare: Callable[[str, str], int] | None = None) -> str:
    """The newest EVR, module contexts ignored; ties go to the smallest string (stable)."""
    ordered = sorted(set(versions))
    if not ordered:
        raise ValueError("no versions")
    if len(ordered) == 1:
        return ordered[0]
    compare = compare or rpm_comparator()
    best = ordered[0]
    for candidate in ordered[1:]:
        if compare(normalize_evr(candidate), normalize_evr(best)) > 0:
            best = candidate
    return best


# ----------------------------------------------------------------------- product tree


@lru_cache(maxsize=4096)
def platform_of(cpe: str) -> tuple[str, Tier] | None:
    """(namespace, tier) of a RHEL product CPE; None for every other product.

    ``cpe:/o:redhat:enterprise_linux:9::baseos`` -> ("rhel:9", MAIN),
    ``cpe:/a:redhat:rhel_eus:9.4::appstream`` -> ("rhel:9", PINNED),
    ``cpe:/o:redhat:rhel_els:7`` -> ("rhel:7", ELS). CPE 2.3 strings are read too.
    """
    parts = cpe.strip().split(":")
    if len(parts) >= 6 and parts[1] == "2.3":
        vendor, product, version = parts[3], parts[4], parts[5]
    elif len(parts) >= 5 and parts[1] in ("/o", "/a"):
        vendor, product, version = parts[2], parts[3], parts[4]
    else:
        return None
    major = version.split(".", 1)[0]
    if vendor != "redhat" or not major.isdigit():
        return None
    if product in _MAIN_PRODUCTS:
        tier = Tier.MAIN
    elif product in _ELS_PRODUCTS:
        tier = Tier.ELS
    elif product in _PINNED_PRODUCTS:
        tier = Tier.PINNED
    else:
        return None
    return f"rhel:{int(major)}", tier


class _Component(NamedTuple):
    name: str
    version: str  # "[epoch:]version-release", empty for unversioned (unfixed) entries
    module: str  # "name:stream" or ""
    source: bool


class _BadComponent(ValueError):
    """An rpm purl Red Hat got wrong (empty rpmmod...): the product is skipped, not the doc."""


@lru_cache(maxsize=65536)
def _component(purl: str) -> _Component | None:
    """The rpm (or rpm module) a purl names; None for other package types."""
    if not (purl.startswith("pkg:rpm/") or purl.startswith("pkg:rpmmod/")):
        return None
    try:
        parsed = PackageURL.from_string(purl)
    except ValueError as exc:
        raise _BadComponent(f"invalid purl {purl!r}: {exc}") from None
    qualifiers = parsed.qualifiers if isinstance(parsed.qualifiers, dict) else {}
    if parsed.type == "rpmmod":
        stream = (parsed.version or "").split(":", 1)[0]
        if not parsed.name or not stream:
            raise _BadComponent(f"module purl without name or stream: {purl!r}")
        return _Component(parsed.name, "", f"{parsed.name}:{stream}", False)
    module = ""
    if "rpmmod" in qualifiers:
        name, _, rest = str(qualifiers["rpmmod"]).partition(":")
        stream = rest.split(":", 1)[0]
        if not name or not stream:
            raise _BadComponent(f"rpmmod without a module stream: {purl!r}")
        module = f"{name}:{stream}"
    version = parsed.version or ""
    epoch = str(qualifiers.get("epoch") or "").strip()
    if version and epoch and epoch != "0":
        version = f"{epoch}:{version}"
    return _Component(parsed.name, version, module, qualifiers.get("arch") == "src")


def advisory_key(source: str, module: str) -> str:
    """How advisories are keyed: the source rpm name, prefixed by its module stream."""
    return f"{module}::{source}" if module else source


@dataclass
class _Tree:
    """The parts of a product_tree that say which RHEL stream and rpm a product id means."""

    platforms: dict[str, tuple[str, Tier]]  # product id -> (namespace, tier)
    purls: dict[str, str]  # product id -> purl
    relationships: dict[str, tuple[str, str]]  # full product id -> (component, parent)
    resolved: dict[str, tuple[str, str, Tier, _Component] | None]
    skipped: int = 0

    def target(self, product_id: str) -> tuple[str, str, Tier, _Component] | None:
        """(namespace, key, tier, source rpm) of a status product id, None if not RHEL src."""
        if product_id in self.resolved:
            return self.resolved[product_id]
        result = self._target(product_id)
        self.resolved[product_id] = result
        return result

    def _target(self, product_id: str) -> tuple[str, str, Tier, _Component] | None:
        # Cheap rejection first: most ids of a legacy document are binary rpms.
        leftmost, depth = product_id, 0
        while leftmost in self.relationships:
            if depth > 8:
                raise ValueError(f"relationships of {product_id!r} nest too deep (a loop?)")
            leftmost, depth = self.relationships[leftmost][0], depth + 1
        if leftmost == product_id or "arch=src" not in self.purls.get(leftmost, ""):
            return None  # not a source rpm: binary rpms, containers, other ecosystems
        leaves = self._leaves(product_id, 0)
        platform = self.platforms.get(leaves[-1])
        if platform is None:
            return None
        try:
            package = self._rpm(leaves[0])
            module = ""
            for middle in leaves[1:-1]:
                found = self._rpm(middle)
                if found is not None and found.module:
                    module = found.module
        except _BadComponent as exc:
            self.skipped += 1
            log.debug("redhat feed: skipping %s: %s", product_id, exc)
            return None
        if package is None or not package.source:
            return None
        module = package.module or module
        return platform[0], advisory_key(package.name, module), platform[1], package

    def _rpm(self, product_id: str) -> _Component | None:
        purl = self.purls.get(product_id)
        return _component(purl) if purl else None

    def _leaves(self, product_id: str, depth: int) -> list[str]:
        """Flatten nested relationships: [component, (module,) platform]."""
        pair = self.relationships.get(product_id)
        if pair is None:
            return [product_id]
        if depth > 8:
            raise ValueError(f"relationships of {product_id!r} nest too deep (a loop?)")
        return self._leaves(pair[0], depth + 1) + self._leaves(pair[1], depth + 1)


def _tree(data: Mapping[str, Any]) -> _Tree:
    tree = _Tree({}, {}, {}, {})
    stack: list[Any] = list(data.get("branches") or [])
    products: list[Any] = list(data.get("full_product_names") or [])
    while stack:
        branch = stack.pop()
        if not isinstance(branch, dict):
            raise ValueError(f"product_tree branch is {json_kind(branch)}, not an object")
        if isinstance(branch.get("product"), dict):
            products.append(branch["product"])
        children = branch.get("branches")
        if isinstance(children, list):
            stack.extend(children)
    for product in products:
        if not isinstance(product, dict):
            continue
        product_id = product.get("product_id")
        helper = product.get("product_identification_helper")
        if not isinstance(product_id, str) or not isinstance(helper, dict):
            continue
        cpe = helper.get("cpe")
        if isinstance(cpe, str):
            platform = platform_of(cpe)
            if platform is not None:
                tree.platforms[product_id] = platform
        purl = helper.get("purl")
        if not isinstance(purl, str):
            purls = helper.get("purls")
            purl = purls[0] if isinstance(purls, list) and purls else None
        # Only source rpms and module components are ever looked up.
        if isinstance(purl, str) and ("arch=src" in purl or purl.startswith("pkg:rpmmod/")):
            tree.purls[product_id] = purl
    for relationship in data.get("relationships") or []:
        if not isinstance(relationship, dict):
            raise ValueError(f"relationship is {json_kind(relationship)}, not an object")
        full = relationship.get("full_product_name")
        product_id = full.get("product_id") if isinstance(full, dict) else None
        component = relationship.get("product_reference")
        parent = relationship.get("relates_to_product_reference")
        if isinstance(product_id, str) and isinstance(component, str) and isinstance(parent, str):
            tree.relationships[product_id] = (component, parent)
    return tree


# --------------------------------------------------------------------------- statuses


def severity_of(text: str) -> Severity:
    """Red Hat impact (Critical/Important/Moderate/Low) on our scale; else UNKNOWN."""
    return _IMPACT.get(text.strip().lower(), Severity.UNKNOWN)


def unfixed_status(remediations: Iterable[tuple[str, str]]) -> FixStatus:
    """Status of a known_affected product from its remediations (category, details).

    no_fix_planned: "Out of support scope" -> END_OF_LIFE, otherwise ("Will not fix") ->
    WILL_NOT_FIX. none_available: "Fix deferred" -> FIX_DEFERRED, "Under investigation" ->
    UNDER_INVESTIGATION, otherwise ("Affected") -> AFFECTED. No such remediation: AFFECTED.
    """
    for category, details in remediations:
        text = details.strip().lower()
        if category == "no_fix_planned":
            return FixStatus.END_OF_LIFE if "out of support" in text else FixStatus.WILL_NOT_FIX
        if category == "none_available":
            if "deferred" in text:
                return FixStatus.FIX_DEFERRED
            if "investigation" in text:
                return FixStatus.UNDER_INVESTIGATION
            return FixStatus.AFFECTED
    return FixStatus.AFFECTED


def _id_lists(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{where} is {json_kind(value)}, not a list")
    return [item for item in value if isinstance(item, str)]


class _Document(NamedTuple):
    tracking_id: str
    category: str
    released: datetime
    deleted: bool
    statements: dict[str, set[Statement]]  # vuln id -> statements
    vulnerabilities: list[Vulnerability]
    skipped: int


_EPOCH = datetime.min.replace(tzinfo=UTC)


def _released(tracking: Mapping[str, Any]) -> datetime:
    for key in ("current_release_date", "initial_release_date"):
        value = tracking.get(key)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return _EPOCH


def parse_document(data: Any) -> _Document:
    """Statements and vulnerability facts of one CSAF document (VEX or RHSA).

    Raises ValueError with a user-readable reason when the document is not CSAF or has
    the wrong shape; the feed adds the file name.
    """
    if not isinstance(data, dict):
        raise ValueError(f"expected a CSAF JSON object, got {json_kind(data)}")
    document = data.get("document")
    if not isinstance(document, dict):
        raise ValueError("not a CSAF document (no 'document' object)")
    category = document.get("category")
    tracking = document.get("tracking")
    if not isinstance(tracking, dict) or not isinstance(tracking.get("id"), str):
        raise ValueError("not a CSAF document (no document.tracking.id)")
    tracking_id = tracking["id"]
    if category not in ("csaf_vex", "csaf_security_advisory"):
        raise ValueError(
            f"{tracking_id}: document category {category!r} is neither csaf_vex nor "
            "csaf_security_advisory"
        )
    released = _released(tracking)
    if tracking.get("status") == "deleted":
        return _Document(tracking_id, category, released, True, {}, [], 0)
    aggregate = document.get("aggregate_severity")
    fallback = Severity.UNKNOWN
    if isinstance(aggregate, dict) and isinstance(aggregate.get("text"), str):
        fallback = severity_of(aggregate["text"])
    self_link = ""
    for reference in document.get("references") or []:
        if isinstance(reference, dict) and reference.get("category") == "self":
            self_link = str(reference.get("url") or "")
    product_tree = data.get("product_tree") or {}
    if not isinstance(product_tree, dict):
        raise ValueError(f"{tracking_id}: product_tree is {json_kind(product_tree)}")
    tree = _tree(product_tree)
    vulnerabilities = data.get("vulnerabilities") or []
    if not isinstance(vulnerabilities, list):
        raise ValueError(f"{tracking_id}: vulnerabilities is {json_kind(vulnerabilities)}")
    statements: dict[str, set[Statement]] = {}
    facts: list[Vulnerability] = []
    for vulnerability in vulnerabilities:
        if not isinstance(vulnerability, dict):
            raise ValueError(f"{tracking_id}: vulnerability is {json_kind(vulnerability)}")
        cve = vulnerability.get("cve")
        if not isinstance(cve, str) or not cve.strip():
            continue  # Red Hat bugs without a CVE id: nothing a scanner can report
        cve = cve.strip()
        where = f"{tracking_id} {cve}"
        found = _statements(vulnerability, tree, fallback, where)
        statements.setdefault(cve, set()).update(found)
        facts.append(_facts(cve, vulnerability, self_link))
    return _Document(tracking_id, category, released, False, statements, facts, tree.skipped)


def _statements(
    vulnerability: Mapping[str, Any], tree: _Tree, fallback: Severity, where: str
) -> set[Statement]:
    product_status = vulnerability.get("product_status") or {}
    if not isinstance(product_status, dict):
        raise ValueError(f"{where}: product_status is {json_kind(product_status)}")
    severities: dict[str, Severity] = {}
    for threat in vulnerability.get("threats") or []:
        if isinstance(threat, dict) and threat.get("category") == "impact":
            severity = severity_of(str(threat.get("details") or ""))
            for product_id in _id_lists(threat.get("product_ids"), f"{where}: threat"):
                severities[product_id] = severity
    remediations: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for remediation in vulnerability.get("remediations") or []:
        if not isinstance(remediation, dict):
            continue
        pair = (str(remediation.get("category") or ""), str(remediation.get("details") or ""))
        for product_id in _id_lists(remediation.get("product_ids"), f"{where}: remediation"):
            remediations[product_id].append(pair)
    found: set[Statement] = set()
    for status_name, ids in product_status.items():
        if status_name not in _STATUS_KIND:
            raise ValueError(f"{where}: unknown product_status {status_name!r}")
        kind = _STATUS_KIND[status_name]
        if kind is None:
            continue
        for product_id in _id_lists(ids, f"{where}: product_status.{status_name}"):
            target = tree.target(product_id)
            if target is None:
                continue
            namespace, key, tier, package = target
            severity = severities.get(product_id, fallback)
            if kind is Kind.FIXED:
                if not package.version:
                    continue  # a "fixed" entry without a version gives nothing to compare
                status, version = FixStatus.FIXED, package.version
            elif kind is Kind.UNFIXED:
                if status_name == "under_investigation":
                    status = FixStatus.UNDER_INVESTIGATION
                else:
                    status = unfixed_status(remediations.get(product_id, ()))
                version = ""
            else:  # not affected: only tells resolve() that this stream has spoken
                status, version, severity = FixStatus.AFFECTED, "", Severity.UNKNOWN
            found.add(Statement(namespace, key, tier, kind, status, version, severity))
    return found


def _facts(cve: str, vulnerability: Mapping[str, Any], self_link: str) -> Vulnerability:
    description = ""
    for note in vulnerability.get("notes") or []:
        if isinstance(note, dict) and note.get("category") == "description":
            description = str(note.get("text") or "").strip()
            break
    if not description and isinstance(vulnerability.get("title"), str):
        description = vulnerability["title"].strip()
    urls = [CVE_PAGE.format(cve)]
    if self_link:
        urls.append(self_link)
    return Vulnerability(id=cve, description=description, urls=tuple(urls))


# ----------------------------------------------------------------------------- merging


def resolve(
    statements: Iterable[Statement],
    compare: Callable[[str, str], int] | None = None,
) -> tuple[FixStatus, str, tuple[AffectedRange, ...], Severity] | None:
    """One advisory from every statement about one (CVE, namespace, package).

    The main stream decides; ELS (RHEL 7 today) counts where main has no fix; the pinned
    minor streams (EUS, AUS, TUS, E4S) never decide but their fixes are kept as ranges for
    their own branch. Returns (status, fixed version, ranges, severity), or None when the
    package is not affected (or only pinned streams speak of it).
    """
    by_tier: dict[Tier, list[Statement]] = defaultdict(list)
    for statement in statements:
        by_tier[statement.tier].append(statement)
    main, els = by_tier[Tier.MAIN], by_tier[Tier.ELS]

    def of(group: list[Statement], kind: Kind) -> list[Statement]:
        return [s for s in group if s.kind is kind]

    chosen: list[Statement]
    if of(main, Kind.FIXED):
        chosen = of(main, Kind.FIXED)
    elif main and not of(main, Kind.UNFIXED):
        return None  # the main stream says: not affected
    elif of(els, Kind.FIXED):
        chosen = of(els, Kind.FIXED)
    elif of(main, Kind.UNFIXED):
        chosen = of(main, Kind.UNFIXED)
    elif of(els, Kind.UNFIXED):
        chosen = of(els, Kind.UNFIXED)
    else:
        return None
    severity = max(s.severity for s in chosen)
    # Every fix of the major, pinned streams included when their build names its branch:
    # a package built for 9.4 is judged by the 9.4 fix (see match/redhat.py).
    # One range per fixed build; module builds for several contexts count once.
    unique: dict[str, str] = {}
    for statement in sorted((*main, *els, *by_tier[Tier.PINNED]), key=lambda s: s.version):
        if statement.kind is Kind.FIXED and (
            statement.tier is not Tier.PINNED or branch_of(statement.version)
        ):
            unique.setdefault(normalize_evr(statement.version), statement.version)
    fixes = sorted(unique.values())
    if chosen[0].kind is Kind.FIXED:
        fixed = newest((s.version for s in chosen), compare)
        return FixStatus.FIXED, fixed, tuple(AffectedRange(fixed=v) for v in fixes), severity
    status = min((s.status for s in chosen), key=_UNFIXED_ORDER.index)
    branch_fixes = tuple(AffectedRange(fixed=v) for v in fixes if branch_of(v))
    return status, "", (AffectedRange(), *branch_fixes), severity


# ------------------------------------------------------------------------------- reading


def _sniff(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(512)
    except OSError as exc:
        raise FeedError(f"redhat feed: {path}: cannot read: {exc.strerror or exc}") from None


def _iter_tar(fileobj: IO[bytes]) -> Iterator[tuple[str, bytes]]:
    """(member name, bytes) of every ``*.json`` in a tar stream, read sequentially."""
    with tarfile.open(fileobj=fileobj, mode="r|") as archive:
        for member in archive:
            if not member.isfile() or not member.name.endswith(".json"):
                continue
            if member.size > MAX_DOCUMENT:
                raise ValueError(
                    f"{member.name}: {member.size} bytes is too large for one document"
                )
            handle = archive.extractfile(member)
            if handle is None:
                continue
            yield member.name, handle.read()


class RedHatVexFeed(Feed):
    """Red Hat CSAF VEX: every RHEL major, every fix state, module streams."""

    name = "redhat"
    description = "Red Hat CSAF VEX"
    file_patterns = ("*.json", "*.tar.zst", "*.tar")

    def __init__(self, compare: Callable[[str, str], int] | None = None) -> None:
        # Injected in tests; otherwise hullscan.versions.rpm, imported when first needed.
        self._compare = compare

    def default_locations(self) -> list[str]:
        return [VEX_ARCHIVE_POINTER]

    def resolve_location(self, location: str, get_text: Callable[[str], str]) -> str:
        """The archive URL an ``archive_latest.txt`` pointer names; other locations as is.

        For a builder hook that runs before fetching (the builder has none yet): `get_text`
        downloads a small text file. Raises FeedError when the pointer is not one.
        """
        if not location.endswith("archive_latest.txt"):
            return location
        text = get_text(location)
        found = _POINTER.fullmatch(text.encode())
        if found is None:
            raise FeedError(f"{self.name} feed: {location}: not an archive name: {text[:80]!r}")
        return location.rsplit("/", 1)[0] + "/" + found.group(1).decode()

    def parse(self, files: Sequence[Path]) -> Iterator[Record]:
        # The newest VEX document of a CVE replaces older ones (archive + later per-CVE
        # files, in any order); RHSA documents only add fixed statements.
        vex: dict[str, tuple[tuple[datetime, int], set[Statement] | None]] = {}
        extra: dict[str, set[Statement]] = defaultdict(set)
        facts: dict[str, Vulnerability] = {}
        skipped = 0
        sequence = 0
        for path in files:
            for member, data in self._documents(path):
                sequence += 1
                where = f"{path}: {member}" if member else str(path)
                try:
                    document = parse_document(data)
                except ValueError as exc:
                    raise FeedError(f"{self.name} feed: {where}: {exc}") from None
                skipped += document.skipped
                rank = (document.released, sequence)
                if document.category == "csaf_vex":
                    # A VEX document is the whole truth about its CVE at its release date.
                    if document.deleted:
                        ids = {document.tracking_id}
                    else:
                        ids = set(document.statements) or {document.tracking_id}
                    for vuln_id in ids:
                        known = vex.get(vuln_id)
                        if known is None or known[0] < rank:
                            state: set[Statement] | None = None
                            if not document.deleted:
                                state = document.statements.get(vuln_id, set())
                            vex[vuln_id] = (rank, state)
                else:
                    for vuln_id, found in document.statements.items():
                        extra[vuln_id].update(found)
                for fact in document.vulnerabilities:
                    known_fact = facts.get(fact.id)
                    if known_fact is None or not known_fact.description:
                        facts[fact.id] = fact
        if skipped:
            log.warning("redhat feed: skipped %d product entries with invalid purls", skipped)
        deleted = {vuln_id for vuln_id, (_, state) in vex.items() if state is None}
        reported: set[str] = set()
        for vuln_id in sorted(set(vex) | set(extra)):
            if vuln_id in deleted:
                continue
            state = vex.get(vuln_id, (None, set()))[1] or set()
            grouped: dict[tuple[str, str], list[Statement]] = defaultdict(list)
            for statement in (*state, *extra.get(vuln_id, ())):
                grouped[(statement.namespace, statement.package)].append(statement)
            for (namespace, package), group in sorted(grouped.items()):
                for advisory in self._advisory(vuln_id, namespace, package, group):
                    reported.add(vuln_id)
                    yield advisory
        # Descriptions only for what RHEL matching can report: most VEX files are about
        # middleware and OpenShift, and other feeds describe those CVEs themselves.
        for vuln_id in sorted(reported & set(facts)):
            yield facts[vuln_id]

    def _advisory(
        self, vuln_id: str, namespace: str, package: str, group: list[Statement]
    ) -> Iterator[Advisory]:
        try:
            merged = resolve(group, self._compare)
        except Exception as exc:  # a version the comparator rejects: name the advisory
            raise FeedError(
                f"{self.name} feed: {vuln_id} {package} in {namespace}: {exc}"
            ) from None
        if merged is None:
            return
        status, fixed, ranges, severity = merged
        yield Advisory(
            namespace=namespace,
            package=package,
            vuln_id=vuln_id,
            ranges=ranges,
            status=status,
            fixed_version=fixed,
            severity=severity,
            severity_source="redhat" if severity is not Severity.UNKNOWN else "",
            source=self.name,
        )

    def _documents(self, path: Path) -> Iterator[tuple[str, Any]]:
        """("" or archive member, parsed JSON) of every document in one file."""
        head = _sniff(path)
        if head.startswith(_ZSTD_MAGIC):
            yield from self._archive(path, compressed=True)
        elif len(head) > 262 and head[257:262] == b"ustar":
            yield from self._archive(path, compressed=False)
        elif head.lstrip()[:1] in (b"{", b"["):
            yield "", self.load_json(path)
        else:
            raise self.error(path, self._not_vex(path, head))

    def _not_vex(self, path: Path, head: bytes) -> str:
        pointer = _POINTER.fullmatch(head)
        if pointer is not None:
            archive = pointer.group(1).decode()
            return (
                f"this is Red Hat's pointer to the current VEX archive ({archive}); "
                f"download {VEX_BASE_URL}{archive} and run "
                "`hullscan db build --source redhat=PATH_TO_ARCHIVE`"
            )
        if head.startswith(b"BZh") or head.lstrip().startswith(b"<?xml"):
            return f"OVAL is not read by hullscan: use Red Hat's CSAF VEX files ({VEX_BASE_URL})"
        return "not a CSAF VEX JSON document nor a .tar.zst archive of them"

    def _archive(self, path: Path, *, compressed: bool) -> Iterator[tuple[str, Any]]:
        member = ""
        try:
            with path.open("rb") as raw:
                stream: IO[bytes] = raw
                if compressed:
                    stream = zstandard.ZstdDecompressor().stream_reader(raw)
                with stream:
                    for member, blob in _iter_tar(stream):
                        yield member, self.decode_json(path, blob, member)
        except FeedError:
            raise
        except (tarfile.TarError, zstandard.ZstdError, EOFError, ValueError) as exc:
            after = f" after {member}" if member else ""
            raise self.error(path, f"damaged archive{after}: {exc}") from None
        except OSError as exc:
            raise self.error(path, f"cannot read: {exc.strerror or exc}") from None
