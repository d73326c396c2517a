"""compare_pep440 against `packaging.version` (pip's own PEP 440 implementation)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import InvalidVersion, Version

from hullscan.versions.base import VersionError
from hullscan.versions.pep440 import compare_pep440
from tests.versions.lang_helpers import assert_total_order, joined, pairs_of, verdicts

# PEP 440's own examples of the ordering ("Summary of permitted suffixes and relative
# ordering"), plus epochs and local labels.
ORDERED = [
    "1.0.dev456",
    "1.0a1",
    "1.0a2.dev456",
    "1.0a12.dev456",
    "1.0a12",
    "1.0b1.dev456",
    "1.0b2",
    "1.0b2.post345.dev456",
    "1.0b2.post345",
    "1.0rc1.dev456",
    "1.0rc1",
    "1.0",
    "1.0+abc.5",
    "1.0+abc.7",
    "1.0+5",
    "1.0.post456.dev34",
    "1.0.post456",
    "1.0.15",
    "1.1.dev1",
    "1!0.1",
]
EQUAL = [
    ("1.0", "1.0.0"),
    ("1.0", "v1.0"),
    ("1.0a1", "1.0-alpha.1"),
    ("1.0rc1", "1.0c1"),
    ("1.0rc1", "1.0-pre1"),
    ("1.0rc1", "1.0.preview.1"),
    ("1.0.post1", "1.0-1"),
    ("1.0.post1", "1.0-r1"),
    ("1.0.post0", "1.0.post"),
    ("1.0.dev0", "1.0-dev"),
    ("1.0+ubuntu-1", "1.0+ubuntu.1"),
    ("1.0+Ubuntu.1", "1.0+ubuntu.1"),
    ("0!1.0", "1.0"),
    ("1.0", " 1.0\n"),
    ("2.2.25", "2.2.25"),
]
INVALID = ["", "1.0-SNAPSHOT", "2004d", "1.0+", "1.0.", "a1.0", "1.0+ubuntu_", "1..0", "1.0-2-3"]


def test_pep440_ordering_examples() -> None:
    assert_total_order(compare_pep440, ORDERED)


@pytest.mark.parametrize(("a", "b"), EQUAL)
def test_equal_spellings(a: str, b: str) -> None:
    assert compare_pep440(a, b) == 0
    assert Version(a) == Version(b)  # and packaging agrees


@pytest.mark.parametrize("version", INVALID)
def test_invalid_versions_raise(version: str) -> None:
    with pytest.raises(VersionError, match="pep440"):
        compare_pep440(version, "1.0")
    with pytest.raises(InvalidVersion):
        Version(version)


def _packaging(pairs: list[tuple[str, str]]) -> list[int | str]:
    out: list[int | str] = []
    for a, b in pairs:
        try:
            va, vb = Version(a), Version(b)
        except InvalidVersion:
            out.append("error")
            continue
        out.append((va > vb) - (va < vb))
    return out


_NUMBER = st.sampled_from(["0", "1", "2", "10", "01", "00", "999999999999999999999"])
_PRE = st.sampled_from(["a", "alpha", "b", "beta", "c", "rc", "pre", "preview", "RC", "Alpha"])
_SEP = st.sampled_from(["", ".", "-", "_"])


@st.composite
def pep440ish(draw: st.DrawFn) -> str:
    """PEP 440 spellings, normalisable forms and near misses."""
    text = draw(st.sampled_from(["", "", "v", "V", " "]))
    if draw(st.booleans()):
        text += draw(_NUMBER) + "!"
    text += draw(joined(_NUMBER, st.just("."), 4))
    if draw(st.booleans()):
        text += draw(_SEP) + draw(_PRE) + draw(st.sampled_from(["", *"0123"]))
    if draw(st.booleans()):
        text += draw(st.sampled_from(["-1", ".post1", "post", "-r2", ".rev", "_post_3"]))
    if draw(st.booleans()):
        text += draw(st.sampled_from([".dev", "dev1", "-dev-2", "_dev0"]))
    if draw(st.booleans()):
        text += "+" + draw(joined(st.sampled_from(["abc", "1", "01", "Z9", "ubuntu"]), _SEP, 3))
    if draw(st.integers(0, 9)) == 0:  # a character PEP 440 has no place for
        pos = draw(st.integers(0, len(text)))
        text = text[:pos] + draw(st.sampled_from(list("-._+!xz ~"))) + text[pos:]
    return text


@settings(max_examples=100, deadline=None)
@given(pairs_of(pep440ish()))
def test_agrees_with_packaging(pairs: list[tuple[str, str]]) -> None:
    assert verdicts(compare_pep440, pairs) == _packaging(pairs)
