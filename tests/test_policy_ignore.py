"""Ignore files: hullscan's .hullscanignore.yaml and Trivy's .trivyignore(.yaml)."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from hullscan.errors import PolicyError
from hullscan.model import Finding, FixStatus, Package, PackageType, ScanReport, Severity
from hullscan.policy import (
    IgnoreFormat,
    Policy,
    apply_policy,
    find_ignore_file,
    gate,
    load_ignore_file,
    load_policy,
    parse_clair_whitelist,
    parse_ignore_yaml,
    parse_trivyignore,
    policy_outcome,
)
from tests.report import fixtures as fx

FIXTURES = Path(__file__).parent / "policy"
TRIVY = FIXTURES / "trivy"
SCAN_DAY = "2024-01-16T09:30:00+00:00"  # fx.STARTED


def debian(reference: str = fx.REFERENCE, started: str = SCAN_DAY) -> ScanReport:
    return replace(fx.debian_report(reference), meta={"started_at": started})


def rules(report: ScanReport) -> dict[tuple[str, str], str]:
    return {(f.vuln_id, f.package.name): f.suppressed_by for f in report.findings}


def native(text: str, source: str = ".hullscanignore.yaml") -> Policy:
    return Policy(ignore_files=(parse_ignore_yaml(text, source),))


# --- .hullscanignore.yaml ----------------------------------------------------------------


def test_example_file_on_the_scan_day() -> None:
    ignore = load_ignore_file(FIXTURES / "hullscanignore.yaml")
    assert ignore.format is IgnoreFormat.HULLSCAN
    assert [(e.vuln_id, e.line, e.expires) for e in ignore.entries] == [
        ("CVE-2023-4911", 4, date(2024, 3, 31)),
        ("CVE-2023-45853", 9, None),
        ("CVE-2023-5678", 13, date(2024, 1, 15)),
        ("CVE-2023-38545", 18, None),
        ("CVE-2005-2541", 22, None),
    ]
    policy = Policy(fail_on=Severity.HIGH, ignore_files=(ignore,))
    report = apply_policy(debian(), policy, fx.REFERENCE)
    source = str(FIXTURES / "hullscanignore.yaml")
    assert {k: v for k, v in rules(report).items() if v} == {
        ("CVE-2023-4911", "libc6"): f"ignore:{source}:CVE-2023-4911",
        ("CVE-2023-45853", "zlib1g"): f"ignore:{source}:CVE-2023-45853",
        ("CVE-2005-2541", "tar"): f"ignore:{source}:CVE-2005-2541",
    }
    # CVE-2023-5678's entry expired the day before the scan: active again, and said so
    assert report.warnings == (
        "ignore entry for CVE-2023-5678 expired on 2024-01-15; the finding is active again "
        f"({source}, line 13)",
    )
    # curl's CVE is accepted for *-staging images only; it still fails the gate
    assert gate(report, policy) is True
    outcome = policy_outcome(report)
    assert outcome is not None
    info = outcome.rule(f"ignore:{source}:CVE-2023-4911")
    assert info is not None and info.kind == "ignore" and info.expires == date(2024, 3, 31)
    assert info.reason.startswith("Looney Tunables needs a setuid binary")


@pytest.mark.parametrize(
    ("day", "suppressed"),
    [("2024-03-30", True), ("2024-03-31T23:59:59+00:00", True), ("2024-04-01", False)],
)
def test_expires_is_the_last_day_the_entry_applies(day: str, suppressed: bool) -> None:
    policy = native(
        "ignore:\n  - id: CVE-2023-4911\n    reason: r\n    expires: 2024-03-31\n",
    )
    report = apply_policy(debian(started=day), policy, fx.REFERENCE)
    libc = next(f for f in report.findings if f.package.name == "libc6")
    assert libc.suppressed is suppressed
    assert bool(report.warnings) is not suppressed


def test_expired_entry_warns_once_and_only_if_the_finding_stays_active() -> None:
    text = (
        "ignore:\n"
        "  - id: CVE-2023-38545\n    reason: old\n    expires: 2023-12-31\n"
        "  - id: CVE-2023-5678\n    reason: old\n    expires: 2023-12-31\n"
    )
    whitelist_5678 = parse_clair_whitelist("generalwhitelist:\n  CVE-2023-5678: accepted\n")
    policy = replace(native(text), whitelist=whitelist_5678)
    report = apply_policy(debian(), policy, fx.REFERENCE)
    # CVE-2023-38545 is in curl and libcurl4: one warning; CVE-2023-5678 is whitelisted: none
    assert (
        len(report.warnings) == 1 and "CVE-2023-38545 expired on 2023-12-31" in (report.warnings[0])
    )
    assert rules(report)[("CVE-2023-5678", "libssl3")] == "whitelist:general"
    again = apply_policy(report, policy, fx.REFERENCE)
    assert again.warnings == report.warnings


def test_aliases_and_case() -> None:
    aliased = fx.finding(
        "DSA-5514-1", fx.LIBC6, Severity.HIGH, FixStatus.FIXED, "2", aliases=("CVE-2023-4911",)
    )
    report = replace(debian(), findings=(aliased,))
    result = apply_policy(report, native("ignore:\n- id: cve-2023-4911\n  reason: x\n"), "x")
    assert result.findings[0].suppressed_by == "ignore:.hullscanignore.yaml:cve-2023-4911"


@pytest.mark.parametrize(
    ("scope", "matched"),
    [
        # package names: binary or source name, `*` globs
        ("packages: [libssl3]", {"libssl3"}),
        ("packages: openssl", {"libssl3", "openssl"}),  # source name, single string
        ("packages: ['lib*']", {"libssl3"}),
        # purl patterns: no version = every version; `*` anywhere; qualifiers must be present
        ("purls: ['pkg:deb/debian/libssl3']", {"libssl3"}),
        ("purls: ['pkg:deb/debian/libssl3@3.0.11-1~deb12u1']", {"libssl3"}),
        ("purls: ['pkg:deb/debian/libssl3@3.0.11-1~deb12u2']", set()),
        ("purls: ['pkg:deb/debian/*']", {"libssl3", "openssl"}),
        ("purls: ['pkg:deb/debian/*@3.0.11-*']", {"libssl3", "openssl"}),
        ("purls: ['pkg:deb/debian/libssl3?arch=amd64']", {"libssl3"}),
        ("purls: ['pkg:deb/debian/libssl3?arch=arm64']", set()),
        ("purls: ['pkg:deb/debian/libssl3?distro=bookworm']", {"libssl3"}),  # by meaning
        ("purls: ['pkg:deb/debian/*?distro=debian-1*']", {"libssl3", "openssl"}),
        ("purls: ['pkg:deb/debian/openssl?arch=source']", {"libssl3", "openssl"}),
        ("purls: ['pkg:deb/ubuntu/libssl3']", set()),
        ("purls: ['pkg:rpm/*']", set()),
        # images: exact names and repository globs, normalised like docker pull
        ("images: ['registry.example.com:5000/team/app']", {"libssl3", "openssl"}),
        ("images: ['team/app']", {"libssl3", "openssl"}),
        ("images: ['registry.example.com:5000/team/*']", {"libssl3", "openssl"}),
        ("images: ['*/app']", {"libssl3", "openssl"}),
        ("images: ['REGISTRY.example.com:5000/team/*:1.*']", {"libssl3", "openssl"}),
        ("images: ['registry.example.com:5000/team/*:2.*']", set()),
        ("images: ['other.example.com/team/*']", set()),
        ("images: ['team/app:1.2', 'alpine']", {"libssl3", "openssl"}),
        # paths: doublestar globs over the package's files
        ("paths: ['var/lib/dpkg/status']", {"libssl3", "openssl"}),
        ("paths: ['/var/lib/dpkg/**']", {"libssl3", "openssl"}),
        ("paths: ['**/status']", {"libssl3", "openssl"}),
        ("paths: ['var/lib/{rpm,apk}/*']", set()),
        # several scopes: all must match
        ("packages: [libssl3]\n    images: ['alpine']", set()),
        ("packages: [openssl]\n    purls: ['pkg:deb/debian/openssl']", {"openssl"}),
    ],
)
def test_scopes(scope: str, matched: set[str]) -> None:
    text = f"ignore:\n  - id: CVE-2023-5678\n    reason: r\n    {scope}\n"
    report = apply_policy(debian(), native(text), fx.REFERENCE)
    got = {f.package.name for f in report.findings if f.suppressed}
    assert got == matched


def test_image_scope_uses_repo_tags_of_an_archive() -> None:
    report = replace(
        debian(),
        inventory=fx.debian_inventory("app.tar", ("registry.example.com:5000/team/app:1.2",)),
    )
    text = "ignore:\n- id: CVE-2023-5678\n  reason: r\n  images: ['team/app']\n"
    result = apply_policy(report, native(text), "./build/app.tar")
    assert {f.package.name for f in result.findings if f.suppressed} == {"libssl3", "openssl"}


def test_duplicate_ids_get_line_anchored_rules() -> None:
    text = (
        "ignore:\n"
        "  - id: CVE-2023-5678\n    reason: a\n    packages: [libssl3]\n"
        "  - id: CVE-2023-5678\n    reason: b\n    packages: [openssl]\n"
    )
    report = apply_policy(debian(), native(text), fx.REFERENCE)
    assert rules(report)[("CVE-2023-5678", "libssl3")] == (
        "ignore:.hullscanignore.yaml:CVE-2023-5678#L2"
    )
    assert rules(report)[("CVE-2023-5678", "openssl")] == (
        "ignore:.hullscanignore.yaml:CVE-2023-5678#L5"
    )


@pytest.mark.parametrize(
    "text", ["", "# nothing yet\n", "ignore:\n", "ignore: []\n", "version: 1\nignore: []\n"]
)
def test_empty_ignore_files(text: str) -> None:
    assert parse_ignore_yaml(text, "i.yaml").entries == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ignore: [unclosed\n", r"i\.yaml: invalid YAML at line 2"),
        ("- id: CVE-1\n", r"i\.yaml: an ignore file must be a mapping .* got a list"),
        ("ignores:\n  - id: CVE-1\n", r"i\.yaml: unknown key\(s\) 'ignores'"),
        ("version: 2\nignore: []\n", r"unsupported version 2"),
        ("ignore:\n  id: CVE-1\n", r"'ignore' must be a list of entries, got a mapping"),
        ("ignore:\n  - CVE-1\n", r"i\.yaml:2: ignore entry 1: must be a mapping"),
        ("ignore:\n  - id: CVE-1\n", r"i\.yaml:2: ignore entry 1 \(CVE-1\): 'reason' is required"),
        ("ignore:\n  - id: CVE-1\n    reason: '  '\n", r"'reason' is required"),
        ("ignore:\n  - reason: x\n", r"i\.yaml:2: ignore entry 1: 'id' must be a vulnerability"),
        ("ignore:\n  - id: CVE 1\n    reason: x\n", r"'id' must be a vulnerability id"),
        (
            "ignore:\n  - id: CVE-1\n    reason: x\n"
            "  - id: CVE-2\n    reason: x\n    expire: 2024-01-01\n",
            r"i\.yaml:6: ignore entry 2: unknown key\(s\) 'expire' \(allowed: id, reason, expires",
        ),
        (
            "ignore:\n  - id: CVE-1\n    reason: x\n    expires: 2024-02-30\n",
            r"i\.yaml:4: ignore entry 1 \(CVE-1\): '2024-02-30' is not a valid date",
        ),
        (
            "ignore:\n  - id: CVE-1\n    reason: x\n    expires: 31/12/2024\n",
            r"i\.yaml:4: .*'31/12/2024' is not a date \(YYYY-MM-DD\)",
        ),
        (
            "ignore:\n  - id: CVE-1\n    reason: x\n    expires: 2024-01-01T10:00:00\n",
            r"is not a date \(YYYY-MM-DD\)",
        ),
        (
            "ignore:\n  - id: CVE-1\n    reason: x\n    packages: [libc6, '']\n",
            r"i\.yaml:4: ignore entry 1: packages must be a string or a list of non-empty",
        ),
        (
            "ignore:\n  - id: CVE-1\n    reason: x\n    purls: [libc6]\n",
            r"i\.yaml:2: ignore entry 1 \(CVE-1\): 'libc6' is not a package URL pattern",
        ),
        (
            "ignore:\n  - id: CVE-1\n    reason: x\n    purls: ['pkg:deb']\n",
            r"'pkg:deb' is not a package URL pattern",
        ),
        (
            "ignore:\n  - id: CVE-1\n    reason: x\n    images: ['Team/App']\n",
            r"ignore entry 1 \(CVE-1\): images: 'Team/App' is not an image name",
        ),
        (
            "ignore:\n  - id: CVE-1\n    reason: x\n    paths: ['usr/{lib']\n",
            r"ignore entry 1 \(CVE-1\): path pattern 'usr/\{lib' has an unclosed",
        ),
    ],
)
def test_malformed_native_files(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_ignore_yaml(text, "i.yaml")


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"cannot read ignore file .*nope\.yaml"):
        load_ignore_file(tmp_path / "nope.yaml")
    binary = tmp_path / ".trivyignore"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(PolicyError, match=r"\.trivyignore"):
        load_ignore_file(binary)


def test_found_in_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_ignore_file() is None
    (tmp_path / ".hullscanignore.yml").write_text("ignore: []\n")
    assert find_ignore_file() == Path(".hullscanignore.yml")  # relative: no machine paths
    (tmp_path / ".hullscanignore.yaml").write_text("ignore: []\n")
    assert find_ignore_file() == Path(".hullscanignore.yaml")
    assert find_ignore_file(tmp_path) == tmp_path / ".hullscanignore.yaml"
    assert os.getcwd() == str(tmp_path)


# --- Trivy's formats (pkg/result/testdata of aquasecurity/trivy) --------------------------


def trivy_finding(vuln_id: str, purl: str = "", paths: tuple[str, ...] = ()) -> Finding:
    name = purl.rpartition("/")[2].partition("@")[0] if purl else "pkg"
    version = purl.partition("@")[2] or "1.0"
    pkg = Package(name, version, PackageType.GOLANG, purl=purl, paths=paths)
    return Finding(vuln_id, pkg, FixStatus.FIXED, Severity.HIGH, "nvd", "", fixed_version="2")


def trivy_report(*findings: Finding, started: str = "2021-08-25T12:20:30+00:00") -> ScanReport:
    return replace(debian(started=started), findings=findings)


def test_trivyignore_fixture() -> None:
    ignore = load_ignore_file(TRIVY / ".trivyignore")
    assert ignore.format is IgnoreFormat.TRIVYIGNORE
    assert [(e.vuln_id, e.expires, e.line) for e in ignore.entries] == [
        ("CVE-2019-0001", None, 2),
        ("CVE-2019-0002", None, 3),
        ("CVE-2019-0004", date(2020, 1, 1), 4),
        ("CVE-2019-0005", date(9999, 1, 1), 5),
        ("CVE-2019-0006", date(9999, 1, 1), 6),  # key2:value2 is ignored, as by Trivy
        ("AVD-ID-0300", None, 9),
        ("generic-unwanted-rule", None, 12),
    ]
    assert ignore.entries[0].reason == "vulnerabilities"  # the comment block above it
    findings = [trivy_finding(f"CVE-2019-000{i}") for i in range(1, 8)]
    report = apply_policy(trivy_report(*findings), Policy(ignore_files=(ignore,)), "ghcr.io/x/y:1")
    suppressed = {f.vuln_id for f in report.findings if f.suppressed}
    # what Trivy's filter_test.go expects: 0004 expired (in 2020), 0003 and 0007 not listed
    assert suppressed == {"CVE-2019-0001", "CVE-2019-0002", "CVE-2019-0005", "CVE-2019-0006"}
    source = str(TRIVY / ".trivyignore")
    assert report.warnings == (
        "ignore entry for CVE-2019-0004 expired on 2020-01-01; the finding is active again "
        f"({source}, line 4)",
    )


@pytest.mark.parametrize(
    ("started", "suppressed"),
    [("2019-12-31T23:00:00+00:00", True), ("2020-01-01T00:00:01+00:00", False)],
)
def test_trivy_exp_date_is_the_first_day_it_no_longer_applies(
    started: str, suppressed: bool
) -> None:
    ignore = parse_trivyignore("CVE-2019-0004 exp:2020-01-01\n")
    report = apply_policy(
        trivy_report(trivy_finding("CVE-2019-0004"), started=started),
        Policy(ignore_files=(ignore,)),
        "x",
    )
    assert report.findings[0].suppressed is suppressed


def test_trivyignore_bad_date_is_an_error() -> None:
    with pytest.raises(PolicyError, match=r"\.trivyignore:2: CVE-2: exp: '2020-13-01' is not"):
        parse_trivyignore("CVE-1\nCVE-2 exp:2020-13-01\n")


def test_trivyignore_yaml_fixture() -> None:
    ignore = load_ignore_file(TRIVY / ".trivyignore.yaml")
    assert ignore.format is IgnoreFormat.TRIVYIGNORE_YAML
    assert [e.vuln_id for e in ignore.entries] == [f"CVE-2019-000{i}" for i in range(1, 8)]
    findings = (
        trivy_finding("CVE-2019-0001", paths=("app/package-lock.json",)),
        trivy_finding("CVE-2019-0001", paths=("app/yarn.lock",)),
        trivy_finding("CVE-2019-0002", paths=("foo/package.json",)),
        trivy_finding("CVE-2019-0003"),
        trivy_finding("CVE-2019-0005"),
        trivy_finding("CVE-2019-0006"),
        trivy_finding("CVE-2019-0007", purl="pkg:golang/github.com/aquasecurity/bar@1.2.3"),
        trivy_finding("CVE-2019-0007", purl="pkg:golang/github.com/aquasecurity/aaa@1.0.0"),
    )
    report = apply_policy(
        trivy_report(*findings, started="2022-06-01T00:00:00Z"),
        Policy(ignore_files=(ignore,)),
        "x",
    )
    assert [f.suppressed for f in report.findings] == [
        True,  # **/*-lock.json
        False,
        False,  # only bar/package.json
        True,
        True,  # expires 2023-01-01, scanned in 2022
        False,  # expired 2020-01-01
        True,  # bar at any version
        False,  # aaa only at 9.9.9
    ]
    source = str(TRIVY / ".trivyignore.yaml")
    assert report.findings[0].suppressed_by == f"ignore:{source}:CVE-2019-0001"


def test_trivyignore_yaml_without_ids() -> None:
    ignore = load_ignore_file(TRIVY / ".trivyignore-id-optional.yaml")
    kernel = Package(
        "linux-libc-dev", "5.15.0-1", PackageType.DEB, purl="pkg:deb/ubuntu/linux-libc-dev@5.15.0-1"
    )
    vendored = replace(kernel, name="x", purl="pkg:golang/x@1", paths=("vendor/x/go.mod",))
    findings = (
        Finding("CVE-2024-1", kernel, FixStatus.AFFECTED, Severity.HIGH, "", ""),
        Finding("CVE-2024-2", vendored, FixStatus.AFFECTED, Severity.HIGH, "", ""),
        Finding(
            "CVE-2024-3",
            replace(vendored, paths=("app/go.mod",)),
            FixStatus.AFFECTED,
            Severity.HIGH,
            "",
            "",
        ),
    )
    report = apply_policy(trivy_report(*findings), Policy(ignore_files=(ignore,)), "x")
    source = str(TRIVY / ".trivyignore-id-optional.yaml")
    assert [f.suppressed_by for f in report.findings] == [
        f"ignore:{source}:*#L2",
        f"ignore:{source}:*#L5",
        "",
    ]
    outcome = policy_outcome(report)
    assert outcome is not None
    info = outcome.rule(f"ignore:{source}:*#L2")
    assert info is not None and info.reason == "Kernel headers, not exercised at runtime"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "vulnerabilities:\n  - id: CVE-1\n    expired-at: 2024-01-01\n",
            r"t\.yaml:2: .*unknown key\(s\) 'expired-at'",
        ),
        (
            "vulnerabilities:\n  - statement: everything\n",
            r"without an 'id' it needs 'purls' or 'paths'",
        ),
        (
            "vulnerabilities:\n  - id: CVE-1\n    purls: ['golang/x']\n",
            r"'golang/x' is not a package URL",
        ),
        (
            "vulnerabilities:\n  - id: CVE-1\n    expired_at: 2024-1-1\n",
            r"\(CVE-1\): expired_at: '2024-1-1' is not a date",
        ),
        ("vulnerabilities: CVE-1\n", r"'vulnerabilities' must be a list"),
        ("vulnerabilities:\n  - id: CVE-1\n    statement: [a]\n", r"'statement' must be text"),
    ],
)
def test_malformed_trivy_yaml(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_ignore_yaml(text, "t.yaml")


def test_several_ignore_files_first_match_wins() -> None:
    first = parse_ignore_yaml("ignore:\n- id: CVE-2023-5678\n  reason: a\n", "a.yaml")
    second = parse_trivyignore("CVE-2023-5678\nCVE-2023-4911\n", ".trivyignore")
    report = apply_policy(debian(), Policy(ignore_files=(first, second)), fx.REFERENCE)
    assert rules(report)[("CVE-2023-5678", "libssl3")] == "ignore:a.yaml:CVE-2023-5678"
    assert rules(report)[("CVE-2023-4911", "libc6")] == "ignore:.trivyignore:CVE-2023-4911"


def test_policy_with_ignore_files_is_hashable() -> None:
    ignore = load_ignore_file(FIXTURES / "hullscanignore.yaml")
    assert hash(Policy(ignore_files=(ignore,))) == hash(Policy(ignore_files=(ignore,)))
    assert Policy(ignore_files=[ignore]).ignore_files == (ignore,)  # type: ignore[arg-type]


def test_load_policy_reads_every_file_and_discovers_the_native_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".hullscanignore.yaml").write_text("ignore:\n- id: CVE-1\n  reason: r\n")
    (tmp_path / ".trivyignore").write_text("CVE-2\n")
    found = load_policy(fail_on=Severity.HIGH, fail_on_kev=True)
    assert [f.source for f in found.ignore_files] == [".hullscanignore.yaml"]
    assert found.fail_on is Severity.HIGH and found.fail_on_kev
    explicit = load_policy(ignorefiles=[".trivyignore"], vex=[TRIVY / "openvex-oci.json"])
    assert [f.format for f in explicit.ignore_files] == [IgnoreFormat.TRIVYIGNORE]
    assert [d.format for d in explicit.vex] == ["openvex"]
    assert load_policy(discover=False).ignore_files == ()
    (tmp_path / ".hullscanignore.yaml").write_text("ignore:\n- id: CVE-1\n")
    with pytest.raises(PolicyError, match=r"\.hullscanignore\.yaml:2: .*'reason' is required"):
        load_policy()


def test_yaml_without_extension_is_read_as_yaml(tmp_path: Path) -> None:
    path = tmp_path / ".hullscanignore"
    path.write_text("# ours\nignore:\n  - id: CVE-1\n    reason: r\n")
    assert load_ignore_file(path).format is IgnoreFormat.HULLSCAN
    path.write_text("vulnerabilities:\n  - id: CVE-1\n")
    assert load_ignore_file(path).format is IgnoreFormat.TRIVYIGNORE_YAML
    path.write_text("# ids\nCVE-1\n")
    assert load_ignore_file(path).format is IgnoreFormat.TRIVYIGNORE
