"""RedHatVexFeed on the real Red Hat CSAF samples in ../shared/data (see its README.md).

- quay/claircore test/acceptance/testdata/*.json: full per-CVE VEX documents (openssl,
  perl-FCGI modules, brotli, libssh, python, golang) plus small synthetic non-rpm ones.
- quay/claircore rhel/vex/testdata and toolkit/types/csaf/testdata: VEX (samba, kernel,
  OpenShift cri-tools) and one RHSA (telnet on RHEL 7.6 AUS/E4S/TUS only).
- anchore/vunnel rhel test-fixtures/csaf: RHSA documents (python3.9, tigervnc).
- anchore/vunnel's security-data API JSON and vuln-list-update's OVAL streams are not
  CSAF: the feed must refuse them with a message that says what to use instead.
"""

from __future__ import annotations

import copy
import io
import json
import re
import tarfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zstandard

from hullscan.db.builder import build_db
from hullscan.db.feeds.redhat import (
    VEX_ARCHIVE_POINTER,
    Kind,
    RedHatVexFeed,
    Statement,
    Tier,
    branch_of,
    newest,
    normalize_evr,
    platform_of,
    resolve,
    severity_of,
    unfixed_status,
)
from hullscan.db.feeds.registry import get_feed
from hullscan.db.reader import VulnDB
from hullscan.errors import FeedError
from hullscan.model import Advisory, AffectedRange, FixStatus, Severity, Vulnerability

Key = tuple[str, str, str]


@pytest.fixture(scope="session")
def compare_rpm() -> Callable[[str, str], int]:
    """hullscan.versions.rpm (another engineer's module), imported lazily."""
    module = pytest.importorskip("hullscan.versions.rpm")
    compare: Callable[[str, str], int] = module.compare_rpm
    return compare


@pytest.fixture(scope="session")
def acceptance_dir(shared_data: Path) -> Path:
    return shared_data / "golden/quay__claircore/test/acceptance/testdata"


@pytest.fixture(scope="session")
def redhat_dir(shared_data: Path) -> Path:
    return shared_data / "advisories/redhat"


@pytest.fixture(scope="session")
def vunnel_csaf(redhat_dir: Path) -> list[Path]:
    base = redhat_dir / "anchore__vunnel/tests/unit/providers/rhel/test-fixtures/csaf"
    return sorted(base.glob("*/2024/*.json"))


@pytest.fixture(scope="session")
def claircore_docs(redhat_dir: Path) -> list[Path]:
    base = redhat_dir / "quay__claircore"
    return sorted(
        [*base.glob("rhel/vex/testdata/*.json"), *base.glob("toolkit/types/csaf/testdata/*.json")]
    )


@pytest.fixture(scope="session")
def all_samples(
    acceptance_dir: Path, vunnel_csaf: list[Path], claircore_docs: list[Path]
) -> list[Path]:
    return [*sorted(acceptance_dir.glob("*.json")), *claircore_docs, *vunnel_csaf]


def parse(
    files: list[Path], compare: Callable[[str, str], int] | None = None
) -> tuple[dict[Key, Advisory], dict[str, Vulnerability]]:
    advisories: dict[Key, Advisory] = {}
    vulns: dict[str, Vulnerability] = {}
    for record in RedHatVexFeed(compare).parse(files):
        if isinstance(record, Advisory):
            key = (record.namespace, record.package, record.vuln_id)
            assert key not in advisories, f"duplicate {key}"
            advisories[key] = record
        else:
            assert record.id not in vulns
            vulns[record.id] = record
    return advisories, vulns


@pytest.fixture(scope="session")
def parsed(
    all_samples: list[Path], compare_rpm: Callable[[str, str], int]
) -> tuple[dict[Key, Advisory], dict[str, Vulnerability]]:
    return parse(all_samples, compare_rpm)


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


