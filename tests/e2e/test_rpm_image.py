"""End to end: a two-layer UBI 9.2 image with real rpm databases, scanned against Red Hat VEX.

The image is built by the test from files, without a Docker engine:

- layer 0, the base: UBI 9.2's release files (``/etc/os-release`` -> ``../usr/lib/os-release``
  and ``/etc/system-release`` -> ``redhat-release``, as RHEL 9 ships them) and an rpm
  database in ``/var/lib/rpm`` (rpmdb.sqlite with its -shm/-wal companions), written by
  Debian's rpm from empty packages `rpmbuild` makes with real RHEL 9 NEVRAs. RHEL 9's rpm
  (4.16) keeps its database in /var/lib/rpm; /usr/lib/sysimage/rpm is Fedora 36+ and RHEL 10.
- layer 1, ``dnf -y update openssl-libs && dnf -y install python3-libs``: the database
  rewritten by ``rpm -U`` / ``rpm -i`` on a copy of the base's.

Every NEVRA is real: openssl-libs, libbrotli, python3-libs and npm (nodejs:18 module) as
installed in Red Hat's UBI 9.2 nodejs-18 image (rpm-manifest in
../shared/data/golden/quay__claircore/rhel/testdata/nodejs.rpm-manifest.json; the manifest
drops non-zero epochs, RHEL 9's openssl and nodejs have epoch 1 as the VEX files say), and
openssl-libs 1:3.0.7-27.el9 and perl-FCGI 1:0.79-8.el9_2.1 as the VEX documents name them.

The DB is built by ``hullscan db build --only redhat`` from the real VEX/CSAF documents of
../shared/data that mention those packages (the openssl, brotli, perl, python3.9 ones).
Expected, for ``rhel:9`` (fixed versions and impacts as in those documents):

| package (layer) | CVE | verdict |
| --- | --- | --- |
| openssl-libs 1:3.0.7-16.el9_2 (0) | CVE-2024-0727 | fixed in 1:3.0.7-27.el9, Low - until layer 1 |
| openssl-libs 1:3.0.7-27.el9 (1) | CVE-2024-0727 | none: installed at the fix |
| openssl-libs (both) | CVE-2026-2673 | fix deferred, Low |
| libbrotli 1.0.9-6.el9 (0) | CVE-2025-6176 | fixed in 1.0.9-9.el9_7, Important -> HIGH |
| perl-FCGI 1:0.79-8.el9_2.1 (0) | CVE-2025-40907 | none: the 9.2 E4S fix itself |
| python3-libs 3.9.16-1.el9_2.1 (1) | CVE-2024-8088 | fixed in 3.9.19-8.el9 (RHSA-2024:9371) |
| python3-libs 3.9.16-1.el9_2.1 (1) | CVE-2026-2297 | fix deferred, Low |
| npm (nodejs:18 module) (0) | - | none: the samples have no advisory for the module |

The samples hold no RHEL 9 modular advisory (their modular ones, perl-FCGI:0.78, python36:3.6
and go-toolset:rhel8, are RHEL 8), so the modular case is a real RHEL 8 database scanned as
a root filesystem: python36 of module python36:3.6 is reported (fix deferred), its
non-modular twin (same NEVRA, no MODULARITYLABEL) is not, and the modular perl-FCGI build
that fixed CVE-2025-40907 in 8.10 is clean in the context rpm orders lowest (+df114ff4).

About 4 s; skipped with a reason when Debian's rpm or rpmbuild is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import REPO
from tests.e2e.rpmimage import Binary, RpmRoot, Source, build_rpms, tool
from tests.golden import check_golden
from tests.image.test_archive import load_sample_builder

GOLDEN = Path(__file__).parent / "golden"
REPO_TAG = "hullscan/e2e:ubi9.2-rpm"

# RHEL/UBI 9.2's release files as the redhat-release package installs them.
OS_RELEASE = """\
NAME="Red Hat Enterprise Linux"
VERSION="9.2 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.2"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Red Hat Enterprise Linux 9.2 (Plow)"
ANSI_COLOR="0;31"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:redhat:enterprise_linux:9::baseos"
HOME_URL="https://www.redhat.com/"
DOCUMENTATION_URL="https://access.redhat.com/documentation/en-us/red_hat_enterprise_linux/9"
BUG_REPORT_URL="https://bugzilla.redhat.com/"

