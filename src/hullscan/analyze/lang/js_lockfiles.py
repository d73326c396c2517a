"""Parsers for npm, Yarn and pnpm lockfiles: each returns (name, version) pairs, dev left out.

A lockfile says what *would* be installed; the Applier only uses it for a project that has
no node_modules in the image (see docs/language-packages.md). Rules shared by every format:

- Dev dependencies are left out (what `npm ci --omit=dev`, `yarn workspaces focus
  --production` and `pnpm install --prod` install; Trivy does the same by default).
  package-lock.json marks them (`dev: true`; `devOptional` packages are optional
  dependencies of the production tree and are kept); pnpm v5/v6 mark them (`dev: true`);
  pnpm v9 does not, so the production tree is walked from the importers' dependencies
  and optionalDependencies through the snapshots. yarn.lock has no dev marker and is read
  alone, so every package of it is reported.
- Workspace members, `link:`/`file:` directories and the project itself are the project's
  own code, not registry packages: skipped (Trivy lists workspace members). Tarballs and
  git/URL dependencies are kept when the lockfile gives their real name and version
  (package-lock v2+, pnpm); yarn entries resolved from anything but the npm registry
  (git, file, link, portal, patch, exec, URLs) are skipped, as Trivy does.
- npm aliases (`"string-width-cjs": "npm:string-width@4.2.3"`) are reported under the
  real package name, which is what advisories name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from hullscan.errors import AnalyzerError

NameVersion = tuple[str, str]
_NODE_MODULES = "node_modules/"


def split_spec(spec: str) -> tuple[str, str]:
    """`@scope/name@range` -> (`@scope/name`, `range`); no '@' after the name -> (spec, '')."""
    at = spec.find("@", 1)
    if at < 0:
        return spec, ""
    return spec[:at], spec[at + 1 :]


def unalias(name: str, version: str) -> NameVersion:
    """`npm:real@1.2.3` as a version means package `real` at 1.2.3."""
    if version.startswith("npm:"):
        real, real_version = split_spec(version[4:])
        if real and real_version:
            return real, real_version
    return name, version


def _unique(pairs: Iterable[NameVersion]) -> list[NameVersion]:
    return list(dict.fromkeys(pairs))


# --- package-lock.json / npm-shrinkwrap.json --------------------------------------------------


def parse_package_lock(content: bytes) -> list[NameVersion]:
    """Production packages of a package-lock.json, v1 (`dependencies` tree) or v2/v3
    (`packages` map; v2 has both and the map is authoritative)."""
    data = _json_object(content)
    packages = data.get("packages")
    if isinstance(packages, dict) and packages:
        return _unique(_lock_v2(packages))
    dependencies = data.get("dependencies")
    if isinstance(dependencies, dict):
        return _unique(_lock_v1(dependencies))
    if "lockfileVersion" in data:
        return []  # a project without dependencies
    raise AnalyzerError("not a package-lock.json: no lockfileVersion, packages or dependencies")


def _lock_v2(packages: Mapping[str, Any]) -> Iterator[NameVersion]:
    for key, entry in packages.items():
        if not isinstance(entry, dict) or entry.get("link") or entry.get("dev"):
            continue
        at = key.rfind(_NODE_MODULES)
        if at < 0 or (at and key[at - 1] != "/"):
            continue  # "" is the project, other keys without node_modules/ are workspaces
        name = entry.get("name") or key[at + len(_NODE_MODULES) :]
        version = entry.get("version")
        if not isinstance(name, str) or not isinstance(version, str) or not version:
            continue
        name, version = unalias(name, version)
        if not version.startswith(("file:", "link:")):
            yield name, version


def _lock_v1(dependencies: Mapping[str, Any], dev: bool = False) -> Iterator[NameVersion]:
    """Depth first in file order; what is nested under a dev dependency is dev too."""
    for name, entry in dependencies.items():
        if not isinstance(entry, dict):
            continue
        is_dev = dev or bool(entry.get("dev"))
        version = entry.get("version")
        if not is_dev and isinstance(version, str):
            real, version = unalias(name, version)
            if _is_plain_version(version):
                yield real, version
        nested = entry.get("dependencies")
        if isinstance(nested, dict):
            yield from _lock_v1(nested, is_dev)


def _is_plain_version(version: str) -> bool:
    """A registry version, not a URL, path or git reference (v1 writes those as versions)."""
    return bool(version) and ":" not in version and "/" not in version


def _json_object(content: bytes) -> dict[str, Any]:
    try:
        data = json.loads(content.decode("utf-8-sig", errors="replace"))
    except ValueError as exc:
        raise AnalyzerError(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise AnalyzerError("not a JSON object")
    return data


# --- yarn.lock (v1 and berry) ---------------------------------------------------------------


def parse_yarn_lock(content: bytes) -> list[NameVersion]:
    """Packages of a yarn.lock, classic (v1) or berry (v2+, a YAML subset).

    Both are read line by line: a block starts with an unindented `spec[, spec...]:` line and
    its fields are indented by two spaces (`version "1.2.3"` in v1, `version: 1.2.3` and
    `resolution: "name@npm:1.2.3"` in berry). Nested maps (dependencies) are ignored.
    """
    text = content.decode("utf-8", errors="replace")
    found: list[NameVersion] = []
    blocks = 0
    for specs, fields in _yarn_blocks(text):
        blocks += 1
        package = _yarn_package(specs, fields)
        if package is not None:
            found.append(package)
    if not blocks and text.strip() and "yarn lockfile" not in text:
        raise AnalyzerError("not a yarn.lock: no package entry found")
    return _unique(found)


def _yarn_blocks(text: str) -> Iterator[tuple[str, dict[str, str]]]:
    specs = ""
    fields: dict[str, str] = {}
    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            if specs:
                yield specs, fields
            specs, fields = (line[:-1] if line.endswith(":") else line), {}
            continue
        if line.startswith("  ") and not line.startswith("   ") and specs:
            key, value = _yarn_field(line[2:])
            if key:
                fields.setdefault(key, value)
    if specs:
        yield specs, fields


def _yarn_field(text: str) -> tuple[str, str]:
    """`version "1.2.3"`, `"version" "1.2.3"` or `version: 1.2.3` -> (version, 1.2.3)."""
    if text.startswith('"'):
        end = text.find('"', 1)
        key, rest = text[1:end], text[end + 1 :]
    else:
        cut = min((i for i in (text.find(" "), text.find(":")) if i >= 0), default=len(text))
        key, rest = text[:cut], text[cut:]
    rest = rest.lstrip(":").strip()
    return key, rest.strip('"')


def _yarn_package(specs: str, fields: Mapping[str, str]) -> NameVersion | None:
    if specs == "__metadata":
        return None
    first = specs.split(",")[0].strip().strip('"')
    name, reference = split_spec(first)
    resolution = fields.get("resolution")
    if resolution:  # berry: name@protocol:reference of what was actually fetched
        name, reference = split_spec(resolution)
        if not reference.startswith("npm:"):
            return None  # workspace:, patch:, git, file:, link:, portal:, exec:, URLs
        real, real_version = split_spec(reference[4:])  # `npm:1.2.3` or alias `npm:real@1.2.3`
        name, version = (real, real_version) if real_version else (name, reference[4:])
        return (name, version) if name and _is_plain_version(version) else None
    version = fields.get("version", "")
    if not name or not version:
        return None
    if reference.startswith("npm:"):
        real, _range = split_spec(reference[4:])
        return (real if _range else name), version
    if ":" in reference or "/" in reference.lstrip("@"):
        return None  # a protocol (file:, git+https:, github:, ...) or a user/repo shorthand
    return name, version


# --- pnpm-lock.yaml (v5 to v9) ----------------------------------------------------------------


def parse_pnpm_lock(content: bytes) -> list[NameVersion]:
    """Production packages of a pnpm-lock.yaml, lockfile versions 5.x, 6.x and 9.x.

    pnpm 11 can put an "env lockfile" (pnpm itself, as packageManagerDependencies) before
    the project's own in a second YAML document: the last document is the project's.
    """
    import yaml  # ~10 ms; only images with a pnpm lockfile pay for it

    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster
    try:
        documents = [d for d in yaml.load_all(content, Loader=loader) if d is not None]
    except yaml.YAMLError as exc:
        raise AnalyzerError(f"not valid YAML: {exc}") from None
    if not documents or not isinstance(documents[-1], dict):
        raise AnalyzerError("not a pnpm lockfile: no mapping")
    data = documents[-1]
    version = str(data.get("lockfileVersion", ""))
    if not version:
        raise AnalyzerError("not a pnpm lockfile: no lockfileVersion")
    major = version.split(".")[0]
    packages = data.get("packages")
    if not isinstance(packages, dict):
        return []
    if major.isdigit() and int(major) >= 9 and isinstance(data.get("snapshots"), dict):
        return _unique(_pnpm_v9(data, packages))  # without snapshots: v6-shaped, dev flags
    return _unique(_pnpm_v5_v6(packages, new_keys=major.isdigit() and int(major) >= 6))


def _pnpm_v5_v6(packages: Mapping[str, Any], new_keys: bool) -> Iterator[NameVersion]:
    """v5 keys `/name/1.2.3[_peer@x]`, v6 keys `/name@1.2.3[(peer@x)]`; `dev` per entry."""
    for key, entry in packages.items():
        if not isinstance(entry, dict) or entry.get("dev") is True:
            continue
        resolution = entry.get("resolution")
        if isinstance(resolution, dict) and resolution.get("type") == "directory":
            continue
        name, version = entry.get("name"), entry.get("version")
        if not (isinstance(name, str) and isinstance(version, str)):
            parsed = _pnpm_key(str(key), new_keys)
            if parsed is None:
                continue
            name, version = parsed
        yield name, str(version)


def _pnpm_key(key: str, new_keys: bool) -> NameVersion | None:
    if key.startswith("/"):
        key = key[1:]
    elif not new_keys:
        return None  # v5 tarballs and directories carry name/version fields instead
    if new_keys:
        key = key.split("(", 1)[0]
        name, version = split_spec(key)
    else:
        name, _, version = key.rpartition("/")
        version = version.split("_", 1)[0]
    if not name or not _is_plain_version(version):
        return None
    return name, version


def _pnpm_v9(data: Mapping[str, Any], packages: Mapping[str, Any]) -> Iterator[NameVersion]:
    """v9: `packages` keys `name@version`, the graph in `snapshots` (keys with peer suffixes);
    production = reachable from the importers' dependencies and optionalDependencies."""
    snapshots = data.get("snapshots")
    snapshots = snapshots if isinstance(snapshots, dict) else {}
    todo: list[str] = []
    importers = data.get("importers")
    for importer in importers.values() if isinstance(importers, dict) else ():
        if not isinstance(importer, dict):
            continue
        for group in ("dependencies", "optionalDependencies"):
            deps = importer.get(group)
            if isinstance(deps, dict):
                for dep, spec in deps.items():
                    version = spec.get("version") if isinstance(spec, dict) else spec
                    if isinstance(version, str):
                        todo.append(_snapshot_key(str(dep), version))
    seen: set[str] = set()
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        seen.add(key)
        snapshot = snapshots.get(key)
        if not isinstance(snapshot, dict):
            continue
        for group in ("dependencies", "optionalDependencies"):
            deps = snapshot.get(group)
            if isinstance(deps, dict):
                todo.extend(_snapshot_key(str(d), str(v)) for d, v in deps.items())
    for key in sorted(seen):
        package_key = key.split("(", 1)[0]
        entry = packages.get(package_key)
        if not isinstance(entry, dict):
            continue
        resolution = entry.get("resolution")
        if isinstance(resolution, dict) and resolution.get("type") == "directory":
            continue
        name, version = split_spec(package_key)
        real_version = entry.get("version")
        if isinstance(real_version, str):
            version = real_version
        if name and _is_plain_version(version):
            yield name, version


def _snapshot_key(name: str, version: str) -> str:
    """The snapshot a dependency points to: `name@version`, or the alias target itself."""
    if version.startswith("link:"):
        return ""
    bare = version.split("(", 1)[0]
    target, at_version = split_spec(bare)
    if at_version and ":" not in target and not bare.startswith(("http", "file:")):
        return version  # an alias: `string-width@4.2.3`
    return f"{name}@{version}"
