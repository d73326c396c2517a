"""Stream one layer blob and hand the files analyzers asked for to those analyzers.

Nothing is written to disk and only wanted files are held in memory, so a hostile path
(`../../etc/passwd`), a link or a huge file cannot escape or exhaust anything. The
uncompressed stream is hashed on the way through and compared with the layer's diff_id:
a corrupt or truncated layer is an error, never a silently partial inventory.
"""

from __future__ import annotations

import hashlib
import io
import logging
import posixpath
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

import isal.igzip
import zstandard

from hullscan.analyze.base import AnalysisResult, Analyzer
from hullscan.errors import SourceError
from hullscan.model import Layer

log = logging.getLogger(__name__)

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
#: A layer that inflates past this is treated as a decompression bomb.
DEFAULT_MAX_LAYER_BYTES = 32 * 1024**3
_READ_CHUNK = 1024 * 1024
#: zstd frames asking for a larger window than this are refused (memory bound).
_ZSTD_MAX_WINDOW = 1 << 27


@dataclass(frozen=True)
class FileFact:
    """What one analyzer learned from one path of a layer.

    `result` is None when the path exists in this layer but has no readable content for
    the analyzer (a directory, a device, an oversized file): it still hides lower layers.
    `link` is the normalised target when the entry is a symlink.
    """

    path: str
    analyzer: str
    result: AnalysisResult | None
    link: str = ""


@dataclass(frozen=True)
class LayerResult:
    """Everything the analyzers need from one layer; independent of every other layer."""

    diff_id: str
    files: tuple[FileFact, ...]
    whiteouts: tuple[str, ...] = ()
    opaque_dirs: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def normalize_path(name: str) -> str:
    """Path relative to the image root; `..` cannot climb above the root."""
    parts: list[str] = []
    for part in name.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


class _HashingReader(io.RawIOBase):
    """Counts and hashes everything read through it; enforces the size bound."""

    def __init__(self, inner: BinaryIO, limit: int) -> None:
        self.inner = inner
        self.sha256 = hashlib.sha256()
        self.count = 0
        self.limit = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self.inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.sha256.update(data)
        self.count += n
        if self.count > self.limit:
            raise SourceError(f"layer inflates to more than {self.limit} bytes; refusing")
        return n

    def drain(self) -> None:
        while self.read(_READ_CHUNK):
            pass


def decompressed(blob: BinaryIO) -> BinaryIO:
    """The tar stream inside a blob, whichever of tar, gzip or zstd it is (by magic bytes)."""
    buffered: Any = io.BufferedReader(blob, buffer_size=_READ_CHUNK)
    magic = buffered.peek(4)[:4]
    if magic.startswith(GZIP_MAGIC):
        return cast(BinaryIO, isal.igzip.IGzipFile(fileobj=buffered, mode="rb"))  # type: ignore[no-untyped-call]
    if magic == ZSTD_MAGIC:
        dctx = zstandard.ZstdDecompressor(max_window_size=_ZSTD_MAX_WINDOW)
        return cast(BinaryIO, dctx.stream_reader(buffered, read_across_frames=True))
    return cast(BinaryIO, buffered)


def walk_layer(
    blob: BinaryIO,
    layer: Layer,
    analyzers: Sequence[Analyzer],
    *,
    max_layer_bytes: int = DEFAULT_MAX_LAYER_BYTES,
) -> LayerResult:
    """Stream a layer blob once and run each analyzer on the files it wants."""
    where = f"layer {layer.index + 1} ({layer.diff_id[:19]})"
    reader = _HashingReader(decompressed(blob), max_layer_bytes)
    walker = _Walk(analyzers, where)
    try:
        with tarfile.open(fileobj=io.BufferedReader(reader, _READ_CHUNK), mode="r|") as tar:
            for member in tar:
                walker.entry(tar, member)
        reader.drain()
    except SourceError as exc:
        raise SourceError(f"{where}: {exc}") from None
    except (tarfile.TarError, EOFError, OSError, zstandard.ZstdError, ValueError) as exc:
        raise SourceError(f"{where} is truncated or corrupt: {exc}") from None
    algorithm, _, expected = layer.diff_id.partition(":")
    if algorithm == "sha256" and reader.sha256.hexdigest() != expected:
        raise SourceError(
            f"{where} is corrupt or truncated: its content does not match its diff_id"
        )
    return LayerResult(
        diff_id=layer.diff_id,
        files=tuple(walker.files),
        whiteouts=tuple(walker.whiteouts),
        opaque_dirs=tuple(walker.opaque_dirs),
        warnings=tuple(walker.warnings),
    )


class _Walk:
    """State of one pass over a layer's tar entries."""

    def __init__(self, analyzers: Sequence[Analyzer], where: str) -> None:
        self.analyzers = analyzers
        self.where = where
        self.files: list[FileFact] = []
        self.whiteouts: list[str] = []
        self.opaque_dirs: list[str] = []
        self.warnings: list[str] = []
        self.contents: dict[str, bytes] = {}  # wanted files of this layer, for hard links

    def entry(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        path = normalize_path(member.name)
        if not path:
            return
        directory, base = posixpath.split(path)
        if base.startswith(WHITEOUT_PREFIX):
            if base == OPAQUE_MARKER:
                self.opaque_dirs.append(directory)
            else:
                self.whiteouts.append(posixpath.join(directory, base[len(WHITEOUT_PREFIX) :]))
            return
        wanting = [a for a in self.analyzers if a.wants(path)]
        if not wanting:
            return
        if member.issym():
            target = normalize_path(posixpath.join(directory, member.linkname))
            if member.linkname.startswith("/"):
                target = normalize_path(member.linkname)
            self.files.extend(FileFact(path, a.name, None, link=target) for a in wanting)
            return
        content = self._content(tar, member, path)
        for analyzer in wanting:
            self.files.append(FileFact(path, analyzer.name, self._run(analyzer, path, content)))

    def _content(self, tar: tarfile.TarFile, member: tarfile.TarInfo, path: str) -> bytes | None:
        if member.islnk():
            target = normalize_path(member.linkname)
            if target in self.contents:
                return self.contents[target]
            self.warnings.append(f"{self.where}: {path} is a hard link to unread {target}")
            return None
        if not member.isfile():
            return None
        limit = min(a.max_file_size for a in self.analyzers if a.wants(path))
        if member.size > limit:
            self.warnings.append(
                f"{self.where}: {path} is {member.size} bytes, over the {limit}-byte limit; skipped"
            )
            return None
        fh = tar.extractfile(member)
        if fh is None:
            return None
        data = fh.read()
        self.contents[path] = data
        return data

    def _run(self, analyzer: Analyzer, path: str, content: bytes | None) -> AnalysisResult | None:
        if content is None:
            return None
        try:
            result = analyzer.analyze(path, content)
        except Exception as exc:  # one broken file must not sink the scan
            log.debug("analyzer %s failed on %s", analyzer.name, path, exc_info=True)
            self.warnings.append(f"{self.where}: {analyzer.name} could not read /{path}: {exc}")
            return None
        if result.warnings:
            self.warnings.extend(f"{self.where}: /{path}: {w}" for w in result.warnings)
        return result
