"""Command line: argument parsing, logging, progress, and the mapping of errors to exit codes.

Exit codes (docs/exit-codes.md): 0 clean or below the threshold, 1 findings at or above
the threshold, 2 usage error, 3 the scan could not be done.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console

from hullscan import __version__
from hullscan.cache import LayerCache
from hullscan.db.location import cache_root, default_db_path
from hullscan.db.reader import VulnDB
from hullscan.errors import HullscanError, PolicyError, ReportError
from hullscan.image.archive import open_archive
from hullscan.image.source import Platform
from hullscan.model import Layer, ScanReport, Severity
from hullscan.policy import Policy, apply_policy, gate, load_clair_whitelist
from hullscan.report.base import ReportOptions, merged_warnings
from hullscan.report.registry import FORMATS, render
from hullscan.scan import index, match

if TYPE_CHECKING:  # imported where used: a warm rescan must not pay for them (issue 3)
    from rich.progress import Progress, TaskID

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_ERROR = 3

log = logging.getLogger("hullscan")
F = TypeVar("F", bound=Callable[..., Any])

#: clair-scanner's threshold names, so `--threshold Defcon1` keeps working after a migration.
_SEVERITY_ALIASES = {"defcon1": "critical", "info": "negligible", "none": "negligible"}


def _platform(value: str | None) -> Platform | None:
    if value is None:
        return None
    try:
        return Platform.parse(value)
    except HullscanError as exc:
        raise click.BadParameter(str(exc)) from None


def _severity(value: str) -> Severity:
    key = value.strip().lower()
    try:
        return Severity.parse(_SEVERITY_ALIASES.get(key, key))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


class SeverityType(click.ParamType):  # type: ignore[type-arg]
    name = "SEVERITY"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return value if isinstance(value, Severity) else _severity(str(value))


class SeverityListType(click.ParamType):  # type: ignore[type-arg]
    """`--severity HIGH,CRITICAL` as Trivy takes it: the lowest listed is the floor."""

    name = "SEVERITIES"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, Severity):
            return value
        return min(_severity(part) for part in str(value).split(",") if part.strip())


@dataclass(frozen=True)
class Ui:
    """How to talk to the user: progress bars only on a terminal and never with --quiet."""

    quiet: bool
    console: Console

    @property
    def interactive(self) -> bool:
        return not self.quiet and self.console.is_terminal

    def warn(self, message: str) -> None:
        if not self.quiet:
            self.console.print(f"[yellow]warning:[/] {message}", highlight=False, markup=True)


def _setup(quiet: bool, log_file: Path | None) -> Ui:
    root = logging.getLogger("hullscan")
    root.setLevel(logging.DEBUG)
    root.handlers.clear()
    root.addHandler(logging.NullHandler())  # else logging's last resort prints to stderr
    if log_file is not None:
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.propagate = False
    return Ui(quiet=quiet, console=Console(stderr=True, highlight=False))


def common_options(func: F) -> F:
    """Options every command takes, after the subcommand as users type them."""
    func = click.option("--quiet", "-q", is_flag=True, help="No progress or warnings on stderr.")(
        func
    )
    func = click.option(
        "--log",
        "log_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write a debug log of the run to FILE (clair-scanner's -l).",
    )(func)
    func = click.option(
        "--cache-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="HULLSCAN_CACHE_DIR",
        help="Cache root (DB, layer cache). Default: the user cache dir. [env HULLSCAN_CACHE_DIR]",
    )(func)
    func = click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="HULLSCAN_DB",
        help="Vulnerability DB file. Default: <cache-dir>/db/hullscan.db. [env HULLSCAN_DB]",
    )(func)
    return func


def _db_path(db_path: Path | None, cache_dir: Path | None) -> Path:
    return db_path if db_path is not None else default_db_path(cache_dir)


@contextmanager
def _errors(ui: Ui) -> Iterator[None]:
    """Map failures to one clear line and an exit code; the traceback goes to --log only."""
    try:
        yield
    except PolicyError as exc:
        log.error("%s", exc)
        ui.console.print(f"hullscan: error: {exc}", highlight=False, markup=False)
        sys.exit(EXIT_USAGE)
    except HullscanError as exc:
        log.error("%s", exc, exc_info=True)
        ui.console.print(f"hullscan: error: {exc}", highlight=False, markup=False)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        ui.console.print("hullscan: interrupted", highlight=False, markup=False)
        sys.exit(130)
    except (click.exceptions.Exit, click.ClickException, SystemExit):
        raise
    except Exception as exc:  # a bug: say so in one line, details in the log
        log.exception("internal error")
        ui.console.print(
            f"hullscan: internal error: {type(exc).__name__}: {exc} "
            "(run with --log FILE for details and report it)",
            highlight=False,
            markup=False,
        )
        sys.exit(EXIT_ERROR)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hullscan")
def cli() -> None:
    """hullscan: find known vulnerabilities in container images."""


# ----------------------------------------------------------------------------- image


def _parse_reports(values: Sequence[str]) -> list[tuple[str, Path]]:
    reports = []
    for value in values:
        fmt, sep, path = value.partition("=")
        if not sep or not fmt or not path:
            raise click.BadParameter(f"{value!r}: expected FORMAT=PATH", param_hint="--report")
        if fmt not in FORMATS:
            known = ", ".join(sorted(FORMATS))
            raise click.BadParameter(f"unknown format {fmt!r} ({known})", param_hint="--report")
        reports.append((fmt, Path(path)))
    return reports


def write_atomically(path: Path, text: str) -> None:
    """Write via a temp file and rename, so a reader never sees half a report."""
    path = path.expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ReportError(f"cannot write report {path}: {exc}") from None


class _LayerBars:
    """One progress bar per layer, fed by the walker's byte counts."""

    def __init__(self, progress: Progress, layers: Sequence[Layer]) -> None:
        self.progress = progress
        self.tasks: dict[int, TaskID] = {
            layer.index: progress.add_task(
                f"layer {layer.index + 1}/{len(layers)}", total=layer.size or None
            )
            for layer in layers
        }

    def __call__(self, layer: Layer, n: int) -> None:
        self.progress.advance(self.tasks[layer.index], n)


