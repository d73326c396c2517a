"""Test images for the registry: the sample image, and a two-platform OCI index of it.

The index holds linux/amd64 (the full three-layer sample image) and linux/arm64/v8 (only its
base layer, so its packages differ: libc-utils, musl-utils and scanelf are still installed),
assembled as an OCI layout that `skopeo copy --all` pushes as one multi-platform image.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

from tests.image.test_archive import load_sample_builder

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MULTI_TAG = "multi"


def sample_archive(directory: Path, compression: str = "gzip") -> Path:
    """The sample image as an OCI layout tar (examples/sample-image/build.py)."""
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / "sample-oci.tar"
    builder = load_sample_builder()  # type: ignore[no-untyped-call]
    return builder.build(out, compression=compression)  # type: ignore[no-any-return]


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _unpack(archive: Path, blobs: Path) -> dict[str, Any]:
    """Copy an OCI tar's blobs into `blobs`; return its single image manifest descriptor."""
    with tarfile.open(archive) as tar:
        index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
        for member in tar.getmembers():
            if member.name.startswith("blobs/sha256/"):
                data = tar.extractfile(member).read()  # type: ignore[union-attr]
                (blobs / member.name.rsplit("/", 1)[1]).write_bytes(data)
    descriptor: dict[str, Any] = index["manifests"][0]
    return descriptor


def _rewrite_platform(
    blobs: Path, descriptor: dict[str, Any], arch: str, variant: str
) -> dict[str, Any]:
    """Change the config's architecture; return the new manifest's descriptor."""
    manifest = json.loads((blobs / descriptor["digest"].split(":")[1]).read_bytes())
    config = json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_bytes())
    config["architecture"], config["variant"] = arch, variant
    config_bytes = json.dumps(config, sort_keys=True).encode()
    (blobs / _digest(config_bytes).split(":")[1]).write_bytes(config_bytes)
    manifest["config"] = {
        **manifest["config"],
        "digest": _digest(config_bytes),
        "size": len(config_bytes),
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
    (blobs / _digest(manifest_bytes).split(":")[1]).write_bytes(manifest_bytes)
    return {
        "mediaType": manifest["mediaType"],
        "digest": _digest(manifest_bytes),
        "size": len(manifest_bytes),
    }


def multiplatform_layout(directory: Path) -> tuple[Path, dict[str, str]]:
    """An OCI layout dir whose tag `multi` is an index of amd64 and arm64/v8 images.

    Returns the layout and the manifest digest of each platform ("linux/amd64", ...).
    """
    builder = load_sample_builder()  # type: ignore[no-untyped-call]
    layout = directory / "multi-layout"
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    amd64 = _unpack(builder.build(directory / "amd64.tar"), blobs)
    base_only = directory / "base-only-layers"
    shutil.copytree(builder.HERE / "layers" / "1-base", base_only / "1-base")
    arm64 = _unpack(builder.build(directory / "arm64.tar", layers_dir=base_only), blobs)
    arm64 = _rewrite_platform(blobs, arm64, "arm64", "v8")
    amd64 = {k: amd64[k] for k in ("mediaType", "digest", "size")}
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {**amd64, "platform": {"os": "linux", "architecture": "amd64"}},
            {**arm64, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        ],
    }
    index_bytes = json.dumps(index, sort_keys=True).encode()
    (blobs / _digest(index_bytes).split(":")[1]).write_bytes(index_bytes)
    top = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": OCI_INDEX,
                "digest": _digest(index_bytes),
                "size": len(index_bytes),
                "annotations": {"org.opencontainers.image.ref.name": MULTI_TAG},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(top))
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    return layout, {"linux/amd64": amd64["digest"], "linux/arm64/v8": arm64["digest"]}
