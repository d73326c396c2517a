"""compare_nuget against NuGet.Versioning's own tests (NuGet/NuGet.Client,
test/NuGet.Core.Tests/NuGet.Versioning.Test: VersionComparerTests.cs,
VersionParsingTests.cs). No .NET here to run NuGet itself: vectors only."""

from __future__ import annotations

import pytest

from hullscan.versions.base import VersionError
from hullscan.versions.nuget import compare_nuget

# VersionComparisonDefaultEqual, VersionLength
EQUAL = [
    ("1.0.0", "1.0.0"),
    ("1.0.0-BETA", "1.0.0-beta"),
    ("1.0.0-BETA+AA", "1.0.0-beta+aa"),
    ("1.0.0-BETA.X.y.5.77.0+AA", "1.0.0-beta.x.y.5.77.0+aa"),
    ("2", "2.0.0"),
    ("2.0", "2.0.0"),
    ("2.0.0.0", "2.0.0"),
    ("1.01.1", "1.1.1"),  # System.Version reads numbers with leading zeros
]
# VersionComparisonDefaultLess
LESS = [
    ("0.0.0", "1.0.0"),
    ("1.0.0", "1.1.0"),
    ("1.0.0", "1.0.1"),
    ("1.999.9999", "2.1.1"),
    ("1.0.0-BETA", "1.0.0-beta2"),
    ("1.0.0-beta+AA", "1.0.0+aa"),
    ("1.0.0-BETA", "1.0.0-beta.1+AA"),
    ("1.0.0-BETA.X.y.5.77.0+AA", "1.0.0-beta.x.y.5.79.0+aa"),
    ("1.0.0-BETA.X.y.5.79.0+AA", "1.0.0-beta.x.y.5.790.0+abc"),
    # the fourth number (legacy NuGet versions)
    ("1.0.0", "1.0.0.1"),
    ("1.0.0.1-beta", "1.0.0.1"),
    ("1.0.0.9", "1.0.0.10"),
    # numeric labels below alphanumeric ones
    ("1.0.0-1", "1.0.0-a"),
]
INVALID = [
    "",
    "1.0.0.0.0",
    "1.0.0-",
    "1.0.0-beta..1",
    "1.0.0-01",
    "1.0.0+",
    "a.b.c",
    "2147483648.0",
    "1.0.0-b€ta",
]


@pytest.mark.parametrize(("a", "b"), EQUAL)
def test_equal(a: str, b: str) -> None:
    assert compare_nuget(a, b) == compare_nuget(b, a) == 0


@pytest.mark.parametrize(("a", "b"), LESS)
def test_less(a: str, b: str) -> None:
    assert compare_nuget(a, b) == -1
    assert compare_nuget(b, a) == 1


@pytest.mark.parametrize("version", INVALID)
def test_invalid(version: str) -> None:
    with pytest.raises(VersionError, match="nuget"):
        compare_nuget(version, "1.0.0")
