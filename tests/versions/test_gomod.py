"""compare_gomod against golang.org/x/mod/semver itself (the copy vendored in the Go
toolchain's source, built offline), plus that package's own test vectors and the Go
toolchain tags the Go vulnerability database converts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hullscan.versions.base import VersionError
from hullscan.versions.gomod import compare_gomod, go_tag_to_semver
from tests.versions.lang_helpers import assert_total_order, joined, mismatches, pairs_of
from tests.versions.lang_oracles import LineOracle, OracleUnavailable, go_semver_oracle

# golang.org/x/mod/semver semver_test.go: the valid versions of its `tests` table, in order.
ORDERED = [
    "v0.1.0-alpha.24+sha256",
    "v0.1.0-alpha.24",
    "v1.0.0-alpha",
    "v1.0.0-alpha.1",
    "v1.0.0-alpha.beta",
    "v1.0.0-beta",
    "v1.0.0-beta.2",
    "v1.0.0-beta.11",
    "v1.0.0-rc.1",
    "v1.0.0",
    "v1.2",
    "v1.2.0",
    "v1.2.3-456",
    "v1.2.3-456.789",
    "v1.2.3-456-789",
    "v1.2.3-456a",
    "v1.2.3-pre",
    "v1.2.3-pre+meta",
    "v1.2.3-pre.1",
    "v1.2.3-zzz",
    "v1.2.3",
    "v1.2.3+meta",
    "v1.2.3+meta-pre",
    "v1.2.3+meta-pre.sha.256a",
]
INVALID = [
    "bad",
    "v1-alpha.beta.gamma",
    "v1-pre",
    "v1+meta",
    "v1-pre+meta",
    "v1.2-pre",
    "v1.2+meta",
    "v1.2-pre+meta",
    "v1.0.0-alpha",  # valid; stands in the table between the invalid ones
    "v1.2.3.4",
    "v1.01.1",
    "v01.1.1",
    "v1.1.1-01",
    "v1.1.1-",
    "v1.1.1+",
    "v",
]
INVALID.remove("v1.0.0-alpha")


def _dedupe_equal(versions: list[str]) -> list[str]:
    """The table lists equal versions next to each other; keep the first of each."""
    out: list[str] = []
    for version in versions:
        if not out or compare_gomod(out[-1], version) != 0:
            out.append(version)
    return out


def test_x_mod_semver_order() -> None:
    assert_total_order(compare_gomod, _dedupe_equal(ORDERED))
    assert compare_gomod("v1.2", "v1.2.0") == 0
    assert compare_gomod("v1.2.3-pre", "v1.2.3-pre+meta") == 0


@pytest.mark.parametrize("version", INVALID)
def test_invalid(version: str) -> None:
    with pytest.raises(VersionError, match="go"):
        compare_gomod(version, "v1.0.0")


def test_osv_spellings_and_pseudo_versions() -> None:
    # OSV's Go records drop the "v"; +incompatible is build metadata.
    assert (
        compare_gomod("0.0.0-20220906165146-f3363e06e74c", "v0.0.0-20220906165146-f3363e06e74c")
        == 0
    )
    assert (
        compare_gomod("v0.0.0-20220826154423-83b083e8dc8b", "0.0.0-20220906165146-f3363e06e74c")
        == -1
    )
    assert compare_gomod("v0.1.0", "0.0.0-20220906165146-f3363e06e74c") == 1
    assert compare_gomod("v2.0.0+incompatible", "2.0.0") == 0
    assert compare_gomod("v1.2.4-0.20191109021931-daa7c04131f5", "v1.2.3") == 1  # patch pseudo


@pytest.mark.parametrize(
    ("tag", "semver"),
    [
        ("go1", "v1.0.0"),
        ("go1.19", "v1.19.0"),
        ("go1.19.8", "v1.19.8"),
        ("go1.21rc2", "v1.21.0-rc.2"),
        ("go1.9beta1", "v1.9.0-beta.1"),
        ("go1.20.1 X:boringcrypto", "v1.20.1"),
    ],
)
def test_go_toolchain_tags(tag: str, semver: str) -> None:
    assert go_tag_to_semver(tag) == semver
    assert compare_gomod(tag, semver) == 0


def test_stdlib_range_of_go_2022_0969() -> None:
    # GO-2022-0969 (stdlib): introduced 0, fixed 1.18.6, introduced 1.19.0-0, fixed 1.19.1
    assert compare_gomod("go1.18.5", "1.18.6") == -1
    assert compare_gomod("go1.19rc1", "1.19.0-0") == 1
    assert compare_gomod("go1.19", "1.19.1") == -1
    assert compare_gomod("go1.19.1", "1.19.1") == 0


@pytest.fixture(scope="module")
def go_semver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LineOracle]:
    try:
        oracle = go_semver_oracle(tmp_path_factory.mktemp("go-semver"))
    except OracleUnavailable as exc:
        pytest.skip(f"Go oracle unavailable: {exc}")
    with oracle:
        yield oracle


_NUM = st.sampled_from(["0", "1", "2", "10", "01", "99999999999999999999"])
_IDENT = st.sampled_from(
    [
        "alpha",
        "beta",
        "0",
        "1",
        "11",
        "01",
        "rc",
        "pre",
        "x-y",
        "456a",
        "20220906165146",
        "f3363e06e74c",
    ]
)


@st.composite
def goish(draw: st.DrawFn) -> str:
    text = "v" + draw(joined(_NUM, st.just("."), 4))
    if draw(st.booleans()):
        text += "-" + draw(joined(_IDENT, st.just("."), 3))
    if draw(st.integers(0, 3)) == 0:
        text += "+" + draw(st.sampled_from(["incompatible", "meta", "a.b", "", "01"]))
    if draw(st.integers(0, 9)) == 0:
        text += draw(st.sampled_from(["-", ".", "+", " ", "_"]))
    return text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs=pairs_of(goish()))
def test_agrees_with_x_mod_semver(go_semver: LineOracle, pairs: list[tuple[str, str]]) -> None:
    assert mismatches(compare_gomod, pairs, go_semver.compare_many) == []


def test_vectors_agree_with_x_mod_semver(go_semver: LineOracle) -> None:
    pairs = [(a, b) for a in ORDERED + INVALID for b in ORDERED[::3]]
    assert mismatches(compare_gomod, pairs, go_semver.compare_many) == []
