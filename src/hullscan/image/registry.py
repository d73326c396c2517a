"""Images in a registry (OCI distribution / Docker Registry HTTP API v2), read over httpx.

`open_registry_image("alpine", RegistryOptions())` resolves the reference as `docker pull`
does, authenticates (see registry_auth), fetches and verifies the manifest (choosing a
platform from an index) and the config, and returns an ImageSource whose layers stream
straight from the registry, each hashed on the way (see blobstream). Nothing is written
to disk. One httpx.Client is shared by every layer stream, so scan.index's thread pool
downloads layers in parallel over pooled connections.

Transient faults (connection errors, 5xx, 429) are retried with exponential backoff, bounded
both in count and in total waiting time, honouring Retry-After. Everything else is a
SourceError naming the image, the registry and what to try.
"""

from __future__ import annotations

import dataclasses
import email.utils
import hashlib
import json
import logging
import os
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, cast

import certifi
import httpx

from hullscan import __version__
from hullscan.errors import SourceError
from hullscan.image.blobstream import VerifyingBlobStream
from hullscan.image.registry_auth import (
    ENV_PASSWORD,
    ENV_USERNAME,
    Authenticator,
    Credentials,
    authentication_message,
    default_docker_config,
    hostname_of,
    resolve_credentials,
)
from hullscan.image.source import (
    INDEX_TYPES,
    MAX_METADATA_BYTES,
    MEDIA_DOCKER_LIST,
    MEDIA_DOCKER_MANIFEST,
    MEDIA_OCI_INDEX,
    MEDIA_OCI_MANIFEST,
    ImageSource,
    Platform,
    check_digest,
    checked_digest,
    layers_from_config,
    parse_json,
    platform_of,
    select_manifest,
)
from hullscan.model import ArtifactInfo, Layer
from hullscan.reference import DEFAULT_REGISTRY, DEFAULT_TAG, ImageReference, parse_image_reference

log = logging.getLogger(__name__)

DOCKER_HUB_API = "registry-1.docker.io"
MEDIA_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
MEDIA_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
IMAGE_MANIFEST_TYPES = frozenset({MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST})
CONFIG_TYPES = frozenset(
    {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}
)
#: Schema 1 is accepted only to recognise it and say why it is refused.
MANIFEST_ACCEPT = ", ".join(
    [
        MEDIA_OCI_INDEX,
        MEDIA_DOCKER_LIST,
        MEDIA_OCI_MANIFEST,
        MEDIA_DOCKER_MANIFEST,
        MEDIA_SCHEMA1_SIGNED,
        MEDIA_SCHEMA1,
    ]
)
SCHEMA1_MESSAGE = "schema 1 manifests are deprecated; re-push the image"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_INDEX_DEPTH = 4
_ERROR_BODY_BYTES = 64 * 1024
BLOB_MISSING_HINT = "the registry lists the image but lost this blob; re-push the image"


@dataclass(frozen=True)
class RegistryOptions:
    """How to reach registries. Credentials given here win over the environment and Docker's.

    `insecure_registries` are hosts (`host` or `host:port`) spoken to over plain HTTP;
    `max_retries` bounds the attempts per request after the first, `max_wait` the total
    seconds spent sleeping between them, `max_backoff` any single sleep (Retry-After too).
    """

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_cert: Path | None = None
    insecure_registries: tuple[str, ...] = ()
    platform: Platform | None = None
    docker_config: Path | None = field(default_factory=default_docker_config)
    timeout: float = 30.0
    max_retries: int = 4
    backoff_base: float = 0.5
    max_backoff: float = 30.0
    max_wait: float = 120.0

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={'***' if name == 'password' and value else value!r}"
            for name, value in vars(self).items()
        )
        return f"RegistryOptions({shown})"


def api_host(registry: str) -> str:
    """The host serving the v2 API: Docker Hub's is not docker.io."""
    return DOCKER_HUB_API if registry == DEFAULT_REGISTRY else registry


