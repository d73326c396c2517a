"""What a tracker must offer the sync algorithm, and how its failures are described.

The sync algorithm (tickets/sync.py) is written once against `Tracker`; a backend only
maps these few operations to its API (GitLab through python-gitlab, GitHub through its
REST API with httpx). Backends retry rate limits and server errors themselves and raise
`TrackerError` with a message a user can act on: which operation, what the tracker
said, and what to change (token scope, project id, ...).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

from hullscan.errors import IntegrationError


class ErrorKind(StrEnum):
    """Why a tracker call failed; `fatal` kinds stop the remaining images early."""

    AUTH = "auth"  # 401: bad or expired token
    FORBIDDEN = "forbidden"  # 403: token lacks a scope or role
    NOT_FOUND = "not_found"  # 404: project/repository (or issue) not found
    INVALID = "invalid"  # 400/422: the tracker refused the content
    RATE_LIMITED = "rate_limited"  # 429/403 rate limit, still limited after retries
    SERVER = "server"  # 5xx after retries
    NETWORK = "network"  # connection failed after retries
    CONFIG = "config"  # missing URL/project/token before any call


class TrackerError(IntegrationError):
    """A tracker operation failed; the message says what to do about it."""

    def __init__(
        self,
        message: str,
        kind: ErrorKind,
        status: int | None = None,
        *,
        project_level: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        #: a 404 on the project/repository itself, not on one issue
        self.project_level = project_level

    @property
    def fatal(self) -> bool:
        """The same call would fail for every other image too (credentials, project)."""
        return self.kind in (ErrorKind.AUTH, ErrorKind.FORBIDDEN, ErrorKind.CONFIG) or (
            self.kind is ErrorKind.NOT_FOUND and self.project_level
        )


@dataclass(frozen=True)
class TrackerIssue:
    """An issue as the sync needs it; `id` is what the API addresses it by (GitLab iid,
    GitHub number)."""

    id: int
    title: str
    description: str
    state: str  # "open" or "closed", normalised by the backend
    labels: tuple[str, ...] = ()
    web_url: str = ""


class Tracker(ABC):
    """One project's issue tracker."""

    #: shown in messages: "GitLab", "GitHub"
    name: str = "tracker"
    #: the severity label is this prefix and the lower-case severity (`severity::high`)
    severity_label_prefix: str = "severity:"
    #: whether issues can be confidential (GitLab) ; others ignore the option
    supports_confidential: bool = False
    #: whether files can be attached (GitLab project uploads); else the body embeds a summary
    supports_uploads: bool = False
    #: the longest issue description or comment the tracker accepts
    max_body: int = 65_536

    @abstractmethod
    def iter_open_issues(self, label: str) -> Iterator[TrackerIssue]:
        """Every open issue with `label`, following pagination to the end."""

    @abstractmethod
    def create_issue(
        self, title: str, description: str, labels: Sequence[str], confidential: bool
    ) -> TrackerIssue:
        """Open a new issue."""

    @abstractmethod
    def update_issue(
        self, issue: TrackerIssue, *, title: str, description: str, labels: Sequence[str]
    ) -> TrackerIssue:
        """Replace the title, description and labels of an open issue."""

    @abstractmethod
    def add_comment(self, issue: TrackerIssue, body: str) -> None:
        """Comment on an issue (GitLab: a note)."""

    @abstractmethod
    def close_issue(self, issue: TrackerIssue) -> None:
        """Close an issue as resolved."""

    def close(self) -> None:  # noqa: B027 - optional: most backends hold nothing
        """Release connections (GitHub's HTTP client); the tracker is unusable after."""

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def upload(self, filename: str, content: bytes) -> str | None:
        """Attach a file to the project; the Markdown that links it, or None when the
        tracker has no upload API (the description then carries a summary instead)."""
        return None