class TestRealDocuments:
    def test_namespace_counts(self, parsed: tuple[dict[Key, Advisory], Any]) -> None:
        advisories, _ = parsed
        assert Counter(ns for ns, _, _ in advisories) == {
            "rhel:6": 4,
            "rhel:7": 6,
            "rhel:8": 47,
            "rhel:9": 18,
            "rhel:10": 8,
        }
        assert {a.source for a in advisories.values()} == {"redhat"}

    def test_fixed_in_main_stream_with_epoch(self, parsed: tuple[dict[Key, Advisory], Any]) -> None:
        # CVE-2024-0727: AppStream/BaseOS-9.4.0.GA:openssl-1:3.0.7-27.el9.src, impact Low
        adv = parsed[0][("rhel:9", "openssl", "CVE-2024-0727")]
        assert adv == Advisory(
            namespace="rhel:9",
            package="openssl",
            vuln_id="CVE-2024-0727",
            ranges=(AffectedRange(fixed="1:3.0.7-27.el9"),),
            status=FixStatus.FIXED,
            fixed_version="1:3.0.7-27.el9",
            severity=Severity.LOW,
            severity_source="redhat",
            source="redhat",
        )

    def test_unfixed_states(self, parsed: tuple[dict[Key, Advisory], Any]) -> None:
        advisories, _ = parsed

        def status(ns: str, package: str, cve: str) -> FixStatus:
            adv = advisories[(ns, package, cve)]
            assert adv.fixed_version == ""
            assert adv.ranges[0] == AffectedRange()
            return adv.status

        # CVE-2024-0727 remediations: none_available "Fix deferred", no_fix_planned
        # "Will not fix" (edk2 on RHEL 8), no_fix_planned "Out of support scope" (RHEL 6/7)
        assert status("rhel:8", "openssl", "CVE-2024-0727") is FixStatus.FIX_DEFERRED
        assert status("rhel:8", "compat-openssl10", "CVE-2024-0727") is FixStatus.FIX_DEFERRED
        assert status("rhel:8", "edk2", "CVE-2024-0727") is FixStatus.WILL_NOT_FIX
        assert status("rhel:7", "openssl", "CVE-2024-0727") is FixStatus.END_OF_LIFE
        assert status("rhel:6", "openssl", "CVE-2024-0727") is FixStatus.END_OF_LIFE
        # CVE-2026-0968: none_available "Affected" (RHEL 9, 10), "Fix deferred" (RHEL 8)
        assert status("rhel:9", "libssh", "CVE-2026-0968") is FixStatus.AFFECTED
        assert status("rhel:10", "libssh", "CVE-2026-0968") is FixStatus.AFFECTED
        assert status("rhel:8", "libssh", "CVE-2026-0968") is FixStatus.FIX_DEFERRED
        assert advisories[("rhel:8", "libssh", "CVE-2026-0968")].severity is Severity.LOW

    def test_not_affected_emits_nothing(self, parsed: tuple[dict[Key, Advisory], Any]) -> None:
        advisories, vulns = parsed
        # known_not_affected: openssl-fips-provider (CVE-2024-0727), libssh2 (CVE-2026-0968),
        # samba everywhere (CVE-2023-4154), kernel (CVE-2021-0084)
        packages = {(ns, pkg) for ns, pkg, _ in advisories}
        assert ("rhel:9", "openssl-fips-provider") not in {
            (ns, pkg) for ns, pkg, cve in advisories if cve == "CVE-2024-0727"
        }
        assert not [p for p in packages if p[1] in ("libssh2", "samba", "samba4", "kernel")]
        # nothing to report, nothing to describe (other feeds describe these CVEs)
        assert "CVE-2023-4154" not in vulns
        assert "CVE-2021-0084" not in vulns

    def test_source_packages_only(self, parsed: tuple[dict[Key, Advisory], Any]) -> None:
        # CVE-2024-0727 lists openssl-devel, openssl-perl... for RHEL 8: keyed by openssl.src
        packages = {pkg for _, pkg, cve in parsed[0] if cve == "CVE-2024-0727"}
        assert packages == {"openssl", "compat-openssl10", "compat-openssl11", "edk2"}

    def test_modular_stream(self, parsed: tuple[dict[Key, Advisory], Any]) -> None:
        advisories, _ = parsed
        # CVE-2025-40907: AppStream-8.10.0.Z.MAIN.EUS:perl-FCGI-1:0.78-12.module+el8.10.0
        # +23147+<context>.src::perl-FCGI:0.78, four contexts, plus AUS/E4S/TUS builds
        adv = advisories[("rhel:8", "perl-FCGI:0.78::perl-FCGI", "CVE-2025-40907")]
        assert adv.status is FixStatus.FIXED
        assert normalize_evr(adv.fixed_version) == "1:0.78-12.module+el8.10.0+23147"
        assert adv.severity is Severity.HIGH
        # one range per build, contexts collapsed: 8.2, 8.4 (two builds), 8.6, 8.8, 8.10
        assert [normalize_evr(r.fixed or "") for r in adv.ranges] == [
            "1:0.78-11.module+el8.2.0+23234.1",
            "1:0.78-11.module+el8.4.0+23209.1",
            "1:0.78-11.module+el8.4.0+23229.1",
            "1:0.78-11.module+el8.6.0+23193.1",
            "1:0.78-11.module+el8.8.0+23188.1",
            "1:0.78-12.module+el8.10.0+23147",
        ]
        # never under the plain name in RHEL 8: a non-modular perl-FCGI must not match it
        assert ("rhel:8", "perl-FCGI", "CVE-2025-40907") not in advisories
        # unfixed module statements carry the stream only (rpmmod=python36:3.6)
        python36 = advisories[("rhel:8", "python36:3.6::python36", "CVE-2026-2297")]
        assert python36.status is FixStatus.FIX_DEFERRED
        golang = advisories[("rhel:8", "go-toolset:rhel8::golang", "CVE-2026-27142")]
        assert golang.status is FixStatus.FIX_DEFERRED
        assert golang.severity is Severity.MEDIUM

    def test_pinned_streams_only_add_branch_ranges(
        self, parsed: tuple[dict[Key, Advisory], Any]
    ) -> None:
        # CVE-2025-6176 brotli on RHEL 9: main 9.7.0.Z.MAIN 1.0.9-9.el9_7; EUS/E4S 9.0..9.6
        adv = parsed[0][("rhel:9", "brotli", "CVE-2025-6176")]
        assert adv.fixed_version == "1.0.9-9.el9_7"
        assert [r.fixed for r in adv.ranges] == [
            "1.0.9-6.el9_0.1",
            "1.0.9-6.el9_2.1",
            "1.0.9-6.el9_4.1",
            "1.0.9-7.el9_6.1",
            "1.0.9-9.el9_7",
        ]
        # RHEL 10: main AppStream-10.1.Z (cpe enterprise_linux:10.1), EUS 10.0 (E2S)
        assert parsed[0][("rhel:10", "brotli", "CVE-2025-6176")].fixed_version == "1.1.0-7.el10_1"
        # telnet RHSA-2022:0011 only covers RHEL 7.6 AUS/E4S/TUS: never decides alone
        assert not [k for k in parsed[0] if k[2] == "CVE-2020-10188"]

    def test_extended_life_counts_where_main_has_nothing(
        self, parsed: tuple[dict[Key, Advisory], Any]
    ) -> None:
        # CVE-2025-40907 on RHEL 7: only 7Server-ELS (cpe:/o:redhat:rhel_els:7) has a fix
        adv = parsed[0][("rhel:7", "perl-FCGI", "CVE-2025-40907")]
        assert (adv.status, adv.fixed_version) == (FixStatus.FIXED, "1:0.74-8.el7_9.1")

    def test_layered_products_are_not_rhel(self, parsed: tuple[dict[Key, Advisory], Any]) -> None:
        # CVE-2025-6176: Satellite/Ansible python-brotli, OpenShift rhcos, Ceph containers;
        # CVE-2024-24786: OpenShift cri-tools; Hardened Images golang1.25
        packages = {pkg for _, pkg, _ in parsed[0]}
        for layered in ("python-brotli", "python3x-brotli", "cri-tools", "golang1.25"):
            assert layered not in packages
        assert not [k for k in parsed[0] if k[2] in ("CVE-2024-24786", "CVE-2026-123")]

    def test_security_advisories_add_fixes(self, parsed: tuple[dict[Key, Advisory], Any]) -> None:
        advisories, vulns = parsed
        # CVE-2024-8088: RHSA-2024:6163 (9.4.0.Z.MAIN.EUS) and RHSA-2024:9371 (9.5.0.GA)
        adv = advisories[("rhel:9", "python3.9", "CVE-2024-8088")]
        assert adv.fixed_version == "3.9.19-8.el9"
        assert [r.fixed for r in adv.ranges] == ["3.9.18-3.el9_4.5", "3.9.19-8.el9"]
        assert adv.severity is Severity.MEDIUM  # aggregate "Moderate": no per-product threat
        for cve in ("CVE-2023-5367", "CVE-2023-6377", "CVE-2023-6478"):
            tigervnc = advisories[("rhel:9", "tigervnc", cve)]
            assert tigervnc.fixed_version == "1.13.1-3.el9_3.3"
            assert tigervnc.severity is Severity.HIGH
        assert (
            vulns["CVE-2024-8088"].urls[0] == "https://access.redhat.com/security/cve/CVE-2024-8088"
        )

    def test_vulnerabilities(self, parsed: tuple[Any, dict[str, Vulnerability]]) -> None:
        vulns = parsed[1]
        assert set(vulns) == {cve for _, _, cve in parsed[0]}
        openssl = vulns["CVE-2024-0727"]
        assert openssl.description.startswith("A flaw was found in OpenSSL. The optional Conte")
        assert openssl.urls == (
            "https://access.redhat.com/security/cve/CVE-2024-0727",
            "https://security.access.redhat.com/data/csaf/v2/vex/2024/cve-2024-0727.json",
        )

    def test_every_sample_builds_a_db(
        self, tmp_path: Path, all_samples: list[Path], parsed: tuple[dict[Key, Advisory], Any]
    ) -> None:
        info = build_db(
            tmp_path / "hullscan.db", [(get_feed("redhat"), str(p)) for p in all_samples]
        )
        assert info.sources[0].name == "redhat"
        assert info.sources[0].advisories == len(parsed[0])
        with VulnDB.open(tmp_path / "hullscan.db") as db:
            found = db.advisories("rhel:9", ["openssl", "brotli"])
            assert {a.vuln_id for a in found["brotli"]} == {"CVE-2025-6176"}


