"""RubyGems versions as `Gem::Version#<=>` orders them.

A version is digits, then dot-separated runs of letters and digits, optionally ``-`` and more
(``1.2.0.pre1``, ``3.0.0-rc1``; a ``-`` reads as ``.pre.``). It splits into numbers and
letter runs (``1.0.a10`` -> 1, 0, "a", 10); trailing zeros of the numeric part and of the
rest are dropped (``1.0 == 1``, ``1.0.a.0 == 1.0.a``); segment by segment a letter run sorts
below any number (so ``1.0.a < 1.0`` - any letter makes a prerelease), letter runs compare
bytewise, numbers numerically. Blank is ``0``, as RubyGems reads it.
"""

from __future__ import annotations

import re
from functools import lru_cache

from hullscan.versions.base import VersionError

_SCHEME = "gem"
# Gem::Version::ANCHORED_VERSION_PATTERN; Ruby's \s is ASCII whitespace.
_ANCHORED = re.compile(
    r"[ \t\n\v\f\r]*([0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)?"
    r"[ \t\n\v\f\r]*"
)
_SEGMENT = re.compile(r"[0-9]+|[a-zA-Z]+")

# A segment as a sort key: a letter run (0, 0, bytes) below a number (1, n, b"").
_Segment = tuple[int, int, bytes]


def _drop_trailing_zeros(segments: list[int | str]) -> list[int | str]:
    while segments and segments[-1] == 0:
        segments.pop()
    return segments


@lru_cache(maxsize=8192)
def gem_segments(version: str) -> tuple[int | str, ...]:
    """Gem::Version#canonical_segments; VersionError where Gem::Version.new raises."""
    match = _ANCHORED.fullmatch(version)
    if match is None:
        raise VersionError(_SCHEME, version, "malformed version number string")
    text = (match.group(1) or "0").replace("-", ".pre.")
    segments: list[int | str] = [int(s) if s.isdigit() else s for s in _SEGMENT.findall(text)]
    first_string = next((i for i, s in enumerate(segments) if isinstance(s, str)), None)
    if first_string is None:
        return tuple(_drop_trailing_zeros(segments))
    numeric, rest = segments[:first_string], segments[first_string:]
    return (*_drop_trailing_zeros(numeric), *_drop_trailing_zeros(rest))


def _key(segment: int | str) -> _Segment:
    if isinstance(segment, int):
        return (1, segment, b"")
    return (0, 0, segment.encode())


def compare_gem(a: str, b: str) -> int:
    """-1, 0 or 1 as ``Gem::Version.new(a) <=> Gem::Version.new(b)``."""
    sa, sb = gem_segments(a), gem_segments(b)
    if sa == sb:
        return 0
    for i in range(max(len(sa), len(sb))):
        left = sa[i] if i < len(sa) else 0
        right = sb[i] if i < len(sb) else 0
        if left != right:
            ka, kb = _key(left), _key(right)
            return (ka > kb) - (ka < kb)
    return 0
