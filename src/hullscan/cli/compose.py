"""`hullscan compose FILE...`: every image of a docker-compose project, in one run."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from hullscan.cache import LayerCache
from hullscan.cli.app import cli
from hullscan.cli.common import (
    EXIT_USAGE,
    common_options,
    db_path_of,
    errors,
    log,
    parse_platform,
    setup,
)
from hullscan.cli.scan import finalize, open_source, outputs_from, ready_db, report_options
from hullscan.db.location import cache_root
from hullscan.db.reader import VulnDB
from hullscan.image.source import Platform
from hullscan.model import ScanReport
from hullscan.report.base import ReportOptions, merged_warnings
from hullscan.report.files import write_atomically
from hullscan.report.registry import render
from hullscan.scan import index, match

COMBINED_FORMATS = ("table", "json", "gitlab")


@cli.command("compose")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--file",
    "more_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Compose file (repeatable, merged in order; -f is --format here, as in `image`).",
)
@click.option(
    "--platform",
    callback=lambda _ctx, _param, value: parse_platform(value),
    help="os/arch[/variant] for images whose service sets no platform:.",
)
@click.option("--project-directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--env-file", "env_files", multiple=True, type=click.Path(path_type=Path))
@click.option("--profile", "profiles", multiple=True, help="Enable a profile (`*`: all).")
@click.option("--project-name", "-p", help="Compose project name.")
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1, 32))
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write each image's own JSON report into this directory.",
)
@click.option("--image-src", default="daemon,registry", show_default=True)
@click.option("--username")
@click.option("--password")
@click.option("--ca-cert", type=click.Path(exists=True, path_type=Path))
@click.option("--insecure-registry", multiple=True, metavar="HOST[:PORT]")
@click.option("--docker-host")
@click.option("--no-cache", is_flag=True)
@report_options
@common_options
def compose_command(**kw: Any) -> None:
    """Scan every image of a compose project (several -f files merged as docker compose does)."""
    from hullscan.compose import ComposeError, load_project
    from hullscan.compose_scan import (
        exit_code,
        render_combined,
        report_filename,
        scan_compose_images,
    )

    ui = setup(kw.pop("quiet"), kw.pop("log_file"))
    cache_dir, db_path = kw.pop("cache_dir"), kw.pop("db_path")
    files = tuple(kw.pop("files")) + tuple(kw.pop("more_files"))
    try:
        project = load_project(
            files,
            project_dir=kw.pop("project_directory"),
            env_files=kw.pop("env_files") or None,
            profiles=kw.pop("profiles") or None,
            project_name=kw.pop("project_name"),
        )
    except ComposeError as exc:
        ui.error(f"error: {exc}")
        sys.exit(EXIT_USAGE)
    with errors(ui):
        outputs = outputs_from(kw)
        if outputs.fmt not in COMBINED_FORMATS:
            raise click.UsageError(f"compose writes {', '.join(COMBINED_FORMATS)} reports")
        for skipped in project.skipped:
            ui.warn(f"service {skipped.service} skipped: {skipped.reason}")
        cache = None if kw["no_cache"] else LayerCache(cache_root(cache_dir))
        db_file = db_path_of(db_path, cache_dir)
        ready_db(ui, kw, db_file)
        VulnDB.open(db_file).close()  # fail before pulling anything when there is no DB

        def scan_one(image: Any) -> ScanReport:
            platform = Platform.parse(image.platform) if image.platform else kw["platform"]
            started = datetime.now(UTC)
            with VulnDB.open(db_file) as db:
                with open_source(image.reference, None, platform, kw) as source:
                    inventory = index(source, cache=cache)
                report = match(inventory, db, started_at=started)
            return finalize(report, image.reference, outputs)

        results = scan_compose_images(project.images, scan_one, kw["concurrency"])
        for result in results:
            if result.report is None:
                ui.error(f"error: {result.reference}: {result.error}")
                continue
            for warning in merged_warnings(result.report):
                log.warning("%s: %s", result.reference, warning)
                ui.warn(f"{result.reference}: {warning}")
        report_dir = kw["report_dir"]
        if report_dir is not None:
            for result in results:
                if result.report is not None:
                    text = render("json", result.report, ReportOptions())
                    write_atomically(report_dir / report_filename(result.reference), text)
        options = ReportOptions(show_suppressed=outputs.show_suppressed)
        allow = outputs.allow_unmatched
        for name, path in outputs.extra:
            if name not in COMBINED_FORMATS:
                raise click.UsageError(f"compose writes {', '.join(COMBINED_FORMATS)} reports")
            text = render_combined(
                name,
                results,
                options,
                project=project,
                policy=outputs.policy,
                allow_unmatched=allow,
            )
            write_atomically(path, text)
        main = render_combined(
            outputs.fmt,
            results,
            options,
            project=project,
            policy=outputs.policy,
            allow_unmatched=allow,
        )
        if outputs.output is not None:
            write_atomically(outputs.output, main)
        else:
            sys.stdout.write(main)
        code = exit_code(results, outputs.policy, allow_unmatched=allow)
    sys.exit(code)
