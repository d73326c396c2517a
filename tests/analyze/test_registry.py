"""The default analyzer set: what a scan runs unless told otherwise."""

from __future__ import annotations

from hullscan.analyze.base import Analyzer
from hullscan.analyze.registry import default_analyzers


def test_default_analyzers_are_distinct_and_versioned() -> None:
    analyzers = default_analyzers()
    names = [a.name for a in analyzers]
    assert names[:3] == ["os-release", "dpkg", "apk"]
    assert len(set(names)) == len(names)
    assert all(isinstance(a, Analyzer) and a.version >= 1 for a in analyzers)


def test_every_os_database_has_an_analyzer() -> None:
    wanted = {
        path: [a.name for a in default_analyzers() if a.wants(path)]
        for path in (
            "etc/os-release",
            "var/lib/dpkg/status",
            "var/lib/dpkg/status.d/base-files",
            "lib/apk/db/installed",
            "usr/bin/bash",
        )
    }
    assert wanted == {
        "etc/os-release": ["os-release"],
        "var/lib/dpkg/status": ["dpkg"],
        "var/lib/dpkg/status.d/base-files": ["dpkg"],
        "lib/apk/db/installed": ["apk"],
        "usr/bin/bash": [],
    }
