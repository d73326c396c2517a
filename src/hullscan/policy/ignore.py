"""Ignore files: the team's accepted risks, each with a reason and, ideally, an end date.

Three formats are read, so teams can bring the file they already have:

- `.hullscanignore.yaml`, hullscan's own (docs/policy.md): entries by vulnerability id
  or alias, optionally scoped to packages, purls, images and paths, with a mandatory
  `reason` and an optional `expires` date. Validated strictly: an ignore file is a
  security control, so a typo (`expire:`) must fail the run, not silently never expire.
- Trivy's `.trivyignore`: one id per line, `#` comments, `exp:YYYY-MM-DD`.
- Trivy's `.trivyignore.yaml`: `vulnerabilities: [{id, paths, purls, statement,
  expired_at}]` (the other sections concern scanners hullscan does not have).

Expiry follows each tool: a hullscan `expires` date is the last day the entry applies;
Trivy treats its date as the first day it no longer applies (`ExpiredAt.Before(now)`).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from hullscan.errors import PolicyError
from hullscan.model import Finding
from hullscan.policy.matching import (
    ScanFacts,
    any_path_matches,
    image_scope,
    name_glob,
    package_purls,
    path_glob,
    purl_pattern,
)
from hullscan.reference import InvalidReferenceError

NATIVE_NAMES = (".hullscanignore.yaml", ".hullscanignore.yml")
"""Ignore files looked for in the working directory when none is given."""

RULE_PREFIX = "ignore:"

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NATIVE_TOP = ("version", "ignore")
_NATIVE_KEYS = ("id", "reason", "expires", "packages", "purls", "images", "paths")
_TRIVY_SECTIONS = ("vulnerabilities", "misconfigurations", "secrets", "licenses")
_TRIVY_KEYS = ("id", "paths", "purls", "statement", "expired_at")


class IgnoreFormat(StrEnum):
    HULLSCAN = "hullscan"
    TRIVYIGNORE = "trivyignore"
    TRIVYIGNORE_YAML = "trivyignore.yaml"


@dataclass(frozen=True)
class IgnoreEntry:
    """One accepted risk. Empty scopes match everything; several scopes must all match,
    any value of one scope may match. `vuln_id` empty (Trivy YAML only) means any id."""

    vuln_id: str
    reason: str
    source: str
    line: int
    expires: date | None = None  # as written in the file
    active_until: date | None = None  # the last day the entry applies
    packages: tuple[str, ...] = ()
    purls: tuple[str, ...] = ()
    images: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    rule: str = ""

    @property
    def label(self) -> str:
        return self.vuln_id or "*"

    def expired(self, day: date) -> bool:
        return self.active_until is not None and day > self.active_until

    def expiry_warning(self) -> str:
        return (
            f"ignore entry for {self.label} expired on {self.expires}; the finding is active "
            f"again ({self.source}, line {self.line})"
        )

    def matches(self, finding: Finding, facts: ScanFacts) -> bool:
        """Whether the entry's id and scopes cover the finding (expiry not considered)."""
        if self.vuln_id:
            wanted = self.vuln_id.upper()
            if wanted != finding.vuln_id.upper() and all(
                wanted != a.upper() for a in finding.aliases
            ):
                return False
        pkg = finding.package
        if self.packages:
            names = [n for n in (pkg.name, pkg.source_name) if n]
            if not any(name_glob(g).fullmatch(n) for g in self.packages for n in names):
                return False
        if self.purls and not self._purl_matches(finding, facts):
            return False
        if self.images and not any(
            image_scope(p).matches(ref) for p in self.images for ref in facts.refs
        ):
            return False
        return not self.paths or any_path_matches(self.paths, pkg.paths)

    def _purl_matches(self, finding: Finding, facts: ScanFacts) -> bool:
        purls = package_purls(finding.package, facts.distro)
        for text in self.purls:
            pattern = purl_pattern(text)
            # the source package's purl only for patterns that ask for it (arch=source)
            candidates = purls if "arch=source" in text else purls[:1]
            if any(pattern.matches(p, facts.aliases) for p in candidates):
                return True
        return False


@dataclass(frozen=True)
class IgnoreFile:
    """A parsed ignore file; `source` is the path as given (it names the rules)."""

    source: str
    format: IgnoreFormat
    entries: tuple[IgnoreEntry, ...] = ()


# --- reading ---------------------------------------------------------------------------


def find_ignore_file(directory: str | Path | None = None) -> Path | None:
    """The native ignore file of `directory` (default: the working directory, returned as
    a relative path so rule names and reports do not carry machine paths), or None."""
    for name in NATIVE_NAMES:
        path = Path(name) if directory is None else Path(directory) / name
        if path.is_file():
            return path
    return None


