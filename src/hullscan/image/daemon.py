"""Images in a local Docker Engine (or Podman's Docker-compatible service), over its API socket.

Users scan what they just built without pushing it or saving it by hand. The daemon's
`GET /images/{name}/get` returns exactly what `docker save` writes (Docker >= 25 puts an OCI
layout next to manifest.json inside), so the export is spooled to a private temp file and
opened with `open_archive`: one code path for every tar, with the same digest checks.
The tar cannot be walked while it streams, because layers must be reached at random and in
parallel; the temp file is bounded in size and removed on close or on any error.

Where the daemon is, in the order the docker CLI decides it: an explicit host, `DOCKER_HOST`
(unix:///path or tcp://host:port, plain HTTP), `DOCKER_CONTEXT` or the current context in
~/.docker/config.json, else the first socket that answers among /var/run/docker.sock,
rootless Docker's $XDG_RUNTIME_DIR/docker.sock and Podman's $XDG_RUNTIME_DIR/podman/podman.sock
and /run/podman/podman.sock. The API version is negotiated with `GET /_ping` (`Api-Version`)
as the docker CLI does. Nothing here pulls: a missing image is an error, never a download.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import tempfile
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from hullscan import __version__
from hullscan.errors import SourceError
from hullscan.image.archive import ArchiveImage, open_archive
from hullscan.image.source import ImageSource, Platform
from hullscan.model import ArtifactInfo, Layer
from hullscan.reference import InvalidReferenceError, parse_image_reference

log = logging.getLogger(__name__)

KIND = "docker-daemon"
DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock"
PODMAN_ROOTFUL_SOCKET = "/run/podman/podman.sock"
DEFAULT_TCP_PORT = 2375
#: The newest API whose behaviour we use: 1.48 added `platform` to the image export, which
#: keeps the containerd image store from exporting (or failing on) every platform of an index.
CLIENT_API_VERSION = (1, 48)
#: What the docker CLI assumes when /_ping does not say (daemons older than API 1.25).
FALLBACK_API_VERSION = (1, 24)
PLATFORM_API_VERSION = (1, 48)
#: An export is an uncompressed image; past this it is surely not what the user meant.
DEFAULT_MAX_EXPORT_BYTES = 64 * 1024**3
_MAX_ERROR_BODY = 64 * 1024
_CHUNK = 1024 * 1024
#: Where the daemon writes its error when it fails after the tar began (streamformatter).
_STREAM_ERROR_MARK = b'{"errorDetail"'
_STREAM_ERROR_TAIL = 64 * 1024
_HINT = (
    "Is Docker (or Podman) running? Set DOCKER_HOST to its socket, e.g. "
    "unix:///var/run/docker.sock, unix://$XDG_RUNTIME_DIR/podman/podman.sock or tcp://host:2375"
)


class DaemonUnavailableError(SourceError):
    """No Docker-compatible daemon answered; the CLI may fall back to another image source."""


class ImageNotInDaemonError(SourceError):
    """The daemon answered but does not have the image (it never pulls)."""


@dataclass(frozen=True)
class DaemonOptions:
    """How to reach the daemon and what to export.

    `host` overrides the environment like `docker -H`. `tmp_dir` is where the export is
    spooled (default: TMPDIR); an image needs its full uncompressed size there.
    `progress` is called with the number of bytes exported so far.
    """

    host: str | None = None
    platform: Platform | None = None
    tmp_dir: Path | None = None
    max_export_bytes: int = DEFAULT_MAX_EXPORT_BYTES
    connect_timeout: float = 10.0
    read_timeout: float = 600.0
    progress: Callable[[int], None] | None = None


@dataclass(frozen=True)
class Endpoint:
    """One way to reach a daemon: the URL as configured and where that came from."""

    url: str  # unix:///var/run/docker.sock, tcp://host:2375
    origin: str  # DOCKER_HOST, docker context 'x', the default Docker socket, ...
    socket_path: str = ""  # for unix sockets
    base_url: str = "http://localhost"

    def __str__(self) -> str:
        return f"{self.url} ({self.origin})"


def image_in_daemon(reference: str, options: DaemonOptions | None = None) -> bool:
    """Whether the daemon has `reference` (inspect: 200 yes, 404 no).

    Raises DaemonUnavailableError when no daemon answers, SourceError on other failures.
    """
    ref = _checked(reference)
    with _connect(options or DaemonOptions()) as daemon:
        return daemon.inspect(ref) is not None


def open_daemon_image(reference: str, options: DaemonOptions | None = None) -> DaemonImage:
    """Export `reference` from the daemon into a private temp file and open it."""
    opts = options or DaemonOptions()
    ref = _checked(reference)
    tmp: Path | None = None
    try:
        with _connect(opts) as daemon:
            inspect = daemon.inspect(ref)
            if inspect is None:
                raise ImageNotInDaemonError(
                    f"image {ref} is not in the Docker daemon at {daemon.endpoint}; "
                    f"pull or build it first (`docker pull {ref}`), or scan it from its registry"
                )
            image_id = str(inspect.get("Id", ""))
            tmp = Path(tempfile.mkdtemp(prefix="hullscan-daemon-", dir=opts.tmp_dir))
            path = daemon.export(_export_name(ref, image_id), ref, tmp / "image.tar", opts)
        archive = _open_export(path, ref, opts.platform)
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    artifact = replace(archive.artifact, kind=KIND, reference=ref)
    if not artifact.repo_tags:  # exported by image id: the daemon's own names for it
        tags = inspect.get("RepoTags")
        if isinstance(tags, list):
            artifact = replace(artifact, repo_tags=tuple(str(t) for t in tags))
    log.debug("exported %s (%s) from %s", ref, image_id, daemon.endpoint)
    return DaemonImage(archive, artifact, tmp, daemon.endpoint)


class DaemonImage(ImageSource):
    """An image exported from the daemon; owns (and removes) the spooled tar."""

    def __init__(
        self, archive: ArchiveImage, artifact: ArtifactInfo, tmp: Path, endpoint: Endpoint
    ) -> None:
        self._archive = archive
        self._artifact = artifact
        self._tmp: Path | None = tmp
        self.endpoint = endpoint

    @property
    def artifact(self) -> ArtifactInfo:
        return self._artifact

    def open_layer(self, layer: Layer) -> BinaryIO:
        return self._archive.open_layer(layer)

    def __enter__(self) -> DaemonImage:
        return self

    def close(self) -> None:
        try:
            self._archive.close()
        finally:
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)
                self._tmp = None


# ----------------------------------------------------------------------------- endpoints


def parse_host(url: str, origin: str) -> Endpoint:
    """An Endpoint for a DOCKER_HOST-style URL; unsupported transports are clear errors."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise DaemonUnavailableError(
            f"invalid Docker host {url!r} ({origin}): expected unix:///path/to/docker.sock "
            "or tcp://host:port"
        )
    if scheme == "unix":
        if not rest.startswith("/"):
            raise DaemonUnavailableError(
                f"invalid Docker host {url!r} ({origin}): the socket path must be absolute"
            )
        return Endpoint(url=url, origin=origin, socket_path=rest)
    if scheme == "tcp":
        if os.environ.get("DOCKER_TLS_VERIFY") or os.environ.get("DOCKER_CERT_PATH"):
            raise DaemonUnavailableError(
                f"the Docker daemon at {url} ({origin}) expects TLS (DOCKER_TLS_VERIFY or "
                "DOCKER_CERT_PATH is set), which hullscan does not support yet; "
                "save the image (`docker save IMAGE -o image.tar`) and scan it with --input"
            )
        parts = urllib.parse.urlsplit(url)
        try:
            port = parts.port or DEFAULT_TCP_PORT
        except ValueError:
            raise DaemonUnavailableError(f"invalid Docker host {url!r} ({origin})") from None
        if not parts.hostname:
            raise DaemonUnavailableError(f"invalid Docker host {url!r} ({origin}): no host")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        base = f"http://{host}:{port}{parts.path.rstrip('/')}"
        return Endpoint(url=url, origin=origin, base_url=base)
    if scheme == "ssh":
        raise DaemonUnavailableError(
            f"Docker host {url} ({origin}): ssh:// is not supported; forward the socket "
            "(`ssh -nNT -L /tmp/docker.sock:/var/run/docker.sock HOST`) and set "
            "DOCKER_HOST=unix:///tmp/docker.sock"
        )
    raise DaemonUnavailableError(
        f"Docker host {url} ({origin}): {scheme}:// is not supported "
        "(use unix:///path/to/docker.sock or tcp://host:port)"
    )


