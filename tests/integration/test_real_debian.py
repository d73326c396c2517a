"""hullscan's inventory of a real Debian image equals what dpkg itself says.

The image (see realimage.py) is built with debootstrap, apt in a chroot and umoci: layer 1
the minbase tree, layer 2 an `apt-get upgrade` plus `apt-get install curl ca-certificates`,
layer 3 purges curl and tzdata and removes e2fsprogs (config-files state). It is cached in
$HULLSCAN_BENCH_WORKDIR (default build/bench, shared with benchmarks/real_debian.py); a
cold build takes one to two minutes. Skipped unless root, debootstrap, umoci and the Debian
mirror are available.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hullscan.image.archive import open_archive
from hullscan.model import Inventory, PackageType
from hullscan.scan import index
from tests.integration.realimage import (
    BuiltImage,
    Key,
    PkgRow,
    Unavailable,
    build_debian_image,
    compare,
    dpkg_query,
    expected_layers,
    layer_entries,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def debian_image() -> BuiltImage:
    workdir = Path(os.environ.get("HULLSCAN_BENCH_WORKDIR", REPO / "build" / "bench"))
    try:
        return build_debian_image(workdir)
    except Unavailable as exc:
        pytest.skip(f"cannot build a real Debian image here: {exc}")


def _rows(inventory: Inventory) -> tuple[dict[Key, PkgRow], dict[Key, int | None]]:
    by_diff_id = {layer.diff_id: layer.index for layer in inventory.artifact.layers}
    rows: dict[Key, PkgRow] = {}
    layers: dict[Key, int | None] = {}
    for pkg in inventory.packages:
        assert pkg.type is PackageType.DEB
        row = PkgRow(pkg.name, pkg.version, pkg.arch, pkg.source_name, pkg.source_version)
        rows[row.key] = row
        layers[row.key] = by_diff_id.get(pkg.layer)
    return rows, layers


def _scan(path: Path) -> Inventory:
    with open_archive(path) as source:
        return index(source)


@pytest.mark.parametrize("kind", ["docker_tar", "oci_tar", "oci_dir"])
def test_inventory_equals_dpkg_query_on_the_unpacked_image(
    debian_image: BuiltImage, kind: str
) -> None:
    oracle, config_files = dpkg_query(debian_image.final_rootfs)
    assert oracle == debian_image.layer_states[-1], "umoci's unpack differs from the build tree"
    inventory = _scan(getattr(debian_image, kind))

    rows, layers = _rows(inventory)
    diff = compare(
        oracle,
        rows,
        expected_layer=expected_layers(debian_image.layer_states),
        tool_layer=layers,
    )
    assert diff.ok, diff.describe()
    assert inventory.warnings == ()
    assert inventory.distro is not None
    assert (inventory.distro.id, inventory.distro.version_id) == ("debian", "12")
    assert config_files == ["e2fsprogs"]


def test_layer_attribution_follows_install_upgrade_and_removal(debian_image: BuiltImage) -> None:
    base, installed, final = debian_image.layer_states
    rows, layers = _rows(_scan(debian_image.docker_tar))
    added = installed.keys() - base.keys()
    upgraded = {k for k in installed.keys() & base.keys() if installed[k] != base[k]}
    assert {"curl", "ca-certificates", "openssl"} <= {name for name, _ in added}
    for key in (added | upgraded) & final.keys():
        assert layers[key] == 1, f"{key[0]} came with layer 2"
    for key in (base.keys() & final.keys()) - upgraded:
        assert layers[key] == 0, f"{key[0]} came with layer 1"
    removed = {name for name, _ in installed.keys() - final.keys()}
    assert removed == {"curl", "tzdata", "e2fsprogs"}
    assert not removed & {name for name, _ in rows}, "removed in layer 3"
    assert "libcurl4" in {name for name, _ in rows}, "purging curl leaves its library"


def test_the_image_really_has_whiteouts(debian_image: BuiltImage) -> None:
    names = set(layer_entries(debian_image.oci_dir, 2))
    assert "usr/bin/.wh.curl" in names
    assert "usr/share/.wh.zoneinfo" in names
    assert "var/lib/dpkg/status" in names
    assert len(debian_image.diff_ids) == 3
