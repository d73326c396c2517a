"""purls per purl-spec's OS package types."""

from __future__ import annotations

from hullscan.model import Distro, Package, PackageType
from hullscan.purl import purl_for


def test_deb_with_upstream_and_distro() -> None:
    pkg = Package("libssl3", "3.0.11-1~deb12u2", PackageType.DEB, "amd64", "openssl")
    assert purl_for(pkg, Distro("debian", "12")) == (
        "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl"
    )


def test_rpm_epoch_is_a_qualifier_and_module_is_kept() -> None:
    pkg = Package(
        "nginx",
        "1:1.22.1-3.module+el9.2.0+1234+abcdef01",
        PackageType.RPM,
        "x86_64",
        modularity_label="nginx:1.22:9020020230410:abcdef01",
    )
    purl = purl_for(pkg, Distro("rhel", "9.2"))
    assert purl.startswith("pkg:rpm/redhat/nginx@1.22.1-3.module%2Bel9.2.0%2B1234%2Babcdef01?")
    assert "epoch=1" in purl and "distro=rhel-9.2" in purl
    assert "rpmmod=nginx:1.22:9020020230410:abcdef01" in purl


def test_apk_without_distro_has_no_namespace() -> None:
    pkg = Package("musl", "1.2.5-r0", PackageType.APK, "x86_64")
    assert purl_for(pkg, None) == "pkg:apk/musl@1.2.5-r0?arch=x86_64"


def test_language_purls_follow_the_purl_spec() -> None:
    debian = Distro("debian", "12")
    cases = {
        Package("org.apache.logging.log4j:log4j-core", "2.14.1", PackageType.MAVEN): (
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"
        ),
        Package("@babel/core", "7.1.0", PackageType.NPM): "pkg:npm/%40babel/core@7.1.0",
        Package("lodash", "4.17.20", PackageType.NPM): "pkg:npm/lodash@4.17.20",
        Package("golang.org/x/net", "v0.1.0", PackageType.GOLANG): (
            "pkg:golang/golang.org/x/net@v0.1.0"
        ),
        Package("django", "3.2.1", PackageType.PYPI): "pkg:pypi/django@3.2.1",
        Package("laravel/framework", "8.0.0", PackageType.COMPOSER): (
            "pkg:composer/laravel/framework@8.0.0"
        ),
    }
    for pkg, want in cases.items():
        assert purl_for(pkg, debian) == want  # the image's distro is not the package's


def test_language_names_survive_the_purl_round_trip() -> None:
    from packageurl import PackageURL

    from hullscan.purl import join_name

    for kind, name in [
        (PackageType.MAVEN, "org.apache.logging.log4j:log4j-core"),
        (PackageType.NPM, "@babel/core"),
        (PackageType.GOLANG, "golang.org/x/net"),
        (PackageType.COMPOSER, "laravel/framework"),
        (PackageType.PYPI, "django"),
    ]:
        parsed = PackageURL.from_string(purl_for(Package(name, "1.0", kind), None))
        assert join_name(kind, parsed.namespace or "", parsed.name) == name


def test_vendor_ids_read_back_the_os_namespaces() -> None:
    from hullscan.purl import VENDOR_IDS

    assert VENDOR_IDS == {
        "redhat": "rhel",
        "oracle": "ol",
        "amazon": "amzn",
        "suse": "sles",
        "opensuse": "opensuse-leap",
    }
