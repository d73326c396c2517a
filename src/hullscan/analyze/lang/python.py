"""Python packages: installed distributions anywhere in the image, and lockfiles.

Installed (site-packages, dist-packages, virtualenvs, /app, ...): the core metadata file of
each distribution, which is what `pip list` and importlib.metadata read:
- `<name>-<version>.dist-info/METADATA` (wheels, pip, uv, Poetry installs),
- `<name>.egg-info/PKG-INFO` and a plain `<name>.egg-info` file (setuptools, distutils and
  Debian's python3-* packages),
- `.egg` archives (a zip; its `EGG-INFO/PKG-INFO`, read bounded) and unzipped
  `<name>.egg/EGG-INFO/PKG-INFO` directories.
Name and Version come from the metadata headers (the file name may be escaped or stale);
the name is normalised per PEP 503 (`Foo_Bar` -> `foo-bar`), the version kept as written
(comparing PEP 440 versions is the matcher's job). Package.paths is the metadata file.

Lockfiles: poetry.lock, Pipfile.lock, uv.lock and `requirements*.txt` (exact pins only); see
`python_lockfiles` for what each contributes. Lockfiles inside site-/dist-packages ship with
an installed package and describe its development, not the image, and those under
usr/share/doc are documentation: neither is read.

Not packages: the interpreter's own egg-info files that Debian's and Red Hat's python2.7
install next to the standard library (`lib-dynload/Python-2.7.egg-info`,
`python2.7/argparse.egg-info`, `python2.7/wsgiref.egg-info`): the python2.7 OS package
already stands for them (Trivy hard-codes the same three for distroless images, which
have no dpkg file lists).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from hullscan.analyze.base import AnalysisResult, Analyzer
from hullscan.analyze.lang.python_lockfiles import (
    NameVersion,
    parse_pipfile_lock,
    parse_poetry_lock,
    parse_requirements,
    parse_uv_lock,
)
from hullscan.errors import AnalyzerError
from hullscan.model import Package, PackageType

LOCKFILES: dict[str, Callable[[bytes], list[NameVersion]]] = {
    "poetry.lock": parse_poetry_lock,
    "Pipfile.lock": parse_pipfile_lock,
    "uv.lock": parse_uv_lock,
}
_METADATA_TAILS = (
    ".dist-info/METADATA",
    ".egg-info/PKG-INFO",
    ".egg/EGG-INFO/PKG-INFO",
    ".egg-info",
    ".egg",
)
_LOCK_TAILS = (*LOCKFILES, ".txt")
_TAILS = _METADATA_TAILS + _LOCK_TAILS
_INSTALLED_DIRS = ("site-packages/", "dist-packages/")
#: An .egg's PKG-INFO larger than this is not metadata (bounds reads of hostile archives).
MAX_EGG_METADATA = 1024 * 1024
EGG_METADATA = "EGG-INFO/PKG-INFO"
#: Packages' documentation (python3-pip ships a requirements.txt there): examples, not installs.
DOC_DIR = "usr/share/doc/"


def normalize_name(name: str) -> str:
    """PEP 503 name (`Foo_Bar.baz` -> `foo-bar-baz`), by packaging (imported on first use:
    it costs ~13 ms of start-up that images without Python packages need not pay)."""
    from packaging.utils import canonicalize_name

    return str(canonicalize_name(name))


def parse_core_metadata(content: bytes) -> NameVersion:
    """(Name, Version) from the headers of METADATA / PKG-INFO; AnalyzerError without them.

    Only the header block is read (up to the first empty line); continuation lines and the
    description body are skipped, so odd bytes there cost nothing."""
    name = version = ""
    for raw in content.decode("utf-8", errors="replace").split("\n"):
        line = raw.rstrip("\r")
        if not line:
            break
        if line[0] in " \t":
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        if key == "name" and not name:
            name = value.strip()
        elif key == "version" and not version:
            version = value.strip()
        if name and version:
            return name, version
    if not name:
        raise AnalyzerError("no Name: header; not Python package metadata")
    raise AnalyzerError(f"no Version: header for {name}")


def read_egg(content: bytes) -> bytes:
    """The EGG-INFO/PKG-INFO member of an .egg archive (bounded read)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            try:
                info = archive.getinfo(EGG_METADATA)
            except KeyError:
                raise AnalyzerError(f"no {EGG_METADATA} in the egg") from None
            if info.file_size > MAX_EGG_METADATA:
                raise AnalyzerError(f"{EGG_METADATA} is {info.file_size} bytes; not read")
            with archive.open(info) as member:
                data = member.read(MAX_EGG_METADATA + 1)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError) as exc:
        raise AnalyzerError(f"unreadable egg archive: {exc}") from None
    if len(data) > MAX_EGG_METADATA:
        raise AnalyzerError(f"{EGG_METADATA} inflates past {MAX_EGG_METADATA} bytes; not read")
    return data


def is_interpreter_metadata(path: str) -> bool:
    """The python2.7 interpreter's own egg-info files (see module docs)."""
    directory, _, base = path.rpartition("/")
    parent = directory.rpartition("/")[2]
    if parent == "lib-dynload":
        return base.startswith("Python-") and base.endswith(".egg-info")
    return parent.startswith("python") and base in ("argparse.egg-info", "wsgiref.egg-info")


def _installed_dir(path: str) -> bool:
    return any(f"/{d}" in path or path.startswith(d) for d in _INSTALLED_DIRS)


@dataclass(frozen=True)
class PythonAnalyzer(Analyzer):
    """Installed Python distributions (dist-info, egg-info, eggs) and Python lockfiles."""

    name: ClassVar[str] = "python"
    version: ClassVar[int] = 1

    def wants(self, path: str) -> bool:
        if not path.endswith(_TAILS):
            return False
        if path.endswith(_METADATA_TAILS):
            return True
        base = path.rpartition("/")[2]
        if base.endswith(".txt"):
            if not base.startswith("requirements"):
                return False
        elif base not in LOCKFILES:
            return False
        return not _installed_dir(path) and not path.startswith(DOC_DIR)

    def analyze(self, path: str, content: bytes) -> AnalysisResult:
        base = path.rpartition("/")[2]
        if base in LOCKFILES or (base.startswith("requirements") and base.endswith(".txt")):
            parse = LOCKFILES.get(base, parse_requirements)
            found = [(normalize_name(n), v) for n, v in parse(content)]
            return AnalysisResult(packages=self._packages(dict.fromkeys(found), path))
        if is_interpreter_metadata(path):
            return AnalysisResult()
        if base.endswith(".egg"):
            content = read_egg(content)
        name, version = parse_core_metadata(content)
        return AnalysisResult(
            packages=self._packages({(normalize_name(name), version): None}, path)
        )

    @staticmethod
    def _packages(found: dict[NameVersion, None], path: str) -> tuple[Package, ...]:
        return tuple(
            Package(name=name, version=version, type=PackageType.PYPI, paths=(path,))
            for name, version in found
        )
