"""GitLab issues through python-gitlab (REST API v4).

Calls used: list project issues (`state=opened`, `labels=`, every page), create, edit
(`PUT`, also `state_event=close`), notes, and project uploads (the JSON report becomes
an attachment linked from the description). python-gitlab retries 429 (honouring
Retry-After / RateLimit-Reset) and, as enabled here, 5xx and connection failures with
exponential backoff; the number of retries is bounded.

Credentials: a project or personal access token with the `api` scope and at least the
Reporter role (`GITLAB_TOKEN`). The CI job token (`CI_JOB_TOKEN`) cannot be used: GitLab
accepts it only on a few APIs (packages, releases, ...), not on issues, so it is refused
up front with a message saying what to create instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import gitlab
import gitlab.exceptions

from hullscan.tickets.base import ErrorKind, Tracker, TrackerError, TrackerIssue

TOKEN_ENV = "GITLAB_TOKEN"
JOB_TOKEN_HELP = (
    "the CI job token (CI_JOB_TOKEN) cannot create or edit issues: GitLab accepts it only "
    "on a few APIs (packages, releases, ...). Create a project access token with the `api` "
    "scope and the Reporter role (Settings > Access tokens), store it as a masked CI/CD "
    f"variable named {TOKEN_ENV}, and run again"
)
PERMISSION_HELP = (
    "the token needs the `api` scope and at least the Reporter role in the project "
    "(a `read_api` token, a Guest, or the CI job token cannot create or edit issues)"
)
#: GitLab's limit for descriptions and notes (1,048,576 characters)
MAX_DESCRIPTION = 1_048_576


class _Gitlab(gitlab.Gitlab):
    """python-gitlab with a bounded number of retries for every call."""

    def __init__(self, *args: Any, max_retries: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._hullscan_max_retries = max_retries

    def http_request(self, verb: str, path: str, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("max_retries", self._hullscan_max_retries)
        return super().http_request(verb, path, *args, **kwargs)


class GitLabTracker(Tracker):
    """Issues of one GitLab project (id or `group/project` path)."""

    name = "GitLab"
    severity_label_prefix = "severity::"  # a scoped label: one severity at a time
    supports_confidential = True
    supports_uploads = True
    max_body = MAX_DESCRIPTION

    def __init__(
        self,
        url: str,
        project: str | int,
        token: str,
        *,
        timeout: float = 30.0,
        max_retries: int = 5,
        ssl_verify: bool | str = True,
        token_source: str = TOKEN_ENV,
    ) -> None:
        self.url = url.rstrip("/")
        self.project_id = project
        self.token_source = token_source
        self.max_retries = max_retries
        self._gl = _Gitlab(
            self.url,
            private_token=token,
            timeout=timeout,
            ssl_verify=ssl_verify,
            retry_transient_errors=True,
            max_retries=max_retries,
            user_agent="hullscan",
        )
        self._project = self._gl.projects.get(project, lazy=True)

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        *,
        url: str | None = None,
        project: str | None = None,
        token: str | None = None,
        **options: Any,
    ) -> GitLabTracker:
        """Flags first, then GitLab CI's variables (CI_SERVER_URL, CI_PROJECT_ID) and
        GITLAB_TOKEN. TrackerError (kind CONFIG) says what is missing."""
        url = url or env.get("CI_SERVER_URL")
        project = project or env.get("CI_PROJECT_ID") or env.get("CI_PROJECT_PATH")
        job_token = env.get("CI_JOB_TOKEN")
        source = "--token" if token else TOKEN_ENV
        token = token or env.get(TOKEN_ENV)
        if not url:
            raise TrackerError(
                "no GitLab URL: pass --gitlab-url or run in GitLab CI (CI_SERVER_URL)",
                ErrorKind.CONFIG,
            )
        if not project:
            raise TrackerError(
                "no GitLab project: pass --project ID_OR_PATH or run in GitLab CI (CI_PROJECT_ID)",
                ErrorKind.CONFIG,
            )
        if not token:
            if job_token:
                raise TrackerError(f"no {TOKEN_ENV}, and {JOB_TOKEN_HELP}", ErrorKind.CONFIG)
            raise TrackerError(
                f"no GitLab token: set {TOKEN_ENV} (a project access token with the `api` "
                "scope and the Reporter role) or pass --token",
                ErrorKind.CONFIG,
            )
        if job_token and token == job_token:
            raise TrackerError(f"the token given is {JOB_TOKEN_HELP}", ErrorKind.CONFIG)
        return cls(url, project, token, token_source=source, **options)

    # --- errors ------------------------------------------------------------------------

    @contextmanager
    def _errors(self, action: str, *, on_issue: int | None = None) -> Iterator[None]:
        """Turn python-gitlab and connection errors into TrackerErrors that say why."""
        where = f"project {self.project_id} on {self.url}"
        try:
            yield
        except gitlab.exceptions.GitlabError as exc:
            raise self._describe(exc, action, where, on_issue) from None
        except OSError as exc:  # requests' errors are OSErrors
            raise TrackerError(
                f"cannot reach GitLab at {self.url} while {action} "
                f"(after {self.max_retries} retries): {exc}",
                ErrorKind.NETWORK,
            ) from None

    def _describe(
        self, exc: gitlab.exceptions.GitlabError, action: str, where: str, on_issue: int | None
    ) -> TrackerError:
        code = exc.response_code
        said = _message(exc)
        if code == 401:
            return TrackerError(
                f"GitLab rejected the token from {self.token_source} (401 Unauthorized) while "
                f"{action}: it is wrong, expired or revoked; {PERMISSION_HELP}",
                ErrorKind.AUTH,
                code,
            )
        if code == 403:
            return TrackerError(
                f"GitLab refused {action} in {where} (403 Forbidden: {said}): {PERMISSION_HELP}",
                ErrorKind.FORBIDDEN,
                code,
            )
        if code == 404:
            if on_issue is not None and "project" not in said.lower():
                return TrackerError(
                    f"issue #{on_issue} not found in {where} while {action} "
                    f"(404: {said}); was it deleted or moved?",
                    ErrorKind.NOT_FOUND,
                    code,
                )
            return TrackerError(
                f"{where} not found while {action} (404: {said}): check the project id or "
                "path, and that the token's user is a member of the project",
                ErrorKind.NOT_FOUND,
                code,
                project_level=True,
            )
        if code == 429:
            return TrackerError(
                f"GitLab is still rate limiting after {self.max_retries} retries while "
                f"{action}: {said}",
                ErrorKind.RATE_LIMITED,
                code,
            )
        if code is not None and code >= 500:
            return TrackerError(
                f"GitLab server error {code} while {action}, after {self.max_retries} retries: "
                f"{said}",
                ErrorKind.SERVER,
                code,
            )
        if code in (400, 409, 413, 422):
            return TrackerError(
                f"GitLab refused {action} ({code}: {said})", ErrorKind.INVALID, code
            )
        return TrackerError(
            f"GitLab error while {action}: {code or ''} {said}".strip(), ErrorKind.SERVER, code
        )

    # --- operations -----------------------------------------------------------------------

    def close(self) -> None:
        self._gl.session.close()

    def iter_open_issues(self, label: str) -> Iterator[TrackerIssue]:
        with self._errors(f"listing open issues labelled {label!r}"):
            pages = self._project.issues.list(
                state="opened",
                labels=[label],
                iterator=True,
                per_page=100,
                order_by="created_at",
                sort="asc",
            )
            for item in pages:
                yield _issue(item.asdict())

    def create_issue(
        self, title: str, description: str, labels: Sequence[str], confidential: bool
    ) -> TrackerIssue:
        data: dict[str, Any] = {
            "title": title,
            "description": description,
            "labels": ",".join(labels),
        }
        if confidential:
            data["confidential"] = True
        with self._errors("creating an issue"):
            created = self._project.issues.create(data)
        return _issue(created.asdict())

    def update_issue(
        self, issue: TrackerIssue, *, title: str, description: str, labels: Sequence[str]
    ) -> TrackerIssue:
        data = {"title": title, "description": description, "labels": ",".join(labels)}
        with self._errors(f"editing issue #{issue.id}", on_issue=issue.id):
            updated = self._project.issues.update(issue.id, data)
        return _issue(updated) if isinstance(updated, dict) and "iid" in updated else issue

    def add_comment(self, issue: TrackerIssue, body: str) -> None:
        with self._errors(f"commenting on issue #{issue.id}", on_issue=issue.id):
            self._project.issues.get(issue.id, lazy=True).notes.create({"body": body})

    def close_issue(self, issue: TrackerIssue) -> None:
        with self._errors(f"closing issue #{issue.id}", on_issue=issue.id):
            self._project.issues.update(issue.id, {"state_event": "close"})

    def upload(self, filename: str, content: bytes) -> str | None:
        # POST /projects/:id/uploads; not Project.upload(), which encodes a path id twice
        path = f"/projects/{self._project.encoded_id}/uploads"
        with self._errors(f"uploading {filename}"):
            uploaded = self._gl.http_post(path, files={"file": (filename, content)})
        if not isinstance(uploaded, dict):
            return None
        markdown = uploaded.get("markdown")
        if isinstance(markdown, str) and markdown:
            return markdown
        url = uploaded.get("url") or uploaded.get("full_path")
        return f"[{filename}]({url})" if url else None


def _message(exc: gitlab.exceptions.GitlabError) -> str:
    message = exc.error_message
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    if isinstance(message, dict):
        return "; ".join(
            f"{field} {', '.join(map(str, errors)) if isinstance(errors, list) else errors}"
            for field, errors in message.items()
        )
    return str(message or "").strip()[:500]


def _issue(data: Mapping[str, Any]) -> TrackerIssue:
    labels = data.get("labels") or []
    return TrackerIssue(
        id=int(data["iid"]),
        title=str(data.get("title") or ""),
        description=str(data.get("description") or ""),
        state="open" if data.get("state") == "opened" else str(data.get("state") or ""),
        labels=tuple(str(label["name"] if isinstance(label, dict) else label) for label in labels),
        web_url=str(data.get("web_url") or ""),
    )