def is_insecure(registry: str, insecure: tuple[str, ...]) -> bool:
    """Whether `registry` was listed for plain HTTP, as `host`, `host:port` or a URL."""
    host = api_host(registry).lower()
    bare = host if host.endswith("]") else host.rsplit(":", 1)[0]
    listed = {hostname_of(entry) for entry in insecure}
    return host in listed or bare in listed


def normalized_reference(ref: ImageReference) -> str:
    """`docker.io/library/alpine:latest`: the default tag added when neither is given."""
    if not ref.tag and not ref.digest:
        return str(ref._replace(tag=DEFAULT_TAG))
    return str(ref)


def options_from_env(
    options: RegistryOptions | None = None, env: Mapping[str, str] | None = None
) -> RegistryOptions:
    """`options` with HULLSCAN_USERNAME/HULLSCAN_PASSWORD filled in when it has no credentials.

    open_registry_image applies the same rule itself; this is for callers that want to show
    or pass on the options in effect.
    """
    base = options or RegistryOptions()
    env = os.environ if env is None else env
    if base.username or base.password:
        return base
    return dataclasses.replace(
        base, username=env.get(ENV_USERNAME) or None, password=env.get(ENV_PASSWORD) or None
    )


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP-date), None if absent."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class Retrier:
    """Sends requests again after transient faults; the budget is per request."""

    def __init__(
        self, http: httpx.Client, options: RegistryOptions, sleep: Callable[[float], None]
    ) -> None:
        self._http = http
        self._options = options
        self._sleep = sleep

    def send(self, request: httpx.Request, what: str) -> httpx.Response:
        """The response (streaming, caller closes) to the last attempt; raises when exhausted."""
        waited = 0.0
        attempt = 0
        while True:
            failure: str
            delay = self._options.backoff_base * (2**attempt)
            try:
                response = self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                if _tls_problem(exc):
                    raise SourceError(_tls_message(request.url, exc)) from None
                failure = _describe_transport_error(exc)
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                failure = f"HTTP {response.status_code}"
                asked = retry_after_seconds(response.headers.get("retry-after"))
                if asked is not None:
                    delay = asked
                response.close()
            delay = min(delay, self._options.max_backoff)
            if attempt >= self._options.max_retries or waited + delay > self._options.max_wait:
                raise SourceError(
                    f"{what}: {failure} from {request.url.host}, still failing after "
                    f"{attempt + 1} attempts"
                )
            log.info("%s: %s; retrying in %.1f s", what, failure, delay)
            self._sleep(delay)
            waited += delay
            attempt += 1


def _tls_problem(exc: httpx.TransportError) -> bool:
    """An untrusted certificate or TLS spoken to plain HTTP: retrying cannot help."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        cause = cause.__cause__ or cause.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc) or "WRONG_VERSION_NUMBER" in str(exc)


def _tls_message(url: httpx.URL, exc: httpx.TransportError) -> str:
    host = url.netloc.decode("ascii", "replace")
    if "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return (
            f"the TLS certificate of {host} is not trusted ({exc}): pass --ca-cert FILE with "
            "the CA that signed it"
        )
    return (
        f"TLS handshake with {host} failed ({exc}): if the registry speaks plain HTTP, "
        f"pass --insecure-registry {host}"
    )


def _describe_transport_error(exc: httpx.TransportError) -> str:
    detail = str(exc) or type(exc).__name__
    return f"connection error ({detail})"


def ssl_context(ca_cert: Path | None) -> ssl.SSLContext:
    """Public CAs plus, optionally, the registry's own CA (a file, or a dir of .crt/.pem)."""
    context = ssl.create_default_context(cafile=certifi.where())
    if ca_cert is None:
        return context
    files = (
        sorted(ca_cert.glob("*.crt")) + sorted(ca_cert.glob("*.pem"))
        if ca_cert.is_dir()
        else [ca_cert]
    )
    if not files:
        raise SourceError(f"--ca-cert {ca_cert}: no .crt or .pem file in that directory")
    for path in files:
        try:
            context.load_verify_locations(cafile=str(path))
        except (OSError, ssl.SSLError) as exc:
            raise SourceError(f"--ca-cert {path}: not a readable PEM certificate ({exc})") from None
    return context


