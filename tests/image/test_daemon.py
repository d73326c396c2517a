"""The Docker daemon source against a fake Engine API (tests/image/fake_docker.py)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import socket
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hullscan.errors import SourceError
from hullscan.image import daemon
from hullscan.image.archive import open_archive
from hullscan.image.daemon import (
    DaemonOptions,
    DaemonUnavailableError,
    ImageNotInDaemonError,
    image_in_daemon,
    open_daemon_image,
)
from hullscan.image.source import Platform
from hullscan.model import Inventory, Layer
from hullscan.scan import index
from tests.image.fake_docker import FakeDockerEngine
from tests.image.test_archive import load_sample_builder

TAG = "hullscan/sample:alpine-3.4"


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sample image as `docker save` writes it: classic (Podman, Docker < 25) and
    Docker >= 25 (an OCI layout and manifest.json side by side, sharing blobs/)."""
    out = tmp_path_factory.mktemp("images")
    builder: Any = load_sample_builder()  # type: ignore[no-untyped-call]
    classic = builder.build(out / "classic.tar", "docker-archive")
    oci = builder.build(out / "oci.tar", "oci")
    docker25 = out / "docker25.tar"
    with (
        tarfile.open(oci) as a,
        tarfile.open(classic) as b,
        tarfile.open(docker25, "w") as dst,
    ):
        for member in a.getmembers():
            dst.addfile(member, a.extractfile(member))
        manifest = b.getmember("manifest.json")
        dst.addfile(manifest, b.extractfile(manifest))
    base_layers = out / "layers"
    shutil.copytree(builder.HERE / "layers" / "1-base", base_layers / "1-base")
    base = builder.build(out / "base.tar", "docker-archive", "gzip", base_layers)
    return {"classic": classic, "docker25": docker25, "base": base}


