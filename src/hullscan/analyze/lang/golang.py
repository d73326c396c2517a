"""Go modules: the build info of Go binaries, and `go.mod` files.

A Go binary is the truth about what it contains: the linker records the Go release that
built it and every module compiled in (`go version -m` prints the same). Reported:

- `stdlib` at the Go release, as a semver (`go1.22.1` -> `v1.22.1`, `go1.21rc2` ->
  `v1.21.0-rc.2`): the Go vulnerability DB files standard-library advisories under the
  module name `stdlib` (its OSV ranges are SEMVER without the `v`; the matcher compares
  Go versions with or without it). Development toolchains (`devel ...`) have no release
  version and give no `stdlib`.
- the main module, when it has a version: the module version (`go install m@v1.2.3`, or
  Go 1.24+ VCS tags), else a `-X <pkg>.version=vX.Y.Z` linker flag (as Trivy). A main
  module built from a work tree says `(devel)` and is left out: there is nothing to match.
- every dependency, replaced by its `=>` replacement when there is one (that is the code in
  the binary); a replacement by a local directory has no version and is left out.

Binaries are recognised by content, not name: the walker offers executables of plausible
size (see `plausible_program`); anything without the build-info magic yields nothing.
Debian's own Go packages are built in GOPATH mode, so their binaries carry no module list,
only the Go release.

`go.mod` (require lines, with replace directives applied) is read too, for images that ship
sources; files in the module cache (`pkg/mod/`), `vendor/`, `testdata/` and Go's own source
tree (`module std`/`cmd`) are not, since none of them is what the image runs. `go.sum` is
not read: it lists every version the build ever considered, not the ones selected. A
`go.mod` says nothing about the toolchain that will build it, so it gives no `stdlib`.
"""

from __future__ import annotations

import re

from hullscan.analyze.base import AnalysisResult, Analyzer
from hullscan.analyze.lang.elf_file import MAX_PROGRAM_SIZE, plausible_program
from hullscan.analyze.lang.go_buildinfo import (
    BuildInfoError,
    go_tag_to_semver,
    ldflags_version,
    read_build_info,
)
from hullscan.errors import AnalyzerError
from hullscan.model import Package, PackageType

_SKIPPED_TREES = ("/pkg/mod/", "/vendor/", "/testdata/")
_UNVERSIONED = ("", "(devel)")


class GoAnalyzer(Analyzer):
    """Go binaries (build info) and go.mod files."""

    name = "go"
    version = 1
    max_file_size = MAX_PROGRAM_SIZE

    def wants(self, path: str) -> bool:
        if not path.endswith("go.mod") or not (path == "go.mod" or path.endswith("/go.mod")):
            return False
        inner = f"/{path}"
        return not any(tree in inner for tree in _SKIPPED_TREES)

    def wants_file(self, path: str, mode: int, size: int) -> bool:
        return self.wants(path) or plausible_program(path, mode, size)

    def analyze(self, path: str, content: bytes) -> AnalysisResult:
        if path.endswith("go.mod") and not content.startswith(b"\x7fELF"):
            return AnalysisResult(packages=tuple(parse_go_mod(content, path)))
        return analyze_go_binary(path, content)


def analyze_go_binary(path: str, content: bytes) -> AnalysisResult:
    """The modules of one Go binary; an empty result for any other file."""
    try:
        info = read_build_info(content)
    except BuildInfoError as exc:
        raise AnalyzerError(f"unreadable Go build info: {exc}") from None
    if info is None:
        return AnalysisResult()
    packages: list[Package] = []
    warnings: list[str] = []

    def add(name: str, version: str) -> None:
        packages.append(Package(name=name, version=version, type=PackageType.GOLANG, paths=(path,)))

    stdlib = go_tag_to_semver(info.go_version)
    if stdlib:
        add("stdlib", stdlib)
    else:
        warnings.append(f"built by Go {info.go_version!r}, not a release: stdlib not reported")
    main = info.main
    if main is not None:
        target = main.replace or main
        version = target.version
        if version in _UNVERSIONED:
            version = ldflags_version(info.settings.get("-ldflags", ""))
        if version not in _UNVERSIONED:
            add(target.path, version)
    for dep in info.deps:
        target = dep.replace or dep
        if target.version not in _UNVERSIONED:
            add(target.path, target.version)
    return AnalysisResult(packages=tuple(packages), warnings=tuple(warnings))


_DIRECTIVE = re.compile(r"^(module|go|toolchain|require|replace|exclude|retract|godebug)\b\s*(.*)$")


def parse_go_mod(content: bytes, path: str) -> list[Package]:
    """Required modules of a go.mod with its replace directives applied."""
    text = content.decode("utf-8", "replace")
    module = ""
    requires: list[tuple[str, str]] = []
    replaces: dict[tuple[str, str], tuple[str, str]] = {}  # (path, version or "") -> target
    block = ""
    for raw in text.split("\n"):
        line = raw.split("//", 1)[0].strip()
        if not line:
            continue
        if block:
            if line == ")":
                block = ""
                continue
            words = line.split()
        else:
            match = _DIRECTIVE.match(line)
            if not match:
                continue
            verb, rest = match.groups()
            if rest == "(":
                block = verb
                continue
            block_once, words = verb, rest.split()
            if verb == "module" and words:
                module = words[0].strip('"')
            _directive(block_once, words, requires, replaces)
            continue
        _directive(block, words, requires, replaces)
    if not module:
        raise AnalyzerError("not a go.mod file: no module directive")
    if module in ("std", "cmd"):
        return []  # Go's own source tree: its vendored modules are covered by stdlib advisories
    packages: list[Package] = []
    for mod_path, version in requires:
        target = replaces.get((mod_path, version)) or replaces.get((mod_path, ""))
        name, resolved = target if target else (mod_path, version)
        if resolved in _UNVERSIONED:
            continue  # replaced by a local directory
        packages.append(
            Package(name=name, version=resolved, type=PackageType.GOLANG, paths=(path,))
        )
    return packages


def _directive(
    verb: str,
    words: list[str],
    requires: list[tuple[str, str]],
    replaces: dict[tuple[str, str], tuple[str, str]],
) -> None:
    words = [w.strip('"`') for w in words]
    if verb == "require" and len(words) >= 2:
        requires.append((words[0], words[1]))
    elif verb == "replace" and "=>" in words:
        arrow = words.index("=>")
        left, right = words[:arrow], words[arrow + 1 :]
        if not left or not right:
            return
        old = (left[0], left[1] if len(left) > 1 else "")
        replaces[old] = (right[0], right[1] if len(right) > 1 else "")
