"""The analyzers a scan runs by default; one place to add new ones."""

from __future__ import annotations

from hullscan.analyze.base import Analyzer
from hullscan.analyze.lang.dotnet import DotnetAnalyzer
from hullscan.analyze.lang.golang import GoAnalyzer
from hullscan.analyze.lang.java import JavaAnalyzer
from hullscan.analyze.lang.javascript import JavaScriptAnalyzer
from hullscan.analyze.lang.php import PhpAnalyzer
from hullscan.analyze.lang.python import PythonAnalyzer
from hullscan.analyze.lang.ruby import RubyAnalyzer
from hullscan.analyze.lang.rust import RustAnalyzer
from hullscan.analyze.os.apk import ApkAnalyzer
from hullscan.analyze.os.dpkg import DpkgAnalyzer
from hullscan.analyze.os.release import OsReleaseAnalyzer
from hullscan.analyze.os.rpm import RpmAnalyzer


def default_analyzers() -> tuple[Analyzer, ...]:
    """Fresh instances of every built-in analyzer, in a stable order (cache keys use it)."""
    return (
        OsReleaseAnalyzer(),
        DpkgAnalyzer(),
        ApkAnalyzer(),
        RpmAnalyzer(),
        PythonAnalyzer(),
        JavaScriptAnalyzer(),
        JavaAnalyzer(),
        GoAnalyzer(),
        RustAnalyzer(),
        RubyAnalyzer(),
        PhpAnalyzer(),
        DotnetAnalyzer(),
    )
