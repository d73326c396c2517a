"""The matching rules every policy file shares: purls, image names, path globs."""

from __future__ import annotations

import pytest

from hullscan.errors import PolicyError
from hullscan.model import Distro, Package, PackageType
from hullscan.policy.matching import (
    ImageGlob,
    Purl,
    distro_aliases,
    package_purls,
    parse_purl,
    path_glob,
    purl_matches,
    purl_pattern,
)
from hullscan.reference import InvalidReferenceError, parse_image_reference


def purl(text: str) -> Purl:
    parsed = parse_purl(text)
    assert parsed is not None, text
    return parsed


# Trivy's documented examples (docs/docs/supply-chain/vex/file.md, "PURL matching") and
# go-vex's PurlMatches rules.
@pytest.mark.parametrize(
    ("constraint", "target", "expected"),
    [
        ("pkg:maven/com.google.guava/guava", "pkg:maven/com.google.guava/guava@24.1.1", True),
        ("pkg:maven/com.google.guava/guava", "pkg:maven/com.google.guava/guava@30.0", True),
        (
            "pkg:maven/com.google.guava/guava@24.1.1",
            "pkg:maven/com.google.guava/guava@24.1.1?classifier=x86",
            True,
        ),
        (
            "pkg:maven/com.google.guava/guava@24.1.1?classifier=x86",
            "pkg:maven/com.google.guava/guava@24.1.1?classifier=x86&type=dll",
            True,
        ),
        (
            "pkg:maven/com.google.guava/guava@24.1.1?classifier=x86",
            "pkg:maven/com.google.guava/guava@24.1.1",
            False,
        ),
        (
            "pkg:maven/com.google.guava/guava@24.1.1?classifier=x86",
            "pkg:maven/com.google.guava/guava@24.1.1?classifier=sources",
            False,
        ),
        ("pkg:maven/com.google.guava/guava@24.1.1", "pkg:maven/com.google.guava/guava", False),
        ("pkg:npm/%40babel/core", "pkg:npm/@babel/core@7.0.0", True),
        ("pkg:pypi/Django_REST", "pkg:pypi/django-rest@3.0", True),  # pypi names normalised
        ("pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1", "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1", True),
        ("pkg:deb/debian/curl", "pkg:deb/ubuntu/curl@1", False),
        ("pkg:deb/debian/curl", "pkg:rpm/debian/curl@1", False),
    ],
)
def test_purl_matching(constraint: str, target: str, expected: bool) -> None:
    assert purl_matches(purl(constraint), purl(target)) is expected


DEB12 = Distro("debian", "12.4", "bookworm")


def test_distro_aliases() -> None:
    assert distro_aliases(DEB12) >= {
        "debian-12.4",
        "debian-12",
        "12",
        "bookworm",
        "debian-bookworm",
    }
    assert distro_aliases(Distro("debian", "12")) >= {"bookworm", "debian-12"}  # codename derived
    assert distro_aliases(Distro("ubuntu", "22.04")) >= {"jammy", "ubuntu-22.04"}
    assert distro_aliases(Distro("alpine", "3.19.0")) >= {"3.19.0", "alpine-3.19.0"}
    assert distro_aliases(None) == frozenset()


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        ("bookworm", True),
        ("debian-12", True),
        ("debian-12.4", True),
        ("esm-apps/bookworm", True),  # the release after the last '/'
        ("bullseye", False),
        ("ubuntu-12", False),
    ],
)
def test_distro_qualifier_by_meaning(wanted: str, expected: bool) -> None:
    target = purl("pkg:deb/debian/curl@7?arch=amd64&distro=debian-12.4")
    constraint = purl(f"pkg:deb/debian/curl?distro={wanted}")
    aliases = distro_aliases(DEB12)
    assert purl_matches(constraint, target, aliases) is expected


def test_package_purls_add_the_source_package_for_debs() -> None:
    pkg = Package(
        "libssl3",
        "3.0.11-1~deb12u1",
        PackageType.DEB,
        arch="amd64",
        source_name="openssl",
        source_version="3.0.11-1~deb12u1",
        purl="pkg:deb/debian/libssl3@3.0.11-1~deb12u1?arch=amd64&distro=debian-12&upstream=openssl",
    )
    own, source = package_purls(pkg, DEB12)
    assert (own.name, source.name, source.qualifier_map) == (
        "libssl3",
        "openssl",
        {"arch": "source", "distro": "debian-12"},
    )
    # without a stored purl, one is made as the analyzers make it
    assert package_purls(Package("musl", "1.2", PackageType.APK), None)[0].name == "musl"


