"""A test analyzer that records which files it was given, to observe the walker and applier."""

from __future__ import annotations

import hashlib

from hullscan.analyze.base import AnalysisResult, Analyzer
from hullscan.model import Package, PackageType


class ProbeAnalyzer(Analyzer):
    """Turns every wanted file into one package named after its path, versioned by content."""

    name = "probe"
    version = 1

    def __init__(self, *paths: str, max_file_size: int | None = None) -> None:
        self.paths = frozenset(paths)
        if max_file_size is not None:
            self.max_file_size = max_file_size  # type: ignore[misc]

    def wants(self, path: str) -> bool:
        return path in self.paths

    def analyze(self, path: str, content: bytes) -> AnalysisResult:
        if content.startswith(b"BROKEN"):
            raise ValueError("unparseable content")
        digest = hashlib.sha256(content).hexdigest()[:12]
        pkg = Package(name=path, version=digest, type=PackageType.DEB, paths=(path,))
        return AnalysisResult(packages=(pkg,))
