"""GitHub issues through the REST API (httpx), the second tracker behind `Tracker`.

Calls used: `GET /repos/{owner}/{repo}/issues?state=open&labels=...` (every page, by the
Link header; pull requests, which this endpoint also returns, are skipped), `POST` to
create, `PATCH` to edit and close (`state_reason: completed`), `POST .../comments`.

GitHub has no API to attach a file to an issue, so the description embeds a collapsed
JSON summary of each scan and links the workflow run, whose artifacts hold the full
report (upload it with actions/upload-artifact; docs/tickets.md).

Rate limits and errors, per GitHub's REST documentation: 429, and 403 with
`retry-after` or `x-ratelimit-remaining: 0`, are waited out (Retry-After seconds, else
until `x-ratelimit-reset`, else exponential backoff), as are 5xx and connection errors,
at most `max_retries` times and never longer than `max_wait` seconds at once (a longer
limit fails with the time it resets). 401 is a bad token; another 403 a token without
`issues: write`; 404 a repository that does not exist or that the token cannot see;
410 disabled issues; 422 content GitHub refused, with its field errors.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from hullscan import __version__
from hullscan.tickets.base import ErrorKind, Tracker, TrackerError, TrackerIssue

TOKEN_ENV = "GITHUB_TOKEN"
REPOSITORY_ENV = "GITHUB_REPOSITORY"
API_URL_ENV = "GITHUB_API_URL"
DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
#: GitHub's limit for issue bodies and comments
MAX_BODY = 65_536
PERMISSION_HELP = (
    "the token needs write access to issues: in a workflow, grant `permissions: issues: "
    "write`; a fine-grained token needs Issues read and write; a classic token `repo` "
    "(or `public_repo`)"
)


class GitHubTracker(Tracker):
    """Issues of one GitHub repository (`owner/name`)."""

    name = "GitHub"
    severity_label_prefix = "severity:"  # GitHub has no scoped labels
    supports_confidential = False
    supports_uploads = False
    max_body = MAX_BODY

    def __init__(
        self,
        repository: str,
        token: str,
        *,
        api_url: str = DEFAULT_API_URL,
        timeout: float = 30.0,
        max_retries: int = 5,
        max_wait: float = 120.0,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        token_source: str = TOKEN_ENV,
    ) -> None:
        if repository.count("/") != 1 or not all(repository.split("/")):
            raise TrackerError(
                f"GitHub repository {repository!r} must be OWNER/NAME", ErrorKind.CONFIG
            )
        self.repository = repository
        self.api_url = api_url.rstrip("/")
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.backoff = backoff
        self.sleep = sleep
        self.token_source = token_source
        self._client = httpx.Client(
            base_url=self.api_url,
            timeout=timeout,
            transport=transport,
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {token}",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": f"hullscan/{__version__}",
            },
        )

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        *,
        repository: str | None = None,
        token: str | None = None,
        api_url: str | None = None,
        **options: Any,
    ) -> GitHubTracker:
        """Flags first, then GITHUB_REPOSITORY, GITHUB_TOKEN and GITHUB_API_URL (set by
        GitHub Actions; GitHub Enterprise's API URL comes from there too)."""
        repository = repository or env.get(REPOSITORY_ENV)
        source = "--token" if token else TOKEN_ENV
        token = token or env.get(TOKEN_ENV)
        if not repository:
            raise TrackerError(
                f"no GitHub repository: pass --repository OWNER/NAME or set {REPOSITORY_ENV}",
                ErrorKind.CONFIG,
            )
        if not token:
            raise TrackerError(
                f"no GitHub token: set {TOKEN_ENV} (in a workflow: `env: GITHUB_TOKEN: "
                "${{ secrets.GITHUB_TOKEN }}` with `permissions: issues: write`)",
                ErrorKind.CONFIG,
            )
        url = api_url or env.get(API_URL_ENV) or DEFAULT_API_URL
        return cls(repository, token, api_url=url, token_source=source, **options)

    def close(self) -> None:
        self._client.close()

    # --- HTTP with retries -------------------------------------------------------------

    def _request(
        self,
        method: str,
        url: str,
        action: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        on_issue: int | None = None,
    ) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = self._client.request(method, url, json=json, params=params)
            except httpx.TransportError as exc:
                if attempt < self.max_retries:
                    self.sleep(self._backoff(attempt))
                    attempt += 1
                    continue
                raise TrackerError(
                    f"cannot reach GitHub at {self.api_url} while {action} "
                    f"(after {attempt} retries): {exc}",
                    ErrorKind.NETWORK,
                ) from None
            if response.is_success:
                return response
            wait = self._retry_wait(response, attempt)
            if wait is not None and attempt < self.max_retries:
                if wait > self.max_wait:
                    raise self._error(response, action, on_issue, waited_out=wait)
                self.sleep(wait)
                attempt += 1
                continue
            raise self._error(response, action, on_issue, retries=attempt)

    def _backoff(self, attempt: int) -> float:
        return float(min(self.backoff * 2**attempt, self.max_wait))

    def _retry_wait(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying, or None when retrying cannot help."""
        code = response.status_code
        headers = response.headers
        rate_limited = code == 429 or (
            code == 403
            and ("retry-after" in headers or headers.get("x-ratelimit-remaining") == "0")
        )
        if rate_limited:
            retry_after = _retry_after(headers.get("retry-after"))
            if retry_after is not None:
                return retry_after
            reset = headers.get("x-ratelimit-reset")
            if headers.get("x-ratelimit-remaining") == "0" and reset and reset.isdigit():
                return max(0.0, int(reset) - time.time()) + 1.0
            return max(60.0, self._backoff(attempt)) if code == 403 else self._backoff(attempt)
        if code >= 500:
            retry_after = _retry_after(headers.get("retry-after"))
            return retry_after if retry_after is not None else self._backoff(attempt)
        return None

    def _error(
        self,
        response: httpx.Response,
        action: str,
        on_issue: int | None,
        *,
        retries: int = 0,
        waited_out: float | None = None,
    ) -> TrackerError:
        code = response.status_code
        said = _message(response)
        where = f"repository {self.repository}"
        if (
            waited_out is not None
            or code == 429
            or (
                code == 403
                and (
                    "retry-after" in response.headers
                    or response.headers.get("x-ratelimit-remaining") == "0"
                )
            )
        ):
            reset = response.headers.get("x-ratelimit-reset", "")
            when = (
                datetime.fromtimestamp(int(reset), UTC).strftime("%H:%M:%S UTC")
                if reset.isdigit()
                else None
            )
            detail = f"; the limit resets at {when}" if when else ""
            if waited_out is not None:
                detail += f" (asked to wait {waited_out:.0f} s, more than {self.max_wait:.0f} s)"
            return TrackerError(
                f"GitHub rate limit while {action} ({code}: {said}){detail}",
                ErrorKind.RATE_LIMITED,
                code,
            )
        if code == 401:
            return TrackerError(
                f"GitHub rejected the token from {self.token_source} (401: {said}) while "
                f"{action}: it is wrong, expired or revoked",
                ErrorKind.AUTH,
                code,
            )
        if code == 403:
            return TrackerError(
                f"GitHub refused {action} in {where} (403: {said}): {PERMISSION_HELP}",
                ErrorKind.FORBIDDEN,
                code,
            )
        if code == 404:
            if on_issue is not None:
                return TrackerError(
                    f"issue #{on_issue} not found in {where} while {action} (404: {said})",
                    ErrorKind.NOT_FOUND,
                    code,
                )
            return TrackerError(
                f"{where} not found while {action} (404: {said}): check OWNER/NAME, and that "
                "the token can see the repository (GitHub answers 404, not 403, for private "
                "repositories it may not read)",
                ErrorKind.NOT_FOUND,
                code,
                project_level=True,
            )
        if code == 410:
            return TrackerError(
                f"issues are disabled in {where} (410: {said}): enable them in the "
                "repository settings",
                ErrorKind.FORBIDDEN,
                code,
            )
        if code in (400, 409, 413, 422):
            return TrackerError(
                f"GitHub refused {action} ({code}: {said})", ErrorKind.INVALID, code
            )
        if code >= 500:
            return TrackerError(
                f"GitHub server error {code} while {action}, after {retries} retries: {said}",
                ErrorKind.SERVER,
                code,
            )
        return TrackerError(f"GitHub error {code} while {action}: {said}", ErrorKind.SERVER, code)

    # --- operations -----------------------------------------------------------------------

    def _issues_url(self) -> str:
        return f"/repos/{self.repository}/issues"

    def iter_open_issues(self, label: str) -> Iterator[TrackerIssue]:
        url: str | None = self._issues_url()
        params: Mapping[str, Any] | None = {
            "state": "open",
            "labels": label,
            "per_page": 100,
            "sort": "created",
            "direction": "asc",
        }
        action = f"listing open issues labelled {label!r}"
        while url is not None:
            response = self._request("GET", url, action, params=params)
            try:
                items = response.json()
            except ValueError:
                raise TrackerError(
                    f"GitHub answered non-JSON while {action}", ErrorKind.SERVER
                ) from None
            if not isinstance(items, list):
                raise TrackerError(
                    f"GitHub answered an unexpected document while {action}", ErrorKind.SERVER
                )
            for item in items:
                if isinstance(item, dict) and "pull_request" not in item:
                    yield _issue(item)
            url = response.links.get("next", {}).get("url")
            params = None  # the next link carries the query

    def create_issue(
        self, title: str, description: str, labels: Sequence[str], confidential: bool
    ) -> TrackerIssue:
        response = self._request(
            "POST",
            self._issues_url(),
            "creating an issue",
            json={"title": title, "body": description, "labels": list(labels)},
        )
        return _issue(response.json())

    def update_issue(
        self, issue: TrackerIssue, *, title: str, description: str, labels: Sequence[str]
    ) -> TrackerIssue:
        response = self._request(
            "PATCH",
            f"{self._issues_url()}/{issue.id}",
            f"editing issue #{issue.id}",
            json={"title": title, "body": description, "labels": list(labels)},
            on_issue=issue.id,
        )
        return _issue(response.json())

    def add_comment(self, issue: TrackerIssue, body: str) -> None:
        self._request(
            "POST",
            f"{self._issues_url()}/{issue.id}/comments",
            f"commenting on issue #{issue.id}",
            json={"body": body},
            on_issue=issue.id,
        )

    def close_issue(self, issue: TrackerIssue) -> None:
        self._request(
            "PATCH",
            f"{self._issues_url()}/{issue.id}",
            f"closing issue #{issue.id}",
            json={"state": "closed", "state_reason": "completed"},
            on_issue=issue.id,
        )


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (a number or an HTTP date), None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    if not isinstance(data, dict):
        return response.reason_phrase
    message = str(data.get("message") or response.reason_phrase)
    errors = data.get("errors")
    if isinstance(errors, list) and errors:
        details = []
        for error in errors:
            if isinstance(error, dict):
                details.append(
                    str(error.get("message") or f"{error.get('field')} {error.get('code')}")
                )
            else:
                details.append(str(error))
        message += ": " + "; ".join(details)
    return message[:500]


def _issue(data: Mapping[str, Any]) -> TrackerIssue:
    labels = data.get("labels") or []
    return TrackerIssue(
        id=int(data["number"]),
        title=str(data.get("title") or ""),
        description=str(data.get("body") or ""),
        state=str(data.get("state") or ""),
        labels=tuple(
            str(label.get("name") if isinstance(label, dict) else label) for label in labels
        ),
        web_url=str(data.get("html_url") or ""),
    )
