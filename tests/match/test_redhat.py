"""RedHatMatcher against a DB built from the real Red Hat CSAF samples in ../shared/data.

Installed versions are real NEVRAs: from Red Hat's rpm-manifests of real images
(golden/quay__claircore/rhel/testdata: nodejs on RHEL 9.2 with the nodejs:18 module,
httpd-24 on RHEL 9.5) and from the VEX documents themselves. Expected verdicts follow
quay/claircore's acceptance data (test/acceptance/testdata/*.csv) where it has one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hullscan.db.builder import build_db
from hullscan.db.feeds.redhat import RedHatVexFeed, normalize_evr
from hullscan.db.reader import VulnDB
from hullscan.match.redhat import (
    RedHatMatcher,
    handles,
    installed_version,
    module_stream,
    package_key,
)
from hullscan.model import FixStatus, Package, PackageType, Severity
from hullscan.versions.registry import in_range
from tests.db.helpers import ListFeed, advisory

Compare = Callable[[str, str], int]


@pytest.fixture(scope="module")
def compare_rpm() -> Compare:
    """hullscan.versions.rpm (another engineer's module), imported lazily."""
    module = pytest.importorskip("hullscan.versions.rpm")
    compare: Compare = module.compare_rpm
    return compare


@pytest.fixture(scope="module")
def db(
    tmp_path_factory: pytest.TempPathFactory, shared_data: Path, compare_rpm: Compare
) -> Iterator[VulnDB]:
    acceptance = shared_data / "golden/quay__claircore/test/acceptance/testdata"
    rhsa = shared_data / "advisories/redhat/anchore__vunnel/tests/unit/providers/rhel"
    path = tmp_path_factory.mktemp("db") / "hullscan.db"
    feed = RedHatVexFeed(compare_rpm)
    build_db(path, [(feed, str(acceptance)), (feed, str(rhsa / "test-fixtures/csaf"))])
    with VulnDB.open(path) as opened:
        yield opened


def rpm(
    name: str,
    version: str,
    source: str = "",
    source_version: str = "",
    purl: str = "",
) -> Package:
    """An rpm as the rpm analyzer reports it: SOURCERPM name and version-release, no epoch."""
    return Package(
        name=name,
        version=version,
        type=PackageType.RPM,
        arch="x86_64",
        source_name=source or name,
        source_version=source_version or version.partition(":")[2] or version,
        purl=purl,
    )


def found(
    db: VulnDB, namespace: str, *pkgs: Package, compare: Compare | None = None
) -> set[tuple[str, str, str, str]]:
    findings, warnings = RedHatMatcher(db, compare).match(namespace, pkgs)
    assert warnings == []
    return {(f.vuln_id, f.package.name, f.status.value, f.fixed_version) for f in findings}


class TestRealImages:
    def test_ubi9_nodejs_image(self, db: VulnDB) -> None:
        # nodejs.rpm-manifest.json (RHEL 9.2): openssl-libs 3.0.7-16.el9_2 (epoch 1 in
        # RHEL 9), libbrotli 1.0.9-6.el9, python3-libs 3.9.16-1.el9_2.1 from python3.9
        pkgs = [
            rpm("openssl-libs", "1:3.0.7-16.el9_2", "openssl"),
            rpm("libbrotli", "1.0.9-6.el9", "brotli"),
            rpm("python3-libs", "3.9.16-1.el9_2.1", "python3.9"),
        ]
        assert found(db, "rhel:9", *pkgs) == {
            ("CVE-2024-0727", "openssl-libs", "fixed", "1:3.0.7-27.el9"),
            ("CVE-2026-2673", "openssl-libs", "fix_deferred", ""),
            ("CVE-2025-6176", "libbrotli", "fixed", "1.0.9-9.el9_7"),
            ("CVE-2024-8088", "python3-libs", "fixed", "3.9.19-8.el9"),
            ("CVE-2026-2297", "python3-libs", "fix_deferred", ""),
        }

    def test_ubi9_httpd_image(self, db: VulnDB) -> None:
        # httpd-24_9.5 rpm-manifest: openssl-libs 1:3.2.2-6.el9_5, libbrotli 1.0.9-7.el9_5,
        # python3-libs 3.9.21-1.el9_5. 9.5 is not an EUS minor: the main fix applies.
        pkgs = [
            rpm("openssl-libs", "1:3.2.2-6.el9_5", "openssl"),
            rpm("libbrotli", "1.0.9-7.el9_5", "brotli"),
            rpm("python3-libs", "3.9.21-1.el9_5", "python3.9"),
        ]
        assert found(db, "rhel:9", *pkgs) == {
            ("CVE-2026-2673", "openssl-libs", "fix_deferred", ""),
            ("CVE-2025-6176", "libbrotli", "fixed", "1.0.9-9.el9_7"),
            ("CVE-2026-2297", "python3-libs", "fix_deferred", ""),
        }

    def test_severity_and_namespace(self, db: VulnDB) -> None:
        findings, _ = RedHatMatcher(db).match("rhel:9", [rpm("libbrotli", "1.0.9-6.el9", "brotli")])
        (finding,) = findings
        assert (finding.severity, finding.severity_source) == (Severity.HIGH, "redhat")
        assert finding.namespace == "rhel:9"


class TestVersions:
    def test_epoch_comes_from_the_binary(self, db: VulnDB, compare_rpm: Compare) -> None:
        # SOURCERPM "openssl-3.2.2-6.el9_5.src.rpm" has no epoch; RHEL 9's openssl has 1.
        pkg = rpm("openssl-libs", "1:3.2.2-6.el9_5", "openssl", "3.2.2-6.el9_5")
        assert installed_version(pkg, "1:3.0.7-27.el9") == "1:3.2.2-6.el9_5"
        # the source version alone would look older than the fix: a false positive
        assert compare_rpm(pkg.source_version, "1:3.0.7-27.el9") < 0
        assert ("CVE-2024-0727", "openssl-libs", "fixed", "1:3.0.7-27.el9") not in found(
            db, "rhel:9", pkg
        )

    def test_subpackage_with_its_own_version(self) -> None:
        # nodejs.rpm-manifest.json: perl-Errno 1.30-480.el9 from perl-4:5.32.1-480.el9.src,
        # npm 1:9.5.0-1.18.14.2.3.module+el9.2.0.z+18964+42696395 from nodejs 18.14.2-3...
        errno = rpm("perl-Errno", "1.30-480.el9", "perl", "5.32.1-480.el9")
        assert installed_version(errno, "4:5.32.1-481.el9") == "4:5.32.1-480.el9"
        npm = rpm(
            "npm",
            "1:9.5.0-1.18.14.2.3.module+el9.2.0.z+18964+42696395",
            "nodejs",
            "18.14.2-3.module+el9.2.0.z+18964+42696395",
        )
        assert (
            installed_version(npm, "1:18.18.2-2.module+el9.2.0.z+20408+7cb5fda5")
            == "1:18.14.2-3.module+el9.2.0.z+18964+42696395"
        )

    def test_branch_fix_for_a_minor_stream_build(self, db: VulnDB) -> None:
        # CVE-2024-8088: fixed in 9.4.0.Z (3.9.18-3.el9_4.5) and 9.5.0.GA (3.9.19-8.el9)
        fixed_94 = rpm("python3-libs", "3.9.18-3.el9_4.5", "python3.9")
        assert not [f for f in found(db, "rhel:9", fixed_94) if f[0] == "CVE-2024-8088"]
        older_94 = rpm("python3-libs", "3.9.18-3.el9_4", "python3.9")
        # below its branch's fix: affected, and told about the main stream's fix
        assert ("CVE-2024-8088", "python3-libs", "fixed", "3.9.19-8.el9") in found(
            db, "rhel:9", older_94
        )
        # CVE-2025-6176 brotli: 9.6 EUS build 1.0.9-7.el9_6.1 is the 9.6 fix, 9.4's is
        # 1.0.9-6.el9_4.1; the main fix is 1.0.9-9.el9_7
        eus96 = rpm("libbrotli", "1.0.9-7.el9_6.1", "brotli")
        assert not found(db, "rhel:9", eus96)
        eus94 = rpm("libbrotli", "1.0.9-6.el9_4", "brotli")
        assert found(db, "rhel:9", eus94) == {
            ("CVE-2025-6176", "libbrotli", "fixed", "1.0.9-9.el9_7")
        }

    def test_generic_ranges_stay_conservative(self, db: VulnDB, compare_rpm: Compare) -> None:
        # A matcher that knows nothing of branches reads the ranges as "below any fix":
        # never a miss, at worst the 9.4 build is reported against the 9.5 fix.
        (adv,) = db.advisories("rhel:9", ["python3.9"])["python3.9"][:1]
        assert adv.vuln_id == "CVE-2024-8088"
        assert any(in_range("3.9.18-3.el9_4.5", r, compare_rpm) for r in adv.ranges)
        assert not any(in_range("3.9.19-8.el9", r, compare_rpm) for r in adv.ranges)


class TestModules:
    LABEL = "perl-FCGI:0.78:8100020250529111022:491cfe3d"

    def perl_fcgi(self, version: str, label: str | None = None) -> Package:
        qualifier = f"&rpmmod={label if label is not None else self.LABEL}" if label != "" else ""
        purl = (
            f"pkg:rpm/redhat/perl-FCGI@{version.partition(':')[2]}?arch=x86_64&epoch=1{qualifier}"
        )
        return rpm("perl-FCGI", version, purl=purl)

    def test_module_stream_and_key(self) -> None:
        pkg = self.perl_fcgi("1:0.78-12.module+el8.10.0+23147+95b68fad")
        assert module_stream(pkg) == "perl-FCGI:0.78"
        assert package_key(pkg) == "perl-FCGI:0.78::perl-FCGI"
        assert package_key(rpm("openssl-libs", "1:1.1.1k-12.el8_9", "openssl")) == "openssl"

    def test_older_build_of_the_stream_is_affected(self, db: VulnDB) -> None:
        # claircore acceptance cve-2025-40907.csv: ubi8/perl-526's perl-FCGI is affected,
        # fixed by AppStream-8.10.0.Z.MAIN.EUS:perl-FCGI-1:0.78-12.module+el8.10.0+23147
        # +95b68fad (four contexts of one build: any of them is the fix).
        (hit,) = found(db, "rhel:8", self.perl_fcgi("1:0.78-11.module+el8.8.0+23188+11a20ed6"))
        assert hit[:3] == ("CVE-2025-40907", "perl-FCGI", "fixed")
        assert normalize_evr(hit[3]) == normalize_evr("1:0.78-12.module+el8.10.0+23147+95b68fad")

    def test_fixed_build_of_another_context_is_clean(self, db: VulnDB) -> None:
        # rpm orders +df114ff4 below +20b7d289 (letters before digits): same build though
        for context in ("95b68fad", "20b7d289", "df114ff4", "63faba8d"):
            pkg = self.perl_fcgi(f"1:0.78-12.module+el8.10.0+23147+{context}")
            assert found(db, "rhel:8", pkg) == set()
        # the 8.8 E4S z-stream build is the 8.8 fix
        assert (
            found(db, "rhel:8", self.perl_fcgi("1:0.78-11.module+el8.8.0+23188+11a20ed6.1"))
            == set()
        )

    def test_only_the_same_stream_matches(self, db: VulnDB) -> None:
        old = "1:0.78-11.module+el8.8.0+23188+11a20ed6"
        assert found(db, "rhel:8", self.perl_fcgi(old, label="")) == set()
        other = "perl-FCGI:0.99:8100020250529111022:491cfe3d"
        assert found(db, "rhel:8", self.perl_fcgi(old, label=other)) == set()

    def test_unfixed_module_statement(self, db: VulnDB) -> None:
        # CVE-2026-2297: red_hat_enterprise_linux_8:python36.src::python36:3.6 Fix deferred
        pkg = rpm(
            "python36",
            "3.6.8-39.module+el8.10.0+20784+edafcd43",
            purl="pkg:rpm/redhat/python36?rpmmod=python36:3.6:8100020240119085303:b4937e53",
        )
        assert found(db, "rhel:8", pkg) == {("CVE-2026-2297", "python36", "fix_deferred", "")}


class TestScope:
    def test_handles(self) -> None:
        assert handles("rhel:9")
        assert not handles("debian:12")

    def test_non_rpm_packages_are_ignored(self, db: VulnDB) -> None:
        deb = Package(name="openssl", version="3.0.7-1", type=PackageType.DEB)
        assert RedHatMatcher(db).match("rhel:9", [deb]) == ([], [])

    def test_missing_namespace_warns(self, db: VulnDB) -> None:
        findings, warnings = RedHatMatcher(db).match("rhel:5", [rpm("openssl", "0.9.8e-40.el5")])
        assert findings == []
        assert warnings == [
            "the vulnerability DB has no advisories for rhel:5; is the redhat feed built?"
        ]

    def test_kernel_headers_are_not_matched_to_kernel_cves(
        self, tmp_path: Path, compare_rpm: Compare
    ) -> None:
        kernel = advisory(
            "kernel",
            "CVE-2024-26600",
            "rhel:9",
            ranges=(),
            status=FixStatus.FIX_DEFERRED,
            fixed_version="",
        )
        (tmp_path / "unused").write_text("{}")  # ListFeed yields its records, reads nothing
        build_db(tmp_path / "k.db", [(ListFeed([kernel], name="redhat"), str(tmp_path / "unused"))])
        with VulnDB.open(tmp_path / "k.db") as kdb:
            headers = rpm("kernel-headers", "5.14.0-427.13.1.el9_4", "kernel")
            tools = rpm("kernel-tools-libs", "5.14.0-427.13.1.el9_4", "kernel")
            assert found(kdb, "rhel:9", headers, tools, compare=compare_rpm) == {
                ("CVE-2024-26600", "kernel-tools-libs", "fix_deferred", "")
            }
