""".NET: deps.json files against Trivy's expected parses and golden report, and Syft's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hullscan.analyze.lang.dotnet import DotnetAnalyzer
from hullscan.errors import AnalyzerError
from hullscan.model import PackageType

TRIVY = "pkgdb/dotnet/aquasecurity__trivy/pkg/dependency/parser/dotnet/core_deps/testdata"
SYFT = "pkgdb/dotnet/anchore__syft/syft/pkg/cataloger/dotnet/testdata"


def found(path: str, content: bytes) -> set[tuple[str, str]]:
    result = DotnetAnalyzer().analyze(path, content)
    assert all(p.type is PackageType.NUGET and p.paths == (path,) for p in result.packages)
    return {(p.name, p.version) for p in result.packages}


CASES = [
    "happy.deps.json",
    "without-runtime.deps.json",
    "no-libraries.deps.json",
    "missing-target.deps.json",
    "self-contained.deps.json",
    "multi-project.deps.json",
    "ambiguous-root.deps.json",
]


@pytest.mark.parametrize("name", CASES)
def test_trivy_expected_parses(shared_data: Path, name: str) -> None:
    """Trivy's expectations less the projects (root, workspace): the application itself,
    not a NuGet package."""
    cases = json.loads(
        (shared_data / "pkgdb/dotnet/_expected/trivy_core_deps.expected.json").read_text()
    )
    (case,) = [c for c in cases["cases"] if c["input"].endswith(f"/{name}")]
    deps = json.loads((shared_data / TRIVY / name).read_text())
    projects = {
        k.rpartition("/")[0] for k, v in deps.get("libraries", {}).items() if v["type"] == "project"
    }
    want = {(p["Name"], p["Version"]) for p in case["want"] or [] if p["Name"] not in projects}
    assert found(f"app/{name}", (shared_data / TRIVY / name).read_bytes()) == want


def test_trivy_invalid_file_is_an_error(shared_data: Path) -> None:
    with pytest.raises(AnalyzerError, match="not JSON"):
        DotnetAnalyzer().analyze(
            "app/x.deps.json", (shared_data / TRIVY / "invalid.deps.json").read_bytes()
        )
    with pytest.raises(AnalyzerError, match=r"not a \.deps\.json"):
        DotnetAnalyzer().analyze("app/x.deps.json", b'{"name": "x"}')


def test_trivy_golden_report(shared_data: Path) -> None:
    base = shared_data / "golden/aquasecurity__trivy/integration/testdata"
    golden = json.loads((base / "dotnet.json.golden").read_text())
    want = {
        (p["Name"], p["Version"])
        for r in golden["Results"]
        for p in r["Packages"]
        if p.get("Relationship") != "root"
    }
    deps = (base / "fixtures/repo/dotnet/datacollector.deps.json").read_bytes()
    assert found("app/datacollector.deps.json", deps) == want == {("Newtonsoft.Json", "9.0.1")}


def test_syft_fixtures(shared_data: Path) -> None:
    """TestLibrary: two packages without runtime assets (System.Diagnostics.DiagnosticSource,
    System.Runtime.CompilerServices.Unsafe) are compile-time only; MyApp: reference
    assemblies are not packages."""
    got = found(
        "app/TestLibrary.deps.json",
        (shared_data / SYFT / "dir-example-1/TestLibrary.deps.json").read_bytes(),
    )
    assert len(got) == 10 and ("Serilog.Sinks.Console", "4.0.1") in got
    assert not {name for name, _ in got} & {
        "System.Diagnostics.DiagnosticSource",
        "System.Runtime.CompilerServices.Unsafe",
        "TestLibrary",
        "TestCommon",
    }
    myapp = shared_data / SYFT / "deps-with-referenceassembly/MyApp.deps.json"
    assert found("app/MyApp.deps.json", myapp.read_bytes()) == {("Newtonsoft.Json", "13.0.3")}


def test_which_files() -> None:
    assert DotnetAnalyzer().wants("app/MyApp.deps.json")
    assert not DotnetAnalyzer().wants("app/MyApp.runtimeconfig.json")