def test_nested_module_relationship(tmp_path: Path) -> None:
    """The older layout: rpm -> module product -> platform (vunnel's product_id docstring)."""
    module_id = "ruby:2.7:8080020230427102918:63b34585"
    rpm_id = "ruby-0:2.7.8-139.module+el8.8.0+18745+f1bef313.src"
    in_platform = f"AppStream-8.8.0.Z.MAIN.EUS:{module_id}"
    full = f"{in_platform}:{rpm_id}"
    doc = {
        "document": {"category": "csaf_vex", "tracking": {"id": "CVE-2023-28755"}},
        "product_tree": {
            "branches": [
                {
                    "category": "vendor",
                    "name": "Red Hat",
                    "branches": [
                        {
                            "category": "product_name",
                            "name": "Red Hat Enterprise Linux AppStream (v. 8)",
                            "product": {
                                "name": "Red Hat Enterprise Linux AppStream (v. 8)",
                                "product_id": "AppStream-8.8.0.Z.MAIN.EUS",
                                "product_identification_helper": {
                                    "cpe": "cpe:/a:redhat:enterprise_linux:8::appstream"
                                },
                            },
                        },
                        {
                            "category": "product_version",
                            "name": module_id,
                            "product": {
                                "name": module_id,
                                "product_id": module_id,
                                "product_identification_helper": {
                                    "purl": f"pkg:rpmmod/redhat/ruby@{module_id[5:]}"
                                },
                            },
                        },
                        {
                            "category": "product_version",
                            "name": rpm_id,
                            "product": {
                                "name": rpm_id,
                                "product_id": rpm_id,
                                "product_identification_helper": {
                                    "purl": "pkg:rpm/redhat/ruby@2.7.8-139.module%2Bel8.8.0"
                                    "%2B18745%2Bf1bef313?arch=src"
                                },
                            },
                        },
                    ],
                }
            ],
            "relationships": [
                {
                    "category": "default_component_of",
                    "full_product_name": {"name": "m", "product_id": in_platform},
                    "product_reference": module_id,
                    "relates_to_product_reference": "AppStream-8.8.0.Z.MAIN.EUS",
                },
                {
                    "category": "default_component_of",
                    "full_product_name": {"name": "r", "product_id": full},
                    "product_reference": rpm_id,
                    "relates_to_product_reference": in_platform,
                },
            ],
        },
        "vulnerabilities": [
            {
                "cve": "CVE-2023-28755",
                "product_status": {"fixed": [full]},
                "threats": [{"category": "impact", "details": "Moderate", "product_ids": [full]}],
            }
        ],
    }
    advisories, _ = parse([write(tmp_path / "ruby.json", doc)])
    assert list(advisories) == [("rhel:8", "ruby:2.7::ruby", "CVE-2023-28755")]
    adv = advisories[("rhel:8", "ruby:2.7::ruby", "CVE-2023-28755")]
    assert adv.fixed_version == "2.7.8-139.module+el8.8.0+18745+f1bef313"
    assert adv.severity is Severity.MEDIUM


