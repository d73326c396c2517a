"""compare_composer against composer/semver (Debian php-composer-semver) and PHP's own
version_compare, plus vectors from composer/semver's VersionParserTest and PHP's docs."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hullscan.versions.base import VersionError
from hullscan.versions.composer import compare_composer, normalize_composer, php_version_compare
from tests.versions.lang_helpers import joined, mismatches, pairs_of
from tests.versions.lang_oracles import LineOracle, OracleUnavailable, php_oracle

# composer/semver tests/VersionParserTest.php successfulNormalizedVersions (a selection)
NORMALIZED = [
    ("1.0.0", "1.0.0.0"),
    ("1.2.3.4", "1.2.3.4"),
    ("1.0.0RC1dev", "1.0.0.0-RC1-dev"),
    ("1.0.0-rC15-dev", "1.0.0.0-RC15-dev"),
    ("1.0.0.RC.15-dev", "1.0.0.0-RC15-dev"),
    ("1.0.0-rc1", "1.0.0.0-RC1"),
    ("1.0.0.pl3-dev", "1.0.0.0-patch3-dev"),
    ("1.0-dev", "1.0.0.0-dev"),
    ("0", "0.0.0.0"),
    ("10.4.13-beta", "10.4.13.0-beta"),
    ("10.4.13beta2", "10.4.13.0-beta2"),
    ("10.4.13beta.2", "10.4.13.0-beta2"),
    ("v1.13.11-beta.0", "1.13.11.0-beta0"),
    ("10.4.13-b", "10.4.13.0-beta"),
    ("10.4.13-b5", "10.4.13.0-beta5"),
    ("v1.0.0", "1.0.0.0"),
    ("v20100102", "20100102"),
    ("2010.01", "2010.01.0.0"),
    ("2010.01.02", "2010.01.02.0"),
    ("2010-01-02", "2010.01.02"),
    ("2010-01-02.5", "2010.01.02.5"),
    ("20100102-203040", "20100102.203040"),
    ("20100102203040-10", "20100102203040.10"),
    ("20100102-203040-p1", "20100102.203040-patch1"),
    ("dev-master", "dev-master"),
    ("master", "dev-master"),
    ("dev-feature-foo", "dev-feature-foo"),
    ("1.x-dev", "1.9999999.9999999.9999999-dev"),
    ("2.1.x-dev", "2.1.9999999.9999999-dev"),
    ("1.0.0+foo@dev", "1.0.0.0"),
    ("1.0.0-alpha.3.1+foo/-bar@dev", "1.0.0.0-alpha3.1"),
    ("1.0.0 as 1.0.x-dev", "1.0.0.0"),
    ("  1.0.0", "1.0.0.0"),
]
# (a, b, expected): PHP's version_compare documentation and Packagist advisories' bounds
CASES = [
    ("5.2", "5.2.0", 0),
    ("1.0.0-beta2", "1.0.0", -1),
    ("1.0.0-dev", "1.0.0-alpha1", -1),
    ("1.0.0-alpha1", "1.0.0-beta1", -1),
    ("1.0.0-beta1", "1.0.0-RC1", -1),
    ("1.0.0-RC1", "1.0.0", -1),
    ("1.0.0", "1.0.0-p1", -1),
    ("v4.4.46", "4.4.46", 0),
    ("4.4.45", "4.4.46", -1),
    ("4.8.6", "4.5.0", 1),
    ("2.1.x-dev", "2.1.5", 1),
]


@pytest.mark.parametrize(("version", "normalized"), NORMALIZED)
def test_normalize(version: str, normalized: str) -> None:
    assert normalize_composer(version) == normalized


@pytest.mark.parametrize(("a", "b", "expected"), CASES)
def test_compare(a: str, b: str, expected: int) -> None:
    assert compare_composer(a, b) == expected
    assert compare_composer(b, a) == -expected


@pytest.mark.parametrize("version", ["dev-master", "master", "1.0.0-meh", "a", "1.0.0-foo/bar", ""])
def test_branches_and_junk_raise(version: str) -> None:
    with pytest.raises(VersionError, match="composer"):
        compare_composer(version, "1.0.0")


def test_php_version_compare_special_forms() -> None:
    forms = [b"1.0dev", b"1.0alpha", b"1.0b", b"1.0RC1", b"1.0", b"1.0pl1"]
    for low, high in itertools.pairwise(forms):
        assert php_version_compare(low, high) == -1, (low, high)
    assert php_version_compare(b"1.0a", b"1.0alpha") == 0
    assert php_version_compare(b"1.0foo", b"1.0dev") == -1  # unknown words lowest


@pytest.fixture(scope="module")
def composer() -> Iterator[LineOracle]:
    try:
        oracle = php_oracle()
    except OracleUnavailable as exc:
        pytest.skip(f"composer/semver oracle unavailable: {exc}")
    with oracle:
        yield oracle


@pytest.fixture(scope="module")
def php() -> Iterator[LineOracle]:
    try:
        oracle = php_oracle(raw=True)
    except OracleUnavailable as exc:
        pytest.skip(f"PHP oracle unavailable: {exc}")
    with oracle:
        yield oracle


@st.composite
def composerish(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(["", "", "v", "V", " "]))
    if draw(st.integers(0, 5)) == 0:
        text += draw(st.sampled_from(["2010-01-02", "20100102", "2024.01.05.1", "201001"]))
    else:
        text += draw(
            joined(
                st.sampled_from(["0", "1", "2", "10", "01", "123456", "x", "*"]), st.just("."), 4
            )
        )
    if draw(st.booleans()):
        text += draw(st.sampled_from(["", "-", ".", "_"])) + draw(
            st.sampled_from(
                ["beta", "b", "RC", "rc", "alpha", "a", "patch", "pl", "p", "stable", "foo"]
            )
        )
        text += draw(st.sampled_from(["", "1", "2", ".3", "-4", "10", "1.2"]))
    if draw(st.integers(0, 3)) == 0:
        text += draw(
            st.sampled_from(["-dev", ".dev", "dev", "@dev", "@stable", "+build", "+b.1", " as 1.0"])
        )
    return text


def _composer_compare(a: str, b: str) -> int:
    return compare_composer(a, b)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs=pairs_of(composerish()))
def test_agrees_with_composer(composer: LineOracle, pairs: list[tuple[str, str]]) -> None:
    assert mismatches(_composer_compare, pairs, composer.compare_many) == []


def _php(a: str, b: str) -> int:
    return php_version_compare(a.encode(), b.encode())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs=pairs_of(st.text(alphabet="0123456789.-_+#abdeplrcvRCx ", max_size=14)))
def test_agrees_with_php_version_compare(php: LineOracle, pairs: list[tuple[str, str]]) -> None:
    assert mismatches(_php, pairs, php.compare_many) == []


def test_vectors_agree_with_composer(composer: LineOracle) -> None:
    pairs = [(a, b) for a, b, _ in CASES] + [(v, "1.0.0") for v, _ in NORMALIZED]
    assert mismatches(_composer_compare, pairs, composer.compare_many) == []