@cli.command("image")
@click.argument("reference", required=False)
@click.option(
    "--input",
    "input_path",
    type=click.Path(path_type=Path),
    help="A `docker save` tar (optionally gzipped) or an OCI image layout (dir or tar).",
)
@click.option(
    "--platform",
    callback=lambda _ctx, _param, value: _platform(value),
    help="os/arch[/variant] to pick from a multi-platform image.",
)
@click.option(
    "--format", "-f", "fmt", type=click.Choice(sorted(FORMATS)), default="table", show_default=True
)
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Write --format here.")
@click.option(
    "--report",
    "reports",
    multiple=True,
    metavar="FORMAT=PATH",
    help="Also write FORMAT to PATH (repeatable), e.g. gitlab=gl-container-scanning-report.json.",
)
@click.option(
    "--fail-on",
    "--threshold",
    "fail_on",
    type=SeverityType(),
    help="Exit 1 when an unsuppressed finding is at or above SEVERITY.",
)
@click.option(
    "--severity",
    type=SeverityListType(),
    help="Only report findings at or above the lowest listed severity (e.g. HIGH,CRITICAL).",
)
@click.option("--ignore-unfixed", is_flag=True, help="Suppress findings without a fixed version.")
@click.option(
    "--whitelist",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="clair-scanner whitelist YAML (generalwhitelist: and images: sections).",
)
@click.option("--show-suppressed", is_flag=True, help="List suppressed findings in the table.")
@click.option(
    "--no-cache",
    is_flag=True,
    help="Neither read nor write the per-layer cache (<cache-dir>/layers).",
)
@common_options
def image_command(
    reference: str | None,
    input_path: Path | None,
    platform: Platform | None,
    fmt: str,
    output: Path | None,
    reports: tuple[str, ...],
    fail_on: Severity | None,
    severity: Severity | None,
    ignore_unfixed: bool,
    whitelist: Path | None,
    show_suppressed: bool,
    no_cache: bool,
    quiet: bool,
    log_file: Path | None,
    cache_dir: Path | None,
    db_path: Path | None,
) -> None:
    """Scan an image: `--input PATH` for an archive or layout on disk."""
    ui = _setup(quiet, log_file)
    extra_reports = _parse_reports(reports)
    if input_path is None:
        if reference is None:
            raise click.UsageError("give an image: --input PATH (docker save tar or OCI layout)")
        raise click.UsageError(
            f"pulling {reference!r} from a registry or the Docker daemon is not supported yet; "
            f"save it first (`docker save {reference} -o image.tar`) and use --input image.tar"
        )
    with _errors(ui):
        policy = Policy(
            fail_on=fail_on,
            ignore_unfixed=ignore_unfixed,
            whitelist=load_clair_whitelist(whitelist) if whitelist else None,
            min_severity=severity,
        )
        log.info("hullscan %s scanning %s", __version__, input_path)
        started = datetime.now(UTC)
        with VulnDB.open(_db_path(db_path, cache_dir)) as db:
            cache = None if no_cache else LayerCache(cache_root(cache_dir))
            with open_archive(input_path, platform) as source:
                layers = source.artifact.layers
                log.debug("image %s: %d layers", source.artifact.image_id, len(layers))
                if ui.interactive:
                    from rich.progress import (
                        BarColumn,
                        DownloadColumn,
                        Progress,
                        TextColumn,
                        TimeElapsedColumn,
                    )

                    with Progress(
                        TextColumn("{task.description}"),
                        BarColumn(),
                        DownloadColumn(),
                        TimeElapsedColumn(),
                        console=ui.console,
                        transient=True,
                    ) as progress:
                        bars = _LayerBars(progress, layers)
                        inventory = index(source, progress=bars, cache=cache)
                else:
                    inventory = index(source, cache=cache)
                if cache is not None:
                    log.debug("layer cache %s: %s", cache.directory, cache.stats)
            log.info("%d packages, OS %s", len(inventory.packages), inventory.distro)
            report = match(inventory, db, started_at=started)
        image_ref = reference or (inventory.artifact.repo_tags or ("",))[0]
        report = apply_policy(report, policy, image_ref)
        for warning in merged_warnings(report):
            log.warning("%s", warning)
            ui.warn(warning)
        _write_outputs(report, fmt, output, extra_reports, show_suppressed, ui)
        failed = gate(report, policy)
        log.info("%d findings, gate %s", len(report.findings), "failed" if failed else "passed")
    sys.exit(EXIT_FINDINGS if failed else EXIT_OK)


