"""Per-layer analysis results on disk, keyed by everything that determines them.

A `LayerResult` depends only on the layer's content (its diff_id, which the walker verified)
and on the analyzers that read it (name, version, file-size cap), plus the walker's and this
module's own format versions. So a layer seen before is never read again: a warm rescan
opens no layer blob.

Entries live in `<cache root>/layers/<sha256 of the key>.json`. Each is written to a temp
file in the same directory and renamed into place, so scans sharing one cache (threads,
processes, CI jobs on one runner) see a whole entry or none. Each carries a checksum of its
payload: an entry that is truncated, corrupted or unreadable is a miss and is removed, never
an error. The cache is an optimisation only: failing to write it is logged, not raised.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Any, cast, get_args, get_origin, get_type_hints

from hullscan.analyze.base import AnalysisResult, Analyzer
from hullscan.image.walker import WALK_VERSION, FileFact, LayerResult, layer_label
from hullscan.model import Distro, Layer, Package

log = logging.getLogger(__name__)

#: Bump when the encoding below changes; old entries then simply stop matching.
CACHE_FORMAT = 1
LAYERS_DIR = "layers"
_SUFFIX = ".json"
_TMP_PREFIX = ".tmp-"
#: Temp files older than this are leftovers of a killed writer (prune removes them).
_STALE_TMP_SECONDS = 3600.0
#: Only content-addressed layers are cached: the walker verified exactly these bytes.
_VERIFIABLE = re.compile(r"sha256:[0-9a-f]{64}")
#: Cached warnings name the layer by this token; a hit names the layer it is used for.
_LABEL_TOKEN = "\x00layer\x00"
#: `{"sum":"<64 hex>","data":<payload>}`: valid JSON whose payload is checked as stored.
_HEAD = b'{"sum":"'
_MID = b'","data":'
_PAYLOAD_AT = len(_HEAD) + 64 + len(_MID)


def _schema() -> str:
    """Fields (names and types) of every cached class: a model change invalidates old entries
    by itself."""
    classes = (LayerResult, FileFact, AnalysisResult, Package, Distro)
    shape = [[cls.__name__, [[f.name, str(f.type)] for f in fields(cls)]] for cls in classes]
    return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:16]


_SCHEMA = _schema()


def analyzer_identity(analyzer: Analyzer) -> tuple[str, int, int]:
    """What of an analyzer changes its output: name, version, and its file-size cap."""
    return (analyzer.name, int(analyzer.version), int(analyzer.max_file_size))


def cacheable(diff_id: str) -> bool:
    """Whether a layer's result may be cached: only sha256 diff_ids are verified by the walk."""
    return bool(_VERIFIABLE.fullmatch(diff_id))


@dataclass(frozen=True)
class CacheStats:
    hits: int = 0
    misses: int = 0
    writes: int = 0
    dropped: int = 0  # corrupt or unreadable entries removed


@dataclass(frozen=True)
class Removed:
    """What clean() or prune() deleted."""

    entries: int
    bytes: int


