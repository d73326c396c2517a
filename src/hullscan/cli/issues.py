"""`hullscan issues gitlab|github REPORT...`: one tracker issue per vulnerable image."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from hullscan.cli.app import cli
from hullscan.cli.common import EXIT_USAGE, SeverityType, Ui, errors, setup


@cli.group("issues")
def issues_group() -> None:
    """Open, update and close tracker issues from hullscan JSON reports."""


def _tracker_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.argument("reports", nargs=-1, required=True, type=click.Path(path_type=Path)),
        click.option(
            "--threshold",
            type=SeverityType(),
            help="Lowest severity an issue tracks (default: every severity).",
        ),
        click.option("--keep-open", is_flag=True, help="Comment but do not close when fixed."),
        click.option("--dry-run", is_flag=True, help="Print what would be done; change nothing."),
        click.option("--label", default="security", show_default=True),
        click.option("--extra-label", "extra_labels", multiple=True),
        click.option(
            "--key-by",
            type=click.Choice(["repository", "tag"]),
            default="repository",
            show_default=True,
            help="One issue per image repository, or per repository:tag.",
        ),
        click.option("--max-retries", default=4, show_default=True, type=click.IntRange(0, 10)),
        click.option("--quiet", "-q", is_flag=True),
        click.option("--log", "log_file", type=click.Path(dir_okay=False, path_type=Path)),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _sync(ui: Ui, make_tracker: Callable[[], Any], kw: dict[str, Any], confidential: bool) -> int:
    from hullscan.model import Severity
    from hullscan.report.load import load_all
    from hullscan.tickets import (
        ErrorKind,
        KeyBy,
        PipelineInfo,
        SyncOptions,
        TrackerError,
        exit_code,
        sync_reports,
    )

    reports = load_all(kw["reports"])
    options = SyncOptions(
        threshold=kw["threshold"] or Severity.UNKNOWN,
        keep_open=kw["keep_open"],
        confidential=confidential,
        dry_run=kw["dry_run"],
        label=kw["label"],
        extra_labels=tuple(kw["extra_labels"]),
        key_by=KeyBy(kw["key_by"]),
        pipeline=PipelineInfo.from_env(os.environ),
    )
    try:
        with make_tracker() as tracker:
            results = sync_reports(tracker, reports, options)
    except TrackerError as exc:
        ui.error(f"error: {exc}")
        return EXIT_USAGE if exc.kind is ErrorKind.CONFIG else 4
    for result in results:
        (ui.error if result.failed else ui.console.print)(result.message)
    return exit_code(results)


@issues_group.command("gitlab")
@_tracker_options
@click.option("--gitlab-url", help="GitLab URL (default: CI_SERVER_URL).")
@click.option("--project", help="Project id or path (default: CI_PROJECT_ID).")
@click.option("--token", help="Token with api scope (default: GITLAB_TOKEN).")
@click.option("--confidential", is_flag=True, help="Create confidential issues.")
def issues_gitlab(**kw: Any) -> None:
    """Keep one GitLab issue per vulnerable image (exit 0 clean, 1 findings, 4 tracker error)."""
    ui = setup(kw.pop("quiet"), kw.pop("log_file"))
    with errors(ui):
        from hullscan.tickets.gitlab import GitLabTracker

        code = _sync(
            ui,
            lambda: GitLabTracker.from_env(
                os.environ,
                url=kw["gitlab_url"],
                project=kw["project"],
                token=kw["token"],
                max_retries=kw["max_retries"],
            ),
            kw,
            kw["confidential"],
        )
    sys.exit(code)


@issues_group.command("github")
@_tracker_options
@click.option("--repository", help="owner/name (default: GITHUB_REPOSITORY).")
@click.option("--token", help="Token (default: GITHUB_TOKEN).")
@click.option("--api-url", help="API URL (default: GITHUB_API_URL or api.github.com).")
def issues_github(**kw: Any) -> None:
    """Keep one GitHub issue per vulnerable image (exit 0 clean, 1 findings, 4 tracker error)."""
    ui = setup(kw.pop("quiet"), kw.pop("log_file"))
    with errors(ui):
        from hullscan.tickets.github import GitHubTracker

        code = _sync(
            ui,
            lambda: GitHubTracker.from_env(
                os.environ,
                repository=kw["repository"],
                token=kw["token"],
                api_url=kw["api_url"],
                max_retries=kw["max_retries"],
            ),
            kw,
            False,
        )
    sys.exit(code)