@pytest.fixture
def sockdir() -> Iterator[Path]:
    """Short paths: a unix socket path must fit in 108 bytes, pytest's tmp_path may not."""
    path = Path(tempfile.mkdtemp(prefix="hs-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sockdir: Path) -> None:
    """No test may see this machine's Docker configuration or sockets."""
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(sockdir / "xdg"))
    monkeypatch.setattr(daemon, "DEFAULT_DOCKER_SOCKET", str(sockdir / "var-run-docker.sock"))
    monkeypatch.setattr(daemon, "PODMAN_ROOTFUL_SOCKET", str(sockdir / "run-podman.sock"))


@pytest.fixture
def engine(
    images: dict[str, Path], sockdir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeDockerEngine]:
    fake = FakeDockerEngine()
    fake.add(images["docker25"])
    monkeypatch.setenv("DOCKER_HOST", fake.serve_unix(str(sockdir / "docker.sock")))
    yield fake
    fake.stop()


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    path = tmp_path / "spool"
    path.mkdir()
    return path


def _same(a: Inventory, b: Inventory) -> None:
    assert a.packages == b.packages
    assert a.distro == b.distro
    assert a.warnings == b.warnings
    assert a.artifact.layers == b.artifact.layers
    assert a.artifact.image_id == b.artifact.image_id
    assert a.artifact.repo_tags == b.artifact.repo_tags


def test_inventory_from_the_daemon_equals_the_archive(
    engine: FakeDockerEngine, images: dict[str, Path], spool: Path
) -> None:
    with open_archive(images["classic"]) as archive:
        expected = index(archive)
    seen: list[int] = []
    with open_daemon_image(TAG, DaemonOptions(tmp_dir=spool, progress=seen.append)) as image:
        (tmp,) = spool.iterdir()  # the spooled export, while open
        assert seen[-1] == (tmp / "image.tar").stat().st_size == images["docker25"].stat().st_size
        actual = index(image)
    assert list(spool.iterdir()) == []
    _same(actual, expected)
    assert actual.artifact.kind == "docker-daemon"
    assert actual.artifact.reference == TAG
    assert actual.artifact.repo_tags == (TAG,)
    assert len(actual.packages) == 8
    methods_paths = [(m, p) for m, p, _q in engine.requests]
    assert methods_paths == [
        ("GET", "/_ping"),
        ("GET", f"/v1.47/images/{TAG}/json"),
        ("GET", f"/v1.47/images/{TAG}/get"),
    ]


def test_image_in_daemon(engine: FakeDockerEngine) -> None:
    assert image_in_daemon(TAG)
    assert image_in_daemon("docker.io/hullscan/sample:alpine-3.4")
    assert image_in_daemon(engine.images[0].image_id[:19])
    assert not image_in_daemon("hullscan/sample:other")
    assert not image_in_daemon("alpine")
    assert all(m == "GET" for m, _p, _q in engine.requests)  # never a pull


def test_missing_image_is_a_clear_error_and_never_pulled(
    engine: FakeDockerEngine, spool: Path
) -> None:
    with pytest.raises(ImageNotInDaemonError) as info:
        open_daemon_image("alpine:3.19", DaemonOptions(tmp_dir=spool))
    message = str(info.value)
    assert "image alpine:3.19 is not in the Docker daemon at unix://" in message
    assert "docker pull alpine:3.19" in message
    assert list(spool.iterdir()) == []
    assert not any("/images/create" in p for _m, p, _q in engine.requests)


def test_export_404_carries_the_daemons_message(engine: FakeDockerEngine, spool: Path) -> None:
    # removed between inspect and export: the export's own 404 body is reported
    with (
        daemon._connect(DaemonOptions()) as connected,
        pytest.raises(ImageNotInDaemonError) as info,
    ):
        connected.export("gone:1", "gone:1", spool / "x.tar", DaemonOptions())
    assert "No such image: gone:1 (HTTP 404)" in str(info.value)


def test_bare_name_exports_only_latest(
    engine: FakeDockerEngine, images: dict[str, Path], spool: Path
) -> None:
    # `docker save hullscan/sample` would put both tags in one tar, the older one first
    engine.images.clear()
    engine.add(images["base"], "hullscan/sample:old")
    engine.add(images["classic"], "hullscan/sample:latest")
    with open_daemon_image("hullscan/sample", DaemonOptions(tmp_dir=spool)) as image:
        assert image.artifact.repo_tags == ("hullscan/sample:latest",)
        assert image.artifact.reference == "hullscan/sample"
        assert len(image.artifact.layers) == 3
    assert engine.requests[-1][1] == "/v1.47/images/hullscan/sample:latest/get"


def test_image_id_is_exported_as_is_and_named_from_inspect(
    engine: FakeDockerEngine, spool: Path
) -> None:
    image_id = engine.images[0].image_id
    with open_daemon_image(image_id[7:19], DaemonOptions(tmp_dir=spool)) as image:
        assert image.artifact.image_id == image_id
        assert image.artifact.repo_tags == (TAG,)  # the export has none: inspect's
    assert engine.requests[-1][1] == f"/v1.47/images/{image_id[7:19]}/get"


@pytest.mark.parametrize(
    ("server", "minimum", "fault", "used"),
    [
        ("1.41", "1.12", "", "1.41"),  # older daemon: its version
        ("1.52", "1.44", "", "1.48"),  # Docker 29 (minimum 1.44): ours
        ("1.48", "1.24", "", "1.48"),
        ("1.24", "1.12", "no-version", "1.24"),  # no header (pre-1.25 daemon): the fallback
    ],
)
def test_api_version_is_negotiated(
    engine: FakeDockerEngine, spool: Path, server: str, minimum: str, fault: str, used: str
) -> None:
    engine.api_version, engine.min_api_version, engine.fault = server, minimum, fault
    platform = Platform.parse("linux/amd64")
    with open_daemon_image(TAG, DaemonOptions(tmp_dir=spool, platform=platform)) as image:
        assert len(image.artifact.layers) == 3
    _method, path, query = engine.requests[-1]
    assert path == f"/v{used}/images/{TAG}/get"
    if used == "1.48":
        assert json.loads(query["platform"][0]) == {"os": "linux", "architecture": "amd64"}
    else:
        assert "platform" not in query


def test_a_version_the_daemon_refuses_is_reported(engine: FakeDockerEngine) -> None:
    engine.api_version, engine.min_api_version = "1.55", "1.50"  # a future daemon without 1.48
    with pytest.raises(SourceError, match=r"client version 1\.48 is too old.*\(HTTP 400\)"):
        image_in_daemon(TAG)


def test_truncated_export_is_an_error_and_leaves_nothing(
    engine: FakeDockerEngine, spool: Path
) -> None:
    engine.fault = "truncate"
    with pytest.raises(SourceError, match=r"was cut short after \d+ bytes"):
        open_daemon_image(TAG, DaemonOptions(tmp_dir=spool))
    assert list(spool.iterdir()) == []


def test_error_after_the_export_began_is_reported(engine: FakeDockerEngine, spool: Path) -> None:
    engine.fault = "stream-error"
    with pytest.raises(SourceError, match=r"failed while exporting .*overlay2/abc/diff: no such"):
        open_daemon_image(TAG, DaemonOptions(tmp_dir=spool))
    assert list(spool.iterdir()) == []


def test_export_failing_before_the_first_byte(engine: FakeDockerEngine, spool: Path) -> None:
    engine.fault = "export-500"
    with pytest.raises(SourceError, match=r"failed: write .*no space left \(HTTP 500\)"):
        open_daemon_image(TAG, DaemonOptions(tmp_dir=spool))
    assert list(spool.iterdir()) == []


def test_oversized_export_is_refused(engine: FakeDockerEngine, spool: Path) -> None:
    limit = len(engine.images[0].tar) - 1
    with pytest.raises(SourceError, match=f"exceeds {limit} bytes"):
        open_daemon_image(TAG, DaemonOptions(tmp_dir=spool, max_export_bytes=limit))
    assert list(spool.iterdir()) == []


def test_export_that_is_not_an_image(engine: FakeDockerEngine, spool: Path) -> None:
    junk = io.BytesIO()
    with tarfile.open(fileobj=junk, mode="w") as tar:
        tar.addfile(tarfile.TarInfo("hello.txt"))
    engine.images[0].tar = junk.getvalue()  # a tar, but no manifest.json nor index.json
    with pytest.raises(SourceError, match="not a usable image archive"):
        open_daemon_image(TAG, DaemonOptions(tmp_dir=spool))
    assert list(spool.iterdir()) == []


def test_temp_file_removed_when_a_layer_fails(engine: FakeDockerEngine, spool: Path) -> None:
    image = open_daemon_image(TAG, DaemonOptions(tmp_dir=spool))
    (tar,) = spool.iterdir()
    assert (tar / "image.tar").is_file()
    with pytest.raises(KeyError), image:
        image.open_layer(Layer(index=9, diff_id="sha256:nope"))
    assert not tar.exists()


def test_unreachable_socket_names_it_and_hints(
    sockdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = sockdir / "nowhere.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{missing}")
    with pytest.raises(DaemonUnavailableError) as info:
        image_in_daemon(TAG)
    message = str(info.value)
    assert f"unix://{missing} (DOCKER_HOST)" in message
    assert "no socket at" in message
    assert "Is Docker (or Podman) running?" in message and "DOCKER_HOST" in message


def test_stale_socket_is_reported(sockdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = sockdir / "stale.sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(stale))  # bound, never listening: connect is refused
    monkeypatch.setenv("DOCKER_HOST", f"unix://{stale}")
    try:
        with pytest.raises(DaemonUnavailableError, match=r"nothing listens on .*stale socket"):
            image_in_daemon(TAG)
    finally:
        sock.close()


def test_no_daemon_anywhere(sockdir: Path) -> None:
    with pytest.raises(DaemonUnavailableError) as info:
        open_daemon_image(TAG)
    message = str(info.value)
    assert "no Docker daemon socket found" in message
    assert str(sockdir / "var-run-docker.sock") in message
    assert str(sockdir / "xdg" / "podman" / "podman.sock") in message
    assert "DOCKER_HOST" in message


def test_permission_denied_on_the_socket(
    engine: FakeDockerEngine, sockdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(sockdir / "docker.sock")
    if os.geteuid() == 0:  # root connects through any mode: fail the connect like EACCES does
        real = socket.socket

        class Denied(real):  # type: ignore[misc, valid-type]
            def connect(self, address: Any) -> None:
                if address == path:
                    raise PermissionError(13, "Permission denied")
                super().connect(address)

        monkeypatch.setattr("hullscan.image.daemon.socket.socket", Denied)
    else:
        os.chmod(path, 0o600)
        os.chown(path, 0, 0)
    with pytest.raises(DaemonUnavailableError) as info:
        image_in_daemon(TAG)
    message = str(info.value)
    assert f"permission denied on the Docker socket {path} (DOCKER_HOST)" in message
    assert "`docker` group" in message


def test_docker_host_tcp(
    images: dict[str, Path], monkeypatch: pytest.MonkeyPatch, spool: Path
) -> None:
    fake = FakeDockerEngine(api_version="1.45")
    fake.add(images["classic"])
    try:
        monkeypatch.setenv("DOCKER_HOST", fake.serve_tcp())
        with open_daemon_image(TAG, DaemonOptions(tmp_dir=spool)) as image:
            assert image.artifact.kind == "docker-daemon"
            assert image.endpoint.origin == "DOCKER_HOST"
        assert fake.requests[-1][1] == f"/v1.45/images/{TAG}/get"
    finally:
        fake.stop()


def test_refused_tcp_port(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{port}")
    with pytest.raises(DaemonUnavailableError, match=rf"cannot reach .*tcp://127.0.0.1:{port}"):
        image_in_daemon(TAG)


def test_explicit_host_option_beats_docker_host(
    engine: FakeDockerEngine, sockdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = os.environ["DOCKER_HOST"]
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sockdir}/elsewhere.sock")
    assert image_in_daemon(TAG, DaemonOptions(host=host))


def test_podman_socket_is_the_fallback(images: dict[str, Path], sockdir: Path, spool: Path) -> None:
    podman = FakeDockerEngine(api_version="1.41", podman=True)
    podman.add(images["classic"], "localhost/sample:latest")
    (sockdir / "xdg" / "podman").mkdir(parents=True)
    podman.serve_unix(str(sockdir / "xdg" / "podman" / "podman.sock"))
    try:
        assert not image_in_daemon("localhost/sample:nope")
        with open_daemon_image("localhost/sample", DaemonOptions(tmp_dir=spool)) as image:
            assert image.endpoint.origin == "the rootless Podman socket"
            assert image.artifact.repo_tags == ("localhost/sample:latest",)
            assert len(index(image).packages) == 8
        with pytest.raises(ImageNotInDaemonError, match="is not in the Docker daemon"):
            open_daemon_image("localhost/other:1", DaemonOptions(tmp_dir=spool))
        assert podman.requests[1][1] == "/v1.41/images/localhost/sample:nope/json"
    finally:
        podman.stop()


def test_stale_docker_socket_falls_through_to_podman(
    images: dict[str, Path], sockdir: Path
) -> None:
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(daemon.DEFAULT_DOCKER_SOCKET)
    podman = FakeDockerEngine(api_version="1.41", podman=True)
    podman.add(images["classic"])
    podman.serve_unix(daemon.PODMAN_ROOTFUL_SOCKET)
    try:
        assert image_in_daemon(TAG)
    finally:
        podman.stop()
        stale.close()


def _write_context(config_dir: Path, name: str, host: str, current: bool = True) -> None:
    meta = config_dir / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(
        json.dumps(
            {
                "Name": name,
                "Metadata": {},
                "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}},
            }
        )
    )
    if current:
        (config_dir / "config.json").write_text(json.dumps({"auths": {}, "currentContext": name}))


def test_docker_context_is_honoured(
    engine: FakeDockerEngine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    host = os.environ.pop("DOCKER_HOST")
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    _write_context(tmp_path / "docker-config", "desktop-linux", host)
    with daemon._connect(DaemonOptions()) as connected:
        assert connected.endpoint.origin == "docker context 'desktop-linux'"
    # DOCKER_HOST wins over the context, as in the docker CLI
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(DaemonUnavailableError, match="DOCKER_HOST"):
        image_in_daemon(TAG)
    monkeypatch.delenv("DOCKER_HOST")
    monkeypatch.setenv("DOCKER_CONTEXT", "missing")
    with pytest.raises(DaemonUnavailableError, match="docker context 'missing' not found"):
        image_in_daemon(TAG)


@pytest.mark.parametrize(
    ("host", "env", "message"),
    [
        ("ssh://me@build-host", {}, "ssh:// is not supported; forward the socket"),
        ("npipe:////./pipe/docker_engine", {}, "npipe:// is not supported"),
        ("/var/run/docker.sock", {}, "expected unix:///path/to/docker.sock"),
        ("tcp://10.0.0.1:2376", {"DOCKER_TLS_VERIFY": "1"}, "expects TLS"),
        ("unix://relative.sock", {}, "must be absolute"),
    ],
)
def test_unsupported_hosts_are_clear_errors(
    monkeypatch: pytest.MonkeyPatch, host: str, env: dict[str, str], message: str
) -> None:
    monkeypatch.setenv("DOCKER_HOST", host)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(DaemonUnavailableError, match=message):
        image_in_daemon(TAG)


def test_invalid_reference_is_refused_before_any_request(engine: FakeDockerEngine) -> None:
    for bad in ("", "a b", "x?y=1"):
        with pytest.raises(SourceError, match="invalid image reference"):
            image_in_daemon(bad)
    assert engine.requests == []


def test_not_an_engine_api(sockdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeDockerEngine(fault="not-docker")  # some other HTTP service on the socket
    monkeypatch.setenv("DOCKER_HOST", fake.serve_unix(str(sockdir / "web.sock")))
    try:
        with pytest.raises(DaemonUnavailableError, match="does not answer like a Docker Engine"):
            image_in_daemon(TAG)
    finally:
        fake.stop()


def test_chunked_stream_is_what_the_client_read(engine: FakeDockerEngine, spool: Path) -> None:
    # the spooled file is byte-identical to the daemon's tar (no decoding, no re-chunking)
    seen: dict[str, bytes] = {}
    real = daemon._open_export

    def capture(path: Path, reference: str, platform: Platform | None) -> Any:
        seen["data"] = path.read_bytes()
        return real(path, reference, platform)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(daemon, "_open_export", capture)
        with open_daemon_image(TAG, DaemonOptions(tmp_dir=spool)):
            pass
    with tarfile.open(fileobj=io.BytesIO(seen["data"])) as tar:
        names = set(tar.getnames())
    assert {"manifest.json", "index.json", "oci-layout"} <= names