def load_ignore_file(path: str | Path) -> IgnoreFile:
    """Read an ignore file of any supported format: YAML files by their top-level keys
    (`ignore:` native, `vulnerabilities:` Trivy's), anything else as a `.trivyignore`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read ignore file {path}: {exc}") from None
    if Path(path).suffix.lower() in (".yaml", ".yml") or _looks_like_yaml(text):
        return parse_ignore_yaml(text, str(path))
    return parse_trivyignore(text, str(path))


_YAML_START = re.compile(rf"^(?:{'|'.join(_NATIVE_TOP + _TRIVY_SECTIONS)})\s*:(?:\s|$)")


def _looks_like_yaml(text: str) -> bool:
    """A YAML ignore file saved without its extension must not be read as a list of ids
    (`ignore:` would become an id and nothing would be ignored)."""
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return bool(_YAML_START.match(line))
    return False


def parse_ignore_yaml(text: str, source: str = "<ignorefile>") -> IgnoreFile:
    """A `.hullscanignore.yaml` or a `.trivyignore.yaml`, told apart by their keys."""
    data, root = _load_yaml(text, source)
    if data is None:
        return IgnoreFile(source, IgnoreFormat.HULLSCAN)
    if not isinstance(data, dict) or not isinstance(root, yaml.MappingNode):
        raise PolicyError(
            f"{source}: an ignore file must be a mapping with an 'ignore' list, got {_kind(data)}"
        )
    keys = {str(k) for k in data}
    if keys and keys <= set(_TRIVY_SECTIONS):
        return _trivy_yaml(data, root, source)
    unknown = sorted(keys - set(_NATIVE_TOP))
    if unknown:
        raise PolicyError(
            f"{source}: unknown key(s) {', '.join(map(repr, unknown))}; an ignore file has "
            "'version' and 'ignore' (or Trivy's 'vulnerabilities' in a .trivyignore.yaml)"
        )
    version = data.get("version", 1)
    if version != 1:
        raise PolicyError(f"{source}: unsupported version {version!r} (this hullscan reads 1)")
    raw = data.get("ignore")
    if raw is None:
        return IgnoreFile(source, IgnoreFormat.HULLSCAN)
    items = _value_node(root, "ignore")
    if not isinstance(raw, list) or not isinstance(items, yaml.SequenceNode):
        raise PolicyError(f"{source}: 'ignore' must be a list of entries, got {_kind(raw)}")
    entries = [
        _native_entry(item, node, source, n)
        for n, (item, node) in enumerate(zip(raw, items.value, strict=True), start=1)
    ]
    return IgnoreFile(source, IgnoreFormat.HULLSCAN, _named(entries, source))


def parse_trivyignore(text: str, source: str = ".trivyignore") -> IgnoreFile:
    """Trivy's plain format; the comment block right above an id becomes its reason.

    Unlike Trivy, which skips a line whose `exp:` date it cannot parse (and so stops
    ignoring quietly), a bad date is an error here.
    """
    entries: list[IgnoreEntry] = []
    comments: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            comments = []
            continue
        if line.startswith("#"):
            comments.append(line.lstrip("#").strip())
            continue
        fields = line.split()
        expires: date | None = None
        for field in fields[1:]:
            if field.startswith("exp:"):
                expires = _parse_date(field[4:], f"{source}:{number}: {fields[0]}: exp")
                break
        entries.append(
            IgnoreEntry(
                vuln_id=fields[0],
                reason=" ".join(c for c in comments if c),
                source=source,
                line=number,
                expires=expires,
                active_until=expires - timedelta(days=1) if expires else None,
            )
        )
        comments = []
    return IgnoreFile(source, IgnoreFormat.TRIVYIGNORE, _named(entries, source))


# --- helpers ---------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """Safe YAML without implicit timestamps: dates stay text, so a bad one (2024-02-30)
    is reported with its line instead of failing deep inside the YAML library."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _load_yaml(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    loader = _Loader(text)
    try:
        node: yaml.Node | None = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PolicyError(f"{source}: invalid YAML{where}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    return data, node


def _value_node(mapping: yaml.MappingNode, key: str) -> yaml.Node | None:
    for key_node, value_node in mapping.value:
        if key_node.value == key and isinstance(value_node, yaml.Node):
            return value_node
    return None


def _key_lines(node: yaml.Node) -> dict[str, int]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): k.start_mark.line + 1 for k, _ in node.value}


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"{type(value).__name__} {value!r}"


