"""The Applier: whiteouts, opaque dirs, symlinks and layer attribution across layers."""

from __future__ import annotations

import io
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# --- language packages: OS-owned files and lockfiles (docs/language-packages.md) ----------


URLLIB3_METADATA = "usr/lib/python3/dist-packages/urllib3-1.26.12.dist-info/METADATA"
URLLIB3_STATUS = b"""Package: python3-urllib3
Status: install ok installed
Architecture: all
Source: python-urllib3
Version: 1.26.12-1
"""


def lang_stack(*layers: bytes) -> tuple[Inventory, Applier]:
    from hullscan.analyze.lang.javascript import JavaScriptAnalyzer
    from hullscan.analyze.lang.python import PythonAnalyzer
    from hullscan.analyze.os.apk import ApkAnalyzer
    from hullscan.analyze.os.dpkg import DpkgAnalyzer

    analyzers = [DpkgAnalyzer(), ApkAnalyzer(), PythonAnalyzer(), JavaScriptAnalyzer()]
    applier = Applier()
    described = []
    for index, data in enumerate(layers):
        layer = Layer(index=index, diff_id=diff_id(data))
        described.append(layer)
        applier.apply(index, walk_layer(io.BytesIO(data), layer, analyzers))
    artifact = ArtifactInfo(reference="t", kind="t", layers=tuple(described))
    return applier.inventory(artifact), applier


def metadata(name: str, version: str) -> bytes:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nbody\n".encode()


def deb_layer(list_paths: str = f"/usr\n/usr/lib\n/{URLLIB3_METADATA}\n") -> bytes:
    return layer_bytes(
        Entry("var/lib/dpkg/status", URLLIB3_STATUS),
        Entry("var/lib/dpkg/info/python3-urllib3.list", f"/.\n{list_paths}".encode()),
        Entry(URLLIB3_METADATA, metadata("urllib3", "1.26.12")),
    )


def kinds(inv: Inventory) -> set[tuple[str, str, str]]:
    return {(p.type.value, p.name, p.version) for p in inv.packages}


def test_a_language_package_an_os_package_owns_is_reported_once_as_the_os_package(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG, logger="hullscan.inventory"):
        inv, applier = lang_stack(deb_layer())
    assert kinds(inv) == {("deb", "python3-urllib3", "1.26.12-1")}
    assert applier.dropped_owned == 1 and inv.warnings == ()
    assert "left out 1 language package(s) an OS package owns" in caplog.text


def test_an_unowned_copy_elsewhere_is_still_reported() -> None:
    pip = "usr/local/lib/python3.11/site-packages/urllib3-1.26.18.dist-info/METADATA"
    inv, applier = lang_stack(deb_layer(), layer_bytes(Entry(pip, metadata("urllib3", "1.26.18"))))
    assert kinds(inv) == {("deb", "python3-urllib3", "1.26.12-1"), ("pypi", "urllib3", "1.26.18")}
    (pypi,) = [p for p in inv.packages if p.type.value == "pypi"]
    assert pypi.paths == (pip,) and pypi.layer == inv.artifact.layers[1].diff_id
    assert applier.dropped_owned == 1


def test_ownership_is_that_of_the_final_filesystem() -> None:
    """The .list whited out later (the deb purged, its file left behind): no longer owned."""
    gone = layer_bytes(Entry("var/lib/dpkg/info/.wh.python3-urllib3.list"))
    inv, applier = lang_stack(deb_layer(), gone)
    assert ("pypi", "urllib3", "1.26.12") in kinds(inv) and applier.dropped_owned == 0


def test_merged_usr_aliases_count_as_owned() -> None:
    """Older debs list /lib/...; a merged-/usr image stores the file under usr/lib/."""
    inv, _ = lang_stack(deb_layer(list_paths=f"/{URLLIB3_METADATA.removeprefix('usr/')}\n"))
    assert kinds(inv) == {("deb", "python3-urllib3", "1.26.12-1")}


def test_apk_owned_python_package() -> None:
    installed = b"P:py3-urllib3\nV:1.26.12-r0\nA:noarch\no:py3-urllib3\n" + (
        b"F:usr/lib/python3.10/site-packages/urllib3-1.26.12.dist-info\nR:METADATA\nR:RECORD\n"
    )
    meta = "usr/lib/python3.10/site-packages/urllib3-1.26.12.dist-info/METADATA"
    inv, applier = lang_stack(
        layer_bytes(
            Entry("lib/apk/db/installed", installed), Entry(meta, metadata("urllib3", "1.26.12"))
        )
    )
    assert kinds(inv) == {("apk", "py3-urllib3", "1.26.12-r0")} and applier.dropped_owned == 1


