"""compare_rpm against python3-rpm's labelCompare and rpm.ver, on made-up and real versions."""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hullscan.model import AffectedRange
from hullscan.versions.registry import comparator, in_range
from hullscan.versions.rpm import RpmVersion, compare_evr, compare_rpm, parse_rpm, rpmvercmp
from tests.versions.oracles import Label, OracleUnavailable, RpmOracle

# (a, b, expected compare_rpm(a, b)); most come from rpm's own tests/rpmvercmp.at, and the
# whole table is checked against rpm.labelCompare below.
SPOT: list[tuple[str, str, int]] = [
    ("1.0", "1.0", 0),
    ("1.0", "2.0", -1),
    ("2.0.1", "2.0", 1),
    ("2.0.1a", "2.0.1", 1),  # a trailing letter run is newer than nothing
    ("5.5p1", "5.5p2", -1),
    ("5.5p10", "5.5p1", 1),
    ("10xyz", "10.1xyz", -1),
    ("xyz10", "xyz10.1", -1),
    ("xyz.4", "8", -1),  # letters are older than digits
    ("6.0.rc1", "6.0", 1),  # no pre-release magic without '~'
    ("10b2", "10a1", 1),
    ("1.0aa", "1.0a", 1),
    ("10.0001", "10.1", 0),  # leading zeros do not count
    ("10.0001", "10.0039", -1),
    ("4.999.9", "5.0", -1),
    ("20101121", "20101122", -1),
    ("2_0", "2.0", 0),  # every separator is alike
    ("a+", "a_", 0),
    ("+_", "_+", 0),
    ("1.0é", "1.0", 0),  # non-ASCII is a separator too
    ("1.0~rc1", "1.0", -1),  # '~' sorts before the end
    ("1.0~rc1", "1.0~rc2", -1),
    ("1.0~rc1~git123", "1.0~rc1", -1),
    ("1.0^", "1.0", 1),  # '^' sorts after the end...
    ("1.0^git1", "1.0", 1),
    ("1.0^git1", "1.0^git2", -1),
    ("1.0^git1", "1.01", -1),  # ...but before anything else
    ("1.0^20160101", "1.0.1", -1),
    ("1.0^20160101^git1", "1.0^20160101", 1),
    ("1.0~rc1^git1", "1.0~rc1", 1),
    ("1.0^git1~pre", "1.0^git1", -1),
    ("1.0^git1~pre", "1.0", 1),
    ("1.0~rc1", "1.0^", -1),
    # epoch and release
    ("1:1.0-1", "2.0-1", 1),
    ("0:1.0-1", "1.0-1", 0),  # a missing epoch is 0
    ("00:1.0", "0:1.0", 0),
    ("2:1.0", "10:0.1", -1),  # epochs are numbers
    ("1.0", "1.0-1", -1),  # a missing release sorts first (labelCompare)
    ("1.0-", "1.0", 1),  # even before an empty one
    ("1.0-~", "1.0", 1),
    ("1.0-1", "1.0-1.el9", -1),
    ("1.0-1.el9", "1.0-1.el9_2", -1),
    ("1.0-1.el9_2", "1.0-2.el9", -1),
    ("2.28-225.el8_8.6", "2.28-225.el8_8.11", -1),
    ("1.1.1k-12.el8_9", "1:1.1.1k-9.el8_7", -1),
    ("1-2-3", "1-2-4", -1),  # the last '-' starts the release, so version is "1-2"
    ("a:1.0-1", "0:1.0-1", -1),  # no epoch: "a:1.0" is the version, letters first
]

PARSE: list[tuple[str, RpmVersion]] = [
    ("1.0", RpmVersion(None, "1.0", None)),
    ("1:2.0-3", RpmVersion(1, "2.0", "3")),
    ("0:1", RpmVersion(0, "1", None)),
    (":1.0", RpmVersion(0, "1.0", None)),
    ("a:1.0-2", RpmVersion(None, "a:1.0", "2")),
    ("12abc:3", RpmVersion(None, "12abc:3", None)),
    ("1-2-3", RpmVersion(None, "1-2", "3")),
    ("1:", RpmVersion(1, "", None)),
    ("-1", RpmVersion(None, "", "1")),
    ("1.0-", RpmVersion(None, "1.0", "")),
    ("007:1.0~rc1^git2-0.1.fc40", RpmVersion(7, "1.0~rc1^git2", "0.1.fc40")),
]


