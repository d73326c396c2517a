"""Which CI run produced the findings, from the CI's own environment variables.

Issues and comments link back to the pipeline, the commit and the job, so a reader can
find the run (and its report artifacts) that opened or changed an issue. GitLab CI:
CI_PIPELINE_URL, CI_PIPELINE_ID, CI_COMMIT_SHA, CI_COMMIT_REF_NAME, CI_JOB_URL,
CI_PROJECT_URL. GitHub Actions: GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_RUN_ID,
GITHUB_RUN_ATTEMPT, GITHUB_SHA, GITHUB_REF_NAME (else GITHUB_REF), GITHUB_JOB.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class PipelineInfo:
    """A CI run; every field may be empty (a run outside CI has none)."""

    provider: str = ""  # "gitlab", "github" or ""
    pipeline_url: str = ""
    pipeline_id: str = ""
    commit_sha: str = ""
    commit_url: str = ""
    ref: str = ""
    job_url: str = ""
    job_name: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PipelineInfo:
        """GitLab CI when GITLAB_CI or CI_PIPELINE_URL is set, GitHub Actions when
        GITHUB_ACTIONS or GITHUB_RUN_ID is, else empty."""
        if env.get("GITLAB_CI") or env.get("CI_PIPELINE_URL"):
            sha = env.get("CI_COMMIT_SHA", "")
            project = env.get("CI_PROJECT_URL", "").rstrip("/")
            return cls(
                provider="gitlab",
                pipeline_url=env.get("CI_PIPELINE_URL", ""),
                pipeline_id=env.get("CI_PIPELINE_ID", ""),
                commit_sha=sha,
                commit_url=f"{project}/-/commit/{sha}" if project and sha else "",
                ref=env.get("CI_COMMIT_REF_NAME", ""),
                job_url=env.get("CI_JOB_URL", ""),
                job_name=env.get("CI_JOB_NAME", ""),
            )
        if env.get("GITHUB_ACTIONS") or env.get("GITHUB_RUN_ID"):
            server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
            repository = env.get("GITHUB_REPOSITORY", "")
            run_id = env.get("GITHUB_RUN_ID", "")
            attempt = env.get("GITHUB_RUN_ATTEMPT", "")
            run_url = (
                f"{server}/{repository}/actions/runs/{run_id}" if repository and run_id else ""
            )
            if run_url and attempt and attempt != "1":
                run_url += f"/attempts/{attempt}"
            sha = env.get("GITHUB_SHA", "")
            ref = env.get("GITHUB_REF_NAME") or env.get("GITHUB_REF", "")
            return cls(
                provider="github",
                pipeline_url=run_url,
                pipeline_id=run_id,
                commit_sha=sha,
                commit_url=f"{server}/{repository}/commit/{sha}" if repository and sha else "",
                ref=ref,
                job_url=run_url,
                job_name=env.get("GITHUB_JOB", ""),
            )
        return cls()

    @property
    def known(self) -> bool:
        return bool(self.pipeline_url or self.commit_sha or self.job_url)
