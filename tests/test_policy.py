"""Policy: severity filter, suppression rules, clair-scanner whitelists and the gate."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hullscan.errors import PolicyError
from hullscan.model import Finding, FixStatus, ScanReport, Severity
from hullscan.policy import (
    ClairWhitelist,
    Policy,
    apply_policy,
    failing_findings,
    gate,
    load_clair_whitelist,
    parse_clair_whitelist,
    policy_outcome,
)
from tests.report import fixtures as fx

FIXTURES = Path(__file__).parent / "policy"


def report_with(*findings: Finding, reference: str = fx.REFERENCE) -> ScanReport:
    return replace(fx.debian_report(reference), findings=findings)


def one(severity: Severity, status: FixStatus = FixStatus.FIXED, vuln_id: str = "CVE-1") -> Finding:
    fixed = "1.0" if status is FixStatus.FIXED else ""
    return fx.finding(vuln_id, fx.LIBC6, severity, status, fixed=fixed)


def rules(report: ScanReport) -> dict[tuple[str, str], str]:
    return {(f.vuln_id, f.package.name): f.suppressed_by for f in report.findings}


# --- gate -------------------------------------------------------------------------------


@pytest.mark.parametrize("threshold", list(Severity))
@pytest.mark.parametrize("severity", list(Severity))
def test_gate_boundaries(threshold: Severity, severity: Severity) -> None:
    report = apply_policy(report_with(one(severity)), Policy(fail_on=threshold), "x")
    assert gate(report, Policy(fail_on=threshold)) is (severity >= threshold)


def test_gate_without_threshold_never_fails() -> None:
    report = fx.debian_report()
    assert gate(report, Policy()) is False
    assert failing_findings(report, Policy()) == ()


def test_gate_ignores_suppressed_findings() -> None:
    critical = replace(one(Severity.CRITICAL), suppressed_by="whitelist:general")
    report = report_with(critical, one(Severity.LOW, vuln_id="CVE-2"))
    assert gate(report, Policy(fail_on=Severity.HIGH)) is False
    assert gate(report, Policy(fail_on=Severity.LOW)) is True
    assert [f.vuln_id for f in failing_findings(report, Policy(fail_on=Severity.LOW))] == ["CVE-2"]


def test_gate_unknown_threshold_fails_on_anything_like_clair_scanner_default() -> None:
    report = report_with(one(Severity.UNKNOWN))
    assert gate(report, Policy(fail_on=Severity.UNKNOWN)) is True
    assert gate(report, Policy(fail_on=Severity.NEGLIGIBLE)) is False


def test_gate_on_realistic_report() -> None:
    policy = Policy(fail_on=Severity.CRITICAL, ignore_unfixed=True)
    report = apply_policy(fx.debian_report(), policy, fx.REFERENCE)
    assert gate(report, policy) is True  # curl CVE-2023-38545 is fixed and critical
    ids = {(f.vuln_id, f.finding.package.name) for f in failing_findings(report, policy)}
    assert ids == {("CVE-2023-38545", "curl"), ("CVE-2023-38545", "libcurl4")}


# --- ignore-unfixed ---------------------------------------------------------------------


@pytest.mark.parametrize("status", list(FixStatus))
def test_ignore_unfixed(status: FixStatus) -> None:
    report = apply_policy(report_with(one(Severity.HIGH, status)), Policy(ignore_unfixed=True), "x")
    expected = "" if status is FixStatus.FIXED else "ignore-unfixed"
    assert report.findings[0].suppressed_by == expected


def test_ignore_unfixed_off_by_default() -> None:
    report = apply_policy(fx.debian_report(), Policy(), fx.REFERENCE)
    assert report.findings == fx.debian_report().findings


def test_ignore_unfixed_on_realistic_report() -> None:
    report = apply_policy(fx.debian_report(), Policy(ignore_unfixed=True), fx.REFERENCE)
    assert len(report.findings) == 11  # nothing dropped
    assert {f.package.name for f in report.active_findings} == {
        "libc6",
        "libssl3",
        "openssl",
        "curl",
        "libcurl4",
    }
    zlib = next(f for f in report.findings if f.package.name == "zlib1g")
    assert zlib.status is FixStatus.WILL_NOT_FIX and zlib.suppressed_by == "ignore-unfixed"


# --- min_severity (display filter) ------------------------------------------------------


def test_min_severity_drops_and_counts() -> None:
    report = apply_policy(fx.debian_report(), Policy(min_severity=Severity.MEDIUM), "x")
    assert {f.severity for f in report.findings} == {
        Severity.CRITICAL,
        Severity.HIGH,
        Severity.MEDIUM,
    }
    outcome = policy_outcome(report)
    assert outcome is not None and outcome.dropped_below_min_severity == 3
    assert len(report.findings) + 3 == len(fx.debian_report().findings)


def test_min_severity_unknown_keeps_everything() -> None:
    report = apply_policy(fx.debian_report(), Policy(min_severity=Severity.UNKNOWN), "x")
    assert report.findings == fx.debian_report().findings


def test_apply_policy_is_idempotent_and_keeps_order() -> None:
    whitelist = parse_clair_whitelist(fx.WHITELIST_YAML)
    policy = Policy(ignore_unfixed=True, whitelist=whitelist, min_severity=Severity.LOW)
    once = apply_policy(fx.debian_report(), policy, fx.REFERENCE)
    twice = apply_policy(once, policy, fx.REFERENCE)
    assert twice.findings == once.findings
    first, second = policy_outcome(once), policy_outcome(twice)
    assert first is not None and second is not None
    assert second.dropped_below_min_severity == first.dropped_below_min_severity == 3
    kept = [f for f in fx.debian_report().findings if f.severity >= Severity.LOW]
    assert [(f.vuln_id, f.package) for f in once.findings] == [(f.vuln_id, f.package) for f in kept]


def test_apply_policy_does_not_touch_its_input() -> None:
    report = fx.debian_report()
    apply_policy(report, Policy(ignore_unfixed=True, min_severity=Severity.HIGH), "x")
    assert report.findings == fx.debian_report().findings
    assert policy_outcome(report) is None


def test_earlier_suppression_is_kept() -> None:
    vexed = replace(one(Severity.HIGH, FixStatus.AFFECTED), suppressed_by="vex:not_affected")
    report = apply_policy(report_with(vexed), Policy(ignore_unfixed=True), "x")
    assert report.findings[0].suppressed_by == "vex:not_affected"


# --- whitelist: format ------------------------------------------------------------------


def test_clair_scanner_example_file() -> None:
    whitelist = load_clair_whitelist(FIXTURES / "clair-example-whitelist.yaml")
    assert dict(whitelist.general) == {"CVE-2017-6055": "XML", "CVE-2017-5586": "OpenText"}
    assert dict(whitelist.images["ubuntu"]) == {"CVE-2017-5230": "XSX"}  # last duplicate wins
    assert dict(whitelist.images["alpine"]) == {"CVE-2017-3261": "SE"}
    assert whitelist.source.endswith("clair-example-whitelist.yaml")


@pytest.mark.parametrize(
    "text",
    ["", "# nothing accepted yet\n", "generalwhitelist:\n", "images:\n", "images: {}\n"],
)
def test_empty_whitelists_are_fine(text: str) -> None:
    whitelist = parse_clair_whitelist(text, "w.yaml")
    assert not whitelist.general and all(not v for v in whitelist.images.values())


def test_null_note_and_scalar_notes() -> None:
    whitelist = parse_clair_whitelist(
        "generalwhitelist:\n  CVE-1:\n  CVE-2: 42\n  CVE-3: yes\n", "w.yaml"
    )
    assert dict(whitelist.general) == {"CVE-1": "", "CVE-2": "42", "CVE-3": "True"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("generalwhitelist: [CVE-1\n", r"w\.yaml: invalid YAML at line 2, column 1"),
        ("generalwhitelist:\n  CVE-1: a\n bad: indent\n", r"w\.yaml: invalid YAML at line 3"),
        ("- CVE-2017-6055\n", r"w\.yaml: a whitelist must be a mapping .* got a list"),
        ("just a string\n", r"w\.yaml: a whitelist must be a mapping .* got str"),
        (
            "generalwhitelist:\n  - CVE-2017-6055\n",
            r"w\.yaml: generalwhitelist must be a mapping of vulnerability id to note.*got a list",
        ),
        ("generalwhitelist: CVE-1\n", r"generalwhitelist must be a mapping .* got str 'CVE-1'"),
        ("generalwhitelist:\n  CVE-1: [a, b]\n", r"the note of CVE-1 must be a single value"),
        ("generalwhitelist:\n  1234: note\n", r"vulnerability id 1234 must be a non-empty string"),
        ("images:\n  - ubuntu\n", r"images must be a mapping of image name"),
        ("images:\n  ubuntu: [CVE-1]\n", r"images: ubuntu must be a mapping of vulnerability id"),
        ("images:\n  Ubuntu:\n    CVE-1: x\n", r"images key 'Ubuntu' is not a valid image name"),
        (
            "images:\n  https://registry/app:\n    CVE-1: x\n",
            r"images key 'https://registry/app' is not a valid image name",
        ),
        ("images:\n  42:\n    CVE-1: x\n", r"images: image name 42 must be a string"),
        (
            "generalWhitelist:\n  CVE-1: x\n",
            r"unknown key\(s\) 'generalWhitelist'; a whitelist has only",
        ),
    ],
)
def test_malformed_whitelists(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_clair_whitelist(text, "w.yaml")


def test_missing_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"cannot read whitelist .*nope\.yaml"):
        load_clair_whitelist(tmp_path / "nope.yaml")


def test_binary_file_is_a_policy_error(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(PolicyError, match=r"w\.yaml"):
        load_clair_whitelist(path)


def test_direct_construction_validates_image_keys() -> None:
    with pytest.raises(PolicyError, match="not a valid image name"):
        ClairWhitelist(images={"-bad": {"CVE-1": ""}})


def test_whitelist_is_immutable_and_policy_hashable() -> None:
    whitelist = parse_clair_whitelist(fx.WHITELIST_YAML)
    with pytest.raises(TypeError):
        whitelist.general["CVE-9"] = "x"  # type: ignore[index]
    assert hash(Policy(whitelist=whitelist)) == hash(Policy(whitelist=whitelist))


# --- whitelist: matching ----------------------------------------------------------------


def image_rule(key: str, reference: str, vuln_id: str = "CVE-2023-4911") -> str:
    """The suppressed_by of a libc6 finding when `key` whitelists `vuln_id`."""
    whitelist = parse_clair_whitelist(f"images:\n  '{key}':\n    {vuln_id}: note\n", "w.yaml")
    finding = fx.finding("CVE-2023-4911", fx.LIBC6, Severity.HIGH, FixStatus.FIXED, "2")
    report = apply_policy(
        report_with(finding, reference=reference), Policy(whitelist=whitelist), reference
    )
    return report.findings[0].suppressed_by


def test_general_whitelist() -> None:
    whitelist = parse_clair_whitelist(fx.WHITELIST_YAML)
    report = apply_policy(
        fx.debian_report("other/image:1"), Policy(whitelist=whitelist), "other/image:1"
    )
    assert rules(report)[("CVE-2023-4039", "libgcc-s1")] == "whitelist:general"
    # the per-image entry is for registry.example.com:5000/team/app only
    assert rules(report)[("CVE-2023-50495", "libtinfo6")] == ""


def test_general_whitelist_matches_aliases_case_insensitively() -> None:
    whitelist = parse_clair_whitelist("generalwhitelist:\n  cve-2023-4911: lower case\n")
    aliased = fx.finding(
        "DSA-5514-1", fx.LIBC6, Severity.HIGH, FixStatus.FIXED, "2", aliases=("CVE-2023-4911",)
    )
    report = apply_policy(report_with(aliased), Policy(whitelist=whitelist), "x")
    assert report.findings[0].suppressed_by == "whitelist:general"


@pytest.mark.parametrize(
    ("key", "reference", "matches"),
    [
        # host:port registries: the repository, not "the text before the first colon"
        ("registry:5000/app", "registry:5000/app:1.0", True),
        ("registry", "registry:5000/app:1.0", False),
        ("registry:5000", "registry:5000/app:1.0", False),
        ("registry:5000/app", "registry:5000/other:1.0", False),
        ("registry:5000/app", "registry:5001/app:1.0", False),
        ("registry:5000/app", "other:5000/app:1.0", False),
        ("registry:5000/app", "registry:5000/app@sha256:" + "a" * 64, True),
        ("registry.example.com:5000/team/app", fx.REFERENCE, True),
        ("REGISTRY.example.com:5000/team/app", fx.REFERENCE, True),
        ("registry.example.com/team/app", fx.REFERENCE, False),
        # a short name (no registry written) matches that repository in any registry,
        # which is what clair-scanner's README wanted for registry:777/ubuntu:tag
        ("team/app", fx.REFERENCE, True),
        ("app", fx.REFERENCE, False),
        ("ubuntu", "registry:777/ubuntu:22.04", True),
        ("team", fx.REFERENCE, False),
        ("team/app2", fx.REFERENCE, False),
        # Docker Hub normalisation
        ("alpine", "alpine", True),
        ("alpine", "alpine:3.19", True),
        ("alpine", "library/alpine:3.19", True),
        ("alpine", "docker.io/library/alpine:3.19", True),
        ("alpine", "index.docker.io/library/alpine", True),
        ("library/alpine", "alpine:3.19", True),
        ("docker.io/library/alpine", "alpine:3.19", True),
        ("docker.io/alpine", "alpine:3.19", True),
        ("index.docker.io/alpine", "docker.io/alpine", True),
        ("docker.io/library/alpine", "ghcr.io/library/alpine", False),
        ("docker.io/team/app", "team/app:1", True),
        ("docker.io/team/app", fx.REFERENCE, False),
        ("alpine", "alpinelinux/alpine", False),
        ("localhost/app", "localhost/app:dev", True),
        ("localhost/app", "app:dev", False),
        # a tag or digest in the key narrows it
        ("alpine:3.19", "alpine:3.19", True),
        ("alpine:3.19", "alpine:3.18", False),
        ("alpine:3.19", "alpine", False),
        ("registry:5000/app:1.0", "registry:5000/app:1.0", True),
        ("registry:5000/app:1.0", "registry:5000/app:1.1", False),
    ],
)
def test_image_matching(key: str, reference: str, matches: bool) -> None:
    assert image_rule(key, reference) == (f"whitelist:image:{key}" if matches else "")


def test_image_entry_for_another_cve_does_not_match() -> None:
    assert image_rule("registry:5000/app", "registry:5000/app:1.0", "CVE-2023-9999") == ""


def test_unparseable_reference_falls_back_to_repo_tags() -> None:
    """`hullscan image --input app.tar`: the archive's RepoTags name the image."""
    whitelist = parse_clair_whitelist("images:\n  registry:5000/app:\n    CVE-2023-4911: x\n")
    finding = fx.finding("CVE-2023-4911", fx.LIBC6, Severity.HIGH, FixStatus.FIXED, "2")
    base = replace(
        report_with(finding), inventory=fx.debian_inventory("app.tar", ("registry:5000/app:1.0",))
    )
    report = apply_policy(base, Policy(whitelist=whitelist), "./build/App Image.tar")
    assert report.findings[0].suppressed_by == "whitelist:image:registry:5000/app"
    no_tags = replace(base, inventory=fx.debian_inventory("app.tar", ()))
    report = apply_policy(no_tags, Policy(whitelist=whitelist), "./build/App Image.tar")
    assert report.findings[0].suppressed_by == ""


