"""The format registry the CLI, server and tracker share."""

from __future__ import annotations

import pytest

from hullscan.errors import ReportError
from hullscan.report import registry
from tests.report import fixtures as fx


def test_formats() -> None:
    assert set(registry.FORMATS) >= {"table", "json", "gitlab"}
    assert registry.DEFAULT_FILENAMES["gitlab"] == "gl-container-scanning-report.json"
    assert set(registry.DEFAULT_FILENAMES) == set(registry.FORMATS)


@pytest.mark.parametrize("name", sorted(registry.FORMATS))
def test_every_format_renders_text_deterministically(name: str) -> None:
    first = registry.render(name, fx.policied_report(), fx.options())
    assert first == registry.render(name, fx.policied_report(), fx.options())
    assert first.endswith("\n")


def test_unknown_format() -> None:
    with pytest.raises(
        ReportError, match=r"unknown report format 'pdf' \(available: clair, cyclonedx, .*table\)"
    ):
        registry.get_renderer("pdf")