class LayerCache:
    """A directory of LayerResults; safe to share between threads and processes."""

    def __init__(self, root: Path, *, options: Mapping[str, str | int] | None = None) -> None:
        """`root` is hullscan's cache root; `options` are scan settings that change results."""
        self.root = Path(root)
        self.directory = self.root / LAYERS_DIR
        self.options = dict(sorted((options or {}).items()))
        self._lock = threading.Lock()
        self._stats = CacheStats()
        self._write_failed = False

    # --- keys -----------------------------------------------------------------------------

    def key(self, diff_id: str, analyzers: Sequence[Analyzer]) -> dict[str, Any]:
        """The key material: stored in the entry too, and compared on every read."""
        return {
            "format": CACHE_FORMAT,
            "walk": WALK_VERSION,
            "schema": _SCHEMA,
            "diff_id": diff_id,
            "analyzers": sorted(list(analyzer_identity(a)) for a in analyzers),
            "options": self.options,
        }

    def path(self, diff_id: str, analyzers: Sequence[Analyzer]) -> Path:
        material = json.dumps(self.key(diff_id, analyzers), sort_keys=True).encode()
        return self.directory / (hashlib.sha256(material).hexdigest() + _SUFFIX)

    # --- reading and writing --------------------------------------------------------------

    def get(self, layer: Layer, analyzers: Sequence[Analyzer]) -> LayerResult | None:
        """The cached result for `layer`, or None (also for a corrupt entry, which is removed)."""
        if not cacheable(layer.diff_id):
            return None
        path = self.path(layer.diff_id, analyzers)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            self._count(misses=1)
            return None
        except OSError as exc:
            log.debug("layer cache: cannot read %s: %s", path, exc)
            self._count(misses=1)
            return None
        try:
            result = self._decode(data, self.key(layer.diff_id, analyzers), layer)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            log.warning("layer cache: dropping unreadable entry %s (%s)", path.name, exc)
            with contextlib.suppress(OSError):
                path.unlink()
            self._count(misses=1, dropped=1)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recency for prune()
        self._count(hits=1)
        return result

    def put(self, layer: Layer, result: LayerResult, analyzers: Sequence[Analyzer]) -> bool:
        """Store a verified layer's result atomically; False when it was not stored."""
        if not cacheable(layer.diff_id) or result.diff_id != layer.diff_id:
            return False
        path = self.path(layer.diff_id, analyzers)
        data = self._encode(result, self.key(layer.diff_id, analyzers), layer)
        try:
            self._write(path, data)
        except OSError as exc:
            if not self._write_failed:
                log.warning("layer cache: cannot write to %s: %s", self.directory, exc)
                self._write_failed = True
            return False
        self._count(writes=1)
        return True

    def _write(self, path: Path, data: bytes) -> None:
        try:
            fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=_SUFFIX, dir=self.directory)
        except FileNotFoundError:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=_SUFFIX, dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide entries from a shared CI user
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @property
    def stats(self) -> CacheStats:
        return self._stats

    def _count(self, **delta: int) -> None:
        with self._lock:
            now = self._stats
            self._stats = CacheStats(
                *(getattr(now, f.name) + delta.get(f.name, 0) for f in fields(CacheStats))
            )

    # --- maintenance ----------------------------------------------------------------------

    def _files(self) -> Iterator[os.DirEntry[str]]:
        try:
            with os.scandir(self.directory) as entries:
                yield from (e for e in entries if e.name.endswith(_SUFFIX) and e.is_file())
        except FileNotFoundError:
            return

    def size(self) -> Removed:
        """Entries and bytes currently in the cache."""
        count = total = 0
        for entry in self._files():
            if not entry.name.startswith(_TMP_PREFIX):
                count += 1
                total += _size(entry)
        return Removed(count, total)

    def clean(self) -> Removed:
        """Remove every entry (and leftover temp files); other scans just miss afterwards."""
        count = total = 0
        for entry in self._files():
            size = _size(entry)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                if not entry.name.startswith(_TMP_PREFIX):
                    count += 1
                    total += size
        with contextlib.suppress(OSError):
            self.directory.rmdir()  # fails harmlessly if a concurrent scan just wrote
        return Removed(count, total)

    def prune(self, max_bytes: int) -> Removed:
        """Remove the least recently used entries until the cache holds at most `max_bytes`."""
        now = time.time()
        kept: list[tuple[float, int, str]] = []
        count = total = 0
        for entry in self._files():
            try:
                stat = entry.stat()
            except FileNotFoundError:
                continue
            if entry.name.startswith(_TMP_PREFIX):
                if now - stat.st_mtime > _STALE_TMP_SECONDS:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)
                continue
            kept.append((stat.st_mtime, stat.st_size, entry.path))
        held = sum(size for _, size, _ in kept)
        for _mtime, size, path in sorted(kept):
            if held <= max_bytes:
                break
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
                count, total = count + 1, total + size
            held -= size
        return Removed(count, total)

    # --- encoding -------------------------------------------------------------------------

    def _encode(self, result: LayerResult, key: dict[str, Any], layer: Layer) -> bytes:
        label = layer_label(layer)
        body = {"key": key, "result": encode_layer_result(result, label)}
        payload = json.dumps(body, separators=(",", ":")).encode("ascii")
        digest = hashlib.sha256(payload).hexdigest().encode("ascii")
        return b"".join((_HEAD, digest, _MID, payload, b"}"))

    def _decode(self, data: bytes, key: dict[str, Any], layer: Layer) -> LayerResult:
        if not (data.startswith(_HEAD) and data[_PAYLOAD_AT - len(_MID) : _PAYLOAD_AT] == _MID):
            raise ValueError("not a layer cache entry")
        if not data.endswith(b"}"):
            raise ValueError("truncated")
        payload = data[_PAYLOAD_AT:-1]
        stored = data[len(_HEAD) : len(_HEAD) + 64]
        if hashlib.sha256(payload).hexdigest().encode("ascii") != stored:
            raise ValueError("checksum mismatch")
        body = json.loads(payload)
        if body["key"] != key:
            raise ValueError("entry belongs to another key")
        result = decode_layer_result(body["result"], layer_label(layer))
        if result.diff_id != layer.diff_id:
            raise ValueError("entry is for another layer")
        return result


