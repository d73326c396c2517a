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
from hullscan.distros import advisory_namespaces, namespace_of
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


def test_centos_8_is_covered_by_rhel(shared_data: Path) -> None:
    path = shared_data / GRYPE / "image-centos-match-coverage/etc/os-release"
    distro = detect(etc_os_release=path.read_bytes())
    assert distro == Distro(id="centos", version_id="8", pretty_name="CentOS Linux 8 (Core)")
    assert namespace_of(distro) == "centos:8"
    assert advisory_namespaces(distro) == ["rhel:8"]


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


# --- Ubuntu, Amazon Linux, Wolfi/Chainguard and the Red Hat family ---------------------
# The os-release and *-release files below are what the images ship (ubuntu:24.04,
# amazonlinux:2/2023/2018.03, cgr.dev/chainguard/wolfi-base, ubi9, centos:7/6,
# quay.io/centos/centos:stream9, rockylinux:9, almalinux:8, oraclelinux:8/6), verbatim
# up to the lines hullscan does not read.

AMAZON_2_OS_RELEASE = """\
NAME="Amazon Linux"
VERSION="2"
ID="amzn"
ID_LIKE="centos rhel fedora"
VERSION_ID="2"
PRETTY_NAME="Amazon Linux 2"
ANSI_COLOR="0;33"
CPE_NAME="cpe:2.3:o:amazon:amazon_linux:2"
HOME_URL="https://amazonlinux.com/"
SUPPORT_END="2026-06-30"
"""
AMAZON_2023_OS_RELEASE = """\
NAME="Amazon Linux"
VERSION="2023"
ID="amzn"
ID_LIKE="fedora"
VERSION_ID="2023"
PLATFORM_ID="platform:al2023"
PRETTY_NAME="Amazon Linux 2023.6.20250218"
ANSI_COLOR="0;33"
CPE_NAME="cpe:2.3:o:amazon:amazon_linux:2023"
HOME_URL="https://aws.amazon.com/linux/amazon-linux-2023/"
SUPPORT_END="2029-06-30"
"""
AMAZON_1_OS_RELEASE = """\
NAME="Amazon Linux AMI"
VERSION="2018.03"
ID="amzn"
ID_LIKE="rhel fedora"
VERSION_ID="2018.03"
PRETTY_NAME="Amazon Linux AMI 2018.03"
ANSI_COLOR="0;33"
CPE_NAME="cpe:/o:amazon:linux:2018.03:ga"
HOME_URL="http://aws.amazon.com/amazon-linux-ami/"
"""
WOLFI_OS_RELEASE = """\
ID=wolfi
NAME="Wolfi"
PRETTY_NAME="Wolfi"
VERSION_ID="20230201"
HOME_URL="https://wolfi.dev"
"""
CHAINGUARD_OS_RELEASE = """\
ID=chainguard
NAME="Chainguard"
PRETTY_NAME="Chainguard"
VERSION_ID="20230214"
HOME_URL="https://chainguard.dev/"
"""
UBI_9_OS_RELEASE = """\
NAME="Red Hat Enterprise Linux"
VERSION="9.3 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Red Hat Enterprise Linux 9.3 (Plow)"
ANSI_COLOR="0;31"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:redhat:enterprise_linux:9::baseos"
HOME_URL="https://www.redhat.com/"
REDHAT_SUPPORT_PRODUCT="Red Hat Enterprise Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.3"
"""
CENTOS_7_OS_RELEASE = """\
NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="7"
PRETTY_NAME="CentOS Linux 7 (Core)"
ANSI_COLOR="0;31"
CPE_NAME="cpe:/o:centos:centos:7"
HOME_URL="https://www.centos.org/"
BUG_REPORT_URL="https://bugs.centos.org/"
"""
CENTOS_STREAM_9_OS_RELEASE = """\
NAME="CentOS Stream"
VERSION="9"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="9"
PLATFORM_ID="platform:el9"
PRETTY_NAME="CentOS Stream 9"
ANSI_COLOR="0;31"
CPE_NAME="cpe:/o:centos:centos:9"
HOME_URL="https://centos.org/"
"""
ROCKY_9_OS_RELEASE = """\
NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"
ANSI_COLOR="0;32"
CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
HOME_URL="https://rockylinux.org/"
"""
ALMA_8_OS_RELEASE = """\
NAME="AlmaLinux"
VERSION="8.9 (Midnight Oncilla)"
ID="almalinux"
ID_LIKE="rhel centos fedora"
VERSION_ID="8.9"
PLATFORM_ID="platform:el8"
PRETTY_NAME="AlmaLinux 8.9 (Midnight Oncilla)"
ANSI_COLOR="0;34"
CPE_NAME="cpe:/o:almalinux:almalinux:8::baseos"
HOME_URL="https://almalinux.org/"
"""
ORACLE_8_OS_RELEASE = """\
NAME="Oracle Linux Server"
VERSION="8.9"
ID="ol"
ID_LIKE="fedora"
VARIANT="Server"
VARIANT_ID="server"
VERSION_ID="8.9"
PLATFORM_ID="platform:el8"
PRETTY_NAME="Oracle Linux Server 8.9"
ANSI_COLOR="0;31"
CPE_NAME="cpe:/o:oracle:linux:8:9:server"
HOME_URL="https://linux.oracle.com/"
"""


