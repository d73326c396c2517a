"""NuGet packages of .NET applications: `*.deps.json`.

Every published .NET application ships `<app>.deps.json`: `libraries` names each library
as `Name/Version` with a `type` (`project`, `package`, `runtimepack`,
`referenceassembly`, ...), and `targets[runtimeTarget.name]` says what each contributes at
run time. Reported, the way Trivy reads it:

- libraries of type `package`, except those whose entry under the runtime target has no
  `runtime`, `runtimeTargets` or `native` assets (compile-time only: analyzers, reference
  packages, framework facades such as Microsoft.NETCore.App 1.x). A package missing from
  the target, or a runtime target missing from `targets`, keeps the package (no false
  negative on an odd file).
- `runtimepack` libraries of self-contained apps, without the `runtimepack.` prefix
  (`Microsoft.NETCore.App.Runtime.linux-x64`): the .NET runtime shipped with the app,
  which NuGet advisories name this way.

`project` libraries are the application and its own projects: not on NuGet, nothing to
match (Trivy lists them as the root), so they are left out.
"""

from __future__ import annotations

import json
from typing import Any

from hullscan.analyze.base import AnalysisResult, Analyzer
from hullscan.errors import AnalyzerError
from hullscan.model import Package, PackageType

_RUNTIME_ASSETS = ("runtime", "runtimeTargets", "native")
_RUNTIMEPACK = "runtimepack."


class DotnetAnalyzer(Analyzer):
    """Packages listed in .NET deps.json files."""

    name = "dotnet"
    version = 1
    max_file_size = 32 * 1024 * 1024

    def wants(self, path: str) -> bool:
        return path.endswith(".deps.json")

    def analyze(self, path: str, content: bytes) -> AnalysisResult:
        try:
            doc = json.loads(content.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AnalyzerError(f"not JSON: {exc}") from None
        if not isinstance(doc, dict) or not ({"libraries", "targets"} & doc.keys()):
            raise AnalyzerError("not a .deps.json file: neither `libraries` nor `targets`")
        libraries = doc.get("libraries", {})
        if not isinstance(libraries, dict):
            raise AnalyzerError("not a .deps.json file: `libraries` is not an object")
        target = _runtime_target(doc)
        packages: list[Package] = []
        for key, library in libraries.items():
            if not isinstance(library, dict):
                continue
            kind = library.get("type")
            name, sep, version = str(key).rpartition("/")
            if not sep or not name or not version:
                continue
            if kind == "runtimepack":
                name = name.removeprefix(_RUNTIMEPACK)
            elif kind != "package" or not _at_runtime(target, key):
                continue
            packages.append(
                Package(name=name, version=version, type=PackageType.NUGET, paths=(path,))
            )
        return AnalysisResult(packages=tuple(packages))


def _runtime_target(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The libraries of the target the app runs on, None when the file does not say."""
    runtime = doc.get("runtimeTarget")
    targets = doc.get("targets")
    name = runtime.get("name") if isinstance(runtime, dict) else None
    if not isinstance(targets, dict) or not isinstance(name, str):
        return None
    target = targets.get(name)
    return target if isinstance(target, dict) else None


def _at_runtime(target: dict[str, Any] | None, key: str) -> bool:
    if target is None or key not in target:
        return True
    entry = target[key]
    return not isinstance(entry, dict) or any(entry.get(asset) for asset in _RUNTIME_ASSETS)
