"""Find an image wherever it lives: an archive on disk, the Docker daemon, or a registry.

Like Trivy's `--image-src`, sources are tried in the order given, and the next one is tried
only when the image is simply not in the previous one (daemon not running, image not
there). A broken export or a registry error is the user's answer, never a reason to
silently scan something else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

from hullscan.errors import SourceError
from hullscan.image.archive import open_archive
from hullscan.image.daemon import (
    DaemonOptions,
    DaemonUnavailableError,
    ImageNotInDaemonError,
    open_daemon_image,
)
from hullscan.image.registry import RegistryOptions, open_registry_image
from hullscan.image.source import ImageSource, Platform

log = logging.getLogger(__name__)

IMAGE_SOURCES = ("daemon", "registry")
DEFAULT_IMAGE_SOURCES = ("daemon", "registry")


@dataclass(frozen=True)
class ImageRequest:
    """What the user asked to scan and how to reach it."""

    reference: str | None = None
    input_path: Path | None = None
    platform: Platform | None = None
    image_sources: tuple[str, ...] = DEFAULT_IMAGE_SOURCES
    registry: RegistryOptions = field(default_factory=RegistryOptions)
    daemon: DaemonOptions = field(default_factory=DaemonOptions)


def open_image(request: ImageRequest) -> ImageSource:
    """The ImageSource for a request; SourceError says what was tried when nothing has it."""
    if request.input_path is not None:
        return open_archive(request.input_path, request.platform, request.reference)
    if not request.reference:
        raise SourceError("no image given: name one, or pass --input PATH")
    unknown = [s for s in request.image_sources if s not in IMAGE_SOURCES]
    if unknown or not request.image_sources:
        raise SourceError(
            f"unknown image source {', '.join(unknown) or '(none)'}: "
            f"choose from {', '.join(IMAGE_SOURCES)}"
        )
    misses: list[str] = []
    for kind in request.image_sources:
        if kind == "daemon":
            try:
                return open_daemon_image(request.reference, _with_platform(request))
            except (DaemonUnavailableError, ImageNotInDaemonError) as exc:
                log.info("not from the daemon: %s", exc)
                misses.append(f"daemon: {exc}")
                continue
        if kind == "registry":
            options = request.registry
            if request.platform is not None and options.platform is None:
                options = replace(options, platform=request.platform)
            return open_registry_image(request.reference, options)
    raise SourceError(f"{request.reference} was not found ({'; '.join(misses)})")


def _with_platform(request: ImageRequest) -> DaemonOptions:
    if request.platform is None or request.daemon.platform is not None:
        return request.daemon
    return replace(request.daemon, platform=request.platform)


def parse_image_sources(text: str) -> tuple[str, ...]:
    """`daemon,registry` -> ("daemon", "registry"), validated."""
    sources = tuple(s.strip().lower() for s in text.split(",") if s.strip())
    bad = [s for s in sources if s not in IMAGE_SOURCES]
    if bad or not sources:
        raise SourceError(
            f"invalid --image-src {text!r}: a comma list of {', '.join(IMAGE_SOURCES)}"
        )
    return tuple(sources)
