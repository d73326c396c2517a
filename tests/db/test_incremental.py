"""Rebuilding from unchanged sources: conditional requests (ETag / Last-Modified) against a
local server that counts them, sha256 of local files, NVD's incremental windows, and
failing feeds that keep their previous rows (or fail the build with strict=True)."""

from __future__ import annotations

import gzip
import hashlib
import json
import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hullscan.db.builder import BuildResult, build_db
from hullscan.db.feeds.alpine import AlpineSecdbFeed
from hullscan.db.feeds.base import Feed, Record
from hullscan.db.feeds.debian import DebianTrackerFeed
from hullscan.db.feeds.epss import EpssFeed
from hullscan.db.feeds.kev import KevFeed
from hullscan.db.feeds.nvd import NvdFeed
from hullscan.db.reader import VulnDB
from hullscan.errors import FeedError
from hullscan.model import Severity

from .feedserver import NVD_PATH, FeedServer, feed_server, nvd_stamp

parsed: Counter[str] = Counter()


def _counted(parse: Any) -> Any:
    def wrapper(self: Feed, files: Sequence[Path]) -> Iterator[Record]:
        parsed[self.name] += 1
        yield from parse(self, files)

    return wrapper


class Debian(DebianTrackerFeed):
    parse = _counted(DebianTrackerFeed.parse)


class Alpine(AlpineSecdbFeed):
    parse = _counted(AlpineSecdbFeed.parse)


class Kev(KevFeed):
    parse = _counted(KevFeed.parse)


class Epss(EpssFeed):
    parse = _counted(EpssFeed.parse)


class Nvd(NvdFeed):
    parse = _counted(NvdFeed.parse)

    def __init__(self) -> None:
        super().__init__(api_key="", sleep=lambda seconds: None)


@pytest.fixture(autouse=True)
def _reset() -> None:
    parsed.clear()


@pytest.fixture(scope="module")
def samples(advisories_dir: Path, debian_json: Path) -> dict[str, Path]:
    return {
        "debian": debian_json,
        "alpine310": advisories_dir / "alpine/_converted_json/v3.10/main.json",
        "alpine39": advisories_dir / "alpine/_converted_json/v3.9/main.json",
        "kev": advisories_dir
        / "kev/anchore__vunnel/tests/unit/providers/kev/test-fixtures/valid-catalog-1.json",
        "epss": advisories_dir / "epss/quay__claircore/enricher/epss/testdata/data.csv",
        "nvd": advisories_dir
        / "nvd/anchore__vunnel/tests/unit/providers/nvd/test-fixtures/full-page.json",
    }


@pytest.fixture
def server(samples: dict[str, Path]) -> Iterator[FeedServer]:
    with feed_server() as state:
        state.put("/debian/json", samples["debian"].read_bytes())
        state.put("/alpine/v3.10/main.json", samples["alpine310"].read_bytes(), last_modified=False)
        state.put("/alpine/v3.9/main.json", samples["alpine39"].read_bytes(), etag=False)
        state.put("/kev/known_exploited_vulnerabilities.json", samples["kev"].read_bytes())
        epss = gzip.compress(samples["epss"].read_bytes())
        state.put("/epss/epss_scores-current.csv.gz", epss, etag=False)
        state.nvd = [
            item["cve"] for item in json.loads(samples["nvd"].read_text())["vulnerabilities"]
        ]
        yield state


def plan(server: FeedServer) -> list[tuple[Feed, str]]:
    nvd = Nvd()
    return [
        (Debian(), server.url("/debian/json")),
        (Alpine(), server.url("/alpine/v3.10/main.json")),
        (Alpine(), server.url("/alpine/v3.9/main.json")),
        (nvd, server.url(NVD_PATH)),  # given before the vendors: still built after them
        (Kev(), server.url("/kev/known_exploited_vulnerabilities.json")),
        (Epss(), server.url("/epss/epss_scores-current.csv.gz")),
    ]


FILES = (
    "/debian/json",
    "/alpine/v3.10/main.json",
    "/alpine/v3.9/main.json",
    "/kev/known_exploited_vulnerabilities.json",
    "/epss/epss_scores-current.csv.gz",
)
ALL = ("debian", "alpine", "nvd", "kev", "epss")


