"""Alpine (and Wolfi) packages from apk's database, lib/apk/db/installed.

The file is a list of package blocks separated by blank lines, one `K:value` per line:
P name, V version, A arch, o origin (the aports source package, which secdb advisories
name). A block without o: gets its own name as origin (with a warning, since advisories
may then be missed); a block without A: has an empty arch.

Robustness: lines that are not `K:value` are ignored; a block without P or V is skipped;
both are summed up in warnings. A P: line inside a block that already has one starts a
new block (a missing blank line must not merge two packages). Only a non-empty file
without any package raises AnalyzerError. Syft fails the whole file on a stray line
(its "corrupt" fixture); we keep the packages around it, since a scanner that reports
nothing hides every vulnerability.

Owned files: `F:` (a directory, relative to the root) and the `R:` lines after it (file
names in it) are every file apk installed; they become `AnalysisResult.owned_paths`, so the
Applier can drop language packages an apk installed (py3-urllib3's dist-info is reported
as the apk, not again as PyPI). Directories themselves are not listed: only files can be
package metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from hullscan.analyze.base import AnalysisResult, Analyzer, some_names
from hullscan.errors import AnalyzerError
from hullscan.model import Package, PackageType

INSTALLED_DB = "lib/apk/db/installed"
#: apk-tools 3 and merged-/usr images (Wolfi, Chainguard) keep it under usr/lib.
INSTALLED_DB_USR = "usr/lib/apk/db/installed"
_PATHS = frozenset({INSTALLED_DB, INSTALLED_DB_USR})


def parse_apk_installed(text: str, path: str) -> tuple[list[Package], list[str]]:
    """Packages of one apk installed database and its warnings (see module docs)."""
    packages, warnings, _owned = parse_apk_database(text, path)
    return packages, warnings


def parse_apk_database(text: str, path: str) -> tuple[list[Package], list[str], list[str]]:
    """Packages, warnings and owned files (F: + R:) of one apk installed database."""
    packages: list[Package] = []
    owned: list[str] = []
    directory = ""
    skipped: list[str] = []
    no_origin: list[str] = []
    stray = 0
    block: dict[str, str] = {}

    def flush() -> None:
        if not block:
            return
        name, version = block.get("P", ""), block.get("V", "")
        if not name or not version or any(c.isspace() for c in name + version):
            skipped.append(f"{name or '?'} ({'no version' if name else 'no name'})")
        else:
            if not block.get("o"):
                no_origin.append(name)
            packages.append(
                Package(
                    name=name,
                    version=version,
                    type=PackageType.APK,
                    arch=block.get("A", ""),
                    source_name=block.get("o", "") or name,
                    source_version=version,
                    paths=(path,),
                )
            )
        block.clear()

    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        if len(line) < 2 or line[1] != ":":
            if line.strip():
                stray += 1
            else:
                flush()
            continue
        key = line[0]
        if key == "R":
            name = line[2:]
            owned.append(f"{directory}/{name}" if directory else name)
            continue
        if key == "F":
            directory = line[2:].strip("/")
            continue
        if key in "PVAo":
            if key == "P":
                directory = ""
                if "P" in block:
                    flush()
            block.setdefault(key, line[2:].strip())
    flush()
    if not packages and text.strip():
        reason = f" ({skipped[0]})" if skipped else ""
        raise AnalyzerError(f"not an apk database: no package found{reason}")
    warnings: list[str] = []
    if skipped:
        warnings.append(
            f"skipped {len(skipped)} incomplete package block(s): {some_names(skipped)}"
        )
    if stray:
        warnings.append(f"ignored {stray} line(s) that are not 'K:value'")
    if no_origin:
        warnings.append(
            f"no origin (o:) for {some_names(no_origin)}; used the package name as source"
        )
    return packages, warnings, owned


@dataclass(frozen=True)
class ApkAnalyzer(Analyzer):
    """apk installed database (Alpine, Wolfi, Chainguard)."""

    name: ClassVar[str] = "apk"
    version: ClassVar[int] = 3

    def wants(self, path: str) -> bool:
        return path in _PATHS

    def analyze(self, path: str, content: bytes) -> AnalysisResult:
        text = content.decode("utf-8", errors="replace")
        packages, warnings, owned = parse_apk_database(text, path)
        return AnalysisResult(
            packages=tuple(packages), warnings=tuple(warnings), owned_paths=tuple(owned)
        )
