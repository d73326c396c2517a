"""Image reference parsing against Docker's own test vectors.

Vectors from github.com/distribution/reference normalize_test.go (TestValidateReferenceName,
TestValidateRemoteName, TestParseRepositoryInfo, TestNormalizedSplitHostname,
TestParseReferenceWithTagAndDigest), the library `docker pull` uses.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hullscan.errors import SourceError
from hullscan.reference import ImageReference, InvalidReferenceError, parse_image_reference

HEX64 = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"
DIGEST = "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"

VALID = [
    "docker/docker",
    "library/debian",
    "debian",
    "docker.io/docker/docker",
    "docker.io/library/debian",
    "docker.io/debian",
    "index.docker.io/docker/docker",
    "index.docker.io/library/debian",
    "index.docker.io/debian",
    "127.0.0.1:5000/docker/docker",
    "127.0.0.1:5000/library/debian",
    "127.0.0.1:5000/debian",
    "192.168.0.1",
    "192.168.0.1:80",
    "192.168.0.1:8/debian",
    "192.168.0.2:25000/debian",
    "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
    "[fc00::1]:5000/docker",
    "[fc00::1]:5000/docker/docker",
    "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
    f"docker.io/{HEX64}",
    "Docker/docker",
    "DOCKER/docker",
    "docker-rules/docker",
    "docker---rules/docker",
    "doc/docker",
    "d/docker",
    "jess/t",
    "dock__er/docker",
]

INVALID = [
    "https://github.com/docker/docker",
    "docker/Docker",
    "-docker",
    "-docker/docker",
    "-docker.io/docker/docker",
    "docker///docker",
    "docker.io/docker/Docker",
    "docker.io/docker///docker",
    "[fc00::1]",
    "[fc00::1]:5000",
    "fc00::1:5000/debian",
    "[fe80::1%eth0]:5000/debian",
    "[2001:db8:3:4::192.0.2.33]:5000/debian",
    HEX64,
    "docker-/docker",
    "-docker-/docker",
    "____/____",
    "_docker/_docker",
    "dock..er/docker",
    "dock_.er/docker",
    "dock-.er/docker",
    "docker/",
    "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_" * 4 + "/docker",
    "",
    "alpine:",
    "alpine:-tag",
    "alpine@sha256:abc",
    "alpine@" + DIGEST + "x",
    "alpine:" + "t" * 129,
]


@pytest.mark.parametrize("ref", VALID)
def test_valid(ref: str) -> None:
    parse_image_reference(ref)


@pytest.mark.parametrize("ref", INVALID)
def test_invalid(ref: str) -> None:
    with pytest.raises(InvalidReferenceError):
        parse_image_reference(ref)


def test_invalid_is_a_source_error_with_the_reason() -> None:
    with pytest.raises(SourceError, match="must be lowercase"):
        parse_image_reference("docker/Docker")


# (familiar, full, ambiguous-or-empty, registry, repository) from TestParseRepositoryInfo
REPOSITORY_INFO = [
    ("fooo/bar", "docker.io/fooo/bar", "index.docker.io/fooo/bar", "docker.io", "fooo/bar"),
    ("ubuntu", "docker.io/library/ubuntu", "library/ubuntu", "docker.io", "library/ubuntu"),
    ("nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu", "", "docker.io", "nonlibrary/ubuntu"),
    ("other/library", "docker.io/other/library", "", "docker.io", "other/library"),
    (
        "127.0.0.1:8000/private/moonbase",
        "127.0.0.1:8000/private/moonbase",
        "",
        "127.0.0.1:8000",
        "private/moonbase",
    ),
    (
        "127.0.0.1:8000/privatebase",
        "127.0.0.1:8000/privatebase",
        "",
        "127.0.0.1:8000",
        "privatebase",
    ),
    (
        "example.com/private/moonbase",
        "example.com/private/moonbase",
        "",
        "example.com",
        "private/moonbase",
    ),
    (
        "example.com:8000/privatebasee",
        "example.com:8000/privatebasee",
        "",
        "example.com:8000",
        "privatebasee",
    ),
    (
        "ubuntu-12.04-base",
        "docker.io/library/ubuntu-12.04-base",
        "index.docker.io/library/ubuntu-12.04-base",
        "docker.io",
        "library/ubuntu-12.04-base",
    ),
    ("foo", "docker.io/library/foo", "docker.io/foo", "docker.io", "library/foo"),
    ("library/foo/bar", "docker.io/library/foo/bar", "", "docker.io", "library/foo/bar"),
    ("store/foo/bar", "docker.io/store/foo/bar", "", "docker.io", "store/foo/bar"),
    ("Foo/bar", "Foo/bar", "", "Foo", "bar"),
    ("FOO/bar", "FOO/bar", "", "FOO", "bar"),
]


@pytest.mark.parametrize(
    ("familiar", "full", "ambiguous", "registry", "repository"), REPOSITORY_INFO
)
def test_repository_info(
    familiar: str, full: str, ambiguous: str, registry: str, repository: str
) -> None:
    for text in filter(None, (familiar, full, ambiguous)):
        ref = parse_image_reference(text)
        assert ref.registry == registry, text
        assert ref.repository == repository, text
        assert ref.name == full, text
        assert ref.familiar_name == familiar, text


@pytest.mark.parametrize(
    ("text", "registry", "repository"),
    [
        ("test.com/foo", "test.com", "foo"),
        ("test_com/foo", "docker.io", "test_com/foo"),
        ("docker/migrator", "docker.io", "docker/migrator"),
        ("test.com:8080/foo", "test.com:8080", "foo"),
        ("test-com:8080/foo", "test-com:8080", "foo"),
        ("foo", "docker.io", "library/foo"),
        ("xn--n3h.com/foo", "xn--n3h.com", "foo"),
        ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
        ("docker.io/foo", "docker.io", "library/foo"),
        ("docker.io/library/foo", "docker.io", "library/foo"),
        ("docker.io/library/foo/bar", "docker.io", "library/foo/bar"),
        ("localhost/foo", "localhost", "foo"),
        ("localhost:5000/foo/bar", "localhost:5000", "foo/bar"),
        ("registry:5000/app", "registry:5000", "app"),
        ("registry/app", "docker.io", "registry/app"),
    ],
)
def test_split_hostname(text: str, registry: str, repository: str) -> None:
    ref = parse_image_reference(text)
    assert (ref.registry, ref.repository) == (registry, repository)


def test_tag_and_digest() -> None:
    ref = parse_image_reference(f"busybox:latest@{DIGEST}")
    assert ref == ImageReference("docker.io", "library/busybox", "latest", DIGEST)
    assert str(ref) == f"docker.io/library/busybox:latest@{DIGEST}"
    assert ref.pull_reference == DIGEST


def test_the_brief_example() -> None:
    registry, repository, tag, digest = parse_image_reference(
        f"registry.example.com:5000/team/app:1.2@{DIGEST}"
    )
    assert (registry, repository, tag, digest) == (
        "registry.example.com:5000",
        "team/app",
        "1.2",
        DIGEST,
    )
    ref = parse_image_reference("registry.example.com:5000/team/app:1.2")
    assert ref.name == "registry.example.com:5000/team/app"
    assert ref.familiar_name == "registry.example.com:5000/team/app"


def test_port_is_not_a_tag() -> None:
    ref = parse_image_reference("registry:5000/app")
    assert ref == ImageReference("registry:5000", "app")
    assert ref.pull_reference == "latest"


def test_surrounding_whitespace_is_ignored() -> None:
    assert parse_image_reference("  alpine:3.19\n") == ImageReference(
        "docker.io", "library/alpine", "3.19"
    )


_component = st.from_regex(r"[a-z0-9]{1,6}(?:[._-][a-z0-9]{1,4})?", fullmatch=True)


@given(
    registry=st.sampled_from(["", "docker.io/", "registry:5000/", "ghcr.io/", "localhost/"]),
    parts=st.lists(_component, min_size=1, max_size=3),
    tag=st.one_of(st.just(""), st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}", fullmatch=True)),
    with_digest=st.booleans(),
)
def test_round_trip(registry: str, parts: list[str], tag: str, with_digest: bool) -> None:
    text = (
        registry
        + "/".join(parts)
        + (f":{tag}" if tag else "")
        + (f"@{DIGEST}" if with_digest else "")
    )
    ref = parse_image_reference(text)
    assert parse_image_reference(str(ref)) == ref
    assert ref.tag == tag
    assert ref.digest == (DIGEST if with_digest else "")
