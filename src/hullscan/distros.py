"""Release naming facts shared by analyzers (what the image says) and feeds (what advisories say).

A vulnerability namespace is `<distro id>:<release>`: `debian:12`, `alpine:3.10`,
`debian:unstable`, `alpine:edge`, `ubuntu:22.04`, `amazon:2023`, `rhel:9`, `wolfi:rolling`.
Both sides compute it here so they always agree. `namespace_of` names a distro's own
namespace; `advisory_namespaces` says which namespaces its packages are matched against
(CentOS, Rocky and AlmaLinux rebuild RHEL and are covered by `rhel:N`). The end-of-life
table lives here too, so detection, matching and policy share one calendar.
"""

from __future__ import annotations

from datetime import date

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


UBUNTU_CODENAMES: dict[str, str] = {
    "warty": "4.10",
    "hoary": "5.04",
    "breezy": "5.10",
    "dapper": "6.06",
    "edgy": "6.10",
    "feisty": "7.04",
    "gutsy": "7.10",
    "hardy": "8.04",
    "intrepid": "8.10",
    "jaunty": "9.04",
    "karmic": "9.10",
    "lucid": "10.04",
    "maverick": "10.10",
    "natty": "11.04",
    "oneiric": "11.10",
    "precise": "12.04",
    "quantal": "12.10",
    "raring": "13.04",
    "saucy": "13.10",
    "trusty": "14.04",
    "utopic": "14.10",
    "vivid": "15.04",
    "wily": "15.10",
    "xenial": "16.04",
    "yakkety": "16.10",
    "zesty": "17.04",
    "artful": "17.10",
    "bionic": "18.04",
    "cosmic": "18.10",
    "disco": "19.04",
    "eoan": "19.10",
    "focal": "20.04",
    "groovy": "20.10",
    "hirsute": "21.04",
    "impish": "21.10",
    "jammy": "22.04",
    "kinetic": "22.10",
    "lunar": "23.04",
    "mantic": "23.10",
    "noble": "24.04",
    "oracular": "24.10",
    "plucky": "25.04",
    "questing": "25.10",
    "resolute": "26.04",
}
UBUNTU_VERSIONS: dict[str, str] = {v: k for k, v in UBUNTU_CODENAMES.items()}

#: os-release ID of the Red Hat family -> the distro part of its own namespace.
RHEL_FAMILY: dict[str, str] = {
    "rhel": "rhel",
    "centos": "centos",
    "rocky": "rocky",
    "almalinux": "alma",
    "ol": "oracle",
}

#: Rolling distributions: one namespace, no releases.
ROLLING: dict[str, str] = {"wolfi": "wolfi:rolling", "chainguard": "chainguard:rolling"}


def ubuntu_release(name: str) -> str:
    """Namespace release of an Ubuntu version or codename: jammy -> 22.04, 22.04.4 -> 22.04."""
    name = name.strip().lower()
    if name in UBUNTU_CODENAMES:
        return UBUNTU_CODENAMES[name]
    return ".".join(name.split(".")[:2])


def amazon_release(version: str) -> str:
    """Amazon Linux release of a VERSION_ID: 2 -> 2, 2023(.6.2024...) -> 2023, 2018.03 -> 1.

    Amazon Linux 1 (the "AMI") numbered its releases by date (2017.09, 2018.03); AL2 is "2";
    AL2022 and AL2023 are years. Empty when the version says nothing.
    """
    major = version.strip().split(".")[0]
    if not major.isdigit():
        return ""
    if major in ("2022", "2023") or int(major) < 2000:
        return major
    return "1"


def _major(version: str) -> str:
    major = version.strip().split(".")[0]
    return major if major.isdigit() else ""


def namespace_of(distro: Distro) -> str | None:
    """The distro's own advisory namespace, or None if unsupported.

    Use `advisory_namespaces` to know what its packages are matched against: a CentOS 7
    image is `centos:7` here but covered by Red Hat's `rhel:7` advisories.
    """
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
    if distro.id == "ubuntu":
        release = ubuntu_release(distro.version_id or distro.codename)
        return f"ubuntu:{release}" if release else None
    if distro.id == "amzn":
        release = amazon_release(distro.version_id)
        return f"amazon:{release}" if release else None
    if distro.id in ROLLING:
        return ROLLING[distro.id]
    if distro.id in RHEL_FAMILY:
        major = _major(distro.version_id)
        return f"{RHEL_FAMILY[distro.id]}:{major}" if major else None
    return None


