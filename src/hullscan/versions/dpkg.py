"""Debian version comparison, exactly as dpkg does it (lib/dpkg/version.c, parsehelp.c).

A version is ``[epoch:]upstream[-revision]``. Epochs compare as integers; upstream and
revision compare with dpkg's ``verrevcmp``: alternating runs of non-digits and digits,
non-digits character by character where ``~`` sorts before everything (even the end of
the string), then letters, then everything else; digit runs numerically.

Parsing follows dpkg's ``parseversion``: what dpkg rejects with an error (empty version,
bad epoch, empty revision, embedded spaces) raises VersionError; what dpkg only warns
about (an upstream not starting with a digit, odd characters) is compared the way dpkg
compares it, because real package databases contain such versions.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from hullscan.versions.base import VersionError

_SCHEME = "dpkg"
_INT_MAX = 2**31 - 1
_BLANKS = " \t"  # dpkg's c_isblank
# What strtol() accepts before the ':' of an epoch: isspace, a sign, decimal digits.
_STRTOL = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)")
# Alternating (non-digit run, digit run) pairs of verrevcmp; ASCII digits only (c_isdigit).
_PARTS = re.compile(rb"([^0-9]*)([0-9]*)")


class DpkgVersion(NamedTuple):
    """A parsed Debian version; a missing revision is the empty string, as in dpkg."""

    epoch: int
    upstream: str
    revision: str


def _order(byte: int) -> int:
    """dpkg's order(): weight of one character in a non-digit run.

    Works on bytes with C's signed ``char`` (amd64, where dpkg and apt run in CI), so a
    UTF-8 byte 0x80..0xff weighs 0x80..0xff: after letters, before ASCII punctuation.
    """
    if 0x30 <= byte <= 0x39:
        return 0
    if 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A:
        return byte
    if byte == 0x7E:  # '~'
        return -1
    if byte >= 0x80:
        return byte  # (byte - 256) + 256
    return byte + 256


_WEIGHT = tuple(_order(b) for b in range(256))


def _utf8(text: str) -> bytes:
    """The bytes dpkg would see; undecodable bytes kept by surrogateescape come back."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


@lru_cache(maxsize=8192)
def _fragment_key(text: str) -> tuple[tuple[tuple[int, ...], int], ...]:
    """The (non-digit weights + end marker 0, digit value) pairs verrevcmp walks through.

    The trailing 0 stands for "end of run", which weighs what dpkg gives a digit or the
    end of the string; no character inside a run weighs 0, so tuple order is dpkg order.
    """
    data = _utf8(text)
    pairs: list[tuple[tuple[int, ...], int]] = []
    pos = 0
    while pos < len(data):
        match = _PARTS.match(data, pos)
        assert match is not None  # both groups may be empty, so it always matches
        letters, digits = match.group(1), match.group(2)
        pairs.append(((*(_WEIGHT[b] for b in letters), 0), int(digits) if digits else 0))
        pos = match.end()
    return tuple(pairs)


_END_PAIR: tuple[tuple[int, ...], int] = ((0,), 0)


def _verrevcmp(a: str, b: str) -> int:
    """Compare two upstream versions (or two revisions) as dpkg's verrevcmp does."""
    if a == b:
        return 0
    ka, kb = _fragment_key(a), _fragment_key(b)
    for i in range(max(len(ka), len(kb))):
        pa = ka[i] if i < len(ka) else _END_PAIR
        pb = kb[i] if i < len(kb) else _END_PAIR
        if pa != pb:
            return -1 if pa < pb else 1
    return 0


@lru_cache(maxsize=8192)
def parse_dpkg(version: str) -> DpkgVersion:
    """Split a version into epoch, upstream and revision; VersionError where dpkg errors."""

    def fail(reason: str) -> VersionError:
        return VersionError(_SCHEME, version, reason)

    text = version.lstrip(_BLANKS)
    if not text:
        raise fail("version string is empty")
    end = len(text)
    for i, ch in enumerate(text):
        if ch in _BLANKS:
            end = i
            break
    if text[end:].strip(_BLANKS):
        raise fail("version string has embedded spaces")
    text = text[:end]

    epoch = 0
    colon = text.find(":")
    if colon >= 0:
        match = _STRTOL.match(text)
        if match is None:
            raise fail("epoch in version is empty")
        if match.end() != colon:
            raise fail("epoch in version is not number")
        epoch = int(match.group(1))
        if epoch < 0:
            raise fail("epoch in version is negative")
        if epoch > _INT_MAX:
            raise fail("epoch in version is too big")
        text = text[colon + 1 :]
        if not text:
            raise fail("nothing after colon in version number")

    upstream, hyphen, revision = text.rpartition("-")
    if not hyphen:
        upstream, revision = text, ""
    elif not revision:
        raise fail("revision number is empty")
    if not upstream:
        raise fail("version number is empty")
    return DpkgVersion(epoch, upstream, revision)


def compare_dpkg(a: str, b: str) -> int:
    """-1, 0 or 1 as dpkg --compare-versions orders a and b."""
    va, vb = parse_dpkg(a), parse_dpkg(b)
    if va.epoch != vb.epoch:
        return -1 if va.epoch < vb.epoch else 1
    return _verrevcmp(va.upstream, vb.upstream) or _verrevcmp(va.revision, vb.revision)
