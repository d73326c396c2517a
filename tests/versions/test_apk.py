"""compare_apk against apk-tools' own test vectors and real Alpine secdb versions.

No apk binary exists for Debian, so the oracle is apk-tools' test/version.data (every
line tested) plus cases reasoned out from apk-tools' src/version.c, written down here.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hullscan.versions.apk import compare_apk, is_valid_apk
from hullscan.versions.base import VersionError

VECTORS = Path(__file__).with_name("apk_version.data")
_RESULTS = {"<": -1, "=": 0, ">": 1}


def _vectors() -> list[pytest.ParameterSet]:
    """Lines of apk_version.data, read the way apk's vertest reads them."""
    cases = []
    for lineno, raw in enumerate(VECTORS.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if line:
            cases.append(pytest.param(line, id=f"L{lineno}"))
    return cases


VECTOR_LINES = _vectors()


def test_all_vectors_were_read() -> None:
    assert len(VECTOR_LINES) == 733  # the upstream file's line count


@pytest.mark.parametrize("line", VECTOR_LINES)
def test_apk_tools_vector(line: str) -> None:
    parts = line.split(" ")
    if len(parts) == 1:  # "version" must be valid, "!version" invalid
        version = parts[0].removeprefix("!")
        assert is_valid_apk(version) != parts[0].startswith("!")
        return
    a, op, b = parts
    invert = op.startswith("!")
    allowed = {_RESULTS[c] for c in op.removeprefix("!")}
    result = compare_apk(a, b)
    assert (result in allowed) != invert, f"{a} {op} {b}: got {result}"
    assert compare_apk(b, a) == -result


# Left: real versions from Alpine secdb (alpinelinux/alpine-secdb v3.9-v3.11 main and
# community, shared/data/advisories/alpine/_converted_json) and installed databases
# (shared/data/pkgdb/apk). Expected results reasoned from apk-tools' src/version.c.
SECDB: list[tuple[str, str, int, str]] = [
    ("1.1.1d-r0", "1.1.1g-r0", -1, "letter d < g"),
    ("1.1.1d-r3", "1.1.1d-r1", 1, "revision 3 > 1"),
    ("1.1.1a-r0", "1.1.1b-r1", -1, "letter a < b"),
    ("1.1.1q-r0", "1.1.1d-r3", 1, "letter q > d"),
    ("1.1.1-r0", "1.1.1a-r0", -1, "a revision ends the version, the other goes on"),
    ("2.4.41-r0", "2.4.39-r0", 1, "41 > 39"),
    ("2.4.41-r0", "2.4.5-r0", 1, "digits compare as numbers without leading zero"),
    ("2.4.41-r0", "2.4.41", 1, "-r0 is more than nothing"),
    ("7.9_p1-r3", "7.9-r3", 1, "_p is a post-release suffix"),
    ("7.9_p1-r3", "7.10_p1-r0", -1, "9 < 10"),
    ("7.7_p1-r4", "7.9_p1-r3", -1, "7 < 9"),
    ("9.12.3_p4-r0", "9.12.3-r0", 1, "_p4 > no suffix"),
    ("9.11.2_p1-r0", "9.12.1_p2-r0", -1, "11 < 12"),
    ("6.1_p20180414-r0", "6.0_p20171125-r0", 1, "1 > 0 (string order: leading zero)"),
    ("6.1_p20180414-r0", "6.1-r0", 1, "_p date snapshot after the release"),
    ("1.0.0_rc6-r1", "1.0.0-r0", -1, "_rc is a pre-release: below the release"),
    ("1.0.0_rc6-r1", "1.0.0_rc7", -1, "rc 6 < rc 7"),
    ("2.0.0_rc4-r0", "2.0.0", -1, "pre-release below even the bare release"),
    ("0.99_beta19-r3", "0.99-r0", -1, "_beta is a pre-release"),
    ("0.5_alpha-r1", "0.5-r0", -1, "_alpha is a pre-release"),
    ("0.7.1_alpha-r0", "0.8_alpha-r0", -1, "1 < 8"),
    ("1.6_rc1-r0", "1.6-r0", -1, "_rc1 before the release"),
    ("1.8.20_p2-r0", "1.8.20-r5", 1, "_p2 after any revision of the release"),
    ("0.15.1b-r9", "0.15.1-r9", 1, "a letter after the number goes on past it"),
    ("1.10a-r1", "1.10a-r2", -1, "revision 1 < 2"),
    ("1.2.4_git20230717-r4", "1.2.4-r4", 1, "_git snapshot sorts after the release"),
    ("1.2.4_git20230717-r4", "1.2.5-r0", -1, "but before the next one"),
    ("2.9.11_pre20061021-r2", "2.9.11-r0", -1, "_pre snapshot before the release"),
    ("20220614-r0", "3.26.0-r3", 1, "first numbers compare as numbers"),
    ("1.2.12-r3", "1.2.8-r2", 1, "12 > 8"),
    # opensmtpd's secfix "6.6.2p1-r0": a digit after a letter has been invalid since
    # apk-tools 2.12, so apk stops reading at the "1": the invalid token is lower than
    # any real token, and two versions invalid at the same spot are equal.
    ("6.6.2p1-r0", "6.6.2-r0", 1, "letter p vs revision: the letter goes on"),
    ("6.6.2p1-r0", "6.6.2p2-r0", 0, "both invalid right after 'p': apk says equal"),
    ("6.6.2p1-r0", "6.6.1p1-r0", 1, "decided before the invalid part"),
    ("6.6.2p1-r0", "6.6.2p-r0", -1, "invalid is below a revision"),
    # Typos in secdb "fixed" versions; apk reads up to the typo, then "invalid" (lowest):
    ("2.7.16-33", "2.7.16-r0", -1, "python2: '-33' is no revision, so below 2.7.16-r0"),
    ("2.7.16-33", "2.7.15-r3", 1, "but still above 2.7.15"),
    ("4.10-1-r1", "4.10.0-r0", -1, "xen, meant 4.10.1-r1: apk puts 4.10.0-r0 above it"),
    ("4.8.0.-r1", "4.8.0-r1", -1, "xen: a dot without digits is invalid"),
]


@pytest.mark.parametrize(("a", "b", "expected", "why"), SECDB)
def test_secdb_versions(a: str, b: str, expected: int, why: str) -> None:
    assert compare_apk(a, b) == expected, why
    assert compare_apk(b, a) == -expected, why


def _real_versions(shared_data: Path) -> set[str]:
    versions: set[str] = set()
    secdb = shared_data / "advisories" / "alpine" / "_converted_json"
    for path in sorted(secdb.glob("*/*.json")):
        for entry in json.loads(path.read_text(encoding="utf-8"))["packages"]:
            versions.update(entry["pkg"].get("secfixes") or {})
    for path in sorted((shared_data / "pkgdb" / "apk").rglob("*")):
        if path.is_file() and path.suffix != ".json":
            text = path.read_text(encoding="utf-8", errors="replace")
            versions.update(re.findall(r"^V:(\S+)$", text, re.MULTILINE))
    return versions


def test_secdb_cases_start_from_real_versions(shared_data: Path) -> None:
    # the right-hand partners are picked to show a rule; the left ones are real
    assert {a for a, _, _, _ in SECDB} - _real_versions(shared_data) == set()


def test_real_versions_are_valid_and_totally_ordered(shared_data: Path) -> None:
    versions = _real_versions(shared_data)
    assert len(versions) > 500
    invalid = sorted(v for v in versions if not is_valid_apk(v))
    # secdb typos (python2, xen, xen) and opensmtpd's digit after a letter
    assert invalid == ["2.7.16-33", "4.10-1-r1", "4.8.0.-r1", "6.6.2p1-r0"]
    ordered = sorted(versions - set(invalid), key=functools.cmp_to_key(compare_apk))
    for i, low in enumerate(ordered):
        for high in ordered[i + 1 : i + 40]:
            assert compare_apk(low, high) <= 0, (low, high)


# Cases reasoned from apk-tools master src/version.c that its test data does not cover.
EDGE: list[tuple[str, str, int]] = [
    ("1.0_cvs", "1.0_svn", -1),  # post-release suffixes: cvs < svn < git < hg < p
    ("1.0_svn", "1.0_git", -1),
    ("1.0_git", "1.0_hg", -1),
    ("1.0_hg", "1.0_p", -1),
    ("1.0", "1.0_cvs", -1),
    ("1.0_alpha", "1.0_beta", -1),  # pre-release: alpha < beta < pre < rc < release
    ("1.0_beta", "1.0_pre", -1),
    ("1.0_pre", "1.0_rc", -1),
    ("1.0_rc", "1.0", -1),
    ("1.0_rc", "1.0-r0", -1),
    ("1.0", "1.00", -1),  # leading zero: string order, "0" < "00"
    ("1.02", "1.1", -1),
    ("1.10", "1.09", 1),
    ("01", "1", 0),  # the first number is always numeric
    ("1.0~abc", "1.0~abd", -1),  # commit hashes: string order
    ("1.0~abc", "1.0", 1),  # a hash goes on past the end
    ("1.0~abc-r1", "1.0-r1", 1),  # and sorts before a revision token
    ("1.0~ABC", "1.0", -1),  # upper case is no hash: invalid, below the end
    ("1.0_foo", "1.0", -1),  # unknown suffix: invalid
    ("1.0_", "1.0", -1),  # empty suffix: invalid (apk-tools 3)
    ("1.0-r", "1.0", -1),  # revision without number: invalid
    ("1.0-1", "1.0", -1),  # a Debian-style revision: invalid
    ("1.0b", "1.0bc", 1),  # two letters: invalid after the first
    ("1.2a3", "1.2a4", 0),  # digit after a letter: invalid at the same spot
    ("abc", "abd", 0),  # no leading number: invalid from the start
    ("abc", "0", -1),
    ("18446744073709551618", "2", 0),  # numbers wrap at 2**64 like apk's uint64_t
]


@pytest.mark.parametrize(("a", "b", "expected"), EDGE)
def test_edge_cases(a: str, b: str, expected: int) -> None:
    assert compare_apk(a, b) == expected
    assert compare_apk(b, a) == -expected


@pytest.mark.parametrize(
    ("version", "valid"),
    [
        ("1.2.3", True),
        ("1.2.3a_rc1_p2~deadbeef-r10", True),
        ("0", True),
        ("1.0_", False),
        ("1.0~", False),
        ("1.0-r", False),
        ("1.0-r1-r2", False),
        ("1.0_rc1.2", False),
        ("v1.0", False),
        ("", False),
    ],
)
def test_is_valid(version: str, valid: bool) -> None:
    assert is_valid_apk(version) is valid


def test_empty_version_raises() -> None:
    with pytest.raises(VersionError, match="empty"):
        compare_apk("", "1.0")
    with pytest.raises(VersionError):
        compare_apk("1.0", "")


# Valid apk versions from the grammar, to check the comparison is an order at all.
_NUM = st.text("0123456789", min_size=1, max_size=3)
_VALID = st.builds(
    lambda first, rest, letter, suffixes, hash_, rev: (
        first + "".join("." + n for n in rest) + letter + "".join(suffixes) + hash_ + rev
    ),
    _NUM,
    st.lists(_NUM, max_size=3),
    st.sampled_from(["", "", "a", "z"]),
    st.lists(
        st.builds(
            lambda s, n: f"_{s}{n}",
            st.sampled_from(["alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"]),
            st.sampled_from(["", "1", "2", "10"]),
        ),
        max_size=2,
    ),
    st.sampled_from(["", "", "~0a", "~ff"]),
    st.sampled_from(["", "-r0", "-r1", "-r10"]),
)


@settings(max_examples=300, deadline=None)
@given(a=_VALID, b=_VALID, c=_VALID)
def test_valid_versions_are_totally_ordered(a: str, b: str, c: str) -> None:
    assert is_valid_apk(a)
    assert compare_apk(a, a) == 0
    assert compare_apk(a, b) == -compare_apk(b, a)
    if compare_apk(a, b) <= 0 and compare_apk(b, c) <= 0:
        assert compare_apk(a, c) <= 0
