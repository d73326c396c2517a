"""Paths to the real feed snapshots in ../shared/data/advisories (see its README.md)."""

from __future__ import annotations

import functools
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def advisories_dir(shared_data: Path) -> Path:
    return shared_data / "advisories"


@pytest.fixture(scope="session")
def debian_json(advisories_dir: Path) -> Path:
    """anchore/vunnel's slice of the real tracker export (6 source packages)."""
    return (
        advisories_dir
        / "debian/anchore__vunnel/tests/unit/providers/debian/test-fixtures/input/debian.json"
    )


@pytest.fixture(scope="session")
def alpine_dir(advisories_dir: Path) -> Path:
    return advisories_dir / "alpine"


@pytest.fixture(scope="session")
def secdb_yaml_dir(alpine_dir: Path) -> Path:
    """alpinelinux/alpine-secdb: full v3.3..v3.11 YAML edition, frozen June 2020."""
    return alpine_dir / "alpinelinux__alpine-secdb"


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the test's directory; /slow stalls, /redirect redirects, logs stay quiet."""

    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(2)
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/feed.json")
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that timed out on /slow is the point of that test, not an error


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, served directory): a real HTTP server on 127.0.0.1, no internet needed."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(_Handler, directory=str(root))
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
