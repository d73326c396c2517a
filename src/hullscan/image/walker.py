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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO, cast

from isal import isal_zlib

from hullscan.analyze.base import AnalysisResult, Analyzer
from hullscan.errors import SourceError
from hullscan.image.tarstream import Member, TarFormatError, TarStream
from hullscan.model import Layer

log = logging.getLogger(__name__)

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
#: A layer that inflates past this is treated as a decompression bomb.
DEFAULT_MAX_LAYER_BYTES = 32 * 1024**3
#: Compressed bytes per read, and the most uncompressed bytes one step produces.
_READ_CHUNK = 1024 * 1024
_OUT_CHUNK = 4 * 1024 * 1024
#: How much of a broken blob is still read to let its source report a digest mismatch.
_MAX_ERROR_DRAIN = 512 * 1024 * 1024
#: zstd frames asking for a larger window than this are refused (memory bound).
_ZSTD_MAX_WINDOW = 1 << 27
#: Bump when walk_layer's result for the same layer and analyzers changes (cache key).
WALK_VERSION = 2


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


#: Wanted bytes one layer may hand to analyzers (each file is capped too): bounds memory
#: when a hostile layer holds thousands of files named like package databases.
MAX_WANTED_BYTES_PER_LAYER = 1024**3


def normalize_path(name: str) -> str:
    """Path relative to the image root; `..` cannot climb above the root.

    Bytes that are not UTF-8 (kept by the tar reader as surrogates) come back as `\\xNN`
    escapes, so a path is always printable and encodable in every report."""
    path = _normalize(name)
    if not path.isascii():
        path = path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return path


def _normalize(name: str) -> str:
    # fast path for the names nearly every layer has: `usr/bin/x`, `./usr/bin/x`, `usr/`
    plain = name[2:] if name.startswith("./") else name
    if plain.endswith("/"):
        plain = plain[:-1]
    if (
        plain
        and plain[0] not in "./"
        and "/." not in plain
        and "//" not in plain
        and "\\" not in plain
    ):
        return plain
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


def layer_label(layer: Layer) -> str:
    """How warnings and errors name a layer: its 1-based position and a short diff_id."""
    return f"layer {layer.index + 1} ({layer.diff_id[:19]})"


def _read_some(blob: BinaryIO, size: int) -> bytes:
    return blob.read(size) or b""


def _inflated(blob: BinaryIO) -> Iterator[bytes]:
    """The tar stream inside a blob as chunks, whichever of tar, gzip or zstd it is (by magic
    bytes: media types lie in docker-save archives). Each chunk is at most _OUT_CHUNK bytes,
    which bounds memory however well the blob compresses."""
    head = _read_some(blob, _READ_CHUNK)
    while 0 < len(head) < 4:  # short reads from a network stream
        more = _read_some(blob, _READ_CHUNK)
        if not more:
            break
        head += more
    if head.startswith(GZIP_MAGIC):
        return _gunzip(blob, head)
    if head[:4] == ZSTD_MAGIC:
        return _unzstd(blob, head)
    return _plain(blob, head)


def _plain(blob: BinaryIO, head: bytes) -> Iterator[bytes]:
    chunk = head
    while chunk:
        yield chunk
        chunk = _read_some(blob, _READ_CHUNK)


def _gunzip(blob: BinaryIO, pending: bytes) -> Iterator[bytes]:
    """gzip members one after another (zero padding between or after them is allowed)."""
    inflater = isal_zlib.decompressobj(wbits=31)
    while True:
        if not pending:
            pending = _read_some(blob, _READ_CHUNK)
            if not pending:
                tail = inflater.flush()
                if tail:
                    yield tail
                if not inflater.eof:
                    raise EOFError("compressed data ends before the end-of-stream marker")
                return
        out = inflater.decompress(pending, _OUT_CHUNK)
        pending = inflater.unconsumed_tail
        if out:
            yield out
        if inflater.eof:
            rest = inflater.unused_data.lstrip(b"\0") + pending
            while len(rest) < 2:
                more = _read_some(blob, _READ_CHUNK)
                if not more:
                    break
                rest = (rest + more).lstrip(b"\0")
            if not rest:
                return
            if not rest.startswith(GZIP_MAGIC):
                raise OSError("trailing garbage after the gzip data")
            inflater, pending = isal_zlib.decompressobj(wbits=31), rest


