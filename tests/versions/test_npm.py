"""compare_npm against node-semver itself (the `semver` package npm uses), run by node.

The package is installed from the npm registry into a temp dir once per session; without
node, npm or the registry the oracle test skips and says why. The spot checks below are
node-semver's own test fixtures (test/fixtures/comparisons.js, equality.js).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hullscan.versions.base import VersionError
from hullscan.versions.npm import compare_npm
from tests.versions.lang_helpers import joined, mismatches, pairs_of
from tests.versions.lang_oracles import (
    LineOracle,
    OracleUnavailable,
    install_node_semver,
    node_semver_oracle,
)

# node-semver test/fixtures/comparisons.js: [greater, lesser]
GREATER = [
    ("0.0.0", "0.0.0-foo"),
    ("0.0.1", "0.0.0"),
    ("1.0.0", "0.9.9"),
    ("0.10.0", "0.9.0"),
    ("0.99.0", "0.10.0"),
    ("2.0.0", "1.2.3"),
    ("v0.0.0", "0.0.0-foo"),
    ("v0.0.1", "0.0.0"),
    ("v1.0.0", "0.9.9"),
    ("1.2.3", "1.2.3-asdf"),
    ("1.2.3", "1.2.3-4"),
    ("1.2.3", "1.2.3-4-foo"),
    ("1.2.3-5-foo", "1.2.3-5"),
    ("1.2.3-5", "1.2.3-4"),
    ("1.2.3-5-foo", "1.2.3-5-Foo"),
    ("3.0.0", "2.7.2+asdf"),
    ("1.2.3-a.10", "1.2.3-a.5"),
    ("1.2.3-a.b", "1.2.3-a.5"),
    ("1.2.3-a.b", "1.2.3-a"),
    ("1.2.3-a.b.c.10.d.5", "1.2.3-a.b.c.5.d.100"),
    ("1.2.3-r2", "1.2.3-r100"),
    ("1.2.3-r100", "1.2.3-R2"),
]
# test/fixtures/equality.js (the strict-mode ones)
EQUAL = [
    ("1.2.3", "v1.2.3"),
    ("1.2.3-beta+build", "1.2.3-beta+otherbuild"),
    ("1.2.3+build", "1.2.3+otherbuild"),
    ("  v1.2.3+build", "1.2.3+otherbuild"),
]
INVALID = ["1.2", "01.2.3", "1.2.3-01", "=1.2.3", "V1.2.3", "1.2.3.4", "1.2.3-", "1.2.3+", "x"]


@pytest.mark.parametrize(("greater", "lesser"), GREATER)
def test_node_semver_comparisons(greater: str, lesser: str) -> None:
    assert compare_npm(greater, lesser) == 1
    assert compare_npm(lesser, greater) == -1


@pytest.mark.parametrize(("a", "b"), EQUAL)
def test_node_semver_equality(a: str, b: str) -> None:
    assert compare_npm(a, b) == 0


@pytest.mark.parametrize("version", [*INVALID, "1.2.3-" + "a" * 260, "9007199254740992.0.0"])
def test_invalid(version: str) -> None:
    with pytest.raises(VersionError, match="npm"):
        compare_npm(version, "1.0.0")


@pytest.fixture(scope="module")
def node_semver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LineOracle]:
    try:
        prefix = install_node_semver(tmp_path_factory.mktemp("node-semver"))
        oracle = node_semver_oracle(prefix)
    except OracleUnavailable as exc:
        pytest.skip(f"node-semver oracle unavailable: {exc}")
    with oracle:
        yield oracle


_NUM = st.sampled_from(["0", "1", "2", "10", "01", "9007199254740991", "9007199254740992"])
_IDENT = st.sampled_from(
    ["alpha", "beta", "Beta", "0", "1", "2", "10", "01", "rc", "x-y", "1a", "-", "a1", "9" * 17]
)


@st.composite
def npmish(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(["", "", "", "v", "=", " ", "V"]))
    text += draw(joined(_NUM, st.just("."), 4) if draw(st.integers(0, 5)) == 0 else st.just(""))
    if not text.strip(" v=V"):
        text += ".".join(draw(st.lists(_NUM, min_size=3, max_size=3)))
    if draw(st.booleans()):
        text += "-" + draw(joined(_IDENT, st.just("."), 4))
    if draw(st.integers(0, 3)) == 0:
        text += "+" + draw(joined(st.sampled_from(["build", "001", "a-b", ""]), st.just("."), 3))
    if draw(st.integers(0, 9)) == 0:
        text += draw(st.sampled_from([" ", ".", "-", "+", "~"]))
    return text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs=pairs_of(npmish()))
def test_agrees_with_node_semver(node_semver: LineOracle, pairs: list[tuple[str, str]]) -> None:
    assert mismatches(compare_npm, pairs, node_semver.compare_many) == []


def test_spot_checks_agree_with_node_semver(node_semver: LineOracle) -> None:
    pairs = [*GREATER, *EQUAL, *((v, "1.0.0") for v in INVALID)]
    assert mismatches(compare_npm, pairs, node_semver.compare_many) == []
