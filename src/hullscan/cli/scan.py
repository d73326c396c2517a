"""`hullscan image` and `hullscan rootfs`: index, match, apply the policy, write the reports."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console

from hullscan import __version__
from hullscan.cache import LayerCache
from hullscan.cli.app import cli
from hullscan.cli.common import (
    EXIT_ERROR,
    EXIT_FINDINGS,
    EXIT_OK,
    SeverityFloorType,
    SeverityType,
    Ui,
    common_options,
    db_path_of,
    errors,
    log,
    parse_platform,
    setup,
)
from hullscan.db.location import cache_root
from hullscan.db.reader import VulnDB
from hullscan.image.source import ImageSource, Platform
from hullscan.model import Inventory, Layer, ScanReport
from hullscan.policy import Policy, apply_policy, gate, gate_messages, load_policy
from hullscan.report.base import ReportOptions, merged_warnings
from hullscan.report.files import write_atomically
from hullscan.report.registry import DEFAULT_FILENAMES, FORMATS, render
from hullscan.scan import META_UNMATCHED, index, match

if TYPE_CHECKING:  # imported where used: a warm rescan must not pay for them (issue 3)
    from rich.progress import Progress, TaskID

F = Callable[..., Any]


@dataclass(frozen=True)
class Outputs:
    """Where the report goes and how it is judged."""

    fmt: str
    output: Path | None
    extra: tuple[tuple[str, Path], ...]
    show_suppressed: bool
    policy: Policy
    allow_unmatched: bool = False
    db_warn_age: timedelta | None = None


def _parse_reports(values: Sequence[str]) -> tuple[tuple[str, Path], ...]:
    """`FORMAT=PATH`, or `FORMAT` alone for its usual file name (gitlab ->
    gl-container-scanning-report.json, as GitLab CI's artifacts:reports expects)."""
    reports = []
    for value in values:
        fmt, sep, path = value.partition("=")
        if fmt not in FORMATS:
            known = ", ".join(sorted(FORMATS))
            raise click.BadParameter(f"unknown format {fmt!r} ({known})", param_hint="--report")
        if sep and not path:
            raise click.BadParameter(f"{value!r}: expected FORMAT[=PATH]", param_hint="--report")
        reports.append((fmt, Path(path or DEFAULT_FILENAMES[fmt])))
    return tuple(reports)


def report_options(func: F) -> F:
    """Output and policy options shared by every scanning command."""
    options = [
        click.option(
            "--format",
            "-f",
            "fmt",
            type=click.Choice(sorted(FORMATS)),
            default="table",
            show_default=True,
        ),
        click.option(
            "--output", "-o", type=click.Path(path_type=Path), help="Write --format here."
        ),
        click.option(
            "--report",
            "reports",
            multiple=True,
            metavar="FORMAT[=PATH]",
            help="Also write FORMAT to PATH (repeatable); without PATH, its usual name "
            "(gitlab: gl-container-scanning-report.json).",
        ),
        click.option(
            "--fail-on",
            "--threshold",
            "fail_on",
            type=FailOnType(),
            help="Exit 1 when an unsuppressed finding is at or above SEVERITY; `kev` (in CISA's "
            "Known Exploited Vulnerabilities) may be listed too: --fail-on high,kev.",
        ),
        click.option("--fail-on-kev", is_flag=True, help="Exit 1 on any finding in CISA KEV."),
        click.option(
            "--fail-on-epss",
            type=click.FloatRange(0.0, 1.0),
            metavar="SCORE",
            help="Exit 1 on any finding whose EPSS score is at least SCORE (0-1).",
        ),
        click.option(
            "--fail-on-fixable",
            is_flag=True,
            help="Only findings that have a fix count for the thresholds (alone: any fixable "
            "finding fails).",
        ),
        click.option(
            "--ignorefile",
            "ignorefiles",
            multiple=True,
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            help="Ignore rules: .hullscanignore.yaml (default: found in the working directory), "
            ".trivyignore or .trivyignore.yaml (repeatable).",
        ),
        click.option(
            "--vex",
            multiple=True,
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            help="OpenVEX or CycloneDX VEX document (repeatable).",
        ),
        click.option(
            "--fail-on-eol",
            is_flag=True,
            help="Exit 1 when the image's OS release has reached its end of life.",
        ),
        click.option(
            "--severity",
            type=SeverityFloorType(),
            help="Only report findings at or above this severity (or the lowest of a list).",
        ),
        click.option(
            "--ignore-unfixed", is_flag=True, help="Suppress findings without a fixed version."
        ),
        click.option(
            "--whitelist",
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            help="clair-scanner whitelist YAML (generalwhitelist: and images: sections).",
        ),
        click.option(
            "--show-suppressed", is_flag=True, help="List suppressed findings in the table."
        ),
        click.option(
            "--db-repository",
            "db_repositories",
            multiple=True,
            envvar="HULLSCAN_DB_REPOSITORY",
            metavar="oci://REG/REPO[:TAG]",
            help="Where a published DB is pulled from when the local one is too old "
            "(repeatable: fallbacks in order).",
        ),
        click.option(
            "--db-url",
            "db_urls",
            multiple=True,
            envvar="HULLSCAN_DB_URL",
            help="An exported DB (https or file) to update from (repeatable).",
        ),
        click.option(
            "--db-max-age",
            default="24h",
            show_default=True,
            help="Update the DB from --db-repository/--db-url when older than this.",
        ),
        click.option(
            "--db-warn-age",
            default="7d",
            show_default=True,
            help="Warn in every output when the DB is older than this.",
        ),
        click.option("--skip-db-update", is_flag=True, help="Never update the DB before scanning."),
        click.option("--offline", is_flag=True, help="No network for the DB (images still load)."),
        click.option(
            "--allow-unmatched",
            is_flag=True,
            help="With --fail-on: pass the gate even when the OS packages could not be matched "
            "(unknown or unsupported OS, or no advisories for it in the DB). Default: exit 3.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def outputs_from(kw: dict[str, Any]) -> Outputs:
    """Pop the report and policy options out of a command's keyword arguments."""
    severity, kev = kw.pop("fail_on") or (None, False)
    return Outputs(
        db_warn_age=_duration(kw.pop("db_warn_age"), "--db-warn-age"),
        allow_unmatched=kw.pop("allow_unmatched"),
        fmt=kw.pop("fmt"),
        output=kw.pop("output"),
        extra=_parse_reports(kw.pop("reports")),
        show_suppressed=kw.pop("show_suppressed"),
        policy=load_policy(
            fail_on=severity,
            fail_on_kev=kev or kw.pop("fail_on_kev"),
            fail_on_epss=kw.pop("fail_on_epss"),
            fail_on_fixable=kw.pop("fail_on_fixable"),
            fail_on_eol=kw.pop("fail_on_eol"),
            ignore_unfixed=kw.pop("ignore_unfixed"),
            min_severity=kw.pop("severity"),
            whitelist=kw.pop("whitelist"),
            ignorefiles=kw.pop("ignorefiles"),
            vex=kw.pop("vex"),
        ),
    )


def _duration(text: str, flag: str) -> timedelta:
    from hullscan.db.age import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=flag) from None


def ready_db(ui: Ui, kw: dict[str, Any], db_file: Path) -> None:
    """Bring the DB up to date from its published source first, when one is configured."""
    repositories, urls = kw.pop("db_repositories"), kw.pop("db_urls")
    max_age = _duration(kw.pop("db_max_age"), "--db-max-age")
    offline, skip = kw.pop("offline"), kw.pop("skip_db_update")
    if not repositories and not urls:
        return
    from hullscan.db.distribution import DbSource, ensure_fresh_db

    sources = [DbSource.oci(r) for r in repositories] + [DbSource.url(u) for u in urls]
    result = ensure_fresh_db(db_file, sources, max_age, offline=offline, skip_update=skip)
    log.info("DB freshness: %s", result.reason)
    for warning in result.warnings:
        ui.warn(warning)


class FailOnType(click.ParamType):  # type: ignore[type-arg]
    """`high`, `kev`, or both: `high,kev` -> (Severity.HIGH, True)."""

    name = "SEVERITY[,kev]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        severity, kev = None, False
        for part in (p.strip() for p in str(value).split(",") if p.strip()):
            if part.lower() == "kev":
                kev = True
            else:
                severity = SeverityType().convert(part, param, ctx)
        return severity, kev


class _LayerBars:
    """One progress bar per layer, fed with the blob bytes read."""

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


def _index(ui: Ui, source: ImageSource, cache: LayerCache | None) -> Inventory:
    layers = source.artifact.layers
    log.debug("image %s: %d layers", source.artifact.image_id, len(layers))
    if not ui.interactive:
        return index(source, cache=cache)
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        console=ui.console,
        transient=True,
    ) as progress:
        return index(source, progress=_LayerBars(progress, layers), cache=cache)


def finalize(report: ScanReport, image_ref: str, outputs: Outputs) -> ScanReport:
    """What every scanning command does to a fresh report: the DB-age warning, the policy."""
    if report.db is not None and outputs.db_warn_age is not None:
        from hullscan.db.age import db_age_warning

        if stale := db_age_warning(report.db, datetime.now(UTC), outputs.db_warn_age):
            report = replace(report, warnings=(*report.warnings, stale))
    return apply_policy(report, outputs.policy, image_ref)


def _finish(ui: Ui, report: ScanReport, image_ref: str, outputs: Outputs) -> int:
    report = finalize(report, image_ref, outputs)
    for warning in merged_warnings(report):
        log.warning("%s", warning)
        ui.warn(warning)
    _write(report, outputs)
    unmatched = report.meta.get(META_UNMATCHED)
    if outputs.policy.gating and unmatched and not outputs.allow_unmatched:
        ui.error(f"error: the scan is incomplete: {unmatched} (--allow-unmatched accepts that)")
        return EXIT_ERROR
    failed = gate(report, outputs.policy)
    for message in gate_messages(report, outputs.policy):
        ui.error(message)
    log.info("%d findings, gate %s", len(report.findings), "failed" if failed else "passed")
    return EXIT_FINDINGS if failed else EXIT_OK


def _write(report: ScanReport, outputs: Outputs) -> None:
    to_terminal = outputs.output is None and sys.stdout.isatty()
    width = Console().width if to_terminal else 160
    shown = outputs.show_suppressed
    screen = ReportOptions(color=to_terminal, width=width, show_suppressed=shown)
    file_options = ReportOptions(show_suppressed=shown)
    # render everything before writing anything: a failing format must not leave half the set
    rendered = [(path, render(name, report, file_options)) for name, path in outputs.extra]
    main = render(outputs.fmt, report, file_options if outputs.output else screen)
    for path, text in rendered:
        write_atomically(path, text)
        log.info("wrote %s", path)
    if outputs.output is not None:
        write_atomically(outputs.output, main)
    else:
        sys.stdout.write(main if main.endswith("\n") else main + "\n")
        sys.stdout.flush()


def open_source(
    reference: str | None,
    input_path: Path | None,
    platform: Platform | None,
    kw: dict[str, Any],
) -> AbstractContextManager[ImageSource]:
    if input_path is not None:  # no network modules loaded for a local archive
        from hullscan.image.archive import open_archive

        return open_archive(input_path, platform, reference)
    if reference is None:
        raise click.UsageError("give an image: REFERENCE, or --input PATH")
    from hullscan.image.daemon import DaemonOptions
    from hullscan.image.registry import RegistryOptions
    from hullscan.image.resolve import ImageRequest, open_image, parse_image_sources

    request = ImageRequest(
        reference=reference,
        platform=platform,
        image_sources=parse_image_sources(kw["image_src"]),
        registry=RegistryOptions(
            username=kw["username"],
            password=kw["password"],
            ca_cert=kw["ca_cert"],
            insecure_registries=tuple(kw["insecure_registry"]),
        ),
        daemon=DaemonOptions(host=kw["docker_host"]),
    )
    return open_image(request)


@cli.command("image")
@click.argument("reference", required=False)
@click.option(
    "--input",
    "input_path",
    type=click.Path(path_type=Path),
    help="A `docker save` tar (optionally gzipped) or an OCI image layout (dir or tar); "
    "REFERENCE then picks one image of an archive that holds several.",
)
@click.option(
    "--platform",
    callback=lambda _ctx, _param, value: parse_platform(value),
    help="os/arch[/variant] to pick from a multi-platform image (default linux/amd64).",
)
@click.option(
    "--image-src",
    default="daemon,registry",
    show_default=True,
    help="Where to look for REFERENCE, in order: daemon, registry.",
)
@click.option("--username", help="Registry user (or HULLSCAN_USERNAME, or docker login).")
@click.option("--password", help="Registry password or token (or HULLSCAN_PASSWORD).")
@click.option(
    "--ca-cert",
    type=click.Path(exists=True, path_type=Path),
    help="CA certificate file (or directory of .crt/.pem) to trust for registries.",
)
@click.option(
    "--insecure-registry",
    multiple=True,
    metavar="HOST[:PORT]",
    help="Talk plain HTTP to this registry (repeatable).",
)
@click.option("--docker-host", help="Docker/Podman daemon address (as DOCKER_HOST).")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the per-layer cache.")
@report_options
@common_options
def image_command(**kw: Any) -> None:
    """Scan an image: REFERENCE from the Docker daemon or a registry, or --input PATH."""
    ui = setup(kw.pop("quiet"), kw.pop("log_file"))
    cache_dir, db_path = kw.pop("cache_dir"), kw.pop("db_path")
    reference, input_path = kw.pop("reference"), kw.pop("input_path")
    if reference is None and input_path is None:
        raise click.UsageError("give an image: REFERENCE, or --input PATH")
    with errors(ui):
        outputs = outputs_from(kw)
        log.info("hullscan %s scanning %s", __version__, input_path or reference)
        db_file = db_path_of(db_path, cache_dir)
        ready_db(ui, kw, db_file)
        started = datetime.now(UTC)
        with VulnDB.open(db_file) as db:
            cache = None if kw["no_cache"] else LayerCache(cache_root(cache_dir))
            with open_source(reference, input_path, kw["platform"], kw) as source:
                inventory = _index(ui, source, cache)
            if cache is not None:
                log.debug("layer cache %s: %s", cache.directory, cache.stats)
            log.info("%d packages, OS %s", len(inventory.packages), inventory.distro)
            report = match(inventory, db, started_at=started)
        image_ref = reference or next(iter(inventory.artifact.repo_tags), "")
        code = _finish(ui, report, image_ref, outputs)
    sys.exit(code)


@cli.command("rootfs")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@report_options
@common_options
def rootfs_command(**kw: Any) -> None:
    """Scan an unpacked root filesystem (a directory; nothing in it is executed)."""
    from hullscan.image.rootfs import index_rootfs

    ui = setup(kw.pop("quiet"), kw.pop("log_file"))
    cache_dir, db_path = kw.pop("cache_dir"), kw.pop("db_path")
    directory: Path = kw.pop("directory")
    with errors(ui):
        outputs = outputs_from(kw)
        log.info("hullscan %s scanning rootfs %s", __version__, directory)
        db_file = db_path_of(db_path, cache_dir)
        ready_db(ui, kw, db_file)
        started = datetime.now(UTC)
        with VulnDB.open(db_file) as db:
            inventory = index_rootfs(directory)
            report = match(inventory, db, started_at=started)
        code = _finish(ui, report, str(directory), outputs)
    sys.exit(code)


@cli.command("sbom")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@report_options
@common_options
def sbom_command(**kw: Any) -> None:
    """Scan an SBOM (CycloneDX JSON/XML, SPDX 2.x JSON, or a hullscan JSON report)."""
    from hullscan.sbom import image_reference, read_sbom

    ui = setup(kw.pop("quiet"), kw.pop("log_file"))
    cache_dir, db_path = kw.pop("cache_dir"), kw.pop("db_path")
    path: Path = kw.pop("file")
    with errors(ui):
        outputs = outputs_from(kw)
        db_file = db_path_of(db_path, cache_dir)
        ready_db(ui, kw, db_file)
        started = datetime.now(UTC)
        inventory = read_sbom(path)
        with VulnDB.open(db_file) as db:
            report = match(inventory, db, started_at=started)
        code = _finish(ui, report, image_reference(inventory), outputs)
    sys.exit(code)