def advisory_namespaces(distro: Distro) -> list[str]:
    """The namespaces to match this distro's packages against, best first.

    The matcher uses the first one the DB has advisories for; falling back to a later one
    earns the report a warning. The one place that decides which vendor's data covers
    which distribution (docs/db.md, "Which advisories cover which distribution"):

    - CentOS, Rocky Linux and AlmaLinux rebuild RHEL's sources with RHEL's versions and
      publish no feed of their own here: Red Hat's `rhel:N`, as Trivy and Grype do.
    - Oracle Linux: its own errata (`oracle:N`) when a feed provides them, else `rhel:N`
      (Oracle patches differ: the report says so).
    - Everything else: its own namespace.
    """
    family = RHEL_FAMILY.get(distro.id)
    if family is not None:
        major = _major(distro.version_id)
        if not major:
            return []
        if family == "oracle":
            return [f"oracle:{major}", f"rhel:{major}"]
        return [f"rhel:{major}"]
    own = namespace_of(distro)
    return [own] if own else []


# End of life: the last day a release gets security fixes without a paid add-on, from
# endoflife.date's release-cycle data (https://endoflife.date/<product>, checked 2025) and
# the vendors' announcements. Extend on each release. Which date counts:
# - Debian: end of LTS (the security tracker, our feed, covers LTS releases).
# - Ubuntu: end of standard support; ESM needs an Ubuntu Pro subscription, and hullscan
#   does not match Pro advisories (docs/db.md).
# - Alpine: end of the branch's main repository support.
# - RHEL family: end of Maintenance Support (Extended Life Cycle Support is paid).
# - Amazon Linux: end of support (AL2022 was a preview, unsupported since AL2023's GA).
# Rolling releases (Debian testing/sid, Alpine edge, Wolfi, Chainguard) have none.
EOL_DATES: dict[str, date] = {
    "debian:6": date(2016, 2, 29),
    "debian:7": date(2018, 5, 31),
    "debian:8": date(2020, 6, 30),
    "debian:9": date(2022, 6, 30),
    "debian:10": date(2024, 6, 30),
    "debian:11": date(2026, 8, 31),
    "debian:12": date(2028, 6, 30),
    "debian:13": date(2030, 6, 30),
    "ubuntu:12.04": date(2017, 4, 28),
    "ubuntu:12.10": date(2014, 5, 16),
    "ubuntu:13.04": date(2014, 1, 27),
    "ubuntu:13.10": date(2014, 7, 17),
    "ubuntu:14.04": date(2019, 4, 25),
    "ubuntu:14.10": date(2015, 7, 23),
    "ubuntu:15.04": date(2016, 2, 4),
    "ubuntu:15.10": date(2016, 7, 28),
    "ubuntu:16.04": date(2021, 4, 30),
    "ubuntu:16.10": date(2017, 7, 20),
    "ubuntu:17.04": date(2018, 1, 13),
    "ubuntu:17.10": date(2018, 7, 19),
    "ubuntu:18.04": date(2023, 5, 31),
    "ubuntu:18.10": date(2019, 7, 18),
    "ubuntu:19.04": date(2020, 1, 23),
    "ubuntu:19.10": date(2020, 7, 17),
    "ubuntu:20.04": date(2025, 5, 29),
    "ubuntu:20.10": date(2021, 7, 22),
    "ubuntu:21.04": date(2022, 1, 20),
    "ubuntu:21.10": date(2022, 7, 14),
    "ubuntu:22.04": date(2027, 6, 1),
    "ubuntu:22.10": date(2023, 7, 20),
    "ubuntu:23.04": date(2024, 1, 25),
    "ubuntu:23.10": date(2024, 7, 11),
    "ubuntu:24.04": date(2029, 5, 31),
    "ubuntu:24.10": date(2025, 7, 10),
    "ubuntu:25.04": date(2026, 1, 15),
    "alpine:3.0": date(2016, 5, 1),
    "alpine:3.1": date(2016, 11, 1),
    "alpine:3.2": date(2017, 5, 1),
    "alpine:3.3": date(2017, 11, 1),
    "alpine:3.4": date(2018, 5, 1),
    "alpine:3.5": date(2018, 11, 1),
    "alpine:3.6": date(2019, 5, 1),
    "alpine:3.7": date(2019, 11, 1),
    "alpine:3.8": date(2020, 5, 1),
    "alpine:3.9": date(2020, 11, 1),
    "alpine:3.10": date(2021, 5, 1),
    "alpine:3.11": date(2021, 11, 1),
    "alpine:3.12": date(2022, 5, 1),
    "alpine:3.13": date(2022, 11, 1),
    "alpine:3.14": date(2023, 5, 1),
    "alpine:3.15": date(2023, 11, 1),
    "alpine:3.16": date(2024, 5, 23),
    "alpine:3.17": date(2024, 11, 22),
    "alpine:3.18": date(2025, 5, 9),
    "alpine:3.19": date(2025, 11, 1),
    "alpine:3.20": date(2026, 4, 1),
    "alpine:3.21": date(2026, 11, 1),
    "alpine:3.22": date(2027, 5, 1),
    "amazon:1": date(2023, 12, 31),
    "amazon:2": date(2026, 6, 30),
    "amazon:2022": date(2023, 3, 15),
    "amazon:2023": date(2029, 6, 30),
    "rhel:5": date(2017, 3, 31),
    "rhel:6": date(2020, 11, 30),
    "rhel:7": date(2024, 6, 30),
    "rhel:8": date(2029, 5, 31),
    "rhel:9": date(2032, 5, 31),
    "rhel:10": date(2035, 5, 31),
    "centos:5": date(2017, 3, 31),
    "centos:6": date(2020, 11, 30),
    "centos:7": date(2024, 6, 30),
    "centos:8": date(2021, 12, 31),
    "centos-stream:8": date(2024, 5, 31),
    "centos-stream:9": date(2027, 5, 31),
    "rocky:8": date(2029, 5, 31),
    "rocky:9": date(2032, 5, 31),
    "alma:8": date(2029, 3, 1),
    "alma:9": date(2032, 5, 31),
    "oracle:5": date(2017, 6, 30),
    "oracle:6": date(2021, 3, 1),
    "oracle:7": date(2024, 12, 31),
    "oracle:8": date(2029, 7, 1),
    "oracle:9": date(2032, 6, 30),
}

