"""Go module versions as golang.org/x/mod/semver orders them, and Go toolchain releases.

Go's semver is SemVer 2.0 with a required ``v`` and the shorthands ``v1`` = ``v1.0.0``,
``v1.2`` = ``v1.2.0``. Pseudo-versions (``v0.0.0-20220906165146-f3363e06e74c``) are plain
prereleases and sort by their timestamp; ``+incompatible`` is build metadata and ignored.

Versions arrive in three spellings and all are accepted:

- ``v1.2.3`` (go.mod, build info),
- ``1.2.3`` (OSV's Go records drop the ``v``),
- ``go1.21rc2`` / ``go1.21.0`` (the toolchain, package `stdlib`), converted the way the Go
  vulnerability database does (golang.org/x/vuln `GoTagToSemver`): ``go1.21rc2`` ->
  ``v1.21.0-rc.2``, ``go1.19`` -> ``v1.19.0``; text after the tag (``go1.20 X:boringcrypto``)
  is ignored.
"""

from __future__ import annotations

import re
from functools import lru_cache

from hullscan.versions.base import VersionError
from hullscan.versions.semver import PreKey

_SCHEME = "go"
_NUM = r"(?:0|[1-9][0-9]*)"
_IDENT = rf"(?:{_NUM}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
# x/mod/semver: vMAJOR[.MINOR[.PATCH[-PRERELEASE][+BUILD]]]; the shorthands take no suffix.
_GO_SEMVER = re.compile(
    rf"v({_NUM})(?:\.({_NUM})(?:\.({_NUM})(?:-({_IDENT}(?:\.{_IDENT})*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?)?)?"
)
_GO_TAG = re.compile(r"go([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?((?:alpha|beta|rc)[0-9]+)?")

Key = tuple[int, int, int, tuple[int, tuple[PreKey, ...]]]


def go_tag_to_semver(tag: str) -> str:
    """``go1.21rc2`` -> ``v1.21.0-rc.2``; VersionError when it is no Go release tag."""
    fields = tag.split()
    match = _GO_TAG.match(fields[0]) if fields else None
    if match is None:
        raise VersionError(_SCHEME, tag, "not a Go release (goX.Y[.Z][rcN])")
    if fields[0] == "go1":
        return "v1.0.0"
    major, minor, patch, pre = match.groups()
    version = f"v{int(major)}.{int(minor or 0)}.{int(patch or 0)}"
    if pre:
        digits = re.search(r"[0-9]+$", pre)
        assert digits is not None
        version += f"-{pre[: digits.start()]}.{int(digits.group())}"
    return version


@lru_cache(maxsize=8192)
def gomod_key(version: str) -> Key:
    """Sort key of a Go module or toolchain version; VersionError when Go would reject it."""
    text = version
    if text.startswith("go"):
        text = go_tag_to_semver(text)
    elif not text.startswith("v"):
        text = "v" + text
    match = _GO_SEMVER.fullmatch(text)
    if match is None:
        raise VersionError(_SCHEME, version, "not a Go module version (vMAJOR.MINOR.PATCH)")
    major, minor, patch, pre, _build = match.groups()
    if pre is None:
        pre_key: tuple[int, tuple[PreKey, ...]] = (1, ())
    else:
        idents = pre.split(".")
        pre_key = (0, tuple((0, int(i), "") if i.isdigit() else (1, 0, i) for i in idents))
    return (int(major), int(minor or 0), int(patch or 0), pre_key)


def compare_gomod(a: str, b: str) -> int:
    """-1, 0 or 1 as `semver.Compare` (golang.org/x/mod/semver) orders a and b."""
    ka, kb = gomod_key(a), gomod_key(b)
    return (ka > kb) - (ka < kb)
