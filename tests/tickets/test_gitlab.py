"""The tracker sync against a fake GitLab (REST v4), driven through python-gitlab itself.

Input reports are real hullscan JSON reports of the sample image (tests/tickets/reports.py);
later pipelines are simulated by whitelisting findings (suppressed = no longer tracked).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import gitlab.utils
import pytest

from hullscan.model import Severity
from hullscan.tickets import (
    EXIT_FINDINGS,
    EXIT_OK,
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
from hullscan.tickets.gitlab import GitLabTracker
from tests.tickets.fake_gitlab import FakeGitLab, Project
from tests.tickets.fakeserver import FakeServer, Fault
from tests.tickets.reports import BUSYBOX_CVES, SAMPLE_NAME, Scans

CI_ENV = {
    "GITLAB_CI": "true",
    "CI_SERVER_URL": "https://gitlab.example.com",
    "CI_PROJECT_ID": "42",
    "CI_PROJECT_URL": "https://gitlab.example.com/team/app",
    "CI_PIPELINE_URL": "https://gitlab.example.com/team/app/-/pipelines/1234",
    "CI_PIPELINE_ID": "1234",
    "CI_COMMIT_SHA": "0123456789abcdef0123456789abcdef01234567",
    "CI_COMMIT_REF_NAME": "main",
    "CI_JOB_URL": "https://gitlab.example.com/team/app/-/jobs/567",
    "CI_JOB_NAME": "container_scanning",
}
OTHER = "registry.example.com/team/api:2.0"


@dataclass
class GitLab:
    server: FakeServer
    api: FakeGitLab
    project: Project
    sleeps: list[float]

    def tracker(
        self, token: str = "glpat-good", project: str | int = 42, **options: object
    ) -> GitLabTracker:
        return GitLabTracker(self.server.url, project, token, max_retries=3, **options)  # type: ignore[arg-type]


@pytest.fixture
def gl(monkeypatch: pytest.MonkeyPatch) -> Iterator[GitLab]:
    sleeps: list[float] = []
    # python-gitlab waits with gitlab.utils.time.sleep: record the waits instead of sleeping
    monkeypatch.setattr(gitlab.utils, "time", SimpleNamespace(sleep=sleeps.append, time=time.time))
    api = FakeGitLab()
    project = api.add_project(42, "team/app")
    with FakeServer(api) as server:
        api.base_url = server.url
        yield GitLab(server, api, project, sleeps)


def options(**kw: object) -> SyncOptions:
    return SyncOptions(pipeline=PipelineInfo.from_env(CI_ENV), **kw)  # type: ignore[arg-type]


def test_create_issue_with_table_labels_attachment_and_pipeline(gl: GitLab, scans: Scans) -> None:
    results = sync_reports(gl.tracker(), [scans.loaded()], options(confidential=True))
    (result,) = results
    assert result.action is Action.CREATED, result.message
    assert result.issue_id == 1 and result.findings == 55 and result.new == 55
    issue = gl.project.issues[1]
    assert issue["labels"] == ["security", "severity::unknown"]
    assert issue["confidential"] is True
    assert issue["title"] == "hullscan/sample: 55 vulnerabilities (highest UNKNOWN)"
    text = issue["description"]
    fingerprint = parse_description(text)
    assert fingerprint is not None and fingerprint.image == "docker.io/hullscan/sample"
    assert fingerprint.findings is not None and len(fingerprint.findings) == 55
    # the report is uploaded through the project uploads API and linked as GitLab answered
    (upload,) = gl.project.uploads
    assert upload["content"].decode() == scans.json()
    assert upload["markdown"] in text
    # a finding row: link, code spans, fixed version, the layer that brought it in
    assert (
        "| UNKNOWN | [CVE-2016-6301](https://nvd.nist.gov/vuln/detail/CVE-2016-6301) | `busybox` "
        "| `1.24.2-r9` | `1.24.2-r12` | #0 `ADD file:alpine-minirootfs-3.4.0-x86_64.tar.gz in /` |"
    ) in text
    assert "https://gitlab.example.com/team/app/-/pipelines/1234" in text
    assert (
        "https://gitlab.example.com/team/app/-/commit/0123456789abcdef0123456789abcdef01234567"
        in text
    )
    assert "https://gitlab.example.com/team/app/-/jobs/567" in text
    assert "`main`" in text
    assert exit_code(results) == EXIT_FINDINGS
    # python-gitlab sent exactly: list, upload, create
    assert [(r.method, r.path) for r in gl.server.requests] == [
        ("GET", "/api/v4/projects/42/issues"),
        ("POST", "/api/v4/projects/42/uploads"),
        ("POST", "/api/v4/projects/42/issues"),
    ]
    listing = gl.server.requests[0]
    assert listing.arg("state") == "opened" and listing.arg("labels") == "security"


def test_rerun_with_the_same_findings_writes_nothing(gl: GitLab, scans: Scans) -> None:
    sync_reports(gl.tracker(), [scans.loaded()], options())
    gl.server.clear()
    (result,) = sync_reports(gl.tracker(), [scans.loaded()], options())
    assert result.action is Action.UNCHANGED
    assert "already up to date" in result.message
    assert gl.server.writes() == []
    assert [r.method for r in gl.server.requests] == ["GET"]


def test_changed_findings_update_description_and_comment(gl: GitLab, scans: Scans) -> None:
    sync_reports(gl.tracker(), [scans.loaded()], options())
    gl.project.issues[1]["labels"].append("team::backend")  # a person's label stays
    gl.server.clear()
    later = scans.loaded(whitelist=BUSYBOX_CVES)
    (result,) = sync_reports(gl.tracker(), [later], options())
    assert result.action is Action.UPDATED, result.message
    assert (result.new, result.fixed, result.changed) == (0, 3, 0)
    assert [(r.method, r.path) for r in gl.server.writes()] == [
        ("POST", "/api/v4/projects/42/uploads"),
        ("POST", "/api/v4/projects/42/issues/1/notes"),
        ("PUT", "/api/v4/projects/42/issues/1"),
    ]
    issue = gl.project.issues[1]
    assert issue["labels"] == ["security", "team::backend", "severity::unknown"]
    assert issue["title"] == "hullscan/sample: 52 vulnerabilities (highest UNKNOWN)"
    assert "CVE-2016-6301" not in issue["description"].split("<!-- hullscan:state")[0]
    assert "3 suppressed by policy" in issue["description"]
    (note,) = gl.project.notes[1]
    body = note["body"]
    assert "0 new, 3 fixed, 0 changed" in body
    assert "**Fixed since last time:**" in body and "CVE-2017-16544" in body
    assert "pipeline [#1234](https://gitlab.example.com/team/app/-/pipelines/1234)" in body
    assert gl.project.uploads[-1]["markdown"] in body
    assert gl.project.uploads[-1]["markdown"] in issue["description"]
    # and back: the findings reappear
    (again,) = sync_reports(gl.tracker(), [scans.loaded()], options())
    assert (again.action, again.new, again.fixed) == (Action.UPDATED, 3, 0)
    assert "3 new, 0 fixed" in gl.project.notes[1][-1]["body"]


def test_all_fixed_closes_with_a_comment(gl: GitLab, scans: Scans) -> None:
    sync_reports(gl.tracker(), [scans.loaded()], options())
    fixed = scans.loaded(whitelist=scans.all_ids())
    results = sync_reports(gl.tracker(), [fixed], options())
    (result,) = results
    assert result.action is Action.CLOSED, result.message
    assert gl.project.issues[1]["state"] == "closed"
    (note,) = gl.project.notes[1]
    assert "No tracked findings remain" in note["body"] and "Closing this issue." in note["body"]
    assert exit_code(results) == EXIT_OK
    # closed issues are not listed again: a clean image stays clean, with no new issue
    gl.server.clear()
    (clean,) = sync_reports(gl.tracker(), [fixed], options())
    assert clean.action is Action.CLEAN and gl.server.writes() == []


def test_keep_open_rewrites_the_description_once(gl: GitLab, scans: Scans) -> None:
    sync_reports(gl.tracker(), [scans.loaded()], options())
    fixed = scans.loaded(whitelist=scans.all_ids())
    (result,) = sync_reports(gl.tracker(), [fixed], options(keep_open=True))
    assert result.action is Action.UPDATED and "left open" in result.message
    issue = gl.project.issues[1]
    assert issue["state"] == "opened"
    assert issue["labels"] == ["security"]
    assert "No tracked vulnerabilities left" in issue["description"]
    gl.server.clear()
    (again,) = sync_reports(gl.tracker(), [fixed], options(keep_open=True))
    assert again.action is Action.UNCHANGED and gl.server.writes() == []


def test_two_images_in_one_run_get_one_issue_each(gl: GitLab, scans: Scans) -> None:
    reports = [scans.loaded(), scans.loaded(OTHER, whitelist=BUSYBOX_CVES)]
    results = sync_reports(gl.tracker(), reports, options())
    assert [r.action for r in results] == [Action.CREATED, Action.CREATED]
    keys = {parse_description(i["description"]).image for i in gl.project.issues.values()}  # type: ignore[union-attr]
    assert keys == {"docker.io/hullscan/sample", "registry.example.com/team/api"}
    # a new tag of the same repository is the same issue; only the changed image is written
    gl.server.clear()
    later = [scans.loaded(), scans.loaded("registry.example.com/team/api:2.1")]
    results = sync_reports(gl.tracker(), later, options())
    assert [r.action for r in results] == [Action.UNCHANGED, Action.UPDATED]
    assert {r.path for r in gl.server.writes()} == {
        "/api/v4/projects/42/uploads",
        "/api/v4/projects/42/issues/2/notes",
        "/api/v4/projects/42/issues/2",
    }


def test_the_issue_is_found_on_a_later_page(gl: GitLab, scans: Scans) -> None:
    for n in range(230):  # other security issues, opened before ours
        gl.api.add_issue(
            gl.project, title=f"pentest finding {n}", labels=["security"], description="x"
        )
    sync_reports(gl.tracker(), [scans.loaded()], options())
    gl.server.clear()
    (result,) = sync_reports(gl.tracker(), [scans.loaded()], options())
    assert result.action is Action.UNCHANGED and result.issue_id == 231
    pages = [r.arg("page", "1") for r in gl.server.requests if r.method == "GET"]
    assert pages == ["1", "2", "3"]


def test_title_search_alone_is_not_trusted(gl: GitLab, scans: Scans) -> None:
    """An issue with our title but no fingerprint is someone else's: a new one is made."""
    gl.api.add_issue(
        gl.project,
        title="hullscan/sample: 55 vulnerabilities (highest UNKNOWN)",
        labels=["security"],
        description="copied by hand",
    )
    (result,) = sync_reports(gl.tracker(), [scans.loaded()], options())
    assert result.action is Action.CREATED and result.issue_id == 2