def daemon_endpoints(options: DaemonOptions | None = None) -> tuple[list[Endpoint], bool]:
    """Where to look for the daemon, and whether that was configured (no fallback then)."""
    opts = options or DaemonOptions()
    if opts.host:
        return [parse_host(opts.host, "--docker-host")], True
    if env_host := os.environ.get("DOCKER_HOST"):
        return [parse_host(env_host, "DOCKER_HOST")], True
    context = os.environ.get("DOCKER_CONTEXT") or _current_context()
    if context and context != "default":
        return [parse_host(_context_host(context), f"docker context {context!r}")], True
    sockets = [(DEFAULT_DOCKER_SOCKET, "the default Docker socket")]
    if runtime_dir := os.environ.get("XDG_RUNTIME_DIR"):
        sockets.append((f"{runtime_dir}/docker.sock", "the rootless Docker socket"))
        sockets.append((f"{runtime_dir}/podman/podman.sock", "the rootless Podman socket"))
    sockets.append((PODMAN_ROOTFUL_SOCKET, "the Podman socket"))
    return [Endpoint(url=f"unix://{p}", origin=o, socket_path=p) for p, o in sockets], False


def _docker_config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def _current_context() -> str:
    path = _docker_config_dir() / "config.json"
    try:
        config = json.loads(path.read_bytes())
    except FileNotFoundError:
        return ""
    except (OSError, ValueError) as exc:
        log.debug("ignoring unreadable %s: %s", path, exc)
        return ""
    value = config.get("currentContext") if isinstance(config, dict) else None
    return value if isinstance(value, str) else ""


