"""The layer walker on real whiteout layers and on hostile or odd tar entries."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

from hullscan.errors import SourceError
from hullscan.image.walker import normalize_path, walk_layer
from hullscan.model import Layer
from tests.image.layers import Entry, diff_id, layer_bytes
from tests.image.probe import ProbeAnalyzer

CLAIR = "images/quay__claircore/whiteout/testdata"


def walk(data: bytes, *wanted: str, blob: bytes | None = None, **kw: int):  # type: ignore[no-untyped-def]
    layer = Layer(index=0, diff_id=diff_id(data))
    return walk_layer(
        io.BytesIO(blob if blob is not None else data), layer, [ProbeAnalyzer(*wanted, **kw)]
    )


def test_claircore_whiteout_layer(shared_data: Path) -> None:
    result = walk((shared_data / CLAIR / "whiteout.layer").read_bytes())
    assert result.whiteouts and not result.opaque_dirs
    assert all(".wh." not in w for w in result.whiteouts)


def test_claircore_opaque_whiteout_layer(shared_data: Path) -> None:
    result = walk((shared_data / CLAIR / "whiteout_opaque.layer").read_bytes())
    assert result.opaque_dirs


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("./etc/os-release", "etc/os-release"),
        ("/etc/os-release", "etc/os-release"),
        ("../../etc/os-release", "etc/os-release"),
        ("usr/../etc//./os-release", "etc/os-release"),
        ("a/b/../../../../etc/os-release", "etc/os-release"),
    ],
)
def test_paths_cannot_escape_the_root(name: str, expected: str) -> None:
    assert normalize_path(name) == expected


def test_traversal_entry_is_read_as_the_rooted_path() -> None:
    data = layer_bytes(Entry("../../../etc/os-release", b"ID=alpine\n"))
    result = walk(data, "etc/os-release")
    assert [f.path for f in result.files] == ["etc/os-release"]


def test_symlink_is_recorded_not_followed() -> None:
    data = layer_bytes(Entry("etc/os-release", kind="symlink", target="../usr/lib/os-release"))
    (fact,) = walk(data, "etc/os-release").files
    assert fact.result is None and fact.link == "usr/lib/os-release"


def test_absolute_symlink_target_stays_inside_the_image() -> None:
    data = layer_bytes(Entry("etc/os-release", kind="symlink", target="/../../usr/lib/os-release"))
    (fact,) = walk(data, "etc/os-release").files
    assert fact.link == "usr/lib/os-release"


def test_hard_link_to_a_wanted_file_shares_its_content() -> None:
    data = layer_bytes(
        Entry("usr/lib/os-release", b"ID=debian\n"),
        Entry("etc/os-release", kind="hardlink", target="usr/lib/os-release"),
    )
    facts = walk(data, "etc/os-release", "usr/lib/os-release").files
    versions = {f.path: f.result.packages[0].version for f in facts if f.result}
    assert versions["etc/os-release"] == versions["usr/lib/os-release"]


def test_oversized_file_is_skipped_with_a_warning() -> None:
    data = layer_bytes(Entry("var/lib/dpkg/status", b"x" * 5000))
    result = walk(data, "var/lib/dpkg/status", max_file_size=1000)
    assert result.files[0].result is None
    assert "over the 1000-byte limit" in result.warnings[0]


def test_broken_file_becomes_a_warning_not_a_crash() -> None:
    data = layer_bytes(Entry("var/lib/dpkg/status", b"BROKEN"))
    result = walk(data, "var/lib/dpkg/status")
    assert result.files[0].result is None
    assert "probe could not read /var/lib/dpkg/status" in result.warnings[0]


def test_gzip_layer_verifies_against_uncompressed_diff_id() -> None:
    data = layer_bytes(Entry("etc/os-release", b"ID=alpine\n"))
    result = walk(data, "etc/os-release", blob=gzip.compress(data))
    assert len(result.files) == 1


def test_truncated_gzip_layer_is_a_source_error() -> None:
    data = layer_bytes(Entry("etc/os-release", b"ID=alpine\n" * 2000))
    blob = gzip.compress(data)
    with pytest.raises(SourceError, match="truncated or corrupt"):
        walk(data, "etc/os-release", blob=blob[: len(blob) // 2])


def test_decompression_bomb_is_refused() -> None:
    data = layer_bytes(Entry("big", b"\0" * 2_000_000))
    layer = Layer(index=0, diff_id=diff_id(data))
    with pytest.raises(SourceError, match="inflates to more than"):
        walk_layer(io.BytesIO(gzip.compress(data)), layer, [], max_layer_bytes=100_000)


def test_whiteouts_and_opaque_markers_are_not_files() -> None:
    data = layer_bytes(
        Entry("var/lib/dpkg/status.d/.wh.openssl"),
        Entry("opt/app/.wh..wh..opq"),
    )
    result = walk(data, "var/lib/dpkg/status.d/.wh.openssl")
    assert result.files == ()
    assert result.whiteouts == ("var/lib/dpkg/status.d/openssl",)
    assert result.opaque_dirs == ("opt/app",)


def test_wanted_bytes_per_layer_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from hullscan.image import walker

    monkeypatch.setattr(walker, "MAX_WANTED_BYTES_PER_LAYER", 3000)
    entries = [Entry(f"var/lib/dpkg/status.d/p{i}", b"x" * 1000) for i in range(5)]
    wanted = [e.name for e in entries]
    result = walk(layer_bytes(*entries), *wanted)
    read = [f for f in result.files if f.result is not None]
    assert len(read) == 3
    assert sum("not read: this layer already gave analyzers" in w for w in result.warnings) == 2


def test_names_that_are_not_utf8_become_printable_escapes() -> None:
    data = layer_bytes(
        Entry("tmp/\udcff\udcfe", b"x"),
        Entry("etc/os-release", kind="hardlink", target="tmp/\udcff\udcfe"),
    )
    result = walk(data, "etc/os-release")
    assert "tmp/\\xff\\xfe" in result.warnings[0]
    result.warnings[0].encode("utf-8")  # every report can write it
