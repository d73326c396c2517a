"""`hullscan db build|status`: the vulnerability DB from the vendors' feeds."""

from __future__ import annotations

from pathlib import Path

import click

from hullscan.cli.app import cli
from hullscan.cli.common import common_options, db_path_of, errors, log, setup
from hullscan.db.reader import VulnDB


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

    ui = setup(quiet, log_file)
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
    with errors(ui):
        plan = []
        for name in selected:
            feed = get_feed(name)
            for location in overrides.get(name) or feed.default_locations():
                plan.append((feed, location))
        dest = db_path_of(db_path, cache_dir)
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
    ui = setup(quiet, log_file)
    with errors(ui):
        path = db_path_of(db_path, cache_dir)
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
