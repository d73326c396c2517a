"""CVSS vectors -> scores and severities, computed by RedHatProductSecurity's `cvss` library.

Advisories (OSV records, vendors) often carry only a vector; the score and the qualitative
rating come from the specification's formulas, which the library implements for v2, v3.x
and v4.0. Ratings follow each specification (v3/v4: None 0.0, Low, Medium, High, Critical;
v2, which has none, by NVD's bands: Low < 4.0 <= Medium < 7.0 <= High). A score of 0.0
("None") maps to NEGLIGIBLE. A malformed vector gives None: one bad vector must not fail a
DB build or a scan.
"""

from __future__ import annotations

import logging
from typing import Any

from hullscan.model import CvssScore, Severity

log = logging.getLogger(__name__)

_RATING = {
    "none": Severity.NEGLIGIBLE,
    "low": Severity.LOW,
    "medium": Severity.MEDIUM,
    "high": Severity.HIGH,
    "critical": Severity.CRITICAL,
}
_warned_missing = False


def _library() -> Any:
    """The `cvss` module, or None (logged once) when it is not installed."""
    global _warned_missing
    try:
        import cvss  # type: ignore[import-untyped]
    except ImportError:
        if not _warned_missing:
            log.warning("the `cvss` package is not installed: CVSS vectors are not scored")
            _warned_missing = True
        return None
    return cvss


def severity_of_score(score: float, version: str) -> Severity:
    """The qualitative rating of a base score in a CVSS version's bands."""
    if version.startswith("2"):
        return Severity.LOW if score < 4.0 else Severity.MEDIUM if score < 7.0 else Severity.HIGH
    if score == 0.0:
        return Severity.NEGLIGIBLE
    if score < 4.0:
        return Severity.LOW
    if score < 7.0:
        return Severity.MEDIUM
    return Severity.HIGH if score < 9.0 else Severity.CRITICAL


def score_vector(vector: str, source: str) -> CvssScore | None:
    """Base score and severity of a CVSS v2, v3.0, v3.1 or v4.0 vector; None if malformed."""
    lib = _library()
    text = vector.strip().rstrip("/")  # GHSA has vectors with a trailing slash
    if lib is None or not text:
        return None
    try:
        if text.startswith("CVSS:4.0/"):
            v4 = lib.CVSS4(text)
            return CvssScore(
                source=source,
                version="4.0",
                vector=v4.clean_vector(),
                score=float(v4.base_score),
                severity=_RATING.get(str(v4.severity).lower(), Severity.UNKNOWN),
            )
        if text.startswith(("CVSS:3.0/", "CVSS:3.1/")):
            v3 = lib.CVSS3(text)
            base = float(v3.scores()[0])
            return CvssScore(
                source=source,
                version=text[5:8],
                vector=v3.clean_vector(),
                score=base,
                severity=_RATING.get(str(v3.severities()[0]).lower(), Severity.UNKNOWN),
            )
        v2 = lib.CVSS2(text.removeprefix("(").removesuffix(")"))
        base = float(v2.scores()[0])
        return CvssScore(
            source=source,
            version="2.0",
            vector=v2.clean_vector(),
            score=base,
            severity=severity_of_score(base, "2.0"),
        )
    except (lib.CVSSError, ValueError, KeyError, IndexError, TypeError) as exc:
        log.debug("unusable CVSS vector %r: %s", vector, exc)
        return None
