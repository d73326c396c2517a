"""A real registry per test session: Debian's docker-registry with TLS, fed by skopeo."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.image.registry.images import MULTI_TAG, multiplatform_layout, sample_archive
from tests.image.registry.servers import (
    REGISTRY_BIN,
    FaultProxy,
    Pki,
    Registry,
    TokenPolicy,
    TokenServer,
    htpasswd_file,
)

SAMPLE = "sample:1"
RAW_SAMPLE = "sample-raw:1"  # uncompressed layers: a flipped byte reaches the digest check
MULTI = f"multi:{MULTI_TAG}"


def _require_tools() -> None:
    missing = [t for t in (REGISTRY_BIN, "skopeo", "htpasswd", "openssl") if not shutil.which(t)]
    if missing:
        pytest.fail(
            f"registry tests need {', '.join(missing)} (apt-get install docker-registry "
            "skopeo apache2-utils openssl)"
        )


@dataclass(frozen=True)
class BasicEnv:
    """A TLS + htpasswd registry holding `sample:1` and the two-platform `multi:multi`."""

    registry: Registry
    pki: Pki
    archive: Path
    platforms: dict[str, str]  # platform -> manifest digest of `multi`

    @property
    def host(self) -> str:
        return self.registry.host


@dataclass(frozen=True)
class TokenEnv:
    """A token-auth registry: `public/sample:1` pullable anonymously, `private/sample:1` not."""

    registry: Registry
    tokens: TokenServer
    pki: Pki

    @property
    def host(self) -> str:
        return self.registry.host


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    _require_tools()
    return Pki.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def basic_env(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[BasicEnv]:
    root = tmp_path_factory.mktemp("registry-basic")
    auth = f"""auth:
  htpasswd:
    realm: hullscan-test
    path: {htpasswd_file(root / "htpasswd")}
"""
    registry = Registry(root / "registry", pki, auth)
    registry.start()
    try:
        archive = sample_archive(root)
        raw = sample_archive(root / "raw", compression="none")
        layout, platforms = multiplatform_layout(root)
        with ThreadPoolExecutor(3) as pool:  # skopeo runs are the slow part of the setup
            pushes = [
                pool.submit(registry.push, f"oci-archive:{archive}", SAMPLE),
                pool.submit(registry.push, f"oci-archive:{raw}", RAW_SAMPLE),
                pool.submit(registry.push, f"oci:{layout}:{MULTI_TAG}", MULTI, all_images=True),
            ]
            for push in pushes:
                push.result()
        yield BasicEnv(registry, pki, archive, platforms)
    finally:
        registry.stop()


@pytest.fixture(scope="session")
def token_env(
    tmp_path_factory: pytest.TempPathFactory, pki: Pki, basic_env: BasicEnv
) -> Iterator[TokenEnv]:
    root = tmp_path_factory.mktemp("registry-token")
    tokens = TokenServer(pki, TokenPolicy(public={"public/sample"}))
    registry = Registry(root / "registry", pki, tokens.registry_auth_yaml())
    try:
        registry.start()
        with ThreadPoolExecutor(2) as pool:
            source = f"oci-archive:{basic_env.archive}"
            for done in [
                pool.submit(registry.push, source, r)
                for r in ("public/sample:1", "private/sample:1")
            ]:
                done.result()
        tokens.policy.requests.clear()
        yield TokenEnv(registry, tokens, pki)
    finally:
        registry.stop()
        tokens.stop()


@pytest.fixture
def proxy(basic_env: BasicEnv) -> Iterator[FaultProxy]:
    """A plain-HTTP fault proxy in front of the basic registry, fresh for each test."""
    front = FaultProxy(basic_env.host, basic_env.pki.cert)
    try:
        yield front
    finally:
        front.stop()
