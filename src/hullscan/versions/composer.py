"""Composer (Packagist) versions as composer/semver compares them.

Composer normalises a version first (`VersionParser::normalize`: ``v1.2`` -> ``1.2.0.0``,
``1.0-beta2`` -> ``1.0.0.0-beta2``, ``2.1.x-dev`` -> ``2.1.9999999.9999999-dev``, dates
``2024.01.05``) and then lets PHP's `version_compare` order the results, which ranks
``dev < alpha = a < beta = b < RC = rc < (number) < pl = p`` and puts unknown words lowest.
Both halves are ported here. Branch names (``dev-main``) are not versions and raise
VersionError: Composer never orders them against releases either.
"""

from __future__ import annotations

import re
from functools import lru_cache

from hullscan.versions.base import VersionError

_SCHEME = "composer"
_MODIFIER = r"[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?[0-9]+)*+)?)?([.-]?dev)?"
_STABILITIES = r"stable|RC|beta|alpha|dev"
_CLASSICAL = re.compile(
    r"v?([0-9]{1,5})(\.[0-9]++)?(\.[0-9]++)?(\.[0-9]++)?" + _MODIFIER, re.IGNORECASE
)
_DATE = re.compile(
    r"v?([0-9]{4}(?:[.:-]?[0-9]{2}){1,6}(?:[.:-]?[0-9]{1,3})?)" + _MODIFIER, re.IGNORECASE
)
_ALIAS = re.compile(r"([^,\s]++) ++as ++([^,\s]++)")
_FLAG = re.compile(rf"@(?:{_STABILITIES})$", re.IGNORECASE)
_BUILD = re.compile(r"([^,\s+]++)\+[^\s]++")
_DEV_SUFFIX = re.compile(r"(.*?)[.-]?dev", re.IGNORECASE)
_BRANCH = re.compile(
    r"v?([0-9]++)(\.(?:[0-9]++|[xX*]))?(\.(?:[0-9]++|[xX*]))?(\.(?:[0-9]++|[xX*]))?",
    re.IGNORECASE,
)
_EXPAND = {"a": "alpha", "b": "beta", "p": "patch", "pl": "patch", "rc": "RC"}
# PHP's trim(): " \t\n\r\0\x0B".
_PHP_SPACE = " \t\n\r\0\x0b"


def _normalize_branch(name: str) -> str:
    match = _BRANCH.fullmatch(name.strip(_PHP_SPACE))
    if match is None:
        return "dev-" + name
    parts = [
        match[i].replace("*", "x").replace("X", "x") if match[i] else ".x" for i in (1, 2, 3, 4)
    ]
    return "".join(parts).replace("x", "9999999") + "-dev"


@lru_cache(maxsize=8192)
def normalize_composer(version: str) -> str:
    """VersionParser::normalize; VersionError where Composer throws UnexpectedValueException."""
    text = version.strip(_PHP_SPACE)
    if (alias := _ALIAS.fullmatch(text)) is not None:
        text = alias[1]
    if (flag := _FLAG.search(text)) is not None:
        text = text[: flag.start()]
    if text in ("master", "trunk", "default"):
        text = "dev-" + text
    if text[:4].lower() == "dev-":
        return "dev-" + text[4:]
    if (build := _BUILD.fullmatch(text)) is not None:
        text = build[1]
    index = 0
    if (match := _CLASSICAL.fullmatch(text)) is not None:
        text = match[1] + (match[2] or ".0") + (match[3] or ".0") + (match[4] or ".0")
        index = 5
    elif (match := _DATE.fullmatch(text)) is not None:
        text = re.sub(r"[^0-9]", ".", match[1])
        index = 2
    if match is not None:
        stability, number, dev = match[index], match[index + 1], match[index + 2]
        if stability:
            if stability == "stable":
                return text
            text += "-" + _EXPAND.get(stability.lower(), stability.lower())
            text += (number or "").lstrip(".-")
        if dev:
            text += "-dev"
        return text
    if (dev_branch := _DEV_SUFFIX.fullmatch(text)) is not None:
        normalized = _normalize_branch(dev_branch[1])
        if "dev-" not in normalized:
            return normalized
    raise VersionError(_SCHEME, version, "invalid version string")