class _Prefixed(io.RawIOBase):
    """The bytes already read for sniffing, then the rest of the blob."""

    def __init__(self, head: bytes, blob: BinaryIO) -> None:
        self.head = head
        self.blob = blob

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.head:
            data = self.head if size < 0 else self.head[:size]
            self.head = self.head[len(data) :]
            return data
        return _read_some(self.blob, size if size >= 0 else _READ_CHUNK)

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _unzstd(blob: BinaryIO, head: bytes) -> Iterator[bytes]:
    import zstandard  # zstd layers are rare; importing it costs every CLI start-up ~10 ms

    dctx = zstandard.ZstdDecompressor(max_window_size=_ZSTD_MAX_WINDOW)
    reader = dctx.stream_reader(
        cast(BinaryIO, _Prefixed(head, blob)),
        read_size=_READ_CHUNK,
        read_across_frames=True,
        closefd=False,
    )
    try:
        while chunk := reader.read(_OUT_CHUNK):
            yield chunk
    except zstandard.ZstdError as exc:
        raise _ZstdError(str(exc)) from None


class _Hashed:
    """Counts and hashes the uncompressed stream as the tar reader pulls it; enforces the
    size bound against decompression bombs."""

    def __init__(self, chunks: Iterator[bytes], limit: int) -> None:
        self.chunks = chunks
        self.sha256 = hashlib.sha256()
        self.count = 0
        self.limit = limit

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.count += len(chunk)
            if self.count > self.limit:
                raise SourceError(f"layer inflates to more than {self.limit} bytes; refusing")
            self.sha256.update(chunk)
            yield chunk


def walk_layer(
    blob: BinaryIO,
    layer: Layer,
    analyzers: Sequence[Analyzer],
    *,
    max_layer_bytes: int = DEFAULT_MAX_LAYER_BYTES,
) -> LayerResult:
    """Stream a layer blob once and run each analyzer on the files it wants.

    The blob is not closed (the caller owns it). The whole uncompressed stream, including
    anything after the tar's end, is hashed and must match the layer's diff_id.
    """
    where = layer_label(layer)
    walker = _Walk(analyzers, where)
    try:
        hashed = _Hashed(_inflated(blob), max_layer_bytes)
        chunks = iter(hashed)
        tar = TarStream(chunks)
        for member in tar.members():
            walker.entry(tar, member)
        for _rest in chunks:  # drain: the diff_id covers the padding after the tar too
            pass
    except SourceError as exc:
        raise SourceError(f"{where}: {exc}") from None
    except (TarFormatError, EOFError, OSError, ValueError, _ZstdError) as exc:
        _source_error_first(blob, where)
        raise SourceError(f"{where} is truncated or corrupt: {exc}") from None
    algorithm, _, expected = layer.diff_id.partition(":")
    if algorithm == "sha256" and hashed.sha256.hexdigest() != expected:
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


class _ZstdError(Exception):
    """Stands for zstandard.ZstdError until a zstd layer imports zstandard."""


def _source_error_first(blob: BinaryIO, where: str) -> None:
    """After a format error, read on (bounded): a source that verifies its blob at the end
    (a registry's digest) then explains the failure better than the tar reader can."""
    left = _MAX_ERROR_DRAIN
    try:
        while left > 0 and (chunk := _read_some(blob, _READ_CHUNK)):
            left -= len(chunk)
    except SourceError as exc:
        raise SourceError(f"{where}: {exc}") from None
    except Exception:  # the format error is reported instead
        return


