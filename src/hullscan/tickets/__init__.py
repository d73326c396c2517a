"""One tracker issue per vulnerable image (GitLab, GitHub), kept in step with the scans.

`sync_reports(tracker, reports, SyncOptions(...))` is the whole integration; the trackers
are `GitLabTracker` (tickets.gitlab, python-gitlab) and `GitHubTracker` (tickets.github),
imported from their modules so each backend's dependency loads only when used.
See docs/tickets.md.
"""

from __future__ import annotations

from hullscan.tickets.base import ErrorKind, Tracker, TrackerError, TrackerIssue
from hullscan.tickets.fingerprint import KeyBy, image_key
from hullscan.tickets.pipeline import PipelineInfo
from hullscan.tickets.sync import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_TRACKER_FAILED,
    Action,
    SyncOptions,
    SyncResult,
    exit_code,
    sync_reports,
)

__all__ = [
    "EXIT_FINDINGS",
    "EXIT_OK",
    "EXIT_TRACKER_FAILED",
    "Action",
    "ErrorKind",
    "KeyBy",
    "PipelineInfo",
    "SyncOptions",
    "SyncResult",
    "Tracker",
    "TrackerError",
    "TrackerIssue",
    "exit_code",
    "image_key",
    "sync_reports",
]
