"""Bring a feed's files to local disk: from an http(s) URL, a local file or a directory.

Downloads stream to a temporary name and are renamed only once complete, so a half
downloaded file is never parsed. TLS is always verified: a vulnerability DB built from
tampered advisories would hide exactly what it is meant to show.
"""

from __future__ import annotations

import hashlib
import os
import re
import ssl
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

import httpx

from hullscan.errors import FeedError

DEFAULT_TIMEOUT = 120.0
_CHUNK = 1 << 20
_USER_AGENT = "hullscan (vulnerability DB builder)"


@lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """httpx's verifying TLS context (certifi, or SSL_CERT_FILE/SSL_CERT_DIR), built once:
    loading the CA bundle costs ~0.1 s, once per client otherwise."""
    return httpx.create_ssl_context()


def is_url(location: str) -> bool:
    """True for anything with a scheme (http://, https://, file://, oci://...)."""
    return re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", location) is not None


def fetch(
    location: str,
    dest_dir: Path,
    patterns: Sequence[str] = ("*",),
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[Path]:
    """Return the local files of `location`, downloading into `dest_dir` if it is a URL.

    A local file is returned as is (not copied); a directory yields every file below it
    matching `patterns` (hidden files and directories skipped), sorted by relative path so
    that the fingerprint and "later file wins" rules are deterministic.
    """
    if is_url(location):
        scheme = urlsplit(location).scheme.lower()
        if scheme in ("http", "https"):
            return [_download(location, dest_dir, timeout)]
        if scheme == "file":
            return _local(Path(unquote(urlsplit(location).path)), patterns)
        raise FeedError(
            f"cannot fetch {location}: unsupported scheme {scheme!r} (use https://, "
            "http://, a file or a directory)"
        )
    return _local(Path(location).expanduser(), patterns)


def fetch_text(url: str, *, timeout: float = DEFAULT_TIMEOUT, limit: int = 1 << 20) -> str:
    """A small text document (a pointer or an index page), read whole; at most `limit` bytes."""
    try:
        with httpx.Client(
            timeout=timeout, verify=tls_context(), headers={"User-Agent": _USER_AGENT}
        ) as client:
            response = client.get(url, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise FeedError(f"cannot fetch {url}: {exc}") from None
    if response.status_code != 200:
        raise FeedError(f"cannot fetch {url}: HTTP {response.status_code}")
    if len(response.content) > limit:
        raise FeedError(f"cannot fetch {url}: larger than {limit} bytes")
    return response.text


@dataclass(frozen=True)
class Downloaded:
    """The outcome of a conditional GET: a file, or None when the server said 304."""

    path: Path | None
    etag: str = ""
    last_modified: str = ""


@dataclass(frozen=True)
class Fetched:
    """What a feed's own downloader (`Downloads`) brought home.

    `unchanged`: nothing changed since `previous`, the previous DB's rows are current.
    `delta`: the files hold only what changed since `previous`; the builder applies their
    records on top of the previous rows (a record replaces the row of its id).
    `state` is stored in the DB and given back as `previous` on the next build.
    """

    files: list[Path]
    fingerprint: str
    state: dict[str, Any] = field(default_factory=dict)
    unchanged: bool = False
    delta: bool = False


@runtime_checkable
class Downloads(Protocol):
    """A feed whose URL is an API rather than a file (NVD): it fetches its own pages."""

    def download(
        self,
        url: str,
        dest_dir: Path,
        previous: Mapping[str, Any] | None,
        *,
        timeout: float,
        note: Callable[[str], None],
    ) -> Fetched:
        """Fetch `url` into `dest_dir`; `previous` is the state of the last build, if any."""
        ...


def is_http(location: str) -> bool:
    """True for http:// and https:// URLs: the ones fetched with conditional requests."""
    return urlsplit(location).scheme.lower() in ("http", "https") and is_url(location)


def download(
    url: str,
    dest_dir: Path,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    etag: str = "",
    last_modified: str = "",
) -> Downloaded:
    """GET `url` into `dest_dir`, conditionally when validators of an earlier fetch are given.

    With `etag`/`last_modified` the request carries If-None-Match/If-Modified-Since, and a
    304 answer returns Downloaded(None, ...) without transferring the body: an unchanged
    feed costs one round trip.
    """
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return _download_to(url, dest_dir, timeout, headers)


def fingerprint(files: Sequence[Path]) -> str:
    """sha256 over the files' bytes in the given order: equal inputs, equal fingerprint."""
    digest = hashlib.sha256()
    for path in files:
        try:
            with path.open("rb") as fh:
                while chunk := fh.read(_CHUNK):
                    digest.update(chunk)
        except OSError as exc:
            raise FeedError(f"cannot read {path}: {exc.strerror or exc}") from None
    return f"sha256:{digest.hexdigest()}"


def _local(path: Path, patterns: Sequence[str]) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        found: set[Path] = set()
        for pattern in patterns:
            for candidate in path.rglob(pattern):
                rel = candidate.relative_to(path)
                if candidate.is_file() and not any(p.startswith(".") for p in rel.parts):
                    found.add(candidate)
        if not found:
            wanted = " ".join(patterns)
            raise FeedError(f"no feed files ({wanted}) in directory {path}")
        return sorted(found, key=lambda p: p.relative_to(path).as_posix())
    if path.exists():
        raise FeedError(f"{path} is neither a regular file nor a directory")
    raise FeedError(f"no such file or directory: {path}")


def _local_name(url: str) -> str:
    """A readable, collision-resistant file name for a URL (host and path, sanitised)."""
    parts = urlsplit(url)
    raw = f"{parts.hostname or 'download'}{parts.path}"
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", raw).strip("_.")
    return name[-150:] or "download"


def _download(url: str, dest_dir: Path, timeout: float) -> Path:
    got = _download_to(url, dest_dir, timeout, {})
    assert got.path is not None  # no validators sent, so no 304
    return got.path


def _download_to(url: str, dest_dir: Path, timeout: float, extra: dict[str, str]) -> Downloaded:
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / _local_name(url)
    counter = 1
    while final.exists():
        counter += 1
        final = dest_dir / f"{counter}-{_local_name(url)}"
    fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=".part-")
    tmp = Path(tmp_name)
    try:
        with (
            os.fdopen(fd, "wb") as out,
            httpx.Client(
                follow_redirects=True,
                timeout=httpx.Timeout(timeout),
                verify=tls_context(),
                headers={"User-Agent": _USER_AGENT},
            ) as client,
            client.stream("GET", url, headers=extra) as response,
        ):
            etag = response.headers.get("ETag", "")
            last_modified = response.headers.get("Last-Modified", "")
            if response.status_code == 304 and extra:
                tmp.unlink(missing_ok=True)
                # A 304 need not repeat the validators: the ones sent are still current.
                return Downloaded(
                    None,
                    etag or extra.get("If-None-Match", ""),
                    last_modified or extra.get("If-Modified-Since", ""),
                )
            if response.status_code >= 300:
                raise FeedError(
                    f"cannot fetch {url}: HTTP {response.status_code} {response.reason_phrase}"
                )
            for chunk in response.iter_bytes(_CHUNK):
                out.write(chunk)
        os.replace(tmp, final)
    except httpx.TimeoutException:
        tmp.unlink(missing_ok=True)
        raise FeedError(f"cannot fetch {url}: timed out after {timeout:g} s") from None
    except httpx.HTTPError as exc:
        tmp.unlink(missing_ok=True)
        raise FeedError(f"cannot fetch {url}: {exc or type(exc).__name__}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return Downloaded(final, etag, last_modified)