def detect_files(files: dict[str, str]) -> Distro | None:
    """detect_distro over analyzer output for any release-file paths."""
    return detect_distro({path: partial(path, text) for path, text in files.items()})


def test_ubuntu_namespace_by_version_and_by_codename() -> None:
    distro = detect(etc_os_release=UBUNTU_2204_OS_RELEASE, debian_version="bookworm/sid\n")
    assert distro is not None and namespace_of(distro) == "ubuntu:22.04"
    only_codename = detect(etc_os_release="ID=ubuntu\nVERSION_CODENAME=noble\n")
    assert only_codename == Distro(id="ubuntu", codename="noble")
    assert namespace_of(only_codename) == "ubuntu:24.04"


@pytest.mark.parametrize(
    ("files", "want", "namespace"),
    [
        (
            {
                "etc/os-release": AMAZON_2_OS_RELEASE,
                "etc/system-release": "Amazon Linux release 2 (Karoo)\n",
            },
            Distro(id="amzn", version_id="2", pretty_name="Amazon Linux 2"),
            "amazon:2",
        ),
        (
            {"etc/os-release": AMAZON_2023_OS_RELEASE},
            Distro(id="amzn", version_id="2023", pretty_name="Amazon Linux 2023.6.20250218"),
            "amazon:2023",
        ),
        (
            {"etc/os-release": AMAZON_1_OS_RELEASE},
            Distro(id="amzn", version_id="2018.03", pretty_name="Amazon Linux AMI 2018.03"),
            "amazon:1",
        ),
        (
            {"etc/system-release": "Amazon Linux release 2023.6.20241010 (Amazon Linux)\n"},
            Distro(
                id="amzn",
                version_id="2023",
                pretty_name="Amazon Linux release 2023.6.20241010 (Amazon Linux)",
            ),
            "amazon:2023",
        ),
        (
            {"etc/system-release": "Amazon Linux AMI release 2018.03\n"},
            Distro(id="amzn", version_id="2018.03", pretty_name="Amazon Linux AMI release 2018.03"),
            "amazon:1",
        ),
    ],
)
def test_amazon_linux(files: dict[str, str], want: Distro, namespace: str) -> None:
    distro = detect_files(files)
    assert distro == want
    assert namespace_of(want) == namespace
    assert advisory_namespaces(want) == [namespace]


@pytest.mark.parametrize(
    ("text", "namespace"),
    [(WOLFI_OS_RELEASE, "wolfi:rolling"), (CHAINGUARD_OS_RELEASE, "chainguard:rolling")],
)
def test_wolfi_and_chainguard(text: str, namespace: str) -> None:
    distro = detect(etc_os_release=text)
    assert distro is not None and distro.version_id.startswith("2023")
    assert namespace_of(distro) == namespace


