"""scan.index with the layer cache: a warm rescan opens no blob, nothing partial is cached."""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import BinaryIO

import pytest

from hullscan.cache import LayerCache
from hullscan.errors import SourceError
from hullscan.image.source import ImageSource
from hullscan.model import ArtifactInfo, Layer
from hullscan.scan import index
from tests.image.layers import Entry, diff_id, layer_bytes
from tests.image.probe import ProbeAnalyzer

WANTED = ("var/lib/dpkg/status", "etc/os-release")


class Blob(io.BytesIO):
    """A layer blob that remembers whether it was read to its end."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.data = data
        self.at_eof = False

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        if not data and size != 0:
            self.at_eof = True
        return data

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class MemorySource(ImageSource):
    """Layers in memory; counts every open_layer, and can be told to refuse them."""

    def __init__(self, layers: list[tuple[bytes, bytes]], *, refuse: bool = False) -> None:
        self.tars = [tar for tar, _ in layers]
        self.blobs = [blob for _, blob in layers]
        self.opened: list[Blob] = []
        self.refuse = refuse
        self._artifact = ArtifactInfo(
            reference="memory",
            kind="test",
            layers=tuple(
                Layer(index=i, diff_id=diff_id(tar), size=len(blob))
                for i, (tar, blob) in enumerate(layers)
            ),
        )

    @property
    def artifact(self) -> ArtifactInfo:
        return self._artifact

    def open_layer(self, layer: Layer) -> BinaryIO:
        if self.refuse:
            raise AssertionError(f"layer {layer.index} was opened")
        blob = Blob(self.blobs[layer.index])
        self.opened.append(blob)
        return blob  # type: ignore[return-value]


def image_layers(broken: int | None = None) -> list[tuple[bytes, bytes]]:
    """Three layers (plain, gzip, plain): a base, an update, a deletion."""
    tars = [
        layer_bytes(Entry("etc/os-release", b"ID=debian\n"), Entry("var/lib/dpkg/status", b"v1")),
        layer_bytes(Entry("var/lib/dpkg/status", b"v2"), Entry("usr/bin/x", b"x" * 100_000)),
        layer_bytes(Entry("etc/.wh.os-release")),
    ]
    layers = [(tars[0], tars[0]), (tars[1], gzip.compress(tars[1])), (tars[2], tars[2])]
    if broken is not None:
        tar, blob = layers[broken]
        layers[broken] = (tar, blob[: len(blob) // 2])  # truncated: the walk must fail
    return layers


@pytest.mark.parametrize("workers", [1, 4])
def test_warm_rescan_opens_no_layer_blob(tmp_path: Path, workers: int) -> None:
    analyzers = [ProbeAnalyzer(*WANTED)]
    cold_source = MemorySource(image_layers())
    cold = index(cold_source, analyzers, workers=workers, cache=LayerCache(tmp_path))
    assert len(cold_source.opened) == 3
    cache = LayerCache(tmp_path)
    warm = index(MemorySource(image_layers(), refuse=True), analyzers, workers=workers, cache=cache)
    assert warm == cold
    assert cache.stats.hits == 3 and cache.stats.misses == 0
    assert warm == index(MemorySource(image_layers()), analyzers)  # same as without a cache


def test_only_missing_layers_are_walked(tmp_path: Path) -> None:
    analyzers = [ProbeAnalyzer(*WANTED)]
    index(MemorySource(image_layers()), analyzers, cache=LayerCache(tmp_path))
    cache = LayerCache(tmp_path)
    cache.path(diff_id(image_layers()[1][0]), analyzers).unlink()
    source = MemorySource(image_layers())
    index(source, analyzers, cache=cache)
    assert [b.data for b in source.opened] == [image_layers()[1][1]]


def test_new_analyzer_version_walks_again(tmp_path: Path) -> None:
    index(MemorySource(image_layers()), [ProbeAnalyzer(*WANTED)], cache=LayerCache(tmp_path))

    class Newer(ProbeAnalyzer):
        version = 2

    source = MemorySource(image_layers())
    index(source, [Newer(*WANTED)], cache=LayerCache(tmp_path))
    assert len(source.opened) == 3


@pytest.mark.parametrize("workers", [1, 4])
def test_a_failed_walk_caches_nothing_for_that_layer(tmp_path: Path, workers: int) -> None:
    analyzers = [ProbeAnalyzer(*WANTED)]
    cache = LayerCache(tmp_path)
    with pytest.raises(SourceError, match="layer 2"):
        index(MemorySource(image_layers(broken=1)), analyzers, workers=workers, cache=cache)
    assert not cache.path(diff_id(image_layers()[1][0]), analyzers).exists()
    source = MemorySource(image_layers())
    index(source, analyzers, cache=LayerCache(tmp_path))
    assert image_layers()[1][1] in [b.data for b in source.opened]


def test_a_layer_with_a_wrong_diff_id_is_not_cached(tmp_path: Path) -> None:
    good, other = image_layers()[0], image_layers()[2]
    source = MemorySource([good])
    source._artifact = ArtifactInfo(  # the config promises another layer's content
        reference="memory", kind="test", layers=(Layer(index=0, diff_id=diff_id(other[0])),)
    )
    cache = LayerCache(tmp_path)
    with pytest.raises(SourceError, match="does not match its diff_id"):
        index(source, [ProbeAnalyzer(*WANTED)], cache=cache)
    assert cache.size().entries == 0


def test_every_walked_blob_is_read_to_its_end(tmp_path: Path) -> None:
    source = MemorySource(image_layers())
    index(source, [ProbeAnalyzer(*WANTED)], cache=LayerCache(tmp_path))
    assert len(source.opened) == 3 and all(b.at_eof for b in source.opened)


def test_progress_completes_for_cached_layers(tmp_path: Path) -> None:
    analyzers = [ProbeAnalyzer(*WANTED)]
    index(MemorySource(image_layers()), analyzers, cache=LayerCache(tmp_path))
    seen: dict[int, int] = {}

    def progress(layer: Layer, n: int) -> None:
        seen[layer.index] = seen.get(layer.index, 0) + n

    source = MemorySource(image_layers(), refuse=True)
    index(source, analyzers, cache=LayerCache(tmp_path), progress=progress)
    assert seen == {layer.index: layer.size for layer in source.artifact.layers}


def test_without_a_cache_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HULLSCAN_CACHE_DIR", str(tmp_path))
    index(MemorySource(image_layers()), [ProbeAnalyzer(*WANTED)])
    assert list(tmp_path.iterdir()) == []
