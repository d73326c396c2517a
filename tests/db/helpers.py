"""A feed made of in-memory records, to drive the builder and reader without real data."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from hullscan.db.feeds.base import Feed, Record
from hullscan.model import Advisory, AffectedRange, FixStatus, Severity


class ListFeed(Feed):
    """Yields `records`; raises `fail_with` after `fail_after` records when given."""

    name = "listfeed"

    def __init__(
        self,
        records: Sequence[Record],
        *,
        fail_after: int | None = None,
        fail_with: BaseException | None = None,
        name: str = "listfeed",
    ) -> None:
        self.records = list(records)
        self.fail_after = fail_after
        self.fail_with = fail_with
        self.name = name  # type: ignore[misc]
        self.seen_files: list[Path] = []

    def default_locations(self) -> list[str]:
        return []

    def parse(self, files: Sequence[Path]) -> Iterator[Record]:
        self.seen_files = list(files)
        for index, record in enumerate(self.records):
            if self.fail_after is not None and index == self.fail_after:
                assert self.fail_with is not None
                raise self.fail_with
            yield record


def advisory(package: str, vuln_id: str, namespace: str = "debian:12", **kw: object) -> Advisory:
    fields: dict[str, object] = {
        "ranges": (AffectedRange(fixed="1.0-1"),),
        "status": FixStatus.FIXED,
        "fixed_version": "1.0-1",
        "severity": Severity.LOW,
        "severity_source": "debian",
        "source": "listfeed",
    }
    fields.update(kw)
    return Advisory(namespace=namespace, package=package, vuln_id=vuln_id, **fields)  # type: ignore[arg-type]