class _Walk:
    """State of one pass over a layer's tar entries."""

    def __init__(self, analyzers: Sequence[Analyzer], where: str) -> None:
        self.analyzers = analyzers
        self.where = where
        self.files: list[FileFact] = []
        self.whiteouts: list[str] = []
        self.opaque_dirs: list[str] = []
        self.warnings: list[str] = []
        # results per path and analyzer, so a hard link reuses what its target gave
        self.results: dict[str, dict[str, AnalysisResult | None]] = {}
        self.wanted_bytes = 0

    def entry(self, tar: TarStream, member: Member) -> None:
        path = normalize_path(member.name)
        if not path:
            return
        directory, _, base = path.rpartition("/")
        if base.startswith(WHITEOUT_PREFIX):
            if base == OPAQUE_MARKER:
                self.opaque_dirs.append(directory)
            else:
                self.whiteouts.append(posixpath.join(directory, base[len(WHITEOUT_PREFIX) :]))
            return
        size = member.size if member.isfile() else 0
        # the tar reader keeps no permission bits: mode -1 (see Analyzer.wants_file)
        wanting = [a for a in self.analyzers if a.wants_file(path, -1, size)]
        if not wanting:
            return
        if member.issym():
            target = normalize_path(posixpath.join(directory, member.linkname))
            if member.linkname.startswith("/"):
                target = normalize_path(member.linkname)
            self.files.extend(FileFact(path, a.name, None, link=target) for a in wanting)
            return
        if member.islnk():
            self._hard_link(path, normalize_path(member.linkname), wanting)
            return
        content = self._content(tar, member, path, wanting)
        done = self.results.setdefault(path, {})
        for analyzer in wanting:
            result = self._run(analyzer, path, content)
            done[analyzer.name] = result
            self.files.append(FileFact(path, analyzer.name, result))

    def _hard_link(self, path: str, target: str, wanting: Sequence[Analyzer]) -> None:
        known = self.results.get(target, {})
        for analyzer in wanting:
            if analyzer.name not in known:
                self.warnings.append(f"{self.where}: {path} is a hard link to unread {target}")
            self.files.append(FileFact(path, analyzer.name, known.get(analyzer.name)))

    def _content(
        self, tar: TarStream, member: Member, path: str, wanting: Sequence[Analyzer]
    ) -> bytes | None:
        if not member.isfile():
            return None
        limit = min(a.max_file_size for a in wanting)
        if member.size > limit:
            self.warnings.append(
                f"{self.where}: {path} is {member.size} bytes, over the {limit}-byte limit; skipped"
            )
            return None
        if member.sparse:
            self.warnings.append(f"{self.where}: {path} is a sparse file; not read")
            return None
        # Programs picked by kind (Analyzer.wants_file) are held one at a time and bounded by
        # the layer's size; counting them would let a layer of big Go binaries starve the
        # package databases that come after them in the tar.
        if not any(a.wants(path) for a in wanting):
            return tar.read(member)
        if self.wanted_bytes + member.size > MAX_WANTED_BYTES_PER_LAYER:
            self.warnings.append(
                f"{self.where}: {path} not read: this layer already gave analyzers "
                f"{self.wanted_bytes} bytes (limit {MAX_WANTED_BYTES_PER_LAYER})"
            )
            return None
        self.wanted_bytes += member.size
        return tar.read(member)

    def _run(self, analyzer: Analyzer, path: str, content: bytes | None) -> AnalysisResult | None:
        return run_analyzer(analyzer, path, content, self.where, self.warnings)


def run_analyzer(
    analyzer: Analyzer, path: str, content: bytes | None, where: str, warnings: list[str]
) -> AnalysisResult | None:
    """One analyzer on one file; a failure becomes a warning naming the layer and the file."""
    if content is None:
        return None
    try:
        result = analyzer.analyze(path, content)
    except Exception as exc:  # one broken file must not sink the scan
        log.debug("analyzer %s failed on %s", analyzer.name, path, exc_info=True)
        warnings.append(f"{where}: {analyzer.name} could not read /{path}: {exc}")
        return None
    if result.warnings:
        warnings.extend(f"{where}: /{path}: {w}" for w in result.warnings)
    return result
