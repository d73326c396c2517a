"""Writing to a registry (OCI distribution push API), and the raw reads an artifact needs.

registry.py reads container images; publishing the vulnerability DB also needs HEAD, POST,
PATCH and PUT, with a `pull,push` token scope. This module adds exactly that on top of the
same pieces - credentials (registry_auth), TLS (`ssl_context`), retries with backoff and
Retry-After (`Retrier`) - so a DB is pushed and pulled with the same auth and failure
behaviour as an image is scanned.

Uploads follow the distribution spec: HEAD skips a blob the registry already has; otherwise
`POST /blobs/uploads/` opens a session and the blob goes up in one `PUT ?digest=`
(monolithic) or in `PATCH` chunks with `Content-Range` and a closing `PUT`. A session the
registry lost (404, 416 after a dropped chunk) is restarted from scratch, a bounded number
of times. Bodies are re-iterable file slices, so a retried request re-reads the file
instead of holding a 100 MB artifact in memory.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import httpx

from hullscan import __version__
from hullscan.errors import SourceError
from hullscan.image.registry import (
    RegistryOptions,
    Retrier,  # the registry client's retry policy, shared on purpose
    api_host,
    discard_error_body,
    error_detail,
    is_insecure,
    ssl_context,
)
from hullscan.image.registry_auth import Authenticator, authentication_message, resolve_credentials
from hullscan.image.source import MAX_METADATA_BYTES, check_digest, checked_digest
from hullscan.reference import ImageReference, parse_image_reference

_PIECE = 1 << 20
#: Chunk size for chunked uploads when the caller asks for chunks without a size.
DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024


@dataclass(frozen=True)
class FileSlice:
    """`length` bytes of `path` from `offset`: a request body httpx can send more than once.

    Not a generator: httpx refuses to re-send a consumed generator, but iterates an
    iterable afresh on every attempt (retries, the 401 handshake, 307 redirects).
    """

    path: Path
    offset: int
    length: int

    def __iter__(self) -> Iterator[bytes]:
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            left = self.length
            while left > 0:
                piece = fh.read(min(_PIECE, left))
                if not piece:
                    raise SourceError(f"{self.path} shrank while it was being uploaded")
                left -= len(piece)
                yield piece


Body = bytes | FileSlice


@dataclass(frozen=True)
class PushedBlob:
    """What upload_blob did: `uploaded` False when the registry already had the blob."""

    digest: str
    size: int
    uploaded: bool


class _RestartUpload(Exception):
    """The registry lost the upload session; start a new one."""


class RepositoryClient:
    """One repository of one registry: authenticated, retried requests of any method.

    `push=True` asks for the `pull,push` scope (a token without push rights makes every
    write fail with a message that says so). Thread-safe like RegistryClient.
    """

    def __init__(
        self,
        reference: str | ImageReference,
        options: RegistryOptions | None = None,
        *,
        push: bool = False,
        env: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.options = options or RegistryOptions()
        self.ref = (
            reference if isinstance(reference, ImageReference) else parse_image_reference(reference)
        )
        credentials = resolve_credentials(
            self.ref.registry,
            self.options.username,
            self.options.password,
            self.options.docker_config,
            env,
        )
        insecure = is_insecure(self.ref.registry, self.options.insecure_registries)
        self.origin = f"{'http' if insecure else 'https'}://{api_host(self.ref.registry)}"
        self.base_url = f"{self.origin}/v2/{self.ref.repository}/"
        self.push = push
        self.scope = f"repository:{self.ref.repository}:{'pull,push' if push else 'pull'}"
        self._sleep = sleep
        self._http = httpx.Client(
            verify=ssl_context(self.options.ca_cert),
            timeout=httpx.Timeout(self.options.timeout),
            follow_redirects=True,  # httpx drops Authorization when leaving the origin
            headers={"User-Agent": f"hullscan/{__version__}"},
        )
        self._retrier = Retrier(self._http, self.options, sleep)
        self.auth = Authenticator(
            self.ref.registry,
            credentials,
            lambda request: self._retrier.send(request, f"token request for {self.ref.registry}"),
            registry_is_https=not insecure,
        )

    def __repr__(self) -> str:
        return f"RepositoryClient({self.base_url}, push={self.push}, auth={self.auth!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- requests ---------------------------------------------------------------------------

    def url(self, target: str) -> httpx.URL:
        """`target` relative to the repository (`blobs/…`), or an absolute/rooted Location."""
        if target.startswith(("http://", "https://", "/")):
            return httpx.URL(self.origin).join(target)
        return httpx.URL(self.base_url + target)

    def request(
        self,
        method: str,
        target: str | httpx.URL,
        what: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: Body | None = None,
    ) -> httpx.Response:
        """Send one authorised request (401 handshake, transient faults retried).

        Returns the streaming response whatever its status; the caller closes it.
        """
        url = target if isinstance(target, httpx.URL) else self.url(target)
        origin = httpx.URL(self.origin)
        same_origin = (url.scheme, url.netloc) == (origin.scheme, origin.netloc)
        sent = self.auth.header(self.scope) if same_origin else None
        response: httpx.Response | None = None
        for _attempt in range(2):
            request_headers = dict(headers or {})
            if sent:
                request_headers["Authorization"] = sent
            if isinstance(content, FileSlice):  # else httpx would send it chunked
                request_headers["Content-Length"] = str(content.length)
            request = self._http.build_request(
                method, url, headers=request_headers, content=content
            )
            response = self._retrier.send(request, what)
            if response.status_code != 401 or not same_origin:
                return response
            discard_error_body(response)
            retry_with = self.auth.on_unauthorized(response, self.scope, sent)
            if retry_with is None:
                return response
            sent = retry_with
        assert response is not None
        return response

    def fail(self, response: httpx.Response, what: str, missing: str = "") -> SourceError:
        """A SourceError for an unexpected answer, saying what to do about it."""
        body = discard_error_body(response)
        detail = error_detail(body)
        status = response.status_code
        registry = self.ref.registry
        repo = self.ref.repository
        if status == 401:
            creds = self.auth.credentials
            if self.push and creds is not None:
                return SourceError(
                    f"{what}: {registry} refused to let {creds.username!r} push to {repo} "
                    f"(HTTP 401{detail}): check the credentials and that they may push there"
                )
            return SourceError(
                f"{what}: " + authentication_message(registry, creds, failed=creds is not None)
            )
        if status == 403:
            right = "push to" if self.push else "pull"
            return SourceError(
                f"{what}: access to {repo} on {registry} is denied (HTTP 403{detail}): the "
                f"credentials in use may not {right} it"
            )
        if status == 404:
            subject = missing or response.request.url.path
            return SourceError(f"{what}: {subject} not found on {registry} (HTTP 404{detail})")
        return SourceError(f"{what}: {registry} answered HTTP {status}{detail}")

    # -- blobs ------------------------------------------------------------------------------

    def blob_exists(self, digest: str, size: int | None = None) -> bool:
        """HEAD the blob: whether the registry already holds it (with that size)."""
        checked_digest(digest, "blob")
        what = f"checking blob {digest} in {self.ref.repository}"
        response = self.request("HEAD", f"blobs/{digest}", what)
        response.close()
        if response.status_code == 404:
            return False
        if response.status_code != 200:
            raise self.fail(response, what)
        length = response.headers.get("content-length")
        return size is None or length is None or int(length) == size

    def upload_blob(self, body: Body, digest: str, *, chunk_size: int | None = None) -> PushedBlob:
        """Push one blob unless the registry has it; monolithic, or chunked by `chunk_size`.

        The registry checks the digest itself when the upload closes (`PUT ?digest=`).
        """
        size = len(body) if isinstance(body, bytes) else body.length
        checked_digest(digest, "blob")
        if self.blob_exists(digest, size):
            return PushedBlob(digest, size, uploaded=False)
        what = f"uploading blob {digest} ({size} bytes) to {self.ref.name}"
        attempts = self.options.max_retries + 1
        for attempt in range(attempts):
            try:
                self._upload_once(body, digest, size, chunk_size, what)
                return PushedBlob(digest, size, uploaded=True)
            except _RestartUpload as exc:
                if attempt + 1 >= attempts:
                    raise SourceError(
                        f"{what}: {exc}; gave up after {attempts} upload sessions"
                    ) from None
                self._sleep(min(self.options.backoff_base * 2**attempt, self.options.max_backoff))
        raise AssertionError("unreachable")

    def _upload_once(
        self, body: Body, digest: str, size: int, chunk_size: int | None, what: str
    ) -> None:
        response = self.request("POST", "blobs/uploads/", what, headers={"Content-Length": "0"})
        if response.status_code != 202:
            raise self.fail(response, what, f"repository {self.ref.repository}")
        response.close()
        location = self._location(response, what)
        if chunk_size is not None and size > chunk_size:
            offset = 0
            while offset < size:
                length = min(chunk_size, size - offset)
                piece = _piece(body, offset, length)
                response = self.request(
                    "PATCH",
                    location,
                    what,
                    headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Range": f"{offset}-{offset + length - 1}",
                    },
                    content=piece,
                )
                self._check_session(response, what, (202,))
                location = self._location(response, what)
                offset += length
            closing: Body = b""
        else:
            closing = body
        response = self.request(
            "PUT",
            location.copy_merge_params({"digest": digest}),
            what,
            headers={"Content-Type": "application/octet-stream"},
            content=closing,
        )
        self._check_session(response, what, (201,))
        stored = response.headers.get("docker-content-digest")
        if stored and stored != digest:
            raise SourceError(f"{what}: the registry stored it as {stored}, not {digest}")

    def _check_session(self, response: httpx.Response, what: str, ok: tuple[int, ...]) -> None:
        if response.status_code in ok:
            response.close()
            return
        if response.status_code in (404, 416):  # session expired, or a chunk half-applied
            detail = error_detail(discard_error_body(response))
            raise _RestartUpload(f"the upload session broke (HTTP {response.status_code}{detail})")
        raise self.fail(response, what)

    def _location(self, response: httpx.Response, what: str) -> httpx.URL:
        location = response.headers.get("location")
        if not location:
            raise SourceError(f"{what}: the registry answered without an upload Location")
        return httpx.URL(str(response.request.url)).join(location)

    def open_blob(self, digest: str, offset: int, what: str) -> httpx.Response:
        """GET a blob from `offset` on (an opener for VerifyingBlobStream); 2xx or raises."""
        headers = {"Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        response = self.request(
            "GET", f"blobs/{checked_digest(digest, what)}", what, headers=headers
        )
        if not 200 <= response.status_code < 300:
            raise self.fail(response, what, f"blob {digest} of {self.ref.repository}")
        return response

    def read_blob(self, digest: str, what: str, limit: int = MAX_METADATA_BYTES) -> bytes:
        """A small blob (a config) read whole and verified against its digest."""
        response = self.open_blob(digest, 0, what)
        data = _read_limited(response, limit, what)
        check_digest(data, digest, what)
        return data

    # -- manifests --------------------------------------------------------------------------

    def head_manifest(self, target: str, accept: str, what: str) -> str | None:
        """The digest the registry announces for a tag (no body); None when it does not say."""
        response = self.request("HEAD", f"manifests/{target}", what, headers={"Accept": accept})
        response.close()
        if response.status_code != 200:
            if response.status_code == 404:
                return None
            raise self.fail(response, what)
        announced = response.headers.get("docker-content-digest", "")
        return announced if announced.startswith(("sha256:", "sha512:")) else None

    def get_manifest(
        self, target: str, accept: str, what: str, missing: str = ""
    ) -> tuple[bytes, str, str]:
        """(raw manifest, its digest, media type), verified against the digest asked for
        or, for a tag, against the registry's Docker-Content-Digest. `missing` words a 404."""
        response = self.request("GET", f"manifests/{target}", what, headers={"Accept": accept})
        if response.status_code != 200:
            kind = "manifest" if target.startswith(("sha256:", "sha512:")) else "tag"
            raise self.fail(response, what, missing or f"{kind} {target} of {self.ref.repository}")
        raw = _read_limited(response, MAX_METADATA_BYTES, what)
        announced = response.headers.get("docker-content-digest", "")
        if target.startswith(("sha256:", "sha512:")):
            check_digest(raw, target, f"{what}: manifest")
            digest = target
        elif announced.startswith(("sha256:", "sha512:")):
            check_digest(raw, announced, f"{what}: manifest")
            digest = announced
        else:
            digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        media_type = response.headers.get("content-type", "").split(";", 1)[0].strip()
        return raw, digest, media_type

    def put_manifest(self, raw: bytes, media_type: str, tag: str, what: str) -> str:
        """PUT a manifest under `tag`; returns its digest (checked against the registry's)."""
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        response = self.request(
            "PUT", f"manifests/{tag}", what, headers={"Content-Type": media_type}, content=raw
        )
        if response.status_code not in (200, 201):
            raise self.fail(response, what, f"repository {self.ref.repository}")
        response.close()
        stored = response.headers.get("docker-content-digest")
        if stored and stored != digest:
            raise SourceError(f"{what}: the registry stored the manifest as {stored}, not {digest}")
        return digest


def _piece(body: Body, offset: int, length: int) -> Body:
    if isinstance(body, bytes):
        return body[offset : offset + length]
    return FileSlice(body.path, body.offset + offset, length)


def _read_limited(response: httpx.Response, limit: int, what: str) -> bytes:
    try:
        data = bytearray()
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) > limit:
                raise SourceError(f"{what}: larger than {limit} bytes; refusing to read it")
    except httpx.TransportError as exc:
        raise SourceError(f"{what}: connection error ({exc or type(exc).__name__})") from None
    finally:
        response.close()
    return bytes(data)
