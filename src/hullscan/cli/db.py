"""`hullscan db build|status`: the vulnerability DB from the vendors' feeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
@click.option(
    "--strict",
    is_flag=True,
    help="Fail the whole build when one feed fails (default: keep that feed's previous data).",
)
@click.option(
    "--full",
    is_flag=True,
    help="Fetch and parse every feed again, even those unchanged since the last build.",
)
@common_options
def db_build(
    sources: tuple[str, ...],
    only: tuple[str, ...],
    strict: bool,
    full: bool,
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

                info = build_db(dest, plan, step, strict=strict, incremental=not full)
        else:
            info = build_db(dest, plan, strict=strict, incremental=not full)
        for failure in info.failures:
            kept = " (its previous data is kept: stale)" if failure.kept_previous else ""
            ui.warn(f"feed {failure.name} failed{kept}: {failure.message}")
        if info.unchanged and not quiet:
            click.echo(f"unchanged since the last build: {', '.join(info.unchanged)}")
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
            facts = db.vulnerability_counts()
    click.echo(f"path:           {path}")
    click.echo(f"schema version: {info.schema_version}")
    from datetime import UTC, datetime

    from hullscan.db.age import db_age

    age = db_age(info, datetime.now(UTC))
    shown = f"{age.days} days, {age.seconds // 3600} hours" if age is not None else "unknown"
    click.echo(f"built at:       {info.built_at} ({shown} ago)")
    click.echo("sources:")
    for source in info.sources:
        click.echo(
            f"  {source.name:<10} {source.advisories:>8} advisories "
            f"{facts.get(source.name, 0):>8} vulnerabilities  "
            f"fetched {source.fetched_at}  from {source.location}  "
            f"({source.fingerprint[:19]})"
        )
    click.echo("namespaces:")
    for namespace, count in sorted(counts.items()):
        click.echo(f"  {namespace:<20} {count:>8}")


def _sources(repositories: tuple[str, ...], urls: tuple[str, ...]) -> list[Any]:
    from hullscan.db.distribution import DbSource

    return [DbSource.oci(r) for r in repositories] + [DbSource.url(u) for u in urls]


def _registry_options(username: str | None, password: str | None, ca_cert: Path | None) -> Any:
    from hullscan.image.registry import RegistryOptions

    return RegistryOptions(username=username, password=password, ca_cert=ca_cert)


def _registry_flags(func: Any) -> Any:
    for option in reversed(
        [
            click.option("--username", help="Registry user (or HULLSCAN_USERNAME)."),
            click.option("--password", help="Registry password (or HULLSCAN_PASSWORD)."),
            click.option("--ca-cert", type=click.Path(exists=True, path_type=Path)),
        ]
    ):
        func = option(func)
    return func


@db_group.command("export")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--compression-level", default=9, show_default=True, type=click.IntRange(1, 22))
@common_options
def db_export(out: Path, compression_level: int, **kw: Any) -> None:
    """Write the DB as one zstd artifact plus its metadata JSON (sha256, sources, schema)."""
    from hullscan.db.artifact import export_db

    ui = setup(kw["quiet"], kw["log_file"])
    with errors(ui):
        artifact = export_db(
            db_path_of(kw["db_path"], kw["cache_dir"]), out, level=compression_level
        )
    click.echo(f"wrote {artifact.path} and {artifact.metadata_path}")


@db_group.command("import")
@click.argument("artifact", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--metadata", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@common_options
def db_import(artifact: Path, metadata: Path | None, **kw: Any) -> None:
    """Install an exported DB (air-gapped use): digests and schema verified, swapped atomically."""
    from hullscan.db.distribution import import_db

    ui = setup(kw["quiet"], kw["log_file"])
    with errors(ui):
        result = import_db(
            artifact, db_path_of(kw["db_path"], kw["cache_dir"]), metadata_path=metadata
        )
    click.echo(result.message)


@db_group.command("publish")
@click.argument("reference", metavar="oci://REGISTRY/REPO[:TAG]")
@click.option("--artifact", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_registry_flags
@common_options
def db_publish(reference: str, artifact: Path | None, **kw: Any) -> None:
    """Push the DB (or an exported --artifact) to a registry as an OCI artifact."""
    import tempfile

    from hullscan.db.artifact import export_db
    from hullscan.db.oci import publish_db

    ui = setup(kw["quiet"], kw["log_file"])
    options = _registry_options(kw["username"], kw["password"], kw["ca_cert"])
    with errors(ui), tempfile.TemporaryDirectory(prefix="hullscan-publish-") as tmp:
        if artifact is None:
            db = db_path_of(kw["db_path"], kw["cache_dir"])
            artifact = export_db(db, Path(tmp) / "hullscan.db.zst").path
        result = publish_db(artifact, reference, options)
    uploaded = "uploaded" if result.layer_uploaded else "already there"
    click.echo(f"published {result.reference} ({result.manifest_digest}; layer {uploaded})")


@db_group.command("update")
@click.option("--db-repository", "repositories", multiple=True, envvar="HULLSCAN_DB_REPOSITORY")
@click.option("--db-url", "urls", multiple=True, envvar="HULLSCAN_DB_URL")
@click.option("--force", is_flag=True, help="Download even when the digest is unchanged.")
@_registry_flags
@common_options
def db_update(repositories: tuple[str, ...], urls: tuple[str, ...], force: bool, **kw: Any) -> None:
    """Pull a published DB (OCI repositories in order, then URLs); nothing when unchanged."""
    from hullscan.db.distribution import update_db

    ui = setup(kw["quiet"], kw["log_file"])
    if not repositories and not urls:
        raise click.UsageError("give --db-repository oci://... or --db-url URL")
    options = _registry_options(kw["username"], kw["password"], kw["ca_cert"])
    with errors(ui):
        result = update_db(
            db_path_of(kw["db_path"], kw["cache_dir"]),
            _sources(repositories, urls),
            options=options,
            force=force,
        )
    click.echo(result.message)
