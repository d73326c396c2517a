"""The analyzer contract: declare which paths you need, parse their bytes, return facts.

Analyzers never see a tar, a layer or the filesystem: the LayerWalker hands them the
content of the paths they asked for, so every layer's result is independent and cacheable.
Paths are normalised: relative to the image root, no leading '/', no '.' or '..' parts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from hullscan.model import Distro, Package


@dataclass(frozen=True)
class AnalysisResult:
    """What one file taught one analyzer."""

    packages: tuple[Package, ...] = ()
    distro: Distro | None = None
    warnings: tuple[str, ...] = ()
    #: Files an OS package manager installed (normalised like walker paths: no leading '/').
    #: The Applier drops language packages whose metadata file is one of them, so a
    #: Debian-packaged python3-urllib3 is reported (and matched) once, as the deb.
    owned_paths: tuple[str, ...] = ()


class Analyzer(ABC):
    """Base of every analyzer; bump `version` whenever the output for the same input changes."""

    name: ClassVar[str]
    version: ClassVar[int]
    #: Files larger than this are skipped with a warning (bounds memory on hostile images).
    max_file_size: ClassVar[int] = 64 * 1024 * 1024

    @abstractmethod
    def wants(self, path: str) -> bool:
        """Whether this analyzer needs the content of `path` (cheap: called on every entry)."""

    def wants_file(self, path: str, mode: int, size: int) -> bool:
        """What the walkers ask: `wants`, unless an analyzer picks files by what they are
        (Go and Rust programs have no telling name). `mode` is the st_mode of a regular file
        when the source records it, else -1 (image layers: the tar reader keeps no
        permission bits); `size` is the file's size, 0 for anything but a regular file."""
        return self.wants(path)

    @abstractmethod
    def analyze(self, path: str, content: bytes) -> AnalysisResult:
        """Parse one file. Raise AnalyzerError for content that cannot be understood."""


def some_names(names: list[str], limit: int = 5) -> str:
    """`a, b, c and 4 more`: names for a warning without flooding it."""
    more = len(names) - limit
    return ", ".join(names[:limit]) + (f" and {more} more" if more > 0 else "")
