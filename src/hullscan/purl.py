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


def _language_purl(pkg: Package) -> str:
    """purl-spec for ecosystem packages: the name's own namespace, no distro qualifiers."""
    namespace, name = "", pkg.name
    if pkg.type is PackageType.MAVEN and ":" in name:
        namespace, name = name.split(":", 1)  # groupId:artifactId
    elif pkg.type is PackageType.NPM and name.startswith("@") and "/" in name:
        namespace, name = name.split("/", 1)  # @scope/name
    elif pkg.type in (PackageType.GOLANG, PackageType.COMPOSER) and "/" in name:
        namespace, name = name.rsplit("/", 1)  # github.com/org/repo, vendor/package
    return str(
        PackageURL(type=pkg.type.value, namespace=namespace or None, name=name, version=pkg.version)
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
