"""Fixtures for DB distribution: small real DBs, a counting HTTP server, real registries.

The registries are Debian's docker-registry started with tests/image/registry/servers.py
(TLS with a throwaway CA, bcrypt htpasswd; and one with `auth: token` behind the test
token server). They hold no images: the DB tests only push and pull their own artifacts,
so skopeo is not needed and start-up takes well under a second.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hullscan.db.builder import build_db
from hullscan.image.registry import RegistryOptions
from tests.db.helpers import ListFeed, advisory
from tests.image.registry.servers import (
    PASSWORD,
    REGISTRY_BIN,
    USER,
    Pki,
    Registry,
    TokenPolicy,
    TokenServer,
    htpasswd_file,
)

from .servers import CountingServer

#: build(path, n, tag) -> path: a real DB with n advisories; `tag` makes its content unique.
BuildDb = Callable[..., Path]


@pytest.fixture(scope="session")
def _built_dbs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[int, str], Path]:
    return {}


@pytest.fixture
def make_db(
    tmp_path_factory: pytest.TempPathFactory, _built_dbs: dict[tuple[int, str], Path]
) -> BuildDb:
    """Real DBs through the real builder, from in-memory records; each (n, tag) is built once
    per session and copied into place the way a build swaps it in (new file, rename)."""

    def build(path: Path, n: int = 50, tag: str = "a") -> Path:
        template = _built_dbs.get((n, tag))
        if template is None:
            work = tmp_path_factory.mktemp(f"db-{n}-{tag}")
            feed_file = work / "feed.txt"
            feed_file.write_text("records are in memory\n")
            records = [advisory(f"pkg{i}-{tag}", f"CVE-2024-{i:05d}") for i in range(n)]
            template = work / "hullscan.db"
            build_db(template, [(ListFeed(records), str(feed_file))])
            _built_dbs[(n, tag)] = template
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(path.name + ".copy")
        shutil.copyfile(template, staging)
        os.replace(staging, path)
        return path

    return build


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[CountingServer]:
    root = tmp_path / "served"
    root.mkdir()
    server = CountingServer(root)
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class RegistryEnv:
    registry: Registry
    pki: Pki
    tokens: TokenServer | None = None

    @property
    def host(self) -> str:
        return self.registry.host

    def options(self, *, user: bool = True, **kw: object) -> RegistryOptions:
        creds: dict[str, object] = {"username": USER, "password": PASSWORD} if user else {}
        settings: dict[str, object] = {
            "ca_cert": self.pki.cert,
            "docker_config": None,
            "backoff_base": 0.01,
            **creds,
            **kw,
        }
        return RegistryOptions(**settings)  # type: ignore[arg-type]


def _require() -> None:
    missing = [t for t in (REGISTRY_BIN, "htpasswd", "openssl") if not shutil.which(t)]
    if missing:
        pytest.fail(
            f"DB distribution tests need {', '.join(missing)} (apt-get install docker-registry "
            "apache2-utils openssl)"
        )


@pytest.fixture(scope="session")
def dist_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    _require()
    return Pki.create(tmp_path_factory.mktemp("dist-pki"))


@pytest.fixture(scope="session")
def basic_registry(
    tmp_path_factory: pytest.TempPathFactory, dist_pki: Pki
) -> Iterator[RegistryEnv]:
    """TLS + htpasswd: every request needs the test user's credentials."""
    root = tmp_path_factory.mktemp("dist-registry")
    auth = f"""auth:
  htpasswd:
    realm: hullscan-test
    path: {htpasswd_file(root / "htpasswd")}
"""
    registry = Registry(root / "registry", dist_pki, auth)
    registry.start()
    try:
        yield RegistryEnv(registry, dist_pki)
    finally:
        registry.stop()


@pytest.fixture(scope="session")
def token_registry(
    tmp_path_factory: pytest.TempPathFactory, dist_pki: Pki
) -> Iterator[RegistryEnv]:
    """Bearer tokens from the test realm: anonymous pull of `public/*` only, the user may push."""
    root = tmp_path_factory.mktemp("dist-token-registry")
    tokens = TokenServer(dist_pki, TokenPolicy(public={"public/hullscan-db"}))
    registry = Registry(root / "registry", dist_pki, tokens.registry_auth_yaml())
    try:
        registry.start()
        yield RegistryEnv(registry, dist_pki, tokens)
    finally:
        registry.stop()
        tokens.stop()
