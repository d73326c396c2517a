"""A tiny threaded HTTP server on 127.0.0.1 for the fake GitLab and GitHub APIs.

It records every request (so tests can assert "no POST/PUT happened") and can be told to
answer the next matching requests with a fault (429 with Retry-After, 500, ...) before
the fake API sees them.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str  # raw path, percent-encoding kept (GitLab ids like group%2Fproject)
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def data(self) -> dict[str, Any]:
        """The body parameters, whatever the encoding (JSON, form, multipart)."""
        if isinstance(self.json, dict):
            return self.json
        return dict(self.form)


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-serialisable, or bytes/str sent as is
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    """Answer `times` requests matching method and path regex with this response."""

    method: str
    path: str
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1


Handler = Callable[[Request], Response]


class FakeServer:
    """Runs `app` (a Request -> Response function) on an ephemeral port."""

    def __init__(self, app: Handler) -> None:
        self.app = app
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = _parse(self.command, self.path, dict(self.headers.items()), body)
                response = server.dispatch(request)
                payload: bytes
                content_type = response.headers.get("Content-Type", "application/json")
                if isinstance(response.body, bytes):
                    payload = response.body
                elif isinstance(response.body, str):
                    payload = response.body.encode()
                    content_type = response.headers.get("Content-Type", "text/plain")
                elif response.body is None:
                    payload = b""
                else:
                    payload = json.dumps(response.body).encode()
                self.send_response(response.status)
                for name, value in response.headers.items():
                    if name.lower() != "content-type":
                        self.send_header(name, value)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def dispatch(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(request)
            for fault in self.faults:
                if (
                    fault.times > 0
                    and fault.method == request.method
                    and re.search(fault.path, request.path)
                ):
                    fault.times -= 1
                    return Response(fault.status, fault.body, dict(fault.headers))
        return self.app(request)

    def writes(self) -> list[Request]:
        """Every request that could change something."""
        return [r for r in self.requests if r.method in ("POST", "PUT", "PATCH", "DELETE")]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()


def _parse(method: str, target: str, headers: dict[str, str], body: bytes) -> Request:
    parts = urlsplit(target)
    request = Request(
        method=method,
        path=parts.path,
        query=parse_qs(parts.query, keep_blank_values=True),
        headers={k.lower(): v for k, v in headers.items()},
        body=body,
    )
    content_type = request.headers.get("content-type", "")
    if body and content_type.startswith("application/json"):
        request.json = json.loads(body)
    elif body and content_type.startswith("application/x-www-form-urlencoded"):
        request.form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
    elif body and content_type.startswith("multipart/form-data"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            filename = part.get_filename()
            raw = part.get_payload(decode=True)
            payload = raw if isinstance(raw, bytes) else b""
            if filename is not None:
                request.files[str(name)] = (filename, payload)
            else:
                request.form[str(name)] = payload.decode()
    return request