@pytest.mark.parametrize(
    ("pattern", "target", "expected"),
    [
        ("pkg:npm/*", "pkg:npm/%40babel/core@7.0.0", True),
        ("pkg:npm/@babel/*", "pkg:npm/%40babel/core@7.0.0", True),
        ("pkg:npm/@babel/*@7.*", "pkg:npm/%40babel/core@7.0.0", True),
        ("pkg:npm/@babel/*@8.*", "pkg:npm/%40babel/core@7.0.0", False),
        ("pkg:NPM/*", "pkg:npm/left-pad@1", True),
        ("pkg:deb/debian/lib*?arch=amd64", "pkg:deb/debian/libc6@2?arch=amd64", True),
        ("pkg:deb/debian/lib*?arch=a*", "pkg:deb/debian/libc6@2?arch=arm64", True),
        ("pkg:deb/debian/lib*?arch=amd64", "pkg:deb/debian/libc6@2", False),
        ("pkg:deb/debian/zlib1g@1:1.2.*", "pkg:deb/debian/zlib1g@1%3A1.2.13", True),
    ],
)
def test_purl_patterns(pattern: str, target: str, expected: bool) -> None:
    assert purl_pattern(pattern).matches(purl(target)) is expected


@pytest.mark.parametrize("bad", ["libc6", "pkg:", "pkg:*", "pkg:deb/x?arch", "pkg:deb"])
def test_bad_purl_patterns(bad: str) -> None:
    with pytest.raises(PolicyError):
        purl_pattern(bad)


@pytest.mark.parametrize(
    ("glob", "path", "expected"),
    [
        ("**/*-lock.json", "package-lock.json", True),
        ("**/*-lock.json", "app/web/package-lock.json", True),
        ("app/*.json", "app/web/package.json", False),
        ("app/**", "app/web/package.json", True),
        (
            "/usr/lib/python3*/site-packages/**/METADATA",
            "usr/lib/python3.11/site-packages/urllib3-2.0.dist-info/METADATA",
            True,
        ),
        ("var/lib/{dpkg,rpm}/*", "var/lib/rpm/Packages", True),
        ("var/lib/{dpkg,rpm}/*", "var/lib/apk/installed", False),
        ("var/lib/dpkg/status.[!d]*", "var/lib/dpkg/status.d", False),
        ("?ar/lib", "var/lib", True),
        ("./app/go.mod", "app/go.mod", True),
    ],
)
def test_path_globs(glob: str, path: str, expected: bool) -> None:
    assert bool(path_glob(glob).fullmatch(path)) is expected


@pytest.mark.parametrize(
    ("pattern", "reference", "expected"),
    [
        ("registry:5000/team/*", "registry:5000/team/app:1", True),
        ("registry:5000/team/*", "registry:5000/other/app:1", False),
        ("registry:5000/team/*", "registry:5001/team/app:1", False),
        ("*.example.com/team/app", "registry.example.com/team/app", True),
        ("team/*", "ghcr.io/team/app:1", True),  # no registry written: any registry
        ("alp*", "alpine:3.19", True),  # the short name on Docker Hub
        ("library/*", "alpine:3.19", True),
        ("docker.io/library/*", "alpine:3.19", True),
        ("index.docker.io/library/*", "docker.io/library/alpine", True),
        ("docker.io/library/*", "ghcr.io/library/alpine", False),
        ("*:3.*", "alpine:3.19", True),
        ("*:3.*", "alpine:edge", False),
        ("*@sha256:ab*", "alpine@sha256:" + "ab" * 32, True),
    ],
)
def test_image_globs(pattern: str, reference: str, expected: bool) -> None:
    assert ImageGlob.parse(pattern).matches(parse_image_reference(reference)) is expected


def test_bad_image_glob() -> None:
    with pytest.raises(InvalidReferenceError):
        ImageGlob.parse("team app/*")