@pytest.mark.parametrize(
    ("files", "want", "namespaces"),
    [
        (
            {
                "etc/os-release": UBI_9_OS_RELEASE,
                "etc/redhat-release": "Red Hat Enterprise Linux release 9.3 (Plow)\n",
            },
            Distro(id="rhel", version_id="9.3", pretty_name="Red Hat Enterprise Linux 9.3 (Plow)"),
            ["rhel:9"],
        ),
        (
            {
                "etc/os-release": CENTOS_7_OS_RELEASE,
                "etc/centos-release": "CentOS Linux release 7.9.2009 (Core)\n",
            },
            Distro(id="centos", version_id="7", pretty_name="CentOS Linux 7 (Core)"),
            ["rhel:7"],
        ),
        (
            {"etc/os-release": CENTOS_STREAM_9_OS_RELEASE},
            Distro(id="centos", version_id="9", pretty_name="CentOS Stream 9", channel="stream"),
            ["rhel:9"],
        ),
        (
            {"etc/os-release": ROCKY_9_OS_RELEASE},
            Distro(id="rocky", version_id="9.3", pretty_name="Rocky Linux 9.3 (Blue Onyx)"),
            ["rhel:9"],
        ),
        (
            {"etc/os-release": ALMA_8_OS_RELEASE},
            Distro(
                id="almalinux", version_id="8.9", pretty_name="AlmaLinux 8.9 (Midnight Oncilla)"
            ),
            ["rhel:8"],
        ),
        (
            # Oracle Linux's /etc/redhat-release claims RHEL; os-release decides
            {
                "etc/os-release": ORACLE_8_OS_RELEASE,
                "etc/redhat-release": "Red Hat Enterprise Linux release 8.9 (Ootpa)\n",
            },
            Distro(id="ol", version_id="8.9", pretty_name="Oracle Linux Server 8.9"),
            ["oracle:8", "rhel:8"],
        ),
    ],
)
def test_red_hat_family(files: dict[str, str], want: Distro, namespaces: list[str]) -> None:
    distro = detect_files(files)
    assert distro == want
    assert advisory_namespaces(want) == namespaces


def test_centos_6_without_os_release() -> None:
    """CentOS 6 predates os-release; centos-release and redhat-release say the same."""
    line = "CentOS release 6.10 (Final)\n"
    distro = detect_files({"etc/centos-release": line, "etc/redhat-release": line})
    assert distro == Distro(
        id="centos", version_id="6.10", pretty_name="CentOS release 6.10 (Final)"
    )
    assert (namespace_of(distro), advisory_namespaces(distro)) == ("centos:6", ["rhel:6"])


def test_oracle_6_without_os_release_is_not_rhel() -> None:
    distro = detect_files(
        {
            "etc/redhat-release": "Red Hat Enterprise Linux Server release 6.10 (Santiago)\n",
            "etc/oracle-release": "Oracle Linux Server release 6.10\n",
            "etc/system-release": "Oracle Linux Server release 6.10\n",
        }
    )
    assert distro is not None and (distro.id, distro.version_id) == ("ol", "6.10")
    assert advisory_namespaces(distro) == ["oracle:6", "rhel:6"]


def test_rhel_7_redhat_release_alone() -> None:
    distro = detect_files(
        {"etc/redhat-release": "Red Hat Enterprise Linux Server release 7.9 (Maipo)\n"}
    )
    assert distro is not None and (distro.id, namespace_of(distro)) == ("rhel", "rhel:7")


def test_centos_stream_release_file() -> None:
    distro = detect_files({"etc/centos-release": "CentOS Stream release 8\n"})
    assert distro == Distro(
        id="centos", version_id="8", pretty_name="CentOS Stream release 8", channel="stream"
    )


def test_unrecognised_redhat_style_file_is_a_warning() -> None:
    result = analyzer.analyze("etc/system-release", b"Custom Appliance OS 4\n")
    assert result.distro is None
    assert result.warnings == ("unrecognised release string 'Custom Appliance OS 4'; ignored",)


def test_alpine_edge_snapshot_2024() -> None:
    text = ALPINE_EDGE_OS_RELEASE.replace("3.20.0_alpha20240329", "3.21.0_alpha20240807")
    distro = detect(etc_os_release=text, alpine_release="3.21.0_alpha20240807\n")
    assert distro is not None and (distro.channel, namespace_of(distro)) == ("edge", "alpine:edge")
    assert namespace_of(detect(alpine_release="edge\n") or Distro(id="x")) == "alpine:edge"


@pytest.mark.parametrize(
    "path",
    [
        "etc/redhat-release",
        "etc/centos-release",
        "etc/system-release",
        "etc/oracle-release",
        "etc/rocky-release",
        "etc/almalinux-release",
    ],
)
def test_wants_red_hat_style_files(path: str) -> None:
    assert analyzer.wants(path)
    assert OsReleaseAnalyzer.version == 2  # bumped with these files: cached results are stale
