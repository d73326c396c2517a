"""A static file server on 127.0.0.1 that counts requests: what `--db-url` talks to.

It speaks just enough HTTP to exercise the client: ETag / If-None-Match (304),
`Range: bytes=N-` (206), and on demand a throttled body or a connection dropped after
some bytes, so tests can interrupt a download at a chosen point.
"""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    status: int = 0


@dataclass
class Behaviour:
    """Knobs a test turns: bytes per second (0 = full speed), drop after N body bytes."""

    rate: int = 0
    drop_after: dict[str, int] = field(default_factory=dict)  # path -> bytes, once each


class CountingServer:
    """Serves `root`; `requests` lists every request (method, path, headers, status)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[Seen] = []
        self.behaviour = Behaviour()
        self._lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer._serve(self)

            def do_HEAD(self) -> None:
                outer._serve(self)

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # clients that vanish mid-body are what some tests do on purpose

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def count(self, name: str, method: str = "GET") -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path == f"/{name}" and r.method == method)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
        self.behaviour = Behaviour()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _serve(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        seen = Seen(handler.command, handler.path, dict(handler.headers.items()))
        with self._lock:
            self.requests.append(seen)
        path = self.root / handler.path.lstrip("/")
        if not path.is_file():
            seen.status = 404
            self._answer(handler, 404, {}, b"not found")
            return
        data = path.read_bytes()
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        if handler.headers.get("If-None-Match") == etag:
            seen.status = 304
            self._answer(handler, 304, {"ETag": etag}, b"")
            return
        status, start = 200, 0
        wanted = handler.headers.get("Range", "")
        headers = {"ETag": etag, "Accept-Ranges": "bytes"}
        if wanted.startswith("bytes=") and wanted.endswith("-"):
            start = int(wanted[6:-1])
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        seen.status = status
        drop = self.behaviour.drop_after.pop(handler.path, None)
        self._answer(handler, status, headers, data[start:], drop)

    def _answer(
        self,
        handler: http.server.BaseHTTPRequestHandler,
        status: int,
        headers: dict[str, str],
        body: bytes,
        drop_after: int | None = None,
    ) -> None:
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command == "HEAD" or status == 304:
            return
        end = len(body) if drop_after is None else drop_after
        rate = self.behaviour.rate
        step = max(1, rate // 20) if rate else 1 << 16
        try:
            for offset in range(0, end, step):
                handler.wfile.write(body[offset : min(offset + step, end)])
                if rate:
                    handler.wfile.flush()
                    time.sleep(step / rate)
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return
        if drop_after is not None:
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
