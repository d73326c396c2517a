"""Python package versions as PEP 440 orders them (what pip and `packaging.version` do).

A version is ``[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]``, with the spellings PEP 440
normalises (``1.0-alpha.1``, ``1.0c1``, ``1.0-1``, ``v1.0``, upper case). Order:

- release numbers with trailing zeros ignored (``1.0 == 1.0.0``);
- ``1.0.dev1 < 1.0a1.dev1 < 1.0a1 < 1.0a1.post1 < 1.0b1 < 1.0rc1 < 1.0 < 1.0.post1``;
- a local label (``+ubuntu1``) sorts after the same public version, segment by segment,
  numbers after strings.

What PEP 440 cannot parse (``2004d``, ``1.0-SNAPSHOT``) raises VersionError, as
`packaging` (which dropped LegacyVersion) does: such a package is reported, not guessed.
"""

from __future__ import annotations

import re
from functools import lru_cache

from hullscan.versions.base import VersionError

_SCHEME = "pep440"

# PEP 440, appendix B ("Parsing version strings with regular expressions").
_PATTERN = re.compile(
    r"""
    \s*v?
    (?:(?P<epoch>[0-9]+)!)?
    (?P<release>[0-9]+(?:\.[0-9]+)*)
    (?P<pre>[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?
    (?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?
    (?P<dev>[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?
    (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
    \s*
    """,
    re.VERBOSE | re.IGNORECASE | re.ASCII,
)
_PRE_RANK = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}

# Sort key parts. Tuples of ints stand in for packaging's +/- Infinity markers.
_LocalPart = tuple[int, int, str]
Key = tuple[
    int,
    tuple[int, ...],
    tuple[int, ...],
    tuple[int, ...],
    tuple[int, ...],
    tuple[int, tuple[_LocalPart, ...]],
]


@lru_cache(maxsize=8192)
def pep440_key(version: str) -> Key:
    """A tuple that orders like the version; VersionError for what PEP 440 rejects."""
    match = _PATTERN.fullmatch(version)
    if match is None:
        raise VersionError(_SCHEME, version, "not a PEP 440 version")
    release = [int(part) for part in match["release"].split(".")]
    while release and release[-1] == 0:
        release.pop()  # 1.0 == 1.0.0 (and 0 == 0.0)
    has_post = match["post"] is not None
    has_dev = match["dev"] is not None
    if match["pre"] is not None:
        pre: tuple[int, ...] = (1, _PRE_RANK[match["pre_l"].lower()], int(match["pre_n"] or 0))
    elif has_dev and not has_post:
        pre = (0,)  # 1.0.dev0 sorts before 1.0a0
    else:
        pre = (2,)
    if has_post:
        post: tuple[int, ...] = (1, int(match["post_n1"] or match["post_n2"] or 0))
    else:
        post = (0,)
    dev: tuple[int, ...] = (0, int(match["dev_n"] or 0)) if has_dev else (1,)
    local: tuple[int, tuple[_LocalPart, ...]] = (0, ())
    if match["local"] is not None:
        parts = re.split(r"[-_.]", match["local"].lower())
        local = (1, tuple((1, int(p), "") if p.isdigit() else (0, 0, p) for p in parts))
    return (int(match["epoch"] or 0), tuple(release), pre, post, dev, local)


def compare_pep440(a: str, b: str) -> int:
    """-1, 0 or 1 as `packaging.version.Version(a)` compares to `Version(b)`."""
    ka, kb = pep440_key(a), pep440_key(b)
    return (ka > kb) - (ka < kb)
