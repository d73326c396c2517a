"""hullscan.cvss: scores and ratings of real vectors, computed by the `cvss` library, checked
against the scores NVD and GitHub publish for them."""

from __future__ import annotations

import pytest

pytest.importorskip("cvss")

from hullscan.cvss import score_vector, severity_of_score
from hullscan.model import Severity


@pytest.mark.parametrize(
    ("vector", "version", "score", "severity"),
    [
        # CVE-2021-44228 (log4j): NVD 10.0 Critical
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", "3.1", 10.0, Severity.CRITICAL),
        # CVE-2019-19745 (contao): GHSA 8.8 High
        ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", "3.1", 8.8, Severity.HIGH),
        # CVE-2021-44420 (Django): GHSA 7.3 High
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:L", "3.1", 7.3, Severity.HIGH),
        # CVE-2020-8203 (lodash): 7.4 High; v3.0 prefix
        ("CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H", "3.0", 7.4, Severity.HIGH),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", "3.1", 0.0, Severity.NEGLIGIBLE),
        # CVSS v4.0 specification example: 9.3 Critical
        (
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
            "4.0",
            9.3,
            Severity.CRITICAL,
        ),
        # v2: AV:N/AC:L/Au:N/C:P/I:P/A:P = 7.5, High in NVD's v2 bands
        ("AV:N/AC:L/Au:N/C:P/I:P/A:P", "2.0", 7.5, Severity.HIGH),
        ("AV:N/AC:L/Au:N/C:N/I:N/A:P", "2.0", 5.0, Severity.MEDIUM),
        # temporal metrics and GHSA's trailing slash do not change the base score
        (
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:C/",
            "3.1",
            9.8,
            Severity.CRITICAL,
        ),
    ],
)
def test_real_vectors(vector: str, version: str, score: float, severity: Severity) -> None:
    result = score_vector(vector, "ghsa")
    assert result is not None
    assert (result.version, result.score, result.severity, result.source) == (
        version,
        score,
        severity,
        "ghsa",
    )


@pytest.mark.parametrize(
    "vector", ["", "CVSS:3.1/AV:X", "CVSS:3.1/AV:N/AC:L", "garbage", "CVSS:4.0/AV:N"]
)
def test_malformed_vectors_give_none(vector: str) -> None:
    assert score_vector(vector, "osv") is None


@pytest.mark.parametrize(
    ("score", "version", "severity"),
    [
        (0.0, "3.1", Severity.NEGLIGIBLE),
        (0.1, "3.1", Severity.LOW),
        (3.9, "3.1", Severity.LOW),
        (4.0, "3.1", Severity.MEDIUM),
        (6.9, "4.0", Severity.MEDIUM),
        (7.0, "3.0", Severity.HIGH),
        (8.9, "3.1", Severity.HIGH),
        (9.0, "3.1", Severity.CRITICAL),
        (3.9, "2.0", Severity.LOW),
        (4.0, "2.0", Severity.MEDIUM),
        (10.0, "2.0", Severity.HIGH),
    ],
)
def test_rating_bands(score: float, version: str, severity: Severity) -> None:
    assert severity_of_score(score, version) is severity
