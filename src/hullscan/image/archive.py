"""Images on disk: `docker save` tars and OCI image layouts (a directory or a tar of one).

The tar is indexed once (headers only) and each layer is streamed straight out of it; a
gzip-wrapped archive (`docker save | gzip`) is first inflated to a private temp file,
because tar members cannot be reached at random inside a gzip stream.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import shutil
import tarfile
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, BinaryIO

import isal.igzip

from hullscan.errors import SourceError
from hullscan.image.source import (
    MAX_METADATA_BYTES,
    ImageSource,
    Platform,
    check_digest,
    checked_digest,
    json_list,
    json_object,
    layers_from_config,
    parse_json,
    platform_of,
    select_manifest,
    text_field,
)
from hullscan.image.walker import GZIP_MAGIC
from hullscan.model import ArtifactInfo, Layer
from hullscan.reference import parse_image_reference

#: An outer gzip may inflate to at most this many times its size (image tars compress 2-10x;
#: a bomb compresses 1000x) plus a floor for small archives, and never past the hard cap.
MAX_INFLATE_RATIO = 100
MIN_INFLATE_ALLOWANCE = 1024**3
MAX_INFLATED_ARCHIVE = 64 * 1024**3
_COPY_CHUNK = 1024 * 1024


class _Store(ABC):
    """Named files of an archive, wherever they live."""

    @abstractmethod
    def exists(self, name: str) -> bool: ...

    @abstractmethod
    def size(self, name: str) -> int: ...

    @abstractmethod
    def open(self, name: str) -> BinaryIO: ...

    def read(self, name: str, what: str) -> bytes:
        if not self.exists(name):
            raise SourceError(f"{what} is missing from the archive ({name})")
        if self.size(name) > MAX_METADATA_BYTES:
            raise SourceError(f"{what} ({name}) is implausibly large; refusing to read it")
        with self.open(name) as fh:
            return fh.read()

    def close(self) -> None:  # noqa: B027 - optional
        pass


class _DirStore(_Store):
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root):
            raise SourceError(f"archive entry {name!r} points outside the layout directory")
        return path

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def size(self, name: str) -> int:
        return self._path(name).stat().st_size

    def open(self, name: str) -> BinaryIO:
        return self._path(name).open("rb")


class _RangeReader(io.RawIOBase):
    """A private handle on one member's bytes, so layers can be streamed concurrently."""

    def __init__(self, path: Path, start: int, size: int) -> None:
        self._fh = path.open("rb")
        self._fh.seek(start)
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if self._left <= 0:
            return 0
        view = memoryview(buffer)[: min(len(buffer), self._left)]
        n = self._fh.readinto(view)
        if not n:
            raise SourceError("archive ends in the middle of a file: truncated download?")
        self._left -= n
        return n

    def close(self) -> None:
        self._fh.close()
        super().close()


class _TarStore(_Store):
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            with tarfile.open(path, "r:") as tar:
                members = tar.getmembers()
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise SourceError(f"{path} is not a readable tar archive: {exc}") from None
        self.members = {_clean(m.name): m for m in members}
        self.archive_size = path.stat().st_size

    def _member(self, name: str) -> tarfile.TarInfo:
        member = self.members.get(_clean(name))
        for _hop in range(8):  # docker save links duplicate layers to one copy
            if member is None or not (member.issym() or member.islnk()):
                break
            target = member.linkname
            if member.issym():
                target = posixpath.join(posixpath.dirname(member.name), target)
            member = self.members.get(_clean(target))
        if member is None or not member.isfile():
            raise SourceError(f"{name} is missing from the archive or is not a regular file")
        if member.offset_data + member.size > self.archive_size:
            raise SourceError(f"{name} is cut short: the archive is truncated")
        return member

    def exists(self, name: str) -> bool:
        try:
            self._member(name)
        except SourceError:
            return False
        return True

    def size(self, name: str) -> int:
        return self._member(name).size

    def open(self, name: str) -> BinaryIO:
        member = self._member(name)
        return _RangeReader(self.path, member.offset_data, member.size)  # type: ignore[return-value]


def _clean(name: str) -> str:
    return posixpath.normpath(name.lstrip("/")).removeprefix("./")


class ArchiveImage(ImageSource):
    """A docker-save tar or an OCI layout, opened for streaming its layers."""

    def __init__(
        self, store: _Store, artifact: ArtifactInfo, blobs: dict[str, str], tmp: Path | None
    ) -> None:
        self._store = store
        self._artifact = artifact
        self._blobs = blobs  # diff_id -> member name
        self._tmp = tmp

    @property
    def artifact(self) -> ArtifactInfo:
        return self._artifact

    def open_layer(self, layer: Layer) -> BinaryIO:
        return self._store.open(self._blobs[layer.diff_id])

    def close(self) -> None:
        self._store.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