@pytest.fixture(scope="module")
def rpm_oracle() -> Iterator[RpmOracle]:
    try:
        oracle = RpmOracle()
    except OracleUnavailable as exc:
        pytest.skip(f"rpm oracle unavailable (Debian package python3-rpm): {exc}")
    with oracle:
        yield oracle


@pytest.mark.parametrize(("a", "b", "expected"), SPOT)
def test_spot(a: str, b: str, expected: int) -> None:
    assert compare_rpm(a, b) == expected
    assert compare_rpm(b, a) == -expected


def test_spot_table_is_what_rpm_says(rpm_oracle: RpmOracle) -> None:
    assert rpm_oracle.compare_many([(a, b) for a, b, _ in SPOT]) == [e for _, _, e in SPOT]


@pytest.mark.parametrize(("text", "parsed"), PARSE)
def test_parse(text: str, parsed: RpmVersion) -> None:
    assert parse_rpm(text) == parsed
    assert parse_rpm(str(parsed)) == parsed  # str() writes a canonical form back


def test_parse_table_is_how_rpm_splits(rpm_oracle: RpmOracle) -> None:
    got = rpm_oracle.parse_many([text for text, _ in PARSE])
    # rpm keeps the epoch as text ("007"); it compares as the number.
    normal = [(None if e is None else str(int(e)), v, r) for e, v, r in got]
    assert normal == [_label(parsed) for _, parsed in PARSE]


def test_registered_under_rpm() -> None:
    assert comparator("rpm") is compare_rpm
    fixed = AffectedRange(introduced="0", fixed="1:1.1.1k-12.el8_9")
    assert in_range("1:1.1.1k-9.el8_7", fixed, compare_rpm)
    assert not in_range("1:1.1.1k-12.el8_9", fixed, compare_rpm)
    assert not in_range("2:0.1-1", fixed, compare_rpm)
    # Epoch 0 written out or left implicit is the same version.
    assert not in_range("1.2-3.el9", AffectedRange(fixed="0:1.2-3.el9"), compare_rpm)


def _label(v: RpmVersion) -> Label:
    return (None if v.epoch is None else str(v.epoch), v.version, v.release)


# --- against rpm.labelCompare: made-up versions -----------------------------------------

_NUMBER = st.text("0123456789", min_size=1, max_size=3)  # leading zeros included
_WORD = st.sampled_from(
    ["a", "b", "z", "A", "Z", "rc", "beta", "pre", "git", "el", "fc", "module", "p", "é"]
)
_SEP = st.sampled_from([".", ".", ".", "_", "+", "~", "^", "~~", "^^", "~^"])
_SEGMENT = st.one_of(_NUMBER, _NUMBER, _WORD, _SEP)
_EPOCH = st.one_of(st.none(), st.sampled_from(["0", "1", "2", "00", "01", "10", "007", ""]))


def _text(segments: list[str]) -> str:
    return "".join(segments)


@st.composite
def label_pairs(draw: st.DrawFn) -> tuple[Label, Label]:
    """Two (e, v, r) labels that share a lot, so that comparisons go deep."""
    base_v = draw(st.lists(_SEGMENT, min_size=1, max_size=6))
    base_r = draw(st.one_of(st.none(), st.lists(_SEGMENT, max_size=4)))
    epoch = draw(_EPOCH)
    labels: list[Label] = []
    for _ in range(2):
        e = draw(st.one_of(st.just(epoch), _EPOCH))
        v = _text(base_v + draw(st.lists(_SEGMENT, max_size=3)))
        r = draw(st.one_of(st.just(base_r), st.none(), st.lists(_SEGMENT, max_size=4)))
        if r is not None:
            r = r + draw(st.lists(_SEGMENT, max_size=2))
        labels.append((e, v, None if r is None else _text(r)))
    return labels[0], labels[1]


def _render(label: Label) -> str:
    """The "[e:]v[-r]" string of a label; an empty epoch renders as ':' (epoch 0)."""
    e, v, r = label
    text = v or ""
    if e is not None:
        text = f"{e}:{text}"
    if r is not None:
        text = f"{text}-{r}"
    return text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs=st.lists(label_pairs(), min_size=1, max_size=20))
