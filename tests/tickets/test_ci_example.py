"""examples/gitlab-ci.yml: valid YAML that wires `hullscan compose` to GitLab's report
and `hullscan issues gitlab` to the scan's artifact, as docs/tickets.md describes."""

from __future__ import annotations

from typing import Any

import yaml

from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "gitlab-ci.yml"


def load() -> dict[str, Any]:
    document = yaml.safe_load(EXAMPLE.read_text())
    assert isinstance(document, dict)
    return document


def script(job: dict[str, Any]) -> str:
    return "\n".join(job.get("script", []))


def test_scan_job_publishes_the_container_scanning_report() -> None:
    ci = load()
    job = ci["container_scanning"]
    assert job["stage"] in ci["stages"]
    assert "hullscan compose" in script(job)
    assert "--report gitlab=gl-container-scanning-report.json" in " ".join(script(job).split())
    artifacts = job["artifacts"]
    assert artifacts["reports"]["container_scanning"] == "gl-container-scanning-report.json"
    assert artifacts["when"] == "always"
    assert "gl-container-scanning-report.json" in artifacts["paths"]
    assert job["allow_failure"]["exit_codes"] == [1]  # findings warn, errors (3) fail


def test_issues_job_reads_the_scan_artifact_with_a_real_token() -> None:
    ci = load()
    scan, issues = ci["container_scanning"], ci["security_issues"]
    command = script(issues)
    assert "hullscan issues gitlab" in command
    report = command.split("hullscan issues gitlab", 1)[1].split()[0]
    assert report in scan["artifacts"]["paths"]
    assert issues["needs"] == [{"job": "container_scanning", "artifacts": True}]
    assert ci["stages"].index(issues["stage"]) > ci["stages"].index(scan["stage"])
    # the job token cannot create issues: it must not be passed as the tracker token
    assert "CI_JOB_TOKEN" not in command and "GITLAB_TOKEN" not in str(ci.get("variables"))


def test_both_jobs_install_hullscan_and_share_the_cache() -> None:
    ci = load()
    template = ci[".hullscan"]
    assert any("pip install" in line and "hullscan" in line for line in template["before_script"])
    assert ci["variables"]["HULLSCAN_CACHE_DIR"].endswith(".hullscan-cache")
    assert template["cache"]["paths"] == [".hullscan-cache/"]
    for name in ("container_scanning", "security_issues"):
        assert ci[name]["extends"] == ".hullscan"
