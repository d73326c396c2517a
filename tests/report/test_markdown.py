"""Markdown merge-request summary: golden, the size limit, escaping of image text."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from hullscan.model import Severity
from hullscan.policy import Policy, apply_policy
from hullscan.report import markdown
from tests.golden import check_golden
from tests.report import fixtures as fx

GOLDEN = Path(__file__).parent / "golden"


def test_golden(update_golden: bool) -> None:
    check_golden(
        GOLDEN / "debian12.md", markdown.render(fx.policied_report(), fx.options()), update_golden
    )


def test_clean_golden(update_golden: bool) -> None:
    check_golden(
        GOLDEN / "clean.md", markdown.render(fx.clean_report(), fx.options()), update_golden
    )


def test_verdicts() -> None:
    text = markdown.render(fx.policied_report(), fx.options())
    assert "**Failed**: 4 findings at or above HIGH." in text
    passed = apply_policy(fx.debian_report(), Policy(fail_on=Severity.CRITICAL), fx.REFERENCE)
    ok = apply_policy(
        replace(
            passed, findings=tuple(f for f in passed.findings if f.severity < Severity.CRITICAL)
        ),
        Policy(fail_on=Severity.CRITICAL),
        fx.REFERENCE,
    )
    assert "**Passed**: no finding at or above CRITICAL." in markdown.render(ok, fx.options())
    assert "**Passed**" not in markdown.render(fx.debian_report(), fx.options())


def test_long_reports_stay_under_the_limit() -> None:
    report = fx.debian_report()
    base = report.findings[0]
    many = tuple(
        replace(base, vuln_id=f"CVE-2024-{n:05d}", description="x" * 500) for n in range(5000)
    )
    text = markdown.render(replace(report, findings=many), fx.options())
    assert len(text) <= markdown.MAX_CHARS
    rows = [line for line in text.splitlines() if line.startswith("| **HIGH**")]
    assert len(rows) == markdown.MAX_ROWS
    assert f"_Showing the top {markdown.MAX_ROWS} of 5000 active findings;" in text


def test_row_budget_when_rows_are_huge() -> None:
    report = fx.debian_report()
    base = report.findings[0]
    huge = replace(base, package=replace(base.package, version="1." + "9" * 3000))
    many = tuple(replace(huge, vuln_id=f"CVE-2024-{n:05d}") for n in range(80))
    text = markdown.render(replace(report, findings=many), fx.options())
    assert len(text) <= markdown.MAX_CHARS
    assert "of 80 active findings" in text


def test_image_text_cannot_inject_markdown() -> None:
    report = fx.debian_report()
    base = report.findings[0]
    evil = replace(
        base,
        vuln_id="CVE-1|[x](javascript:alert(1))",
        urls=("javascript:alert(1)",),
        package=replace(base.package, name="pkg|`<img src=x>`", version="1.0|2"),
    )
    text = markdown.render(replace(report, findings=(evil,)), fx.options())
    row = next(line for line in text.splitlines() if "pkg" in line)
    assert row.count(" | ") == 5  # still six cells
    assert not re.search(r"(?<!\\)\]\(javascript", text)  # no live link
    assert "nvd.nist.gov" not in row  # a URL built from the odd id is not trusted either
    assert "`pkg\\|'<img src=x>'`" in row
    assert "\\[x\\]" in row


def test_escape_and_code() -> None:
    assert markdown.escape("a|b *c* <d>") == "a\\|b \\*c\\* \\<d\\>"
    assert markdown.code("1:2.3`4|5") == "`1:2.3'4\\|5`"
    assert markdown.code("") == "-"
    assert markdown.link("CVE-1", "https://x/(a)") == "[CVE-1](https://x/%28a%29)"