def _size(entry: os.DirEntry[str]) -> int:
    try:
        return entry.stat().st_size
    except FileNotFoundError:
        return 0


# --- the lossless codec ---------------------------------------------------------------------
#
# Packages and distros are positional lists in field order. The converters are derived from
# the dataclasses' own type hints, so a field added to the model is carried without editing
# this module (and _SCHEMA changes the key, so old entries just stop matching).

_Convert = Callable[[Any], Any]


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _strs(values: Any) -> tuple[str, ...]:
    if not isinstance(values, list):
        raise TypeError(f"expected a list, got {type(values).__name__}")
    return tuple(_str(v) for v in values)


def _same(value: Any) -> Any:
    return value


def _converters(hint: Any) -> tuple[_Convert, _Convert]:
    """(to JSON, from JSON) for one field's type."""
    if hint is str:
        return _same, _str
    if isinstance(hint, type) and issubclass(hint, Enum):
        return (lambda member: member.value), hint
    if get_origin(hint) is tuple and get_args(hint) == (str, ...):
        return list, _strs
    return _same, _same  # JSON-native (int, bool, None, ...): as stored


class _Positional:
    """A frozen dataclass as a list of its fields, in order."""

    def __init__(self, cls: type[Any]) -> None:
        self.cls = cls
        hints = get_type_hints(cls)
        self.names = [f.name for f in fields(cls)]
        pairs = [_converters(hints[name]) for name in self.names]
        self.out = list(zip(self.names, [p[0] for p in pairs], strict=True))
        self.into = [p[1] for p in pairs]

    def encode(self, obj: Any) -> list[Any]:
        return [convert(getattr(obj, name)) for name, convert in self.out]

    def decode(self, row: list[Any]) -> Any:
        if not isinstance(row, list) or len(row) != len(self.into):
            raise ValueError(f"a {self.cls.__name__} with the wrong number of fields")
        return self.cls(*[convert(value) for convert, value in zip(self.into, row, strict=True)])


_PACKAGE = _Positional(Package)
_DISTRO = _Positional(Distro)


def _distro_out(distro: Distro | None) -> list[Any] | None:
    return None if distro is None else _DISTRO.encode(distro)


def _distro_in(row: list[Any] | None) -> Distro | None:
    return None if row is None else cast(Distro, _DISTRO.decode(row))


def _package_out(pkg: Package) -> list[Any]:
    return _PACKAGE.encode(pkg)


def _package_in(row: list[Any]) -> Package:
    return cast(Package, _PACKAGE.decode(row))


def _swap(text: str, old: str, new: str) -> str:
    return text.replace(old, new) if old else text


def _analysis_out(result: AnalysisResult | None, label: str) -> list[Any] | None:
    if result is None:
        return None
    return [
        [_package_out(p) for p in result.packages],
        _distro_out(result.distro),
        [_swap(w, label, _LABEL_TOKEN) for w in result.warnings],
        list(result.owned_paths),
    ]


def _analysis_in(row: list[Any] | None, label: str) -> AnalysisResult | None:
    if row is None:
        return None
    packages, distro, warnings, owned = row
    return AnalysisResult(
        packages=tuple(_package_in(p) for p in packages),
        distro=_distro_in(distro),
        warnings=tuple(_swap(_str(w), label and _LABEL_TOKEN, label) for w in warnings),
        owned_paths=_strs(owned),
    )


def encode_layer_result(result: LayerResult, label: str = "") -> dict[str, Any]:
    """JSON-ready form of a LayerResult.

    `label` (the walker's name for the layer, e.g. "layer 3 (sha256:...)") becomes a token in
    warnings, so a hit at another position in another image names its own layer number.
    """
    return {
        "diff_id": result.diff_id,
        "files": [
            [f.path, f.analyzer, _analysis_out(f.result, label), f.link] for f in result.files
        ],
        "whiteouts": list(result.whiteouts),
        "opaque_dirs": list(result.opaque_dirs),
        "warnings": [_swap(w, label, _LABEL_TOKEN) for w in result.warnings],
    }


def decode_layer_result(data: Mapping[str, Any], label: str = "") -> LayerResult:
    """Inverse of encode_layer_result; raises ValueError/TypeError/KeyError on bad input."""
    files = tuple(
        FileFact(_str(path), _str(analyzer), _analysis_in(result, label), _str(link))
        for path, analyzer, result, link in data["files"]
    )
    return LayerResult(
        diff_id=_str(data["diff_id"]),
        files=files,
        whiteouts=_strs(data["whiteouts"]),
        opaque_dirs=_strs(data["opaque_dirs"]),
        warnings=tuple(_swap(_str(w), label and _LABEL_TOKEN, label) for w in data["warnings"]),
    )
