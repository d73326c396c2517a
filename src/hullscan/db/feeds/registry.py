"""Feed names users type (`--source NAME=...`, `--only NAME`) -> Feed classes."""

from __future__ import annotations

from hullscan.db.feeds.alpine import AlpineSecdbFeed
from hullscan.db.feeds.amazon import AmazonAlasFeed
from hullscan.db.feeds.base import Feed
from hullscan.db.feeds.debian import DebianTrackerFeed
from hullscan.db.feeds.epss import EpssFeed
from hullscan.db.feeds.kev import KevFeed
from hullscan.db.feeds.nvd import NvdFeed
from hullscan.db.feeds.osv import OSV_FEEDS
from hullscan.db.feeds.redhat import RedHatVexFeed
from hullscan.db.feeds.ubuntu import UbuntuOsvFeed
from hullscan.db.feeds.wolfi import ChainguardSecdbFeed, WolfiSecdbFeed
from hullscan.errors import FeedError

FEEDS: dict[str, type[Feed]] = {
    DebianTrackerFeed.name: DebianTrackerFeed,
    AlpineSecdbFeed.name: AlpineSecdbFeed,
    RedHatVexFeed.name: RedHatVexFeed,
    UbuntuOsvFeed.name: UbuntuOsvFeed,
    AmazonAlasFeed.name: AmazonAlasFeed,
    WolfiSecdbFeed.name: WolfiSecdbFeed,
    ChainguardSecdbFeed.name: ChainguardSecdbFeed,
    # language ecosystems from OSV: osv-pypi, osv-npm, osv-maven, osv-go, ...
    **{feed.name: feed for feed in OSV_FEEDS},
    # enrichment: facts about ids the feeds above name (the builder runs them last)
    NvdFeed.name: NvdFeed,
    KevFeed.name: KevFeed,
    EpssFeed.name: EpssFeed,
}


def feed_names() -> list[str]:
    return sorted(FEEDS)


def get_feed(name: str) -> Feed:
    """A new Feed for `name`; FeedError listing the known names when there is none."""
    try:
        return FEEDS[name.strip().lower()]()
    except KeyError:
        raise FeedError(f"unknown feed {name!r} (known feeds: {', '.join(feed_names())})") from None


def default_sources() -> list[tuple[Feed, str]]:
    """Every feed with each of its official locations: what `db build` reads by default."""
    sources: list[tuple[Feed, str]] = []
    for name in feed_names():
        feed = FEEDS[name]()
        sources.extend((feed, location) for location in feed.default_locations())
    return sources