def test_duplicates_use_the_oldest_and_say_so(gl: GitLab, scans: Scans) -> None:
    sync_reports(gl.tracker(), [scans.loaded()], options())
    first = gl.project.issues[1]
    gl.api.add_issue(
        gl.project, title=first["title"], labels=["security"], description=first["description"]
    )
    (result,) = sync_reports(gl.tracker(), [scans.loaded()], options())
    assert result.action is Action.UNCHANGED and result.issue_id == 1
    assert "also open with the same fingerprint: #2" in result.message


def test_transient_500_and_429_are_retried_honouring_retry_after(gl: GitLab, scans: Scans) -> None:
    gl.server.inject(
        Fault("GET", r"/issues$", 500, {"message": "500 Internal Server Error"}, times=2)
    )
    gl.server.inject(
        Fault(
            "POST",
            r"/issues$",
            429,
            "Retry later",
            {"Retry-After": "7", "RateLimit-Limit": "600", "RateLimit-Remaining": "0"},
        )
    )
    (result,) = sync_reports(gl.tracker(), [scans.loaded()], options())
    assert result.action is Action.CREATED, result.message
    assert len(gl.project.issues) == 1
    assert 7 in gl.sleeps  # Retry-After honoured
    assert len(gl.sleeps) == 3  # two 500s, one 429
    assert (
        sum(1 for r in gl.server.requests if r.method == "POST" and r.path.endswith("/issues")) == 2
    )


