"""FIRST EPSS daily scores -> enrichment: probability of exploitation in the next 30 days.

Input: https://epss.empiricalsecurity.com/epss_scores-current.csv.gz (FIRST's daily file;
the older epss.cyentia.com host serves the same), gzip or plain CSV:

    #model_version:v2023.03.01,score_date:2024-10-25T00:00:00+0000
    cve,epss,percentile
    CVE-1999-0005,0.91963,0.99030

The comment line is optional; columns are found by the header, so added columns do no harm.
"""

from __future__ import annotations

import gzip
import io
import logging
import math
import re
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, ClassVar

from hullscan.db.feeds.base import Feed, Record
from hullscan.model import Vulnerability

log = logging.getLogger(__name__)

EPSS_URL = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"

_CVE_ID = re.compile(r"CVE-\d{4}-\d{4,}")
_GZIP_MAGIC = b"\x1f\x8b"
_SCORE_DATE = re.compile(r"score_date:\s*(\d{4}-\d{2}-\d{2}\S*)")


class EpssFeed(Feed):
    """FIRST's Exploit Prediction Scoring System: score and percentile per CVE."""

    name = "epss"
    description = "FIRST EPSS scores"
    file_patterns = ("*.csv", "*.csv.gz")
    enrichment: ClassVar[bool] = True

    def default_locations(self) -> list[str]:
        return [EPSS_URL]

    def parse(self, files: Sequence[Path]) -> Iterator[Record]:
        # The newest scores win per CVE: files are ordered by their score_date (a file
        # without one counts as oldest; ties: the later file), then read newest first,
        # skipping ids already yielded, so rows stream without holding every score.
        dated = sorted(enumerate(files), key=lambda item: (self._score_date(item[1]), item[0]))
        seen: set[str] = set()
        for _, path in reversed(dated):
            with self._open(path) as text:
                yield from self._rows(path, text, seen)

    @contextmanager
    def _open(self, path: Path) -> Iterator[IO[str]]:
        """The file as text, gunzipped when it is gzip; read errors become FeedError."""
        try:
            with path.open("rb") as raw:
                compressed = raw.read(2) == _GZIP_MAGIC
                raw.seek(0)
                stream: IO[bytes] | gzip.GzipFile = raw
                if compressed:
                    stream = gzip.GzipFile(fileobj=raw)
                yield io.TextIOWrapper(stream, encoding="utf-8", newline="")
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise self.error(path, f"truncated or corrupt gzip data ({exc})") from None
        except UnicodeDecodeError as exc:
            raise self.error(path, f"not UTF-8 text ({exc.reason})") from None
        except OSError as exc:
            raise self.error(path, f"cannot read: {exc.strerror or exc}") from None

    def _score_date(self, path: Path) -> str:
        """score_date of the `#model_version:...,score_date:...` line, "" without one."""
        with self._open(path) as text:
            first = text.readline(4096)
        match = _SCORE_DATE.search(first) if first.startswith("#") else None
        return match.group(1) if match else ""

    def _rows(self, path: Path, text: IO[str], seen: set[str]) -> Iterator[Vulnerability]:
        columns: dict[str, int] | None = None
        rows = 0
        for number, line in enumerate(text, start=1):
            line = line.strip()
            if not line:
                continue
            if line.startswith("#"):
                if columns is None:
                    log.info("epss: %s: %s", path.name, line[1:])  # model_version, score_date
                continue
            fields = [f.strip() for f in line.split(",")]
            if columns is None:
                columns = {name.lower(): i for i, name in enumerate(fields)}
                if not {"cve", "epss", "percentile"} <= columns.keys():
                    raise self.error(
                        path,
                        f"line {number}: expected a header with cve,epss,percentile, "
                        f"got {line[:80]!r}",
                    )
                continue
            try:
                vuln_id = fields[columns["cve"]]
                score = float(fields[columns["epss"]])
                percentile = float(fields[columns["percentile"]])
            except (IndexError, ValueError):
                raise self.error(path, f"line {number}: malformed row {line[:80]!r}") from None
            if not _CVE_ID.fullmatch(vuln_id):
                raise self.error(path, f"line {number}: {vuln_id[:40]!r} is not a CVE id")
            if not (_unit(score) and _unit(percentile)):
                raise self.error(path, f"line {number}: {vuln_id} scores out of [0, 1]")
            rows += 1
            if vuln_id in seen:
                continue
            seen.add(vuln_id)
            yield Vulnerability(id=vuln_id, epss=score, epss_percentile=percentile)
        if columns is None or not rows:
            # A daily file always scores 200,000+ CVEs: an empty one is a broken download.
            raise self.error(path, "no EPSS scores in the file (empty or truncated)")


def _unit(value: float) -> bool:
    return math.isfinite(value) and 0.0 <= value <= 1.0
