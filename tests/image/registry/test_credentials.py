"""Where credentials come from: options, environment, Docker's config.json and its helpers."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from hullscan.errors import SourceError
from hullscan.image.registry import RegistryOptions, open_registry_image, options_from_env
from hullscan.image.registry_auth import (
    DOCKER_HUB_SERVER,
    Credentials,
    default_docker_config,
    hostname_of,
    resolve_credentials,
)
from tests.image.registry.conftest import SAMPLE, BasicEnv
from tests.image.registry.servers import PASSWORD, USER

NO_ENV: dict[str, str] = {}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def write_config(path: Path, config: dict[str, object]) -> Path:
    path.write_text(json.dumps(config))
    return path


def install_helper(bin_dir: Path, name: str, answer: str, exit_code: int = 0) -> Path:
    """A docker-credential-<name> that records the server it was asked about."""
    bin_dir.mkdir(exist_ok=True)
    log = bin_dir / f"{name}.asked"
    script = bin_dir / f"docker-credential-{name}"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"assert sys.argv[1:] == ['get'], sys.argv\n"
        f"open({str(log)!r}, 'a').write(sys.stdin.read() + '\\n')\n"
        f"sys.stdout.write({answer!r})\n"
        f"sys.exit({exit_code})\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return log


@pytest.mark.parametrize(
    "key",
    [
        "127.0.0.1:5000",
        "https://127.0.0.1:5000",
        "https://127.0.0.1:5000/v2/",
        "http://127.0.0.1:5000",
    ],
)
def test_auths_keys_match_like_docker(tmp_path: Path, key: str) -> None:
    config = write_config(tmp_path / "c.json", {"auths": {key: {"auth": b64("u:p:w")}}})
    creds = resolve_credentials("127.0.0.1:5000", None, None, config, NO_ENV)
    assert creds is not None
    assert (creds.username, creds.password) == ("u", "p:w")
    assert resolve_credentials("127.0.0.1:5001", None, None, config, NO_ENV) is None


@pytest.mark.parametrize(
    "key", [DOCKER_HUB_SERVER, "index.docker.io", "docker.io", "registry-1.docker.io"]
)
def test_docker_hub_credentials_under_any_of_its_names(tmp_path: Path, key: str) -> None:
    config = write_config(tmp_path / "c.json", {"auths": {key: {"auth": b64("hub:pw")}}})
    creds = resolve_credentials("docker.io", None, None, config, NO_ENV)
    assert creds is not None and creds.username == "hub"


def test_username_password_fields_and_identity_token(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "c.json",
        {"auths": {"a.io": {"username": "u", "password": "p"}, "b.io": {"identitytoken": "rt"}}},
    )
    a = resolve_credentials("a.io", None, None, config, NO_ENV)
    b = resolve_credentials("b.io", None, None, config, NO_ENV)
    assert a == Credentials("u", "p", a.source if a else "")
    assert b is not None and b.identity_token and b.password == "rt"


def test_precedence_options_then_environment_then_config(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.json", {"auths": {"a.io": {"auth": b64("cfg:pw")}}})
    env = {"HULLSCAN_USERNAME": "envuser", "HULLSCAN_PASSWORD": "envpw"}
    from_options = resolve_credentials("a.io", "opt", "optpw", config, env)
    from_env = resolve_credentials("a.io", None, None, config, env)
    from_config = resolve_credentials("a.io", None, None, config, NO_ENV)
    assert [c.username if c else None for c in (from_options, from_env, from_config)] == [
        "opt",
        "envuser",
        "cfg",
    ]
    assert from_env is not None and from_env.source == "environment"


def test_half_a_credential_is_a_usage_error() -> None:
    with pytest.raises(SourceError, match="--username given without --password"):
        resolve_credentials("a.io", "u", None, None, NO_ENV)
    with pytest.raises(SourceError, match="HULLSCAN_PASSWORD given without HULLSCAN_USERNAME"):
        resolve_credentials("a.io", None, None, None, {"HULLSCAN_PASSWORD": "x"})


def test_missing_or_broken_config(tmp_path: Path) -> None:
    assert resolve_credentials("a.io", None, None, tmp_path / "none.json", NO_ENV) is None
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(SourceError, match="not valid JSON"):
        resolve_credentials("a.io", None, None, broken, NO_ENV)
    bad = write_config(tmp_path / "bad.json", {"auths": {"a.io": {"auth": "%%%"}}})
    with pytest.raises(SourceError, match="not base64"):
        resolve_credentials("a.io", None, None, bad, NO_ENV)


def test_default_docker_config_follows_docker_config_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert default_docker_config() == tmp_path / "config.json"
    assert RegistryOptions().docker_config == tmp_path / "config.json"
    monkeypatch.delenv("DOCKER_CONFIG")
    assert default_docker_config() == Path.home() / ".docker" / "config.json"


def test_hostname_of() -> None:
    assert hostname_of("https://index.docker.io/v1/") == "docker.io"
    assert hostname_of("HTTPS://Reg.Example.com:5000/v2/") == "reg.example.com:5000"


def test_creds_store_helper_is_asked_with_the_server_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    answer = json.dumps({"ServerURL": "x", "Username": "helped", "Secret": "hs"})
    asked = install_helper(bin_dir, "teststore", answer)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    config = write_config(tmp_path / "c.json", {"credsStore": "teststore", "auths": {}})
    creds = resolve_credentials("docker.io", None, None, config, NO_ENV)
    assert creds is not None and (creds.username, creds.password) == ("helped", "hs")
    assert creds.source == "docker-credential-teststore"
    assert asked.read_text().split() == [DOCKER_HUB_SERVER]


def test_cred_helpers_entry_wins_over_creds_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    install_helper(bin_dir, "store", json.dumps({"Username": "store", "Secret": "s"}))
    asked = install_helper(bin_dir, "special", json.dumps({"Username": "special", "Secret": "s"}))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    config = write_config(
        tmp_path / "c.json", {"credsStore": "store", "credHelpers": {"reg.io:5000": "special"}}
    )
    creds = resolve_credentials("reg.io:5000", None, None, config, NO_ENV)
    assert creds is not None and creds.username == "special"
    assert asked.read_text().split() == ["reg.io:5000"]


def test_helper_without_credentials_falls_back_to_auths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    install_helper(bin_dir, "empty", "credentials not found in native keychain", exit_code=1)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    config = write_config(
        tmp_path / "c.json", {"credsStore": "empty", "auths": {"a.io": {"auth": b64("f:p")}}}
    )
    creds = resolve_credentials("a.io", None, None, config, NO_ENV)
    assert creds is not None and creds.username == "f"


def test_missing_or_failing_helper_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    install_helper(bin_dir, "broken", "keychain locked", exit_code=3)
    monkeypatch.setenv("PATH", str(bin_dir))
    missing = write_config(tmp_path / "m.json", {"credsStore": "nosuchhelper"})
    with pytest.raises(SourceError, match=r"docker-credential-nosuchhelper is not on PATH"):
        resolve_credentials("a.io", None, None, missing, NO_ENV)
    broken = write_config(tmp_path / "b.json", {"credsStore": "broken"})
    with pytest.raises(SourceError, match=r"docker-credential-broken get failed.*keychain locked"):
        resolve_credentials("a.io", None, None, broken, NO_ENV)


def test_secrets_are_masked_in_reprs() -> None:
    creds = Credentials("u", "hunter2-secret", "x")
    options = RegistryOptions(username="u", password="hunter2-secret", docker_config=None)
    for text in (repr(creds), str(creds), repr(options), str(options)):
        assert "hunter2-secret" not in text
    assert "password='***'" in repr(options)


def test_options_from_env() -> None:
    env = {"HULLSCAN_USERNAME": "e", "HULLSCAN_PASSWORD": "p"}
    assert options_from_env(RegistryOptions(docker_config=None), env).username == "e"
    explicit = RegistryOptions(username="o", password="q", docker_config=None)
    assert options_from_env(explicit, env).username == "o"


def test_helper_credentials_pull_from_the_real_registry(
    basic_env: BasicEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    answer = json.dumps({"ServerURL": basic_env.host, "Username": USER, "Secret": PASSWORD})
    asked = install_helper(bin_dir, "hulltest", answer)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    config = write_config(tmp_path / "c.json", {"credHelpers": {basic_env.host: "hulltest"}})
    chosen = RegistryOptions(ca_cert=basic_env.pki.cert, docker_config=config)
    with open_registry_image(f"{basic_env.host}/{SAMPLE}", chosen, env=NO_ENV) as image:
        assert len(image.artifact.layers) == 3
    assert asked.read_text().split() == [basic_env.host]