_NAMES: dict[str, str] = {
    "debian": "Debian",
    "ubuntu": "Ubuntu",
    "alpine": "Alpine Linux",
    "amzn": "Amazon Linux",
    "rhel": "Red Hat Enterprise Linux",
    "centos": "CentOS",
    "rocky": "Rocky Linux",
    "almalinux": "AlmaLinux",
    "ol": "Oracle Linux",
    "wolfi": "Wolfi",
    "chainguard": "Chainguard",
}


def _eol_key(distro: Distro) -> str | None:
    if distro.id == "centos" and distro.channel == "stream":
        major = _major(distro.version_id)
        return f"centos-stream:{major}" if major else None
    if distro.channel:  # testing, sid, edge: rolling, no end of life
        return None
    return namespace_of(distro)


def eol_date(distro: Distro) -> date | None:
    """The last day of the release's security support, or None (rolling or not known)."""
    key = _eol_key(distro)
    return EOL_DATES.get(key) if key else None


def eol_reached(distro: Distro | None, on: date) -> date | None:
    """The end-of-life date when the release was past it on day `on`, else None."""
    if distro is None:
        return None
    end = eol_date(distro)
    return end if end is not None and on > end else None


def release_name(distro: Distro) -> str:
    """The release as people name it: "Debian 10 (buster)", "Amazon Linux 2"."""
    name = _NAMES.get(distro.id, distro.id)
    key = namespace_of(distro) or ""
    release = key.partition(":")[2]
    codename = distro.codename
    if distro.id == "debian" and not codename:
        codename = DEBIAN_VERSIONS.get(release, "")
    elif distro.id == "ubuntu" and not codename:
        codename = UBUNTU_VERSIONS.get(release, "")
    elif distro.id == "centos" and distro.channel == "stream":
        name = "CentOS Stream"
    elif distro.id == "amzn" and release == "1":
        release = f"1 ({distro.version_id})" if distro.version_id else "1"
    if not release or release == "rolling":
        release = distro.version_id or distro.channel
    label = f"{name} {release}".strip()
    if codename and distro.id in ("debian", "ubuntu"):
        label += f" ({codename})"
    return label


def eol_warning(distro: Distro | None, on: date) -> str | None:
    """The end-of-life warning every report shows, or None when the release is supported."""
    end = eol_reached(distro, on)
    if distro is None or end is None:
        return None
    return (
        f"{release_name(distro)} reached end of life on {end.isoformat()}; "
        "it receives no security fixes"
    )