def test_matches_label_compare_on_generated_versions(
    rpm_oracle: RpmOracle, pairs: list[tuple[Label, Label]]
) -> None:
    # labelCompare compares the epoch with rpmvercmp too; "" behaves as "0" in our format.
    as_labels = [(_fix_epoch(a), _fix_epoch(b)) for a, b in pairs]
    expected = rpm_oracle.label_compare_many(as_labels)
    for (a, b), want in zip(pairs, expected, strict=True):
        sa, sb = _render(a), _render(b)
        assert parse_rpm(sa) == _parsed(a), sa
        assert compare_rpm(sa, sb) == want, f"{sa!r} vs {sb!r}: rpm says {want}"
        assert compare_rpm(sb, sa) == -want


def _fix_epoch(label: Label) -> Label:
    e, v, r = label
    return ("0" if e == "" else e, v, r)


def _parsed(label: Label) -> RpmVersion:
    e, v, r = label
    return RpmVersion(None if e is None else int(e or "0"), v or "", r)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs=st.lists(label_pairs(), min_size=1, max_size=20))
def test_matches_rpm_parsing_and_compare_of_strings(
    rpm_oracle: RpmOracle, pairs: list[tuple[Label, Label]]
) -> None:
    strings = [(_render(a), _render(b)) for a, b in pairs]
    expected = rpm_oracle.compare_many(strings)
    got = [compare_rpm(a, b) for a, b in strings]
    wrong = [(s, w, g) for s, w, g in zip(strings, expected, got, strict=True) if w != g]
    assert not wrong, wrong


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.builds(_render, label_pairs().map(lambda pair: pair[0])),
        min_size=3,
        max_size=12,
    )
)
def test_is_a_total_order(versions: list[str]) -> None:
    """Sorting with compare_rpm is consistent: reflexive, antisymmetric, transitive."""
    ordered = sorted(versions, key=functools.cmp_to_key(compare_rpm))
    for a, b in itertools.combinations(ordered, 2):
        assert compare_rpm(a, b) <= 0
        assert compare_rpm(b, a) >= 0
    for v in versions:
        assert compare_rpm(v, v) == 0


def test_rpmvercmp_handles_long_digit_runs() -> None:
    assert rpmvercmp("1" + "0" * 40, "9" * 40) == 1
    assert rpmvercmp("0" * 50 + "1", "1") == 0
    assert compare_evr(parse_rpm("99999999999999999999:1"), parse_rpm("1:2")) == 1


# --- against rpm.labelCompare: real versions from real rpm databases -------------------


def _real_versions(shared_data: Path) -> list[str]:
    """EVRs and source EVRs listed by the rpm expectations in ../shared/data/pkgdb/rpm.

    Sources: knqyf263/go-rpmdb's SLE 15 BCI list (rpmdb_testcase_test.go), `rpm -qa` of
    go-rpmdb's CBL-Mariner 2.0 rpmdb.sqlite, quay/claircore's rhel bdb.rpm-manifest.json
    (a real UBI 8 image); see pkgdb/README.md.
    """
    root = shared_data / "pkgdb" / "rpm"
    found: set[str] = set()
    for name in (
        "_expected/go-rpmdb_sle15-bci_Packages.db.expected.json",
        "_expected/cbl-mariner-2.0_rpmdb.sqlite.rpm-qa.json",
    ):
        for pkg in json.loads((root / name).read_text())["packages"]:
            epoch = "" if pkg["epoch"] is None else f"{pkg['epoch']}:"
            found.add(f"{epoch}{pkg['version']}-{pkg['release']}")
            source_nvr = pkg["sourcerpm"].removesuffix(".src.rpm")
            found.add("-".join(source_nvr.rsplit("-", 2)[1:]))
    manifest = root / "quay__claircore/rhel/testdata/bdb.rpm-manifest.json"
    for rpm in json.loads(manifest.read_text())["rpms"]:
        nvr = rpm["srpm_nevra"].removesuffix(".src")
        found.add("-".join(nvr.rsplit("-", 2)[1:]))
        found.add(rpm["release"])
    return sorted(found)


def test_real_versions_match_rpm_pairwise(shared_data: Path, rpm_oracle: RpmOracle) -> None:
    versions = _real_versions(shared_data)
    assert len(versions) > 250, len(versions)
    assert "1:2.0.0-1.cm2" in versions  # ca-certificates-base in CBL-Mariner 2.0
    pairs = list(itertools.combinations(versions, 2))
    expected = rpm_oracle.compare_many(pairs)
    mismatches = [
        (a, b, want, got)
        for (a, b), want in zip(pairs, expected, strict=True)
        if (got := compare_rpm(a, b)) != want
    ]
    assert not mismatches, mismatches[:20]
