"""Faults between hullscan and a real registry: a loopback proxy drops, delays and corrupts.

The proxy (tests/image/registry/servers.py) forwards to the TLS + htpasswd docker-registry of
the session and misbehaves on chosen requests; the client reaches it over plain HTTP through
`insecure_registries`.
"""

from __future__ import annotations

import json
import time

import pytest

from hullscan import scan
from hullscan.errors import SourceError
from hullscan.image.archive import open_archive
from hullscan.image.registry import SCHEMA1_MESSAGE, RegistryOptions, open_registry_image
from hullscan.model import Inventory
from tests.image.registry.conftest import RAW_SAMPLE, SAMPLE, BasicEnv
from tests.image.registry.servers import (
    PASSWORD,
    USER,
    Fault,
    FaultProxy,
    ProxyAction,
    ProxyRequest,
)

NO_ENV: dict[str, str] = {}


def opts(proxy: FaultProxy, **kw: object) -> RegistryOptions:
    return RegistryOptions(
        username=USER,
        password=PASSWORD,
        insecure_registries=(proxy.host,),
        docker_config=None,
        backoff_base=0.01,
        **kw,  # type: ignore[arg-type]
    )


def on(kind: str, action: ProxyAction, *, index: int | None = None) -> Fault:
    """A fault for GETs of manifests or blobs (`kind`), optionally only the index-th blob."""
    seen: list[str] = []

    def fault(request: ProxyRequest) -> ProxyAction | None:
        if request.method != "GET" or f"/{kind}/" not in request.path:
            return None
        if index is not None:
            if request.path not in seen:
                seen.append(request.path)
            if seen.index(request.path) != index:
                return None
        return action

    return fault


def layer_blob(request: ProxyRequest, digest: str) -> bool:
    return request.method == "GET" and request.path.endswith(f"/blobs/{digest}")


def expected_inventory(env: BasicEnv) -> Inventory:
    with open_archive(env.archive) as archive:
        return scan.index(archive)


def scan_through(proxy: FaultProxy, ref: str = SAMPLE, **kw: object) -> Inventory:
    with open_registry_image(f"{proxy.host}/{ref}", opts(proxy, **kw), env=NO_ENV) as image:
        return scan.index(image, workers=1)


def packages(inventory: Inventory) -> list[tuple[str, str]]:
    return sorted((p.name, p.version) for p in inventory.packages)


def test_500_then_success_is_retried(proxy: FaultProxy, basic_env: BasicEnv) -> None:
    proxy.add(on("manifests", ProxyAction(status=500)), times=2)
    inventory = scan_through(proxy)
    assert packages(inventory) == packages(expected_inventory(basic_env))
    manifest_gets = [r for r in proxy.seen if "/manifests/" in r.path]
    assert len(manifest_gets) >= 3


def test_429_honours_retry_after(proxy: FaultProxy) -> None:
    proxy.add(on("blobs", ProxyAction(status=429, headers={"Retry-After": "1"})), times=1)
    started = time.monotonic()
    scan_through(proxy)
    assert time.monotonic() - started >= 1.0


def test_persistent_503_gives_up_after_bounded_attempts(proxy: FaultProxy) -> None:
    proxy.add(on("manifests", ProxyAction(status=503)), times=100)
    with pytest.raises(SourceError, match=r"HTTP 503 from 127\.0\.0\.1.*after 3 attempts"):
        scan_through(proxy, max_retries=2)


def test_dropped_connection_mid_blob_resumes_with_range(
    proxy: FaultProxy, basic_env: BasicEnv
) -> None:
    layer = expected_inventory(basic_env).artifact.layers[0]
    half = layer.size // 2
    proxy.add(lambda r: ProxyAction(drop_after=half) if layer_blob(r, layer.digest) else None)
    inventory = scan_through(proxy)
    assert packages(inventory) == packages(expected_inventory(basic_env))
    ranges = [r.headers.get("Range") for r in proxy.seen if layer_blob(r, layer.digest)]
    assert ranges == [None, f"bytes={half}-"]


def test_drop_without_range_support_after_bytes_were_handed_out_fails(
    proxy: FaultProxy, basic_env: BasicEnv
) -> None:
    layer = expected_inventory(basic_env).artifact.layers[0]
    proxy.add(lambda r: ProxyAction(drop_after=100) if layer_blob(r, layer.digest) else None)
    proxy.add(lambda r: ProxyAction(strip_range=True) if layer_blob(r, layer.digest) else None)
    with pytest.raises(SourceError, match=r"cannot resume the download"):
        scan_through(proxy)


