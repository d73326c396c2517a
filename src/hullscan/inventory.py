"""The Applier: stack per-layer results into the final filesystem's Inventory.

Each LayerResult only knows its own layer. Here whiteouts and opaque directories hide lower
layers, symlinks are followed to the file they name, and every package is attributed to the
layer that introduced its installed version (a later layer that rewrites the package
database without changing that package does not steal the attribution).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from hullscan.analyze.os.release import detect_distro
from hullscan.image.walker import FileFact, LayerResult
from hullscan.model import ArtifactInfo, Distro, Inventory, Package
from hullscan.purl import purl_for

_MAX_LINK_HOPS = 8
_Key = tuple[str, str]  # (path, analyzer)


class Applier:
    """Applies layers bottom-up; `inventory()` reads the result."""

    def __init__(self) -> None:
        self._present: dict[_Key, FileFact] = {}
        # (type, name, version, arch) -> index of the layer that brought that exact package
        self._introduced: dict[tuple[str, str, str, str], int] = {}
        self._warnings: list[str] = []

    def apply(self, index: int, result: LayerResult) -> None:
        """Stack one layer on top of those applied so far."""
        touched = bool(result.files)
        for directory in result.opaque_dirs:
            touched |= self._remove_below(directory, include_self=False)
        for path in result.whiteouts:
            touched |= self._remove_below(path, include_self=True)
        for fact in result.files:
            self._present[(fact.path, fact.analyzer)] = fact
        self._warnings.extend(result.warnings)
        if touched:
            self._attribute(index)

    def _remove_below(self, path: str, include_self: bool) -> bool:
        prefix = f"{path}/" if path else ""
        doomed = [
            key
            for key in self._present
            if key[0].startswith(prefix) or (include_self and key[0] == path)
        ]
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

    def _packages(self) -> list[Package]:
        merged: dict[tuple[str, str, str, str], Package] = {}
        for fact in self._resolved():
            for pkg in fact.result.packages if fact.result else ():
                ident = _identity(pkg)
                known = merged.get(ident)
                if known is None:
                    merged[ident] = pkg
                else:
                    paths = tuple(dict.fromkeys(known.paths + pkg.paths))
                    merged[ident] = replace(known, paths=paths)
        return list(merged.values())

    def _attribute(self, index: int) -> None:
        current = {_identity(pkg) for pkg in self._packages()}
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
        found = self._packages()
        versions: dict[tuple[str, str, str], set[str]] = {}
        for pkg in found:
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
            packages.append(replace(pkg, layer=layer, purl=purl_for(pkg, distro)))
        packages.sort(key=lambda p: (p.type.value, p.name, p.version, p.arch))
        return Inventory(
            artifact=artifact,
            distro=distro,
            packages=tuple(packages),
            warnings=(*self._warnings, *notes, *extra_warnings),
        )


def _identity(pkg: Package) -> tuple[str, str, str, str]:
    return (pkg.type.value, pkg.name, pkg.version, pkg.arch)
