"""Maven artifact versions as Maven's own `ComparableVersion` orders them.

A port of org.apache.maven.artifact.versioning.ComparableVersion (maven-artifact 3.8, the
one Debian's maven ships and our oracle test runs): the version is split at ``.``, ``-``
and digit/letter transitions into numbers, qualifiers and sub-lists (a ``-`` or a
transition starts a sub-list); trailing "null" items (0, "", ga, final, empty lists) are
dropped, so ``1 == 1.0 == 1-0 == 1.ga``. Qualifiers order ``alpha < beta < milestone <
rc = cr < snapshot < "" = ga = final = release < sp < unknown (lexical)``, ``a1``/``b1``/``m1``
meaning alpha-1/beta-1/milestone-1; numbers sort above qualifiers and sub-lists, so
``1-sp < 1-1 < 1.1``; a qualifier after a dot counts as after a hyphen (``1.0.RC1 ==
1.0-RC1``, MNG-7644). Case-insensitive. Every string is a valid Maven version.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TypeAlias

_QUALIFIERS = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
_ALIASES = {"ga": "", "final": "", "release": "", "cr": "rc"}
_RELEASE_INDEX = str(_QUALIFIERS.index(""))
_SHORT = {"a": "alpha", "b": "beta", "m": "milestone"}

# An item: (0, int) a number, (1, comparable qualifier) a string, (2, items) a sub-list.
Item: TypeAlias = tuple[int, object]
_ZERO: Item = (0, 0)


def _qualifier(value: str) -> str:
    """ComparableVersion.comparableQualifier: known ones by rank, unknown after, lexically."""
    try:
        return str(_QUALIFIERS.index(value))
    except ValueError:
        return f"{len(_QUALIFIERS)}-{value}"


def _string_item(value: str, followed_by_digit: bool) -> Item:
    if followed_by_digit and len(value) == 1:
        value = _SHORT.get(value, value)
    return (1, _qualifier(_ALIASES.get(value, value)))


def _parse_item(is_digit: bool, text: str) -> Item:
    return (0, int(text)) if is_digit else _string_item(text, False)


def _is_null(item: Item) -> bool:
    kind, value = item
    if kind == 0:
        return value == 0
    if kind == 1:
        return value == _RELEASE_INDEX
    return not value


def _java_cmp(a: str, b: str) -> int:
    """String.compareTo's sign: UTF-16 code units, not code points."""
    ua, ub = a.encode("utf-16-be"), b.encode("utf-16-be")
    return (ua > ub) - (ua < ub)


def _compare(item: Item, other: Item | None) -> int:
    """Item.compareTo(other) of ComparableVersion, `None` being Java's null (a missing item)."""
    kind, value = item
    if kind == 0:
        if other is None:
            return 0 if value == 0 else 1
        if other[0] == 0:
            a, b = value, other[1]
            assert isinstance(a, int) and isinstance(b, int)
            return (a > b) - (a < b)
        return 1  # 1.1 > 1-sp, 1.1 > 1-1
    if kind == 1:
        assert isinstance(value, str)
        if other is None:
            return _java_cmp(value, _RELEASE_INDEX)  # 1-rc < 1, 1-sp > 1
        if other[0] == 1:
            assert isinstance(other[1], str)
            return _java_cmp(value, other[1])
        return -1  # 1.any < 1.1, 1.any < 1-1
    items = value
    assert isinstance(items, tuple)
    if other is None:
        for sub in items:  # 1-0 == 1; else the first item that is not "null" decides
            result = _compare(sub, None)
            if result:
                return result
        return 0
    if other[0] == 0:
        return -1  # 1-1 < 1.0.x
    if other[0] == 1:
        return 1  # 1-1 > 1-sp
    theirs = other[1]
    assert isinstance(theirs, tuple)
    for i in range(max(len(items), len(theirs))):
        left = items[i] if i < len(items) else None
        right = theirs[i] if i < len(theirs) else None
        if left is None:
            result = 0 if right is None else -_compare(right, None)
        else:
            result = _compare(left, right)
        if result:
            return result
    return 0


def _normalize(items: list[object]) -> None:
    """ListItem.normalize: drop null items from the end, stopping at a non-null non-list."""
    for i in range(len(items) - 1, -1, -1):
        item = items[i]
        if isinstance(item, list):
            if not item:
                del items[i]
        elif _is_null(item):  # type: ignore[arg-type]
            del items[i]
        else:
            break


def _freeze(items: list[object]) -> Item:
    return (2, tuple(_freeze(i) if isinstance(i, list) else i for i in items))


@lru_cache(maxsize=8192)
def maven_key(version: str) -> Item:
    """The parsed item list of `version` (ComparableVersion.parseVersion)."""
    text = version.lower()
    root: list[object] = []
    current = root
    stack = [root]
    is_digit = False
    start = 0

    def sublist() -> None:
        nonlocal current
        new: list[object] = []
        current.append(new)
        current = new
        stack.append(new)

    for i, char in enumerate(text):
        if char in ".-":
            current.append(_ZERO if i == start else _parse_item(is_digit, text[start:i]))
            start = i + 1
            if char == "-":
                sublist()
        elif char.isdecimal():  # Character.isDigit
            if not is_digit and i > start:
                if current:  # 1.0.0.X1 == 1.0.0-X1: ".X" is read as "-X" (MNG-7644)
                    sublist()
                current.append(_string_item(text[start:i], True))
                start = i
                sublist()
            is_digit = True
        else:
            if is_digit and i > start:
                current.append(_parse_item(True, text[start:i]))
                start = i
                sublist()
            is_digit = False
    if len(text) > start:
        if not is_digit and current:
            sublist()
        current.append(_parse_item(is_digit, text[start:]))
    while stack:
        _normalize(stack.pop())
    return _freeze(root)


def compare_maven(a: str, b: str) -> int:
    """-1, 0 or 1 as `new ComparableVersion(a).compareTo(new ComparableVersion(b))`."""
    result = _compare(maven_key(a), maven_key(b))
    return (result > 0) - (result < 0)
