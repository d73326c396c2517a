"""What every version comparator shares: its call signature and its one error."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

from hullscan.errors import HullscanError

#: compare(a, b) -> -1, 0 or 1, as a < b, a == b, a > b in one version scheme.
Comparator: TypeAlias = Callable[[str, str], int]


class VersionError(HullscanError, ValueError):
    """A version string the scheme's own tool refuses to compare.

    A ValueError, so plain callers can catch it as bad input, and a HullscanError, so a
    matcher can turn it into a warning naming the package instead of crashing a scan.
    """

    def __init__(self, scheme: str, version: str, reason: str) -> None:
        # All three go to args so the error survives pickling (worker processes).
        super().__init__(scheme, version, reason)
        self.scheme = scheme
        self.version = version
        self.reason = reason

    def __str__(self) -> str:
        return f"invalid {self.scheme} version {self.version!r}: {self.reason}"


class UnknownSchemeError(HullscanError, LookupError):
    """No comparator is registered under the requested scheme name."""
