"""OS detection from release files, checked through the advisory namespace a user gets.

Real files: this machine's Debian 12 files (testdata/), os-release files from Syft's and
Grype's fixtures under ../shared/data, and the alpine:3.10 image archive. The Debian
testing and Alpine 3.19/edge files are the distributions' published contents, verbatim.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from hullscan.analyze.os.release import (
    OsReleaseAnalyzer,
    detect_distro,
    parse_os_release,
)
from hullscan.distros import namespace_of
from hullscan.errors import AnalyzerError
from hullscan.model import Distro

TESTDATA = Path(__file__).parent / "testdata"
GRYPE = Path("golden/anchore__grype/test/integration/testdata")
ALPINE_310 = Path("images/aquasecurity__trivy/pkg/fanal/test/testdata/alpine-310.tar.gz")

# debian:testing (trixie, base-files 13.x), /etc/os-release.
DEBIAN_TESTING_OS_RELEASE = """\
PRETTY_NAME="Debian GNU/Linux trixie/sid"
NAME="Debian GNU/Linux"
VERSION_CODENAME=trixie
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"""
# alpine:3.19 (3.19.1), /etc/os-release.
ALPINE_319_OS_RELEASE = """\
NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.19.1
PRETTY_NAME="Alpine Linux v3.19"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
"""
# alpine:edge (snapshot 20240329), /etc/os-release.
ALPINE_EDGE_OS_RELEASE = """\
NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.20.0_alpha20240329
PRETTY_NAME="Alpine Linux edge"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
"""
# ubuntu:22.04, /etc/os-release; Ubuntu also ships /etc/debian_version "bookworm/sid".
UBUNTU_2204_OS_RELEASE = """\
PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=jammy
"""

analyzer = OsReleaseAnalyzer()


def partial(path: str, content: str | bytes) -> Distro:
    data = content.encode() if isinstance(content, str) else content
    result = analyzer.analyze(path, data)
    assert result.distro is not None
    assert result.warnings == ()
    return result.distro


def detect(**files: str | bytes) -> Distro | None:
    """detect_distro over analyzer output; keyword names: etc_os_release, usr_lib_os_release, ..."""
    paths = {
        "etc_os_release": "etc/os-release",
        "usr_lib_os_release": "usr/lib/os-release",
        "alpine_release": "etc/alpine-release",
        "debian_version": "etc/debian_version",
    }
    return detect_distro({paths[k]: partial(paths[k], v) for k, v in files.items()})


def test_debian_12_from_this_machine() -> None:
    distro = detect(
        usr_lib_os_release=(TESTDATA / "debian-12.os-release").read_bytes(),
        debian_version=(TESTDATA / "debian-12.debian_version").read_bytes(),
    )
    assert distro == Distro(
        id="debian",
        version_id="12",
        codename="bookworm",
        pretty_name="Debian GNU/Linux 12 (bookworm)",
    )
    assert distro is not None and namespace_of(distro) == "debian:12"


def test_debian_point_release_is_normalised_to_the_major() -> None:
    distro = detect(debian_version="12.5\n")
    assert distro == Distro(id="debian", version_id="12")
    assert namespace_of(distro) == "debian:12"


def test_debian_testing() -> None:
    distro = detect(etc_os_release=DEBIAN_TESTING_OS_RELEASE, debian_version="trixie/sid\n")
    assert distro == Distro(
        id="debian", codename="trixie", pretty_name="Debian GNU/Linux trixie/sid", channel="testing"
    )
    assert namespace_of(distro) == "debian:13"


@pytest.mark.parametrize(
    ("debian_version", "namespace"),
    [("bookworm/sid\n", "debian:12"), ("trixie/sid\n", "debian:13"), ("sid\n", "debian:unstable")],
)
def test_debian_version_alone(debian_version: str, namespace: str) -> None:
    distro = detect(debian_version=debian_version)
    assert distro is not None and namespace_of(distro) == namespace


def test_debian_testing_without_debian_version() -> None:
    distro = detect(etc_os_release=DEBIAN_TESTING_OS_RELEASE)
    assert distro is not None and (distro.channel, namespace_of(distro)) == ("testing", "debian:13")


def test_debian_sid_codename_means_unstable() -> None:
    text = DEBIAN_TESTING_OS_RELEASE.replace("VERSION_CODENAME=trixie", "VERSION_CODENAME=sid")
    distro = detect(etc_os_release=text)
    assert distro is not None and (distro.channel, namespace_of(distro)) == (
        "sid",
        "debian:unstable",
    )


def test_syft_image_dpkg_os_release(shared_data: Path) -> None:
    path = shared_data / "pkgdb/dpkg/anchore__syft/syft/pkg/cataloger/debian/testdata/image-dpkg"
    distro = detect(etc_os_release=(path / "etc/os-release").read_bytes())
    assert distro is not None and namespace_of(distro) == "debian:12"
    assert distro.codename == "bookworm"


def test_debian_8_codename_comes_from_version(shared_data: Path) -> None:
    """Debian 8 predates VERSION_CODENAME: VERSION="8 (jessie)"."""
    path = shared_data / GRYPE / "image-debian-match-coverage/usr/lib/os-release"
    distro = detect(usr_lib_os_release=path.read_bytes())
    assert distro == Distro(
        id="debian", version_id="8", codename="jessie", pretty_name="Debian GNU/Linux 8 (jessie)"
    )
    assert namespace_of(distro) == "debian:8"


def test_alpine_crlf_os_release(shared_data: Path) -> None:
    distro = detect(
        etc_os_release=(
            shared_data / GRYPE / "image-alpine-match-coverage/etc/os-release"
        ).read_bytes()
    )
    assert distro == Distro(id="alpine", version_id="3.12.0", pretty_name="Alpine Linux v3.12")
    assert namespace_of(distro) == "alpine:3.12"


@pytest.mark.parametrize(
    ("image", "want"),
    [
        ("centos", Distro(id="centos", version_id="8", pretty_name="CentOS Linux 8 (Core)")),
        (
            "sles",
            Distro(id="sles", version_id="12.5", pretty_name="SUSE Linux Enterprise Server 12 SP5"),
        ),
        ("portage", Distro(id="gentoo", version_id="2.8", pretty_name="Gentoo Linux")),
    ],
)
def test_other_distributions_are_named_but_have_no_namespace_yet(
    shared_data: Path, image: str, want: Distro
) -> None:
    path = shared_data / GRYPE / f"image-{image}-match-coverage/etc/os-release"
    distro = detect(etc_os_release=path.read_bytes())
    assert distro == want
    assert namespace_of(distro) is None


def test_alpine_319() -> None:
    distro = detect(etc_os_release=ALPINE_319_OS_RELEASE, alpine_release="3.19.1\n")
    assert distro == Distro(id="alpine", version_id="3.19.1", pretty_name="Alpine Linux v3.19")
    assert namespace_of(distro) == "alpine:3.19"


def test_alpine_edge() -> None:
    distro = detect(etc_os_release=ALPINE_EDGE_OS_RELEASE, alpine_release="3.20.0_alpha20240329\n")
    assert distro == Distro(
        id="alpine",
        version_id="3.20.0_alpha20240329",
        pretty_name="Alpine Linux edge",
        channel="edge",
    )
    assert namespace_of(distro) == "alpine:edge"


def test_alpine_edge_from_alpine_release_alone() -> None:
    distro = detect(alpine_release="3.20.0_alpha20240329\n")
    assert distro is not None and namespace_of(distro) == "alpine:edge"


def test_alpine_310_image(shared_data: Path) -> None:
    """The real alpine:3.10 image: full version kept, namespace by branch."""
    files: dict[str, Distro] = {}
    with tarfile.open(shared_data / ALPINE_310) as image:
        layer = next(m for m in image.getmembers() if m.name.endswith("/layer.tar"))
        layer_file = image.extractfile(layer)
        assert layer_file is not None
        with tarfile.open(fileobj=layer_file) as rootfs:
            for member in rootfs.getmembers():
                if member.isfile() and analyzer.wants(member.name):
                    content = rootfs.extractfile(member)
                    assert content is not None
                    files[member.name] = partial(member.name, content.read())
    assert sorted(files) == ["etc/alpine-release", "etc/os-release"]
    assert files["etc/alpine-release"] == Distro(id="alpine", version_id="3.10.4")
    distro = detect_distro(files)
    assert distro == Distro(id="alpine", version_id="3.10.4", pretty_name="Alpine Linux v3.10")
    assert namespace_of(distro) == "alpine:3.10"


def test_ubuntu_debian_version_does_not_make_it_debian() -> None:
    distro = detect(etc_os_release=UBUNTU_2204_OS_RELEASE, debian_version="bookworm/sid\n")
    assert distro == Distro(
        id="ubuntu", version_id="22.04", codename="jammy", pretty_name="Ubuntu 22.04.4 LTS"
    )


def test_etc_os_release_wins_over_usr_lib() -> None:
    distro = detect(etc_os_release=ALPINE_319_OS_RELEASE, usr_lib_os_release=ALPINE_EDGE_OS_RELEASE)
    assert distro is not None and namespace_of(distro) == "alpine:3.19"


def test_os_release_fills_gaps_from_lower_priority_files() -> None:
    os_release = "ID=debian\nPRETTY_NAME='Debian'\n"  # stripped-down file: no version
    distro = detect(etc_os_release=os_release, debian_version="11.9\n")
    assert distro == Distro(id="debian", version_id="11", pretty_name="Debian")
    assert namespace_of(distro) == "debian:11"


def test_no_release_file_means_unknown_os() -> None:
    assert detect_distro({}) is None
    assert detect_distro({"etc/hostname": Distro(id="debian")}) is None


def test_os_release_quoting_per_spec() -> None:
    text = "\n".join(
        [
            "# a comment",
            "",
            'NAME="Foo \\"Bar\\" \\$HOME \\\\ \\x"',
            "ID=foo",
            "VERSION_ID='1.0 \"single\" \\n'",
            'PRETTY_NAME="concat"enated',
            "EMPTY=",
            "BARE=word # trailing comment",
            "ID=later-wins",
        ]
    )
    values, warnings = parse_os_release(text)
    assert values == {
        "NAME": 'Foo "Bar" $HOME \\ \\x',
        "ID": "later-wins",
        "VERSION_ID": '1.0 "single" \\n',
        "PRETTY_NAME": "concatenated",
        "EMPTY": "",
        "BARE": "word",
    }
    assert warnings == []


def test_os_release_bad_lines_are_warnings() -> None:
    values, warnings = parse_os_release('ID=x\nnot an assignment\n9KEY=1\nNAME="open\n')
    assert values == {"ID": "x", "NAME": "open"}
    assert warnings == [
        "line 2 is not a KEY=value assignment: 'not an assignment'",
        "line 3 is not a KEY=value assignment: '9KEY=1'",
        'line 4: unterminated " quote',
    ]


def test_os_release_without_id_is_linux() -> None:
    assert partial("etc/os-release", 'NAME="Linux"\n').id == "linux"


def test_garbage_os_release_is_an_analyzer_error() -> None:
    with pytest.raises(AnalyzerError):
        analyzer.analyze("etc/os-release", b"\x7fELF\x02\x01\x01 binary")


def test_empty_release_files_say_nothing() -> None:
    for path in ("etc/os-release", "etc/alpine-release", "etc/debian_version"):
        assert analyzer.analyze(path, b"").distro is None


def test_unrecognised_debian_version_is_a_warning() -> None:
    result = analyzer.analyze("etc/debian_version", b"kali-rolling\n")
    assert result.distro is None
    assert result.warnings == ("unrecognised release string 'kali-rolling'; ignored",)


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("etc/os-release", True),
        ("usr/lib/os-release", True),
        ("etc/alpine-release", True),
        ("etc/debian_version", True),
        ("/etc/os-release", False),
        ("etc/os-release.d/x", False),
        ("etc/lsb-release", False),
        ("usr/etc/os-release", False),
    ],
)
def test_wants(path: str, wanted: bool) -> None:
    assert analyzer.wants(path) is wanted


def test_os_release_without_id_is_named_by_debian_version() -> None:
    distro = detect(etc_os_release='PRETTY_NAME="Custom"\n', debian_version="bookworm/sid\n")
    assert distro is not None and (distro.id, namespace_of(distro)) == ("debian", "debian:12")
