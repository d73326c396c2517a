"""A local HTTP server for feed tests: counts requests, honours conditional requests, and
answers like the NVD CVE API 2.0 (pagination, lastModStartDate/lastModEndDate windows).

No test reaches the internet; this serves real feed snapshots from ../shared/data.
"""

from __future__ import annotations

import email.utils
import http.server
import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

NVD_PATH = "/rest/json/cves/2.0"


@dataclass
class Served:
    """One file: its bytes and the validators the server sends (either may be absent)."""

    body: bytes
    etag: str = ""
    last_modified: str = ""


@dataclass
class FeedServer:
    """State shared with the handler: what is served and what was asked."""

    base: str = ""
    files: dict[str, Served] = field(default_factory=dict)
    #: NVD records (the `cve` objects) the API emulation pages through
    nvd: list[dict[str, Any]] = field(default_factory=list)
    #: statuses the NVD endpoint answers with before it answers normally
    nvd_failures: list[int] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    full: Counter[str] = field(default_factory=Counter)  # 200 answers with a body
    not_modified: Counter[str] = field(default_factory=Counter)
    nvd_queries: list[dict[str, str]] = field(default_factory=list)
    nvd_headers: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    version: int = 0

    def put(self, path: str, body: bytes, *, etag: bool = True, last_modified: bool = True) -> None:
        """Serve `body` at `path`, with a fresh ETag and/or Last-Modified."""
        with self.lock:
            self.version += 1
            stamp = datetime.now(UTC).timestamp() - 86400 + self.version  # later each time
            self.files[path] = Served(
                body,
                etag=f'"v{self.version}-{len(body)}"' if etag else "",
                last_modified=email.utils.formatdate(stamp, usegmt=True) if last_modified else "",
            )

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def reset_counts(self) -> None:
        with self.lock:
            self.requests.clear()
            self.full.clear()
            self.not_modified.clear()
            self.nvd_queries.clear()
            self.nvd_headers.clear()


def nvd_stamp(value: datetime) -> str:
    """NVD's timestamp style: UTC, milliseconds, no zone."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def _parse_api_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class _Handler(http.server.BaseHTTPRequestHandler):
    state: FeedServer

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        with self.state.lock:
            self.state.requests[parts.path] += 1
        if parts.path == NVD_PATH:
            self._nvd(parse_qs(parts.query))
            return
        served = self.state.files.get(parts.path)
        if served is None:
            self.send_error(404)
            return
        if self._fresh(served):
            with self.state.lock:
                self.state.not_modified[parts.path] += 1
            self.send_response(304)
            self._validators(served)
            self.end_headers()
            return
        with self.state.lock:
            self.state.full[parts.path] += 1
        self.send_response(200)
        self._validators(served)
        self.send_header("Content-Length", str(len(served.body)))
        self.end_headers()
        self.wfile.write(served.body)

    def _fresh(self, served: Served) -> bool:
        match = self.headers.get("If-None-Match")
        if match is not None:
            return bool(served.etag) and match == served.etag
        since = self.headers.get("If-Modified-Since")
        if since and served.last_modified:
            asked = email.utils.parsedate_to_datetime(since)
            have = email.utils.parsedate_to_datetime(served.last_modified)
            return have <= asked
        return False

    def _validators(self, served: Served) -> None:
        if served.etag:
            self.send_header("ETag", served.etag)
        if served.last_modified:
            self.send_header("Last-Modified", served.last_modified)

    def _nvd(self, query: dict[str, list[str]]) -> None:
        state = self.state
        flat = {k: v[0] for k, v in query.items()}
        with state.lock:
            state.nvd_queries.append(flat)
            state.nvd_headers.append({k.lower(): v for k, v in self.headers.items()})
            failure = state.nvd_failures.pop(0) if state.nvd_failures else None
        if failure is not None:
            self.send_response(failure)
            self.send_header("Retry-After", "0")
            self.send_header("message", "Request forbidden by administrative rules.")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        records = state.nvd
        if "lastModStartDate" in flat:
            start = _parse_api_time(flat["lastModStartDate"])
            end = _parse_api_time(flat["lastModEndDate"])
            records = [
                r
                for r in records
                if start <= _parse_api_time(r["lastModified"]).replace(tzinfo=UTC) <= end
            ]
        first = int(flat.get("startIndex", "0"))
        size = int(flat.get("resultsPerPage", "2000"))
        page = records[first : first + size]
        body = json.dumps(
            {
                "resultsPerPage": len(page),
                "startIndex": first,
                "totalResults": len(records),
                "format": "NVD_CVE",
                "version": "2.0",
                "timestamp": nvd_stamp(datetime.now(UTC)),
                "vulnerabilities": [{"cve": r} for r in page],
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


@contextmanager
def feed_server() -> Iterator[FeedServer]:
    """A running FeedServer on 127.0.0.1 (an ephemeral port)."""
    state = FeedServer()
    handler = type("Handler", (_Handler,), {"state": state})
    server = _Server(("127.0.0.1", 0), handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
