"""A minimal reader for txtar archives (golang.org/x/tools/txtar), used by Trivy's fixtures.

Format: an optional comment, then files, each introduced by a line `-- NAME --`; a file's
data is every line up to the next marker. A missing final newline is taken as present.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Archive:
    comment: str
    files: dict[str, str]


def _marker_name(line: str) -> str | None:
    if line.startswith("-- ") and line.endswith(" --") and len(line) > 6:
        return line[3:-3].strip() or None
    return None


def parse(text: str) -> Archive:
    """Split txtar text into its comment and its files (name -> content)."""
    comment: list[str] = []
    files: dict[str, list[str]] = {}
    current = comment
    for line in text.splitlines(keepends=True):
        name = _marker_name(line.rstrip("\r\n"))
        if name is not None:
            current = files.setdefault(name, [])
            continue
        current.append(line if line.endswith("\n") else line + "\n")
    return Archive("".join(comment), {name: "".join(lines) for name, lines in files.items()})


def read(path: Path) -> Archive:
    return parse(path.read_text(encoding="utf-8"))