def content(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row that matters to a scan (sources without their fetch times and state)."""
    with sqlite3.connect(db) as conn:
        return {
            "advisories": conn.execute("SELECT * FROM advisories ORDER BY 1, 2, 3").fetchall(),
            "vulnerabilities": conn.execute(
                "SELECT * FROM vulnerabilities ORDER BY id, source"
            ).fetchall(),
            "sources": conn.execute(
                "SELECT name, location, fingerprint, advisories, vulnerabilities FROM sources"
                " ORDER BY rowid"
            ).fetchall(),
        }


def test_second_build_downloads_and_parses_nothing(server: FeedServer, tmp_path: Path) -> None:
    dest = tmp_path / "hullscan.db"
    first = build_db(dest, plan(server))
    assert [s.name for s in first.sources] == ["debian", "alpine", "nvd", "kev", "epss"]
    assert first.unchanged == () and first.failures == ()
    assert parsed == dict.fromkeys(ALL, 1)
    assert all(server.full[path] == 1 for path in FILES)
    assert len(server.nvd_queries) == 1 and "lastModStartDate" not in server.nvd_queries[0]
    before = content(dest)
    assert [row[3:] for row in before["sources"]] == [
        (21, 7),
        (1144 + 1076, 1129),
        (0, 38),
        (0, 3),
        (0, 29),
    ]

    server.reset_counts()
    parsed.clear()
    messages: list[str] = []
    second = build_db(dest, plan(server), lambda message, done, total: messages.append(message))
    assert parsed == {}  # nothing parsed
    assert sum(server.full.values()) == 0  # nothing downloaded: 304s only
    assert all(server.not_modified[path] == 1 for path in FILES)
    (query,) = server.nvd_queries  # one question to NVD: what changed since? nothing
    assert "lastModStartDate" in query and "lastModEndDate" in query
    assert second.unchanged == ALL
    assert "debian: unchanged, 21 advisories kept" in messages
    assert "nvd: unchanged, 38 vulnerabilities kept" in messages
    assert content(dest) == before  # yet the DB is complete
    assert all(
        s.fetched_at >= f.fetched_at for s, f in zip(second.sources, first.sources, strict=True)
    )
    with VulnDB.open(dest) as db:
        facts = db.vulnerabilities(["CVE-2023-45109", "CVE-2025-0108", "CVE-2022-34668"])
    assert facts["CVE-2023-45109"].nvd_severity is Severity.HIGH
    assert facts["CVE-2025-0108"].kev_added == "2025-02-18"
    assert facts["CVE-2022-34668"].epss == 0.00311

    # The server says "changed" but serves the same bytes: downloaded, not parsed.
    server.reset_counts()
    server.put("/alpine/v3.9/main.json", server.files["/alpine/v3.9/main.json"].body, etag=False)
    third = build_db(dest, plan(server))
    assert server.full["/alpine/v3.9/main.json"] == 1
    assert parsed == {} and third.unchanged == ALL
    assert content(dest) == before


def test_only_changed_feeds_are_parsed(server: FeedServer, tmp_path: Path) -> None:
    dest = tmp_path / "hullscan.db"
    build_db(dest, plan(server))
    parsed.clear()
    server.reset_counts()
    catalog = json.loads(server.files["/kev/known_exploited_vulnerabilities.json"].body)
    catalog["vulnerabilities"].append({"cveID": "CVE-2021-44228", "dateAdded": "2021-12-10"})
    server.put("/kev/known_exploited_vulnerabilities.json", json.dumps(catalog).encode())
    # one of Alpine's two files changes: both are needed to parse the feed again
    main39 = json.loads(server.files["/alpine/v3.9/main.json"].body)
    server.put("/alpine/v3.9/main.json", json.dumps(main39, indent=1).encode(), etag=False)

    result = build_db(dest, plan(server))
    assert parsed == {"kev": 1, "alpine": 1}
    assert result.unchanged == ("debian", "nvd", "epss")
    assert server.not_modified["/alpine/v3.10/main.json"] == 1
    assert server.full["/alpine/v3.10/main.json"] == 1  # fetched again, unconditionally
    with VulnDB.open(dest) as db:
        assert db.vulnerabilities(["CVE-2021-44228"])["CVE-2021-44228"].kev_added == "2021-12-10"
        assert db.counts()["alpine:3.9"] == 1076
        assert db.vulnerability_counts()["kev"] == 4


def test_nvd_delta_applies_on_top_of_the_previous_rows(server: FeedServer, tmp_path: Path) -> None:
    dest = tmp_path / "hullscan.db"
    build_db(dest, plan(server))
    parsed.clear()
    # NVD re-scores one CVE: only it comes back, and replaces its row
    index = next(i for i, r in enumerate(server.nvd) if r["id"] == "CVE-2023-45109")
    record = json.loads(json.dumps(server.nvd[index]))
    record["lastModified"] = nvd_stamp(datetime.now(UTC))
    record["metrics"]["cvssMetricV31"][0]["cvssData"].update(baseScore=9.6, baseSeverity="CRITICAL")
    server.nvd[index] = record
    server.reset_counts()
    result = build_db(dest, plan(server))
    assert parsed == {"nvd": 1}
    assert "nvd" not in result.unchanged
    with VulnDB.open(dest) as db:
        assert db.vulnerability_counts()["nvd"] == 38
        vuln = db.vulnerabilities(["CVE-2023-45109", "CVE-2023-27314"])
    assert vuln["CVE-2023-45109"].nvd_severity is Severity.CRITICAL
    assert vuln["CVE-2023-45109"].cvss[0].score == 9.6
    assert vuln["CVE-2023-27314"].nvd_severity is Severity.HIGH  # kept from the first build
    (nvd_source,) = [s for s in result.sources if s.name == "nvd"]
    assert nvd_source.fingerprint == f"lastmod:{record['lastModified'][:19]}Z"


def test_full_rebuild_on_request(server: FeedServer, tmp_path: Path) -> None:
    dest = tmp_path / "hullscan.db"
    build_db(dest, plan(server))
    before = content(dest)
    parsed.clear()
    server.reset_counts()
    result = build_db(dest, plan(server), incremental=False)
    assert parsed == dict.fromkeys(ALL, 1) and result.unchanged == ()
    assert sum(server.not_modified.values()) == 0
    assert "lastModStartDate" not in server.nvd_queries[0]
    assert content(dest) == before


def test_local_files_by_content(samples: dict[str, Path], tmp_path: Path) -> None:
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    debian = feeds / "debian.json"
    debian.write_bytes(samples["debian"].read_bytes())
    nvd = feeds / "nvd"
    nvd.mkdir()
    (nvd / "page-0.json").write_bytes(samples["nvd"].read_bytes())
    dest = tmp_path / "db" / "hullscan.db"
    sources: list[tuple[Feed, str]] = [(Debian(), str(debian)), (Nvd(), str(nvd))]
    build_db(dest, sources)
    parsed.clear()
    assert build_db(dest, sources).unchanged == ("debian", "nvd")
    assert parsed == {}

    (nvd / "page-1.json").write_text('{"totalResults": 0, "vulnerabilities": []}')  # new file
    assert build_db(dest, sources).unchanged == ("debian",)
    assert parsed == {"nvd": 1}

    data = json.loads(debian.read_text())
    del data["prototypejs"]
    debian.write_text(json.dumps(data))  # same name, new content
    result = build_db(dest, sources)
    assert result.unchanged == ("nvd",) and parsed == {"nvd": 1, "debian": 1}
    assert result.sources[0].advisories < 21

    # another location for a feed is another source: parsed, not reused
    assert build_db(dest, [(Debian(), str(samples["debian"])), (Nvd(), str(nvd))]).unchanged == (
        "nvd",
    )


def test_a_previous_db_of_another_schema_is_ignored(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    dest = tmp_path / "hullscan.db"
    sources: list[tuple[Feed, str]] = [(Debian(), str(samples["debian"]))]
    build_db(dest, sources)
    with sqlite3.connect(dest) as conn:
        conn.execute("UPDATE meta SET schema_version = 1")
    parsed.clear()
    assert build_db(dest, sources).unchanged == () and parsed == {"debian": 1}
    dest.write_bytes(b"not a database at all" * 100)
    assert build_db(dest, sources).unchanged == ()
    with VulnDB.open(dest) as db:
        assert db.counts()["debian:10"] == 4


# -- failing feeds ----------------------------------------------------------------------


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def truncate(server: FeedServer, path: str) -> None:
    body = server.files[path].body
    server.put(path, body[: len(body) // 2])


def test_a_failing_feed_keeps_its_previous_rows(server: FeedServer, tmp_path: Path) -> None:
    dest = tmp_path / "hullscan.db"
    first = build_db(dest, plan(server))
    truncate(server, "/kev/known_exploited_vulnerabilities.json")
    server.nvd_failures = [500] * 6  # NVD down: retried 5 times, then given up
    messages: list[str] = []

    result = build_db(dest, plan(server), lambda m, done, total: messages.append(m))

    assert isinstance(result, BuildResult)
    assert [(f.name, f.kept_previous) for f in result.failures] == [("nvd", True), ("kev", True)]
    kev_url = server.url("/kev/known_exploited_vulnerabilities.json")
    assert result.failures[1].message.startswith(f"kev feed: {kev_url}: invalid JSON at line")
    assert result.failures[0].message == (
        f"nvd feed: cannot fetch {server.url(NVD_PATH)} (startIndex 0): HTTP 500 (Request "
        "forbidden by administrative rules.) after 6 attempts"
    )
    assert any(m.startswith("kev: failed (keeping the previous data): kev feed:") for m in messages)
    # the stale feeds keep their rows, fingerprint and fetch time; the others are current
    kept = {s.name: s for s in result.sources}
    was = {s.name: s for s in first.sources}
    assert kept["kev"] == was["kev"] and kept["nvd"] == was["nvd"]
    with VulnDB.open(dest) as db:
        assert db.vulnerability_counts() == {
            "debian": 7,
            "alpine": 1129,
            "nvd": 38,
            "kev": 3,
            "epss": 29,
        }
        assert db.vulnerabilities(["CVE-2025-0108"])["CVE-2025-0108"].kev_added == "2025-02-18"

    # once the feed is repaired, the next build picks it up again
    repaired_catalog = {"vulnerabilities": [{"cveID": "CVE-2021-44228", "dateAdded": "2021-12-10"}]}
    server.put("/kev/known_exploited_vulnerabilities.json", json.dumps(repaired_catalog).encode())
    repaired = build_db(dest, plan(server))
    assert repaired.failures == ()
    with VulnDB.open(dest) as db:
        assert db.vulnerability_counts()["kev"] == 1


def test_a_failing_feed_without_previous_data_is_left_out(
    server: FeedServer, tmp_path: Path
) -> None:
    truncate(server, "/epss/epss_scores-current.csv.gz")
    dest = tmp_path / "hullscan.db"
    result = build_db(dest, plan(server))
    ((name, message, kept),) = [(f.name, f.message, f.kept_previous) for f in result.failures]
    assert (name, kept) == ("epss", False)
    assert message == (
        f"epss feed: {server.url('/epss/epss_scores-current.csv.gz')}: truncated or corrupt "
        "gzip data (Compressed file ended before the end-of-stream marker was reached)"
    )
    assert [s.name for s in result.sources] == ["debian", "alpine", "nvd", "kev"]
    with VulnDB.open(dest) as db:
        assert "epss" not in db.vulnerability_counts()
        assert db.vulnerabilities(["CVE-2022-34668"]) == {}
        assert sum(db.counts().values()) == 21 + 1144 + 1076


def test_strict_fails_the_whole_build(server: FeedServer, tmp_path: Path) -> None:
    dest = tmp_path / "hullscan.db"
    build_db(dest, plan(server))
    before = digest(dest)
    truncate(server, "/debian/json")
    with pytest.raises(FeedError, match=r"^debian feed: http://.*/debian/json: invalid JSON"):
        build_db(dest, plan(server), strict=True)
    assert digest(dest) == before
    assert [p.name for p in dest.parent.iterdir()] == ["hullscan.db"]  # no temp files left


def test_every_feed_failing_fails_the_build(server: FeedServer, tmp_path: Path) -> None:
    dest = tmp_path / "hullscan.db"
    build_db(dest, plan(server))
    before = digest(dest)
    truncate(server, "/kev/known_exploited_vulnerabilities.json")
    truncate(server, "/epss/epss_scores-current.csv.gz")
    sources = [s for s in plan(server) if s[0].name in ("kev", "epss")]
    with pytest.raises(FeedError, match=r"^every feed failed: kev feed: .*; epss feed: "):
        build_db(dest, sources)
    assert digest(dest) == before