def _parse_date(value: Any, where: str) -> date:
    text = str(value).strip() if isinstance(value, str | int) else None
    if text is None or not _DATE.match(text):
        raise PolicyError(f"{where}: {value!r} is not a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise PolicyError(f"{where}: {text!r} is not a valid date ({exc})") from None


def _strings(value: Any, where: str) -> tuple[str, ...]:
    """A scope: one string or a list of non-empty strings."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
        raise PolicyError(f"{where} must be a string or a list of non-empty strings")
    return tuple(i.strip() for i in items)


def _check_scopes(entry: IgnoreEntry, where: str) -> None:
    """Compile every pattern now, so a bad one fails at load time with its place."""
    try:
        for text in entry.purls:
            purl_pattern(text)
        for text in entry.paths:
            path_glob(text)
    except PolicyError as exc:
        raise PolicyError(f"{where}: {exc}") from None
    for text in entry.images:
        try:
            image_scope(text)
        except InvalidReferenceError as exc:
            raise PolicyError(f"{where}: images: {text!r} is not an image name: {exc}") from None


def _native_entry(item: Any, node: yaml.Node, source: str, number: int) -> IgnoreEntry:
    line = node.start_mark.line + 1
    lines = _key_lines(node)
    label = item.get("id") if isinstance(item, dict) else None
    where = f"{source}:{line}: ignore entry {number}" + (
        f" ({label})" if isinstance(label, str) else ""
    )
    if not isinstance(item, dict):
        raise PolicyError(f"{where}: must be a mapping with 'id' and 'reason', got {_kind(item)}")
    unknown = sorted(str(k) for k in item if k not in _NATIVE_KEYS)
    if unknown:
        at = lines.get(unknown[0], line)
        raise PolicyError(
            f"{source}:{at}: ignore entry {number}: unknown key(s) "
            f"{', '.join(map(repr, unknown))} (allowed: {', '.join(_NATIVE_KEYS)})"
        )
    vuln_id = item.get("id")
    if not isinstance(vuln_id, str) or not vuln_id.strip() or len(vuln_id.split()) != 1:
        raise PolicyError(f"{where}: 'id' must be a vulnerability id such as CVE-2024-1234")
    reason = item.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise PolicyError(f"{where}: 'reason' is required: say why this risk is accepted")
    expires: date | None = None
    if item.get("expires") is not None:
        at = lines.get("expires", line)
        expires = _parse_date(item["expires"], f"{source}:{at}: ignore entry {number} ({vuln_id})")

    def scope(key: str) -> tuple[str, ...]:
        value = item.get(key)
        if value is None:
            return ()
        return _strings(value, f"{source}:{lines.get(key, line)}: ignore entry {number}: {key}")

    entry = IgnoreEntry(
        vuln_id=vuln_id.strip(),
        reason=" ".join(reason.split()),
        source=source,
        line=line,
        expires=expires,
        active_until=expires,
        packages=scope("packages"),
        purls=scope("purls"),
        images=scope("images"),
        paths=scope("paths"),
    )
    _check_scopes(entry, where)
    return entry


def _trivy_yaml(data: dict[Any, Any], root: yaml.MappingNode, source: str) -> IgnoreFile:
    for section in _TRIVY_SECTIONS:
        value = data.get(section)
        if value is not None and not isinstance(value, list):
            raise PolicyError(f"{source}: '{section}' must be a list, got {_kind(value)}")
    raw = data.get("vulnerabilities") or []
    items = _value_node(root, "vulnerabilities")
    nodes = items.value if isinstance(items, yaml.SequenceNode) else []
    entries = []
    for number, (item, node) in enumerate(zip(raw, nodes, strict=True), start=1):
        line = node.start_mark.line + 1
        where = f"{source}:{line}: vulnerabilities entry {number}"
        if not isinstance(item, dict):
            raise PolicyError(f"{where}: must be a mapping with 'id', got {_kind(item)}")
        unknown = sorted(str(k) for k in item if k not in _TRIVY_KEYS)
        if unknown:
            raise PolicyError(
                f"{where}: unknown key(s) {', '.join(map(repr, unknown))} "
                f"(allowed: {', '.join(_TRIVY_KEYS)})"
            )
        vuln_id = item.get("id") or ""
        if not isinstance(vuln_id, str) or len(vuln_id.split()) > 1:
            raise PolicyError(f"{where}: 'id' must be a vulnerability id")
        if vuln_id:
            where += f" ({vuln_id})"
        paths = _strings(item["paths"], f"{where}: paths") if item.get("paths") else ()
        purls = _strings(item["purls"], f"{where}: purls") if item.get("purls") else ()
        if not vuln_id and not paths and not purls:
            raise PolicyError(f"{where}: without an 'id' it needs 'purls' or 'paths'")
        statement = item.get("statement")
        if statement is not None and not isinstance(statement, str):
            raise PolicyError(f"{where}: 'statement' must be text")
        expires = None
        if item.get("expired_at") is not None:
            expires = _parse_date(item["expired_at"], f"{where}: expired_at")
        entry = IgnoreEntry(
            vuln_id=vuln_id.strip(),
            reason=" ".join((statement or "").split()),
            source=source,
            line=line,
            expires=expires,
            active_until=expires - timedelta(days=1) if expires else None,
            purls=purls,
            paths=paths,
        )
        _check_scopes(entry, where)
        entries.append(entry)
    return IgnoreFile(source, IgnoreFormat.TRIVYIGNORE_YAML, _named(entries, source))


def _named(entries: list[IgnoreEntry], source: str) -> tuple[IgnoreEntry, ...]:
    """Rule names `ignore:<file>:<id>`; `#L<line>` added where an id has several entries
    (or none), so every suppressed finding points at exactly one entry."""
    counts = Counter(e.vuln_id.upper() for e in entries)
    named = []
    for e in entries:
        rule = f"{RULE_PREFIX}{source}:{e.label}"
        if not e.vuln_id or counts[e.vuln_id.upper()] > 1:
            rule += f"#L{e.line}"
        named.append(replace(e, rule=rule))
    return tuple(named)
