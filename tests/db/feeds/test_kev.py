"""CISA KEV catalog: real catalog excerpts and per-entry files, and malformed input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hullscan.db.feeds.kev import KEV_URL, KevFeed
from hullscan.errors import FeedError
from hullscan.model import Vulnerability


@pytest.fixture(scope="module")
def kev_dir(advisories_dir: Path) -> Path:
    """vunnel's valid-catalog-1.json (3 entries of catalog 2025.02.19), claircore's catalog
    (2), vuln-list-update's catalog (2) and its per-CVE golden files."""
    return advisories_dir / "kev"


@pytest.fixture(scope="module")
def vunnel_catalog(kev_dir: Path) -> Path:
    return kev_dir / "anchore__vunnel/tests/unit/providers/kev/test-fixtures/valid-catalog-1.json"


def parse(*files: Path) -> dict[str, str]:
    records = list(KevFeed().parse(list(files)))
    assert all(isinstance(r, Vulnerability) for r in records)
    return {r.id: r.kev_added for r in records if isinstance(r, Vulnerability)}


def test_real_catalog(vunnel_catalog: Path) -> None:
    assert parse(vunnel_catalog) == {
        "CVE-2024-53704": "2025-02-18",
        "CVE-2024-57727": "2025-02-13",
        "CVE-2025-0108": "2025-02-18",
    }


def test_every_sample(kev_dir: Path) -> None:
    added = parse(*sorted(kev_dir.rglob("*.json")))
    assert len(added) == 7
    assert added["CVE-2021-44228"] == "2021-12-10"  # log4shell, claircore's catalog
    assert added["CVE-2014-0160"] == "2022-05-04"  # catalog and per-entry golden agree


def test_earliest_date_wins(vunnel_catalog: Path, tmp_path: Path) -> None:
    later = tmp_path / "later.json"
    later.write_text(json.dumps({"cveID": "CVE-2025-0108", "dateAdded": "2025-03-01"}))
    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps({"cveID": "CVE-2025-0108", "dateAdded": "2025-01-01"}))
    assert parse(vunnel_catalog, later)["CVE-2025-0108"] == "2025-02-18"
    assert parse(later, vunnel_catalog, earlier)["CVE-2025-0108"] == "2025-01-01"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, r"invalid JSON at line"),
        (
            '{"vulnerabilities": [{"cveID": "CVE-2024-1", "dateAdded": "2024-01-01"}]}',
            r"vulnerabilities\[0\]: 'cveID' is 'CVE-2024-1', not a CVE id",
        ),
        (
            '{"vulnerabilities": [{"cveID": "CVE-2024-12345"}]}',
            r"vulnerabilities\[0\] CVE-2024-12345: 'dateAdded' is None",
        ),
        (
            '{"vulnerabilities": [{"cveID": "CVE-2024-12345", "dateAdded": "18/02/2025"}]}',
            r"vulnerabilities\[0\] CVE-2024-12345: 'dateAdded' is '18/02/2025'",
        ),
        ('{"vulnerabilities": {}}', r"'vulnerabilities' is an object, not a list"),
        ('{"vulnerabilities": ["CVE-2024-12345"]}', r"vulnerabilities\[0\]: expected an object"),
        ("[]", r"expected the KEV catalog .* got a list"),
    ],
    ids=["truncated", "bad-id", "no-date", "bad-date", "not-a-list", "not-objects", "list"],
)
def test_malformed(vunnel_catalog: Path, tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "known_exploited_vulnerabilities.json"
    data = vunnel_catalog.read_bytes()
    path.write_bytes(data[: len(data) // 2] if content is None else content.encode())
    with pytest.raises(FeedError, match=rf"^kev feed: {path}: {message}"):
        list(KevFeed().parse([path]))


def test_default_location() -> None:
    assert KevFeed().default_locations() == [KEV_URL]
    assert KEV_URL.startswith("https://www.cisa.gov/")
