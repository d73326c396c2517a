"""Ruby gems: installed gem specifications and `Gemfile.lock`.

`gem install` (and bundler) write every installed gem's specification as Ruby source under
`specifications/` of the gem home (`/usr/local/bundle`, `/usr/local/lib/ruby/gems/3.3.0`,
`/var/lib/gems/*`, Debian's `/usr/share/rubygems-integration`), default gems under
`specifications/default/`. The file is generated, so its `s.name = "rake".freeze` and
`s.version = "13.0.6"` lines are read with patterns, never evaluated; the `# stub: name
version platform` header line is the fallback when they are missing.

`Gemfile.lock`: every gem listed in the `specs:` of a `GEM`, `GIT`, `PATH` or
`PLUGIN SOURCE` section (four-space indent; six-space lines are their requirements). A
platform suffix (`nokogiri (1.16.2-x86_64-linux)`) is not part of the version: RubyGems
versions cannot contain `-`, so the first one starts the platform.
"""

from __future__ import annotations

import re

from hullscan.analyze.base import AnalysisResult, Analyzer
from hullscan.errors import AnalyzerError
from hullscan.model import Package, PackageType

_NAME = re.compile(r"""^\s*\w+\.name\s*=\s*(["'])(.+?)\1""", re.MULTILINE)
_VERSION = re.compile(
    r"""^\s*\w+\.version\s*=\s*(?:Gem::Version\.new\(\s*)?(["'])(.+?)\1""", re.MULTILINE
)
_STUB = re.compile(r"^# stub: (\S+) (\S+)", re.MULTILINE)
_SPEC_LINE = re.compile(r"^    (\S+) \(([^)\s]+)\)\s*$")
_SECTIONS = frozenset({"GEM", "GIT", "PATH", "PLUGIN SOURCE"})
_GEM_VERSION = re.compile(r"^[0-9]+[0-9A-Za-z.]*$")


class RubyAnalyzer(Analyzer):
    """Installed gemspecs and Gemfile.lock files."""

    name = "ruby"
    version = 1
    max_file_size = 16 * 1024 * 1024

    def wants(self, path: str) -> bool:
        if path.endswith(".gemspec"):
            return "specifications/" in path
        return path.endswith("Gemfile.lock") and (
            path == "Gemfile.lock" or path.endswith("/Gemfile.lock")
        )

    def analyze(self, path: str, content: bytes) -> AnalysisResult:
        text = content.decode("utf-8", "replace")
        if path.endswith(".gemspec"):
            return AnalysisResult(packages=(parse_gemspec(text, path),))
        return parse_gemfile_lock(text, path)


def parse_gemspec(text: str, path: str) -> Package:
    """The gem an installed specification describes."""
    name = _NAME.search(text)
    version = _VERSION.search(text)
    stub = _STUB.search(text)
    gem = name.group(2) if name else (stub.group(1) if stub else "")
    ver = version.group(2) if version else (stub.group(2) if stub else "")
    if not gem or not ver:
        raise AnalyzerError("not an installed gem specification: no name or version")
    return Package(name=gem, version=ver, type=PackageType.GEM, paths=(path,))


def parse_gemfile_lock(text: str, path: str) -> AnalysisResult:
    """The gems bundler resolved, from every source section of a Gemfile.lock."""
    packages: list[Package] = []
    seen: set[tuple[str, str]] = set()
    section = ""
    in_specs = False
    sections = 0
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line:
            continue
        if not line[0].isspace():
            section, in_specs = line.strip(), False
            sections += section in _SECTIONS
            continue
        if section not in _SECTIONS:
            continue
        if line.strip() == "specs:":
            in_specs = True
            continue
        match = _SPEC_LINE.match(line) if in_specs else None
        if match is None:
            continue
        name, version = match.group(1), match.group(2).split("-", 1)[0]
        if not _GEM_VERSION.match(version) or (name, version) in seen:
            continue
        seen.add((name, version))
        packages.append(Package(name=name, version=version, type=PackageType.GEM, paths=(path,)))
    if not sections:
        raise AnalyzerError("not a Gemfile.lock: no GEM, GIT or PATH section")
    return AnalysisResult(packages=tuple(packages))
