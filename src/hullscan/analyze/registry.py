"""The analyzers a scan runs by default; one place to add new ones."""

from __future__ import annotations

from hullscan.analyze.base import Analyzer
from hullscan.analyze.os.apk import ApkAnalyzer
from hullscan.analyze.os.dpkg import DpkgAnalyzer
from hullscan.analyze.os.release import OsReleaseAnalyzer
from hullscan.analyze.os.rpm import RpmAnalyzer


def default_analyzers() -> tuple[Analyzer, ...]:
    """Fresh instances of every built-in analyzer, in a stable order (cache keys use it)."""
    return (OsReleaseAnalyzer(), DpkgAnalyzer(), ApkAnalyzer(), RpmAnalyzer())
