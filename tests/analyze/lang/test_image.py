"""A multi-layer image with real installs, scanned end to end through scan.index.

Layer 1 is a Debian layer whose dpkg file list owns urllib3's dist-info (python3-urllib3);
layer 2 is `pip install --target` of the real pip and setuptools wheels CPython bundles
(ensurepip, so no network); layer 3 is `npm install --offline` of real npm packages packed
from the npm that node ships (ms, abbrev, a scoped one), next to a lockfile-only project;
layer 4 whites out pip and ms. Skipped with a reason when pip's bundled wheels or npm are
missing. About 3 seconds.
"""

from __future__ import annotations

import ensurepip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hullscan import scan
from hullscan.image.archive import open_archive
from hullscan.model import Inventory
from tests.image.test_archive import load_sample_builder


def npm_home() -> Path | None:
    """npm's own package directory (…/node_modules/npm), found from the `npm` on PATH."""
    npm = shutil.which("npm")
    if npm is None:
        return None
    for parent in Path(npm).resolve().parents:
        if (parent / "package.json").is_file():
            return parent
    return None


NPM_HOME = npm_home()
NPM_BUNDLED = (NPM_HOME or Path("/nonexistent")) / "node_modules"
NPM_PACKAGES = ("ms", "abbrev", "@isaacs/string-locale-compare")
SITE = "usr/local/lib/python3.11/site-packages"
URLLIB3 = "usr/lib/python3/dist-packages/urllib3-1.26.12.dist-info"
OS_RELEASE = Path(__file__).parents[1] / "os" / "testdata" / "debian-12.os-release"
STATUS = """\
Package: python3-urllib3
Status: install ok installed
Priority: optional
Section: python
Installed-Size: 484
Maintainer: Debian Python Team <team+python@tracker.debian.org>
Architecture: all
Source: python-urllib3
Version: 1.26.12-1
Depends: python3-certifi, python3-idna, python3-six, python3:any
Description: HTTP library with thread-safe connection pooling for Python3
"""
WORKER_LOCK = {
    "name": "worker",
    "lockfileVersion": 3,
    "packages": {
        "": {"name": "worker", "dependencies": {"lodash": "^4.17.21"}},
        "node_modules/lodash": {"version": "4.17.21"},
        "node_modules/eslint": {"version": "8.57.0", "dev": True},
    },
}


def bundled_wheels() -> dict[str, Path]:
    bundled = Path(ensurepip.__file__).parent / "_bundled"
    wheels = {w.name.split("-")[0]: w for w in bundled.glob("*.whl")}
    if not {"pip", "setuptools"} <= wheels.keys():
        pytest.skip(f"CPython's bundled pip and setuptools wheels are not in {bundled}")
    return wheels


