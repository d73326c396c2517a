"""Real services for the registry tests: Debian's docker-registry, a token server, a fault proxy.

docker-registry is the CNCF distribution registry (Debian package `docker-registry`); it runs
on 127.0.0.1 with a throwaway self-signed certificate. The token server implements the
Docker token protocol (docs/spec/auth/token.md of distribution) and signs RS256 JWTs with
`openssl`, carrying the signer's certificate in `x5c` so the registry can check it against
its `rootcertbundle`. The fault proxy forwards to a real registry and misbehaves on demand.
"""

from __future__ import annotations

import base64
import http.server
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

REGISTRY_BIN = "/usr/bin/docker-registry"
USER = "hulltest"
PASSWORD = "s3cr3t-P@ss:word"  # a colon inside, as real passwords may have


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(*args: str, input: bytes | None = None) -> bytes:
    done = subprocess.run(args, input=input, capture_output=True, check=False, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout


@dataclass(frozen=True)
class Pki:
    """A self-signed server certificate for 127.0.0.1 and an RSA token-signing certificate."""

    directory: Path
    cert: Path
    key: Path
    cert_dir: Path  # skopeo's --cert-dir: holds ca.crt
    signer_cert: Path
    signer_key: Path

    @classmethod
    def create(cls, directory: Path) -> Pki:
        directory.mkdir(parents=True, exist_ok=True)
        cert, key = directory / "server.crt", directory / "server.key"
        san = "subjectAltName=IP:127.0.0.1,DNS:localhost"
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        run(
            "openssl",
            "req",
            "-x509",
            *ec,
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            san,
        )
        signer_cert, signer_key = directory / "signer.crt", directory / "signer.key"
        run(
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(signer_key),
            "-out",
            str(signer_cert),
            "-days",
            "2",
            "-subj",
            "/CN=token-signer",
        )
        cert_dir = directory / "certs.d"
        cert_dir.mkdir(exist_ok=True)
        shutil.copy(cert, cert_dir / "ca.crt")
        return cls(directory, cert, key, cert_dir, signer_cert, signer_key)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


class Registry:
    """A docker-registry process with TLS and the given `auth:` section."""

    def __init__(self, root: Path, pki: Pki, auth_yaml: str) -> None:
        self.root = root
        self.pki = pki
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        root.mkdir(parents=True, exist_ok=True)
        self.config = root / "config.yml"
        self.config.write_text(
            f"""version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root / "data"}
http:
  addr: {self.host}
  secret: hullscan-test-secret
  tls:
    certificate: {pki.cert}
    key: {pki.key}
{auth_yaml}"""
        )
        self.log = root / "registry.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [REGISTRY_BIN, "serve", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        with httpx.Client(
            verify=ssl.create_default_context(cafile=self.pki.cert), timeout=1
        ) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"docker-registry exited: {self.log.read_text()}")
                try:
                    client.get(f"https://{self.host}/v2/")
                    return
                except httpx.TransportError:
                    time.sleep(0.02)
        raise RuntimeError(f"docker-registry did not start: {self.log.read_text()}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def push(self, source: str, repo_tag: str, *, all_images: bool = False) -> None:
        """skopeo copy SOURCE docker://HOST/REPO_TAG with the test user's credentials."""
        creds = f"{USER}:{PASSWORD}"
        args = [
            "skopeo",
            "--insecure-policy",
            "copy",
            "-q",
            "--dest-creds",
            creds,
            "--dest-cert-dir",
            str(self.pki.cert_dir),
        ]
        if all_images:
            args.append("--all")
        run(*args, source, f"docker://{self.host}/{repo_tag}")


def htpasswd_file(path: Path) -> Path:
    """A bcrypt htpasswd file (apache2-utils' htpasswd -B), the only hash distribution takes."""
    path.write_bytes(run("htpasswd", "-nbB", USER, PASSWORD))
    return path


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(handler: type[http.server.BaseHTTPRequestHandler], tls: ssl.SSLContext | None) -> _Server:
    server = _Server(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


@dataclass
class TokenPolicy:
    """Who gets which actions: anonymous pull on `public` repositories, the user on all."""

    issuer: str = "hullscan-test-issuer"
    service: str = "hullscan-test-registry"
    public: set[str] = field(default_factory=set)
    field_name: str = "token"  # or access_token, as OAuth2 servers answer
    expires_in: int = 300
    refresh_token: str = "refresh-" + uuid.uuid4().hex
    requests: list[dict[str, Any]] = field(default_factory=list)


class TokenServer:
    """The realm of a token-auth registry: GET with Basic auth, POST with a refresh token."""

    def __init__(self, pki: Pki, policy: TokenPolicy) -> None:
        self.pki = pki
        self.policy = policy
        self._x5c = base64.b64encode(ssl.PEM_cert_to_DER_cert(pki.signer_cert.read_text())).decode()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                user = outer._basic_user(self.headers.get("Authorization"))
                if user is False:
                    self._answer(401, {"details": "bad credentials"})
                    return
                outer.policy.requests.append({"method": "GET", "user": user, **query})
                self._answer(200, outer._grant(user, query.get("scope", [])))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                outer.policy.requests.append({"method": "POST", **form})
                if form.get("refresh_token") != [outer.policy.refresh_token]:
                    self._answer(401, {"error": "invalid_grant"})
                    return
                self._answer(200, outer._grant(USER, form.get("scope", [])))

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = serve(Handler, pki.server_context())
        self.realm = f"https://127.0.0.1:{self.server.server_address[1]}/token"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _basic_user(self, header: str | None) -> str | bool | None:
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        user, _, password = base64.b64decode(value).decode().partition(":")
        return user if scheme.lower() == "basic" and (user, password) == (USER, PASSWORD) else False

    def _grant(self, user: str | None, scopes: list[str]) -> dict[str, Any]:
        access = []
        for scope in scopes:
            kind, name, actions = scope.split(":")
            allowed = actions.split(",") if user else [a for a in actions.split(",") if a == "pull"]
            if user or name in self.policy.public:
                access.append({"type": kind, "name": name, "actions": allowed})
        now = int(time.time())
        claims = {
            "iss": self.policy.issuer,
            "sub": user or "",
            "aud": self.policy.service,
            "exp": now + self.policy.expires_in,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        return {self.policy.field_name: self._sign(claims), "expires_in": self.policy.expires_in}

    def _sign(self, claims: dict[str, Any]) -> str:
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = run(
            "openssl",
            "dgst",
            "-sha256",
            "-sign",
            str(self.pki.signer_key),
            input=signing_input.encode(),
        )
        return f"{signing_input}.{_b64(signature)}"

    def registry_auth_yaml(self) -> str:
        return f"""auth:
  token:
    realm: {self.realm}
    service: {self.policy.service}
    issuer: {self.policy.issuer}
    rootcertbundle: {self.pki.signer_cert}
"""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


#: A fault decides what to do with one proxied request: return None to pass it through.
Fault = Callable[["ProxyRequest"], "ProxyAction | None"]


@dataclass
class ProxyRequest:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class ProxyAction:
    """What the proxy does instead of a plain forward (only the set fields matter)."""

    status: int | None = None  # answer this status without asking upstream
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    drop_after: int | None = None  # forward, but cut the connection after this many body bytes
    corrupt: bool = False  # forward with one body byte flipped
    strip_range: bool = False  # forward without the Range header (a registry without resume)


class FaultProxy:
    """Plain-HTTP front for a TLS registry; `faults` are consulted in order, first hit wins.

    Each fault is (predicate-and-action callable, remaining count); a fault stops firing when
    its count reaches zero. Every request is recorded in `seen`.
    """

    def __init__(self, upstream: str, ca: Path) -> None:
        self.upstream = upstream
        self.faults: list[list[Any]] = []
        self.seen: list[ProxyRequest] = []
        self._lock = threading.Lock()
        self._client = httpx.Client(verify=ssl.create_default_context(cafile=ca), timeout=10)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer._handle(self)

            def do_HEAD(self) -> None:
                outer._handle(self)

        self.server = serve(Handler, None)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"

    def add(self, fault: Fault, times: int = 1) -> None:
        with self._lock:
            self.faults.append([fault, times])

    def reset(self) -> None:
        with self._lock:
            self.faults.clear()
            self.seen.clear()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._client.close()

    def _pick(self, request: ProxyRequest) -> ProxyAction | None:
        with self._lock:
            self.seen.append(request)
            for entry in self.faults:
                if entry[1] <= 0:
                    continue
                action = entry[0](request)
                if action is not None:
                    entry[1] -= 1
                    return action  # type: ignore[no-any-return]
        return None

    def _handle(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        request = ProxyRequest(handler.command, handler.path, dict(handler.headers.items()))
        action = self._pick(request) or ProxyAction()
        if action.status is not None:
            self._write(handler, action.status, action.headers, action.body, None)
            return
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        if action.strip_range:
            headers = {k: v for k, v in headers.items() if k.lower() != "range"}
        upstream = self._client.request(
            request.method, f"https://{self.upstream}{request.path}", headers=headers
        )
        body = upstream.content
        if action.corrupt and body:
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        passed = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS}
        self._write(handler, upstream.status_code, passed, body, action.drop_after)

    @staticmethod
    def _write(
        handler: http.server.BaseHTTPRequestHandler,
        status: int,
        headers: dict[str, str],
        body: bytes,
        drop_after: int | None,
    ) -> None:
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body if drop_after is None else body[:drop_after])
        handler.wfile.flush()
        if drop_after is not None:
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)


_HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "host",
        "content-encoding",
        "accept-encoding",
    }
)