def open_archive(
    path: Path, platform: Platform | None = None, reference: str | None = None
) -> ArchiveImage:
    """Open a docker-save tar, an OCI layout dir or tar, gzip-wrapped or not.

    `reference` picks one image of an archive that holds several (by RepoTag or ref.name).
    """
    if not path.exists():
        raise SourceError(f"{path}: no such file or directory")
    tmp: Path | None = None
    store: _Store
    if path.is_dir():
        store = _DirStore(path)
    else:
        with path.open("rb") as fh:
            magic = fh.read(2)
        path_to_open = path
        try:
            if magic == GZIP_MAGIC:
                tmp = Path(tempfile.mkdtemp(prefix="hullscan-archive-"))
                path_to_open = _inflate(path, tmp / "image.tar")
            store = _TarStore(path_to_open)
        except BaseException:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
            raise
    try:
        artifact, blobs = _describe(store, path, platform, reference)
    except BaseException:
        store.close()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ArchiveImage(store, artifact, blobs, tmp)


def _inflate(src: Path, dest: Path) -> Path:
    limit = min(
        MAX_INFLATED_ARCHIVE, MIN_INFLATE_ALLOWANCE + MAX_INFLATE_RATIO * src.stat().st_size
    )
    total = 0
    try:
        with isal.igzip.open(src, "rb") as gz, dest.open("wb") as out:  # type: ignore[no-untyped-call]
            while chunk := gz.read(_COPY_CHUNK):
                total += len(chunk)
                if total > limit:
                    raise SourceError(
                        f"{src} inflates to more than {limit} bytes: a decompression bomb?"
                    )
                out.write(chunk)
    except (OSError, EOFError) as exc:
        raise SourceError(f"{src} is a truncated or corrupt gzip file: {exc}") from None
    return dest


def _describe(
    store: _Store, path: Path, platform: Platform | None, reference: str | None
) -> tuple[ArtifactInfo, dict[str, str]]:
    if store.exists("manifest.json"):
        return _describe_docker_save(store, path, platform, reference)
    if store.exists("index.json") and store.exists("oci-layout"):
        return _describe_oci_layout(store, path, platform, reference)
    raise SourceError(
        f"{path} is neither a `docker save` archive (no manifest.json) "
        "nor an OCI image layout (no index.json and oci-layout)"
    )


def _same_image(reference: str, name: str) -> bool:
    """Whether a RepoTag or ref.name denotes `reference` (`alpine` = docker.io/library/alpine)."""
    if name == reference:
        return True
    try:
        wanted, candidate = parse_image_reference(reference), parse_image_reference(name)
    except SourceError:
        return False
    return wanted.name == candidate.name and (wanted.tag or "latest") == (candidate.tag or "latest")


def _choose(candidates: list[tuple[tuple[str, ...], Any]], reference: str | None, what: str) -> Any:
    """One image of an archive holding several: the one named by `reference`."""
    if len(candidates) == 1 and reference is None:
        return candidates[0][1]
    if reference is not None:
        named = [
            item for names, item in candidates if any(_same_image(reference, n) for n in names)
        ]
        if len(named) == 1 or (named and len(candidates) == 1):
            return named[0]
        if not named and len(candidates) == 1:
            return candidates[0][1]  # a single image answers to any name the user gives it
    listed = ", ".join(n for names, _ in candidates for n in names) or "(untagged)"
    raise SourceError(
        f"{what} holds {len(candidates)} images ({listed}); "
        "name one: hullscan image NAME --input PATH"
    )


