"""Semantic Versioning 2.0.0 precedence: OSV `SEMVER` ranges and Cargo (crates.io) versions.

``MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]``, strictly as semver.org's grammar says (no
``v``, no leading zeros). Precedence: the three numbers, then a release above any of its
prereleases; prerelease identifiers one by one, numeric ones numerically and below
alphanumeric ones (compared in ASCII order), a longer list above its own prefix. Build
metadata never counts: ``1.0.0+a == 1.0.0+b``, as the spec and OSV say (the Rust `semver`
crate breaks that tie for sorting, which says nothing about vulnerability).
"""

from __future__ import annotations

import re
from functools import lru_cache

from hullscan.versions.base import VersionError

_NUM = r"(?:0|[1-9][0-9]*)"
_PRE_ID = rf"(?:{_NUM}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_SEMVER = re.compile(
    rf"({_NUM})\.({_NUM})\.({_NUM})"
    rf"(?:-({_PRE_ID}(?:\.{_PRE_ID})*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)

#: One prerelease identifier as a sort key: numbers (0, n, "") before strings (1, 0, s).
PreKey = tuple[int, int, str]
#: (major, minor, patch, prerelease): a release is (1,), a prerelease (0, identifiers...).
Key = tuple[int, int, int, tuple[int, tuple[PreKey, ...]]]


def prerelease_key(prerelease: str | None) -> tuple[int, tuple[PreKey, ...]]:
    """Sort key of a dot-separated prerelease (None: a release, above every prerelease)."""
    if prerelease is None:
        return (1, ())
    return (
        0,
        tuple((0, int(i), "") if i.isdigit() else (1, 0, i) for i in prerelease.split(".")),
    )


@lru_cache(maxsize=8192)
def semver_key(version: str, scheme: str = "semver") -> Key:
    """Sort key of a strict SemVer 2.0 version; VersionError names `scheme` otherwise."""
    match = _SEMVER.fullmatch(version)
    if match is None:
        raise VersionError(scheme, version, "not a semantic version (MAJOR.MINOR.PATCH)")
    major, minor, patch, pre, _build = match.groups()
    return (int(major), int(minor), int(patch), prerelease_key(pre))


def compare_semver(a: str, b: str) -> int:
    """-1, 0 or 1 by SemVer 2.0 precedence (build metadata ignored)."""
    ka, kb = semver_key(a), semver_key(b)
    return (ka > kb) - (ka < kb)


def compare_cargo(a: str, b: str) -> int:
    """Cargo versions are strict SemVer 2.0 (the `semver` crate rejects `v1.0.0`, `1.0`)."""
    ka, kb = semver_key(a, "cargo"), semver_key(b, "cargo")
    return (ka > kb) - (ka < kb)
