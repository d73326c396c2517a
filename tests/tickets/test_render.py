"""Fingerprints, Markdown safety, report loading and CI details, without a tracker."""

from __future__ import annotations

import json

import pytest

from hullscan.errors import ReportError
from hullscan.model import Severity
from hullscan.report.load import LoadedReport, parse_reports
from hullscan.tickets.fingerprint import (
    KeyBy,
    TrackedFinding,
    finding_digest,
    image_key,
    parse_description,
    state_marker,
)
from hullscan.tickets.pipeline import PipelineInfo
from hullscan.tickets.render import (
    IssueContent,
    code,
    compare,
    description,
    escape,
    update_comment,
)
from tests.tickets.reports import Scans


def finding(vuln: str = "CVE-2024-1", package: str = "openssl", **kw: str) -> TrackedFinding:
    fields = {
        "type": "deb",
        "arch": "amd64",
        "installed": "1.0",
        "fixed": "1.1",
        "severity": "HIGH",
    }
    fields.update(kw)
    return TrackedFinding(id=vuln, package=package, **fields)


@pytest.mark.parametrize(
    ("image", "by", "key"),
    [
        ("alpine:3.19", KeyBy.REPOSITORY, "docker.io/library/alpine"),
        ("docker.io/library/alpine", KeyBy.REPOSITORY, "docker.io/library/alpine"),
        (
            "registry.example.com:5000/team/app:1.2@sha256:" + "a" * 64,
            KeyBy.REPOSITORY,
            "registry.example.com:5000/team/app",
        ),
        ("alpine", KeyBy.TAG, "docker.io/library/alpine:latest"),
        ("ghcr.io/o/app:2.0", KeyBy.TAG, "ghcr.io/o/app:2.0"),
        ("./my image.tar", KeyBy.REPOSITORY, "./my%20image.tar"),
        ("x --> y", KeyBy.REPOSITORY, "x%20--%3E%20y"),
    ],
)
def test_image_keys(image: str, by: KeyBy, key: str) -> None:
    assert image_key(image, by) == key


def test_digest_is_order_independent_and_version_sensitive() -> None:
    a, b = finding("CVE-1"), finding("CVE-2")
    assert finding_digest([a, b]) == finding_digest([b, a, a])
    assert finding_digest([a]) != finding_digest([finding("CVE-1", installed="1.0-r1")])
    assert finding_digest([]) == finding_digest(())


def test_state_round_trip_and_tampering() -> None:
    findings = (finding("CVE-1"), finding("CVE-2", package="@scope/pkg"))
    text = "<!-- hullscan:fingerprint v1 image=docker.io/x/y digest=sha256:" + "0" * 64 + " -->\n"
    parsed = parse_description(text + state_marker(findings))
    assert parsed is not None and parsed.image == "docker.io/x/y"
    assert parsed.findings == findings
    tampered = parse_description(text + "<!-- hullscan:state v1 bm90IHppcA== -->")
    assert tampered is not None and tampered.findings is None
    assert parse_description("an issue someone wrote") is None


def test_compare_lists_new_fixed_and_changed() -> None:
    old = [finding("CVE-1"), finding("CVE-2"), finding("CVE-3", severity="LOW")]
    new = [
        finding("CVE-2"),
        finding("CVE-3", severity="CRITICAL", installed="1.0-r2"),
        finding("CVE-4"),
    ]
    changes = compare(old, new)
    assert [f.id for f in changes.new] == ["CVE-4"]
    assert [f.id for f in changes.fixed] == ["CVE-1"]
    assert [(b.severity, a.severity) for b, a in changes.changed] == [("LOW", "CRITICAL")]
    comment = update_comment(changes, new, {}, PipelineInfo(), None, 65_536)
    assert "1 new, 1 fixed, 1 changed" in comment
    assert "severity LOW → CRITICAL; installed `1.0` → `1.0-r2`" in comment
    unknown = update_comment(compare(None, new), new, {}, PipelineInfo(), None, 65_536)
    assert "could not be read" in unknown


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("openssl", "`openssl`"),
        ("@scope/pkg", "`@scope/pkg`"),
        ("a`b", "`` a`b ``"),
        ("line\nbreak\x1b[31m", "`line break [31m`"),
        ("", "–"),
    ],
)
def test_untrusted_text_goes_into_code_spans(text: str, expected: str) -> None:
    assert code(text) == expected


def test_escape_neutralises_markdown_and_html() -> None:
    assert escape("<img src=x onerror=alert(1)> | [link](http://x) @everyone") == (
        "\\<img src=x onerror=alert\\(1\\)\\> \\| \\[link\\]\\(http://x\\) \\@everyone"
    )


def test_hostile_package_names_cannot_break_the_table(scans: Scans) -> None:
    document = json.loads(scans.json())
    hostile = document["findings"][0]
    hostile["package"]["name"] = "evil|pkg`\n<script>"
    hostile["layer"]["created_by"] = "RUN echo `id` | sh\n@admin"
    (report,) = parse_reports(json.dumps(document), "x.json")
    tracked = tuple(TrackedFinding.of(f) for f in report.active_findings)
    details = {TrackedFinding.of(f).identity: f for f in report.active_findings}
    text = description(
        IssueContent(key="docker.io/x/y", reports=(report,), findings=tracked, details=details),
        1_048_576,
    )
    row = next(line for line in text.splitlines() if "evil" in line)
    unescaped_pipes = row.replace("\\|", "").count("|")
    assert unescaped_pipes == 7  # six cells, none split
    assert "`` evil\\|pkg` <script> ``" in row  # a code span: shown, never rendered as HTML
    assert "`` RUN echo `id` \\| sh @admin ``" in row


def test_report_loading_errors() -> None:
    with pytest.raises(ReportError, match="not JSON"):
        parse_reports("{", "r.json")
    with pytest.raises(ReportError, match="schema_version 2 is not supported"):
        parse_reports('{"schema_version": 2}', "r.json")
    with pytest.raises(ReportError, match=r"r\.json: artifact must be an object"):
        parse_reports('{"schema_version": 1, "findings": []}', "r.json")
    bad = {"schema_version": 1, "artifact": {"reference": "x"}, "findings": [{"id": "CVE-1"}]}
    with pytest.raises(ReportError, match=r"findings\[0\]: package must be an object"):
        parse_reports(json.dumps(bad), "r.json")


def test_loaded_report_names_and_facts(scans: Scans) -> None:
    report: LoadedReport = scans.loaded()
    assert report.image == "hullscan/sample:alpine-3.4"
    assert report.manifest_digest.startswith("sha256:")
    assert report.os_name == "Alpine Linux v3.4"
    finding = report.findings[0]
    assert finding.severity is Severity.UNKNOWN and finding.layer_index == 0
    assert finding.layer_created_by.startswith("/bin/sh -c #(nop) ADD file:alpine-minirootfs")


def test_pipeline_details_from_github_and_outside_ci() -> None:
    info = PipelineInfo.from_env(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_REPOSITORY": "o/r",
            "GITHUB_RUN_ID": "5",
            "GITHUB_RUN_ATTEMPT": "2",
            "GITHUB_SHA": "abc",
            "GITHUB_REF": "refs/heads/main",
        }
    )
    assert info.pipeline_url == "https://github.com/o/r/actions/runs/5/attempts/2"
    assert info.commit_url == "https://github.com/o/r/commit/abc"
    assert info.ref == "refs/heads/main"
    assert PipelineInfo.from_env({}) == PipelineInfo() and not PipelineInfo().known
