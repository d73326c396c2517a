"""The bearer-token flow against docker-registry configured with `auth: token` and a test realm.

The registry verifies the JWTs our token server signs (RS256, x5c chain checked against its
rootcertbundle), so a pull only succeeds when the client really followed the challenge.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from hullscan import scan
from hullscan.errors import SourceError
from hullscan.image.registry import RegistryOptions, open_registry_image
from tests.image.registry.conftest import TokenEnv
from tests.image.registry.servers import PASSWORD, USER

NO_ENV: dict[str, str] = {}


@pytest.fixture
def tokens(token_env: TokenEnv) -> Iterator[TokenEnv]:
    token_env.tokens.policy.requests.clear()
    yield token_env
    token_env.tokens.policy.field_name = "token"


def opts(env: TokenEnv, **kw: object) -> RegistryOptions:
    settings: dict[str, object] = {"docker_config": None, **kw}
    return RegistryOptions(ca_cert=env.pki.cert, backoff_base=0.01, **settings)  # type: ignore[arg-type]


def test_anonymous_pull_takes_one_token_for_the_whole_scan(tokens: TokenEnv) -> None:
    image = open_registry_image(f"{tokens.host}/public/sample:1", opts(tokens), env=NO_ENV)
    with image:
        inventory = scan.index(image, workers=3)
        assert image._client.auth.token_requests == 1
    assert inventory.packages
    (request,) = tokens.tokens.policy.requests
    assert request["user"] is None
    assert request["scope"] == ["repository:public/sample:pull"]
    assert request["service"] == [tokens.tokens.policy.service]


def test_private_repository_without_credentials_asks_for_them(tokens: TokenEnv) -> None:
    with pytest.raises(
        SourceError, match=r"authentication required for 127\.0\.0\.1:\d+.*docker login"
    ):
        open_registry_image(f"{tokens.host}/private/sample:1", opts(tokens), env=NO_ENV)


def test_credentials_are_exchanged_for_a_token(tokens: TokenEnv) -> None:
    creds = opts(tokens, username=USER, password=PASSWORD)
    with open_registry_image(f"{tokens.host}/private/sample:1", creds, env=NO_ENV) as image:
        assert scan.index(image).packages
    assert [r["user"] for r in tokens.tokens.policy.requests] == [USER]


def test_wrong_credentials_at_the_token_server_is_authentication_failed(tokens: TokenEnv) -> None:
    creds = opts(tokens, username=USER, password="nope")
    with pytest.raises(SourceError, match=rf"authentication failed for .* as '{USER}'") as caught:
        open_registry_image(f"{tokens.host}/private/sample:1", creds, env=NO_ENV)
    assert "nope" not in str(caught.value)


def test_access_token_field_of_oauth2_servers(tokens: TokenEnv) -> None:
    tokens.tokens.policy.field_name = "access_token"
    with open_registry_image(f"{tokens.host}/public/sample:1", opts(tokens), env=NO_ENV) as image:
        assert image.artifact.layers


def test_identity_token_from_docker_config_uses_the_refresh_grant(
    tokens: TokenEnv, tmp_path: Path
) -> None:
    config = tmp_path / "config.json"
    refresh = tokens.tokens.policy.refresh_token
    config.write_text(json.dumps({"auths": {tokens.host: {"auth": "", "identitytoken": refresh}}}))
    with open_registry_image(
        f"{tokens.host}/private/sample:1", opts(tokens, docker_config=config), env=NO_ENV
    ) as image:
        assert image.artifact.layers
    (request,) = tokens.tokens.policy.requests
    assert request["method"] == "POST"
    assert request["grant_type"] == ["refresh_token"]
    assert request["scope"] == ["repository:private/sample:pull"]


def test_docker_config_auth_entry_reaches_the_token_server(
    tokens: TokenEnv, tmp_path: Path
) -> None:
    config = tmp_path / "config.json"
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    config.write_text(json.dumps({"auths": {f"https://{tokens.host}": {"auth": auth}}}))
    with open_registry_image(
        f"{tokens.host}/private/sample:1", opts(tokens, docker_config=config), env=NO_ENV
    ) as image:
        assert image.artifact.layers
    assert [r["user"] for r in tokens.tokens.policy.requests] == [USER]