def test_a_persistent_error_on_one_image_does_not_lose_the_others(gl: GitLab, scans: Scans) -> None:
    # the first create fails 4 times (1 + 3 retries); the second image's create succeeds
    gl.server.inject(Fault("POST", r"/issues$", 502, "Bad Gateway", times=4))
    reports = [scans.loaded(), scans.loaded(OTHER)]
    results = sync_reports(gl.tracker(), reports, options())
    assert [r.action for r in results] == [Action.FAILED, Action.CREATED]
    assert (
        "GitLab server error 502" in results[0].message and "after 3 retries" in results[0].message
    )
    assert results[0].error_kind is ErrorKind.SERVER
    assert exit_code(results) == EXIT_TRACKER_FAILED
    # the next run creates the missing one and leaves the other alone
    (fixed, same) = sync_reports(gl.tracker(), reports, options())
    assert (fixed.action, same.action) == (Action.CREATED, Action.UNCHANGED)


def test_refused_content_fails_that_image_only(gl: GitLab, scans: Scans) -> None:
    gl.api.refuse_titles_with = "team/api"
    results = sync_reports(gl.tracker(), [scans.loaded(OTHER), scans.loaded()], options())
    assert [r.action for r in results] == [Action.FAILED, Action.CREATED]
    assert "422" in results[0].message and "spam" in results[0].message
    assert results[0].error_kind is ErrorKind.INVALID


def test_invalid_token_fails_every_image_clearly_without_writes(gl: GitLab, scans: Scans) -> None:
    results = sync_reports(
        gl.tracker("glpat-wrong"), [scans.loaded(), scans.loaded(OTHER)], options()
    )
    assert [r.action for r in results] == [Action.FAILED, Action.FAILED]
    assert "401 Unauthorized" in results[0].message and "api` scope" in results[0].message
    assert all(r.error_kind is ErrorKind.AUTH for r in results)
    assert gl.server.writes() == [] and len(gl.server.requests) == 1
    assert exit_code(results) == EXIT_TRACKER_FAILED