def _write_outputs(
    report: ScanReport,
    fmt: str,
    output: Path | None,
    extra: Sequence[tuple[str, Path]],
    show_suppressed: bool,
    ui: Ui,
) -> None:
    to_terminal = output is None and sys.stdout.isatty()
    width = Console().width if to_terminal else 160
    options = ReportOptions(color=to_terminal, width=width, show_suppressed=show_suppressed)
    file_options = ReportOptions(show_suppressed=show_suppressed)
    # render everything before writing anything: a failing format must not leave half the set
    rendered = [(path, render(name, report, file_options)) for name, path in extra]
    main = render(fmt, report, file_options if output else options)
    for path, text in rendered:
        write_atomically(path, text)
        log.info("wrote %s", path)
    if output is not None:
        write_atomically(output, main)
    else:
        sys.stdout.write(main if main.endswith("\n") else main + "\n")
        sys.stdout.flush()


# -------------------------------------------------------------------------------- db


class _FeedListOption(click.Option):
    """`--only`, whose help lists the feeds without importing them for every command."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from hullscan.db.feeds.registry import feed_names

        self.help = f"Build only these feeds (repeatable). Feeds: {', '.join(feed_names())}."
        return super().get_help_record(ctx)


@cli.group("db")
def db_group() -> None:
    """Build and inspect the vulnerability DB."""


@db_group.command("build")
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="NAME=URL_OR_PATH",
    help="Read feed NAME from a URL, file or directory instead of its official URL (repeatable).",
)
@click.option(
    "--only",
    multiple=True,
    metavar="NAME",
    cls=_FeedListOption,
    help="Build only these feeds (repeatable).",
)
@common_options
def db_build(
    sources: tuple[str, ...],
    only: tuple[str, ...],
    quiet: bool,
    log_file: Path | None,
    cache_dir: Path | None,
    db_path: Path | None,
) -> None:
    """Build the vulnerability DB from the vendors' feeds (atomically replaces the old one)."""
    from hullscan.db.builder import build_db  # httpx and every feed: only `db build` needs them
    from hullscan.db.feeds.registry import FEEDS, feed_names, get_feed

    ui = _setup(quiet, log_file)
    overrides: dict[str, list[str]] = {}
    for value in sources:
        name, sep, location = value.partition("=")
        if not sep or not name or not location:
            raise click.BadParameter(f"{value!r}: expected NAME=URL_OR_PATH", param_hint="--source")
        if name.strip().lower() not in FEEDS:
            known = ", ".join(feed_names())
            raise click.BadParameter(f"unknown feed {name!r} ({known})", param_hint="--source")
        overrides.setdefault(name.strip().lower(), []).append(location)
    for name in only:
        if name.strip().lower() not in FEEDS:
            known = ", ".join(feed_names())
            raise click.BadParameter(f"unknown feed {name!r} ({known})", param_hint="--only")
    selected = [n.strip().lower() for n in only] or feed_names()
    with _errors(ui):
        plan = []
        for name in selected:
            feed = get_feed(name)
            for location in overrides.get(name) or feed.default_locations():
                plan.append((feed, location))
        dest = _db_path(db_path, cache_dir)
        log.info("building %s from %s", dest, [(f.name, loc) for f, loc in plan])
        if ui.interactive:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TimeElapsedColumn(),
                console=ui.console,
                transient=True,
            ) as progress:
                task = progress.add_task("building", total=None)

                def step(stage: str, done: int, total: int) -> None:
                    progress.update(task, description=stage, completed=done, total=total or None)

                info = build_db(dest, plan, step)
        else:
            info = build_db(dest, plan)
        if not quiet:
            total = sum(s.advisories for s in info.sources)
            feeds = len(info.sources)
            click.echo(f"built {dest}: {total} advisories from {feeds} feed{'s' * (feeds != 1)}")


