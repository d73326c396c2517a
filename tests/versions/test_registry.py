"""The scheme registry and AffectedRange semantics (introduced / fixed / last_affected)."""

from __future__ import annotations

import pytest

from hullscan.errors import HullscanError
from hullscan.model import AffectedRange
from hullscan.versions.apk import compare_apk
from hullscan.versions.base import Comparator, UnknownSchemeError, VersionError
from hullscan.versions.dpkg import compare_dpkg
from hullscan.versions.registry import comparator, in_range


def test_known_schemes() -> None:
    assert comparator("dpkg") is compare_dpkg
    assert comparator("deb") is compare_dpkg
    assert comparator("apk") is compare_apk


def test_unknown_scheme_names_the_known_ones() -> None:
    with pytest.raises(
        UnknownSchemeError,
        match=r"'nosuchscheme'.*apk, cargo, composer, deb, dpkg, gem, go, golang",
    ) as info:
        comparator("nosuchscheme")
    assert isinstance(info.value, HullscanError)
    assert isinstance(info.value, LookupError)


def test_version_error_is_a_value_error_that_pickles() -> None:
    import pickle

    err = VersionError("dpkg", "1.0-", "revision number is empty")
    assert isinstance(err, ValueError) and isinstance(err, HullscanError)
    copy = pickle.loads(pickle.dumps(err))
    assert str(copy) == str(err) == "invalid dpkg version '1.0-': revision number is empty"


DPKG = comparator("dpkg")
APK = comparator("apk")
R = AffectedRange

CASES: list[tuple[str, AffectedRange, Comparator, bool]] = [
    # fixed is exclusive
    ("1.0-1", R(fixed="1.0-2"), DPKG, True),
    ("1.0-2", R(fixed="1.0-2"), DPKG, False),
    ("1.0-2+b1", R(fixed="1.0-2"), DPKG, False),
    ("1.0-2~deb11u1", R(fixed="1.0-2"), DPKG, True),  # ~ is before the fix
    # introduced is inclusive
    ("2.0", R(introduced="2.0", fixed="2.5"), DPKG, True),
    ("1.9", R(introduced="2.0", fixed="2.5"), DPKG, False),
    ("2.0~rc1", R(introduced="2.0", fixed="2.5"), DPKG, False),
    # "0" and None both mean "from the beginning", even below the version "0"
    ("0~beta", R(introduced="0", fixed="1.0"), DPKG, True),
    ("0~beta", R(introduced=None, fixed="1.0"), DPKG, True),
    ("0_alpha", R(introduced="0", fixed="1.0"), APK, True),
    # last_affected is inclusive
    ("3.1", R(introduced="3.0", last_affected="3.1"), DPKG, True),
    ("3.1-1", R(introduced="3.0", last_affected="3.1"), DPKG, False),
    ("3.1_rc1", R(last_affected="3.1"), APK, True),
    ("3.1-r0", R(last_affected="3.1"), APK, False),
    # no upper bound: everything from introduced on
    ("99:1.0", R(introduced="1.0"), DPKG, True),
    ("0.9", R(introduced="1.0"), DPKG, False),
    ("1.0", R(), DPKG, True),
    # both upper bounds given: both apply
    ("2.0", R(fixed="3.0", last_affected="1.5"), DPKG, False),
    ("1.5", R(fixed="3.0", last_affected="1.5"), DPKG, True),
    # apk: real secdb fixes
    ("1.1.1d-r2", R(fixed="1.1.1d-r3"), APK, True),
    ("1.1.1g-r0", R(fixed="1.1.1d-r3"), APK, False),
    ("7.9_p1-r2", R(fixed="7.9_p1-r3"), APK, True),
    ("2.0.0_rc4-r0", R(fixed="2.0.0-r0"), APK, True),
]


@pytest.mark.parametrize(("version", "affected", "compare", "expected"), CASES)
def test_in_range(
    version: str, affected: AffectedRange, compare: Comparator, expected: bool
) -> None:
    assert in_range(version, affected, compare) is expected


def test_in_range_reports_bad_versions() -> None:
    with pytest.raises(VersionError):
        in_range("1.0-", R(fixed="2.0"), DPKG)
    with pytest.raises(VersionError):
        in_range("1.0", R(fixed=""), APK)


@pytest.mark.parametrize(
    ("scheme", "low", "high"),
    [
        ("pypi", "2.2.24", "2.2.25"),
        ("pep440", "1.0rc1", "1.0"),
        ("npm", "4.17.21-rc.1", "4.17.21"),
        ("semver", "1.0.0-alpha", "1.0.0"),
        ("cargo", "0.6.9", "0.6.10"),
        ("maven", "2.15.0-rc1", "2.15.0"),
        ("go", "v0.0.0-20220826154423-83b083e8dc8b", "0.0.0-20220906165146-f3363e06e74c"),
        ("golang", "go1.19rc2", "1.19.0"),
        ("gem", "1.0.a", "1.0"),
        ("rubygems", "5.2.4.rc1", "5.2.4"),
        ("composer", "v4.4.45", "4.4.46"),
        ("nuget", "1.0.0-beta", "1.0.0.1"),
    ],
)
def test_language_schemes(scheme: str, low: str, high: str) -> None:
    compare = comparator(scheme)
    assert compare(low, high) == -1 and compare(high, low) == 1
    assert in_range(low, AffectedRange(introduced="0", fixed=high), compare)
    assert not in_range(high, AffectedRange(fixed=high), compare)