def _context_host(name: str) -> str:
    """The docker endpoint of a docker CLI context (contexts/meta/<sha256(name)>/meta.json)."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = _docker_config_dir() / "contexts" / "meta" / digest / "meta.json"
    try:
        data = json.loads(meta.read_bytes())
        host = data["Endpoints"]["docker"]["Host"]
    except FileNotFoundError:
        raise DaemonUnavailableError(
            f"docker context {name!r} not found ({meta}); "
            "choose another with DOCKER_CONTEXT or `docker context use`"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DaemonUnavailableError(
            f"docker context {name!r} is unreadable ({meta}): {exc}"
        ) from None
    if not isinstance(host, str) or not host:
        raise DaemonUnavailableError(f"docker context {name!r} has no Docker endpoint ({meta})")
    return host


# ----------------------------------------------------------------------------- client


class _Daemon:
    """A connected daemon with a negotiated API version."""

    def __init__(self, endpoint: Endpoint, client: httpx.Client, api: tuple[int, int]) -> None:
        self.endpoint = endpoint
        self.client = client
        self.api = api
        self.prefix = f"/v{api[0]}.{api[1]}"

    def __enter__(self) -> _Daemon:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def _path(self, reference: str, action: str) -> str:
        return f"{self.prefix}/images/{urllib.parse.quote(reference, safe='/:@')}/{action}"

    def inspect(self, reference: str) -> dict[str, Any] | None:
        """GET /images/{name}/json: the image, or None when the daemon does not have it."""
        try:
            response = self.client.get(self._path(reference, "json"))
        except httpx.HTTPError as exc:
            raise SourceError(
                f"the Docker daemon at {self.endpoint} failed while inspecting {reference}: {exc}"
            ) from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise SourceError(
                f"the Docker daemon at {self.endpoint} could not inspect {reference}: "
                f"{_error_message(response.content, response.status_code)}"
            )
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise SourceError(f"the Docker daemon at {self.endpoint} sent an invalid inspect reply")
        return data

    def export(self, name: str, reference: str, dest: Path, options: DaemonOptions) -> Path:
        """GET /images/{name}/get, streamed into `dest` (bounded)."""
        params: dict[str, str] = {}
        if options.platform is not None and self.api >= PLATFORM_API_VERSION:
            wanted = {"os": options.platform.os, "architecture": options.platform.architecture}
            if options.platform.variant:
                wanted["variant"] = options.platform.variant
            params["platform"] = json.dumps(wanted)
        where = f"the export of {reference} from the Docker daemon at {self.endpoint}"
        total = 0
        try:
            with (
                self.client.stream("GET", self._path(name, "get"), params=params) as response,
                dest.open("xb") as out,
            ):
                if response.status_code != 200:
                    body = _read_bounded(response)
                    message = _error_message(body, response.status_code)
                    if response.status_code == 404:
                        raise ImageNotInDaemonError(
                            f"image {reference} is not in the Docker daemon at {self.endpoint}: "
                            f"{message}"
                        )
                    raise SourceError(f"{where} failed: {message}")
                for chunk in response.iter_raw(_CHUNK):
                    total += len(chunk)
                    if total > options.max_export_bytes:
                        raise SourceError(
                            f"{where} exceeds {options.max_export_bytes} bytes; refusing"
                        )
                    out.write(chunk)
                    if options.progress is not None:
                        options.progress(total)
        except httpx.TimeoutException:
            raise SourceError(
                f"{where} stalled after {total} bytes (no data for {options.read_timeout:g} s)"
            ) from None
        except httpx.HTTPError as exc:
            raise SourceError(
                f"{where} was cut short after {total} bytes: the daemon closed the connection "
                f"({exc}); is it still running?"
            ) from None
        except OSError as exc:
            raise SourceError(
                f"cannot spool {where} to {dest.parent}: {exc.strerror or exc}; "
                "set TMPDIR to a directory with room for the uncompressed image"
            ) from None
        return dest


def _connect(options: DaemonOptions) -> _Daemon:
    """The first endpoint that answers /_ping, with the API version negotiated."""
    endpoints, explicit = daemon_endpoints(options)
    if not explicit:
        present = [e for e in endpoints if os.path.exists(e.socket_path)]
        if not present:
            tried = ", ".join(e.socket_path for e in endpoints)
            raise DaemonUnavailableError(
                f"no Docker daemon socket found (looked for {tried}). {_HINT}"
            )
        endpoints = present
    failures: list[str] = []
    for endpoint in endpoints:
        try:
            return _ping(endpoint, options)
        except DaemonUnavailableError as exc:
            log.debug("daemon endpoint %s unusable: %s", endpoint, exc)
            failures.append(str(exc))
    if len(failures) == 1:
        raise DaemonUnavailableError(failures[0])
    raise DaemonUnavailableError("no usable Docker daemon: " + "; ".join(failures))


def _ping(endpoint: Endpoint, options: DaemonOptions) -> _Daemon:
    # Plain HTTP only (TLS daemons are refused in parse_host), so no certificate store is
    # loaded: building the default SSL context costs ~90 ms per connection for nothing.
    if endpoint.socket_path:
        _probe_unix(endpoint, options.connect_timeout)
        transport = httpx.HTTPTransport(uds=endpoint.socket_path, verify=False)
    else:
        transport = httpx.HTTPTransport(verify=False)
    timeout = httpx.Timeout(options.read_timeout, connect=options.connect_timeout)
    client = httpx.Client(
        transport=transport,
        base_url=endpoint.base_url,
        timeout=timeout,
        headers={"User-Agent": f"hullscan/{__version__}"},
        trust_env=False,  # never send socket traffic through an HTTP proxy
    )
    try:
        response = client.get("/_ping", timeout=httpx.Timeout(options.connect_timeout))
        version = _parse_api_version(response.headers.get("Api-Version", ""))
        if version is None and response.status_code != 200:
            raise DaemonUnavailableError(
                f"{endpoint} does not answer like a Docker Engine API "
                f"(GET /_ping: HTTP {response.status_code})"
            )
    except httpx.HTTPError as exc:
        client.close()
        raise DaemonUnavailableError(
            f"cannot reach the Docker daemon at {endpoint}: {exc}. {_HINT}"
        ) from None
    except BaseException:
        client.close()
        raise
    api = min(CLIENT_API_VERSION, version or FALLBACK_API_VERSION)
    log.debug("docker daemon at %s: server API %s, using %d.%d", endpoint, version, *api)
    return _Daemon(endpoint, client, api)


def _probe_unix(endpoint: Endpoint, timeout: float) -> None:
    """Connect once to tell the user exactly why a socket is unusable (errno, not httpx text)."""
    path = endpoint.socket_path
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except FileNotFoundError:
        raise DaemonUnavailableError(
            f"cannot reach the Docker daemon at {endpoint}: no socket at {path}. {_HINT}"
        ) from None
    except PermissionError:
        raise DaemonUnavailableError(
            f"permission denied on the Docker socket {path} ({endpoint.origin}): this user may "
            "not use the daemon; add it to the `docker` group (and log in again), use rootless "
            "Docker or Podman, or run hullscan as root"
        ) from None
    except ConnectionRefusedError:
        raise DaemonUnavailableError(
            f"cannot reach the Docker daemon at {endpoint}: nothing listens on {path} "
            f"(a stale socket?). {_HINT}"
        ) from None
    except OSError as exc:
        raise DaemonUnavailableError(
            f"cannot reach the Docker daemon at {endpoint}: {exc.strerror or exc}. {_HINT}"
        ) from None
    finally:
        sock.close()


def _parse_api_version(text: str) -> tuple[int, int] | None:
    match = re.fullmatch(r"\s*(\d+)\.(\d+)\s*", text)
    return (int(match[1]), int(match[2])) if match else None


def _read_bounded(response: httpx.Response) -> bytes:
    body = b""
    for chunk in response.iter_raw(_MAX_ERROR_BODY):
        body += chunk
        if len(body) >= _MAX_ERROR_BODY:
            break
    return body[:_MAX_ERROR_BODY]


def _error_message(body: bytes, status: int) -> str:
    """The `message` of the Engine API's error body (Docker and Podman), else the text."""
    text = ""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        text = data["message"]
    if not text:
        text = body.decode("utf-8", errors="replace").strip()[:500]
    return f"{text} (HTTP {status})" if text else f"HTTP {status}"


