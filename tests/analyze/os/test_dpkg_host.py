"""DpkgAnalyzer against dpkg itself, on the real database of the machine running the tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hullscan.analyze.os.dpkg import DpkgAnalyzer

STATUS = Path("/var/lib/dpkg/status")
FORMAT = (
    "${Package}\\t${Version}\\t${Architecture}\\t${source:Package}\\t${source:Version}"
    "\\t${db:Status-Status}\\n"
)
ABSENT_STATES = {"not-installed", "config-files"}


@pytest.mark.skipif(
    shutil.which("dpkg-query") is None or not STATUS.is_file(),
    reason="needs a Debian-family machine with dpkg-query and /var/lib/dpkg/status",
)
def test_host_database_matches_dpkg_query() -> None:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", FORMAT], capture_output=True, text=True, check=True
    ).stdout
    expected = {
        tuple(line.split("\t")[:5])
        for line in out.splitlines()
        if line and line.split("\t")[5] not in ABSENT_STATES
    }
    result = DpkgAnalyzer().analyze("var/lib/dpkg/status", STATUS.read_bytes())
    actual = {(p.name, p.version, p.arch, p.source_name, p.source_version) for p in result.packages}
    assert len(expected) > 50  # a real system, not an empty database
    assert actual == expected