LOCK = b"""{"name": "app", "lockfileVersion": 3, "packages": {
  "": {"name": "app"},
  "node_modules/ms": {"version": "2.1.3"},
  "node_modules/fsevents": {"version": "2.3.3", "optional": true},
  "node_modules/mocha": {"version": "10.0.0", "dev": true}
}}"""


def test_lockfile_only_speaks_for_projects_without_node_modules() -> None:
    inv, applier = lang_stack(
        layer_bytes(
            Entry("srv/app/package-lock.json", LOCK),
            Entry("srv/app/node_modules/ms/package.json", b'{"name":"ms","version":"2.1.3"}'),
            Entry("srv/other/package-lock.json", LOCK),
        )
    )
    by_path = {(p.name, p.version): p.paths for p in inv.packages}
    # srv/app: node_modules wins (fsevents, for another platform, is not installed)
    # srv/other: no node_modules, so its lockfile is what we know (dev left out)
    assert by_path == {
        ("ms", "2.1.3"): ("srv/app/node_modules/ms/package.json", "srv/other/package-lock.json"),
        ("fsevents", "2.3.3"): ("srv/other/package-lock.json",),
    }
    assert applier.dropped_lockfile == 2 and inv.warnings == ()


def test_deleting_node_modules_makes_the_lockfile_speak() -> None:
    inv, applier = lang_stack(
        layer_bytes(
            Entry("srv/app/package-lock.json", LOCK),
            Entry("srv/app/node_modules/ms/package.json", b'{"name":"ms","version":"2.1.3"}'),
        ),
        layer_bytes(Entry("srv/app/.wh.node_modules")),
    )
    assert {(p.name, p.paths) for p in inv.packages} == {
        ("ms", ("srv/app/package-lock.json",)),
        ("fsevents", ("srv/app/package-lock.json",)),
    }
    assert applier.dropped_lockfile == 0


def test_several_versions_of_a_language_package_are_not_a_conflict() -> None:
    inv, _ = lang_stack(
        layer_bytes(
            Entry("app/node_modules/ms/package.json", b'{"name":"ms","version":"2.1.3"}'),
            Entry(
                "app/node_modules/debug/node_modules/ms/package.json",
                b'{"name":"ms","version":"2.0.0"}',
            ),
        )
    )
    assert {p.version for p in inv.packages} == {"2.1.3", "2.0.0"} and inv.warnings == ()


def test_ownership_survives_the_layer_cache() -> None:
    from hullscan.analyze.os.dpkg import DpkgAnalyzer
    from hullscan.cache import decode_layer_result, encode_layer_result

    data = deb_layer()
    result = walk_layer(io.BytesIO(data), Layer(0, diff_id(data)), [DpkgAnalyzer()])
    assert any(f.result and f.result.owned_paths for f in result.files)
    assert decode_layer_result(encode_layer_result(result)) == result


def test_archive_members_are_owned_through_their_archive() -> None:
    from hullscan.inventory import _is_owned

    owned = {"usr/share/java/app.war", "lib/x86_64-linux-gnu/libz.so.1"}
    assert _is_owned("usr/share/java/app.war!/WEB-INF/lib/log4j-core-2.14.1.jar", owned)
    assert _is_owned("usr/lib/x86_64-linux-gnu/libz.so.1", owned)  # merged /usr
    assert not _is_owned("usr/share/java/other.war!/x.jar", owned)
    assert not _is_owned("usr/local/lib/x86_64-linux-gnu/libz.so.1", owned)


_SEGMENTS = st.sampled_from(["a", "b", "ab", "a.b", "node_modules", ".wh", "x-y"])
_PATHS = st.lists(_SEGMENTS, min_size=1, max_size=4).map("/".join)


@settings(max_examples=300, deadline=None)
@given(
    present=st.lists(_PATHS, max_size=12),
    whiteouts=st.lists(_PATHS, max_size=4),
    opaque=st.lists(st.one_of(_PATHS, st.just("")), max_size=3),
)
def test_whiteouts_hide_what_the_prefix_rule_hides(
    present: list[str], whiteouts: list[str], opaque: list[str]
) -> None:
    """The one-pass removal agrees with the plain rule: a whiteout hides its path and all
    below it, an opaque directory all below it (the root: everything)."""
    from hullscan.analyze.base import AnalysisResult
    from hullscan.image.walker import FileFact, LayerResult

    applier = Applier()
    applier.apply(0, LayerResult("a", tuple(FileFact(p, "t", AnalysisResult()) for p in present)))
    applier.apply(1, LayerResult("b", (), whiteouts=tuple(whiteouts), opaque_dirs=tuple(opaque)))

    def hidden(path: str) -> bool:
        by_whiteout = any(path == w or path.startswith(w + "/") for w in whiteouts)
        return by_whiteout or any(path.startswith(f"{d}/" if d else "") for d in opaque)

    assert {k[0] for k in applier._present} == {p for p in present if not hidden(p)}
