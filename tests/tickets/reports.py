"""Real hullscan JSON reports for the tracker tests: the bundled sample image scanned
against the bundled Alpine secdb slice, in-process (examples/sample-image, examples/feeds).

Variants simulate later pipelines: a clair-scanner whitelist suppresses findings, which
the tracker must read as fixed (suppressed findings are not tracked), and another
image name gives a second issue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hullscan.db.builder import build_db
from hullscan.db.feeds.registry import get_feed
from hullscan.db.reader import VulnDB
from hullscan.image.archive import open_archive
from hullscan.model import ScanReport
from hullscan.policy import Policy, apply_policy, parse_clair_whitelist
from hullscan.report import json as json_report
from hullscan.report.base import ReportOptions
from hullscan.report.load import LoadedReport, parse_reports
from hullscan.scan import index, match
from tests.conftest import REPO
from tests.image.test_archive import load_sample_builder

SAMPLE_NAME = "hullscan/sample:alpine-3.4"
BUSYBOX_CVES = ("CVE-2016-6301", "CVE-2017-15873", "CVE-2017-16544")
STARTED = datetime(2024, 5, 2, 8, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Scans:
    """One real scan of the sample image, reusable under any name and whitelist."""

    report: ScanReport
    db_path: Path
    image_path: Path

    def json(self, name: str = SAMPLE_NAME, whitelist: tuple[str, ...] = ()) -> str:
        policy = Policy()
        if whitelist:
            text = "generalwhitelist:\n" + "".join(
                f"  {cve}: fixed in the next release\n" for cve in whitelist
            )
            policy = Policy(whitelist=parse_clair_whitelist(text, "test-whitelist.yaml"))
        report = apply_policy(self.report, policy, name)
        options = ReportOptions(started_at=STARTED, finished_at=STARTED)
        return json_report.render(report, options)

    def loaded(self, name: str = SAMPLE_NAME, whitelist: tuple[str, ...] = ()) -> LoadedReport:
        (loaded,) = parse_reports(self.json(name, whitelist), f"{name}.json")
        return loaded

    def all_ids(self) -> tuple[str, ...]:
        return tuple(sorted({f.vuln_id for f in self.report.findings}))


def scan_sample(root: Path) -> Scans:
    image = root / "sample.tar"
    load_sample_builder().build(image)  # type: ignore[no-untyped-call]
    db_path = root / "hullscan.db"
    feed = get_feed("alpine")
    build_db(db_path, [(feed, str(REPO / "examples" / "feeds" / "alpine" / "v3.4"))])
    with VulnDB.open(db_path) as db, open_archive(image) as source:
        inventory = index(source)
        report = match(inventory, db, started_at=STARTED)
    return Scans(report=report, db_path=db_path, image_path=image)
