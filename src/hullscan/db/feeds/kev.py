"""CISA Known Exploited Vulnerabilities catalog -> enrichment: "exploited since <date>".

Input: https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json,
shaped ``{title, catalogVersion, dateReleased, count, vulnerabilities: [{cveID,
vendorProject, product, dateAdded, dueDate, knownRansomwareCampaignUse, ...}]}``. One entry
per file, as vuln-list mirrors it (``kevc/<year>/CVE-....json``), is read too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

from hullscan.db.feeds.base import Feed, Record, json_kind
from hullscan.model import Vulnerability

KEV_URL = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"

_CVE_ID = re.compile(r"CVE-\d{4}-\d{4,}")


class KevFeed(Feed):
    """CISA KEV: which CVEs are exploited in the wild, and since when CISA says so."""

    name = "kev"
    description = "CISA Known Exploited Vulnerabilities"
    file_patterns = ("*.json",)
    enrichment: ClassVar[bool] = True

    def default_locations(self) -> list[str]:
        return [KEV_URL]

    def parse(self, files: Sequence[Path]) -> Iterator[Record]:
        # The earliest dateAdded wins when several files list a CVE: the catalog never
        # removes entries, so an earlier date is the real "known exploited since".
        added: dict[str, str] = {}
        for path in files:
            for where, entry in self._entries(path, self.load_json(path)):
                vuln_id = entry.get("cveID")
                if not isinstance(vuln_id, str) or not _CVE_ID.fullmatch(vuln_id.strip()):
                    raise self.error(path, f"{where}: 'cveID' is {vuln_id!r}, not a CVE id")
                day = entry.get("dateAdded")
                try:
                    when = date.fromisoformat(day).isoformat() if isinstance(day, str) else ""
                except ValueError:
                    when = ""
                if not when:
                    raise self.error(path, f"{where} {vuln_id}: 'dateAdded' is {day!r}")
                vuln_id = vuln_id.strip()
                if vuln_id not in added or when < added[vuln_id]:
                    added[vuln_id] = when
        for vuln_id in sorted(added):
            yield Vulnerability(id=vuln_id, kev_added=added[vuln_id])

    def _entries(self, path: Path, data: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        if isinstance(data, dict) and "vulnerabilities" in data:
            items = data["vulnerabilities"]
            if not isinstance(items, list):
                raise self.error(path, f"'vulnerabilities' is {json_kind(items)}, not a list")
            for index, item in enumerate(items):
                if not isinstance(item, dict):
                    raise self.error(
                        path, f"vulnerabilities[{index}]: expected an object, got {json_kind(item)}"
                    )
                yield f"vulnerabilities[{index}]", item
        elif isinstance(data, dict) and "cveID" in data:
            yield "entry", data
        else:
            raise self.error(
                path,
                f"expected the KEV catalog (an object with 'vulnerabilities'), got "
                f"{json_kind(data)}",
            )
