"""compare_dpkg against dpkg itself and against apt_pkg, on made-up and real versions."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hullscan.versions.base import VersionError
from hullscan.versions.dpkg import DpkgVersion, compare_dpkg, parse_dpkg
from tests.versions.oracles import AptOracle, OracleUnavailable, dpkg_compare_many

# (a, b, expected compare_dpkg(a, b)); each one checked against dpkg --compare-versions.
SPOT: list[tuple[str, str, int]] = [
    ("1.0", "1.0", 0),
    ("1.0~rc1", "1.0", -1),  # ~ sorts before the end of the string
    ("1.0~~", "1.0~", -1),
    ("1.0~", "1.0", -1),
    ("0", "0~", 1),
    ("1.0", "1.0a", -1),
    ("1.0a", "1.0+", -1),  # letters before non-letters
    ("1.0A", "1.0a", -1),  # by ASCII among letters
    ("1.0+", "1.0.", -1),  # by ASCII + 256 among the others
    ("1.0", "1.0.0", -1),
    ("1.0.9", "1.0.10", -1),  # digit runs compare as numbers
    ("1.0.010", "1.0.9", 1),  # leading zeros do not count
    ("1.", "1.0", 0),  # an empty digit run is zero
    ("1.0-0", "1.0", 0),  # a missing revision equals revision 0
    ("1.0-1", "1.0", 1),
    ("1.0-1", "1.0-1.1", -1),
    ("1.2-3-4", "1.2-3-3", 1),  # the last hyphen starts the revision
    ("1.2-3-4", "1.2-4", 1),  # so upstream 1.2-3 > 1.2
    ("1:0.1", "2.0", 1),  # epoch first
    ("0:1.0", "1.0", 0),
    ("007:1.0", "7:1.0", 0),  # epoch leading zeros
    ("2:1.0", "10:0.1", -1),  # epochs are numbers, not strings
    ("1:2.30:3-1", "1:2.30:4-1", -1),  # colons in upstream once there is an epoch
    ("1.0+dfsg-1", "1.0-1", 1),
    ("1.0~dfsg-1", "1.0-1", -1),
    ("1.0-1+b1", "1.0-1", 1),  # binNMU
    ("1.0-1~bpo11+1", "1.0-1", -1),  # backport
    ("1.0-1", "1.0-1ubuntu1", -1),
    ("2.30-0ubuntu1", "2.30-0ubuntu1.1", -1),
    ("9.26~dfsg+0-0ubuntu0.18.04.12", "9.26~dfsg+0-0ubuntu0.18.04.9", 1),
    ("1:1.2.11.dfsg-0ubuntu2", "1:1.2.11.dfsg-2ubuntu1", -1),
    # dpkg only warns about these and compares them anyway:
    ("a1.0", "1.0", 1),  # upstream not starting with a digit
    ("1.0_1", "1.0.1", 1),  # '_' is not a version character
    ("1.0é", "1.0+", -1),  # UTF-8 bytes sort between letters and punctuation
    ("1.0é", "1.0z", 1),
    # dpkg trims blanks and lets strtol read the epoch; apt does neither:
    (" 1.0\t", "1.0", 0),
    ("+1:1.0", "1:1.0", 0),
]
APT_DIFFERS = {(" 1.0\t", "1.0"), ("+1:1.0", "1:1.0")}

# Versions dpkg rejects with an error (not a warning), with dpkg's own reason.
ERRORS: list[tuple[str, str]] = [
    ("", "version string is empty"),
    ("  \t", "version string is empty"),
    ("1.0 1", "embedded spaces"),
    (":1.0", "epoch in version is empty"),
    ("a:1.0", "epoch in version is empty"),
    ("1a:1.0", "epoch in version is not number"),
    ("-1:1.0", "epoch in version is negative"),
    ("2147483648:1.0", "epoch in version is too big"),
    ("1:", "nothing after colon"),
    ("1.0-", "revision number is empty"),
    ("-1", "version number is empty"),
    ("1:-1", "version number is empty"),
]


@pytest.mark.parametrize(("a", "b", "expected"), SPOT)
def test_spot(a: str, b: str, expected: int) -> None:
    assert compare_dpkg(a, b) == expected
    assert compare_dpkg(b, a) == -expected


def test_spot_table_is_what_dpkg_says() -> None:
    try:
        verdicts = dpkg_compare_many([(a, b) for a, b, _ in SPOT])
    except OracleUnavailable as exc:
        pytest.skip(str(exc))
    assert verdicts == [expected for _, _, expected in SPOT]


def test_spot_table_is_what_apt_says(apt_oracle: AptOracle) -> None:
    pairs = [(a, b) for a, b, _ in SPOT if (a, b) not in APT_DIFFERS]
    expected = [e for a, b, e in SPOT if (a, b) not in APT_DIFFERS]
    assert apt_oracle.compare_many(pairs) == expected


@pytest.mark.parametrize(("version", "reason"), ERRORS)
def test_dpkg_errors_raise(version: str, reason: str) -> None:
    with pytest.raises(VersionError, match=re.escape(reason)) as info:
        compare_dpkg(version, "1.0")
    assert isinstance(info.value, ValueError)
    with pytest.raises(VersionError):
        compare_dpkg("1.0", version)


def test_error_table_is_what_dpkg_refuses() -> None:
    # dpkg --compare-versions maps "" to a blank version and takes "-..." for an option.
    versions = [v for v, _ in ERRORS if v and not v.startswith("-")]
    try:
        verdicts = dpkg_compare_many([(v, "1.0") for v in versions])
    except OracleUnavailable as exc:
        pytest.skip(str(exc))
    assert dict(zip(versions, verdicts, strict=True)) == dict.fromkeys(versions, "error")


@pytest.mark.parametrize(
    ("version", "parsed"),
    [
        ("1.0", DpkgVersion(0, "1.0", "")),
        ("1:2.3-4-5", DpkgVersion(1, "2.3-4", "5")),
        ("007:1.0-1", DpkgVersion(7, "1.0", "1")),
        ("1:2:3", DpkgVersion(1, "2:3", "")),
        (" 2.0-1 ", DpkgVersion(0, "2.0", "1")),
    ],
)
def test_parse(version: str, parsed: DpkgVersion) -> None:
    assert parse_dpkg(version) == parsed


# --- against apt_pkg: made-up versions --------------------------------------------------


@pytest.fixture(scope="module")
def apt_oracle() -> Iterator[AptOracle]:
    try:
        oracle = AptOracle()
    except OracleUnavailable as exc:
        pytest.skip(f"apt oracle unavailable: {exc}")
    with oracle:
        yield oracle


_DIGITS = st.text("0123456789", min_size=1, max_size=3)  # leading zeros included
_WORDS = st.sampled_from(
    ["a", "b", "z", "A", "Z", "rc", "dfsg", "ubuntu", "build", "deb", "bpo", "git", "really"]
)
_SEPS = st.sampled_from([".", ".", "+", "~", "~~"])
# "-" and ":" are placeholders: rendered only where dpkg allows them (see _render).
_UP_SEGMENT = st.one_of(_DIGITS, _DIGITS, _WORDS, _SEPS, st.sampled_from(["-", ":"]))
_REV_SEGMENT = st.one_of(_DIGITS, _WORDS, _SEPS)
_EPOCH = st.one_of(st.none(), st.sampled_from(["0", "1", "2", "00", "01", "10", "007"]))
_REVISION = st.one_of(st.none(), st.lists(_REV_SEGMENT, min_size=1, max_size=4).map("".join))


def _render(epoch: str | None, upstream: list[str], revision: str | None) -> str:
    """A version dpkg parses without error: '-' needs a revision, ':' an epoch."""
    allowed = {"-": "-" if revision is not None else ".", ":": ":" if epoch is not None else "+"}
    text = "".join(allowed.get(s, s) for s in upstream)
    if epoch is not None:
        text = f"{epoch}:{text}"
    if revision is not None:
        text = f"{text}-{revision}"
    return text


@st.composite
def version_pairs(draw: st.DrawFn) -> tuple[str, str]:
    """Two versions that often share epoch, a prefix and revision, so ties go deep."""
    first = draw(st.one_of(_DIGITS, _DIGITS, _DIGITS, _WORDS))  # a word: dpkg only warns
    shared = draw(st.lists(_UP_SEGMENT, max_size=5))
    versions = []
    epoch = draw(_EPOCH)
    revision = draw(_REVISION)
    for _ in range(2):
        epoch = draw(st.one_of(st.just(epoch), _EPOCH))
        revision = draw(st.one_of(st.just(revision), _REVISION))
        tail = draw(st.lists(_UP_SEGMENT, max_size=3))
        versions.append(_render(epoch, [first, *shared, *tail], revision))
    return versions[0], versions[1]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pair=version_pairs())
def test_matches_apt_on_generated_versions(apt_oracle: AptOracle, pair: tuple[str, str]) -> None:
    a, b = pair
    expected = apt_oracle.compare(a, b)
    assert compare_dpkg(a, b) == expected, f"{a!r} vs {b!r}: apt says {expected}"
    assert compare_dpkg(b, a) == -expected
    assert compare_dpkg(a, a) == 0


# --- against apt_pkg: real versions from real status files -------------------------------

_VERSION_LINE = re.compile(r"^(?:Version: (\S+)|Source: \S+ \((\S+)\))[ \t]*$", re.MULTILINE)


def _real_versions(shared_data: Path) -> list[str]:
    """Version: and Source: (...) values of every dpkg database in pkgdb/dpkg.

    Sources: quay/claircore dpkg/testdata/*.status (texlive.status is a real 467 KB
    status file), aquasecurity/trivy dpkg testdata *.txtar (a real Ubuntu 18.04 status),
    anchore/syft var/lib/dpkg/status and status.d/*; see shared/data/SOURCES.md.
    """
    root = shared_data / "pkgdb" / "dpkg"
    found: set[str] = set()
    for path in sorted(root.rglob("*")):
        if path.is_file() and "opkg" not in path.parts and path.suffix != ".json":
            for match in _VERSION_LINE.finditer(path.read_text(encoding="utf-8", errors="replace")):
                found.add(match.group(1) or match.group(2))
    return sorted(found)


def test_real_status_versions_match_apt_pairwise(shared_data: Path, apt_oracle: AptOracle) -> None:
    versions = _real_versions(shared_data)
    assert len(versions) > 250, "expected the ~300 distinct versions of pkgdb/dpkg"
    assert "8.4.0-1ubuntu1~18.04" in versions  # gcc-8-base in claircore's texlive.status
    pairs = list(itertools.combinations(versions, 2))  # every pair, ~43k
    expected = apt_oracle.compare_many(pairs)
    mismatches = [
        (a, b, want, got)
        for (a, b), want in zip(pairs, expected, strict=True)
        if (got := compare_dpkg(a, b)) != want
    ]
    assert not mismatches, mismatches[:20]
