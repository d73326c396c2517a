"""The `hullscan` command group and its entry point.

Exit codes: 0 clean or below the threshold, 1 findings at or above the threshold (or an
end-of-life OS with --fail-on-eol), 2 usage error, 3 the scan could not be done. Commands
register themselves on `cli` from their own modules (cli/scan.py, cli/db.py, cli/cache.py).
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

import click

from hullscan import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hullscan")
def cli() -> None:
    """hullscan: find known vulnerabilities in container images."""


def _terminated(signum: int, frame: FrameType | None) -> None:
    # as SystemExit, so every `with` block runs: temp copies of archives and exports are
    # removed and no report or DB is left half-written when CI cancels a job
    sys.exit(128 + signum)


def main() -> None:
    """Console-script entry point; click maps usage errors to exit code 2."""
    from hullscan.cli import cache, compose, db, issues, scan  # noqa: F401 - registers

    signal.signal(signal.SIGTERM, _terminated)
    cli(prog_name="hullscan")
