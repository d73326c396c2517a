"""The JavaScript analyzer against Trivy's expected parses of its npm, Yarn and pnpm
fixtures (all 25), Syft's fixtures, and the node_modules layout rules."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hullscan.analyze.lang.javascript import (
    LOCKFILES,
    JavaScriptAnalyzer,
    installed_project,
    is_installed_manifest,
    lockfile_project,
)
from hullscan.errors import AnalyzerError
from hullscan.model import PackageType
from tests.analyze.lang.test_python import shared_dir

EXPECTED = "pkgdb/javascript/_expected"
SYFT = "pkgdb/javascript/anchore__syft/syft/pkg/cataloger/javascript/testdata"
analyzer = JavaScriptAnalyzer()

#: Trivy lists these; hullscan leaves them out on purpose: workspace members and local
#: directories are the project's own code, not registry packages (js_lockfiles docs).
DELIBERATE = {
    "trivy_npm_package-lock_v3_with_workspace.json.expected.json": {
        ("function1", ""),
        ("nested_func", "1.0.0"),
    },
    "trivy_npm_package-lock_v3_with_workspace_as_object.json.expected.json": {("testapp", "1.0.0")},
    "trivy_npm_package-lock_v3_without_root_deps_field.json.expected.json": {("func1", "1.0.0")},
    "trivy_pnpm_pnpm-lock_archives.yaml.expected.json": {("package1", "1.0.0")},
    "trivy_pnpm_pnpm-lock_v9.yaml.expected.json": {("package1", "")},
}


def lockfile_name(input_path: str) -> str:
    base = input_path.rsplit("/", 1)[-1]
    if base.startswith("package-lock") or input_path.startswith("pkg-lock/"):
        return "package-lock.json"
    return "yarn.lock" if base.startswith("yarn") else "pnpm-lock.yaml"


def found(path: str, content: bytes) -> list[tuple[str, str]]:
    result = analyzer.analyze(path, content)
    assert all(p.type is PackageType.NPM and p.paths == (path,) for p in result.packages)
    return [(p.name, p.version) for p in result.packages]


@pytest.mark.parametrize(
    "expected", sorted(p.name for p in (shared_dir() / EXPECTED).glob("trivy_*.json"))
)
def test_trivy_expectations(shared_data: Path, expected: str) -> None:
    """Every production package Trivy's parser finds, none of its dev ones (Trivy's analyzer
    drops those too), except the deliberate differences above."""
    data = json.loads((shared_data / EXPECTED / expected).read_text())
    name = lockfile_name(data["input"])
    got = found(f"srv/app/{name}", (shared_data / data["input"]).read_bytes())
    assert len(got) == len(set(got))
    production = {(p["name"], p.get("version") or "") for p in data["packages"] if not p["dev"]}
    dev = {(p["name"], p.get("version") or "") for p in data["packages"] if p["dev"]}
    assert set(got) == production - DELIBERATE.get(expected, set())
    assert not (set(got) & (dev - production))


def test_every_trivy_expectation_is_compared(shared_data: Path) -> None:
    """9 package-lock, 10 pnpm and 6 yarn expectation files (the parametrisation above)."""
    assert len(list((shared_data / EXPECTED).glob("trivy_*.json"))) == 25


@pytest.mark.parametrize(
    ("relpath", "expected"),
    [
        # v1 aliases: the real package is reported (`case-alias` is npm:case@1.6.3)
        (
            "pkg-lock/alias-package-lock-1.json",
            [("case", "1.6.2"), ("case", "1.6.3"), ("@bundled-es-modules/chai", "4.2.2")],
        ),
        (
            "pkg-lock/alias-package-lock-2.json",
            [("case", "1.6.2"), ("case", "1.6.3"), ("@bundled-es-modules/chai", "4.2.2")],
        ),
        # v1 nesting: every copy once per version; what hangs under a dev package is dev
        (
            "pkg-lock/nested-package-lock-1.json",
            [
                ("parent", "1.0.0"),
                ("shared", "1.0.0"),
                ("middle", "1.0.0"),
                ("shared", "0.5.0"),
                ("duplicate", "1.0.0"),
                ("shared", "2.0.0"),
            ],
        ),
        (
            "pkg-lock/package-lock-3.json",
            [
                ("@types/prop-types", "15.7.5"),
                ("@types/react", "18.0.20"),
                ("@types/scheduler", "0.16.2"),
                ("csstype", "3.1.1"),
            ],
        ),
        # lockfileVersion 5.4 whose only package is a dev one
        ("pnpm/pnpm-lock.yaml", []),
        # '9.0' without snapshots (Syft's hand-made fixture): read like v6, dev flags
        (
            "pnpm-v9/pnpm-lock.yaml",
            [
                ("@babel/core", "7.24.7"),
                ("@babel/helper-plugin-utils", "7.24.7"),
                ("is-positive", "3.1.0"),
                ("rollup", "4.18.0"),
            ],
        ),
        (
            "pnpm-v9-snapshots/pnpm-lock.yaml",
            [
                ("cross-spawn", "7.0.6"),
                ("isexe", "2.0.0"),
                ("path-key", "3.1.1"),
                ("shebang-command", "2.0.0"),
                ("shebang-regex", "3.0.0"),
                ("which", "2.0.2"),
            ],
        ),
    ],
)
def test_syft_lockfiles(shared_data: Path, relpath: str, expected: list[tuple[str, str]]) -> None:
    name = lockfile_name(relpath)
    assert found(f"app/{name}", (shared_data / SYFT / relpath).read_bytes()) == expected


def test_syft_yarn_classic_and_berry_agree(shared_data: Path) -> None:
    """The same project locked by Yarn 1 and by Yarn berry; Syft's classic fixture has one
    more entry (`c0n-fab_u.laTION`, odd characters kept as written); duplicated blocks
    (`@types/qs`, `atob`) count once."""
    classic = found("a/yarn.lock", (shared_data / SYFT / "yarn/yarn.lock").read_bytes())
    berry = found("a/yarn.lock", (shared_data / SYFT / "yarn-berry/yarn.lock").read_bytes())
    assert set(berry) <= set(classic)
    assert ("@babel/code-frame", "7.10.4") in berry and ("jhipster-core", "7.3.4") in berry
    assert set(classic) - set(berry) == {("c0n-fab_u.laTION", "7.7.7")}
    assert len(berry) == 8


def test_yarn_protocols() -> None:
    lock = b"""# yarn lockfile v1

