"""The gate beyond severity: CISA KEV, EPSS, fixable only; which findings fail and why."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hullscan.errors import PolicyError
from hullscan.model import Finding, FixStatus, ScanReport, Severity
from hullscan.policy import (
    GateReason,
    Policy,
    apply_policy,
    failing_findings,
    gate,
    gate_messages,
    parse_ignore_yaml,
)
from hullscan.report import json as json_report
from tests.report import fixtures as fx

SCHEMA = Path(__file__).parent / "report" / "hullscan-report.schema.json"


def enriched() -> ScanReport:
    """The Debian fixture with KEV and EPSS facts as the enrichment feeds give them:
    curl's SOCKS5 overflow is in neither; glibc's Looney Tunables is in KEV (2023-11-21)."""
    facts = {
        ("CVE-2023-4911", "libc6"): ("2023-11-21", 0.7521),
        ("CVE-2023-38545", "curl"): ("", 0.2611),
        ("CVE-2023-38545", "libcurl4"): ("", 0.2611),
        ("CVE-2023-45853", "zlib1g"): ("", 0.0102),
        ("CVE-2023-5678", "libssl3"): ("", 0.0043),
        ("CVE-2024-2236", "libgcrypt20"): ("", None),
    }
    findings = []
    for f in fx.debian_findings():
        kev, epss = facts.get((f.vuln_id, f.package.name), ("", None))
        findings.append(replace(f, kev_added=kev, epss=epss))
    return replace(fx.debian_report(), findings=tuple(findings))


def failing(
    policy: Policy, report: ScanReport | None = None
) -> dict[tuple[str, str], tuple[str, ...]]:
    applied = apply_policy(report or enriched(), policy, fx.REFERENCE)
    return {
        (f.vuln_id, f.finding.package.name): tuple(r.value for r in f.reasons)
        for f in failing_findings(applied, policy)
    }


def test_kev() -> None:
    assert failing(Policy(fail_on_kev=True)) == {("CVE-2023-4911", "libc6"): ("kev",)}


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [
        (0.9, set()),
        (0.7521, {"libc6"}),  # at the threshold fails
        (0.26, {"libc6", "curl", "libcurl4"}),
        (0.0, {"libc6", "curl", "libcurl4", "zlib1g", "libssl3"}),  # no EPSS score: never
    ],
)
def test_epss(threshold: float, expected: set[str]) -> None:
    got = failing(Policy(fail_on_epss=threshold))
    assert {name for _, name in got} == expected
    assert all(reasons == ("epss",) for reasons in got.values())


def test_thresholds_combine_with_or_and_list_every_reason() -> None:
    policy = Policy(fail_on=Severity.CRITICAL, fail_on_kev=True, fail_on_epss=0.5)
    assert failing(policy) == {
        ("CVE-2023-4911", "libc6"): ("kev", "epss"),  # HIGH: not by severity
        ("CVE-2023-38545", "curl"): ("severity",),
        ("CVE-2023-38545", "libcurl4"): ("severity",),
        ("CVE-2023-45853", "zlib1g"): ("severity",),
    }


def test_fixable_narrows_every_threshold() -> None:
    # zlib1g's CRITICAL is will_not_fix: no fix to apply, so it does not fail
    policy = Policy(fail_on=Severity.CRITICAL, fail_on_fixable=True)
    assert failing(policy) == {
        ("CVE-2023-38545", "curl"): ("severity", "fixable"),
        ("CVE-2023-38545", "libcurl4"): ("severity", "fixable"),
    }
    unfixed_kev = replace(
        enriched(),
        findings=tuple(
            replace(f, status=FixStatus.AFFECTED, fixed_version="")
            if f.package.name == "libc6"
            else f
            for f in enriched().findings
        ),
    )
    assert failing(Policy(fail_on_kev=True, fail_on_fixable=True), unfixed_kev) == {}
    assert failing(Policy(fail_on_kev=True), unfixed_kev) == {("CVE-2023-4911", "libc6"): ("kev",)}


def test_fixable_alone_fails_on_any_fixable_finding() -> None:
    got = failing(Policy(fail_on_fixable=True))
    assert got == {
        ("CVE-2023-4911", "libc6"): ("fixable",),
        ("CVE-2023-5678", "libssl3"): ("fixable",),
        ("CVE-2023-5678", "openssl"): ("fixable",),
        ("CVE-2023-38545", "curl"): ("fixable",),
        ("CVE-2023-38545", "libcurl4"): ("fixable",),
    }


def test_suppressed_and_dropped_findings_never_fail() -> None:
    ignore = parse_ignore_yaml(
        "ignore:\n- id: CVE-2023-4911\n  reason: no setuid binaries\n", "i.yaml"
    )
    policy = Policy(fail_on_kev=True, fail_on_epss=0.5, ignore_files=(ignore,))
    report = apply_policy(enriched(), policy, fx.REFERENCE)
    assert failing_findings(report, policy) == () and gate(report, policy) is False
    dropped = Policy(fail_on_kev=True, min_severity=Severity.CRITICAL)
    assert failing(dropped) == {}


def test_details_and_messages() -> None:
    policy = Policy(fail_on=Severity.HIGH, fail_on_kev=True, fail_on_epss=0.5, fail_on_fixable=True)
    report = apply_policy(enriched(), policy, fx.REFERENCE)
    libc = next(f for f in failing_findings(report, policy) if f.vuln_id == "CVE-2023-4911")
    assert libc.reasons == (
        GateReason.SEVERITY,
        GateReason.KEV,
        GateReason.EPSS,
        GateReason.FIXABLE,
    )
    assert libc.describe() == (
        "CVE-2023-4911 in libc6 2.36-9+deb12u1: severity HIGH at or above HIGH; "
        "in CISA KEV since 2023-11-21; EPSS 0.7521 at or above 0.5; fixed in 2.36-9+deb12u3"
    )
    assert gate_messages(report, policy) == (
        "failing: 3 finding(s) at or above HIGH or in CISA KEV or with EPSS >= 0.5, with a fix "
        "(CVE-2023-38545, CVE-2023-4911)",
    )


def test_eol_gate_is_independent() -> None:
    report = replace(enriched(), meta={"started_at": "2030-01-01T00:00:00+00:00"})
    policy = Policy(fail_on_eol=True)
    applied = apply_policy(report, policy, fx.REFERENCE)
    assert gate(applied, policy) is True and failing_findings(applied, policy) == ()
    assert gate_messages(applied, policy) == (
        "failing: the OS reached its end of life on 2028-06-30 (--fail-on-eol)",
    )


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), True])
def test_epss_threshold_must_be_a_probability(bad: float) -> None:
    with pytest.raises(PolicyError, match="EPSS threshold"):
        Policy(fail_on_epss=bad)


def test_policy_properties() -> None:
    assert not Policy().gating
    assert Policy(fail_on_epss=0.0).gates_findings
    assert Policy(fail_on_eol=True).gating and not Policy(fail_on_eol=True).gates_findings


def test_json_report_says_which_findings_fail_and_why() -> None:
    policy = Policy(fail_on=Severity.CRITICAL, fail_on_kev=True, fail_on_fixable=True)
    report = apply_policy(enriched(), policy, fx.REFERENCE)
    doc = json_report.to_document(report, fx.options())
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(doc)) == []
    section = doc["policy"]
    assert (section["fail_on"], section["fail_on_kev"], section["fail_on_epss"]) == (
        "CRITICAL",
        True,
        None,
    )
    assert section["fail_on_fixable"] is True and section["failed"] is True
    assert [(f["id"], f["package"], f["reasons"]) for f in section["failing"]] == [
        ("CVE-2023-38545", "curl", ["severity", "fixable"]),
        ("CVE-2023-38545", "libcurl4", ["severity", "fixable"]),
        ("CVE-2023-4911", "libc6", ["kev", "fixable"]),
    ]


severities = st.sampled_from(list(Severity))
statuses = st.sampled_from(list(FixStatus))


@given(
    specs=st.lists(
        st.tuples(
            severities,
            statuses,
            st.booleans(),
            st.one_of(st.none(), st.floats(0, 1)),
            st.booleans(),
        ),
        max_size=10,
    ),
    fail_on=st.one_of(st.none(), severities),
    kev=st.booleans(),
    epss=st.one_of(st.none(), st.floats(0, 1)),
    fixable=st.booleans(),
)
def test_gate_definition(
    specs: list[tuple[Severity, FixStatus, bool, float | None, bool]],
    fail_on: Severity | None,
    kev: bool,
    epss: float | None,
    fixable: bool,
) -> None:
    """The gate is exactly: an active finding, with a fix if fail_on_fixable, that is at
    or above fail_on, or in KEV, or at or above the EPSS threshold (or, with only
    fail_on_fixable, any such finding)."""
    findings = tuple(
        Finding(
            f"CVE-{i}",
            fx.LIBC6,
            status,
            sev,
            "nvd",
            "debian:12",
            fixed_version="1" if status is FixStatus.FIXED else "",
            kev_added="2024-01-01" if in_kev else "",
            epss=score,
            suppressed_by="x" if gone else "",
        )
        for i, (sev, status, in_kev, score, gone) in enumerate(specs)
    )
    policy = Policy(fail_on=fail_on, fail_on_kev=kev, fail_on_epss=epss, fail_on_fixable=fixable)
    report = replace(fx.debian_report(), findings=findings)
    only_fixable = fixable and fail_on is None and not kev and epss is None

    def fails(f: Finding) -> bool:
        if f.suppressed or (fixable and f.status is not FixStatus.FIXED):
            return False
        return (
            only_fixable
            or (fail_on is not None and f.severity >= fail_on)
            or (kev and bool(f.kev_added))
            or (epss is not None and f.epss is not None and f.epss >= epss)
        )

    expected = [f.vuln_id for f in findings if fails(f)]
    assert [f.vuln_id for f in failing_findings(report, policy)] == expected
    assert gate(report, policy) is bool(expected)
