"""The contract every advisory feed implements, and helpers they share.

A feed only parses files that are already on disk: fetching is the builder's job
(hullscan.db.fetch), so every parser is tested on real local snapshots and never needs
the network.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from hullscan.errors import FeedError
from hullscan.model import Advisory, Vulnerability

Record = Advisory | Vulnerability


class Feed(ABC):
    """One source of advisories (Debian tracker, Alpine secdb, ...).

    `name` is the stable key users pass to `--source NAME=...` and that ends up in
    `Advisory.source` and the DB's `sources` table. `file_patterns` tells the fetch layer
    which files of a local directory belong to this feed.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    file_patterns: ClassVar[tuple[str, ...]] = ("*",)

    @abstractmethod
    def default_locations(self) -> list[str]:
        """The official URLs `hullscan db build` reads when no --source overrides them."""

    @abstractmethod
    def parse(self, files: Sequence[Path]) -> Iterator[Record]:
        """Turn already-fetched files into records.

        Raises FeedError naming the feed and the file when a file is malformed, truncated
        or of the wrong shape; never lets a KeyError or JSONDecodeError reach the user.
        """

    def resolve_location(self, location: str, get_text: Callable[[str], str]) -> str:
        """The location to fetch for `location`; feeds that publish a "latest" pointer
        (Red Hat's archive_latest.txt) follow it here. `get_text` reads a small URL."""
        return location

    def error(self, path: Path, problem: str) -> FeedError:
        """A FeedError that says which feed and which file, so the user knows what to fix."""
        return FeedError(f"{self.name} feed: {path}: {problem}")

    def load_json(self, path: Path) -> Any:
        """Read one JSON file, turning decode errors (truncation included) into FeedError."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise self.error(path, f"cannot read: {exc.strerror or exc}") from None
        return self.decode_json(path, data)

    def decode_json(self, path: Path, data: bytes, member: str = "") -> Any:
        """JSON bytes of `path` (or of archive `member` in it); FeedError naming both."""
        where = f"{member}: " if member else ""
        try:
            return json.loads(data)
        except json.JSONDecodeError as exc:
            problem = f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            raise self.error(path, where + problem) from None
        except UnicodeDecodeError as exc:
            raise self.error(path, f"{where}not UTF-8 text ({exc.reason})") from None


def json_kind(value: object) -> str:
    """JSON name of a parsed value's type, for error messages ("a list", "null", ...)."""
    kinds = {dict: "an object", list: "a list", str: "a string", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)
