"""WolfiSecdbFeed and ChainguardSecdbFeed on the real Wolfi secdb that anchore/vunnel keeps
as a fixture (packages.wolfi.dev/os/security.json, 27 packages)."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from hullscan.db.feeds.wolfi import (
    CHAINGUARD_SECDB_URL,
    WOLFI_SECDB_URL,
    ChainguardSecdbFeed,
    WolfiSecdbFeed,
    normalise_id,
)
from hullscan.errors import FeedError
from hullscan.model import Advisory, AffectedRange, FixStatus, Severity, Vulnerability

Key = tuple[str, str, str]
SECDB = "wolfi/anchore__vunnel/tests/unit/providers/wolfi/test-fixtures/input/secdb/security.json"


@pytest.fixture(scope="module")
def secdb(advisories_dir: Path) -> Path:
    return advisories_dir / SECDB


def parse(
    files: list[Path], feed: WolfiSecdbFeed | None = None
) -> tuple[dict[Key, Advisory], dict[str, Vulnerability]]:
    advisories: dict[Key, Advisory] = {}
    vulns: dict[str, Vulnerability] = {}
    for record in (feed or WolfiSecdbFeed()).parse(files):
        if isinstance(record, Advisory):
            key = (record.namespace, record.package, record.vuln_id)
            assert key not in advisories, f"duplicate {key}"
            advisories[key] = record
        else:
            vulns[record.id] = record
    return advisories, vulns


def test_real_secdb(secdb: Path) -> None:
    advisories, vulns = parse([secdb])
    # 59 ids listed, 6 of them under "0" (never affected): coreutils, flex, postgresql-15, apko
    assert len(advisories) == 53
    assert set(vulns) == {vid for _, _, vid in advisories}
    assert Counter(ns for ns, _, _ in advisories) == {"wolfi:rolling": 53}
    assert advisories[("wolfi:rolling", "binutils", "CVE-2022-38533")] == Advisory(
        namespace="wolfi:rolling",
        package="binutils",
        vuln_id="CVE-2022-38533",
        ranges=(AffectedRange(fixed="2.39-r2"),),
        status=FixStatus.FIXED,
        fixed_version="2.39-r2",
        severity=Severity.UNKNOWN,
        severity_source="",
        source="wolfi",
    )
    assert advisories[("wolfi:rolling", "openssl", "CVE-2022-3602")].fixed_version == "3.0.7-r0"
    assert advisories[("wolfi:rolling", "apko", "CVE-2023-39325")].fixed_version == "0.10.0-r6"


def test_zero_means_never_affected(secdb: Path) -> None:
    advisories, _ = parse([secdb])
    assert not [k for k in advisories if k[1] in ("coreutils", "flex", "postgresql-15")]
    assert ("wolfi:rolling", "apko", "CVE-2023-45283") not in advisories


def test_chainguard_is_its_own_namespace(secdb: Path, tmp_path: Path) -> None:
    data = json.loads(secdb.read_text())
    data.update(reponame="chainguard", urlprefix="https://packages.cgr.dev")
    path = tmp_path / "security.json"
    path.write_text(json.dumps(data))
    advisories, _ = parse([path], ChainguardSecdbFeed())
    assert Counter(ns for ns, _, _ in advisories) == {"chainguard:rolling": 53}
    assert {a.source for a in advisories.values()} == {"chainguard"}


def test_a_chainguard_file_given_as_wolfi_is_refused(secdb: Path, tmp_path: Path) -> None:
    data = json.loads(secdb.read_text())
    data["urlprefix"] = "https://packages.cgr.dev"
    path = tmp_path / "security.json"
    path.write_text(json.dumps(data))
    with pytest.raises(FeedError, match=r"^wolfi feed: .*security\.json: this secdb is from"):
        parse([path])


def secdb_with(secdb: Path, tmp_path: Path, secfixes: dict[str, Any]) -> Path:
    data = copy.deepcopy(json.loads(secdb.read_text()))
    data["packages"] = [{"pkg": {"name": "grype", "secfixes": secfixes}}]
    path = tmp_path / "security.json"
    path.write_text(json.dumps(data))
    return path


def test_ghsa_ids_and_repeated_ids(secdb: Path, tmp_path: Path) -> None:
    path = secdb_with(
        secdb,
        tmp_path,
        {
            "0.60.0-r1": ["GHSA-jq35-85cj-fj4p", "cve-2023-1234"],
            "0.61.0-r0": ["CVE-2023-1234"],
            "0.62.0-r0": ["not an id", "CVE-2023-9999 extra text"],
        },
    )
    advisories, _ = parse([path])
    assert {k[2]: a.fixed_version for k, a in advisories.items()} == {
        "GHSA-jq35-85cj-fj4p": "0.60.0-r1",
        "CVE-2023-1234": "0.61.0-r0",  # the later fix of the same id
    }


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("CVE-2022-38126", "CVE-2022-38126"),
        (" cve-2022-38126 ", "CVE-2022-38126"),
        ("GHSA-jq35-85cj-fj4p", "GHSA-jq35-85cj-fj4p"),
        ("CGA-2x4f-7v5c-q8m9", "CGA-2x4f-7v5c-q8m9"),
        ("fixed upstream", None),
        ("", None),
    ],
)
def test_normalise_id(text: str, wanted: str | None) -> None:
    assert normalise_id(text) == wanted


def test_default_locations() -> None:
    assert WolfiSecdbFeed().default_locations() == [WOLFI_SECDB_URL]
    assert ChainguardSecdbFeed().default_locations() == [CHAINGUARD_SECDB_URL]
    assert WOLFI_SECDB_URL == "https://packages.wolfi.dev/os/security.json"
    assert CHAINGUARD_SECDB_URL == "https://packages.cgr.dev/chainguard/security.json"


class TestMalformed:
    def test_truncated_real_file(self, secdb: Path, tmp_path: Path) -> None:
        data = secdb.read_bytes()
        path = tmp_path / "security.json"
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(FeedError, match=r"^wolfi feed: .*security\.json: invalid JSON"):
            parse([path])

    @pytest.mark.parametrize(
        ("data", "problem"),
        [
            ([], "expected a secdb object, got a list"),
            ({"packages": "x"}, "'packages' is a string, not a list"),
            ({"packages": [{"name": "x"}]}, "packages[0]: expected"),
            ({"packages": [{"pkg": {"name": "x", "secfixes": [1]}}]}, "x: 'secfixes' is a list"),
            (
                {"packages": [{"pkg": {"name": "x", "secfixes": {"1.0-r0": "CVE-2020-1"}}}]},
                "x 1.0-r0: expected a list of ids",
            ),
        ],
    )
    def test_wrong_shape(self, tmp_path: Path, data: object, problem: str) -> None:
        path = tmp_path / "security.json"
        path.write_text(json.dumps(data))
        with pytest.raises(FeedError) as caught:
            parse([path], ChainguardSecdbFeed())
        assert str(caught.value).startswith(f"chainguard feed: {path}:")
        assert problem in str(caught.value)
