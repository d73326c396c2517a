"""Choosing where an image comes from: archive, daemon, then registry, as --image-src says."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hullscan.errors import SourceError
from hullscan.image import daemon, resolve
from hullscan.image.registry import RegistryOptions
from hullscan.image.resolve import ImageRequest, open_image, parse_image_sources
from tests.image.fake_docker import FakeDockerEngine
from tests.image.test_archive import load_sample_builder

TAG = "hullscan/sample:alpine-3.4"


@pytest.fixture
def sockdir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="hs-"))
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(path / "xdg"))
    monkeypatch.setattr(daemon, "DEFAULT_DOCKER_SOCKET", str(path / "docker.sock"))
    monkeypatch.setattr(daemon, "PODMAN_ROOTFUL_SOCKET", str(path / "podman.sock"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_input_path_wins(tmp_path: Path) -> None:
    archive = load_sample_builder().build(tmp_path / "s.tar")
    with open_image(ImageRequest(reference="anything", input_path=archive)) as image:
        assert image.artifact.kind == "oci-layout"


def test_daemon_first_when_it_has_the_image(tmp_path: Path, sockdir: Path) -> None:
    fake = FakeDockerEngine()
    fake.add(load_sample_builder().build(tmp_path / "s.tar", "docker-archive"))
    fake.serve_unix(str(sockdir / "docker.sock"))
    try:
        with open_image(ImageRequest(reference=TAG)) as image:
            assert image.artifact.kind == "docker-daemon"
    finally:
        fake.stop()


def test_falls_back_to_the_registry_when_no_daemon_runs(
    sockdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def fake_registry(reference: str, options: RegistryOptions) -> object:
        asked.append(reference)
        raise SourceError("registry reached")

    monkeypatch.setattr(resolve, "open_registry_image", fake_registry)
    with pytest.raises(SourceError, match="registry reached"):
        open_image(ImageRequest(reference=TAG))
    assert asked == [TAG]


def test_daemon_only_reports_what_was_tried(sockdir: Path) -> None:
    with pytest.raises(SourceError, match=r"was not found \(daemon: "):
        open_image(ImageRequest(reference=TAG, image_sources=("daemon",)))


@pytest.mark.parametrize(
    ("text", "want"),
    [("daemon,registry", ("daemon", "registry")), (" registry ", ("registry",))],
)
def test_parse_image_sources(text: str, want: tuple[str, ...]) -> None:
    assert parse_image_sources(text) == want


@pytest.mark.parametrize("text", ["", "podman", "daemon,containerd"])
def test_parse_image_sources_rejects(text: str) -> None:
    with pytest.raises(SourceError, match="invalid --image-src"):
        parse_image_sources(text)
