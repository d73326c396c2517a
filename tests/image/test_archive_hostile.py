"""Malformed or hostile image metadata: always a SourceError naming the problem, never a crash."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from hullscan.errors import SourceError
from hullscan.image.archive import open_archive
from tests.image.layers import Entry, diff_id, layer_bytes

LAYER = layer_bytes(Entry("etc/os-release", b"ID=alpine\nVERSION_ID=3.19.1\n"))


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_tar(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def config(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id(LAYER)]},
        "history": [{"created_by": "ADD rootfs"}],
    }
    base.update(over)
    return base


def docker_save(path: Path, cfg: Any = None, **entry_over: Any) -> Path:
    cfg_bytes = json.dumps(config() if cfg is None else cfg).encode()
    entry = {"Config": "config.json", "RepoTags": ["example/app:1"], "Layers": ["l0/layer.tar"]}
    entry.update(entry_over)
    files = {"manifest.json": json.dumps([entry]).encode(), "config.json": cfg_bytes}
    files["l0/layer.tar"] = LAYER
    return write_tar(path, files)


def oci(path: Path, *, manifest_over: Any = None, index_over: Any = None, cfg: Any = None) -> Path:
    cfg_bytes = json.dumps(config() if cfg is None else cfg).encode()
    manifest: Any = {
        "schemaVersion": 2,
        "config": {"digest": sha(cfg_bytes), "size": len(cfg_bytes)},
        "layers": [{"digest": sha(LAYER), "size": len(LAYER)}],
    }
    if manifest_over is not None:
        manifest = manifest_over(manifest)
    man_bytes = json.dumps(manifest).encode()
    descriptor = {"mediaType": "application/vnd.oci.image.manifest.v1+json"}
    descriptor |= {"digest": sha(man_bytes), "size": len(man_bytes)}
    index: Any = {"schemaVersion": 2, "manifests": [descriptor]}
    if index_over is not None:
        index = index_over(index)
    files = {
        "oci-layout": b'{"imageLayoutVersion":"1.0.0"}',
        "index.json": json.dumps(index).encode(),
    }
    for blob in (cfg_bytes, man_bytes, LAYER):
        files["blobs/sha256/" + sha(blob)[7:]] = blob
    return write_tar(path, files)


def set_in(key: str, value: Any):  # type: ignore[no-untyped-def]
    def change(doc: Any) -> Any:
        doc[key] = value
        return doc

    return change


def first_descriptor(key: str, value: Any):  # type: ignore[no-untyped-def]
    def change(doc: Any) -> Any:
        doc["manifests"][0][key] = value
        return doc

    return change


@pytest.mark.parametrize(
    "build",
    [
        lambda p: oci(p, manifest_over=set_in("layers", None)),
        lambda p: oci(p, manifest_over=set_in("layers", 5)),
        lambda p: oci(p, manifest_over=set_in("layers", [{"digest": 5}])),
        lambda p: oci(p, manifest_over=set_in("config", [])),
        lambda p: oci(p, cfg=[]),
        lambda p: oci(p, cfg=config(rootfs=None)),
        lambda p: oci(p, cfg=config(rootfs={"diff_ids": [5]})),
        lambda p: oci(p, index_over=set_in("manifests", 5)),
        lambda p: oci(p, index_over=set_in("manifests", {"a": 1})),
        lambda p: oci(p, index_over=first_descriptor("digest", "..:index.json")),
        lambda p: oci(p, index_over=first_descriptor("digest", "sha256:../../index.json")),
        lambda p: oci(p, index_over=first_descriptor("digest", "md5:0123")),
        lambda p: docker_save(p, RepoTags=5),
        lambda p: docker_save(p, RepoTags="abc:1"),
        lambda p: docker_save(p, Config=5),
        lambda p: docker_save(p, Layers=None),
        lambda p: docker_save(p, cfg=config(rootfs=None)),
        lambda p: docker_save(p, cfg=["not", "an", "object"]),
        lambda p: write_tar(p, {"manifest.json": b"[]"}),
        lambda p: write_tar(p, {"manifest.json": b"[null]"}),
        lambda p: write_tar(p, {"manifest.json": b"{}"}),
        lambda p: write_tar(p, {"manifest.json": b"[" * 100_000 + b"]" * 100_000}),
    ],
)
def test_malformed_metadata_is_a_source_error(tmp_path: Path, build: Any) -> None:
    path = build(tmp_path / "image.tar")
    with pytest.raises(SourceError):
        open_archive(path).close()


def test_platform_given_as_a_string_in_the_index_is_ignored_not_a_crash(tmp_path: Path) -> None:
    with open_archive(oci(tmp_path / "i.tar", index_over=first_descriptor("platform", "x"))) as img:
        assert img.artifact.platform == "linux/amd64"


@pytest.mark.parametrize("history", [None, "a string", [{"created_by": None}], [5]])
def test_odd_history_only_loses_created_by(tmp_path: Path, history: Any) -> None:
    path = docker_save(tmp_path / "i.tar", cfg=config(history=history, created=None))
    with open_archive(path) as image:
        assert image.artifact.layers[0].created_by == ""
        assert image.artifact.created == ""


def test_non_string_platform_fields_are_ignored(tmp_path: Path) -> None:
    path = docker_save(tmp_path / "i.tar", cfg=config(os=5, variant=["x"]))
    with open_archive(path) as image:
        assert image.artifact.platform == "amd64"


def two_image_save(path: Path) -> Path:
    other = layer_bytes(Entry("etc/os-release", b"ID=debian\nVERSION_ID=12\n"))
    cfg_a = json.dumps(config()).encode()
    cfg_b = json.dumps(config(rootfs={"type": "layers", "diff_ids": [diff_id(other)]})).encode()
    manifest = [
        {"Config": "a.json", "RepoTags": ["example/a:1"], "Layers": ["a/layer.tar"]},
        {"Config": "b.json", "RepoTags": ["example/b:2"], "Layers": ["b/layer.tar"]},
    ]
    files = {"manifest.json": json.dumps(manifest).encode(), "a.json": cfg_a, "b.json": cfg_b}
    return write_tar(path, files | {"a/layer.tar": LAYER, "b/layer.tar": other})


def test_archive_with_several_images_needs_a_name(tmp_path: Path) -> None:
    path = two_image_save(tmp_path / "two.tar")
    with pytest.raises(SourceError, match=r"holds 2 images \(example/a:1, example/b:2\)"):
        open_archive(path)
    with open_archive(path, reference="example/b:2") as image:
        assert image.artifact.repo_tags == ("example/b:2",)
    with open_archive(path, reference="docker.io/example/a:1") as image:
        assert image.artifact.repo_tags == ("example/a:1",)
    with pytest.raises(SourceError, match="holds 2 images"):
        open_archive(path, reference="example/c:3")