class RegistryClient:
    """One repository of one registry: authenticated, retried GETs. Thread-safe."""

    def __init__(
        self,
        ref: ImageReference,
        options: RegistryOptions,
        credentials: Credentials | None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.ref = ref
        self.options = options
        insecure = is_insecure(ref.registry, options.insecure_registries)
        self.base_url = f"{'http' if insecure else 'https'}://{api_host(ref.registry)}/v2/"
        self.scope = f"repository:{ref.repository}:pull"
        self._http = httpx.Client(
            verify=ssl_context(options.ca_cert),
            timeout=httpx.Timeout(options.timeout),
            follow_redirects=True,  # httpx drops Authorization when leaving the origin
            headers={"User-Agent": f"hullscan/{__version__}"},
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )
        self._retrier = Retrier(self._http, options, sleep)
        self.auth = Authenticator(
            ref.registry,
            credentials,
            lambda request: self._retrier.send(request, f"token request for {ref.registry}"),
            registry_is_https=not insecure,
        )
        self._closed = threading.Event()

    def __repr__(self) -> str:
        return f"RegistryClient({self.base_url}{self.ref.repository}, auth={self.auth!r})"

    def get(
        self, path: str, headers: dict[str, str], what: str, missing: tuple[str, str] = ("", "")
    ) -> httpx.Response:
        """GET `<repository>/<path>`: a streaming 2xx response, else a SourceError.

        `missing` names what a 404 means is absent and what the user should check.
        """
        url = f"{self.base_url}{self.ref.repository}/{path}"
        sent = self.auth.header(self.scope)
        body = b""
        for _attempt in range(2):
            request_headers = dict(headers)
            if sent:
                request_headers["Authorization"] = sent
            request = self._http.build_request("GET", url, headers=request_headers)
            response = self._retrier.send(request, what)
            if response.status_code != 401:
                break
            body = discard_error_body(response)
            retry_with = self.auth.on_unauthorized(response, self.scope, sent)
            if retry_with is None:
                break
            sent = retry_with
        if 200 <= response.status_code < 300:
            return response
        if response.status_code != 401:
            body = discard_error_body(response)
        raise SourceError(self._status_message(response, body, what, missing))

    def _status_message(
        self, response: httpx.Response, body: bytes, what: str, missing: tuple[str, str]
    ) -> str:
        status = response.status_code
        registry = self.ref.registry
        detail = error_detail(body)
        if status == 401:
            creds = self.auth.credentials
            return f"{what}: " + authentication_message(registry, creds, failed=creds is not None)
        if status == 403:
            return (
                f"{what}: access to {self.ref.repository} on {registry} is denied (HTTP 403"
                f"{detail}): the credentials in use lack pull permission, or the registry "
                "blocks this client"
            )
        if status == 404:
            subject, hint = missing
            hint = f": {hint}" if hint else ""
            subject = subject or path_of(response)
            return f"{what}: {subject} not found on {registry} (HTTP 404{detail}){hint}"
        return f"{what}: {registry} answered HTTP {status}{detail}"

    def read_small(
        self, path: str, headers: dict[str, str], what: str, missing: tuple[str, str] = ("", "")
    ) -> tuple[bytes, httpx.Headers]:
        """GET a manifest or config whole, within the metadata size bound."""
        response = self.get(path, headers, what, missing)
        try:
            declared = int(response.headers.get("content-length", "0") or 0)
            if declared > MAX_METADATA_BYTES:
                raise SourceError(f"{what} is implausibly large ({declared} bytes); refusing")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_METADATA_BYTES:
                    raise SourceError(f"{what} is implausibly large; refusing to read it")
        except httpx.TransportError as exc:
            raise SourceError(f"{what}: {_describe_transport_error(exc)}") from None
        finally:
            response.close()
        return bytes(body), response.headers

    def open_blob(self, digest: str, offset: int, what: str) -> httpx.Response:
        """GET a blob from `offset` on; the caller checks 200 vs 206."""
        headers = {"Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        return self.get(f"blobs/{digest}", headers, what, ("the blob", BLOB_MISSING_HINT))

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._http.close()


def path_of(response: httpx.Response) -> str:
    return response.request.url.path


def discard_error_body(response: httpx.Response) -> bytes:
    """Keep the start of an error body (for its message) and release the connection."""
    body = bytearray()
    try:
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) >= _ERROR_BODY_BYTES:
                break
    except (httpx.HTTPError, httpx.StreamError):
        pass
    finally:
        response.close()
    return bytes(body[:_ERROR_BODY_BYTES])


def error_detail(body: bytes) -> str:
    """`: MANIFEST_UNKNOWN manifest unknown` from a distribution error body, if any."""
    try:
        first = json.loads(body)["errors"][0]
        text = f"{first.get('code', '')} {first.get('message', '')}".strip()
    except Exception:  # the body is free-form; it only decorates the message
        return ""
    text = "".join(c if c.isprintable() else " " for c in text)[:200]
    return f": {text}" if text else ""


class RegistryImage(ImageSource):
    """An image in a registry; layers stream from it, verified against their digests."""

    def __init__(self, client: RegistryClient, artifact: ArtifactInfo) -> None:
        self._client = client
        self._artifact = artifact

    @property
    def artifact(self) -> ArtifactInfo:
        return self._artifact

    def open_layer(self, layer: Layer) -> BinaryIO:
        what = f"layer blob {layer.digest} of {self._artifact.reference}"
        stream = VerifyingBlobStream(
            lambda offset: self._client.open_blob(layer.digest, offset, what),
            layer.digest,
            layer.size,
            what,
            max_resumes=self._client.options.max_retries,
        )
        return cast(BinaryIO, stream)

    def close(self) -> None:
        self._client.close()


def open_registry_image(
    reference: str,
    options: RegistryOptions | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> RegistryImage:
    """Resolve `reference` in its registry and return the image, ready to stream layers.

    Credentials: options.username/password, else HULLSCAN_USERNAME/HULLSCAN_PASSWORD from
    `env` (default os.environ), else the Docker config's helpers and auths.
    """
    options = options or RegistryOptions()
    ref = parse_image_reference(reference)
    credentials = resolve_credentials(
        ref.registry, options.username, options.password, options.docker_config, env
    )
    client = RegistryClient(ref, options, credentials)
    try:
        artifact = _describe(client, ref, reference, options.platform)
    except BaseException:
        client.close()
        raise
    return RegistryImage(client, artifact)


def _describe(
    client: RegistryClient, ref: ImageReference, typed: str, platform: Platform | None
) -> ArtifactInfo:
    name = normalized_reference(ref)
    what = f"image {name}"
    manifest = _fetch_manifest(client, ref.pull_reference, what, by_tag=not ref.digest)
    for _depth in range(_MAX_INDEX_DEPTH):
        if not manifest.is_index:
            break
        descriptor = select_manifest(manifest.body.get("manifests") or [], platform, what)
        digest = checked_digest(descriptor.get("digest"), f"{what}: index entry")
        manifest = _fetch_manifest(client, digest, what, by_tag=False)
        _check_size(manifest.raw, descriptor, f"{what}: manifest {digest}")
    if manifest.media_type not in IMAGE_MANIFEST_TYPES and not (
        "config" in manifest.body and "layers" in manifest.body
    ):
        raise SourceError(
            f"{what}: unsupported manifest type {manifest.media_type!r} on {ref.registry}"
        )
    config_desc = manifest.body.get("config")
    layer_descs = manifest.body.get("layers")
    if not isinstance(config_desc, dict) or not isinstance(layer_descs, list):
        raise SourceError(f"{what}: the image manifest lacks its config or layers")
    config_digest, config = _fetch_config(client, config_desc, what)
    if platform is not None and not platform.matches(config):
        raise SourceError(
            f"{what} is for {platform_of(config)}, not the requested platform {platform}"
        )
    descs = [d for d in layer_descs if isinstance(d, dict)]
    layers = layers_from_config(
        config,
        [checked_digest(d.get("digest"), f"{what}: layer descriptor") for d in descs],
        [str(d.get("mediaType", "")) for d in descs],
        [_size(d, what) for d in descs],
        what,
    )
    return ArtifactInfo(
        reference=typed,
        kind="registry",
        image_id=config_digest,
        manifest_digest=manifest.digest,
        repo_tags=(name,),
        platform=platform_of(config),
        created=str(config.get("created", "")),
        layers=layers,
    )


@dataclass(frozen=True)
class _Manifest:
    """A fetched, digest-checked manifest or index."""

    raw: bytes
    digest: str
    media_type: str
    body: dict[str, Any]

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES or (
            "manifests" in self.body and "layers" not in self.body
        )


def _fetch_manifest(client: RegistryClient, target: str, what: str, *, by_tag: bool) -> _Manifest:
    """GET a manifest by tag or digest; verify its digest; refuse schema 1."""
    missing = (
        f"{'tag' if by_tag else 'manifest'} {target} of {client.ref.repository}",
        "does it exist? is the name right?",
    )
    raw, headers = client.read_small(
        f"manifests/{target}", {"Accept": MANIFEST_ACCEPT}, what, missing
    )
    if by_tag:
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        announced = headers.get("docker-content-digest", "")
        if announced.startswith(("sha256:", "sha512:")):
            check_digest(raw, announced, f"{what}: manifest")
            digest = announced
    else:
        check_digest(raw, target, f"{what}: manifest")
        digest = target
    declared = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if declared in (MEDIA_SCHEMA1, MEDIA_SCHEMA1_SIGNED):
        raise SourceError(f"{what}: {SCHEMA1_MESSAGE}")
    body = parse_json(raw, f"{what}: manifest")
    if not isinstance(body, dict):
        raise SourceError(f"{what}: the manifest is not a JSON object")
    if body.get("schemaVersion") == 1:
        raise SourceError(f"{what}: {SCHEMA1_MESSAGE}")
    generic = ("", "application/json", "application/octet-stream", "text/plain")
    media_type = str(body.get("mediaType", "")) if declared in generic else declared
    return _Manifest(raw, digest, media_type, body)


def _fetch_config(
    client: RegistryClient, descriptor: dict[str, Any], what: str
) -> tuple[str, dict[str, Any]]:
    """The image config blob, verified; refuses artifacts that are not container images."""
    config_type = str(descriptor.get("mediaType", ""))
    if config_type and config_type not in CONFIG_TYPES:
        raise SourceError(
            f"{what} is not a container image (its config is {config_type!r}): an artifact "
            "such as a Helm chart or a signature?"
        )
    digest = checked_digest(descriptor.get("digest"), f"{what}: config descriptor")
    config_what = f"{what}: image config {digest}"
    raw, _headers = client.read_small(
        f"blobs/{digest}", {}, config_what, ("the config blob", BLOB_MISSING_HINT)
    )
    check_digest(raw, digest, config_what)
    _check_size(raw, descriptor, config_what)
    config = parse_json(raw, config_what)
    if not isinstance(config, dict):
        raise SourceError(f"{config_what} is not a JSON object")
    return digest, config


def _check_size(data: bytes, descriptor: dict[str, Any], what: str) -> None:
    size = descriptor.get("size")
    if isinstance(size, int) and size != len(data):
        raise SourceError(f"{what}: size mismatch: got {len(data)} bytes, descriptor says {size}")


def _size(descriptor: dict[str, Any], what: str) -> int:
    size = descriptor.get("size")
    if not isinstance(size, int) or size < 0:
        raise SourceError(f"{what}: layer {descriptor.get('digest')} has no valid size")
    return size