def test_read_only_token_says_what_is_missing_and_stops(gl: GitLab, scans: Scans) -> None:
    results = sync_reports(
        gl.tracker("glpat-read"), [scans.loaded(), scans.loaded(OTHER)], options()
    )
    assert [r.action for r in results] == [Action.FAILED, Action.FAILED]
    assert "403 Forbidden" in results[0].message and "Reporter role" in results[0].message
    assert "not attempted" in results[1].message
    assert len(gl.server.writes()) == 1  # the first refused write; nothing tried after it


def test_unknown_project(gl: GitLab, scans: Scans) -> None:
    (result,) = sync_reports(gl.tracker(project="team/nope"), [scans.loaded()], options())
    assert result.action is Action.FAILED
    assert "project team/nope" in result.message and "not found" in result.message
    # a path works as well as the numeric id
    (ok,) = sync_reports(gl.tracker(project="team/app"), [scans.loaded()], options())
    assert ok.action is Action.CREATED
    assert gl.server.requests[-1].path == "/api/v4/projects/team%2Fapp/issues"


def test_dry_run_reads_but_never_writes(gl: GitLab, scans: Scans) -> None:
    results = sync_reports(
        gl.tracker(), [scans.loaded(), scans.loaded(OTHER)], options(dry_run=True)
    )
    assert [r.action for r in results] == [Action.CREATED, Action.CREATED]
    assert all(r.dry_run and "would create" in r.message for r in results)
    assert gl.server.writes() == [] and gl.project.issues == {}
    sync_reports(gl.tracker(), [scans.loaded()], options())
    gl.server.clear()
    later = scans.loaded(whitelist=scans.all_ids())
    (result,) = sync_reports(gl.tracker(), [later], options(dry_run=True))
    assert result.action is Action.CLOSED and "would close issue #1" in result.message
    assert gl.server.writes() == []


def test_threshold_above_every_finding_opens_nothing(gl: GitLab, scans: Scans) -> None:
    results = sync_reports(gl.tracker(), [scans.loaded()], options(threshold=Severity.LOW))
    assert [r.action for r in results] == [Action.CLEAN]
    assert exit_code(results) == EXIT_OK and gl.server.writes() == []


def test_key_by_tag_gives_one_issue_per_tag(gl: GitLab, scans: Scans) -> None:
    from hullscan.tickets import KeyBy

    reports = [scans.loaded("team/app:1.0"), scans.loaded("team/app:2.0")]
    by_repo = sync_reports(gl.tracker(), reports, options(dry_run=True))
    assert len(by_repo) == 1 and by_repo[0].images == ("team/app:1.0", "team/app:2.0")
    by_tag = sync_reports(gl.tracker(), reports, options(key_by=KeyBy.TAG))
    assert [r.key for r in by_tag] == ["docker.io/team/app:1.0", "docker.io/team/app:2.0"]


def test_config_from_the_ci_environment() -> None:
    tracker = GitLabTracker.from_env({**CI_ENV, "GITLAB_TOKEN": "glpat-x"})
    assert tracker.url == "https://gitlab.example.com" and tracker.project_id == "42"
    with pytest.raises(TrackerError, match="CI job token") as info:
        GitLabTracker.from_env({**CI_ENV, "CI_JOB_TOKEN": "job-123"})
    assert info.value.kind is ErrorKind.CONFIG and "GITLAB_TOKEN" in str(info.value)
    with pytest.raises(TrackerError, match="CI job token"):
        GitLabTracker.from_env({**CI_ENV, "CI_JOB_TOKEN": "job-123", "GITLAB_TOKEN": "job-123"})
    with pytest.raises(TrackerError, match="no GitLab URL"):
        GitLabTracker.from_env({"GITLAB_TOKEN": "x"})
    with pytest.raises(TrackerError, match="no GitLab project"):
        GitLabTracker.from_env({"CI_SERVER_URL": "https://g", "GITLAB_TOKEN": "x"})


def test_unreachable_gitlab_is_a_network_error(
    scans: Scans, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gitlab.utils, "time", SimpleNamespace(sleep=lambda s: None, time=time.time))
    tracker = GitLabTracker("http://127.0.0.1:9", 42, "glpat-good", max_retries=1, timeout=2)
    (result,) = sync_reports(tracker, [scans.loaded()], options())
    assert result.action is Action.FAILED and result.error_kind is ErrorKind.NETWORK
    assert "cannot reach GitLab" in result.message


def test_sample_name_is_the_report_image(scans: Scans) -> None:
    assert scans.loaded().image == SAMPLE_NAME
