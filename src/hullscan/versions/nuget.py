"""NuGet package versions as NuGet.Versioning's default `VersionComparer` orders them.

``MAJOR[.MINOR[.PATCH[.REVISION]]][-LABEL(.LABEL)*][+METADATA]`` (`NuGetVersion.TryParse`):
one to four numbers (each a 32-bit int, leading zeros allowed: ``1.01 == 1.1``), missing
ones are 0 (``1.0 == 1.0.0.0``). A release sorts above its prereleases; labels compare one
by one, numeric ones (no leading zeros) as numbers and below the others, the others
case-insensitively (``1.0.0-RC.1 == 1.0.0-rc.1``); more labels sort higher. Metadata is
ignored.
"""

from __future__ import annotations

import re
from functools import lru_cache

from hullscan.versions.base import VersionError

_SCHEME = "nuget"
_INT32_MAX = 2**31 - 1
_LABEL = re.compile(r"[0-9A-Za-z-]+")
_NUMBER = re.compile(r"[0-9]+")

_Label = tuple[int, int, str]
Key = tuple[tuple[int, int, int, int], tuple[int, tuple[_Label, ...]]]


def _label_key(label: str) -> _Label:
    # int.TryParse: a numeric label is one that fits an int (leading zeros were refused).
    if label.isdigit() and int(label) <= _INT32_MAX:
        return (0, int(label), "")
    return (1, 0, label.upper())  # OrdinalIgnoreCase compares upper-cased UTF-16


@lru_cache(maxsize=8192)
def nuget_key(version: str) -> Key:
    """Sort key of a NuGet version; VersionError where NuGetVersion.TryParse fails."""

    def fail(reason: str) -> VersionError:
        return VersionError(_SCHEME, version, reason)

    text = version.strip()
    main, plus, metadata = text.partition("+")
    number_part, dash, labels_part = main.partition("-")
    if plus and not all(_LABEL.fullmatch(m) for m in metadata.split(".")):
        raise fail("invalid build metadata")
    numbers = number_part.split(".")
    if not 1 <= len(numbers) <= 4 or not all(_NUMBER.fullmatch(n) for n in numbers):
        raise fail("expected 1 to 4 dot-separated numbers")
    values = [int(n) for n in numbers]
    if any(v > _INT32_MAX for v in values):
        raise fail("number above 2147483647")
    values += [0] * (4 - len(values))
    release = (values[0], values[1], values[2], values[3])
    if not dash:
        return (release, (1, ()))
    labels = labels_part.split(".")
    for label in labels:
        if not _LABEL.fullmatch(label):
            raise fail("invalid release label")
        if len(label) > 1 and label[0] == "0" and label.isdigit():
            raise fail("numeric release label with a leading zero")
    return (release, (0, tuple(_label_key(label) for label in labels)))


def compare_nuget(a: str, b: str) -> int:
    """-1, 0 or 1 as `VersionComparer.Default.Compare(NuGetVersion.Parse(a), ...(b))`."""
    ka, kb = nuget_key(a), nuget_key(b)
    return (ka > kb) - (ka < kb)
