"""npm packages: installed ones (node_modules/**/package.json) and lockfiles.

Installed: a `package.json` directly inside a package directory under node_modules,
`.../node_modules/<name>/package.json` or `.../node_modules/@scope/<name>/package.json`, at
any depth of nesting (npm's nested node_modules, pnpm's `.pnpm/<id>/node_modules/<name>`).
Other package.json files inside a package (test fixtures, `esm/package.json` type markers)
are not packages and are not read. The name and version are the manifest's own: an
aliased install (`node_modules/string-width-cjs`) reports the real package.

Lockfiles: package-lock.json and npm-shrinkwrap.json (v1, v2, v3), yarn.lock (classic and
berry), pnpm-lock.yaml (5.x-9.x); the rules are in `js_lockfiles`. Lockfiles inside
node_modules belong to a dependency's own development, those under usr/share/doc are
examples: both are ignored.

When a project has both, the Applier keeps the installed packages and drops the lockfile's
(`lockfile_project`/`installed_project` give the project directory each belongs to): what is
in node_modules is what runs; a lockfile also lists optional packages for other platforms
and whatever was pruned. The lockfile speaks only for projects with no node_modules.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from hullscan.analyze.base import AnalysisResult, Analyzer
from hullscan.analyze.lang.js_lockfiles import (
    NameVersion,
    parse_package_lock,
    parse_pnpm_lock,
    parse_yarn_lock,
)
from hullscan.errors import AnalyzerError
from hullscan.model import Package, PackageType

MANIFEST = "package.json"
NODE_MODULES = "node_modules/"
_MANIFEST_TAIL = "/" + MANIFEST
LOCKFILES: dict[str, Callable[[bytes], list[NameVersion]]] = {
    "package-lock.json": parse_package_lock,
    "npm-shrinkwrap.json": parse_package_lock,
    "yarn.lock": parse_yarn_lock,
    "pnpm-lock.yaml": parse_pnpm_lock,
}
_LOCK_TAILS = tuple(LOCKFILES)
#: Packages' documentation: example lockfiles, not installs.
DOC_DIR = "usr/share/doc/"


def _node_modules_at(path: str, start: int = 0) -> int:
    """Index of the first `node_modules/` path segment at or after `start`, or -1."""
    at = path.find(NODE_MODULES, start)
    while at > 0 and path[at - 1] != "/":
        at = path.find(NODE_MODULES, at + 1)
    return at


def is_installed_manifest(path: str) -> bool:
    """`.../node_modules/<name>/package.json` or `.../node_modules/@scope/<name>/package.json`."""
    if not path.endswith(_MANIFEST_TAIL):
        return False
    package_dir = path[: -len(_MANIFEST_TAIL)]
    at = package_dir.rfind(NODE_MODULES)
    if at < 0 or (at and package_dir[at - 1] != "/"):
        return False
    rest = package_dir[at + len(NODE_MODULES) :]
    if not rest or rest[0] == ".":
        return False
    if rest[0] == "@":
        scope, slash, name = rest.partition("/")
        return len(scope) > 1 and bool(slash) and bool(name) and "/" not in name
    return "/" not in rest


def installed_project(path: str) -> str | None:
    """The project directory of an installed manifest (before its first node_modules/), or
    None when `path` is not one."""
    at = _node_modules_at(path)
    if at < 0 or not path.endswith(_MANIFEST_TAIL):
        return None
    return path[:at].rstrip("/")


def lockfile_project(path: str) -> str | None:
    """The project directory of a lockfile (its directory), or None when `path` is not one."""
    directory, _, base = path.rpartition("/")
    return directory if base in LOCKFILES else None


def parse_manifest(content: bytes) -> NameVersion:
    """(name, version) of an installed package.json; AnalyzerError if either is missing."""
    try:
        data = json.loads(content.decode("utf-8-sig", errors="replace"))
    except ValueError as exc:
        raise AnalyzerError(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise AnalyzerError("package.json is not a JSON object")
    name, version = data.get("name"), data.get("version")
    if not isinstance(name, str) or not name.strip():
        raise AnalyzerError("package.json has no name")
    if not isinstance(version, str) or not version.strip():
        raise AnalyzerError(f"package.json of {name} has no version")
    return name.strip(), version.strip()


@dataclass(frozen=True)
class JavaScriptAnalyzer(Analyzer):
    """npm packages installed in node_modules, and npm/Yarn/pnpm lockfiles."""

    name: ClassVar[str] = "javascript"
    version: ClassVar[int] = 1

    def wants(self, path: str) -> bool:
        if path.endswith(_MANIFEST_TAIL):
            return is_installed_manifest(path)
        if not path.endswith(_LOCK_TAILS):
            return False
        base = path.rpartition("/")[2]
        return base in LOCKFILES and _node_modules_at(path) < 0 and not path.startswith(DOC_DIR)

    def analyze(self, path: str, content: bytes) -> AnalysisResult:
        base = path.rpartition("/")[2]
        if base == MANIFEST:
            name, version = parse_manifest(content)
            found = [(name, version)]
        else:
            found = LOCKFILES[base](content)
        packages = tuple(
            Package(name=name, version=version, type=PackageType.NPM, paths=(path,))
            for name, version in found
        )
        return AnalysisResult(packages=packages)
