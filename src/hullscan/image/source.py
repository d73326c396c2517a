"""The contract every image source satisfies: describe the image, stream its layer blobs.

Sources hand out compressed blobs as they are stored; the LayerWalker decompresses,
verifies and walks them. A source never extracts anything to disk.
"""

from __future__ import annotations

import hashlib
import json
import re
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
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEX_TYPES = frozenset({MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST})

#: OCI digest grammar, restricted to the algorithms we can verify.
_DIGEST = re.compile(r"^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$")


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

    def matches(self, other: object) -> bool:
        if not isinstance(other, dict):
            return False
        if other.get("os") != self.os or other.get("architecture") != self.architecture:
            return False
        return not self.variant or other.get("variant", "") == self.variant


DEFAULT_PLATFORM = Platform("linux", "amd64")


def parse_json(data: bytes, what: str) -> Any:
    """Decode image metadata, turning garbage into a SourceError that names the file."""
    try:
        return json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SourceError(f"{what} is not valid JSON: {exc}") from None


def json_object(value: object, what: str) -> dict[str, Any]:
    """`value` as a JSON object, or a SourceError naming what it should have been."""
    if not isinstance(value, dict):
        raise SourceError(f"{what} is not a JSON object")
    return value


def json_list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise SourceError(f"{what} is not a JSON list")
    return value


def text_field(obj: dict[str, Any], key: str, what: str) -> str:
    """An optional string field: absent or null is "", any other type is an error."""
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SourceError(f"{what}: {key!r} is not a string")
    return value


def checked_digest(value: object, what: str) -> str:
    """A descriptor digest we can verify (sha256/sha512, lowercase hex), else a SourceError."""
    if not isinstance(value, str) or not _DIGEST.match(value):
        raise SourceError(f"{what}: invalid or unsupported digest {value!r}")
    return value


def new_hasher(digest: str, what: str) -> tuple[hashlib._Hash, str]:
    """A hasher for a digest's algorithm, and the expected hex."""
    algorithm, _, expected = checked_digest(digest, what).partition(":")
    return hashlib.new(algorithm), expected


def check_digest(data: bytes, digest: str, what: str) -> None:
    """Verify a small blob read whole (manifest, config) against its digest."""
    hasher, expected = new_hasher(digest, what)
    hasher.update(data)
    if hasher.hexdigest() != expected:
        actual = f"{digest.partition(':')[0]}:{hasher.hexdigest()}"
        raise SourceError(f"{what}: digest mismatch: expected {digest}, content is {actual}")


def platform_of(config: dict[str, Any]) -> str:
    """os/arch[/variant] of an image config (non-string fields are ignored)."""
    parts = [config.get("os"), config.get("architecture"), config.get("variant")]
    return "/".join(p for p in parts if isinstance(p, str) and p)


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
    if not isinstance(diff_ids, list):
        raise SourceError(f"{what}: image config has no rootfs.diff_ids")
    for diff_id in diff_ids:
        if not isinstance(diff_id, str) or not diff_id.startswith("sha256:"):
            raise SourceError(f"{what}: unsupported layer diff_id {diff_id!r}")
        checked_digest(diff_id, what)
    if len(diff_ids) != len(digests):
        raise SourceError(
            f"{what}: manifest lists {len(digests)} layers but the config has {len(diff_ids)}"
        )
    raw_history = config.get("history")
    history = raw_history if isinstance(raw_history, list) else []
    created_by = [
        h["created_by"] if isinstance(h.get("created_by"), str) else ""
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


def _platform_dict(descriptor: dict[str, Any]) -> dict[str, Any]:
    platform = descriptor.get("platform")
    return platform if isinstance(platform, dict) else {}


def select_manifest(descriptors: object, platform: Platform | None, what: str) -> dict[str, Any]:
    """Choose one manifest descriptor of an index: the requested platform, else linux/amd64."""
    candidates = [
        d
        for d in json_list(descriptors, f"{what}: the index's manifests")
        if isinstance(d, dict)
        # buildx stores attestations as manifests of platform unknown/unknown
        and _platform_dict(d).get("architecture") != "unknown"
    ]
    if not candidates:
        raise SourceError(f"{what}: the image index lists no image manifests")
    if len(candidates) == 1 and platform is None:
        return candidates[0]
    wanted = platform or DEFAULT_PLATFORM
    for descriptor in candidates:
        if wanted.matches(_platform_dict(descriptor)):
            return descriptor
    if platform is None and not any(_platform_dict(d) for d in candidates):
        return candidates[0]
    available = ", ".join(
        str(
            Platform(
                str(p.get("os", "?")), str(p.get("architecture", "?")), str(p.get("variant", ""))
            )
        )
        for d in candidates
        if (p := _platform_dict(d))
    )
    raise SourceError(
        f"{what}: no image for platform {wanted} (available: {available}); choose with --platform"
    )