def _describe_docker_save(
    store: _Store, path: Path, platform: Platform | None, reference: str | None
) -> tuple[ArtifactInfo, dict[str, str]]:
    what = f"{path}: manifest.json"
    manifest = json_list(parse_json(store.read("manifest.json", "manifest.json"), what), what)
    entries = [json_object(e, f"{what} entry") for e in manifest]
    if not entries:
        raise SourceError(f"{what} does not describe any image")
    tagged = []
    for entry in entries:
        tags = entry.get("RepoTags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise SourceError(f"{what}: RepoTags is not a list of names")
        tagged.append((tuple(tags), entry))
    entry = _choose(tagged, reference, str(path))
    config_name = text_field(entry, "Config", what)
    layer_names = json_list(entry.get("Layers"), f"{what}: Layers")
    if not config_name:
        raise SourceError(f"{what}: the image entry has no Config")
    config_bytes = store.read(config_name, "the image config")
    config = json_object(parse_json(config_bytes, f"{path}: image config"), f"{path}: image config")
    if (
        platform is not None
        and platform_of(config)
        and not platform_of(config).startswith(f"{platform.os}/{platform.architecture}")
    ):
        raise SourceError(f"{path}: the image is {platform_of(config)}, not {platform}")
    for name in layer_names:
        if not isinstance(name, str) or not store.exists(name):
            raise SourceError(f"{path}: layer {name!r} listed in manifest.json is missing")
    digests = [_blob_digest(name) for name in layer_names]
    sizes = [store.size(name) for name in layer_names]
    media = [""] * len(layer_names)
    layers = layers_from_config(config, digests, media, sizes, str(path))
    artifact = ArtifactInfo(
        reference=str(path),
        kind="docker-archive",
        image_id="sha256:" + hashlib.sha256(config_bytes).hexdigest(),
        repo_tags=tuple(entry.get("RepoTags") or ()),
        platform=platform_of(config),
        created=text_field(config, "created", f"{path}: image config"),
        layers=layers,
    )
    return artifact, {layer.diff_id: name for layer, name in zip(layers, layer_names, strict=True)}


def _blob_digest(name: str) -> str:
    parts = _clean(name).split("/")
    if len(parts) == 3 and parts[0] == "blobs":
        return f"{parts[1]}:{parts[2]}"
    return ""


def _blob_name(digest: str, what: str) -> str:
    algorithm, _, encoded = checked_digest(digest, what).partition(":")
    return f"blobs/{algorithm}/{encoded}"


def _read_blob(store: _Store, descriptor: dict[str, Any], what: str) -> bytes:
    digest = checked_digest(descriptor.get("digest"), what)
    data = store.read(_blob_name(digest, what), what)
    check_digest(data, digest, what)
    return data


def _ref_name(descriptor: dict[str, Any]) -> str:
    annotations = descriptor.get("annotations")
    if not isinstance(annotations, dict):
        return ""
    name = annotations.get("org.opencontainers.image.ref.name")
    return name if isinstance(name, str) else ""


def _describe_oci_layout(
    store: _Store, path: Path, platform: Platform | None, reference: str | None
) -> tuple[ArtifactInfo, dict[str, str]]:
    index = json_object(
        parse_json(store.read("index.json", "index.json"), f"{path}: index.json"),
        f"{path}: index.json",
    )
    top = [
        json_object(d, f"{path}: index.json descriptor")
        for d in json_list(index.get("manifests"), f"{path}: index.json manifests")
    ]
    named = sorted({_ref_name(d) for d in top} - {""})
    descriptor: dict[str, Any] = {"manifests": top}
    if reference is not None and len(named) > 1:
        # several tagged images in one layout: the one the user named (tag-only ref.names too)
        chosen = [
            d for d in top if _same_image(reference, _ref_name(d)) or _ref_name(d) == reference
        ]
        if not chosen:
            raise SourceError(f"{path} has no image named {reference} (it has: {', '.join(named)})")
        descriptor = {"manifests": chosen}
    manifest: dict[str, Any] = descriptor
    for _depth in range(4):  # index -> (nested index ->) manifest
        if "manifests" not in manifest:
            break
        descriptor = select_manifest(manifest.get("manifests"), platform, str(path))
        data = _read_blob(store, descriptor, f"{path}: manifest")
        manifest = json_object(parse_json(data, f"{path}: manifest"), f"{path}: manifest")
    if "layers" not in manifest:
        raise SourceError(f"{path}: no image manifest found in the OCI layout")
    config_desc = json_object(manifest.get("config"), f"{path}: manifest config")
    config_bytes = _read_blob(store, config_desc, f"{path}: image config")
    config = json_object(parse_json(config_bytes, f"{path}: image config"), f"{path}: config")
    layer_descs = [
        json_object(d, f"{path}: layer descriptor")
        for d in json_list(manifest.get("layers"), f"{path}: manifest layers")
    ]
    digests = [checked_digest(d.get("digest"), f"{path}: layer") for d in layer_descs]
    names = [_blob_name(d, f"{path}: layer") for d in digests]
    for name in names:
        if not store.exists(name):
            raise SourceError(f"{path}: layer blob {name} listed in the manifest is missing")
    layers = layers_from_config(
        config,
        digests,
        [text_field(d, "mediaType", f"{path}: layer") for d in layer_descs],
        [store.size(n) for n in names],
        str(path),
    )
    ref_name = _ref_name(descriptor) or next(iter(named), "") if len(named) <= 1 else ""
    artifact = ArtifactInfo(
        reference=str(path),
        kind="oci-layout",
        image_id=str(config_desc.get("digest", "")),
        manifest_digest=str(descriptor.get("digest", "")),
        repo_tags=(ref_name,) if ref_name else (),
        platform=platform_of(config),
        created=text_field(config, "created", f"{path}: image config"),
        layers=layers,
    )
    return artifact, {layer.diff_id: name for layer, name in zip(layers, names, strict=True)}
