"""The contract every image source satisfies: describe the image, stream its layer blobs.

Sources hand out compressed blobs as they are stored; the LayerWalker decompresses,
verifies and walks them. A source never extracts anything to disk.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from hullscan.errors import SourceError
from hullscan.model import ArtifactInfo, Layer

#: Manifests, indexes and configs are small; anything larger is hostile or broken.
MAX_METADATA_BYTES = 16 * 1024 * 1024

MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = frozenset({MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST})


class ImageSource(ABC):
    """An opened image: its description and a way to stream each layer's blob."""

    @property
    @abstractmethod
    def artifact(self) -> ArtifactInfo:
        """Reference, digests, platform and the ordered layers."""

    @abstractmethod
    def open_layer(self, layer: Layer) -> BinaryIO:
        """A readable stream of the layer blob as stored (possibly compressed)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release files or connections held by the source."""

    def __enter__(self) -> ImageSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Platform:
    """os/arch[/variant], as `--platform` takes it."""

    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise SourceError(f"invalid platform {text!r}: expected os/arch[/variant]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else "")

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    def matches(self, other: dict[str, Any]) -> bool:
        if other.get("os") != self.os or other.get("architecture") != self.architecture:
            return False
        return not self.variant or other.get("variant", "") == self.variant


DEFAULT_PLATFORM = Platform("linux", "amd64")


def parse_json(data: bytes, what: str) -> Any:
    """Decode image metadata, turning garbage into a SourceError that names the file."""
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(f"{what} is not valid JSON: {exc}") from None


def platform_of(config: dict[str, Any]) -> str:
    """os/arch[/variant] of an image config."""
    parts = [str(config.get("os", "")), str(config.get("architecture", ""))]
    if config.get("variant"):
        parts.append(str(config["variant"]))
    return "/".join(p for p in parts if p)


def layers_from_config(
    config: dict[str, Any],
    digests: Sequence[str],
    media_types: Sequence[str],
    sizes: Sequence[int],
    what: str,
) -> tuple[Layer, ...]:
    """Pair the config's diff_ids with the manifest's blobs and the history's created_by."""
    rootfs = config.get("rootfs")
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) for d in diff_ids):
        raise SourceError(f"{what}: image config has no rootfs.diff_ids")
    if len(diff_ids) != len(digests):
        raise SourceError(
            f"{what}: manifest lists {len(digests)} layers but the config has {len(diff_ids)}"
        )
    raw_history = config.get("history")
    history = raw_history if isinstance(raw_history, list) else []
    created_by = [
        str(h.get("created_by", ""))
        for h in history
        if isinstance(h, dict) and not h.get("empty_layer", False)
    ]
    if len(created_by) != len(diff_ids):  # history is optional and sometimes wrong
        created_by = [""] * len(diff_ids)
    return tuple(
        Layer(
            index=i,
            diff_id=diff_ids[i],
            digest=digests[i],
            media_type=media_types[i],
            size=sizes[i],
            created_by=created_by[i],
        )
        for i in range(len(diff_ids))
    )


def select_manifest(descriptors: list[Any], platform: Platform | None, what: str) -> dict[str, Any]:
    """Choose one manifest descriptor of an index: the requested platform, else linux/amd64."""
    candidates = [
        d
        for d in descriptors
        if isinstance(d, dict)
        # buildx stores attestations as manifests of platform unknown/unknown
        and (d.get("platform") or {}).get("architecture") != "unknown"
    ]
    if not candidates:
        raise SourceError(f"{what}: the image index lists no image manifests")
    if len(candidates) == 1 and platform is None:
        return candidates[0]
    wanted = platform or DEFAULT_PLATFORM
    for descriptor in candidates:
        if wanted.matches(descriptor.get("platform") or {}):
            return descriptor
    if platform is None and not any(d.get("platform") for d in candidates):
        return candidates[0]
    available = ", ".join(
        str(Platform(p.get("os", "?"), p.get("architecture", "?"), p.get("variant", "")))
        for d in candidates
        if (p := d.get("platform"))
    )
    raise SourceError(
        f"{what}: no image for platform {wanted} (available: {available}); choose with --platform"
    )