REDHAT_BUGZILLA_PRODUCT="Red Hat Enterprise Linux 9"
REDHAT_BUGZILLA_PRODUCT_VERSION=9.2
REDHAT_SUPPORT_PRODUCT="Red Hat Enterprise Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.2"
"""
REDHAT_RELEASE = "Red Hat Enterprise Linux release 9.2 (Plow)\n"

NODEJS_RELEASE = "3.module+el9.2.0.z+18964+42696395"
# nodejs:18 module builds of RHEL 9 use the static context "rhel9"; the module version
# (9.2.0, then a build timestamp) is illustrative: only name:stream reaches the matcher.
NODEJS_LABEL = "nodejs:18:9020020230512105614:rhel9"

OPENSSL_OLD = Source("openssl", "3.0.7", "16.el9_2", (Binary("openssl-libs"),), epoch=1)
OPENSSL_FIXED = Source("openssl", "3.0.7", "27.el9", (Binary("openssl-libs"),), epoch=1)
BROTLI = Source("brotli", "1.0.9", "6.el9", (Binary("libbrotli"),))
PERL_FCGI = Source("perl-FCGI", "0.79", "8.el9_2.1", (Binary("perl-FCGI"),), epoch=1)
NODEJS = Source(
    "nodejs",
    "18.14.2",
    NODEJS_RELEASE,
    (Binary("npm", version="9.5.0", release=f"1.18.14.2.{NODEJS_RELEASE}"),),
    epoch=1,
    modularity_label=NODEJS_LABEL,
)
PYTHON = Source("python3.9", "3.9.16", "1.el9_2.1", (Binary("python3-libs"),))

BASE = (OPENSSL_OLD, BROTLI, PERL_FCGI, NODEJS)
DNF_UPDATE = (OPENSSL_FIXED,)
DNF_INSTALL = (PYTHON,)

# RHEL 8 modular case: python36 as rhel-8-for-x86_64-appstream-rpms serves it, and one of
# the four 8.10 builds (contexts) of CVE-2025-40907's perl-FCGI fix the VEX file lists.
# The labels' version:context parts are those of tests/match/test_redhat.py.
PYTHON36_RELEASE = "39.module+el8.10.0+20784+edafcd43"
PYTHON36_LABEL = "python36:3.6:8100020240119085303:b4937e53"
PERL_FCGI_FIX_RELEASE = "12.module+el8.10.0+23147+df114ff4"
PERL_FCGI_LABEL = "perl-FCGI:0.78:8100020250529111022:491cfe3d"
RHEL8_MODULAR = (
    Source("python36", "3.6.8", PYTHON36_RELEASE, (Binary("python36"),), None, PYTHON36_LABEL),
    Source("perl-FCGI", "0.78", PERL_FCGI_FIX_RELEASE, (Binary("perl-FCGI"),), 1, PERL_FCGI_LABEL),
)
PYTHON36_TWIN = Source("python36", "3.6.8", PYTHON36_RELEASE, (Binary("python36"),))

# The VEX/CSAF documents the DB is built from (paths under ../shared/data).
ACCEPTANCE = "golden/quay__claircore/test/acceptance/testdata"
VUNNEL_CSAF = "advisories/redhat/anchore__vunnel/tests/unit/providers/rhel/test-fixtures/csaf"
FEED_FILES = (
    f"{ACCEPTANCE}/cve-2024-0727-openssl.json",
    f"{ACCEPTANCE}/cve-2026-2673.json",
    f"{ACCEPTANCE}/cve-2025-6176.json",
    f"{ACCEPTANCE}/cve-2025-40907-perl.json",
    f"{ACCEPTANCE}/cve-2026-2297.json",
    f"{VUNNEL_CSAF}/advisories/2024/rhsa-2024_6163.json",
    f"{VUNNEL_CSAF}/advisories/2024/rhsa-2024_9371.json",
)


@dataclass(frozen=True)
class World:
    root: Path
    cache: Path
    #: ``rpm -qa`` of the base layer's and of the final database, as rpm itself reads them
    base_qa: list[str]
    final_qa: list[str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "HULLSCAN_CACHE_DIR": str(self.cache), "COLUMNS": "160"}
        return subprocess.run(
            [sys.executable, "-m", "hullscan.cli", *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def scan(self, *args: str) -> dict[str, Any]:
        result = self.run(*args, "-f", "json")
        assert result.returncode in (0, 1), result.stderr
        document: dict[str, Any] = json.loads(result.stdout)
        return document


def _rpms(built: dict[str, Path], sources: Iterable[Source]) -> list[Path]:
    """The built binary rpm files of some sources."""
    wanted = []
    for source in sources:
        for binary in source.binaries:
            version = binary.version or source.version
            release = binary.release or source.release
            wanted.append(built[f"{binary.name}-{version}-{release}.{binary.arch}"])
    return wanted


def _release_files(layer: Path) -> None:
    (layer / "usr/lib").mkdir(parents=True)
    (layer / "usr/lib/os-release").write_text(OS_RELEASE)
    (layer / "etc").mkdir()
    (layer / "etc/os-release").symlink_to("../usr/lib/os-release")
    (layer / "etc/redhat-release").write_text(REDHAT_RELEASE)
    (layer / "etc/system-release").symlink_to("redhat-release")


def _copy_db(db: RpmRoot, layer: Path) -> None:
    """The database directory as rpm left it (rpmdb.sqlite, -shm, -wal, .rpm.lock)."""
    shutil.copytree(db.database.parent, layer / db.dbpath.lstrip("/"))


def _build_image(out: Path, layers: Path, history: dict[str, str]) -> None:
    builder = load_sample_builder()  # type: ignore[no-untyped-call]  # a fresh module: ours
    builder.HISTORY = history
    builder.REPO_TAG = REPO_TAG
    builder.build(out, "oci", "gzip", layers)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> World:
    tool("rpm")
    tool("rpmbuild")
    root = tmp_path_factory.mktemp("rpm-image")
    built = build_rpms([*BASE, *DNF_UPDATE, *DNF_INSTALL, *RHEL8_MODULAR], root / "rpms")

    # layer 0: the base
    layers = root / "layers"
    base = layers / "1-base"
    _release_files(base)
    db = RpmRoot(root / "sysroot")
    db.init()
    db.install(*_rpms(built, BASE))
    _copy_db(db, base)
    base_qa = db.query()
    # layer 1: dnf update of openssl-libs and install of python3-libs, on the same database
    db.upgrade(*_rpms(built, DNF_UPDATE))
    db.install(*_rpms(built, DNF_INSTALL))
    _copy_db(db, layers / "2-dnf")
    final_qa = db.query()
    history = {
        "1-base": "/bin/sh -c #(nop) ADD file:ubi-9.2-rootfs in / ",
        "2-dnf": "/bin/sh -c dnf -y update openssl-libs && dnf -y install python3-libs",
    }
    _build_image(root / "ubi9.tar", layers, history)
    only_base = root / "base-only"
    only_base.mkdir()
    shutil.copytree(base, only_base / "1-base", symlinks=True)
    _build_image(root / "ubi9-base.tar", only_base, history)

    # RHEL 8 root filesystems: modular python36 and perl-FCGI, and the non-modular twin
    rhel8 = RpmRoot(root / "rhel8/modular")
    rhel8.init()
    rhel8.install(*_rpms(built, RHEL8_MODULAR))
    twin = build_rpms([PYTHON36_TWIN], root / "twin-rpms")  # same file name: built apart
    plain = RpmRoot(root / "rhel8/plain")
    plain.init()
    plain.install(*_rpms(twin, [PYTHON36_TWIN]))
    for rootfs in (rhel8.root, plain.root):
        (rootfs / "etc").mkdir()
        (rootfs / "etc/redhat-release").write_text(
            "Red Hat Enterprise Linux release 8.10 (Ootpa)\n"
        )

    feed = root / "redhat-vex"
    feed.mkdir()
    for relpath in FEED_FILES:
        shutil.copy(shared_data / relpath, feed)
    world = World(root=root, cache=root / "cache", base_qa=base_qa, final_qa=final_qa)
    result = world.run("db", "build", "--only", "redhat", "--source", f"redhat={feed}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(": 74 advisories from 1 feed\n"), result.stdout
    return world


def layer_index(report: dict[str, Any], diff_id: str) -> int:
    """Index of the layer a diff_id names."""
    layers = report["artifact"]["layers"]
    return next(int(layer["index"]) for layer in layers if layer["diff_id"] == diff_id)


def findings_of(
    report: dict[str, Any],
) -> set[tuple[str, str, str, str | None, str, str, int | None]]:
    """(id, package, installed version, fixed version, status, severity, layer index)."""
    return {
        (
            f["id"],
            f["package"]["name"],
            f["installed_version"],
            f["fixed_version"],
            f["status"],
            f["severity"],
            f["layer"]["index"] if f["layer"] else None,
        )
        for f in report["findings"]
    }


def stable(document: dict[str, Any]) -> str:
    """The JSON report with what changes between runs pinned.

    rpm stamps build and install times into every header, so the databases - and with them
    the layers' diff_ids, blob digests and sizes, and the image's digests - differ on each
    run; layers are named by index instead. The DB's build times and temp path too.
    """
    artifact = document["artifact"]
    names: dict[str, str] = {}
    artifact["image_id"] = "<image_id>"
    artifact["manifest_digest"] = "<manifest_digest>"
    for layer in artifact["layers"]:
        names[layer["diff_id"]] = f"<diff_id of layer {layer['index']}>"
        layer["diff_id"] = names[layer["diff_id"]]
        layer["digest"] = f"<digest of layer {layer['index']}>"
        layer["size"] = 0
    for pkg in document["packages"]:
        pkg["layer"] = names[pkg["layer"]]
    for finding in document["findings"]:
        if finding["layer"]:
            finding["layer"]["diff_id"] = names[finding["layer"]["diff_id"]]
    db = document["db"]
    db["built_at"] = "<built_at>"
    for source in db["sources"]:
        source["fetched_at"] = "<fetched_at>"
        source["location"] = "<redhat-vex>"
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


# ------------------------------------------------------------------------------ the image


def test_rpm_wrote_the_real_nevras(world: World) -> None:
    # what Debian's rpm reads back from the databases the layers carry
    assert world.base_qa == [
        "libbrotli 0:1.0.9-6.el9 x86_64 brotli-1.0.9-6.el9.src.rpm (none)",
        f"npm 1:9.5.0-1.18.14.2.{NODEJS_RELEASE} x86_64 nodejs-18.14.2-{NODEJS_RELEASE}.src.rpm "
        + NODEJS_LABEL,
        "openssl-libs 1:3.0.7-16.el9_2 x86_64 openssl-3.0.7-16.el9_2.src.rpm (none)",
        "perl-FCGI 1:0.79-8.el9_2.1 x86_64 perl-FCGI-0.79-8.el9_2.1.src.rpm (none)",
    ]
    assert set(world.final_qa) - set(world.base_qa) == {
        "openssl-libs 1:3.0.7-27.el9 x86_64 openssl-3.0.7-27.el9.src.rpm (none)",
        "python3-libs 0:3.9.16-1.el9_2.1 x86_64 python3.9-3.9.16-1.el9_2.1.src.rpm (none)",
    }
    assert set(world.base_qa) - set(world.final_qa) == {
        "openssl-libs 1:3.0.7-16.el9_2 x86_64 openssl-3.0.7-16.el9_2.src.rpm (none)"
    }


def test_os_is_rhel_9_matched_as_rhel_9(world: World) -> None:
    report = world.scan("image", "--input", "ubi9.tar")
    assert report["os"] == {
        "id": "rhel",
        "version": "9.2",
        "codename": None,
        "channel": None,
        "pretty_name": "Red Hat Enterprise Linux 9.2 (Plow)",
        "namespace": "rhel:9",
    }
    assert {f["namespace"] for f in report["findings"]} == {"rhel:9"}
    assert report["warnings"] == []
    assert report["artifact"]["repo_tags"] == [REPO_TAG]
    assert [layer["created_by"] for layer in report["artifact"]["layers"]] == [
        "/bin/sh -c #(nop) ADD file:ubi-9.2-rootfs in / ",
        "/bin/sh -c dnf -y update openssl-libs && dnf -y install python3-libs",
    ]


def test_packages_versions_sources_and_layers(world: World) -> None:
    report = world.scan("image", "--input", "ubi9.tar")
    got = {
        p["name"]: (
            p["version"],
            p["arch"],
            p["source"]["name"],
            p["source"]["version"],
            layer_index(report, p["layer"]),
            p["paths"],
        )
        for p in report["packages"]
    }
    db = ["var/lib/rpm/rpmdb.sqlite"]
    assert got == {
        # the binary's epoch goes to the source: SOURCERPM file names carry none
        "openssl-libs": ("1:3.0.7-27.el9", "x86_64", "openssl", "1:3.0.7-27.el9", 1, db),
        "libbrotli": ("1.0.9-6.el9", "x86_64", "brotli", "1.0.9-6.el9", 0, db),
        "perl-FCGI": ("1:0.79-8.el9_2.1", "x86_64", "perl-FCGI", "1:0.79-8.el9_2.1", 0, db),
        "npm": (
            f"1:9.5.0-1.18.14.2.{NODEJS_RELEASE}",
            "x86_64",
            "nodejs",
            f"1:18.14.2-{NODEJS_RELEASE}",
            0,
            db,
        ),
        "python3-libs": ("3.9.16-1.el9_2.1", "x86_64", "python3.9", "3.9.16-1.el9_2.1", 1, db),
    }
    purls = {p["name"]: p["purl"] for p in report["packages"]}
    assert purls["openssl-libs"] == (
        "pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=rhel-9.2&epoch=1"
    )
    assert purls["npm"].endswith(f"&epoch=1&rpmmod={NODEJS_LABEL}")  # MODULARITYLABEL


def test_findings_have_the_feeds_fixes_and_red_hats_impact(world: World) -> None:
    report = world.scan("image", "--input", "ubi9.tar")
    assert findings_of(report) == {
        # cve-2025-6176.json: AppStream/BaseOS-9.7.0.Z.MAIN brotli-0:1.0.9-9.el9_7, Important
        ("CVE-2025-6176", "libbrotli", "1.0.9-6.el9", "1.0.9-9.el9_7", "fixed", "HIGH", 0),
        # RHSA-2024:9371 (9.5.0.GA) python3.9-0:3.9.19-8.el9, aggregate Moderate; the 9.4
        # z-stream fix of RHSA-2024:6163 is for el9_4 builds only
        ("CVE-2024-8088", "python3-libs", "3.9.16-1.el9_2.1", "3.9.19-8.el9", "fixed", "MEDIUM", 1),
        # cve-2026-2297.json: red_hat_enterprise_linux_9 python3.9 "Fix deferred", Low
        ("CVE-2026-2297", "python3-libs", "3.9.16-1.el9_2.1", None, "fix_deferred", "LOW", 1),
        # cve-2026-2673.json: openssl "Fix deferred", Low; now on the updated build
        ("CVE-2026-2673", "openssl-libs", "1:3.0.7-27.el9", None, "fix_deferred", "LOW", 1),
    }
    assert {(f["id"], f["severity_source"]) for f in report["findings"]} == {
        ("CVE-2025-6176", "redhat"),
        ("CVE-2024-8088", "redhat"),
        ("CVE-2026-2297", "redhat"),
        ("CVE-2026-2673", "redhat"),
    }
    assert report["summary"]["total"] == 4


def test_no_finding_at_the_fix_nor_for_the_module(world: World) -> None:
    report = world.scan("image", "--input", "ubi9.tar")
    ids = {(f["id"], f["package"]["name"]) for f in report["findings"]}
    # dnf update brought openssl-libs to 1:3.0.7-27.el9, the fix Red Hat names for RHEL 9
    assert ("CVE-2024-0727", "openssl-libs") not in ids
    # perl-FCGI 1:0.79-8.el9_2.1 is the AppStream-9.2.0.Z.E4S fix of CVE-2025-40907; its
    # SOURCERPM (perl-FCGI-0.79-8.el9_2.1.src.rpm) has no epoch: compared without the
    # binary's 1: it would look older than every fix
    assert not [i for i in ids if i[1] == "perl-FCGI"]
    # npm is keyed nodejs:18::nodejs: the samples have no advisory for the module
    assert not [i for i in ids if i[1] == "npm"]


def test_the_base_layer_alone_has_the_openssl_finding(world: World) -> None:
    report = world.scan("image", "--input", "ubi9-base.tar")
    assert findings_of(report) == {
        # cve-2024-0727-openssl.json: BaseOS-9.4.0.GA openssl-1:3.0.7-27.el9, impact Low.
        # 3.0.7-16.el9_2 is a 9.2 z-stream build; no 9.2 fix exists, so main's is reported
        ("CVE-2024-0727", "openssl-libs", "1:3.0.7-16.el9_2", "1:3.0.7-27.el9", "fixed", "LOW", 0),
        ("CVE-2026-2673", "openssl-libs", "1:3.0.7-16.el9_2", None, "fix_deferred", "LOW", 0),
        ("CVE-2025-6176", "libbrotli", "1.0.9-6.el9", "1.0.9-9.el9_7", "fixed", "HIGH", 0),
    }
    assert "python3-libs" not in {p["name"] for p in report["packages"]}


def test_json_report_golden_and_schema(world: World, update_golden: bool) -> None:
    report = world.scan("image", "--input", "ubi9.tar")
    schema = json.loads((REPO / "tests/report/hullscan-report.schema.json").read_text())
    jsonschema.validate(report, schema)
    # a cold scan (no layer cache) reads the same
    cold = world.scan("image", "--input", "ubi9.tar", "--no-cache")
    assert (cold["packages"], cold["findings"]) == (report["packages"], report["findings"])
    check_golden(GOLDEN / "ubi9-rpm-scan.json", stable(report), update_golden)


def test_gitlab_report_is_valid_against_the_official_schema(
    world: World, shared_schemas: Path
) -> None:
    result = world.run("image", "--input", "ubi9.tar", "--format", "gitlab")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    schema_path = shared_schemas / "gitlab/15.0.7/container-scanning-report-format.json"
    jsonschema.validate(document, json.loads(schema_path.read_text()))
    got = {
        (
            v["name"],
            v["location"]["dependency"]["package"]["name"],
            v["location"]["dependency"]["version"],
            v["severity"],
            v["solution"],
            v["location"]["operating_system"],
        )
        for v in document["vulnerabilities"]
    }
    assert got == {
        (
            "CVE-2025-6176",
            "libbrotli",
            "1.0.9-6.el9",
            "High",
            "Upgrade libbrotli to 1.0.9-9.el9_7",
            "rhel:9",
        ),
        (
            "CVE-2024-8088",
            "python3-libs",
            "3.9.16-1.el9_2.1",
            "Medium",
            "Upgrade python3-libs to 3.9.19-8.el9",
            "rhel:9",
        ),
        (
            "CVE-2026-2297",
            "python3-libs",
            "3.9.16-1.el9_2.1",
            "Low",
            "No fix yet: the vendor has postponed the fix.",
            "rhel:9",
        ),
        (
            "CVE-2026-2673",
            "openssl-libs",
            "1:3.0.7-27.el9",
            "Low",
            "No fix yet: the vendor has postponed the fix.",
            "rhel:9",
        ),
    }
    assert {v["location"]["image"] for v in document["vulnerabilities"]} == {REPO_TAG}


@pytest.mark.parametrize(("threshold", "code"), [("high", 1), ("critical", 0)])
def test_gate_on_red_hat_severities(world: World, threshold: str, code: int) -> None:
    result = world.run("image", "--input", "ubi9.tar", "-o", "out.txt", "--fail-on", threshold)
    assert result.returncode == code, result.stderr


# ----------------------------------------------------------------------- RHEL 8 modules


def test_only_the_modular_build_matches_a_module_stream_advisory(world: World) -> None:
    modular = world.scan("rootfs", "rhel8/modular")
    assert modular["os"]["namespace"] == "rhel:8"
    by_name = {p["name"]: p for p in modular["packages"]}
    assert by_name["python36"]["purl"].endswith(f"&rpmmod={PYTHON36_LABEL}")
    assert findings_of(modular) == {
        # cve-2026-2297.json: red_hat_enterprise_linux_8:python36:3.6/python36 "Fix deferred"
        (
            "CVE-2026-2297",
            "python36",
            f"3.6.8-{PYTHON36_RELEASE}",
            None,
            "fix_deferred",
            "LOW",
            None,
        )
    }  # perl-FCGI 1:0.78-12...+df114ff4 is one context of the 8.10 fix of CVE-2025-40907
    assert by_name["perl-FCGI"]["version"] == f"1:0.78-{PERL_FCGI_FIX_RELEASE}"
    # the same NEVRA without MODULARITYLABEL is not of the stream: nothing to report
    plain = world.scan("rootfs", "rhel8/plain")
    assert [p["name"] for p in plain["packages"]] == ["python36"]
    assert "rpmmod" not in plain["packages"][0]["purl"]
    assert plain["findings"] == []
