"""A fake Docker Engine API (and Podman's compatible flavour) for tests: no engine runs here.

It implements the endpoints hullscan uses as the Engine API documents them (moby
api/docs/v1.48.yaml: SystemPing, ImageInspect, ImageGet) and as the daemon's handlers
behave (moby api/server/router/image/image_routes.go, api/server/middleware/version.go):

- `GET|HEAD /_ping`: 200 "OK", headers Api-Version, Docker-Experimental, OSType,
  Builder-Version, Swarm, Cache-Control, Pragma (Podman: API-Version, Libpod-API-Version, ...).
- a `/vX.Y` prefix above the server's version or below its minimum is a 400 with
  `{"message": "client version X.Y is too new. Maximum supported API version is ..."}`;
  no prefix means the server's own version.
- `GET /images/{name}/json`: the inspect document, or 404 `{"message": "No such image: x:tag"}`.
- `GET /images/{name}/get`: `application/x-tar` in chunked transfer encoding (the daemon
  flushes as it writes, so there is no Content-Length). A bare repository name exports every
  tag of it in one tar, as `docker save` does. A failure after the first flush cannot change
  the status any more: the daemon appends `{"errorDetail":{"message":...},"error":...}\\r\\n`.
- anything else: 404 `{"message": "page not found"}`.

Faults for error paths: `fault = "truncate"` drops the connection mid-export, `"stream-error"`
appends the daemon's in-band error, `"export-500"` fails before the first byte, `"no-version"`
omits Api-Version from /_ping, `"not-docker"` answers 404 to everything (another HTTP service).
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import re
import socket
import socketserver
import tarfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from hullscan.reference import InvalidReferenceError, parse_image_reference

_CHUNK = 32 * 1024


@dataclass
class FakeImage:
    """An image held by the fake daemon: the docker-save tar of it and its names."""

    tar: bytes
    repo_tags: list[str]
    config: dict[str, Any]
    image_id: str

    @classmethod
    def from_tar(cls, path: Path) -> FakeImage:
        data = path.read_bytes()
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            manifest = json.loads(_member(tar, "manifest.json"))[0]
            config_bytes = _member(tar, manifest["Config"])
        return cls(
            tar=data,
            repo_tags=list(manifest.get("RepoTags") or []),
            config=json.loads(config_bytes),
            image_id="sha256:" + hashlib.sha256(config_bytes).hexdigest(),
        )

    def inspect(self) -> dict[str, Any]:
        """The ImageInspect document (the fields the schema lists, filled from the config)."""
        return {
            "Id": self.image_id,
            "RepoTags": self.repo_tags,
            "RepoDigests": [],
            "Parent": "",
            "Comment": "",
            "Created": self.config.get("created", ""),
            "DockerVersion": "",
            "Author": "",
            "Config": self.config.get("config", {}),
            "Architecture": self.config.get("architecture", ""),
            "Os": self.config.get("os", ""),
            "Size": len(self.tar),
            "GraphDriver": {"Name": "overlay2", "Data": None},
            "RootFS": {"Type": "layers", "Layers": self.config["rootfs"]["diff_ids"]},
            "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
        }


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    fh = tar.extractfile(name)
    assert fh is not None
    return fh.read()


def _canonical(name: str) -> tuple[str, str]:
    """(repository, tag) with Docker's normalisation; tag "" when none was given."""
    ref = parse_image_reference(name)
    return ref.name, ref.tag


def _familiar(name: str) -> str:
    ref = parse_image_reference(name)
    return f"{ref.familiar_name}:{ref.tag or 'latest'}"