@db_group.command("status")
@common_options
def db_status(
    quiet: bool, log_file: Path | None, cache_dir: Path | None, db_path: Path | None
) -> None:
    """Show the DB's schema, build time, sources and advisory counts."""
    ui = _setup(quiet, log_file)
    with _errors(ui):
        path = _db_path(db_path, cache_dir)
        with VulnDB.open(path) as db:
            info = db.info()
            counts = db.counts()
    click.echo(f"path:           {path}")
    click.echo(f"schema version: {info.schema_version}")
    click.echo(f"built at:       {info.built_at}")
    click.echo("sources:")
    for source in info.sources:
        click.echo(
            f"  {source.name:<10} {source.advisories:>8} advisories  "
            f"fetched {source.fetched_at}  from {source.location}  "
            f"({source.fingerprint[:19]})"
        )
    click.echo("namespaces:")
    for namespace, count in sorted(counts.items()):
        click.echo(f"  {namespace:<20} {count:>8}")


# ----------------------------------------------------------------------------- cache


@cli.group("cache")
def cache_group() -> None:
    """Manage the per-layer analysis cache."""


@cache_group.command("clean")
@common_options
def cache_clean(
    quiet: bool, log_file: Path | None, cache_dir: Path | None, db_path: Path | None
) -> None:
    """Empty the per-layer cache (the vulnerability DB is kept)."""
    ui = _setup(quiet, log_file)
    with _errors(ui):
        cache = LayerCache(cache_root(cache_dir))
        removed = cache.clean()
        log.info("removed %s from %s", removed, cache.directory)
    if not quiet:
        plural = "s" * (removed.entries != 1)
        click.echo(
            f"removed {removed.entries} cached layer{plural} "
            f"({removed.bytes / 1e6:.1f} MB) from {cache.directory}"
        )


def main() -> None:
    """Console-script entry point; click maps usage errors to exit code 2."""
    cli(prog_name="hullscan")


if __name__ == "__main__":
    main()