def test_precedence_image_then_general_then_ignore_unfixed() -> None:
    whitelist = parse_clair_whitelist(
        "generalwhitelist:\n  CVE-A: g\n  CVE-B: g\nimages:\n  registry:5000/app:\n    CVE-A: i\n"
    )
    findings = (
        one(Severity.HIGH, FixStatus.AFFECTED, "CVE-A"),
        one(Severity.HIGH, FixStatus.AFFECTED, "CVE-B"),
        one(Severity.HIGH, FixStatus.AFFECTED, "CVE-C"),
        one(Severity.HIGH, FixStatus.FIXED, "CVE-D"),
    )
    policy = Policy(ignore_unfixed=True, whitelist=whitelist, fail_on=Severity.HIGH)
    report = apply_policy(report_with(*findings), policy, "registry:5000/app:1.0")
    assert [f.suppressed_by for f in report.findings] == [
        "whitelist:image:registry:5000/app",
        "whitelist:general",
        "ignore-unfixed",
        "",
    ]
    assert gate(report, policy) is True
    assert [f.vuln_id for f in failing_findings(report, policy)] == ["CVE-D"]


def test_team_whitelist_on_private_registry_image() -> None:
    whitelist = load_clair_whitelist(FIXTURES / "team-whitelist.yaml")
    policy = Policy(fail_on=Severity.HIGH, whitelist=whitelist)
    report = apply_policy(fx.debian_report(), policy, fx.REFERENCE)
    got = {k: v for k, v in rules(report).items() if v}
    assert got == {
        ("CVE-2005-2541", "tar"): "whitelist:general",
        ("TEMP-0841856-B18BAF", "bash"): "whitelist:general",
        ("CVE-2023-4911", "libc6"): "whitelist:image:registry.example.com:5000/team/app",
        ("CVE-2023-50495", "libtinfo6"): "whitelist:image:team/app",
    }
    # registry:5000/app's zlib entry and alpine's openssl entry do not apply here
    assert gate(report, policy) is True


