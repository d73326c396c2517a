"""compare_maven against Maven's ComparableVersion itself (Debian's maven-artifact jar, run
by java), and the vectors of Maven's ComparableVersionTest (apache/maven,
maven-artifact/src/test/java/org/apache/maven/artifact/versioning/ComparableVersionTest.java)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hullscan.versions.maven import compare_maven
from tests.versions.lang_helpers import assert_total_order, joined, mismatches, pairs_of
from tests.versions.lang_oracles import LineOracle, OracleUnavailable, maven_oracle

VERSIONS_QUALIFIER = [
    "1-alpha2snapshot", "1-alpha2", "1-alpha-123", "1-beta-2", "1-beta123", "1-m2", "1-m11",
    "1-rc", "1-cr2", "1-rc123", "1-SNAPSHOT", "1", "1-sp", "1-sp2", "1-sp123", "1-abc",
    "1-def", "1-pom-1", "1-1-snapshot", "1-1", "1-2", "1-123",
]  # fmt: skip
# Since MNG-7644 (maven-artifact 3.8.7's test): "2.0.a" == "2.0.0.a" == "2-a" < "2-1".
VERSIONS_NUMBER = [
    "2.0", "2.0.a", "2-1", "2.0.2", "2.0.123", "2.1.0", "2.1-a", "2.1b", "2.1-c",
    "2.1-1", "2.1.0.1", "2.2", "2.123", "11.a2", "11.a11", "11.b2", "11.b11", "11.m2",
    "11.m11", "11", "11.a", "11b", "11c", "11m",
]  # fmt: skip
EQUAL = [
    ("1", "1"), ("1", "1.0"), ("1", "1.0.0"), ("1.0", "1.0.0"), ("1", "1-0"), ("1", "1.0-0"),
    ("1.0", "1.0-0"), ("1a", "1-a"), ("1a", "1.0-a"), ("1a", "1.0.0-a"), ("1.0a", "1-a"),
    ("1.0.0a", "1-a"), ("1x", "1-x"), ("1x", "1.0-x"), ("1x", "1.0.0-x"), ("1.0x", "1-x"),
    ("1.0.0x", "1-x"), ("1ga", "1"), ("1release", "1"), ("1final", "1"), ("1cr", "1rc"),
    ("1a1", "1-alpha-1"), ("1b2", "1-beta-2"), ("1m3", "1-milestone-3"), ("1X", "1x"),
    ("1A", "1a"), ("1B", "1b"), ("1M", "1m"), ("1Ga", "1"), ("1GA", "1"), ("1RELEASE", "1"),
    ("1Final", "1"), ("1FinaL", "1"), ("1FINAL", "1"), ("1Cr", "1Rc"), ("1cR", "1rC"),
    ("1m3", "1Milestone3"), ("1m3", "1MileStone3"), ("1m3", "1MILESTONE3"),
    ("1-abcdefghijklmnopqrstuvwxyz", "1-ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    ("0000000000000000001", "1"), ("1.0.0.RC1", "1.0.0-RC1"), ("2.0.a", "2.0.0.a"),
]  # fmt: skip
LESS = [
    ("1", "2"), ("1.5", "2"), ("1", "2.5"), ("1.0", "1.1"), ("1.1", "1.2"), ("1.0.0", "1.1"),
    ("1.0.1", "1.1"), ("1.1", "1.2.0"), ("1.0-alpha-1", "1.0"), ("1.0-alpha-1", "1.0-alpha-2"),
    ("1.0-alpha-1", "1.0-beta-1"), ("1.0-beta-1", "1.0-SNAPSHOT"), ("1.0-SNAPSHOT", "1.0"),
    ("1.0-alpha-1-SNAPSHOT", "1.0-alpha-1"), ("1.0", "1.0-1"), ("1.0-1", "1.0-2"),
    ("1.0.0", "1.0-1"), ("2.0-1", "2.0.1"), ("2.0.1-klm", "2.0.1-lmn"), ("2.0.1", "2.0.1-xyz"),
    ("2.0.1", "2.0.1-123"), ("2.0.1-xyz", "2.0.1-123"),
    # log4j-core around CVE-2021-44228's fix
    ("2.14.1", "2.15.0"), ("2.15.0-rc1", "2.15.0"), ("2.0-beta9", "2.0"), ("2.0-rc1", "2.0"),
]  # fmt: skip


def test_versions_qualifier_order() -> None:
    assert_total_order(compare_maven, VERSIONS_QUALIFIER)


def test_versions_number_order() -> None:
    assert_total_order(compare_maven, VERSIONS_NUMBER)


@pytest.mark.parametrize(("a", "b"), EQUAL)
def test_equal(a: str, b: str) -> None:
    assert compare_maven(a, b) == compare_maven(b, a) == 0


@pytest.mark.parametrize(("a", "b"), LESS)
def test_less(a: str, b: str) -> None:
    assert compare_maven(a, b) == -1
    assert compare_maven(b, a) == 1


@pytest.fixture(scope="module")
def maven(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LineOracle]:
    try:
        oracle = maven_oracle(tmp_path_factory.mktemp("maven"))
    except OracleUnavailable as exc:
        pytest.skip(f"Maven oracle unavailable: {exc}")
    with oracle:
        yield oracle


_TOKEN = st.sampled_from(
    ["0", "1", "2", "10", "01", "123", "9999999999", "99999999999999999999", "a", "b", "m",
     "alpha", "beta", "milestone", "rc", "cr", "snapshot", "SNAPSHOT", "ga", "final",
     "release", "sp", "abc", "x", "RC1", "a1", "b2", "m3", "1a", "2b", "pom", ""]
)  # fmt: skip
_SEP = st.sampled_from([".", "-", "", ".", "-"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs=pairs_of(joined(_TOKEN, _SEP, 6)))
def test_agrees_with_comparable_version(maven: LineOracle, pairs: list[tuple[str, str]]) -> None:
    assert mismatches(compare_maven, pairs, maven.compare_many) == []


@settings(max_examples=50, deadline=None)
@given(pairs=pairs_of(st.text(alphabet="01239.-_abcmprsxAR+", max_size=12)))
def test_agrees_on_any_text(maven: LineOracle, pairs: list[tuple[str, str]]) -> None:
    assert mismatches(compare_maven, pairs, maven.compare_many) == []


def test_vectors_agree_with_comparable_version(maven: LineOracle) -> None:
    pairs = [*EQUAL, *LESS]
    pairs += [(a, b) for a in VERSIONS_QUALIFIER for b in VERSIONS_QUALIFIER]
    pairs += [(a, b) for a in VERSIONS_NUMBER for b in VERSIONS_NUMBER]
    assert mismatches(compare_maven, pairs, maven.compare_many) == []


def test_oracle_is_maven_3_8_or_later(maven: LineOracle) -> None:
    # The port follows maven-artifact 3.8 (MNG-7644 ".X1 == -X1", the "release" alias).
    assert maven.compare_many([("1.0.0.RC1", "1.0.0-RC1")]) == [0], Path(maven.version)