def npm_tarballs(work: Path) -> list[Path]:
    npm = shutil.which("npm")
    if npm is None or not all((NPM_BUNDLED / p / "package.json").is_file() for p in NPM_PACKAGES):
        pytest.skip(f"npm with its bundled packages in {NPM_BUNDLED} is not installed")
    env = {
        **os.environ,
        "npm_config_cache": str(work / "npm-cache"),
        "npm_config_update_notifier": "false",
    }
    packed = subprocess.run(
        [npm, "pack", "--offline", "--silent", *(str(NPM_BUNDLED / p) for p in NPM_PACKAGES)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return [work / line.strip() for line in packed.stdout.splitlines() if line.strip()]


def build_layers(work: Path) -> Path:
    layers = work / "layers"
    debian = layers / "1-debian"
    (debian / "etc").mkdir(parents=True)
    shutil.copy(OS_RELEASE, debian / "etc/os-release")
    dpkg = debian / "var/lib/dpkg"
    (dpkg / "info").mkdir(parents=True)
    (dpkg / "status").write_text(STATUS)
    owned = [
        f"{URLLIB3}/METADATA",
        f"{URLLIB3}/RECORD",
        "usr/lib/python3/dist-packages/urllib3/__init__.py",
    ]
    dirs = ["/.", "/usr", "/usr/lib", "/usr/lib/python3", "/usr/lib/python3/dist-packages"]
    (dpkg / "info/python3-urllib3.list").write_text(
        "\n".join(dirs + [f"/{p}" for p in owned]) + "\n"
    )
    for path in owned:
        (debian / path).parent.mkdir(parents=True, exist_ok=True)
        (debian / path).write_text("")
    (debian / owned[0]).write_text("Metadata-Version: 2.1\nName: urllib3\nVersion: 1.26.12\n\n")

    wheels = bundled_wheels()
    target = layers / "2-pip" / SITE
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
         "--no-cache-dir", "--disable-pip-version-check", "--no-compile",
         "--target", str(target), str(wheels["pip"]), str(wheels["setuptools"])],
        check=True,
    )  # fmt: skip

    app = layers / "3-npm" / "srv/app"
    app.mkdir(parents=True)
    (app / "package.json").write_text('{"name": "app", "version": "1.0.0", "private": true}')
    tarballs = npm_tarballs(work)
    env = {
        **os.environ,
        "npm_config_cache": str(work / "npm-cache"),
        "npm_config_update_notifier": "false",
    }
    subprocess.run(
        ["npm", "install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts",
         "--silent", *map(str, tarballs)],
        cwd=app, env=env, check=True,
    )  # fmt: skip
    worker = layers / "3-npm" / "srv/worker"
    worker.mkdir(parents=True)
    (worker / "package-lock.json").write_text(json.dumps(WORKER_LOCK))

    cleanup = layers / "4-cleanup"
    (cleanup / SITE).mkdir(parents=True)
    for name in (f"pip-{wheels['pip'].name.split('-')[1]}.dist-info", "pip", "bin"):
        (cleanup / SITE / f".wh.{name}").write_text("")
    (cleanup / "srv/app/node_modules").mkdir(parents=True)
    (cleanup / "srv/app/node_modules/.wh.ms").write_text("")
    return layers


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    work = tmp_path_factory.mktemp("lang-image")
    layers = build_layers(work)
    builder = load_sample_builder()  # type: ignore[no-untyped-call]
    out = builder.build(work / "image.tar", "oci", "gzip", layers)
    with open_archive(out) as image:
        return scan.index(image, workers=1)


def test_real_installs_across_layers(inventory: Inventory) -> None:
    setuptools = bundled_wheels()["setuptools"].name.split("-")[1]
    layer = {i + 1: layer.diff_id for i, layer in enumerate(inventory.artifact.layers)}
    got = {(p.type.value, p.name, p.version): p.layer for p in inventory.packages}
    assert got == {
        ("deb", "python3-urllib3", "1.26.12-1"): layer[1],
        ("pypi", "setuptools", setuptools): layer[2],
        ("npm", "abbrev", "4.0.0"): layer[3],
        ("npm", "@isaacs/string-locale-compare", "1.1.0"): layer[3],
        ("npm", "lodash", "4.17.21"): layer[3],  # lockfile-only project, dev left out
    }
    assert inventory.distro is not None and inventory.distro.id == "debian"
    assert inventory.warnings == ()


def test_paths_and_purls(inventory: Inventory) -> None:
    by_name = {p.name: p for p in inventory.packages}
    assert by_name["setuptools"].paths[0].startswith(f"{SITE}/setuptools-")
    assert by_name["abbrev"].paths == ("srv/app/node_modules/abbrev/package.json",)
    assert by_name["lodash"].paths == ("srv/worker/package-lock.json",)
    assert by_name["@isaacs/string-locale-compare"].purl == (
        "pkg:npm/%40isaacs/string-locale-compare@1.1.0"
    )
    version = by_name["setuptools"].version
    assert by_name["setuptools"].purl == f"pkg:pypi/setuptools@{version}"  # no distro namespace
    assert by_name["python3-urllib3"].purl.startswith("pkg:deb/debian/python3-urllib3@")


def test_whited_out_and_os_owned_packages_are_gone(inventory: Inventory) -> None:
    names = {p.name for p in inventory.packages}
    assert "pip" not in names  # deleted in layer 4
    assert "ms" not in names  # deleted in layer 4; srv/app's lockfile does not bring it back
    assert [p.type.value for p in inventory.packages if "urllib3" in p.name] == ["deb"]
