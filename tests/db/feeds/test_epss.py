"""FIRST EPSS CSV: real excerpts, plain and gzipped, the newest scores winning, and
malformed or truncated files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from hullscan.db.feeds.epss import EPSS_URL, EpssFeed
from hullscan.errors import FeedError
from hullscan.model import Vulnerability


@pytest.fixture(scope="module")
def vunnel_csv(advisories_dir: Path) -> Path:
    """5 scores, score_date 2025-02-20."""
    return (
        advisories_dir
        / "epss/anchore__vunnel/tests/unit/providers/epss/test-fixtures/example-1.csv"
    )


@pytest.fixture(scope="module")
def claircore_csv(advisories_dir: Path) -> Path:
    """29 scores, score_date 2024-10-25."""
    return advisories_dir / "epss/quay__claircore/enricher/epss/testdata/data.csv"


def parse(*files: Path) -> dict[str, tuple[float | None, float | None]]:
    records = list(EpssFeed().parse(list(files)))
    assert all(isinstance(r, Vulnerability) for r in records)
    scores = {r.id: (r.epss, r.epss_percentile) for r in records if isinstance(r, Vulnerability)}
    assert len(scores) == len(records), "one record per CVE"
    return scores


def test_real_files(vunnel_csv: Path, claircore_csv: Path) -> None:
    assert parse(vunnel_csv)["CVE-1999-0005"] == (0.91963, 0.99214)
    assert len(parse(vunnel_csv)) == 5
    claircore = parse(claircore_csv)
    assert len(claircore) == 29
    assert claircore["CVE-2022-34668"] == (0.00311, 0.70519)


def test_newest_score_date_wins(vunnel_csv: Path, claircore_csv: Path) -> None:
    # CVE-1999-0005 is in both: 2025-02-20 (vunnel) is newer than 2024-10-25, whatever order
    for files in ((vunnel_csv, claircore_csv), (claircore_csv, vunnel_csv)):
        scores = parse(*files)
        assert len(scores) == 33
        assert scores["CVE-1999-0005"] == (0.91963, 0.99214)


def test_gzip(claircore_csv: Path, tmp_path: Path) -> None:
    path = tmp_path / "epss_scores-current.csv.gz"
    path.write_bytes(gzip.compress(claircore_csv.read_bytes()))
    assert parse(path) == parse(claircore_csv)


def test_truncated_gzip(claircore_csv: Path, tmp_path: Path) -> None:
    path = tmp_path / "epss_scores-current.csv.gz"
    data = gzip.compress(claircore_csv.read_bytes())
    path.write_bytes(data[: len(data) - 12])
    with pytest.raises(FeedError, match=rf"^epss feed: {path}: truncated or corrupt gzip"):
        list(EpssFeed().parse([path]))


def test_without_comment_line_and_extra_columns(tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    path.write_text("cve,percentile,epss,date\r\nCVE-2024-0001,0.5,0.01,2024-01-02\r\n")
    assert parse(path) == {"CVE-2024-0001": (0.01, 0.5)}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("#model_version:v1,score_date:2024-01-01\n", "no EPSS scores in the file"),
        ("", "no EPSS scores in the file"),
        ("cve,score\nCVE-2024-0001,0.1\n", "line 1: expected a header with cve,epss,percentile"),
        ("cve,epss,percentile\nCVE-2024-0001,0.1\n", "line 2: malformed row"),
        ("cve,epss,percentile\nCVE-2024-0001,0.1,high\n", "line 2: malformed row"),
        ("cve,epss,percentile\nGHSA-xxxx,0.1,0.2\n", "line 2: 'GHSA-xxxx' is not a CVE id"),
        ("cve,epss,percentile\nCVE-2024-0001,1.5,0.2\n", "line 2: CVE-2024-0001 scores out"),
        ("cve,epss,percentile\nCVE-2024-0001,nan,0.2\n", "line 2: CVE-2024-0001 scores out"),
    ],
    ids=[
        "comment-only",
        "empty",
        "bad-header",
        "short-row",
        "not-a-number",
        "bad-id",
        "out-of-range",
        "nan",
    ],
)
def test_malformed(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "scores.csv"
    path.write_text(content)
    with pytest.raises(FeedError, match=rf"^epss feed: {path}: {message}"):
        list(EpssFeed().parse([path]))


def test_truncated_plain_file(claircore_csv: Path, tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    text = claircore_csv.read_text()
    path.write_text(text[: text.index("CVE-2022-34670") + 9])  # mid-row
    with pytest.raises(FeedError, match=r"line \d+: malformed row 'CVE-2022-'|not a CVE id"):
        list(EpssFeed().parse([path]))


def test_default_location() -> None:
    assert EpssFeed().default_locations() == [EPSS_URL]
    assert EPSS_URL.endswith("/epss_scores-current.csv.gz")
