"""compare_gem against Ruby's own Gem::Version (Debian's ruby), and vectors from RubyGems'
test/rubygems/test_gem_version.rb."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hullscan.versions.base import VersionError
from hullscan.versions.rubygems import compare_gem
from tests.versions.lang_helpers import joined, mismatches, pairs_of
from tests.versions.lang_oracles import LineOracle, OracleUnavailable, ruby_gem_oracle

# test_gem_version.rb test_spaceship / test_semver / test_eql
CASES = [
    ("1.0", "1.0.0", 0),
    ("1.0", "1.0.a", 1),
    ("1.8.2", "0.0.0", 1),
    ("1.8.2", "1.8.2.a", 1),
    ("1.8.2.b", "1.8.2.a", 1),
    ("1.8.2.a", "1.8.2", -1),
    ("1.8.2.a10", "1.8.2.a9", 1),
    ("", "0", 0),
    ("0.beta.1", "0.0.beta.1", 0),
    ("0.0.beta", "0.0.beta.1", -1),
    ("0.0.beta", "0.beta.1", -1),
    ("5.a", "5.0.0.rc2", -1),
    ("5.x", "5.0.0.rc2", 1),
    ("1.0.0-alpha", "1.0.0-alpha.1", -1),
    ("1.0.0-alpha.1", "1.0.0-beta.2", -1),
    ("1.0.0-beta.2", "1.0.0-beta.11", -1),
    ("1.0.0-beta.11", "1.0.0-rc.1", -1),
    ("1.0.0-rc1", "1.0.0", -1),
    ("1.0.0-1", "1", -1),
    ("1.2", "1.2.0", 0),
    ("1.2.b1", "1.2.b.1", 0),
    ("1.2", "1.2.b1", 1),
    ("  1.0\n", "1.0", 0),
]
INVALID = [
    "junk",
    "1.0\n2.0",
    "1..2",
    "1.2\\ 3.4",
    "2.3422222.222.222222222.22222.ads0as.dasd0.ddd2222.2.qd3e.",
    "1.0.",
    "-1",
]


@pytest.mark.parametrize(("a", "b", "expected"), CASES)
def test_gem_version_vectors(a: str, b: str, expected: int) -> None:
    assert compare_gem(a, b) == expected
    assert compare_gem(b, a) == -expected


@pytest.mark.parametrize("version", INVALID)
def test_malformed(version: str) -> None:
    with pytest.raises(VersionError, match="gem"):
        compare_gem(version, "1.0")


@pytest.fixture(scope="module")
def ruby() -> Iterator[LineOracle]:
    try:
        oracle = ruby_gem_oracle()
    except OracleUnavailable as exc:
        pytest.skip(f"Gem::Version oracle unavailable: {exc}")
    with oracle:
        yield oracle


_TOKEN = st.sampled_from(
    ["0", "1", "2", "10", "01", "00", "99999999999999999999", "a", "b", "pre", "rc", "beta",
     "alpha", "RC", "a1", "b10", "1a", "x", "Z", "-"]
)  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs=pairs_of(joined(_TOKEN, st.sampled_from([".", "-", "", ".", " "]), 6)))
def test_agrees_with_gem_version(ruby: LineOracle, pairs: list[tuple[str, str]]) -> None:
    assert mismatches(compare_gem, pairs, ruby.compare_many) == []


def test_vectors_agree_with_gem_version(ruby: LineOracle) -> None:
    pairs = [(a, b) for a, b, _ in CASES if "\n" not in a] + [
        (v, "1.0") for v in INVALID if "\n" not in v
    ]
    assert mismatches(compare_gem, pairs, ruby.compare_many) == []
