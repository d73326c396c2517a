"""The Applier: whiteouts, opaque dirs, symlinks and layer attribution across layers."""

from __future__ import annotations

import io

from hullscan.image.walker import walk_layer
from hullscan.inventory import Applier
from hullscan.model import ArtifactInfo, Inventory, Layer
from tests.image.layers import Entry, diff_id, layer_bytes
from tests.image.probe import ProbeAnalyzer

WANTED = ("var/lib/dpkg/status.d/a", "var/lib/dpkg/status.d/b", "opt/x/pkg", "etc/os-release")


def stack(*layers: bytes) -> Inventory:
    applier = Applier()
    described = []
    for index, data in enumerate(layers):
        layer = Layer(index=index, diff_id=diff_id(data), created_by=f"step {index}")
        described.append(layer)
        applier.apply(index, walk_layer(io.BytesIO(data), layer, [ProbeAnalyzer(*WANTED)]))
    return applier.inventory(ArtifactInfo(reference="test", kind="test", layers=tuple(described)))


def names(inv: Inventory) -> set[str]:
    return {p.name for p in inv.packages}


def test_whiteout_in_a_later_layer_removes_the_package() -> None:
    inv = stack(
        layer_bytes(Entry("var/lib/dpkg/status.d/a", b"1"), Entry("var/lib/dpkg/status.d/b", b"1")),
        layer_bytes(Entry("var/lib/dpkg/status.d/.wh.b")),
    )
    assert names(inv) == {"var/lib/dpkg/status.d/a"}


def test_whiteout_only_hides_lower_layers() -> None:
    inv = stack(
        layer_bytes(Entry("var/lib/dpkg/status.d/b", b"1")),
        layer_bytes(Entry("var/lib/dpkg/status.d/.wh.b"), Entry("var/lib/dpkg/status.d/b", b"2")),
    )
    (pkg,) = inv.packages
    assert pkg.layer == inv.artifact.layers[1].diff_id


def test_opaque_directory_hides_everything_below_from_lower_layers() -> None:
    inv = stack(
        layer_bytes(Entry("opt/x/pkg", b"1"), Entry("var/lib/dpkg/status.d/a", b"1")),
        layer_bytes(Entry("opt/x/.wh..wh..opq")),
    )
    assert names(inv) == {"var/lib/dpkg/status.d/a"}


def test_whiteout_of_a_directory_removes_its_contents() -> None:
    inv = stack(
        layer_bytes(Entry("opt/x/pkg", b"1")),
        layer_bytes(Entry("opt/.wh.x")),
    )
    assert names(inv) == set()


def test_package_attributed_to_layer_that_introduced_its_version() -> None:
    inv = stack(
        layer_bytes(Entry("var/lib/dpkg/status.d/a", b"1"), Entry("var/lib/dpkg/status.d/b", b"1")),
        layer_bytes(Entry("var/lib/dpkg/status.d/a", b"1")),  # rewritten, unchanged
        layer_bytes(Entry("var/lib/dpkg/status.d/b", b"2")),  # upgraded
    )
    layers = {p.name: p.layer for p in inv.packages}
    assert layers["var/lib/dpkg/status.d/a"] == inv.artifact.layers[0].diff_id
    assert layers["var/lib/dpkg/status.d/b"] == inv.artifact.layers[2].diff_id


def test_removed_then_reinstalled_package_belongs_to_the_reinstalling_layer() -> None:
    inv = stack(
        layer_bytes(Entry("var/lib/dpkg/status.d/a", b"1")),
        layer_bytes(Entry("var/lib/dpkg/status.d/.wh.a")),
        layer_bytes(Entry("var/lib/dpkg/status.d/a", b"1")),
    )
    assert inv.packages[0].layer == inv.artifact.layers[2].diff_id


def test_symlink_is_resolved_in_the_final_filesystem() -> None:
    inv = stack(
        layer_bytes(Entry("opt/x/pkg", b"content")),
        layer_bytes(Entry("etc/os-release", kind="symlink", target="../opt/x/pkg")),
    )
    assert len({p.version for p in inv.packages}) == 1


def test_a_later_non_file_hides_the_lower_file() -> None:
    inv = stack(
        layer_bytes(Entry("opt/x/pkg", b"1")),
        layer_bytes(Entry("opt/x/pkg", kind="dir")),
    )
    assert names(inv) == set()


def test_two_databases_disagreeing_keep_each_versions_own_layer() -> None:
    inv = stack(
        layer_bytes(Entry("var/lib/dpkg/status.d/a", b"1")),
        layer_bytes(Entry("opt/x/pkg", b"2")),
    )
    # two different files: two packages, each attributed to the layer that wrote it
    layers = sorted(p.layer for p in inv.packages)
    assert layers == sorted(layer.diff_id for layer in inv.artifact.layers)


def test_conflicting_versions_of_one_package_are_reported() -> None:
    from hullscan.analyze.os.dpkg import DpkgAnalyzer

    status = b"Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: %s\n"
    first = layer_bytes(Entry("var/lib/dpkg/status", status % b"2.36-9+deb12u3"))
    second = layer_bytes(Entry("var/lib/dpkg/status.d/libc6", status % b"2.36-9+deb12u4"))
    applier = Applier()
    layers = []
    for index, data in enumerate((first, second)):
        layer = Layer(index=index, diff_id=diff_id(data))
        layers.append(layer)
        applier.apply(index, walk_layer(io.BytesIO(data), layer, [DpkgAnalyzer()]))
    inv = applier.inventory(ArtifactInfo(reference="t", kind="t", layers=tuple(layers)))
    by_version = {p.version: p.layer for p in inv.packages}
    assert by_version == {"2.36-9+deb12u3": layers[0].diff_id, "2.36-9+deb12u4": layers[1].diff_id}
    assert any("disagree on the installed version of libc6" in w for w in inv.warnings)
