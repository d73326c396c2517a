"""compare_semver / compare_cargo against the Rust `semver` crate (Debian's
librust-semver-dev, built offline with cargo) and semver.org's precedence examples."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hullscan.versions.base import VersionError
from hullscan.versions.semver import compare_cargo, compare_semver
from tests.versions.lang_helpers import assert_total_order, joined, mismatches, pairs_of
from tests.versions.lang_oracles import LineOracle, OracleUnavailable, cargo_semver_oracle

# semver.org, 2.0.0, item 11
ORDERED = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "2.0.0",
    "2.1.0",
    "2.1.1",
]
INVALID = ["v1.0.0", "1.0", "01.0.0", "1.0.0-01", "1.0.0-", "1.0.0+", "1.0.0-a..b", " 1.0.0"]


def test_semver_org_precedence() -> None:
    assert_total_order(compare_semver, ORDERED)
    assert compare_semver("1.0.0+build.1", "1.0.0+build.2") == 0
    assert compare_semver("1.0.0-alpha+001", "1.0.0-alpha") == 0


@pytest.mark.parametrize("version", INVALID)
def test_invalid(version: str) -> None:
    with pytest.raises(VersionError, match="cargo"):
        compare_cargo(version, "1.0.0")
    with pytest.raises(VersionError, match="semver"):
        compare_semver(version, "1.0.0")


def test_rustsec_smallvec_bounds() -> None:
    # RUSTSEC-2019-0009 (smallvec): introduced 0.6.3, fixed 0.6.10
    assert compare_cargo("0.6.9", "0.6.10") == -1
    assert compare_cargo("0.6.10", "0.6.10") == 0
    assert compare_cargo("0.6.10-alpha.1", "0.6.10") == -1


@pytest.fixture(scope="module")
def rust_semver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LineOracle]:
    try:
        oracle = cargo_semver_oracle(tmp_path_factory.mktemp("cargo-semver"))
    except OracleUnavailable as exc:
        pytest.skip(f"Rust semver oracle unavailable: {exc}")
    with oracle:
        yield oracle


_NUM = st.sampled_from(["0", "1", "2", "10", "01", "18446744073709551615"])
_IDENT = st.sampled_from(["alpha", "beta", "0", "1", "11", "01", "rc", "x-y", "1a", "-", "Z"])


@st.composite
def semverish(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(["", "", "", "v", " "]))
    text += (
        draw(joined(_NUM, st.just("."), 4))
        if draw(st.integers(0, 4)) == 0
        else ".".join(draw(st.lists(_NUM, min_size=3, max_size=3)))
    )
    if draw(st.booleans()):
        text += "-" + draw(joined(_IDENT, st.just("."), 4))
    if draw(st.integers(0, 3)) == 0:
        text += "+" + draw(joined(st.sampled_from(["build", "001", "a-b", ""]), st.just("."), 3))
    return text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs=pairs_of(semverish()))
def test_agrees_with_rust_semver(rust_semver: LineOracle, pairs: list[tuple[str, str]]) -> None:
    assert mismatches(compare_cargo, pairs, rust_semver.compare_many) == []
