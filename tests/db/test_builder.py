"""build_db: real feeds end to end, atomic replacement, and clear errors for bad input."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from hullscan.db.builder import build_db
from hullscan.db.feeds.alpine import AlpineSecdbFeed
from hullscan.db.feeds.debian import DebianTrackerFeed
from hullscan.db.fetch import fingerprint
from hullscan.db.reader import VulnDB
from hullscan.db.schema import SCHEMA_VERSION
from hullscan.errors import DbError, FeedError
from hullscan.model import Advisory, DbInfo, FixStatus, Vulnerability

from .helpers import ListFeed, advisory


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def only_db_left(directory: Path, db: Path) -> None:
    """Nothing but the DB itself: no temp DB, no download directory."""
    assert [p.name for p in directory.iterdir()] == [db.name]


@pytest.fixture
def built(tmp_path: Path, debian_json: Path) -> Path:
    """A small previous DB: what a failed rebuild must leave untouched."""
    dest = tmp_path / "cache" / "db" / "hullscan.db"
    build_db(dest, [(DebianTrackerFeed(), str(debian_json))])
    return dest


def test_real_feeds(tmp_path: Path, debian_json: Path, secdb_yaml_dir: Path) -> None:
    dest = tmp_path / "db" / "hullscan.db"  # parent does not exist yet
    calls: list[tuple[str, int, int]] = []
    info = build_db(
        dest,
        [(DebianTrackerFeed(), str(debian_json)), (AlpineSecdbFeed(), str(secdb_yaml_dir))],
        lambda message, done, total: calls.append((message, done, total)),
    )
    assert info.schema_version == SCHEMA_VERSION == 2
    assert info.path == str(dest)
    assert info.built_at.endswith("Z") and info.built_at[:2] == "20"
    debian, alpine = info.sources
    assert (debian.name, debian.location, debian.advisories) == ("debian", str(debian_json), 21)
    assert debian.fingerprint == fingerprint([debian_json])
    assert (alpine.name, alpine.advisories) == ("alpine", 11775)
    assert alpine.fingerprint == fingerprint(sorted(secdb_yaml_dir.glob("v*/*.yaml")))
    assert calls[0] == ("debian: fetching", 0, 2)
    assert ("debian: 21 advisories", 1, 2) in calls
    assert calls[-1] == ("done", 2, 2)

    mode = stat.S_IMODE(dest.stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o644 & ~umask
    only_db_left(dest.parent, dest)

    with VulnDB.open(dest) as db:
        assert db.info() == DbInfo(info.schema_version, info.built_at, info.path, info.sources)
        counts = db.counts()
        assert counts["debian:10"] == 4 and counts["alpine:3.10"] == 1856
        assert sum(counts.values()) == 21 + 11775


def test_feed_from_url(http_root: tuple[str, Path], debian_json: Path, tmp_path: Path) -> None:
    base, served = http_root
    (served / "json").write_bytes(debian_json.read_bytes())
    dest = tmp_path / "db" / "hullscan.db"
    info = build_db(dest, [(DebianTrackerFeed(), f"{base}/json")])
    assert info.sources[0].location == f"{base}/json"
    assert info.sources[0].fingerprint == fingerprint([debian_json])
    assert info.sources[0].advisories == 21
    only_db_left(dest.parent, dest)  # the download is gone too


def test_one_feed_several_locations(alpine_dir: Path, secdb_yaml_dir: Path, tmp_path: Path) -> None:
    v310 = str(alpine_dir / "_converted_json/v3.10/main.json")
    v39 = str(secdb_yaml_dir / "v3.9")
    info = build_db(tmp_path / "hullscan.db", [(AlpineSecdbFeed(), v310), (AlpineSecdbFeed(), v39)])
    (source,) = info.sources
    assert source.location == f"{v310}, {v39}"
    with VulnDB.open(tmp_path / "hullscan.db") as db:
        assert db.counts() == {"alpine:3.10": 1144, "alpine:3.9": 1669}


def test_vulnerabilities_merged_across_feeds(tmp_path: Path, debian_json: Path) -> None:
    other = ListFeed(
        [
            advisory("prototypejs", "CVE-2008-7220", namespace="other:1"),
            Vulnerability("CVE-2008-7220", "", aliases=("GHSA-x",), urls=("https://x",)),
        ],
        name="other",
    )
    dest = tmp_path / "hullscan.db"
    build_db(dest, [(DebianTrackerFeed(), str(debian_json)), (other, str(debian_json))])
    with VulnDB.open(dest) as db:
        vuln = db.vulnerabilities(["CVE-2008-7220"])["CVE-2008-7220"]
    assert vuln.description.startswith("Unspecified vulnerability in Prototype")
    assert vuln.aliases == ("GHSA-x",)
    assert vuln.urls == ("https://security-tracker.debian.org/tracker/CVE-2008-7220", "https://x")


class TestAtomicity:
    """strict=True: any failing feed fails the build as a whole, the old DB stays."""

    @pytest.mark.parametrize(
        "failure",
        [RuntimeError("boom"), FeedError("listfeed feed: broken"), KeyboardInterrupt()],
        ids=["bug", "feed-error", "ctrl-c"],
    )
    def test_failing_feed_leaves_previous_db(
        self, built: Path, debian_json: Path, failure: BaseException
    ) -> None:
        before = digest(built)
        records = [advisory(f"pkg{i}", f"CVE-2024-{i:04d}") for i in range(12_000)]
        feed = ListFeed(records, fail_after=11_000, fail_with=failure)
        expected = type(failure) if isinstance(failure, KeyboardInterrupt) else FeedError
        with pytest.raises(expected) as info:
            build_db(
                built,
                [(DebianTrackerFeed(), str(debian_json)), (feed, str(debian_json))],
                strict=True,
            )
        if expected is FeedError:
            assert str(info.value).startswith("listfeed feed")
        assert digest(built) == before
        only_db_left(built.parent, built)
        with VulnDB.open(built) as db:
            assert db.info().sources[0].name == "debian"
            assert sum(db.counts().values()) == 21

    def test_truncated_real_feed(self, built: Path, debian_json: Path, tmp_path: Path) -> None:
        before = digest(built)
        data = debian_json.read_bytes()
        cut = tmp_path / "debian-cut.json"
        cut.write_bytes(data[: len(data) // 2])
        with pytest.raises(FeedError) as info:
            build_db(built, [(DebianTrackerFeed(), str(cut))])
        assert str(info.value).startswith(f"debian feed: {cut}: invalid JSON at line")
        assert digest(built) == before
        only_db_left(built.parent, built)

    def test_truncated_feed_over_http_names_the_url(
        self, built: Path, debian_json: Path, http_root: tuple[str, Path]
    ) -> None:
        base, served = http_root
        data = debian_json.read_bytes()
        (served / "json").write_bytes(data[: len(data) // 2])
        with pytest.raises(FeedError, match=rf"^debian feed: {base}/json: invalid JSON"):
            build_db(built, [(DebianTrackerFeed(), f"{base}/json")])
        only_db_left(built.parent, built)

    def test_http_404(self, built: Path, http_root: tuple[str, Path]) -> None:
        base, _ = http_root
        with pytest.raises(
            FeedError, match=rf"^alpine feed: cannot fetch {base}/v3.99/main.json: HTTP 404"
        ):
            build_db(built, [(AlpineSecdbFeed(), f"{base}/v3.99/main.json")])
        only_db_left(built.parent, built)

    def test_wrong_shape(self, built: Path, tmp_path: Path) -> None:
        bad = tmp_path / "main.json"
        bad.write_text('{"distroversion": "v3.10", "packages": [{"pkg": "busybox"}]}')
        with pytest.raises(FeedError, match=r"^alpine feed: .*main\.json: packages\[0\]"):
            build_db(built, [(AlpineSecdbFeed(), str(bad))])
        only_db_left(built.parent, built)

    def test_missing_source(self, built: Path, tmp_path: Path) -> None:
        with pytest.raises(FeedError, match=r"^debian feed: no such file or directory"):
            build_db(built, [(DebianTrackerFeed(), str(tmp_path / "nope.json"))])

    def test_duplicate_advisories(self, built: Path, debian_json: Path) -> None:
        feed = ListFeed([advisory("openssl", "CVE-1"), advisory("openssl", "CVE-1")])
        with pytest.raises(
            DbError, match="listfeed feed lists CVE-1 for openssl in debian:12 twice"
        ):
            build_db(built, [(feed, str(debian_json))])
        only_db_left(built.parent, built)


@pytest.mark.parametrize(
    "failure",
    [RuntimeError("boom"), FeedError("listfeed feed: broken")],
    ids=["bug", "feed-error"],
)
def test_failing_feed_without_strict_leaves_the_others(
    built: Path, debian_json: Path, failure: BaseException
) -> None:
    """The default: the failing feed is reported and left out, the others are built."""
    records = [advisory(f"pkg{i}", f"CVE-2024-{i:04d}") for i in range(12_000)]
    feed = ListFeed(records, fail_after=11_000, fail_with=failure)
    calls: list[str] = []
    info = build_db(
        built,
        [(DebianTrackerFeed(), str(debian_json)), (feed, str(debian_json))],
        lambda message, done, total: calls.append(message),
    )
    ((name, message, kept),) = [(f.name, f.message, f.kept_previous) for f in info.failures]
    assert (name, kept) == ("listfeed", False)
    expected = "listfeed feed: cannot parse" if isinstance(failure, RuntimeError) else "listfeed"
    assert message.startswith(expected)
    assert f"listfeed: failed: {message}" in calls
    assert [s.name for s in info.sources] == ["debian"]
    only_db_left(built.parent, built)
    with VulnDB.open(built) as db:
        assert sum(db.counts().values()) == 21  # none of the 11,000 rows written before


def test_no_sources(tmp_path: Path) -> None:
    with pytest.raises(DbError, match="no feeds"):
        build_db(tmp_path / "hullscan.db", [])


def test_advisory_source_is_the_feed(tmp_path: Path, debian_json: Path) -> None:
    feed = ListFeed([advisory("openssl", "CVE-1", source="somebody-else")])
    build_db(tmp_path / "hullscan.db", [(feed, str(debian_json))])
    with VulnDB.open(tmp_path / "hullscan.db") as db:
        (adv,) = db.advisories("debian:12", ["openssl"])["openssl"]
    assert isinstance(adv, Advisory) and adv.source == "listfeed"
    assert adv.status is FixStatus.FIXED