def _canonicalize(version: bytes) -> bytes:
    """php_canonicalize_version: ``-_+`` and other symbols become '.', and a '.' goes
    between a digit and a non-digit; never two dots in a row."""
    if not version:
        return b""
    out = bytearray(version[:1])
    last = version[0]
    for char in version[1:]:
        dot_needed = out[-1] != 0x2E
        if char in b"-_+":
            if dot_needed:
                out.append(0x2E)
        elif (_is_non_digit(last) and _is_digit(char)) or (_is_digit(last) and _is_non_digit(char)):
            if dot_needed:
                out.append(0x2E)
            out.append(char)
        elif not (_is_digit(char) or _is_alpha(char)):
            if dot_needed:
                out.append(0x2E)
        else:
            out.append(char)
        last = char
    return bytes(out)


def _is_non_digit(char: int) -> bool:
    return not _is_digit(char) and char != 0x2E


def _is_digit(char: int) -> bool:
    return 0x30 <= char <= 0x39


def _is_alpha(char: int) -> bool:
    return 0x41 <= char <= 0x5A or 0x61 <= char <= 0x7A


# compare_special_version_forms: prefixes, first match wins; anything else ranks -1.
_FORMS = (
    (b"dev", 0),
    (b"alpha", 1),
    (b"a", 1),
    (b"beta", 2),
    (b"b", 2),
    (b"RC", 3),
    (b"rc", 3),
    (b"#", 4),
    (b"pl", 5),
    (b"p", 5),
)


def _form(text: bytes) -> int:
    for prefix, order in _FORMS:
        if text.startswith(prefix):
            return order
    return -1


def _strtol(text: bytes) -> int:
    digits = re.match(rb"[0-9]*", text)
    assert digits is not None
    return min(int(digits.group() or b"0"), 2**63 - 1)


def php_version_compare(a: bytes, b: bytes) -> int:
    """PHP's version_compare(a, b) (ext/standard/versioning.c), on bytes.

    Walks both canonical versions part by part until one runs out of parts; the longer
    one wins if its next part is a number, else its rest is compared with a number.
    """
    if not a or not b:
        return 0 if not a and not b else (1 if a else -1)
    v1 = a if a.startswith(b"#") else _canonicalize(a)
    v2 = b if b.startswith(b"#") else _canonicalize(b)
    pos1 = pos2 = 0
    more1 = more2 = True  # C's n1/n2: a '.' followed the part just compared
    while pos1 < len(v1) and pos2 < len(v2) and more1 and more2:
        end1, end2 = v1.find(b".", pos1), v2.find(b".", pos2)
        more1, more2 = end1 >= 0, end2 >= 0
        p1 = v1[pos1:end1] if more1 else v1[pos1:]
        p2 = v2[pos2:end2] if more2 else v2[pos2:]
        digit1 = bool(p1) and _is_digit(p1[0])
        digit2 = bool(p2) and _is_digit(p2[0])
        if digit1 and digit2:
            compare = _sign(_strtol(p1) - _strtol(p2))
        elif not digit1 and not digit2:
            compare = _sign(_form(p1) - _form(p2))
        elif digit1:
            compare = _sign(_form(b"#N#") - _form(p2))
        else:
            compare = _sign(_form(p1) - _form(b"#N#"))
        if compare:
            return compare
        if more1:
            pos1 = end1 + 1
        if more2:
            pos2 = end2 + 1
    if more1:
        rest = v1[pos1:]
        return 1 if rest[:1].isdigit() else php_version_compare(rest, b"#N#")
    if more2:
        rest = v2[pos2:]
        return -1 if rest[:1].isdigit() else php_version_compare(b"#N#", rest)
    return 0


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


def compare_composer(a: str, b: str) -> int:
    """-1, 0 or 1 as Composer orders two package versions (normalize + version_compare)."""
    na, nb = normalize_composer(a), normalize_composer(b)
    for original, normal in ((a, na), (b, nb)):
        if normal.startswith("dev-"):
            raise VersionError(_SCHEME, original, "a branch, not a version")
    return php_version_compare(na.encode(), nb.encode())
