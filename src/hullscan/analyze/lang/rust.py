"""Rust crates: `Cargo.lock` files, and binaries built with cargo-auditable.

`Cargo.lock` (format v1 to v4: the `[[package]]` tables have not changed in what we read)
lists every crate of the build with its exact version; every one is reported, workspace
members and path or git crates included (as Trivy and Syft do: a name clash with a
crates.io crate is the matcher's problem, and a git crate is still that crate).

cargo-auditable embeds the same list in the binary, in the `.dep-v0` ELF section: zlib-
compressed JSON `{"packages": [{"name", "version", "source", "kind", "root"}, ...]}`.
Crates of `"kind": "build"` ran only at build time (build scripts, proc macros) and are
not in the program, so they are left out, as Trivy does. Plain Rust binaries carry no
such list and yield nothing.
"""

from __future__ import annotations

import json
import tomllib
import zlib
from typing import Any

from hullscan.analyze.base import AnalysisResult, Analyzer
from hullscan.analyze.lang.elf_file import (
    MAX_PROGRAM_SIZE,
    ElfError,
    ElfFile,
    plausible_program,
)
from hullscan.errors import AnalyzerError
from hullscan.model import Package, PackageType

AUDIT_SECTION = ".dep-v0"
#: The JSON of the largest real dependency trees inflates to well under a MiB.
_MAX_AUDIT_JSON = 16 * 1024 * 1024


class RustAnalyzer(Analyzer):
    """Cargo.lock files and cargo-auditable binaries."""

    name = "rust"
    version = 1
    max_file_size = MAX_PROGRAM_SIZE

    def wants(self, path: str) -> bool:
        return path.endswith("Cargo.lock") and (
            path == "Cargo.lock" or path.endswith("/Cargo.lock")
        )

    def wants_file(self, path: str, mode: int, size: int) -> bool:
        return self.wants(path) or plausible_program(path, mode, size)

    def analyze(self, path: str, content: bytes) -> AnalysisResult:
        if path.endswith("Cargo.lock") and not content.startswith(b"\x7fELF"):
            return parse_cargo_lock(content, path)
        return analyze_rust_binary(path, content)


def parse_cargo_lock(content: bytes, path: str) -> AnalysisResult:
    """Every `[[package]]` of a Cargo.lock with a name and a version."""
    try:
        doc = tomllib.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AnalyzerError(f"not a Cargo.lock file: {exc}") from None
    entries = doc.get("package", [])
    if not isinstance(entries, list):
        raise AnalyzerError("not a Cargo.lock file: `package` is not an array of tables")
    packages, skipped = _crates(entries, path)
    warnings = (
        (f"{skipped} [[package]] entries without a name or version skipped",) if skipped else ()
    )
    return AnalysisResult(packages=tuple(packages), warnings=warnings)


def analyze_rust_binary(path: str, content: bytes) -> AnalysisResult:
    """The crates a cargo-auditable binary lists; an empty result for any other file."""
    try:
        elf = ElfFile.parse(content)
    except ElfError:
        return AnalysisResult()  # not a program we can read; Go's analyzer says why if it is Go
    if elf is None:
        return AnalysisResult()
    section = elf.section(AUDIT_SECTION)
    if section is None:
        return AnalysisResult()
    return parse_audit_data(elf.section_data(section), path)


def parse_audit_data(compressed: bytes, path: str) -> AnalysisResult:
    """The runtime crates of a `.dep-v0` section's content."""
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(compressed, _MAX_AUDIT_JSON)
    except zlib.error as exc:
        raise AnalyzerError(f"{AUDIT_SECTION} section is not zlib data: {exc}") from None
    if inflater.unconsumed_tail:
        raise AnalyzerError(f"{AUDIT_SECTION} section inflates past {_MAX_AUDIT_JSON} bytes")
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AnalyzerError(f"{AUDIT_SECTION} section is not JSON: {exc}") from None
    entries = doc.get("packages") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise AnalyzerError(f"{AUDIT_SECTION} section has no package list")
    runtime = [e for e in entries if not (isinstance(e, dict) and e.get("kind") == "build")]
    packages, skipped = _crates(runtime, path)
    warnings = (f"{skipped} crates without a name or version skipped",) if skipped else ()
    return AnalysisResult(packages=tuple(packages), warnings=warnings)


def _crates(entries: list[Any], path: str) -> tuple[list[Package], int]:
    packages: list[Package] = []
    seen: set[tuple[str, str]] = set()
    skipped = 0
    for entry in entries:
        name = entry.get("name") if isinstance(entry, dict) else None
        version = entry.get("version") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
            skipped += 1
            continue
        if (name, version) in seen:  # the same version from crates.io and from git
            continue
        seen.add((name, version))
        packages.append(Package(name=name, version=version, type=PackageType.CARGO, paths=(path,)))
    return packages, skipped
