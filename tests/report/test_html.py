"""Self-contained HTML report: golden, no network at view time, escaping, and a real
browser (Debian's headless Chromium) rendering it and running its filters."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from dataclasses import replace
from pathlib import Path

import pytest

from hullscan.report import html
from tests.golden import check_golden
from tests.report import fixtures as fx

GOLDEN = Path(__file__).parent / "golden"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_golden(update_golden: bool) -> None:
    text = html.render(fx.policied_report(), fx.options())
    check_golden(GOLDEN / "debian12.html", text, update_golden)


def test_self_contained() -> None:
    text = html.render(fx.policied_report(), fx.options())
    assert "<link" not in text and "@import" not in text and "url(" not in text
    assert not re.search(r"<(script|img|iframe)[^>]*\bsrc=", text)
    # the only URLs are links to advisories, and a CSP forbids loading anything
    assert "default-src 'none'" in text
    for url in re.findall(r'href="([^"]+)"', text):
        assert url.startswith("https://security-tracker.debian.org/"), url


def test_image_text_is_escaped() -> None:
    report = fx.debian_report()
    first = report.findings[0]
    evil = replace(
        first,
        description='</script><script>alert(1)</script>"',
        urls=('javascript:alert(1)"',),
        package=replace(first.package, name="<img src=x onerror=alert(1)>"),
    )
    text = html.render(replace(report, findings=(evil,)), fx.options())
    assert "<img src=x" not in text and "<script>alert" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert 'href="javascript' not in text


def _png_facts(data: bytes) -> tuple[int, int, float, int]:
    """(width, height, compressed/raw size, distinct byte values in the pixel data).

    A blank page compresses to almost nothing and its (filtered) rows are nearly all one
    byte value; text, badges and charts do neither. Decoding every pixel in pure Python
    would take seconds, so this reads the image statistics instead.
    """
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    width = height = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    compressed = b"".join(chunks)
    raw = zlib.decompress(compressed)
    return width, height, len(compressed) / len(raw), len(set(raw[::101]))


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            *args,
        ],
        capture_output=True,
        timeout=90,
        check=False,
    )


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (Debian package chromium)")
def test_chromium_renders_and_filters(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(html.render(fx.policied_report(), fx.options()), encoding="utf-8")
    url = page.as_uri()

    shot = tmp_path / "report.png"
    done = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", url)
    assert shot.exists(), done.stderr.decode(errors="replace")[-2000:]
    width, height, ratio, values = _png_facts(shot.read_bytes())
    assert (width, height) == (1280, 2000)
    assert ratio > 0.01 and values > 100  # text, severity colours and charts: not blank

    # the filters run in the browser: state from the URL fragment, rows hidden by JS
    dom = _chromium(tmp_path, "--dump-dom", url + "#sev=CRITICAL&q=curl").stdout.decode()
    assert 'data-ready="1"' in dom and 'data-shown="2"' in dom
    visible = re.findall(r'<tr class="finding[^"]*"(?![^>]*\bhidden)[^>]*data-text="([^"]*)"', dom)
    assert len(visible) == 2 and all("curl" in text for text in visible)
    assert "Showing 2 of 9 findings" in dom

    dom = _chromium(tmp_path, "--dump-dom", url + "#suppressed=1&layer=1").stdout.decode()
    assert "Showing 7 of 11 findings" in dom  # the base layer's findings, suppressed included
