"""Who hullscan is to a registry: credentials, challenges and bearer tokens.

Credentials come, first found wins, from the caller (`--username/--password`), from
HULLSCAN_USERNAME/HULLSCAN_PASSWORD, then from the Docker CLI's config.json: a `credHelpers`
entry for the registry, the `credsStore`, then the `auths` entry. Helpers are the host's
`docker-credential-<name>` programs, exactly what `docker login` left behind.

Secrets never leave this module in a printable form: `Credentials` masks them in its repr,
messages name the registry and the user, and tokens are never logged.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from hullscan.errors import SourceError
from hullscan.reference import DEFAULT_REGISTRY

log = logging.getLogger(__name__)

ENV_USERNAME = "HULLSCAN_USERNAME"
ENV_PASSWORD = "HULLSCAN_PASSWORD"
#: The server address Docker files Docker Hub credentials under.
DOCKER_HUB_SERVER = "https://index.docker.io/v1/"
DOCKER_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
HELPER_TIMEOUT = 30.0
#: A token is refreshed this long before the registry says it expires.
TOKEN_EXPIRY_MARGIN = 10.0
DEFAULT_TOKEN_LIFETIME = 60.0
IDENTITY_TOKEN_USER = "<token>"
MASK = "***"


@dataclass(frozen=True)
class Credentials:
    """A username and secret for one registry; `source` says where they were found.

    With `identity_token` the secret is an OAuth2 refresh token (Docker's `identitytoken`),
    exchanged at the token endpoint rather than sent as a password.
    """

    username: str
    password: str = field(repr=False)
    source: str = ""
    identity_token: bool = False

    def __repr__(self) -> str:
        return (
            f"Credentials(username={self.username!r}, password={MASK!r}, "
            f"source={self.source!r}, identity_token={self.identity_token})"
        )

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


def default_docker_config() -> Path:
    """$DOCKER_CONFIG/config.json, else ~/.docker/config.json (as the Docker CLI does)."""
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def resolve_credentials(
    registry: str,
    username: str | None,
    password: str | None,
    docker_config: Path | None,
    env: Mapping[str, str] | None = None,
) -> Credentials | None:
    """The credentials for `registry` (as reference.py names it: docker.io, host:port)."""
    if username or password:
        return _pair(username, password, "--username/--password", "--username", "--password")
    env = os.environ if env is None else env
    if env.get(ENV_USERNAME) or env.get(ENV_PASSWORD):
        return _pair(
            env.get(ENV_USERNAME), env.get(ENV_PASSWORD), "environment", ENV_USERNAME, ENV_PASSWORD
        )
    if docker_config is not None:
        return docker_config_credentials(registry, docker_config)
    return None


def _pair(user: str | None, secret: str | None, source: str, uname: str, pname: str) -> Credentials:
    if not user:
        raise SourceError(f"{pname} given without {uname}")
    if not secret:
        raise SourceError(f"{uname} given without {pname}")
    return Credentials(user, secret, source)


def hostname_of(server: str) -> str:
    """Docker's ConvertToHostname: drop the scheme and any path; Hub aliases become docker.io."""
    host = server.strip()
    for scheme in ("http://", "https://"):
        if host.lower().startswith(scheme):
            host = host[len(scheme) :]
    host = host.split("/", 1)[0].lower()
    return DEFAULT_REGISTRY if host in DOCKER_HUB_HOSTS else host


def server_address(registry: str) -> str:
    """What `docker login` files a registry's credentials under."""
    return DOCKER_HUB_SERVER if registry == DEFAULT_REGISTRY else registry


def docker_config_credentials(registry: str, path: Path) -> Credentials | None:
    """Credentials `docker login` stored for `registry`, via helpers or the auths map."""
    config = _load_docker_config(path)
    if config is None:
        return None
    helper = _helper_for(config, registry)
    if helper:
        found = run_credential_helper(helper, server_address(registry))
        if found is not None:
            return found
    return _auths_entry(config, registry, path)


def _load_docker_config(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SourceError(f"cannot read the Docker config {path}: {exc.strerror}") from None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"the Docker config {path} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise SourceError(f"the Docker config {path} is not a JSON object")
    return config


def _helper_for(config: dict[str, Any], registry: str) -> str:
    helpers = config.get("credHelpers")
    if isinstance(helpers, dict):
        for key, name in helpers.items():
            if isinstance(name, str) and name and hostname_of(str(key)) == registry:
                return name
    store = config.get("credsStore")
    return store if isinstance(store, str) else ""


def _auths_entry(config: dict[str, Any], registry: str, path: Path) -> Credentials | None:
    auths = config.get("auths")
    if not isinstance(auths, dict):
        return None
    exact = auths.get(server_address(registry))
    matches = [exact] if isinstance(exact, dict) else []
    matches += [v for k, v in auths.items() if isinstance(v, dict) and hostname_of(k) == registry]
    for entry in matches:
        creds = _decode_auth_entry(entry, registry, path)
        if creds is not None:
            return creds
    return None


def _decode_auth_entry(entry: dict[str, Any], registry: str, path: Path) -> Credentials | None:
    source = f"Docker config {path}"
    token = entry.get("identitytoken")
    user, secret = entry.get("username"), entry.get("password")
    if isinstance(entry.get("auth"), str) and entry["auth"]:
        try:
            decoded = base64.b64decode(entry["auth"], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise SourceError(f"{source}: the auth entry for {registry} is not base64") from None
        user, sep, secret = decoded.partition(":")
        if not sep:
            raise SourceError(f"{source}: the auth entry for {registry} is not user:password")
    if isinstance(token, str) and token:
        return Credentials(str(user or IDENTITY_TOKEN_USER), token, source, identity_token=True)
    if isinstance(user, str) and user and isinstance(secret, str):
        return Credentials(user, secret, source)
    return None


def run_credential_helper(
    name: str, server: str, timeout: float = HELPER_TIMEOUT
) -> Credentials | None:
    """`docker-credential-<name> get`, the host's helper; None when it holds nothing."""
    program = f"docker-credential-{name}"
    path = shutil.which(program)
    if path is None:
        raise SourceError(
            f"the Docker config names the credential helper {name!r} but {program} is not "
            "on PATH; install it or remove credsStore/credHelpers from the Docker config"
        )
    try:
        done = subprocess.run(
            [path, "get"],
            input=server.encode(),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SourceError(f"{program} get did not answer within {timeout:g} s") from None
    except OSError as exc:
        raise SourceError(f"cannot run {program}: {exc.strerror}") from None
    message = (done.stdout or done.stderr).decode("utf-8", "replace").strip()
    if done.returncode != 0:
        if "credentials not found" in message.lower():
            return None
        first_line = message.splitlines()[0][:200] if message else f"exit {done.returncode}"
        raise SourceError(f"{program} get failed for {server}: {first_line}")
    try:
        answer = json.loads(done.stdout)
        user, secret = answer["Username"], answer["Secret"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise SourceError(f"{program} get answered something that is not credentials") from None
    if not isinstance(user, str) or not isinstance(secret, str) or not secret:
        return None
    if user == IDENTITY_TOKEN_USER:
        return Credentials(user, secret, program, identity_token=True)
    return Credentials(user, secret, program)


@dataclass(frozen=True)
class Challenge:
    """One `WWW-Authenticate` challenge: scheme (lower case) and its parameters."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict, hash=False)


_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_CHALLENGE_PART = re.compile(
    rf"\s*(?:(?P<key>{_TOKEN})\s*=\s*(?:\"(?P<quoted>(?:[^\"\\]|\\.)*)\"|(?P<bare>[^,\s]*))"
    rf"|(?P<scheme>{_TOKEN})(?:\s+|$|(?=,)))\s*,?"
)


def parse_www_authenticate(headers: list[str]) -> list[Challenge]:
    """Parse RFC 7235 challenges (`Bearer realm="…",service="…",scope="…"`)."""
    challenges: list[Challenge] = []
    for header in headers:
        pos = 0
        while pos < len(header):
            match = _CHALLENGE_PART.match(header, pos)
            if not match or match.end() == pos:
                break
            pos = match.end()
            if match.group("scheme"):
                challenges.append(Challenge(match.group("scheme").lower(), {}))
            elif challenges:
                value = match.group("quoted")
                value = re.sub(r"\\(.)", r"\1", value) if value is not None else match["bare"]
                challenges[-1].params[match.group("key").lower()] = value
    return challenges


@dataclass
class _Token:
    value: str
    expires_at: float


Send = Callable[[httpx.Request], httpx.Response]


class Authenticator:
    """Authorization headers for one registry; thread-safe, tokens cached per scope.

    It learns the registry's scheme from the first 401 and afterwards authorises each
    request up front, so layers fetched in parallel don't each take a 401 round trip.
    """

    def __init__(
        self,
        registry: str,
        credentials: Credentials | None,
        send: Send,
        *,
        registry_is_https: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self.credentials = credentials
        self._send = send
        self._https = registry_is_https
        self._clock = clock
        self._lock = threading.Lock()
        self._challenge: Challenge | None = None
        self._tokens: dict[tuple[str, str, str], _Token] = {}
        self.token_requests = 0
        self._warned_plain_http = False

    def __repr__(self) -> str:
        return f"Authenticator(registry={self.registry!r}, credentials={self.credentials!r})"

    def header(self, scope: str) -> str | None:
        """The Authorization header to send now, or None (anonymous or scheme not known yet)."""
        with self._lock:
            challenge = self._challenge
            if challenge is None:
                return None
            if challenge.scheme == "basic":
                return self._basic()
            return "Bearer " + self._token_locked(challenge, scope, force=False)

    def on_unauthorized(self, response: httpx.Response, scope: str, sent: str | None) -> str | None:
        """After a 401: a new header worth one retry, or None when there is nothing to try."""
        challenges = parse_www_authenticate(response.headers.get_list("www-authenticate"))
        usable = [c for c in challenges if c.scheme in ("bearer", "basic")]
        if not usable:
            return None
        challenge = next((c for c in usable if c.scheme == "bearer"), usable[0])
        with self._lock:
            self._challenge = challenge
            if challenge.scheme == "basic":
                header = self._basic()
                return header if header is not None and header != sent else None
            token = self._token_locked(challenge, scope, force=sent is not None)
            header = "Bearer " + token
            return header if header != sent else None

    def _basic(self) -> str | None:
        if self.credentials is None or self.credentials.identity_token:
            return None
        if not self._https and not self._warned_plain_http:
            self._warned_plain_http = True
            log.warning("sending credentials to %s over plain HTTP", self.registry)
        return self.credentials.basic_header()

    def _token_locked(self, challenge: Challenge, scope: str, *, force: bool) -> str:
        realm = challenge.params.get("realm", "")
        service = challenge.params.get("service", "")
        key = (realm, service, scope)
        cached = self._tokens.get(key)
        if cached is not None and not force and cached.expires_at > self._clock():
            return cached.value
        token = self._fetch_token(realm, service, scope)
        self._tokens[key] = token
        return token.value

    def _fetch_token(self, realm: str, service: str, scope: str) -> _Token:
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SourceError(f"registry {self.registry} named an invalid token realm {realm!r}")
        creds = self.credentials
        if creds is not None and parts.scheme == "http" and self._https:
            raise SourceError(
                f"registry {self.registry} asks for credentials to be sent to {realm} over "
                "plain HTTP; refusing"
            )
        params = {"service": service, "scope": scope} if service else {"scope": scope}
        if creds is not None and creds.identity_token:
            data = {
                **params,
                "grant_type": "refresh_token",
                "refresh_token": creds.password,
                "client_id": "hullscan",
            }
            request = httpx.Request("POST", realm, data=data)
        else:
            headers = {"Authorization": creds.basic_header()} if creds is not None else {}
            request = httpx.Request("GET", realm, params=params, headers=headers)
        self.token_requests += 1
        response = self._send(request)
        try:
            response.read()
        finally:
            response.close()
        if response.status_code in (401, 403):
            raise SourceError(authentication_message(self.registry, creds, failed=True))
        if response.status_code != 200:
            raise SourceError(
                f"the token server {parts.scheme}://{parts.netloc} of {self.registry} "
                f"answered HTTP {response.status_code}"
            )
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        value = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(value, str) or not value:
            raise SourceError(f"the token server of {self.registry} answered without a token")
        lifetime = body.get("expires_in") if isinstance(body, dict) else None
        seconds = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else 0.0
        seconds = max(seconds or DEFAULT_TOKEN_LIFETIME, DEFAULT_TOKEN_LIFETIME)
        return _Token(value, self._clock() + seconds - TOKEN_EXPIRY_MARGIN)


def authentication_message(registry: str, creds: Credentials | None, *, failed: bool) -> str:
    """What a user should do about a 401; names the user and where the credentials came from."""
    if creds is None:
        return (
            f"authentication required for {registry}: pass --username/--password, "
            f"set {ENV_USERNAME}/{ENV_PASSWORD}, or docker login {registry} "
            "(or the repository does not exist)"
        )
    verb = "failed" if failed else "required"
    who = "" if creds.identity_token else f" as {creds.username!r}"
    return (
        f"authentication {verb} for {registry}{who} (credentials from {creds.source}): "
        "check them, pass --username/--password or docker login again"
    )
