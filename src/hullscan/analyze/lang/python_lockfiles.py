"""Parsers for Python lockfiles: poetry.lock, Pipfile.lock, uv.lock, pinned requirements files.

Each returns (name as written, version as written) pairs of the packages an install from the
lockfile puts in production; the analyzer normalises names (PEP 503). What is left out:

- Development dependencies: Pipfile.lock's `develop` section; poetry.lock packages with
  `category = "dev"` (Poetry < 1.2) or with `groups` that do not include `main` (Poetry 2);
  uv.lock packages only reachable through a workspace member's `dev-dependencies` (uv.lock
  has no per-package flag, so the graph is walked from the workspace members; extras are
  followed, as they may be installed).
- The project itself and local directories (uv `editable`/`virtual`/`directory` sources,
  Poetry `directory` sources): the project's own code, not a PyPI package.
- requirements*.txt: only exact pins, `name==version` or `name===version` (extras, markers,
  comments and `--hash` options around them are fine). Everything else installs a version
  the file does not name and is skipped: ranges (`>=`, `~=`, `!=`), wildcards (`==1.*`),
  bare names, `-r`/`-c` includes, `-e` and URL/path requirements, other options.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from hullscan.errors import AnalyzerError

NameVersion = tuple[str, str]
_LOCAL_UV_SOURCES = frozenset({"editable", "virtual", "directory", "path"})
_PIN_OPERATORS = ("===", "==")


def _toml(content: bytes) -> dict[str, Any]:
    import tomllib  # imported when a TOML lockfile is met, not at start-up

    try:
        return tomllib.loads(content.decode("utf-8", errors="replace"))
    except tomllib.TOMLDecodeError as exc:
        raise AnalyzerError(f"not valid TOML: {exc}") from None


def _packages(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    packages = data.get("package", [])
    if not isinstance(packages, list):
        raise AnalyzerError("`package` is not an array of tables")
    return [p for p in packages if isinstance(p, dict)]


def _name_version(entry: Mapping[str, Any]) -> NameVersion | None:
    name, version = entry.get("name"), entry.get("version")
    if isinstance(name, str) and isinstance(version, str) and name and version:
        return name, version
    return None


def parse_poetry_lock(content: bytes) -> list[NameVersion]:
    found: list[NameVersion] = []
    for entry in _packages(_toml(content)):
        if entry.get("category") == "dev":
            continue
        groups = entry.get("groups")
        if isinstance(groups, list) and groups and "main" not in groups:
            continue
        source = entry.get("source")
        if isinstance(source, dict) and source.get("type") == "directory":
            continue
        pair = _name_version(entry)
        if pair is not None:
            found.append(pair)
    return found


def parse_pipfile_lock(content: bytes) -> list[NameVersion]:
    try:
        data = json.loads(content.decode("utf-8-sig", errors="replace"))
    except ValueError as exc:
        raise AnalyzerError(f"not valid JSON: {exc}") from None
    default = data.get("default") if isinstance(data, dict) else None
    if not isinstance(default, dict):
        raise AnalyzerError("not a Pipfile.lock: no `default` section")
    found: list[NameVersion] = []
    for name, entry in default.items():
        version = entry.get("version") if isinstance(entry, dict) else None
        if isinstance(version, str) and version.startswith("=="):
            found.append((name, version.lstrip("=").strip()))
    return found


def parse_uv_lock(content: bytes) -> list[NameVersion]:
    packages = _packages(_toml(content))
    by_name: dict[str, list[dict[str, Any]]] = {}
    roots: list[dict[str, Any]] = []
    for entry in packages:
        by_name.setdefault(str(entry.get("name", "")), []).append(entry)
        if _uv_local(entry):
            roots.append(entry)
    # no workspace member to walk from: everything is production
    todo = list(roots or packages)
    reached: dict[int, dict[str, Any]] = {}
    while todo:
        entry = todo.pop()
        if id(entry) in reached:
            continue
        reached[id(entry)] = entry
        for dependency in _uv_dependencies(entry):
            name = dependency.get("name")
            candidates = by_name.get(str(name), [])
            wanted = dependency.get("version")
            todo.extend(c for c in candidates if wanted is None or c.get("version") == wanted)
    found: list[NameVersion] = []
    for entry in packages:
        if id(entry) in reached and not _uv_local(entry):
            pair = _name_version(entry)
            if pair is not None:
                found.append(pair)
    return found


def _uv_local(entry: Mapping[str, Any]) -> bool:
    source = entry.get("source")
    return isinstance(source, dict) and bool(_LOCAL_UV_SOURCES & source.keys())


def _uv_dependencies(entry: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """`dependencies` and every extra's `optional-dependencies`; never `dev-dependencies`."""
    direct = entry.get("dependencies")
    groups = [direct] if isinstance(direct, list) else []
    optional = entry.get("optional-dependencies")
    if isinstance(optional, dict):
        groups.extend(g for g in optional.values() if isinstance(g, list))
    for group in groups:
        yield from (d for d in group if isinstance(d, dict))


def parse_requirements(content: bytes) -> list[NameVersion]:
    """Exact pins of a requirements file (see module docs for what is skipped)."""
    found: list[NameVersion] = []
    for line in _logical_lines(content.decode("utf-8-sig", errors="replace")):
        pair = _pin(line)
        if pair is not None:
            found.append(pair)
    return found


def _logical_lines(text: str) -> Iterator[str]:
    """Lines with `\\` continuations joined and comments (` #...`, or a whole `#` line) cut."""
    pending = ""
    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        hash_at = line.find("#")
        while hash_at > 0 and not line[hash_at - 1].isspace():
            hash_at = line.find("#", hash_at + 1)  # `#` in a URL fragment is not a comment
        if hash_at >= 0:
            line = line[:hash_at]
        if line.strip():
            yield line.strip()
    if pending.strip():
        yield pending.strip()


def _pin(line: str) -> NameVersion | None:
    if line.startswith("-"):
        return None  # -r, -c, -e, --index-url, ...
    requirement = line.split(";", 1)[0]  # environment markers
    requirement = requirement.split(" --", 1)[0]  # per-requirement options (--hash)
    for operator in _PIN_OPERATORS:
        name, sep, version = requirement.partition(operator)
        if sep:
            break
    else:
        return None
    name = name.split("[", 1)[0].strip()  # extras
    version = version.strip()
    version = version.split()[0] if version else ""
    if not name or not version or any(c in version for c in "*,<>=!~@"):
        return None
    if not all(c.isalnum() or c in "-_." for c in name):
        return None  # a URL or path requirement
    return name, version
