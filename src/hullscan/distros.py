"""Release naming facts shared by analyzers (what the image says) and feeds (what advisories say).

A vulnerability namespace is `<distro id>:<release>`: `debian:12`, `alpine:3.10`,
`debian:unstable`, `alpine:edge`. Both sides compute it here so they always agree.
"""

from __future__ import annotations

from hullscan.model import Distro

DEBIAN_CODENAMES: dict[str, str] = {
    "buzz": "1.1",
    "rex": "1.2",
    "bo": "1.3",
    "hamm": "2.0",
    "slink": "2.1",
    "potato": "2.2",
    "woody": "3.0",
    "sarge": "3.1",
    "etch": "4",
    "lenny": "5",
    "squeeze": "6",
    "wheezy": "7",
    "jessie": "8",
    "stretch": "9",
    "buster": "10",
    "bullseye": "11",
    "bookworm": "12",
    "trixie": "13",
    "forky": "14",
    "duke": "15",
}
DEBIAN_VERSIONS: dict[str, str] = {v: k for k, v in DEBIAN_CODENAMES.items()}
DEBIAN_UNSTABLE = "sid"


def debian_release(codename: str) -> str:
    """Namespace release of a Debian tracker release name (bookworm -> 12, sid -> unstable)."""
    codename = codename.lower()
    if codename == DEBIAN_UNSTABLE:
        return "unstable"
    return DEBIAN_CODENAMES.get(codename, codename)


def alpine_branch(version: str) -> str:
    """Alpine's repository branch for a release: 3.10.4 -> 3.10, edge stays edge."""
    version = version.strip().lstrip("v")
    if not version or version == "edge":
        return "edge"
    parts = version.split(".")
    return ".".join(parts[:2])


def namespace_of(distro: Distro) -> str | None:
    """The advisory namespace that covers packages of this distro, or None if unsupported."""
    if distro.id == "debian":
        if distro.channel == "sid":
            return "debian:unstable"
        if distro.version_id:
            return f"debian:{distro.version_id.split('.')[0]}"
        if distro.codename:
            return f"debian:{debian_release(distro.codename)}"
        return None
    if distro.id == "alpine":
        if distro.channel == "edge":
            return "alpine:edge"
        return f"alpine:{alpine_branch(distro.version_id)}" if distro.version_id else None
    return None
