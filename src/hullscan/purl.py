"""Package URLs, so every consumer of a report knows exactly which ecosystem a package is in."""

from __future__ import annotations

from packageurl import PackageURL

from hullscan.model import Distro, Package, PackageType

_NAMESPACE = {"debian": "debian", "ubuntu": "ubuntu", "alpine": "alpine"}


def purl_for(pkg: Package, distro: Distro | None) -> str:
    """purl per the purl-spec types: pkg:deb/debian/..., pkg:apk/alpine/..."""
    qualifiers: dict[str, str] = {}
    if pkg.arch:
        qualifiers["arch"] = pkg.arch
    namespace = ""
    if distro is not None:
        namespace = _NAMESPACE.get(distro.id, distro.id)
        release = distro.version_id or distro.codename or distro.channel
        if release:
            qualifiers["distro"] = f"{distro.id}-{release}"
    if pkg.type is PackageType.DEB and pkg.source_name and pkg.source_name != pkg.name:
        qualifiers["upstream"] = pkg.source_name
    return str(
        PackageURL(
            type=pkg.type.value,
            namespace=namespace or None,
            name=pkg.name,
            version=pkg.version,
            qualifiers=qualifiers or None,
        )
    )