# ----------------------------------------------------------------------------- export


def _checked(reference: str) -> str:
    ref = reference.strip()
    if not ref or any(c.isspace() or ord(c) < 0x20 or c in "?#" for c in ref):
        raise InvalidReferenceError(f"invalid image reference {reference!r}")
    return ref


def _export_name(reference: str, image_id: str) -> str:
    """What to ask the export for: a bare repository name would export every tag of it.

    `docker save alpine` writes all local alpine tags into one tar (manifest.json lists them
    all), but `alpine` means `alpine:latest` everywhere else. Image ids are exported as is.
    """
    bare = reference.removeprefix("sha256:")
    if re.fullmatch(r"[0-9a-f]{1,64}", bare) and image_id.removeprefix("sha256:").startswith(bare):
        return reference
    try:
        parsed = parse_image_reference(reference)
    except InvalidReferenceError:
        return reference
    if parsed.tag or parsed.digest:
        return reference
    return f"{reference}:latest"


def _open_export(path: Path, reference: str, platform: Platform | None) -> ArchiveImage:
    _raise_stream_error(path, reference)
    try:
        return open_archive(path, platform)
    except SourceError as exc:
        raise SourceError(
            f"the export of {reference} from the Docker daemon is not a usable image archive "
            f"(truncated?): {exc}"
        ) from None


def _raise_stream_error(path: Path, reference: str) -> None:
    """The daemon reports a failure after the tar began as a JSON line appended to it."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        fh.seek(max(0, size - _STREAM_ERROR_TAIL))
        tail = fh.read()
    at = tail.rfind(_STREAM_ERROR_MARK)
    if at < 0:
        return
    with contextlib.suppress(ValueError):
        data = json.loads(tail[at:])  # a real tar ends in zero blocks: this fails
        if isinstance(data, dict):
            detail = data.get("errorDetail")
            message = data.get("error") or (
                detail.get("message") if isinstance(detail, dict) else ""
            )
            raise SourceError(
                f"the Docker daemon failed while exporting {reference}: {message or data}"
            )
