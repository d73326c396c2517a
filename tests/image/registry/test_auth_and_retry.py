"""Challenges, the token cache, Retry-After and the retry budget, on scripted HTTP exchanges."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from hullscan.errors import SourceError
from hullscan.image.registry import (
    RegistryClient,
    RegistryOptions,
    Retrier,
    api_host,
    is_insecure,
    normalized_reference,
    retry_after_seconds,
)
from hullscan.image.registry_auth import (
    Authenticator,
    Challenge,
    Credentials,
    parse_www_authenticate,
)
from hullscan.reference import parse_image_reference

HUB = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"'


def test_parse_docker_hub_challenge() -> None:
    (challenge,) = parse_www_authenticate([HUB])
    assert challenge == Challenge(
        "bearer",
        {
            "realm": "https://auth.docker.io/token",
            "service": "registry.docker.io",
            "scope": "repository:library/alpine:pull",
        },
    )


def test_parse_quoted_commas_escapes_and_several_challenges() -> None:
    header = (
        'Basic realm="my \\"registry\\"", Bearer realm="https://a/token",'
        'scope="repository:x/y:pull,push",error="insufficient_scope"'
    )
    basic, bearer = parse_www_authenticate([header])
    assert basic.scheme == "basic" and basic.params == {"realm": 'my "registry"'}
    assert bearer.params["scope"] == "repository:x/y:pull,push"
    assert bearer.params["error"] == "insufficient_scope"
    assert parse_www_authenticate(["Basic"]) == [Challenge("basic", {})]
    assert parse_www_authenticate([""]) == []


class TokenRealm:
    """A scripted token endpoint: answers from `bodies` in turn, counting calls."""

    def __init__(self, *bodies: tuple[int, dict[str, object]]) -> None:
        self.bodies = list(bodies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status, body = self.bodies.pop(0) if len(self.bodies) > 1 else self.bodies[0]
        return httpx.Response(status, json=body, request=request)


def unauthorized(challenge: str) -> httpx.Response:
    request = httpx.Request("GET", "https://reg.test/v2/x/manifests/1")
    return httpx.Response(401, headers={"WWW-Authenticate": challenge}, request=request)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


BEARER = 'Bearer realm="https://auth.test/token",service="reg.test"'
SCOPE = "repository:x:pull"


def test_token_is_cached_per_scope_and_refreshed_when_it_expires() -> None:
    realm = TokenRealm((200, {"token": "t1", "expires_in": 300}), (200, {"token": "t2"}))
    clock = Clock()
    auth = Authenticator("reg.test", None, realm, clock=clock)
    assert auth.header(SCOPE) is None  # scheme unknown until the first 401
    assert auth.on_unauthorized(unauthorized(BEARER), SCOPE, None) == "Bearer t1"
    assert auth.header(SCOPE) == "Bearer t1"
    assert auth.header(SCOPE) == "Bearer t1"
    assert len(realm.requests) == 1
    params = realm.requests[0].url.params
    assert (params["service"], params["scope"]) == ("reg.test", SCOPE)
    assert "authorization" not in realm.requests[0].headers  # anonymous
    clock.now += 300
    assert auth.header(SCOPE) == "Bearer t2"
    assert auth.header("repository:other:pull") == "Bearer t2"
    assert len(realm.requests) == 3


def test_rejected_token_is_fetched_again_once() -> None:
    realm = TokenRealm((200, {"access_token": "a1"}), (200, {"access_token": "a2"}))
    auth = Authenticator("reg.test", None, realm)
    first = auth.on_unauthorized(unauthorized(BEARER), SCOPE, None)
    assert first == "Bearer a1"
    assert auth.on_unauthorized(unauthorized(BEARER), SCOPE, first) == "Bearer a2"


def test_credentials_go_to_the_realm_as_basic_auth() -> None:
    realm = TokenRealm((200, {"token": "t"}))
    auth = Authenticator("reg.test", Credentials("u", "pw", "test"), realm)
    auth.on_unauthorized(unauthorized(BEARER), SCOPE, None)
    assert realm.requests[0].headers["authorization"] == Credentials("u", "pw").basic_header()


def test_realm_rejecting_credentials_is_authentication_failed() -> None:
    realm = TokenRealm((401, {}))
    auth = Authenticator("reg.test", Credentials("u", "pw", "--username/--password"), realm)
    with pytest.raises(SourceError, match=r"authentication failed for reg\.test as 'u'") as caught:
        auth.on_unauthorized(unauthorized(BEARER), SCOPE, None)
    assert "pw" not in str(caught.value).replace("password", "")


def test_credentials_are_never_sent_to_a_plain_http_realm() -> None:
    realm = TokenRealm((200, {"token": "t"}))
    auth = Authenticator("reg.test", Credentials("u", "pw"), realm)
    with pytest.raises(SourceError, match="over plain HTTP; refusing"):
        auth.on_unauthorized(unauthorized('Bearer realm="http://auth.test/t"'), SCOPE, None)
    assert realm.requests == []


@pytest.mark.parametrize(
    ("challenge", "body", "message"),
    [
        ('Bearer service="x"', {"token": "t"}, "invalid token realm"),
        (BEARER, {"nothing": "here"}, "answered without a token"),
    ],
)
def test_bad_realms_and_answers(challenge: str, body: dict[str, object], message: str) -> None:
    auth = Authenticator("reg.test", None, TokenRealm((200, body)))
    with pytest.raises(SourceError, match=message):
        auth.on_unauthorized(unauthorized(challenge), SCOPE, None)


def test_basic_challenge_uses_credentials_or_gives_up() -> None:
    basic = unauthorized('Basic realm="r"')
    with_creds = Authenticator("reg.test", Credentials("u", "pw"), TokenRealm((200, {})))
    header = with_creds.on_unauthorized(basic, SCOPE, None)
    assert header == Credentials("u", "pw").basic_header()
    assert with_creds.header(SCOPE) == header
    assert with_creds.on_unauthorized(basic, SCOPE, header) is None  # same creds: no retry
    anonymous = Authenticator("reg.test", None, TokenRealm((200, {})))
    assert anonymous.on_unauthorized(basic, SCOPE, None) is None


def test_retry_after_forms() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), True), now) == 30.0
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=30), True), now) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def retrier(
    handler: Callable[[httpx.Request], httpx.Response], **kw: object
) -> tuple[Retrier, list[float]]:
    sleeps: list[float] = []
    options = RegistryOptions(docker_config=None, **kw)  # type: ignore[arg-type]
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return Retrier(client, options, sleeps.append), sleeps


def scripted(
    *statuses: int | Exception, headers: dict[str, str] | None = None
) -> Callable[[httpx.Request], httpx.Response]:
    answers = list(statuses)

    def handler(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer, headers=headers or {}, request=request)

    return handler


REQUEST = httpx.Request("GET", "https://reg.test/v2/x/manifests/1")


def test_5xx_and_connection_errors_back_off_exponentially() -> None:
    handler = scripted(httpx.ConnectError("refused"), 502, 503, 200)
    send, sleeps = retrier(handler, backoff_base=0.5)
    assert send.send(REQUEST, "manifest").status_code == 200
    assert sleeps == [0.5, 1.0, 2.0]


def test_retry_after_is_honoured_and_capped() -> None:
    send, sleeps = retrier(scripted(429, 429, 200, headers={"Retry-After": "90"}), max_backoff=20)
    assert send.send(REQUEST, "manifest").status_code == 200
    assert sleeps == [20, 20]


def test_retry_count_and_total_wait_are_bounded() -> None:
    send, sleeps = retrier(scripted(*[500] * 10), max_retries=3, backoff_base=0.1)
    with pytest.raises(
        SourceError, match=r"manifest: HTTP 500 from reg\.test, still failing after 4"
    ):
        send.send(REQUEST, "manifest")
    assert sleeps == [0.1, 0.2, 0.4]
    send, sleeps = retrier(scripted(*[503] * 10), max_retries=10, backoff_base=1, max_wait=5)
    with pytest.raises(SourceError, match="still failing after 3 attempts"):
        send.send(REQUEST, "manifest")
    assert sum(sleeps) <= 5


def test_4xx_other_than_429_are_not_retried() -> None:
    send, sleeps = retrier(scripted(404))
    assert send.send(REQUEST, "manifest").status_code == 404
    assert sleeps == []


@pytest.mark.parametrize(
    ("reference", "base", "repository", "normalized"),
    [
        (
            "alpine",
            "https://registry-1.docker.io/v2/",
            "library/alpine",
            "docker.io/library/alpine:latest",
        ),
        (
            "index.docker.io/team/app:2",
            "https://registry-1.docker.io/v2/",
            "team/app",
            "docker.io/team/app:2",
        ),
        ("localhost:5000/a/b/c:1", "http://localhost:5000/v2/", "a/b/c", "localhost:5000/a/b/c:1"),
        ("[::1]:5000/x", "https://[::1]:5000/v2/", "x", "[::1]:5000/x:latest"),
    ],
)
def test_reference_to_api_url(reference: str, base: str, repository: str, normalized: str) -> None:
    ref = parse_image_reference(reference)
    options = RegistryOptions(docker_config=None, insecure_registries=("localhost:5000",))
    client = RegistryClient(ref, options, None)
    try:
        assert client.base_url == base
        assert client.scope == f"repository:{repository}:pull"
        assert normalized_reference(ref) == normalized
    finally:
        client.close()


def test_digest_references_keep_the_digest_only() -> None:
    digest = "sha256:" + "a" * 64
    assert normalized_reference(parse_image_reference(f"alpine@{digest}")) == (
        f"docker.io/library/alpine@{digest}"
    )
    assert normalized_reference(parse_image_reference(f"alpine:3@{digest}")) == (
        f"docker.io/library/alpine:3@{digest}"
    )


def test_insecure_registry_matching() -> None:
    assert api_host("docker.io") == "registry-1.docker.io"
    assert is_insecure("reg.test:5000", ("reg.test:5000",))
    assert is_insecure("reg.test:5000", ("reg.test",))
    assert not is_insecure("reg.test:5000", ("reg.test:5001",))
    assert not is_insecure("other.test", ("reg.test",))
    assert is_insecure("reg.test:5000", ("http://reg.test:5000/",))
    assert is_insecure("[::1]:5000", ("[::1]:5000",))


def test_error_body_detail_in_messages() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {
            "errors": [{"code": "DENIED", "message": "requested access to the resource is denied"}]
        }
        return httpx.Response(403, content=json.dumps(body).encode(), request=request)

    ref = parse_image_reference("reg.test/x:1")
    client = RegistryClient(ref, RegistryOptions(docker_config=None), None)
    client._http = httpx.Client(transport=httpx.MockTransport(handler))
    client._retrier = Retrier(client._http, client.options, lambda _s: None)
    with pytest.raises(SourceError, match=r"access to x on reg\.test is denied \(HTTP 403: DENIED"):
        client.get("manifests/1", {}, "image reg.test/x:1")
    client.close()
