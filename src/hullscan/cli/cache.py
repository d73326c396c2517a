"""`hullscan cache clean`: the per-layer analysis cache."""

from __future__ import annotations

from pathlib import Path

import click

from hullscan.cache import LayerCache
from hullscan.cli.app import cli
from hullscan.cli.common import common_options, errors, log, setup
from hullscan.db.location import cache_root


@cli.group("cache")
def cache_group() -> None:
    """Manage the per-layer analysis cache."""


@cache_group.command("clean")
@common_options
def cache_clean(
    quiet: bool, log_file: Path | None, cache_dir: Path | None, db_path: Path | None
) -> None:
    """Empty the per-layer cache (the vulnerability DB is kept)."""
    ui = setup(quiet, log_file)
    with errors(ui):
        cache = LayerCache(cache_root(cache_dir))
        removed = cache.clean()
        log.info("removed %s from %s", removed, cache.directory)
    if not quiet:
        plural = "s" * (removed.entries != 1)
        click.echo(
            f"removed {removed.entries} cached layer{plural} "
            f"({removed.bytes / 1e6:.1f} MB) from {cache.directory}"
        )
