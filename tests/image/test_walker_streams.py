"""How the walker inflates blobs: gzip members and padding, zstd frames, short reads, bombs,
and that it leaves the caller's blob open."""

from __future__ import annotations

import gzip
import io

import pytest
import zstandard

from hullscan.errors import SourceError
from hullscan.image.walker import walk_layer
from hullscan.model import Layer
from tests.image.layers import Entry, diff_id, layer_bytes
from tests.image.probe import ProbeAnalyzer

TAR = layer_bytes(
    Entry("etc/os-release", b"ID=debian\n"),
    Entry("usr/bin/big", bytes(range(256)) * 2_000),
    Entry("var/lib/dpkg/status", b"Package: x\n"),
)
WANTED = ("etc/os-release", "var/lib/dpkg/status")


class Trickle(io.RawIOBase):
    """A stream that hands out at most `step` bytes per read, like a slow network."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.pos, self.step = data, 0, step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        n = min(len(buffer), self.step, len(self.data) - self.pos)
        buffer[:n] = self.data[self.pos : self.pos + n]
        self.pos += n
        return n


def walk(blob: bytes | io.RawIOBase, tar: bytes = TAR, **kw: int):  # type: ignore[no-untyped-def]
    stream = io.BytesIO(blob) if isinstance(blob, bytes) else blob
    return walk_layer(stream, Layer(index=0, diff_id=diff_id(tar)), [ProbeAnalyzer(*WANTED)], **kw)  # type: ignore[arg-type]


def paths(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [f.path for f in result.files]


@pytest.mark.parametrize(
    "blob",
    [
        TAR,
        gzip.compress(TAR),
        gzip.compress(TAR[:10_000]) + gzip.compress(TAR[10_000:]),  # two gzip members
        gzip.compress(TAR) + b"\0" * 1000,  # zero padding after the member
        zstandard.ZstdCompressor().compress(TAR),
        zstandard.ZstdCompressor().compress(TAR[:7000])
        + zstandard.ZstdCompressor().compress(TAR[7000:]),
    ],
    ids=["tar", "gzip", "gzip-members", "gzip-padded", "zstd", "zstd-frames"],
)
def test_every_encoding_gives_the_same_files(blob: bytes) -> None:
    assert paths(walk(blob)) == list(WANTED)


@pytest.mark.parametrize("step", [1, 3, 4096])
def test_short_reads_from_the_source(step: int) -> None:
    for blob in (gzip.compress(TAR), zstandard.ZstdCompressor().compress(TAR)):
        assert paths(walk(Trickle(blob, step))) == list(WANTED)
    assert paths(walk(Trickle(TAR, step * 97))) == list(WANTED)


def test_the_callers_blob_stays_open() -> None:
    blob = io.BytesIO(gzip.compress(TAR))
    walk_layer(blob, Layer(index=0, diff_id=diff_id(TAR)), [])
    assert not blob.closed and blob.read() == b""


@pytest.mark.parametrize(
    "blob",
    [
        gzip.compress(TAR)[:-5],
        gzip.compress(TAR) + b"garbage!",
        zstandard.ZstdCompressor().compress(TAR)[:-20],
        zstandard.ZstdCompressor().compress(TAR)[:200],
    ],
    ids=["gzip-cut", "gzip-junk", "zstd-cut-end", "zstd-cut"],
)
def test_broken_compression_is_a_source_error(blob: bytes) -> None:
    with pytest.raises(SourceError, match=r"truncated or corrupt|does not match its diff_id"):
        walk(blob)


def test_zstd_bomb_is_refused() -> None:
    big = layer_bytes(Entry("big", b"\0" * 3_000_000))
    with pytest.raises(SourceError, match="inflates to more than"):
        walk(zstandard.ZstdCompressor().compress(big), big, max_layer_bytes=100_000)


def test_content_after_the_tar_end_counts_for_the_diff_id() -> None:
    padded = TAR + b"\0" * 4096  # some tools pad layers to a record size
    assert paths(walk(gzip.compress(padded), padded)) == list(WANTED)
    with pytest.raises(SourceError, match="does not match its diff_id"):
        walk(gzip.compress(padded), TAR)
