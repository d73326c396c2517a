"""One error tree so the CLI can map every failure to a message and an exit code."""

from __future__ import annotations


class HullscanError(Exception):
    """Root of every error hullscan raises on purpose; its message is shown to the user."""


class SourceError(HullscanError):
    """The image could not be read: missing, corrupt, truncated or of an unknown format."""


class AnalyzerError(HullscanError):
    """An analyzer could not parse a file; reported as a warning, never fatal."""


class DbError(HullscanError):
    """The vulnerability DB is missing, corrupt, of another schema, or a feed is malformed."""


class FeedError(DbError):
    """One feed could not be fetched or parsed; names the source."""


class PolicyError(HullscanError):
    """A policy file (ignore list, whitelist, VEX) is invalid."""


class ReportError(HullscanError):
    """A report could not be written."""


class IntegrationError(HullscanError):
    """A tracker or other external integration failed."""