def _version(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


@dataclass
class FakeDockerEngine:
    api_version: str = "1.47"
    min_api_version: str = "1.24"
    podman: bool = False
    fault: str = ""
    images: list[FakeImage] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, list[str]]]] = field(default_factory=list)
    _servers: list[socketserver.BaseServer] = field(default_factory=list)

    def add(self, path: Path, *tags: str) -> FakeImage:
        image = FakeImage.from_tar(path)
        if tags:
            image.repo_tags = list(tags)
            image.tar = _retag(image.tar, list(tags))
        self.images.append(image)
        return image

    # -- lookup as the daemon does it: by name (tag defaults to latest), else by id prefix
    def find(self, name: str) -> FakeImage | None:
        bare = name.removeprefix("sha256:")
        if re.fullmatch(r"[0-9a-f]{1,64}", bare):
            by_id = [i for i in self.images if i.image_id[7:].startswith(bare)]
            if len(by_id) == 1:
                return by_id[0]
        try:
            repo, tag = _canonical(name)
        except InvalidReferenceError:
            return None
        for image in self.images:
            for t in image.repo_tags:
                if _canonical(t) == (repo, tag or "latest"):
                    return image
        return None

    def export_set(self, name: str) -> list[tuple[FakeImage, list[str]]]:
        """What `docker save NAME` writes: one image, or every tag of a bare repository."""
        bare = name.removeprefix("sha256:")
        if re.fullmatch(r"[0-9a-f]{1,64}", bare):
            by_id = [i for i in self.images if i.image_id[7:].startswith(bare)]
            if len(by_id) == 1:  # by id: no names in the tar
                return [(by_id[0], [])]
        try:
            repo, tag = _canonical(name)
        except InvalidReferenceError:
            return []
        if tag or "@" in name:
            image = self.find(name)
            return [(image, [_familiar(name)])] if image else []
        chosen = []
        for image in self.images:
            tags = [t for t in image.repo_tags if _canonical(t)[0] == repo]
            if tags:
                chosen.append((image, [_familiar(t) for t in tags]))
        if not chosen and (image := self.find(name)):
            chosen.append((image, []))
        return chosen

    # -- serving
    def serve_unix(self, path: str) -> str:
        server = _UnixServer(path, self._handler())
        self._start(server)
        return f"unix://{path}"

    def serve_tcp(self) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        server.daemon_threads = True
        self._start(server)
        return f"tcp://127.0.0.1:{server.server_address[1]}"

    def _start(self, server: socketserver.BaseServer) -> None:
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
        self._servers.append(server)

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
            address = server.server_address
            if isinstance(address, str) and os.path.exists(address):
                os.unlink(address)
        self._servers.clear()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        engine = self

        class Handler(_EngineHandler):
            pass

        Handler.engine = engine
        return Handler


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class _EngineHandler(http.server.BaseHTTPRequestHandler):
    engine: FakeDockerEngine
    protocol_version = "HTTP/1.1"  # keep-alive and chunked transfer, like Go's net/http
    server_version = "Docker/27.5.1 (linux)"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        path = unquote(url.path)
        self.engine.requests.append((method, path, query))
        if self.engine.fault == "not-docker":
            return self._json(404, {"error": "not found"})
        if path == "/_ping":
            return self._ping(method)
        match = re.fullmatch(r"/v(\d+\.\d+)(/.*)", path)
        if match:
            version, path = match[1], match[2]
            if _version(version) > _version(self.engine.api_version):
                return self._error(
                    400,
                    f"client version {version} is too new. Maximum supported API version is "
                    f"{self.engine.api_version}",
                )
            if _version(version) < _version(self.engine.min_api_version):
                return self._error(
                    400,
                    f"client version {version} is too old. Minimum supported API version is "
                    f"{self.engine.min_api_version}, please upgrade your client to a newer version",
                )
        if method == "GET" and (m := re.fullmatch(r"/images/(.+)/json", path)):
            return self._inspect(m[1])
        if method == "GET" and (m := re.fullmatch(r"/images/(.+)/get", path)):
            return self._export(m[1], query)
        return self._error(404, "page not found")

    def _ping(self, method: str) -> None:
        self.send_response(200)
        if self.engine.podman:
            headers = {
                "API-Version": self.engine.api_version,
                "Libpod-API-Version": "5.2.0",
                "Libpod-Buildah-Version": "1.37.0",
                "BuildKit-Version": "",
                "Docker-Experimental": "true",
            }
        else:
            headers = {
                "Api-Version": self.engine.api_version,
                "Builder-Version": "2",
                "Docker-Experimental": "false",
                "OSType": "linux",
                "Swarm": "inactive",
            }
        if self.engine.fault == "no-version":
            headers.pop("Api-Version", None)
            headers.pop("API-Version", None)
        headers.update(
            {"Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache"}
        )
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        body = b"OK" if method == "GET" else b""
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(body)

    def _not_found(self, name: str) -> None:
        try:
            shown = _familiar(name)
        except InvalidReferenceError:
            shown = name
        if self.engine.podman:
            self._error(404, f"failed to find image {name}: {name}: image not known")
        else:
            self._error(404, f"No such image: {shown}")

    def _inspect(self, name: str) -> None:
        image = self.engine.find(name)
        if image is None:
            return self._not_found(name)
        self._json(200, image.inspect())

    def _export(self, name: str, query: dict[str, list[str]]) -> None:
        if "platform" in query:
            json.loads(query["platform"][0])  # the daemon rejects malformed platforms with 400
        chosen = self.engine.export_set(name)
        if not chosen:
            return self._not_found(name)
        if self.engine.fault == "export-500":
            return self._error(500, "write /var/lib/docker/tmp/docker-export-1: no space left")
        data = _merge(chosen)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-tar")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if self.engine.fault == "truncate":
            self._chunk(data[: len(data) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        if self.engine.fault == "stream-error":
            self._chunk(data[: len(data) // 2])
            error = "open /var/lib/docker/overlay2/abc/diff: no such file or directory"
            line = json.dumps({"errorDetail": {"message": error}, "error": error}) + "\r\n"
            self._chunk(line.encode())
        else:
            for start in range(0, len(data), _CHUNK):
                self._chunk(data[start : start + _CHUNK])
        self.wfile.write(b"0\r\n\r\n")

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def _json(self, status: int, body: Any) -> None:
        payload = json.dumps(body).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: int, message: str) -> None:
        if self.engine.podman:
            self._json(
                status,
                {"cause": message.rsplit(": ", 1)[-1], "message": message, "response": status},
            )
        else:
            self._json(status, {"message": message})


def _retag(data: bytes, tags: list[str]) -> bytes:
    """The same docker-save tar with other RepoTags in manifest.json."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(data)) as src, tarfile.open(fileobj=out, mode="w") as dst:
        for member in src.getmembers():
            content = _member(src, member.name) if member.isfile() else b""
            if member.name == "manifest.json":
                manifest = json.loads(content)
                manifest[0]["RepoTags"] = tags
                content = json.dumps(manifest).encode()
            member.size = len(content)
            dst.addfile(member, io.BytesIO(content))
    return out.getvalue()


def _merge(chosen: list[tuple[FakeImage, list[str]]]) -> bytes:
    """One docker-save tar holding several images, manifest.json listing each with its tags."""
    files: dict[str, bytes] = {}
    manifest: list[dict[str, Any]] = []
    for image, tags in chosen:
        with tarfile.open(fileobj=io.BytesIO(image.tar)) as tar:
            for member in tar.getmembers():
                if member.isfile():
                    files[member.name] = _member(tar, member.name)
        if "manifest.json" not in files:  # not an image (a test's junk): served as it is
            return image.tar
        entry = json.loads(files.pop("manifest.json"))[0]
        entry["RepoTags"] = tags or None
        manifest.append(entry)
    files["manifest.json"] = json.dumps(manifest).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return out.getvalue()
