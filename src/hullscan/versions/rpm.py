"""RPM version comparison, exactly as rpm does it (lib/rpmvercmp.c, python's labelCompare).

A version string is ``[epoch:]version[-release]``, split the way rpm's own ``parseEVR``
splits it: an epoch only when the string starts with digits followed by ``:`` (``:1.0``
has epoch 0, ``a:1.0`` has no epoch and ``a:1.0`` as version), the release after the
LAST ``-``. A missing epoch compares as 0. A missing release sorts before every present
release, even an empty one, as ``rpm.labelCompare`` does with ``None`` (``1.0 < 1.0-1``);
this is the ordering of installed packages, not rpm's dependency matching where a range
without release matches every release.

Version and release are compared with ``rpmvercmp``: the strings are cut into runs of
ASCII digits and runs of ASCII letters, everything else being separators. ``~`` sorts
before everything, even the end of the string (``1.0~rc1 < 1.0``); ``^`` sorts after the
end of the string but before anything else (``1.0 < 1.0^git1 < 1.0.1``). Digit runs
compare numerically (leading zeros ignored), letter runs by byte value, and a digit run
is newer than a letter run. rpm rejects no version string, so neither does this module.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

_DIGITS = frozenset("0123456789")
_ALPHA = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_ALNUM = _DIGITS | _ALPHA
_SPECIAL = frozenset("~^")


class RpmVersion(NamedTuple):
    """A parsed EVR; None marks a missing epoch or release (they compare differently)."""

    epoch: int | None
    version: str
    release: str | None

    def __str__(self) -> str:
        text = self.version
        if self.epoch is not None:
            text = f"{self.epoch}:{text}"
        if self.release is not None:
            text = f"{text}-{self.release}"
        return text


@lru_cache(maxsize=8192)
def parse_rpm(evr: str) -> RpmVersion:
    """Split ``[epoch:]version[-release]`` as rpm's parseEVR does (never fails)."""
    end = 0
    while end < len(evr) and evr[end] in _DIGITS:
        end += 1
    epoch: int | None = None
    rest = evr
    if end < len(evr) and evr[end] == ":":
        epoch = int(evr[:end]) if end else 0
        rest = evr[end + 1 :]
    version, hyphen, release = rest.rpartition("-")
    if not hyphen:
        return RpmVersion(epoch, rest, None)
    return RpmVersion(epoch, version, release)


@lru_cache(maxsize=16384)
def rpmvercmp(a: str, b: str) -> int:
    """-1, 0 or 1: rpm's rpmvercmp on one version or one release string."""
    if a == b:
        return 0
    i = j = 0
    la, lb = len(a), len(b)
    while i < la or j < lb:
        while i < la and a[i] not in _ALNUM and a[i] not in _SPECIAL:
            i += 1
        while j < lb and b[j] not in _ALNUM and b[j] not in _SPECIAL:
            j += 1
        ca = a[i] if i < la else ""
        cb = b[j] if j < lb else ""
        if ca == "~" or cb == "~":
            if ca != "~":
                return 1
            if cb != "~":
                return -1
            i, j = i + 1, j + 1
            continue
        if ca == "^" or cb == "^":
            if not ca:
                return -1
            if not cb:
                return 1
            if ca != "^":
                return 1
            if cb != "^":
                return -1
            i, j = i + 1, j + 1
            continue
        if not (ca and cb):
            break
        kind = _DIGITS if ca in _DIGITS else _ALPHA
        si, sj = i, j
        while i < la and a[i] in kind:
            i += 1
        while j < lb and b[j] in kind:
            j += 1
        if sj == j:
            # b has a run of the other kind here: a number is newer than letters.
            return 1 if kind is _DIGITS else -1
        seg_a, seg_b = a[si:i], b[sj:j]
        if kind is _DIGITS:
            seg_a, seg_b = seg_a.lstrip("0"), seg_b.lstrip("0")
            if len(seg_a) != len(seg_b):
                return 1 if len(seg_a) > len(seg_b) else -1
        if seg_a != seg_b:
            return 1 if seg_a > seg_b else -1
    if i >= la and j >= lb:
        return 0
    return -1 if i >= la else 1


def compare_evr(a: RpmVersion, b: RpmVersion) -> int:
    """labelCompare on parsed versions: epoch, then version, then release."""
    ea, eb = a.epoch or 0, b.epoch or 0
    if ea != eb:
        return -1 if ea < eb else 1
    result = rpmvercmp(a.version, b.version)
    if result:
        return result
    if a.release is None or b.release is None:
        if a.release is None and b.release is None:
            return 0
        return -1 if a.release is None else 1
    return rpmvercmp(a.release, b.release)


def compare_rpm(a: str, b: str) -> int:
    """-1, 0 or 1 as rpm orders two ``[epoch:]version[-release]`` strings."""
    if a == b:
        return 0
    return compare_evr(parse_rpm(a), parse_rpm(b))