def test_drop_before_any_byte_restarts_the_blob(proxy: FaultProxy, basic_env: BasicEnv) -> None:
    layer = expected_inventory(basic_env).artifact.layers[1]
    proxy.add(lambda r: ProxyAction(drop_after=0) if layer_blob(r, layer.digest) else None)
    proxy.add(lambda r: ProxyAction(strip_range=True) if layer_blob(r, layer.digest) else None)
    assert packages(scan_through(proxy)) == packages(expected_inventory(basic_env))
    ranges = [r.headers.get("Range") for r in proxy.seen if layer_blob(r, layer.digest)]
    assert ranges == [None, None]


def test_corrupted_blob_is_a_digest_mismatch(proxy: FaultProxy) -> None:
    proxy.add(on("blobs", ProxyAction(corrupt=True), index=1), times=10)  # config is index 0
    with open_registry_image(f"{proxy.host}/{SAMPLE}", opts(proxy), env=NO_ENV) as image:
        layer = image.artifact.layers[0]
        with image.open_layer(layer) as blob, pytest.raises(SourceError) as caught:
            blob.read()
    assert "digest mismatch" in str(caught.value)
    assert layer.digest in str(caught.value)


def test_corrupted_uncompressed_layer_fails_the_scan_with_digest_mismatch(
    proxy: FaultProxy,
) -> None:
    def flip_first_byte(request: ProxyRequest) -> ProxyAction | None:
        # renames the first tar entry: still a valid tar, so only the digest can tell
        return ProxyAction(corrupt=True) if "/blobs/" in request.path else None

    with open_registry_image(f"{proxy.host}/{RAW_SAMPLE}", opts(proxy), env=NO_ENV) as image:
        proxy.add(flip_first_byte, times=10)
        with pytest.raises(SourceError, match=r"digest mismatch"):
            scan.index(image, workers=1)


def test_corrupted_config_is_refused(proxy: FaultProxy) -> None:
    proxy.add(on("blobs", ProxyAction(corrupt=True), index=0), times=10)
    with pytest.raises(SourceError, match=r"image config sha256:.*digest mismatch"):
        scan_through(proxy)


def test_manifest_that_does_not_match_its_announced_digest(proxy: FaultProxy) -> None:
    proxy.add(on("manifests", ProxyAction(corrupt=True)), times=10)
    with pytest.raises(SourceError, match=r"manifest: digest mismatch"):
        scan_through(proxy)


def test_manifest_fetched_by_digest_is_verified(proxy: FaultProxy, basic_env: BasicEnv) -> None:
    digest = expected_inventory(basic_env).artifact.manifest_digest
    proxy.add(on("manifests", ProxyAction(corrupt=True)), times=10)
    with pytest.raises(SourceError, match=r"digest mismatch"):
        scan_through(proxy, ref=f"sample@{digest}")


def test_schema1_manifest_is_refused_with_advice(proxy: FaultProxy) -> None:
    body = json.dumps({"schemaVersion": 1, "name": "sample", "tag": "1", "fsLayers": []}).encode()
    headers = {"Content-Type": "application/vnd.docker.distribution.manifest.v1+prettyjws"}
    proxy.add(on("manifests", ProxyAction(status=200, headers=headers, body=body)))
    with pytest.raises(SourceError, match=SCHEMA1_MESSAGE):
        scan_through(proxy)


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (401, r"authentication failed for 127\.0\.0\.1:\d+ as 'hulltest'"),
        (403, r"access to sample on 127\.0\.0\.1:\d+ is denied \(HTTP 403"),
        (404, r"tag 1 of sample not found on 127\.0\.0\.1:\d+.*is the name right"),
    ],
)
def test_status_errors_are_clear(proxy: FaultProxy, status: int, message: str) -> None:
    proxy.add(on("manifests", ProxyAction(status=status)), times=10)
    with pytest.raises(SourceError, match=message):
        scan_through(proxy)


def test_missing_blob_names_it(proxy: FaultProxy) -> None:
    proxy.add(on("blobs", ProxyAction(status=404), index=1), times=10)
    with pytest.raises(SourceError, match=r"layer blob sha256:\w+ .*not found.*re-push"):
        scan_through(proxy)
