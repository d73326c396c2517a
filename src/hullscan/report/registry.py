"""Report formats by name, for `--format NAME` and `--report NAME=PATH`.

New formats (sarif, cyclonedx, ...) add one entry here; callers never import a format
module directly, so the CLI, the server and the tracker offer the same set.
"""

from __future__ import annotations

from hullscan.errors import ReportError
from hullscan.model import ScanReport
from hullscan.report import (
    clair,
    cyclonedx,
    gitlab,
    html,
    json,
    junit,
    markdown,
    sarif,
    spdx,
    table,
)
from hullscan.report.base import Renderer, ReportOptions

FORMATS: dict[str, Renderer] = {
    "table": table.render,
    "json": json.render,
    "gitlab": gitlab.render,
    "sarif": sarif.render,
    "cyclonedx": cyclonedx.render_json,
    "cyclonedx-json": cyclonedx.render_json,
    "cyclonedx-xml": cyclonedx.render_xml,
    "spdx-json": spdx.render,
    "junit": junit.render,
    "markdown": markdown.render,
    "html": html.render,
    "clair": clair.render,
}

DEFAULT_FILENAMES: dict[str, str] = {
    "table": "hullscan-report.txt",
    "json": "hullscan-report.json",
    "gitlab": gitlab.DEFAULT_FILENAME,
    "sarif": sarif.DEFAULT_FILENAME,
    "cyclonedx": cyclonedx.DEFAULT_FILENAME_JSON,
    "cyclonedx-json": cyclonedx.DEFAULT_FILENAME_JSON,
    "cyclonedx-xml": cyclonedx.DEFAULT_FILENAME_XML,
    "spdx-json": spdx.DEFAULT_FILENAME,
    "junit": junit.DEFAULT_FILENAME,
    "markdown": markdown.DEFAULT_FILENAME,
    "html": html.DEFAULT_FILENAME,
    "clair": clair.DEFAULT_FILENAME,
}
"""The file name people expect when a format is written without an explicit path."""


def get_renderer(name: str) -> Renderer:
    """The renderer of a format; ReportError lists the known ones otherwise."""
    try:
        return FORMATS[name]
    except KeyError:
        known = ", ".join(sorted(FORMATS))
        raise ReportError(f"unknown report format {name!r} (available: {known})") from None


def render(name: str, report: ScanReport, options: ReportOptions | None = None) -> str:
    """Render `report` in format `name` with default options unless given."""
    return get_renderer(name)(report, options or ReportOptions())