def test_team_whitelist_on_docker_hub_image() -> None:
    whitelist = load_clair_whitelist(FIXTURES / "team-whitelist.yaml")
    for ref in ("debian:12", "docker.io/library/debian:12"):
        report = apply_policy(fx.debian_report(ref), Policy(whitelist=whitelist), ref)
        assert rules(report)[("CVE-2024-2236", "libgcrypt20")] == "whitelist:image:debian:12"
    report = apply_policy(fx.debian_report("debian:11"), Policy(whitelist=whitelist), "debian:11")
    assert rules(report)[("CVE-2024-2236", "libgcrypt20")] == ""


# --- properties ---------------------------------------------------------------------------

severities = st.sampled_from(list(Severity))
statuses = st.sampled_from(list(FixStatus))


@given(
    specs=st.lists(st.tuples(severities, statuses), max_size=12),
    threshold=st.one_of(st.none(), severities),
    minimum=st.one_of(st.none(), severities),
    ignore_unfixed=st.booleans(),
)
def test_policy_properties(
    specs: list[tuple[Severity, FixStatus]],
    threshold: Severity | None,
    minimum: Severity | None,
    ignore_unfixed: bool,
) -> None:
    findings = tuple(one(sev, status, f"CVE-{i}") for i, (sev, status) in enumerate(specs))
    policy = Policy(fail_on=threshold, ignore_unfixed=ignore_unfixed, min_severity=minimum)
    report = apply_policy(report_with(*findings), policy, "x")
    outcome = policy_outcome(report)
    assert outcome is not None
    # nothing disappears silently: kept + counted-as-dropped == input
    assert len(report.findings) + outcome.dropped_below_min_severity == len(findings)
    # only the severity filter removes findings
    if minimum is None:
        assert [f.vuln_id for f in report.findings] == [f.vuln_id for f in findings]
    # the gate is exactly "an active finding at or above the threshold"
    expected = threshold is not None and any(
        f.severity >= threshold
        and (minimum is None or f.severity >= minimum)
        and not (ignore_unfixed and f.status is not FixStatus.FIXED)
        for f in findings
    )
    assert gate(report, policy) is expected


def test_most_specific_image_entry_wins() -> None:
    whitelist = parse_clair_whitelist(
        "images:\n"
        "  app:\n    CVE-2023-4911: short name\n"
        "  registry:5000/app:\n    CVE-2023-4911: registry\n"
        "  registry:5000/app:1.0:\n    CVE-2023-4911: this tag\n"
    )
    assert [p.key for p in whitelist.patterns] == [
        "registry:5000/app:1.0",
        "registry:5000/app",
        "app",
    ]
    finding = fx.finding("CVE-2023-4911", fx.LIBC6, Severity.HIGH, FixStatus.FIXED, "2")
    for ref, rule in [
        ("registry:5000/app:1.0", "whitelist:image:registry:5000/app:1.0"),
        ("registry:5000/app:2.0", "whitelist:image:registry:5000/app"),
        ("other:5000/app:2.0", "whitelist:image:app"),
    ]:
        report = apply_policy(report_with(finding, reference=ref), Policy(whitelist=whitelist), ref)
        assert report.findings[0].suppressed_by == rule
