"""The Applier: stack per-layer results into the final filesystem's Inventory.

Each LayerResult only knows its own layer. Here whiteouts and opaque directories hide lower
layers, symlinks are followed to the file they name, and every package is attributed to the
layer that introduced its installed version (a later layer that rewrites the package
database without changing that package does not steal the attribution).

Two rules need the whole final filesystem, so they live here and not in an analyzer
(docs/language-packages.md):
- A language package whose metadata file (Package.paths[0]) an OS package owns (dpkg
  .list/.md5sums, rpm file lists, apk F:/R: in `AnalysisResult.owned_paths`) is dropped:
  the OS package is reported and matched against its distribution's feed, which knows
  the distribution's backported fixes; the same code is not matched twice.
- npm packages read from a lockfile are dropped when the same project (the lockfile's
  directory) has packages installed under node_modules: those are what runs.
Both are counted (`dropped_owned`, `dropped_lockfile`) and logged at debug level; neither is
a warning, since both are the expected state of a healthy image.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace

from hullscan.analyze.lang.javascript import installed_project, lockfile_project
from hullscan.analyze.os.release import detect_distro
from hullscan.image.walker import FileFact, LayerResult
from hullscan.model import ArtifactInfo, Distro, Inventory, Package, PackageType
from hullscan.purl import purl_for

log = logging.getLogger(__name__)

_MAX_LINK_HOPS = 8
_Key = tuple[str, str]  # (path, analyzer)
#: Merged-/usr images hold under usr/ what older packages' file lists name under /bin, /lib...
_USR_MERGED = ("usr/bin/", "usr/sbin/", "usr/lib/", "usr/lib32/", "usr/lib64/", "usr/libx32/")


class Applier:
    """Applies layers bottom-up; `inventory()` reads the result."""

    def __init__(self) -> None:
        self._present: dict[_Key, FileFact] = {}
        # (type, name, version, arch) -> index of the layer that brought that exact package
        self._introduced: dict[tuple[str, str, str, str], int] = {}
        self._warnings: list[str] = []
        #: language packages the last inventory() dropped: OS-owned, shadowed lockfile entries
        self.dropped_owned = 0
        self.dropped_lockfile = 0

    def apply(self, index: int, result: LayerResult) -> None:
        """Stack one layer on top of those applied so far."""
        touched = bool(result.files)
        if result.opaque_dirs or result.whiteouts:
            touched |= self._remove(result.whiteouts, result.opaque_dirs)
        for fact in result.files:
            self._present[(fact.path, fact.analyzer)] = fact
        self._warnings.extend(result.warnings)
        if touched:
            self._attribute(index)

    def _remove(self, whiteouts: Sequence[str], opaque_dirs: Sequence[str]) -> bool:
        """Forget what a whiteout (the path and all below it) or an opaque directory (all
        below it) hides. One pass over the known files, each looking up its own ancestors,
        so a layer deleting a thousand node_modules entries costs no more than one."""
        itself = set(whiteouts)
        below = itself | set(opaque_dirs)
        everything = "" in below
        doomed = [k for k in self._present if everything or _hidden(k[0], itself, below)]
        for key in doomed:
            del self._present[key]
        return bool(doomed)

    def _resolved(self) -> Iterable[FileFact]:
        """Facts with content, symlinks replaced by what they point to."""
        for (_path, analyzer), fact in self._present.items():
            hops = 0
            while fact.link and hops < _MAX_LINK_HOPS:
                target = self._present.get((fact.link, analyzer))
                if target is None:
                    break
                fact, hops = target, hops + 1
            if fact.result is not None and not fact.link:
                yield fact

    def _found(self) -> Iterator[Package]:
        for fact in self._resolved():
            yield from fact.result.packages if fact.result else ()

    def _owned_paths(self) -> set[str]:
        """Every file an OS package owns in the final filesystem; built once per inventory."""
        owned: set[str] = set()
        for fact in self._resolved():
            if fact.result is not None and fact.result.owned_paths:
                owned.update(fact.result.owned_paths)
        return owned

    def _selected(self) -> Iterator[Package]:
        """The packages of the final filesystem minus the two rules in the module docs."""
        found = list(self._found())
        owned = self._owned_paths() if any(not p.type.is_os for p in found) else set()
        projects = {
            root
            for pkg in found
            if pkg.type is PackageType.NPM
            and pkg.paths
            and (root := installed_project(pkg.paths[0])) is not None
        }
        self.dropped_owned = self.dropped_lockfile = 0
        for pkg in found:
            if not pkg.type.is_os and pkg.paths:
                if owned and _is_owned(pkg.paths[0], owned):
                    self.dropped_owned += 1
                    continue
                if pkg.type is PackageType.NPM and lockfile_project(pkg.paths[0]) in projects:
                    self.dropped_lockfile += 1
                    continue
            yield pkg
        if self.dropped_owned or self.dropped_lockfile:
            log.debug(
                "left out %d language package(s) an OS package owns and %d lockfile "
                "package(s) of projects with node_modules",
                self.dropped_owned,
                self.dropped_lockfile,
            )

    def _packages(self, final: bool = False) -> list[Package]:
        merged: dict[tuple[str, str, str, str], Package] = {}
        for pkg in self._selected() if final else self._found():
            ident = _identity(pkg)
            known = merged.get(ident)
            if known is None:
                merged[ident] = pkg
            else:
                paths = tuple(dict.fromkeys(known.paths + pkg.paths))
                merged[ident] = replace(known, paths=paths)
        return list(merged.values())

    def _attribute(self, index: int) -> None:
        current = {_identity(pkg) for pkg in self._found()}  # identities: no merging needed
        for ident in list(self._introduced):
            if ident not in current:
                del self._introduced[ident]
        for ident in current:
            self._introduced.setdefault(ident, index)

    def distro(self) -> Distro | None:
        found = {
            fact.path: fact.result.distro
            for fact in self._resolved()
            if fact.result is not None and fact.result.distro is not None
        }
        return detect_distro(found)

    def inventory(self, artifact: ArtifactInfo, extra_warnings: Sequence[str] = ()) -> Inventory:
        distro = self.distro()
        layers = artifact.layers
        packages = []
        found = self._packages(final=True)
        versions: dict[tuple[str, str, str], set[str]] = {}
        for pkg in found:
            if pkg.type.is_os:  # several versions of a library side by side are normal
                versions.setdefault(pkg.key, set()).add(pkg.version)
        conflicts = sorted(
            f"{k[1]} ({', '.join(sorted(v))})" for k, v in versions.items() if len(v) > 1
        )
        notes = (
            [
                "package databases disagree on the installed version of "
                + ", ".join(conflicts)
                + "; all versions are reported"
            ]
            if conflicts
            else []
        )
        for pkg in found:
            index = self._introduced.get(_identity(pkg), len(layers) - 1)
            layer = layers[index].diff_id if 0 <= index < len(layers) else ""
            # the distro is the namespace of OS packages only: pkg:pypi/x, never pkg:pypi/debian/x
            context = distro if pkg.type.is_os else None
            packages.append(replace(pkg, layer=layer, purl=purl_for(pkg, context)))
        packages.sort(key=lambda p: (p.type.value, p.name, p.version, p.arch))
        return Inventory(
            artifact=artifact,
            distro=distro,
            packages=tuple(packages),
            warnings=(*self._warnings, *notes, *extra_warnings),
        )


def _hidden(path: str, itself: set[str], below: set[str]) -> bool:
    if path in itself:
        return True
    at = path.rfind("/")
    while at > 0:
        if path[:at] in below:
            return True
        at = path.rfind("/", 0, at)
    return False


def _is_owned(path: str, owned: set[str]) -> bool:
    """`path` or, for a member of an archive (`outer.war!/inner.jar`), the archive."""
    path = path.split("!/", 1)[0]
    if path in owned:
        return True
    return path.startswith(_USR_MERGED) and path[4:] in owned


def _identity(pkg: Package) -> tuple[str, str, str, str]:
    return (pkg.type.value, pkg.name, pkg.version, pkg.arch)
