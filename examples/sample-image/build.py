#!/usr/bin/env python3
"""Build the sample image from the layer directories next to this file, without Docker.

Each directory under layers/ becomes one layer, in name order; files named `.wh.<name>` are
written as they are, which is exactly how image layers record deletions. The output is
byte-for-byte reproducible (fixed mtimes, owners and gzip headers), so its digests are stable.

    python examples/sample-image/build.py OUT.tar [--format oci|docker-archive]
                                                   [--compression gzip|zstd|none]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
EPOCH = 0

HISTORY = {
    "1-base": "/bin/sh -c #(nop) ADD file:alpine-minirootfs-3.4.0-x86_64.tar.gz in / ",
    "2-apk-del": "/bin/sh -c apk del libc-utils",
    "3-app": "/bin/sh -c #(nop) COPY dir:app in /srv/app && rm /etc/motd",
}
REPO_TAG = "hullscan/sample:alpine-3.4"


def layer_tar(root: Path) -> bytes:
    """An uncompressed layer tar of a directory, entries sorted, metadata normalised."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root).as_posix()
            info = tar.gettarinfo(str(path), arcname=rel)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = EPOCH
            info.mode = 0o755 if path.is_dir() or info.mode & 0o111 else 0o644
            if path.is_file():
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)
    return buf.getvalue()


def compress(data: bytes, compression: str) -> tuple[bytes, str]:
    base = "application/vnd.oci.image.layer.v1.tar"
    if compression == "gzip":
        return gzip.compress(data, compresslevel=6, mtime=EPOCH), base + "+gzip"
    if compression == "zstd":
        import zstandard  # only needed for this variant

        return zstandard.ZstdCompressor(level=3).compress(data), base + "+zstd"
    return data, base


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def build(
    out: Path, fmt: str = "oci", compression: str = "gzip", layers_dir: Path | None = None
) -> Path:
    """Write the image archive to `out` and return it."""
    layers_dir = layers_dir or HERE / "layers"
    dirs = sorted(p for p in layers_dir.iterdir() if p.is_dir())
    blobs: dict[str, bytes] = {}
    diff_ids, descriptors, history = [], [], []
    for directory in dirs:
        raw = layer_tar(directory)
        blob, media_type = compress(raw, compression)
        diff_ids.append(sha256(raw))
        digest = sha256(blob)
        blobs[digest] = blob
        descriptors.append({"mediaType": media_type, "digest": digest, "size": len(blob)})
        history.append(
            {"created": "2016-06-17T16:39:40Z", "created_by": HISTORY.get(directory.name, "")}
        )
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2016-06-17T16:39:40Z",
        "config": {"Cmd": ["/srv/app/run.sh"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_digest = sha256(config_bytes)
    blobs[config_digest] = config_bytes
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": len(config_bytes),
        },
        "layers": descriptors,
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
    manifest_digest = sha256(manifest_bytes)
    blobs[manifest_digest] = manifest_bytes
    files: dict[str, bytes] = {}
    for digest, data in blobs.items():
        files["blobs/sha256/" + digest.split(":", 1)[1]] = data
    if fmt == "oci":
        index = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": manifest["mediaType"],
                    "digest": manifest_digest,
                    "size": len(manifest_bytes),
                    "annotations": {"org.opencontainers.image.ref.name": REPO_TAG},
                    "platform": {"architecture": "amd64", "os": "linux"},
                }
            ],
        }
        files["index.json"] = json.dumps(index, sort_keys=True).encode()
        files["oci-layout"] = b'{"imageLayoutVersion":"1.0.0"}'
    elif fmt == "docker-archive":
        entry = {
            "Config": "blobs/sha256/" + config_digest.split(":", 1)[1],
            "RepoTags": [REPO_TAG],
            "Layers": ["blobs/sha256/" + d["digest"].split(":", 1)[1] for d in descriptors],
        }
        files["manifest.json"] = json.dumps([entry]).encode()
    else:
        raise SystemExit(f"unknown format {fmt!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mtime = EPOCH
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    tmp.replace(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--format", choices=["oci", "docker-archive"], default="oci")
    parser.add_argument("--compression", choices=["gzip", "zstd", "none"], default="gzip")
    args = parser.parse_args()
    print(build(args.out, args.format, args.compression))


if __name__ == "__main__":
    main()
