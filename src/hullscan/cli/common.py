"""What every command shares: exit codes, logging, the stderr voice, option types, errors."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.text import Text

from hullscan.db.location import default_db_path
from hullscan.errors import HullscanError, PolicyError
from hullscan.image.source import Platform
from hullscan.model import Severity
from hullscan.report.base import printable

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_ERROR = 3

log = logging.getLogger("hullscan")
F = TypeVar("F", bound=Callable[..., Any])

#: clair-scanner's threshold names, so `--threshold Defcon1` keeps working after a migration.
_SEVERITY_ALIASES = {"defcon1": "critical", "info": "negligible", "none": "negligible"}


def parse_platform(value: str | None) -> Platform | None:
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


class SeverityFloorType(click.ParamType):  # type: ignore[type-arg]
    """`--severity MEDIUM` or a list (`HIGH,CRITICAL`): the lowest one named is the floor."""

    name = "SEVERITY[,...]"

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
            line = Text("warning: ", style="yellow")
            line.append(printable(message))
            self.console.print(line, highlight=False)

    def error(self, message: str) -> None:
        self.console.print(Text(f"hullscan: {printable(message)}"), highlight=False)


def setup(quiet: bool, log_file: Path | None) -> Ui:
    """Logging to --log FILE only (never to stderr), and the stderr console."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    root = logging.getLogger("hullscan")
    root.setLevel(logging.DEBUG)
    root.handlers.clear()
    root.addHandler(logging.NullHandler())  # else logging's last resort prints to stderr
    root.propagate = False
    if log_file is not None:
        try:
            handler = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as exc:
            raise click.BadParameter(
                f"cannot write {log_file}: {exc.strerror or exc}", param_hint="--log"
            ) from None
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    return Ui(quiet=quiet, console=console)


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


def db_path_of(db_path: Path | None, cache_dir: Path | None) -> Path:
    return db_path if db_path is not None else default_db_path(cache_dir)


@contextmanager
def errors(ui: Ui) -> Iterator[None]:
    """Map failures to one clear line and an exit code; the traceback goes to --log only."""
    try:
        yield
    except PolicyError as exc:
        log.error("%s", exc)
        ui.error(f"error: {exc}")
        sys.exit(EXIT_USAGE)
    except HullscanError as exc:
        log.error("%s", exc, exc_info=True)
        ui.error(f"error: {exc}")
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        ui.error("interrupted")
        sys.exit(130)
    except (click.exceptions.Exit, click.ClickException, SystemExit):
        raise
    except Exception as exc:  # a bug: say so in one line, details in the log
        log.exception("internal error")
        ui.error(
            f"internal error: {type(exc).__name__}: {exc} "
            "(run with --log FILE for details and report it)"
        )
        sys.exit(EXIT_ERROR)
