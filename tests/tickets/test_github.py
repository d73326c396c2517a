"""The same sync against a fake GitHub REST API: the tracker layer is pluggable."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from hullscan.report.load import parse_reports
from hullscan.tickets import (
    EXIT_FINDINGS,
    EXIT_TRACKER_FAILED,
    Action,
    ErrorKind,
    PipelineInfo,
    SyncOptions,
    TrackerError,
    exit_code,
    sync_reports,
)
from hullscan.tickets.fingerprint import parse_description
from hullscan.tickets.github import MAX_BODY, GitHubTracker
from tests.tickets.fake_github import FakeGitHub, Repository
from tests.tickets.fakeserver import FakeServer, Fault
from tests.tickets.reports import BUSYBOX_CVES, Scans

ACTIONS_ENV = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_SERVER_URL": "https://github.example",
    "GITHUB_REPOSITORY": "team/app",
    "GITHUB_RUN_ID": "987654",
    "GITHUB_RUN_ATTEMPT": "1",
    "GITHUB_SHA": "fedcba9876543210fedcba9876543210fedcba98",
    "GITHUB_REF_NAME": "main",
    "GITHUB_JOB": "scan",
}
OTHER = "ghcr.io/team/api:2.0"


@dataclass
class GitHub:
    server: FakeServer
    api: FakeGitHub
    repo: Repository
    sleeps: list[float]

    def tracker(
        self, token: str = "ghs_good", repository: str = "team/app", **kw: object
    ) -> GitHubTracker:
        return GitHubTracker(
            repository,
            token,
            api_url=self.server.url,
            max_retries=3,
            sleep=self.sleeps.append,
            **kw,  # type: ignore[arg-type]
        )


@pytest.fixture
def gh() -> Iterator[GitHub]:
    api = FakeGitHub()
    repo = api.add_repo("team/app")
    with FakeServer(api) as server:
        api.base_url = server.url
        yield GitHub(server, api, repo, [])


def options(**kw: object) -> SyncOptions:
    return SyncOptions(pipeline=PipelineInfo.from_env(ACTIONS_ENV), **kw)  # type: ignore[arg-type]


def test_create_embeds_a_summary_and_links_the_run(gh: GitHub, scans: Scans) -> None:
    results = sync_reports(gh.tracker(), [scans.loaded()], options(confidential=True))
    (result,) = results
    assert result.action is Action.CREATED, result.message
    issue = gh.repo.issues[1]
    assert [label["name"] for label in issue["labels"]] == ["security", "severity:unknown"]
    body = issue["body"]
    assert parse_description(body) is not None
    assert "<details><summary>Scan summary of hullscan/sample:alpine-3.4 (JSON)</summary>" in body
    assert '"total": 55' in body
    assert "artifacts of the [run](https://github.example/team/app/actions/runs/987654)" in body
    assert "https://github.example/team/app/commit/fedcba9876543210fedcba9876543210fedcba98" in body
    assert len(body) <= MAX_BODY
    assert exit_code(results) == EXIT_FINDINGS
    request = gh.server.writes()[0]
    assert request.headers["authorization"] == "Bearer ghs_good"
    assert request.headers["x-github-api-version"] == "2022-11-28"


def test_rerun_unchanged_then_changed_then_fixed(gh: GitHub, scans: Scans) -> None:
    sync_reports(gh.tracker(), [scans.loaded()], options())
    gh.server.clear()
    (same,) = sync_reports(gh.tracker(), [scans.loaded()], options())
    assert same.action is Action.UNCHANGED and gh.server.writes() == []

    (changed,) = sync_reports(gh.tracker(), [scans.loaded(whitelist=BUSYBOX_CVES)], options())
    assert changed.action is Action.UPDATED and changed.fixed == 3
    (comment,) = gh.repo.comments[1]
    assert "0 new, 3 fixed, 0 changed" in comment["body"]
    assert "run [#987654](https://github.example/team/app/actions/runs/987654)" in comment["body"]
    assert [w.method for w in gh.server.writes()] == ["POST", "PATCH"]

    (closed,) = sync_reports(gh.tracker(), [scans.loaded(whitelist=scans.all_ids())], options())
    assert closed.action is Action.CLOSED
    assert gh.repo.issues[1]["state"] == "closed"
    assert gh.repo.issues[1]["state_reason"] == "completed"
    assert "Closing this issue." in gh.repo.comments[1][-1]["body"]


def test_pull_requests_and_other_pages_are_handled(gh: GitHub, scans: Scans) -> None:
    for n in range(150):
        gh.api.add_issue(gh.repo, title=f"other {n}", labels=["security"], body="not ours")
    sync_reports(gh.tracker(), [scans.loaded()], options())
    ours = max(gh.repo.issues)
    # a pull request carrying our fingerprint is not an issue to update
    gh.api.add_issue(
        gh.repo, pull_request=True, labels=["security"], body=gh.repo.issues[ours]["body"]
    )
    gh.server.clear()
    (result,) = sync_reports(gh.tracker(), [scans.loaded()], options())
    assert result.action is Action.UNCHANGED and result.issue_id == ours
    assert [r.arg("page") for r in gh.server.requests] == [None, "2"]


def test_two_images_and_a_persistent_failure(gh: GitHub, scans: Scans) -> None:
    gh.server.inject(Fault("POST", r"/issues$", 503, {"message": "Service Unavailable"}, times=4))
    results = sync_reports(gh.tracker(), [scans.loaded(), scans.loaded(OTHER)], options())
    assert [r.action for r in results] == [Action.FAILED, Action.CREATED]
    assert "GitHub server error 503" in results[0].message
    assert gh.sleeps == [1.0, 2.0, 4.0]  # exponential backoff between the retries
    assert exit_code(results) == EXIT_TRACKER_FAILED


def test_rate_limits_are_waited_out(gh: GitHub, scans: Scans) -> None:
    reset = int(time.time()) + 30
    gh.server.inject(
        Fault(
            "GET",
            r"/issues$",
            403,
            {"message": "API rate limit exceeded for installation ID 1."},
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
        )
    )
    gh.server.inject(
        Fault(
            "POST",
            r"/issues$",
            429,
            {"message": "You have exceeded a secondary rate limit."},
            {"retry-after": "5"},
        )
    )
    (result,) = sync_reports(gh.tracker(), [scans.loaded()], options())
    assert result.action is Action.CREATED, result.message
    assert 25 <= gh.sleeps[0] <= 32  # until x-ratelimit-reset
    assert gh.sleeps[1] == 5.0  # Retry-After


def test_a_rate_limit_too_long_to_wait_fails_with_the_reset_time(gh: GitHub, scans: Scans) -> None:
    reset = int(time.time()) + 3000
    gh.server.inject(
        Fault(
            "GET",
            r"/issues$",
            403,
            {"message": "API rate limit exceeded for installation ID 1."},
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
        )
    )
    (result,) = sync_reports(gh.tracker(), [scans.loaded()], options())
    assert result.action is Action.FAILED and result.error_kind is ErrorKind.RATE_LIMITED
    assert "the limit resets at" in result.message and gh.sleeps == []


def test_invalid_and_read_only_tokens(gh: GitHub, scans: Scans) -> None:
    (bad,) = sync_reports(gh.tracker("ghs_wrong"), [scans.loaded()], options())
    assert bad.action is Action.FAILED and bad.error_kind is ErrorKind.AUTH
    assert "401: Bad credentials" in bad.message
    results = sync_reports(gh.tracker("ghs_read"), [scans.loaded(), scans.loaded(OTHER)], options())
    assert [r.error_kind for r in results] == [ErrorKind.FORBIDDEN, ErrorKind.FORBIDDEN]
    assert "Resource not accessible by integration" in results[0].message
    assert "permissions: issues: write" in results[0].message
    assert "not attempted" in results[1].message


def test_unknown_repository_and_disabled_issues(gh: GitHub, scans: Scans) -> None:
    (missing,) = sync_reports(gh.tracker(repository="team/nope"), [scans.loaded()], options())
    assert missing.error_kind is ErrorKind.NOT_FOUND and "team/nope not found" in missing.message
    gh.repo.has_issues = False
    (disabled,) = sync_reports(gh.tracker(), [scans.loaded()], options())
    assert "issues are disabled" in disabled.message


def test_large_finding_sets_stay_under_githubs_body_limit(gh: GitHub, scans: Scans) -> None:
    """1,500 findings: the table is cut with a note, the state kept, GitHub accepts the body."""
    document = json.loads(scans.json("team/big:1"))
    template = document["findings"][0]
    document["findings"] = [
        {**template, "id": f"CVE-2099-{n:05d}", "aliases": []} for n in range(1500)
    ]
    (big,) = parse_reports(json.dumps(document), "big.json")
    (result,) = sync_reports(gh.tracker(), [big], options())
    assert result.action is Action.CREATED, result.message
    body = gh.repo.issues[1]["body"]
    assert len(body) <= MAX_BODY
    assert "more finding(s) not shown here" in body
    fingerprint = parse_description(body)
    assert fingerprint is not None and fingerprint.findings is not None
    assert len(fingerprint.findings) == 1500
    # one fixed: the comment lists it, and the update is accepted too
    document["findings"] = document["findings"][1:]
    (smaller,) = parse_reports(json.dumps(document), "big.json")
    (update,) = sync_reports(gh.tracker(), [smaller], options())
    assert update.action is Action.UPDATED and update.fixed == 1, update.message
    assert "CVE-2099-00000" in gh.repo.comments[1][0]["body"]


def test_config_from_the_actions_environment() -> None:
    tracker = GitHubTracker.from_env({**ACTIONS_ENV, "GITHUB_TOKEN": "x"})
    assert tracker.repository == "team/app" and tracker.api_url == "https://api.github.com"
    enterprise = GitHubTracker.from_env(
        {**ACTIONS_ENV, "GITHUB_TOKEN": "x", "GITHUB_API_URL": "https://ghe.example/api/v3"}
    )
    assert enterprise.api_url == "https://ghe.example/api/v3"
    with pytest.raises(TrackerError, match="no GitHub token"):
        GitHubTracker.from_env(ACTIONS_ENV)
    with pytest.raises(TrackerError, match="no GitHub repository"):
        GitHubTracker.from_env({"GITHUB_TOKEN": "x"})
    with pytest.raises(TrackerError, match="OWNER/NAME"):
        GitHubTracker("just-a-name", "x")
