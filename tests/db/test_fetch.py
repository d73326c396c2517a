"""The fetch layer: local files and directories, and real HTTP against 127.0.0.1."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest

from hullscan.db.fetch import fetch, fingerprint, is_url
from hullscan.errors import FeedError


def test_local_file_is_used_in_place(debian_json: Path, tmp_path: Path) -> None:
    assert fetch(str(debian_json), tmp_path / "dl") == [debian_json]
    assert fetch(debian_json.as_uri(), tmp_path / "dl") == [debian_json]
    assert not (tmp_path / "dl").exists()


def test_directory_lists_matching_files_sorted(tmp_path: Path) -> None:
    root = tmp_path / "secdb"
    for rel in (
        "v3.9/main.json",
        "v3.10/main.yaml",
        "v3.10/community.json",
        "edge/main.json",
        "README.md",
        ".hidden/x.json",
        "v3.10/.main.json.swp.json",
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("{}")
    got = fetch(str(root), tmp_path / "dl", ("*.json", "*.yaml"))
    assert [p.relative_to(root).as_posix() for p in got] == [
        "edge/main.json",
        "v3.10/community.json",
        "v3.10/main.yaml",
        "v3.9/main.json",
    ]


def test_directory_without_feed_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(FeedError, match=r"no feed files \(\*\.json\) in directory"):
        fetch(str(tmp_path), tmp_path / "dl", ("*.json",))


def test_missing_path_and_unsupported_scheme(tmp_path: Path) -> None:
    with pytest.raises(FeedError, match=r"no such file or directory: .*nope\.json"):
        fetch(str(tmp_path / "nope.json"), tmp_path / "dl")
    with pytest.raises(FeedError, match="unsupported scheme 'ftp'"):
        fetch("ftp://example.org/feed.json", tmp_path / "dl")


def test_is_url() -> None:
    assert is_url("https://x/y") and is_url("file:///x") and is_url("oci://reg/x")
    assert not is_url("/tmp/x.json") and not is_url("relative/dir") and not is_url("C:x")


def test_download(http_root: tuple[str, Path], debian_json: Path, tmp_path: Path) -> None:
    base, served = http_root
    (served / "v3.10").mkdir()
    (served / "v3.10" / "main.json").write_bytes(debian_json.read_bytes())
    (served / "feed.json").write_bytes(b"{}")
    dest = tmp_path / "dl"
    first = fetch(f"{base}/v3.10/main.json", dest)
    second = fetch(f"{base}/redirect", dest)
    assert len(first) == len(second) == 1
    assert first[0].read_bytes() == debian_json.read_bytes()
    assert first[0].parent == dest and first[0].name.endswith("v3.10_main.json")
    assert second[0].read_bytes() == b"{}"
    assert sorted(p.name for p in dest.iterdir()) == sorted([first[0].name, second[0].name])


def test_download_same_name_twice_keeps_both(http_root: tuple[str, Path], tmp_path: Path) -> None:
    base, served = http_root
    (served / "feed.json").write_bytes(b"{}")
    a = fetch(f"{base}/feed.json", tmp_path)[0]
    b = fetch(f"{base}/feed.json", tmp_path)[0]
    assert a != b and a.exists() and b.exists()


def test_http_error(http_root: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = http_root
    with pytest.raises(
        FeedError, match=r"cannot fetch http://127\.0\.0\.1:\d+/gone\.json: HTTP 404"
    ):
        fetch(f"{base}/gone.json", tmp_path / "dl")
    assert list((tmp_path / "dl").iterdir()) == []  # no partial file left


def test_timeout(http_root: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = http_root
    with pytest.raises(FeedError, match=r"/slow: timed out after 0\.3 s"):
        fetch(f"{base}/slow", tmp_path / "dl", timeout=0.3)
    assert list((tmp_path / "dl").iterdir()) == []


def test_connection_refused(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FeedError, match=rf"cannot fetch http://127\.0\.0\.1:{port}/x\.json: "):
        fetch(f"http://127.0.0.1:{port}/x.json", tmp_path / "dl")


def test_fingerprint(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"hello ")
    b.write_bytes(b"world")
    assert fingerprint([a, b]) == "sha256:" + hashlib.sha256(b"hello world").hexdigest()
    assert fingerprint([b, a]) != fingerprint([a, b])
