"""The feed registry: the names `--source NAME=...` accepts."""

from __future__ import annotations

import pytest

from hullscan.db.feeds.alpine import AlpineSecdbFeed
from hullscan.db.feeds.debian import DebianTrackerFeed
from hullscan.db.feeds.registry import default_sources, feed_names, get_feed
from hullscan.errors import FeedError


def test_names() -> None:
    assert {"alpine", "amazon", "chainguard", "debian", "redhat", "ubuntu", "wolfi"} <= set(
        feed_names()
    )
    assert {"nvd", "kev", "epss"} <= set(feed_names())
    assert feed_names() == sorted(feed_names())
    assert isinstance(get_feed("debian"), DebianTrackerFeed)
    assert isinstance(get_feed(" Alpine "), AlpineSecdbFeed)


def test_unknown() -> None:
    with pytest.raises(FeedError, match=r"unknown feed 'gentoo' \(known feeds: alpine, amazon, "):
        get_feed("gentoo")


def test_default_sources_are_official_https_urls() -> None:
    sources = default_sources()
    names = {feed.name for feed, _ in sources}
    assert names == set(feed_names())
    assert all(location.startswith("https://") for _, location in sources)
    assert ("debian", "https://security-tracker.debian.org/tracker/data/json") in {
        (feed.name, location) for feed, location in sources
    }
