"""The table report: golden files, colour switch, suppressed rows, layer text."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from hullscan.model import Severity
from hullscan.policy import Policy, apply_policy
from hullscan.report import table
from tests.golden import check_golden
from tests.report import fixtures as fx

GOLDEN = Path(__file__).parent / "golden"


def test_golden(update_golden: bool) -> None:
    text = table.render(fx.policied_report(), fx.options())
    check_golden(GOLDEN / "debian12.table.txt", text, update_golden)


def test_golden_show_suppressed(update_golden: bool) -> None:
    text = table.render(fx.policied_report(), fx.options(show_suppressed=True, width=160))
    check_golden(GOLDEN / "debian12.suppressed.table.txt", text, update_golden)


def test_golden_color(update_golden: bool) -> None:
    text = table.render(fx.policied_report(), fx.options(color=True))
    assert "\x1b[" in text
    check_golden(GOLDEN / "debian12.color.table.txt", text, update_golden)


def test_golden_clean(update_golden: bool) -> None:
    text = table.render(fx.clean_report(), fx.options())
    assert "No vulnerabilities found" in text
    check_golden(GOLDEN / "clean.table.txt", text, update_golden)


def test_no_escape_codes_without_color_even_if_env_forces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("TERM", "dumb")
    text = table.render(fx.policied_report(), fx.options())
    assert "\x1b" not in text
    assert text == table.render(fx.policied_report(), fx.options())
    monkeypatch.delenv("FORCE_COLOR")
    monkeypatch.delenv("TTY_COMPATIBLE")
    assert text == (GOLDEN / "debian12.table.txt").read_text(encoding="utf-8")


def test_summary_lines() -> None:
    text = table.render(fx.policied_report(), fx.options())
    lines = text.splitlines()
    assert lines[0] == "registry.example.com:5000/team/app:1.2 (debian 12 (bookworm))"
    assert "Total: 9 (CRITICAL: 3, HIGH: 1, MEDIUM: 2, LOW: 0, NEGLIGIBLE: 2, UNKNOWN: 1)" in lines
    assert (
        "Suppressed: 2 (whitelist:general: 1, "
        "whitelist:image:registry.example.com:5000/team/app: 1)"
    ) in lines


def test_suppressed_rows_hidden_by_default_shown_on_request() -> None:
    report = fx.policied_report()
    assert "CVE-2023-4039" not in table.render(report, fx.options())
    shown = table.render(report, fx.options(show_suppressed=True, width=200))
    assert "CVE-2023-4039" in shown and "whitelist:general" in shown


def test_only_suppressed_findings() -> None:
    report = fx.debian_report()
    report = replace(
        report, findings=tuple(replace(f, suppressed_by="vex") for f in report.findings)
    )
    text = table.render(report, fx.options())
    assert "No active vulnerabilities found (11 suppressed)" in text
    assert "Total: 0 " in text


def test_dropped_below_min_severity_line() -> None:
    report = apply_policy(fx.debian_report(), Policy(min_severity=Severity.CRITICAL), "x")
    text = table.render(report, fx.options())
    assert "Not shown: 8 below CRITICAL (--severity)" in text
    assert "CVE-2023-4911" not in text


def test_unknown_os_header() -> None:
    report = fx.debian_report()
    report = replace(report, inventory=replace(report.inventory, distro=None))
    assert table.render(report, fx.options()).splitlines()[0] == fx.REFERENCE


@pytest.mark.parametrize(
    ("created_by", "expected"),
    [
        ("/bin/sh -c #(nop) ADD file:abc in / ", "#1 ADD file:abc in /"),
        ('/bin/sh -c #(nop)  CMD ["bash"]', '#1 CMD ["bash"]'),
        ("/bin/sh -c apt-get update", "#1 RUN apt-get update"),
        ("RUN /bin/sh -c make install # buildkit", "#1 RUN make install"),
        ("RUN |2 A=1 B=two /bin/sh -c make all # buildkit", "#1 RUN make all"),
        ("COPY app /opt/app # buildkit", "#1 COPY app /opt/app"),
        ("", "#1"),
        (
            "RUN /bin/sh -c " + "x" * 100,
            "#1 RUN " + "x" * 32 + "…",
        ),
    ],
)
def test_layer_text(created_by: str, expected: str) -> None:
    layer = replace(fx.BASE_LAYER, created_by=created_by)
    finding = fx.debian_findings()[0]
    assert table.layer_text(finding, {layer.diff_id: layer}) == expected


def test_layer_text_unknown_layer() -> None:
    finding = fx.debian_findings()[0]
    assert table.layer_text(finding, {}) == finding.package.layer[:18] + "…"
    no_layer = replace(finding, package=replace(finding.package, layer=""))
    assert table.layer_text(no_layer, {}) == ""