class TestArchive:
    @staticmethod
    def archive(path: Path, members: dict[str, bytes], *, compress: bool = True) -> Path:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for name, blob in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
        data = buffer.getvalue()
        path.write_bytes(zstandard.ZstdCompressor().compress(data) if compress else data)
        return path

    def test_archive_equals_loose_files(
        self, tmp_path: Path, acceptance_dir: Path, compare_rpm: Callable[[str, str], int]
    ) -> None:
        files = sorted(acceptance_dir.glob("cve-202[45]-*.json"))
        members = {f"{p.name[4:8]}/{p.name}": p.read_bytes() for p in files}
        members["index.txt"] = b"not json, skipped"
        packed = self.archive(tmp_path / "csaf_vex_2026-03-01.tar.zst", members)
        assert parse([packed], compare_rpm) == parse(files, compare_rpm)
        plain = self.archive(tmp_path / "vex.tar", members, compress=False)
        assert parse([plain], compare_rpm) == parse(files, compare_rpm)

    def test_directory_of_documents(self, tmp_path: Path, acceptance_dir: Path) -> None:
        info = build_db(tmp_path / "db", [(get_feed("redhat"), str(acceptance_dir))])
        assert info.sources[0].advisories == 79

    def test_truncated_archive(self, tmp_path: Path, acceptance_dir: Path) -> None:
        files = sorted(acceptance_dir.glob("cve-2024-*.json"))
        packed = self.archive(tmp_path / "vex.tar.zst", {p.name: p.read_bytes() for p in files})
        packed.write_bytes(packed.read_bytes()[: packed.stat().st_size // 2])
        with pytest.raises(FeedError, match=r"redhat feed: .*vex\.tar\.zst: damaged archive"):
            list(RedHatVexFeed().parse([packed]))

    def test_bad_member_names_archive_and_member(self, tmp_path: Path) -> None:
        packed = self.archive(tmp_path / "vex.tar.zst", {"2024/cve-2024-0001.json": b'{"doc'})
        with pytest.raises(
            FeedError, match=r"vex\.tar\.zst: 2024/cve-2024-0001\.json: invalid JSON at line 1"
        ):
            list(RedHatVexFeed().parse([packed]))


class TestDocumentPrecedence:
    def test_newest_vex_document_wins(self, tmp_path: Path, acceptance_dir: Path) -> None:
        doc = load(acceptance_dir / "cve-2026-0968.json")
        older = copy.deepcopy(doc)
        older["document"]["tracking"]["current_release_date"] = "2020-01-01T00:00:00+00:00"
        # the older copy claims a fix was never needed anywhere
        status = older["vulnerabilities"][0]["product_status"]
        status["known_not_affected"] = status.pop("known_affected") + status["known_not_affected"]
        new_path = write(tmp_path / "new.json", doc)
        old_path = write(tmp_path / "old.json", older)
        for order in ([new_path, old_path], [old_path, new_path]):
            advisories, _ = parse(order)
            assert advisories[("rhel:9", "libssh", "CVE-2026-0968")].status is FixStatus.AFFECTED
        assert parse([old_path])[0] == {}

    def test_deleted_document_removes_the_cve(self, tmp_path: Path, acceptance_dir: Path) -> None:
        doc = load(acceptance_dir / "cve-2026-0968.json")
        deleted = {
            "document": {
                "category": "csaf_vex",
                "tracking": {
                    "id": "CVE-2026-0968",
                    "status": "deleted",
                    "current_release_date": "2099-01-01T00:00:00+00:00",
                },
            }
        }
        advisories, vulns = parse(
            [write(tmp_path / "a.json", doc), write(tmp_path / "b.json", deleted)]
        )
        assert advisories == {}
        assert "CVE-2026-0968" not in vulns


class TestMalformed:
    def test_truncated_json_names_the_file(self, tmp_path: Path, acceptance_dir: Path) -> None:
        text = (acceptance_dir / "cve-2026-0968.json").read_text()
        path = tmp_path / "cve-2026-0968.json"
        path.write_text(text[: len(text) // 2])
        with pytest.raises(FeedError, match=r"redhat feed: .*cve-2026-0968\.json: invalid JSON"):
            list(RedHatVexFeed().parse([path]))

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            ([], "expected a CSAF JSON object, got a list"),
            ({"foo": 1}, "no 'document' object"),
            ({"document": {"category": "csaf_vex"}}, "no document.tracking.id"),
            (
                {"document": {"category": "csaf_base", "tracking": {"id": "X-1"}}},
                "X-1: document category 'csaf_base' is neither",
            ),
            (
                {
                    "document": {"category": "csaf_vex", "tracking": {"id": "CVE-1"}},
                    "vulnerabilities": {"cve": "CVE-1"},
                },
                "CVE-1: vulnerabilities is an object",
            ),
            (
                {
                    "document": {"category": "csaf_vex", "tracking": {"id": "CVE-1"}},
                    "vulnerabilities": [{"cve": "CVE-1", "product_status": {"fixd": []}}],
                },
                "CVE-1 CVE-1: unknown product_status 'fixd'",
            ),
        ],
    )
    def test_wrong_shape(self, tmp_path: Path, data: Any, message: str) -> None:
        path = write(tmp_path / "doc.json", data)
        with pytest.raises(FeedError, match=rf"redhat feed: .*doc\.json: .*{re.escape(message)}"):
            list(RedHatVexFeed().parse([path]))

    def test_relationship_loop(self, tmp_path: Path, acceptance_dir: Path) -> None:
        doc = load(acceptance_dir / "cve-2026-0968.json")
        doc["product_tree"]["relationships"].append(
            {
                "category": "default_component_of",
                "full_product_name": {"name": "loop", "product_id": "loop"},
                "product_reference": "loop",
                "relates_to_product_reference": "red_hat_enterprise_linux_9",
            }
        )
        doc["vulnerabilities"][0]["product_status"]["known_affected"].append("loop")
        with pytest.raises(FeedError, match="nest too deep"):
            list(RedHatVexFeed().parse([write(tmp_path / "loop.json", doc)]))

    def test_invalid_purl_skips_the_product_only(
        self, tmp_path: Path, acceptance_dir: Path
    ) -> None:
        doc = load(acceptance_dir / "cve-2026-0968.json")
        text = json.dumps(doc).replace(
            "pkg:rpm/redhat/libssh?arch=src", "pkg:rpm/redhat/libssh?arch=src&rpmmod=libssh"
        )
        advisories, _ = parse([write(tmp_path / "bad.json", json.loads(text))])
        assert not [k for k in advisories if k[1].endswith("libssh")]

    def test_oval_is_refused_with_advice(self, redhat_dir: Path) -> None:
        oval = next(redhat_dir.glob("aquasecurity__vuln-list-update/**/*.oval.xml.bz2"))
        with pytest.raises(FeedError, match=r"OVAL is not read by hullscan: use .*csaf/v2/vex/"):
            list(RedHatVexFeed().parse([oval]))

    def test_security_data_api_json_is_not_csaf(self, redhat_dir: Path) -> None:
        api = next(redhat_dir.glob("anchore__vunnel/**/cve/full/CVE-2023-4863"))
        with pytest.raises(FeedError, match=r"CVE-2023-4863: not a CSAF document"):
            list(RedHatVexFeed().parse([api]))

    def test_archive_pointer_says_what_to_download(self, tmp_path: Path) -> None:
        pointer = tmp_path / "security.access.redhat.com_data_csaf_v2_vex_archive_latest.txt"
        pointer.write_text("csaf_vex_2026-03-28.tar.zst\n")
        with pytest.raises(
            FeedError,
            match=r"pointer to the current VEX archive \(csaf_vex_2026-03-28\.tar\.zst\); "
            r"download https://security\.access\.redhat\.com/data/csaf/v2/vex/csaf_vex_2026",
        ):
            list(RedHatVexFeed().parse([pointer]))


class TestRules:
    @pytest.mark.parametrize(
        ("cpe", "expected"),
        [
            ("cpe:/o:redhat:enterprise_linux:9::baseos", ("rhel:9", Tier.MAIN)),
            ("cpe:/a:redhat:enterprise_linux:8::appstream", ("rhel:8", Tier.MAIN)),
            ("cpe:/o:redhat:enterprise_linux:10.1", ("rhel:10", Tier.MAIN)),
            ("cpe:/o:redhat:enterprise_linux:7", ("rhel:7", Tier.MAIN)),
            ("cpe:/o:redhat:rhel_els:7", ("rhel:7", Tier.ELS)),
            ("cpe:/a:redhat:rhel_eus:9.4::appstream", ("rhel:9", Tier.PINNED)),
            ("cpe:/o:redhat:rhel_aus:7.6::server", ("rhel:7", Tier.PINNED)),
            ("cpe:/o:redhat:enterprise_linux_eus:10.0", ("rhel:10", Tier.PINNED)),
            ("cpe:/a:redhat:rhel_eus_long_life:8.4::appstream", ("rhel:8", Tier.PINNED)),
            ("cpe:2.3:o:redhat:enterprise_linux:9:*:*:*:*:*:*:*", ("rhel:9", Tier.MAIN)),
            ("cpe:/a:redhat:enterprise_linux_ai:3", None),
            ("cpe:/a:redhat:openshift:4.16::el9", None),
            ("cpe:/a:redhat:ceph_storage:7::el9", None),
            ("cpe:/o:oracle:enterprise_linux:9", None),
            ("not a cpe", None),
        ],
    )
    def test_platform_of(self, cpe: str, expected: tuple[str, Tier] | None) -> None:
        assert platform_of(cpe) == expected

    @pytest.mark.parametrize(
        ("remediations", "status"),
        [
            ([("no_fix_planned", "Will not fix")], FixStatus.WILL_NOT_FIX),
            ([("no_fix_planned", "Out of support scope")], FixStatus.END_OF_LIFE),
            ([("workaround", "..."), ("none_available", "Fix deferred")], FixStatus.FIX_DEFERRED),
            ([("none_available", "Affected")], FixStatus.AFFECTED),
            ([("none_available", "Under investigation")], FixStatus.UNDER_INVESTIGATION),
            ([("workaround", "Mitigation...")], FixStatus.AFFECTED),
            ([], FixStatus.AFFECTED),
        ],
    )
    def test_unfixed_status(self, remediations: list[tuple[str, str]], status: FixStatus) -> None:
        assert unfixed_status(remediations) is status

    @pytest.mark.parametrize(
        ("text", "severity"),
        [
            ("Critical", Severity.CRITICAL),
            ("Important", Severity.HIGH),
            ("Moderate", Severity.MEDIUM),
            ("Low", Severity.LOW),
            ("medium", Severity.MEDIUM),
            ("None", Severity.UNKNOWN),
        ],
    )
    def test_severity(self, text: str, severity: Severity) -> None:
        assert severity_of(text) is severity

    def test_versions(self, compare_rpm: Callable[[str, str], int]) -> None:
        assert branch_of("3.9.18-3.el9_4.5") == "9.4"
        assert branch_of("1:0.78-11.module+el8.6.0+23193+83e23a7a.1") == "8.6"
        assert branch_of("1.0.6-4.el8_10") == "8.10"
        assert branch_of("3.9.19-8.el9") is None
        assert branch_of("1:18.14.2-3.module+el9.2.0.z+18964+42696395") == "9.2"
        contexts = [
            "1:0.78-12.module+el8.10.0+23147+95b68fad",
            "1:0.78-12.module+el8.10.0+23147+df114ff4",
        ]
        # rpm calls these two different (a digit run beats letters)...
        assert compare_rpm(contexts[1], contexts[0]) < 0
        # ...but they are one fix built for two module contexts
        assert normalize_evr(contexts[0]) == normalize_evr(contexts[1])
        assert newest(contexts, compare_rpm) == contexts[0]  # tie: the smallest string
        assert newest(["3.9.18-3.el9_4.5", "3.9.19-8.el9"], compare_rpm) == "3.9.19-8.el9"

    @staticmethod
    def st(
        tier: Tier, kind: Kind, status: FixStatus = FixStatus.AFFECTED, v: str = ""
    ) -> Statement:
        if kind is Kind.FIXED:
            status = FixStatus.FIXED
        return Statement("rhel:7", "openssl", tier, kind, status, v, Severity.LOW)

    def test_resolve_precedence(self, compare_rpm: Callable[[str, str], int]) -> None:
        main_eol = self.st(Tier.MAIN, Kind.UNFIXED, FixStatus.END_OF_LIFE)
        els_fix = self.st(Tier.ELS, Kind.FIXED, v="1.0.2k-26.el7_9")
        main_fix = self.st(Tier.MAIN, Kind.FIXED, v="1.0.2k-25.el7_9")
        not_affected = self.st(Tier.MAIN, Kind.NOT_AFFECTED)
        pinned = self.st(Tier.PINNED, Kind.FIXED, v="1.0.2k-19.el7_6.1")
        # a fix in main decides; ELS and pinned fixes only become ranges
        got = resolve([main_fix, els_fix, main_eol, pinned], compare_rpm)
        assert got is not None
        assert got[:2] == (FixStatus.FIXED, "1.0.2k-25.el7_9")
        assert [r.fixed for r in got[2]] == [
            "1.0.2k-19.el7_6.1",
            "1.0.2k-25.el7_9",
            "1.0.2k-26.el7_9",
        ]
        # main out of support, ELS fixed: the fix is reported
        eol_then_els = resolve([main_eol, els_fix], compare_rpm)
        assert eol_then_els is not None
        assert eol_then_els[:2] == (FixStatus.FIXED, "1.0.2k-26.el7_9")
        # main says not affected: ELS does not override it
        assert resolve([not_affected, els_fix], compare_rpm) is None
        # pinned streams alone never decide
        assert resolve([pinned], compare_rpm) is None
        # unfixed keeps pinned branch fixes as ranges after the unbounded one
        unfixed = resolve([main_eol, pinned], compare_rpm)
        assert unfixed == (
            FixStatus.END_OF_LIFE,
            "",
            (AffectedRange(), AffectedRange(fixed="1.0.2k-19.el7_6.1")),
            Severity.LOW,
        )
        # the most actionable unfixed state wins
        deferred = self.st(Tier.MAIN, Kind.UNFIXED, FixStatus.FIX_DEFERRED)
        most = resolve([main_eol, deferred], compare_rpm)
        assert most is not None
        assert most[0] is FixStatus.FIX_DEFERRED


def test_registry_and_default_location() -> None:
    feed = get_feed("redhat")
    assert isinstance(feed, RedHatVexFeed)
    assert feed.default_locations() == [VEX_ARCHIVE_POINTER]
    assert VEX_ARCHIVE_POINTER.startswith("https://security.access.redhat.com/data/csaf/v2/vex/")


def test_resolve_archive_pointer() -> None:
    feed = RedHatVexFeed()
    asked: list[str] = []

    def get_text(url: str) -> str:
        asked.append(url)
        return "csaf_vex_2026-03-28.tar.zst\n"

    assert feed.resolve_location(VEX_ARCHIVE_POINTER, get_text) == (
        "https://security.access.redhat.com/data/csaf/v2/vex/csaf_vex_2026-03-28.tar.zst"
    )
    assert asked == [VEX_ARCHIVE_POINTER]
    assert feed.resolve_location("/mirror/vex", get_text) == "/mirror/vex"
    with pytest.raises(FeedError, match="not an archive name: '<html>'"):
        feed.resolve_location(VEX_ARCHIVE_POINTER, lambda url: "<html>")


def test_default_pointer_is_followed_to_the_daily_archive(
    tmp_path: Path, acceptance_dir: Path, http_root: tuple[str, Path]
) -> None:
    """Red Hat publishes archive_latest.txt naming the day's archive; the builder follows it."""
    base, served = http_root
    files = sorted(acceptance_dir.glob("cve-202[45]-*.json"))
    members = {f"{p.name[4:8]}/{p.name}": p.read_bytes() for p in files}
    TestArchive.archive(served / "csaf_vex_2026-11-21.tar.zst", members)
    (served / "archive_latest.txt").write_text("csaf_vex_2026-11-21.tar.zst\n")
    info = build_db(tmp_path / "db", [(get_feed("redhat"), f"{base}/archive_latest.txt")])
    local = build_db(
        tmp_path / "local", [(get_feed("redhat"), str(served / "csaf_vex_2026-11-21.tar.zst"))]
    )
    assert info.sources[0].advisories == local.sources[0].advisories > 10
