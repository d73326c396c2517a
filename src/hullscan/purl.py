"""Package URLs, so every consumer of a report knows exactly which ecosystem a package is in."""

from __future__ import annotations

from packageurl import PackageURL

from hullscan.model import Distro, Package, PackageType

#: purl namespaces by os-release ID (the vendor, per purl-spec's deb/apk/rpm types)
_NAMESPACE = {
    "rhel": "redhat",
    "centos": "centos",
    "rocky": "rocky",
    "almalinux": "almalinux",
    "ol": "oracle",
    "amzn": "amazon",
    "sles": "suse",
    "opensuse-leap": "opensuse",
}


#: purl namespace (vendor) -> os-release ID where they differ, for reading purls back
VENDOR_IDS = {vendor: os_id for os_id, vendor in _NAMESPACE.items() if vendor != os_id}


def split_name(kind: PackageType, name: str) -> tuple[str, str]:
    """(purl namespace, purl name) of a language package name (inverse of join_name)."""
    if kind is PackageType.MAVEN and ":" in name:
        group, _, artifact = name.rpartition(":")  # groupId:artifactId
        return group, artifact
    if kind in (PackageType.NPM, PackageType.GOLANG, PackageType.COMPOSER) and "/" in name:
        namespace, _, last = name.rpartition("/")  # @scope/name, module/path, vendor/pkg
        return namespace, last
    return "", name


def join_name(kind: PackageType, namespace: str, name: str) -> str:
    """The package name hullscan uses for a purl's namespace and name.

    Maven `group:artifact` (as Trivy and the OSV feeds name them), npm `@scope/name`,
    Go and Composer `path/name`; OS packages are their binary name (the namespace is the
    vendor, not part of the name).
    """
    if not namespace or kind.is_os:
        return name
    if kind is PackageType.MAVEN:
        return f"{namespace}:{name}"
    if kind in (PackageType.NPM, PackageType.GOLANG, PackageType.COMPOSER):
        return f"{namespace}/{name}"
    return name


def _language_purl(pkg: Package) -> str:
    """purl-spec for ecosystem packages: the name's own namespace, no distro qualifiers."""
    namespace, name = split_name(pkg.type, pkg.name)
    return str(
        PackageURL(
            type=pkg.type.value,
            namespace=namespace or None,
            name=name,
            version=pkg.version or None,
        )
    )


def purl_for(pkg: Package, distro: Distro | None) -> str:
    """purl per the purl-spec types: pkg:deb/debian/..., pkg:apk/alpine/..., pkg:maven/g/a@v"""
    if not pkg.type.is_os:
        return _language_purl(pkg)
    qualifiers: dict[str, str] = {}
    if pkg.arch:
        qualifiers["arch"] = pkg.arch
    namespace = ""
    if distro is not None:
        namespace = _NAMESPACE.get(distro.id, distro.id)
        release = distro.version_id or distro.codename or distro.channel
        if release:
            qualifiers["distro"] = f"{distro.id}-{release}"
    version = pkg.version
    if pkg.type is PackageType.DEB and pkg.source_name and pkg.source_name != pkg.name:
        qualifiers["upstream"] = pkg.source_name
    if pkg.type is PackageType.RPM:
        # purl-spec: an rpm epoch is the `epoch` qualifier, the version stays version-release
        epoch, sep, rest = version.partition(":")
        if sep and epoch.isdigit():
            qualifiers["epoch"], version = epoch, rest
        if pkg.modularity_label:
            qualifiers["rpmmod"] = pkg.modularity_label
    return str(
        PackageURL(
            type=pkg.type.value,
            namespace=namespace or None,
            name=pkg.name,
            version=version,
            qualifiers=qualifiers or None,
        )
    )
