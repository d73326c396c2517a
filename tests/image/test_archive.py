"""Opening real image archives from ../shared/data/images (see shared/data/SOURCES.md)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from hullscan.errors import SourceError
from hullscan.image.archive import open_archive
from hullscan.image.source import Platform
from hullscan.image.walker import walk_layer
from hullscan.model import ArtifactInfo
from tests.conftest import REPO
from tests.image.probe import ProbeAnalyzer

IMAGES = "images"


def load_sample_builder():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "sample_build", REPO / "examples" / "sample-image" / "build.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("relpath", "kind", "layers", "platform"),
    [
        (
            "aquasecurity__trivy/pkg/fanal/test/testdata/alpine-310.tar.gz",
            "docker-archive",
            1,
            "linux/amd64",
        ),
        ("aquasecurity__trivy/pkg/fanal/test/testdata/test.oci", "oci-layout", 1, "linux/amd64"),
        (
            "google__go-containerregistry/pkg/v1/tarball/testdata/hello-world-v25.tar",
            "docker-archive",
            1,
            "linux/arm64/v8",
        ),
        (
            "google__go-containerregistry/pkg/v1/mutate/testdata/whiteout_image.tar",
            "docker-archive",
            3,
            "linux/amd64",
        ),
        ("wagoodman__dive/.data/test-docker-image.tar", "docker-archive", 14, "linux/amd64"),
        ("wagoodman__dive/.data/test-kaniko-image.tar", "docker-archive", 14, "linux/amd64"),
        ("wagoodman__dive/.data/test-oci-gzip-image.tar", "oci-layout", 1, "linux/arm64"),
        ("wagoodman__dive/.data/test-oci-zstd-image.tar", "oci-layout", 1, "linux/arm64"),
        ("wagoodman__dive/.data/test-oci-estargz-image.tar", "oci-layout", 1, "linux/arm64"),
        ("wagoodman__dive/.data/test-oci-uncompressed-image.tar", "oci-layout", 1, "linux/arm64"),
        (
            "anchore__stereoscope/pkg/image/oci/testdata/valid-oci.tar",
            "oci-layout",
            1,
            "linux/amd64",
        ),
    ],
)
def test_real_archives_open_and_every_layer_verifies(
    shared_data: Path, relpath: str, kind: str, layers: int, platform: str
) -> None:
    with open_archive(shared_data / IMAGES / relpath) as image:
        artifact = image.artifact
        assert artifact.kind == kind
        assert len(artifact.layers) == layers
        assert artifact.platform.startswith(platform.rsplit("/v8", 1)[0])
        for layer in artifact.layers:
            with image.open_layer(layer) as blob:
                # walking hashes the uncompressed stream and checks it against the diff_id
                walk_layer(blob, layer, [ProbeAnalyzer("etc/os-release")])


def test_docker_save_keeps_tags_history_and_image_id(shared_data: Path) -> None:
    path = shared_data / IMAGES / "aquasecurity__trivy/pkg/fanal/test/testdata/alpine-310.tar.gz"
    with open_archive(path) as image:
        artifact: ArtifactInfo = image.artifact
    assert artifact.repo_tags == ("alpine:3.10",)
    assert artifact.image_id == (
        "sha256:af341ccd2df8b0e2d67cf8dd32e087bfda4e5756ebd1c76bbf3efa0dc246590e"
    )
    assert artifact.layers[0].created_by.startswith("/bin/sh -c #(nop) ADD file:")


def test_gzip_wrapped_archive_leaves_no_temp_files(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / IMAGES / "aquasecurity__trivy/pkg/fanal/test/testdata/alpine-310.tar.gz"
    image = open_archive(path)
    tmp = image._tmp
    assert tmp is not None and tmp.exists()
    image.close()
    assert not tmp.exists()


def test_oci_index_with_several_manifests_chooses_first_without_platforms(
    shared_data: Path,
) -> None:
    path = shared_data / IMAGES / "google__go-containerregistry/pkg/v1/layout/testdata/test_index"
    with open_archive(path) as image:
        assert image.artifact.manifest_digest == (
            "sha256:eebff607b1628d67459b0596643fc07de70d702eccf030f0bc7bb6fc2b278650"
        )


def test_platform_that_is_not_in_the_index_is_a_clear_error(shared_data: Path) -> None:
    path = shared_data / IMAGES / "wagoodman__dive/.data/test-oci-zstd-image.tar"
    with pytest.raises(SourceError, match=r"no image for platform linux/s390x.*linux/arm64"):
        open_archive(path, Platform.parse("linux/s390x"))


@pytest.mark.parametrize("fmt", ["oci", "docker-archive"])
@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_sample_image_in_every_format_and_compression(
    tmp_path: Path, fmt: str, compression: str
) -> None:
    out = load_sample_builder().build(tmp_path / "img.tar", fmt, compression)
    with open_archive(out) as image:
        assert len(image.artifact.layers) == 3
        assert image.artifact.kind == ("oci-layout" if fmt == "oci" else "docker-archive")
        results = []
        for layer in image.artifact.layers:
            with image.open_layer(layer) as blob:
                results.append(walk_layer(blob, layer, [ProbeAnalyzer("etc/os-release")]))
    assert [len(r.files) for r in results] == [1, 0, 0]
    assert "usr/bin/scanelf" in results[1].whiteouts
    assert results[2].whiteouts == ("etc/motd",)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        open_archive(tmp_path / "nope.tar")


def test_not_an_image_archive(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"this is not a tar archive at all" * 100)
    with pytest.raises(SourceError, match="not a readable tar archive"):
        open_archive(junk)


def test_tar_that_is_not_an_image(tmp_path: Path) -> None:
    import tarfile

    path = tmp_path / "plain.tar"
    with tarfile.open(path, "w") as tar:
        tar.add(__file__, arcname="hello.py")
    with pytest.raises(SourceError, match="neither a `docker save` archive"):
        open_archive(path)


def test_truncated_archive_is_a_clear_error(tmp_path: Path) -> None:
    full = load_sample_builder().build(tmp_path / "img.tar")
    data = full.read_bytes()
    cut = tmp_path / "cut.tar"
    import tarfile

    with tarfile.open(full) as tar:
        cuts = [m.offset_data + m.size // 2 for m in tar.getmembers() if m.size > 2]
    assert len(cuts) >= 5
    for size in cuts:  # in the middle of each blob, index and layout file
        cut.write_bytes(data[:size])
        with pytest.raises(SourceError), open_archive(cut) as image:
            for layer in image.artifact.layers:
                with image.open_layer(layer) as blob:
                    walk_layer(blob, layer, [])


def test_corrupted_layer_blob_fails_digest_check(tmp_path: Path) -> None:
    out = load_sample_builder().build(tmp_path / "img.tar", "oci", "none")
    layout = tmp_path / "layout"
    import tarfile

    with tarfile.open(out) as tar:
        tar.extractall(layout, filter="data")
    with open_archive(layout) as image:
        layer = image.artifact.layers[0]
    blob = layout / "blobs" / "sha256" / layer.digest.split(":")[1]
    data = bytearray(blob.read_bytes())
    index = data.index(b"musl")  # inside the apk database: the tar stays well-formed
    data[index] = ord("M")
    blob.write_bytes(bytes(data))
    with (
        open_archive(layout) as image,
        image.open_layer(layer) as fh,
        pytest.raises(SourceError, match="does not match its diff_id"),
    ):
        walk_layer(fh, layer, [])


def test_oci_layout_directory_equals_its_tar(tmp_path: Path) -> None:
    out = load_sample_builder().build(tmp_path / "img.tar")
    layout = tmp_path / "layout"
    shutil.unpack_archive(out, layout, "tar")
    with open_archive(out) as a, open_archive(layout) as b:
        assert a.artifact.layers == b.artifact.layers
        assert a.artifact.image_id == b.artifact.image_id


def test_gzip_bomb_archive_is_refused_and_cleaned_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gzip
    import tempfile

    from hullscan.image import archive

    monkeypatch.setattr(archive, "MIN_INFLATE_ALLOWANCE", 1024)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    bomb = tmp_path / "bomb.tar.gz"
    bomb.write_bytes(gzip.compress(b"\0" * 5_000_000))  # ~5 kB inflating 1000x
    with pytest.raises(SourceError, match="decompression bomb"):
        open_archive(bomb)
    assert list((tmp_path / "tmp").iterdir()) == []
