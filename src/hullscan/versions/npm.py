"""npm package versions as node-semver (`semver.compare`, strict mode) orders them.

SemVer 2.0 with node-semver's own edges, because npm is the authority on what it installed:

- surrounding whitespace and one leading ``v`` are accepted (``v1.2.3``); ``=1.2.3`` and
  loose forms (``1.2``, ``01.2.3``) are not;
- a version longer than 256 characters, or a number above 2**53 - 1, is refused;
- numeric prerelease identifiers compare as JavaScript numbers (doubles), so two huge
  ones can tie; build metadata is ignored.
"""

from __future__ import annotations

import re
from functools import lru_cache

from hullscan.versions.base import VersionError

_SCHEME = "npm"
MAX_LENGTH = 256
MAX_SAFE_INTEGER = 2**53 - 1

_NUM = r"(?:0|[1-9][0-9]*)"
_PRE_ID = rf"(?:{_NUM}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_FULL = re.compile(
    rf"v?({_NUM})\.({_NUM})\.({_NUM})"
    rf"(?:-({_PRE_ID}(?:\.{_PRE_ID})*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)
# JavaScript's String.prototype.trim(): ECMAScript WhiteSpace and LineTerminator.
_JS_SPACE = " \t\n\v\f\r\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
_JS_SPACE += "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"

_Ident = tuple[int, float, str]
Key = tuple[int, int, int, tuple[int, tuple[_Ident, ...]]]


@lru_cache(maxsize=8192)
def npm_key(version: str) -> Key:
    """Sort key as node-semver's SemVer class parses `version`; VersionError otherwise."""
    if len(version) > MAX_LENGTH:
        raise VersionError(_SCHEME, version, f"longer than {MAX_LENGTH} characters")
    match = _FULL.fullmatch(version.strip(_JS_SPACE))
    if match is None:
        raise VersionError(_SCHEME, version, "not a semantic version (MAJOR.MINOR.PATCH)")
    major, minor, patch = (int(n) for n in match.group(1, 2, 3))
    if max(major, minor, patch) > MAX_SAFE_INTEGER:
        raise VersionError(_SCHEME, version, "number above JavaScript's safe integers")
    pre = match.group(4)
    if pre is None:
        return (major, minor, patch, (1, ()))
    # compareIdentifiers: both numeric -> as numbers (+a, a double), one numeric -> it is
    # lower, else by UTF-16 code units (ASCII here, so plain string order).
    idents = tuple((0, float(i), "") if i.isdigit() else (1, 0.0, i) for i in pre.split("."))
    return (major, minor, patch, (0, idents))


def compare_npm(a: str, b: str) -> int:
    """-1, 0 or 1 as `semver.compare(a, b)` of the npm `semver` package."""
    ka, kb = npm_key(a), npm_key(b)
    return (ka > kb) - (ka < kb)