"string-width-cjs@npm:string-width@^4.2.0":
  version "4.2.3"

"local@file:../local":
  version "1.0.0"

"gh@github:user/gh#main":
  version "2.0.0"

"@scope/pkg@^1.0.0", "@scope/pkg@^1.1.0":
  version "1.2.0"
  dependencies:
    version "9.9.9"
"""
    assert found("a/yarn.lock", lock) == [("string-width", "4.2.3"), ("@scope/pkg", "1.2.0")]
    berry = b"""__metadata:
  version: 6

"app@workspace:.":
  version: 0.0.0-use.local
  resolution: "app@workspace:."

"resolve@npm:^1.22.1":
  version: 1.22.1
  resolution: "resolve@npm:1.22.1"

"resolve@patch:resolve@npm%3A^1.22.1#~builtin<compat/resolve>":
  version: 1.22.1
  resolution: "resolve@patch:resolve@npm%3A1.22.1#~builtin<compat/resolve>::version=1.22.1"

"strip-ansi-cjs@npm:strip-ansi@^6.0.1":
  version: 6.0.1
  resolution: "strip-ansi@npm:6.0.1"
"""
    assert found("a/yarn.lock", berry) == [("resolve", "1.22.1"), ("strip-ansi", "6.0.1")]


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("srv/app/node_modules/lodash/package.json", True),
        ("node_modules/lodash/package.json", True),
        ("srv/app/node_modules/@babel/core/package.json", True),
        ("srv/app/node_modules/a/node_modules/b/package.json", True),
        ("srv/app/node_modules/a/node_modules/@s/b/package.json", True),
        ("app/node_modules/.pnpm/lodash@4.17.21/node_modules/lodash/package.json", True),
        ("usr/local/lib/node_modules/npm/node_modules/ms/package.json", True),
        ("srv/app/node_modules/lodash/test/fixtures/package.json", False),
        ("srv/app/node_modules/lodash/esm/package.json", False),
        ("srv/app/node_modules/@babel/package.json", False),  # a scope, not a package
        ("srv/app/node_modules/.bin/package.json", False),
        ("srv/app/my_node_modules/x/package.json", False),
        ("srv/app/package.json", False),  # the project itself
        ("package.json", False),
        ("srv/app/package-lock.json", True),
        ("srv/app/npm-shrinkwrap.json", True),
        ("srv/app/yarn.lock", True),
        ("pnpm-lock.yaml", True),
        ("srv/app/node_modules/left-pad/yarn.lock", False),  # a dependency's own lockfile
        ("srv/app/node_modules/.package-lock.json", False),
        ("usr/share/doc/node-foo/examples/package-lock.json", False),
        ("srv/app/old-package-lock.json", False),
    ],
)
def test_wants(path: str, wanted: bool) -> None:
    assert analyzer.wants(path) is wanted
    if path.endswith("/package.json"):
        assert is_installed_manifest(path) is wanted


def test_projects_of_installed_packages_and_lockfiles() -> None:
    assert installed_project("srv/app/node_modules/a/node_modules/b/package.json") == "srv/app"
    assert installed_project("node_modules/a/package.json") == ""
    assert installed_project("srv/app/package-lock.json") is None
    assert lockfile_project("srv/app/package-lock.json") == "srv/app"
    assert lockfile_project("yarn.lock") == ""
    assert lockfile_project("srv/app/node_modules/a/package.json") is None
    assert set(LOCKFILES) == {
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
    }


def test_syft_installed_manifests(shared_data: Path) -> None:
    root = shared_data / SYFT / "pkg-lock"
    got = {}
    for manifest in sorted(root.rglob("package.json")):
        path = "srv/app/" + manifest.relative_to(root).as_posix()
        assert analyzer.wants(path)
        got[path] = found(path, manifest.read_bytes())
    assert got == {
        "srv/app/node_modules/@actions/core/package.json": [("@actions/core", "1.6.0")],
        "srv/app/node_modules/cowsay/package.json": [("cowsay", "1.4.0")],
    }


def test_manifest_name_and_version_are_the_manifests_own() -> None:
    aliased = b'\xef\xbb\xbf{"name": "string-width", "version": " 4.2.3 "}'
    assert found("a/node_modules/string-width-cjs/package.json", aliased) == [
        ("string-width", "4.2.3")
    ]
    for broken, message in [
        (b'{"name": "x"}', "has no version"),
        (b'{"version": "1.0.0"}', "no name"),
        (b"[]", "not a JSON object"),
        (b"{", "not valid JSON"),
    ]:
        with pytest.raises(AnalyzerError, match=message):
            analyzer.analyze("a/node_modules/x/package.json", broken)


def test_broken_lockfiles_are_errors() -> None:
    with pytest.raises(AnalyzerError, match="JSON"):
        analyzer.analyze("a/package-lock.json", b"{")
    with pytest.raises(AnalyzerError, match="not a package-lock"):
        analyzer.analyze("a/package-lock.json", b"{}")
    assert found("a/package-lock.json", b'{"lockfileVersion": 3, "packages": {}}') == []
    with pytest.raises(AnalyzerError, match="YAML"):
        analyzer.analyze("a/pnpm-lock.yaml", b"a: [")
    with pytest.raises(AnalyzerError, match="lockfileVersion"):
        analyzer.analyze("a/pnpm-lock.yaml", b"packages: {}")
    with pytest.raises(AnalyzerError, match=r"not a yarn\.lock"):
        analyzer.analyze("a/yarn.lock", b"   indented garbage only\n")


def test_npms_own_node_modules_match_npm_ls(tmp_path: Path) -> None:
    """The node_modules tree npm ships with (143 packages here), against `npm ls --all`."""
    import shutil
    import subprocess

    from hullscan.image.rootfs import walk_rootfs
    from hullscan.inventory import Applier
    from hullscan.model import ArtifactInfo, Layer
    from tests.analyze.lang.test_image import NPM_HOME

    npm = shutil.which("npm")
    if npm is None or NPM_HOME is None or not (NPM_HOME / "node_modules").is_dir():
        pytest.skip("npm with its own node_modules is not installed")
    root = NPM_HOME
    listed = subprocess.run(
        [npm, "ls", "--all", "--json", "--offline", "--prefix", str(root)],
        capture_output=True,
        text=True,
        env={**os.environ, "npm_config_cache": str(tmp_path)},
    )
    expected: set[tuple[str, str]] = set()

    def walk(dependencies: dict[str, dict[str, object]]) -> None:
        for name, entry in dependencies.items():
            if isinstance(entry.get("version"), str):
                expected.add((str(entry.get("name") or name), str(entry["version"])))
            walk(entry.get("dependencies") or {})  # type: ignore[arg-type]

    walk(json.loads(listed.stdout).get("dependencies", {}))
    applier = Applier()
    applier.apply(0, walk_rootfs(root, [analyzer]))
    inventory = applier.inventory(ArtifactInfo("npm", "rootfs", layers=(Layer(0, ""),)))
    assert len(expected) > 50
    assert {(p.name, p.version) for p in inventory.packages} == expected
    assert inventory.warnings == ()
