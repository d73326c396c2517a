"""Alpine version comparison, exactly as apk-tools does it (src/version.c, apk-tools 3).

Grammar: ``digit{.digit}...{letter}{_suffix{digits}}...{~hash}{-r#}``. The string is
read as a stream of typed tokens; two versions are walked in step while their tokens
have the same type and value. Where the types first differ, the version that ended
(or turned invalid) sorts lower, except that a pre-release suffix (``_alpha``,
``_beta``, ``_pre``, ``_rc``) sorts below everything, including the end of the string.

apk never refuses to compare: a version stops being parsed at its first invalid token,
and an invalid token counts as "ended, and lower than an ordinary end". So
``6.6.2p1`` (a digit after a letter, invalid since apk-tools 2.12) equals ``6.6.2p2``.
We keep that, because the goal is to agree with apk on what is installed and fixed.
The one thing apk cannot order is an empty version; that raises VersionError.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from hullscan.versions.base import VersionError

_SCHEME = "apk"

# Token types, in apk's order: the order matters, it decides "which one ended first".
_INITIAL_DIGIT = 0
_DIGIT = 1
_LETTER = 2
_SUFFIX = 3
_SUFFIX_NO = 4
_COMMIT_HASH = 5
_REVISION_NO = 6
_END = 7
_INVALID = 8

# Suffix ranks: pre-releases below _SUFFIX_NONE (a plain release), the others above it.
_SUFFIX_NONE = 5
_SUFFIXES = {
    "alpha": 1,
    "beta": 2,
    "pre": 3,
    "rc": 4,
    "cvs": 6,
    "svn": 7,
    "git": 8,
    "hg": 9,
    "p": 10,
}
_DIGITS = frozenset("0123456789")
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")  # APK_CTYPE_VERSION_SUFFIX
_HEX = frozenset("0123456789abcdef")  # APK_CTYPE_HEXDIGIT: lower case only
_U64 = 2**64  # apk_blob_pull_uint accumulates in a uint64_t and wraps


class _Token(NamedTuple):
    kind: int
    text: str = ""
    number: int = 0
    suffix: int = 0


def _span(text: str, pos: int, chars: frozenset[str]) -> int:
    """End of the run of `chars` starting at pos (apk_blob_spn)."""
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


@lru_cache(maxsize=8192)
def _tokens(version: str) -> tuple[_Token, ...]:
    """apk's token stream of a version, ending with one _END or _INVALID token."""
    out: list[_Token] = []

    def digits(kind: int, start: int) -> int:
        end = _span(version, start, _DIGITS)
        run = version[start:end]
        out.append(_Token(kind, run, int(run) % _U64) if run else _Token(_INVALID))
        return end

    pos = digits(_INITIAL_DIGIT, 0)
    while out[-1].kind < _END:
        prev = out[-1].kind
        if pos == len(version):
            out.append(_Token(_END))
            break
        ch = version[pos]
        if ch in _LOWER:
            if prev > _DIGIT:
                break
            out.append(_Token(_LETTER, ch))
            pos += 1
        elif ch == "." or ch in _DIGITS:
            if ch == ".":
                if prev > _DIGIT:
                    break
                pos += 1
            if prev in (_INITIAL_DIGIT, _DIGIT):
                pos = digits(_DIGIT, pos)
            elif prev == _SUFFIX:
                pos = digits(_SUFFIX_NO, pos)
            else:
                break  # e.g. a digit right after a letter: 1.2a3
        elif ch == "_":
            if prev > _SUFFIX_NO:
                break
            end = _span(version, pos + 1, _LOWER)
            rank = _SUFFIXES.get(version[pos + 1 : end])
            if rank is None:
                break
            out.append(_Token(_SUFFIX, version[pos + 1 : end], suffix=rank))
            pos = end
        elif ch == "~":
            if prev >= _COMMIT_HASH:
                break
            end = _span(version, pos + 1, _HEX)
            if end == pos + 1:
                break
            out.append(_Token(_COMMIT_HASH, version[pos + 1 : end]))
            pos = end
        elif ch == "-":
            if prev >= _REVISION_NO or not version.startswith("-r", pos):
                break
            pos = digits(_REVISION_NO, pos + 2)
        else:
            break
    if out[-1].kind < _END:
        out.append(_Token(_INVALID))
    return tuple(out)


def _cmp_int(a: int, b: int) -> int:
    return (a > b) - (a < b)


def _cmp_str(a: str, b: str) -> int:
    return (a > b) - (a < b)  # versions here are ASCII, so this is memcmp order


def _token_cmp(ta: _Token, tb: _Token) -> int:
    """Compare two tokens of the same type (apk's token_cmp)."""
    kind = ta.kind
    if kind == _DIGIT and (ta.text.startswith("0") or tb.text.startswith("0")):
        return _cmp_str(ta.text, tb.text)  # a leading zero: string order, as Gentoo
    if kind in (_INITIAL_DIGIT, _DIGIT, _SUFFIX_NO, _REVISION_NO):
        return _cmp_int(ta.number, tb.number)
    if kind == _SUFFIX:
        return _cmp_int(ta.suffix, tb.suffix)
    return _cmp_str(ta.text, tb.text)  # letter, commit hash


def _check(version: str) -> None:
    if not version:
        raise VersionError(_SCHEME, version, "version string is empty")


def compare_apk(a: str, b: str) -> int:
    """-1, 0 or 1 as apk orders a and b (apk_version_compare)."""
    _check(a)
    _check(b)
    if a == b:
        return 0
    toks_a, toks_b = _tokens(a), _tokens(b)
    i = 0
    while True:
        ta, tb = toks_a[i], toks_b[i]
        if ta.kind != tb.kind or ta.kind >= _END:
            break
        result = _token_cmp(ta, tb)
        if result:
            return result
        i += 1
    if ta.kind == tb.kind:
        return 0  # both ended, or both turned invalid at the same place
    if ta.kind == _SUFFIX and ta.suffix < _SUFFIX_NONE:
        return -1
    if tb.kind == _SUFFIX and tb.suffix < _SUFFIX_NONE:
        return 1
    return -1 if ta.kind > tb.kind else 1


def is_valid_apk(version: str) -> bool:
    """Whether apk accepts the version as well-formed (apk_version_validate)."""
    return bool(version) and _tokens(version)[-1].kind == _END
