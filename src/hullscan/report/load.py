"""Reading hullscan JSON reports back: what the tracker integration needs of them.

The JSON report (docs/json-report.md, schema_version 1) is the contract between a scan job
and `hullscan issues`, which may run in another job, from an artifact. This reads a single
report or a combined multi-image report (compose_scan, `kind: "hullscan-multi"`) into
`LoadedReport`s: the image name, the findings with what an issue shows of them, and the
original text (uploaded as the attachment). It checks the fields it relies on and says
which one is wrong; unknown fields are ignored, as the format's stability rules ask.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hullscan.errors import ReportError
from hullscan.model import Severity

SUPPORTED_SCHEMA = 1
MULTI_KIND = "hullscan-multi"


@dataclass(frozen=True)
class ReportFinding:
    """One finding as the JSON report has it (package, versions, severity, layer)."""

    id: str
    package: str
    installed_version: str
    type: str
    severity: Severity
    status: str
    arch: str = ""
    fixed_version: str = ""
    purl: str = ""
    aliases: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    layer_diff_id: str = ""
    layer_index: int | None = None
    layer_created_by: str = ""
    suppressed_by: str = ""

    @property
    def active(self) -> bool:
        return not self.suppressed_by


@dataclass(frozen=True)
class LoadedReport:
    """A hullscan JSON report as the tracker sees it.

    `image` is the name the image is known by (report.base.image_name: the policy's
    image_ref, else the first RepoTag, else the scanned reference); `text` is the JSON of
    this one image's report (uploaded as the issue's attachment).
    """

    image: str
    findings: tuple[ReportFinding, ...]
    document: Mapping[str, Any]
    text: str
    source: str = "<memory>"

    @property
    def active_findings(self) -> tuple[ReportFinding, ...]:
        return tuple(f for f in self.findings if f.active)

    @property
    def manifest_digest(self) -> str:
        return str(self.document.get("artifact", {}).get("manifest_digest") or "")

    @property
    def image_id(self) -> str:
        return str(self.document.get("artifact", {}).get("image_id") or "")

    @property
    def os_name(self) -> str:
        system = self.document.get("os") or {}
        return str(system.get("pretty_name") or system.get("id") or "")

    @property
    def scanner(self) -> str:
        scanner = self.document.get("scanner") or {}
        return f"{scanner.get('name', 'hullscan')} {scanner.get('version', '')}".strip()

    @property
    def db_built_at(self) -> str:
        db = self.document.get("db") or {}
        return str(db.get("built_at") or "")

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(str(w) for w in self.document.get("warnings") or ())


def load_reports(path: Path | str) -> list[LoadedReport]:
    """Every image report in a file: one for a single report, one per scanned image of a
    combined report (images that failed to scan have no report and are left out)."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"cannot read report {source}: {exc}") from None
    return parse_reports(text, source)


def parse_reports(text: str, source: str = "<report>") -> list[LoadedReport]:
    """Like load_reports, from the text."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(
            f"{source}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "give a report written with --format json or --report json"
        ) from None
    if not isinstance(document, dict):
        raise ReportError(f"{source}: a hullscan JSON report is an object")
    if document.get("kind") == MULTI_KIND:
        images = document.get("images")
        if not isinstance(images, list):
            raise ReportError(f"{source}: images must be a list")
        loaded = []
        for index, entry in enumerate(images):
            if isinstance(entry, dict) and isinstance(entry.get("report"), dict):
                sub = entry["report"]
                sub_text = json.dumps(sub, indent=2, ensure_ascii=False) + "\n"
                loaded.append(from_document(sub, sub_text, f"{source}: images[{index}]"))
        return loaded
    return [from_document(document, text, source)]


def from_document(document: Mapping[str, Any], text: str, source: str) -> LoadedReport:
    """Validate what the tracker relies on; ReportError names the field."""
    version = document.get("schema_version")
    if version != SUPPORTED_SCHEMA:
        raise ReportError(
            f"{source}: schema_version {version!r} is not supported (this hullscan reads "
            f"{SUPPORTED_SCHEMA}); is it a hullscan JSON report (--format json)?"
        )
    artifact = _mapping(document, "artifact", source)
    findings_raw = document.get("findings")
    if not isinstance(findings_raw, list):
        raise ReportError(f"{source}: findings must be a list")
    findings = tuple(
        _finding(item, f"{source}: findings[{i}]") for i, item in enumerate(findings_raw)
    )
    return LoadedReport(
        image=_image_name(document, artifact, source),
        findings=findings,
        document=document,
        text=text,
        source=source,
    )


def _image_name(document: Mapping[str, Any], artifact: Mapping[str, Any], source: str) -> str:
    policy = document.get("policy")
    if (
        isinstance(policy, dict)
        and isinstance(policy.get("image_ref"), str)
        and policy["image_ref"]
    ):
        return str(policy["image_ref"])
    tags = artifact.get("repo_tags") or []
    if isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, str) and tag:
                return tag
    reference = artifact.get("reference")
    if not isinstance(reference, str) or not reference:
        raise ReportError(f"{source}: artifact.reference is missing")
    return reference


def _mapping(document: Mapping[str, Any], key: str, source: str) -> Mapping[str, Any]:
    value = document.get(key)
    if not isinstance(value, dict):
        raise ReportError(f"{source}: {key} must be an object")
    return value


def _text(item: Mapping[str, Any], key: str, where: str, required: bool = False) -> str:
    value = item.get(key)
    if value is None:
        if required:
            raise ReportError(f"{where}: {key} is missing")
        return ""
    if not isinstance(value, str):
        raise ReportError(f"{where}: {key} must be a string")
    return value


def _strings(item: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = item.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ReportError(f"{where}: {key} must be a list of strings")
    return tuple(value)


def _finding(item: Any, where: str) -> ReportFinding:
    if not isinstance(item, dict):
        raise ReportError(f"{where}: must be an object")
    package = item.get("package")
    if not isinstance(package, dict):
        raise ReportError(f"{where}: package must be an object")
    try:
        severity = Severity.parse(_text(item, "severity", where, required=True))
    except ValueError as exc:
        raise ReportError(f"{where}: {exc}") from None
    layer = item.get("layer")
    layer = layer if isinstance(layer, dict) else {}
    index = layer.get("index")
    return ReportFinding(
        id=_text(item, "id", where, required=True),
        package=_text(package, "name", f"{where}.package", required=True),
        installed_version=_text(item, "installed_version", where)
        or _text(package, "version", f"{where}.package", required=True),
        type=_text(package, "type", f"{where}.package"),
        arch=_text(package, "arch", f"{where}.package"),
        purl=_text(package, "purl", f"{where}.package"),
        severity=severity,
        status=_text(item, "status", where),
        fixed_version=_text(item, "fixed_version", where),
        aliases=_strings(item, "aliases", where),
        urls=_strings(item, "urls", where),
        layer_diff_id=str(layer.get("diff_id") or ""),
        layer_index=index if isinstance(index, int) else None,
        layer_created_by=str(layer.get("created_by") or ""),
        suppressed_by=_text(item, "suppressed_by", where),
    )


def load_all(paths: Sequence[Path | str]) -> list[LoadedReport]:
    """Every report of every file, in order."""
    reports: list[LoadedReport] = []
    for path in paths:
        reports.extend(load_reports(path))
    return reports
