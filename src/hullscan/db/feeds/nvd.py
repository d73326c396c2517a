"""NVD CVE API 2.0 -> enrichment: CVSS scores, CWEs, description, references, published.

Input: pages of https://services.nvd.nist.gov/rest/json/cves/2.0, shaped
``{resultsPerPage, startIndex, totalResults, format: "NVD_CVE", timestamp,
vulnerabilities: [{cve: {id, published, lastModified, vulnStatus, descriptions, metrics,
weaknesses, references}}]}``. From the URL, `download` pages through the API (all of it the
first time, then only what changed since the last build, by lastModStartDate) within the
public rate limits; a local directory of such pages (a mirror, or the samples) or of bare
``cve`` objects (one file per CVE, as vuln-list keeps them) is parsed the same way.
NVD's records carry no package data: they only add facts to ids the vendors' feeds name.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import httpx

from hullscan.cvss import severity_of_score
from hullscan.db.feeds.base import Feed, Record, json_kind
from hullscan.db.fetch import Fetched, tls_context
from hullscan.errors import FeedError
from hullscan.image.registry import retry_after_seconds
from hullscan.model import CvssScore, Severity, Vulnerability

log = logging.getLogger(__name__)

NVD_API_URL = "https://services.nvd.nist.gov/rest/json/cves/2.0"
NVD_LINK = "https://nvd.nist.gov/vuln/detail/{}"
API_KEY_ENV = "NVD_API_KEY"
#: NVD's own analyst: its scores are preferred over the CNAs' (sourceIdentifier).
NVD_SOURCE = "nvd@nist.gov"
#: lastModStartDate..lastModEndDate may span at most 120 days.
MAX_WINDOW = timedelta(days=120)
MAX_PAGE_SIZE = 2000

_CVE_ID = re.compile(r"CVE-\d{4}-\d{4,}")
_CWE_ID = re.compile(r"CWE-\d+")
# Metric keys in the order their versions are preferred for NVD's severity; v2 only when
# nothing else exists (its scale has no CRITICAL and inflates old scores).
_METRICS: tuple[tuple[str, str], ...] = (
    ("cvssMetricV31", "3.1"),
    ("cvssMetricV30", "3.0"),
    ("cvssMetricV40", "4.0"),
    ("cvssMetricV2", "2.0"),
)
_SEVERITY_NAMES: dict[str, Severity] = {
    "NONE": Severity.NEGLIGIBLE,
    "LOW": Severity.LOW,
    "MEDIUM": Severity.MEDIUM,
    "HIGH": Severity.HIGH,
    "CRITICAL": Severity.CRITICAL,
}
_USER_AGENT = "hullscan (vulnerability DB builder)"
_RETRY_STATUS = frozenset({403, 429, 500, 502, 503, 504})


def nvd_time(text: str) -> datetime:
    """NVD's timestamps (`2023-11-27T04:36:56.737`, UTC without a zone) as aware datetimes."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _api_time(value: datetime) -> str:
    """The extended ISO-8601 form the API wants for lastModStartDate/lastModEndDate.

    Milliseconds kept: NVD's lastModified has them, and a window that ended at a whole
    second would miss what changed in the rest of that second.
    """
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+00:00"


def windows(since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
    """[since, until] cut into consecutive ranges of at most 120 days (the API's limit)."""
    ranges: list[tuple[datetime, datetime]] = []
    start = since
    while start < until:
        end = min(start + MAX_WINDOW, until)
        ranges.append((start, end))
        start = end
    return ranges


class RateLimiter:
    """At most `limit` requests in any `window` seconds, by sleeping before a request.

    NVD's public limits are 5 requests per rolling 30 s without an API key and 50 with
    one; exceeding them earns 403s, so waiting up front is faster than backing off.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit = max(1, limit)
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()

    def wait(self) -> None:
        now = self._clock()
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()
        if len(self._sent) >= self.limit:
            delay = self._sent[0] + self.window - now
            if delay > 0:
                self._sleep(delay)
            self._sent.popleft()
        self._sent.append(self._clock())


class NvdFeed(Feed):
    """NVD's CVE records: CVSS v4.0/v3.x/v2 metrics, CWEs, English description, references."""

    name = "nvd"
    description = "NVD CVE API 2.0 (CVSS, CWE)"
    file_patterns = ("*.json",)
    #: adds facts to vulnerabilities, never advisories; vendors' descriptions come first
    enrichment: ClassVar[bool] = True

    def __init__(
        self,
        *,
        api_key: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        window: float = 30.0,
        limit_without_key: int = 5,
        limit_with_key: int = 50,
        retries: int = 5,
        backoff: float = 6.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`api_key` None reads $NVD_API_KEY; the rest exists so tests need not wait."""
        self._api_key = api_key
        self.page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self.window = window
        self.limit_without_key = limit_without_key
        self.limit_with_key = limit_with_key
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        self._clock = clock
        self._now = now

    def default_locations(self) -> list[str]:
        return [NVD_API_URL]

    # -- download ---------------------------------------------------------------------

    def download(
        self,
        url: str,
        dest_dir: Path,
        previous: Mapping[str, Any] | None,
        *,
        timeout: float,
        note: Callable[[str], None],
    ) -> Fetched:
        """All CVEs the first time; then only those modified since the previous build.

        `previous` holds `high_water` (the server time the previous download started) and
        `last_modified` (the newest record it saw); the ranges after `high_water` are
        fetched in 120-day windows. The records of a delta replace their ids' rows.
        """
        key = self._api_key if self._api_key is not None else os.environ.get(API_KEY_ENV, "")
        key = key.strip()
        limiter = RateLimiter(
            self.limit_with_key if key else self.limit_without_key,
            self.window,
            clock=self._clock,
            sleep=self._sleep,
        )
        since = _previous_time(previous, "high_water")
        newest = _previous_time(previous, "last_modified")
        started = self._now()
        plan: list[tuple[datetime, datetime] | None] = [None]
        if since is not None:
            plan = list(windows(since, started))
        headers = {"User-Agent": _USER_AGENT, "Accept": "application/json"}
        if key:
            headers["apiKey"] = key  # a header, so it never shows in a URL or a log line
        dest_dir.mkdir(parents=True, exist_ok=True)
        files: list[Path] = []
        server_time: datetime | None = None
        received = 0
        with httpx.Client(
            timeout=httpx.Timeout(timeout),
            headers=headers,
            follow_redirects=True,
            verify=tls_context(),
        ) as client:
            for span in plan:
                start_index = 0
                while True:
                    params: dict[str, str | int] = {
                        "resultsPerPage": self.page_size,
                        "startIndex": start_index,
                    }
                    if span is not None:
                        params["lastModStartDate"] = _api_time(span[0])
                        params["lastModEndDate"] = _api_time(span[1])
                    where = f"{url} (startIndex {start_index})"
                    raw = self._get(client, url, params, limiter, key_given=bool(key))
                    page = self._page(where, raw)
                    if server_time is None and isinstance(page.get("timestamp"), str):
                        try:
                            server_time = nvd_time(page["timestamp"])
                        except ValueError:
                            server_time = None
                    items: list[Any] = page["vulnerabilities"]
                    total: int = page["totalResults"]
                    path = dest_dir / f"nvd-{len(files):05d}.json"
                    path.write_bytes(raw)
                    files.append(path)
                    received += len(items)
                    newest = _newest(newest, items)
                    start_index += len(items)
                    note(f"{self.name}: {min(start_index, total)}/{total} CVEs")
                    if start_index >= total:
                        break
                    if not items:
                        raise FeedError(
                            f"{where}: the page is empty although totalResults is {total}"
                        )
        # The next build asks for what changed since this one started: the earlier of our
        # clock and the server's first answer, so a skewed clock leaves no gap (an overlap
        # only fetches a few records twice).
        high_water = min(started, server_time) if server_time else started
        if since is not None and received == 0:
            for path in files:
                path.unlink(missing_ok=True)
            files = []
        state = {
            "high_water": _iso(high_water),
            "last_modified": _iso(newest) if newest else "",
        }
        return Fetched(
            files=files,
            fingerprint=f"lastmod:{state['last_modified'] or state['high_water']}",
            state=state,
            unchanged=since is not None and received == 0,
            delta=since is not None,
        )

    def _get(
        self,
        client: httpx.Client,
        url: str,
        params: Mapping[str, str | int],
        limiter: RateLimiter,
        *,
        key_given: bool,
    ) -> bytes:
        """One page, retried on 403/429/5xx and network errors with exponential backoff."""
        where = f"{url} (startIndex {params['startIndex']})"
        problem = ""
        retry_after: float | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                delay = self.backoff * 2 ** (attempt - 1)
                if retry_after is not None:
                    delay = max(delay, retry_after)
                log.info("nvd: %s; retrying in %.0f s", problem, delay)
                self._sleep(delay)
                retry_after = None
            limiter.wait()
            try:
                response = client.get(url, params=params)
            except httpx.TimeoutException:
                problem = "timed out"
                continue
            except httpx.HTTPError as exc:
                problem = str(exc) or type(exc).__name__
                continue
            if response.status_code == 200:
                return response.content
            problem = f"HTTP {response.status_code}"
            message = response.headers.get("message", "")  # NVD explains errors in a header
            if message:
                problem += f" ({message[:200]})"
            if response.status_code not in _RETRY_STATUS:
                raise FeedError(f"cannot fetch {where}: {problem}")
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        hint = ""
        if "403" in problem or "429" in problem:
            hint = (
                " (NVD's rate limit; an API key raises it: set NVD_API_KEY)"
                if not key_given
                else " (NVD's rate limit)"
            )
        raise FeedError(f"cannot fetch {where}: {problem} after {self.retries + 1} attempts{hint}")

    @staticmethod
    def _page(where: str, raw: bytes) -> dict[str, Any]:
        """A page's JSON, checked enough to page on: a bad page fails before it is stored."""
        try:
            page = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise FeedError(f"{where}: invalid JSON in the API response: {exc}") from None
        if not isinstance(page, dict):
            raise FeedError(f"{where}: expected a JSON object, got {json_kind(page)}")
        if not isinstance(page.get("vulnerabilities"), list):
            raise FeedError(f"{where}: the API response has no 'vulnerabilities' list")
        total = page.get("totalResults")
        if not isinstance(total, int) or isinstance(total, bool) or total < 0:
            raise FeedError(f"{where}: the API response has no valid 'totalResults'")
        return page

    # -- parse ------------------------------------------------------------------------

    def parse(self, files: Sequence[Path]) -> Iterator[Record]:
        # Later files win per CVE (a later page or window holds the newer record), so
        # files are read last to first and an id already yielded is skipped: one
        # Vulnerability per CVE, streamed page by page.
        seen: set[str] = set()
        for path in reversed(files):
            data = self.load_json(path)
            for where, cve in reversed(list(self._records(path, data))):
                vuln_id = cve.get("id")
                if not isinstance(vuln_id, str) or not _CVE_ID.fullmatch(vuln_id):
                    raise self.error(path, f"{where}: 'id' is {vuln_id!r}, not a CVE id")
                if vuln_id in seen:
                    continue
                seen.add(vuln_id)
                try:
                    yield self._vulnerability(vuln_id, cve)
                except (TypeError, ValueError, AttributeError) as exc:
                    raise self.error(path, f"{vuln_id}: {exc}") from None

    def _records(self, path: Path, data: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        if isinstance(data, dict) and "vulnerabilities" in data:
            kind = data.get("format")
            if kind is not None and kind != "NVD_CVE":
                raise self.error(path, f"format is {kind!r}, not an NVD CVE API response")
            items = data["vulnerabilities"]
            if not isinstance(items, list):
                raise self.error(path, f"'vulnerabilities' is {json_kind(items)}, not a list")
            for index, item in enumerate(items):
                cve = item.get("cve") if isinstance(item, dict) else None
                if not isinstance(cve, dict):
                    raise self.error(path, f"vulnerabilities[{index}]: expected a 'cve' object")
                yield f"vulnerabilities[{index}]", cve
        elif isinstance(data, dict) and "id" in data and "descriptions" in data:
            yield "CVE record", data  # one bare cve object per file
        else:
            raise self.error(
                path,
                f"expected an NVD CVE API 2.0 response or CVE record, got {json_kind(data)}"
                + (f" with keys {', '.join(sorted(data)[:5])}" if isinstance(data, dict) else ""),
            )

    def _vulnerability(self, vuln_id: str, cve: dict[str, Any]) -> Vulnerability:
        scores = _scores(cve.get("metrics") or {})
        published = cve.get("published")
        return Vulnerability(
            id=vuln_id,
            description=_english(cve.get("descriptions") or []),
            urls=_urls(vuln_id, cve.get("references") or []),
            cvss=tuple(scores),
            cwes=_cwes(cve.get("weaknesses") or []),
            published=_iso(nvd_time(published)) if isinstance(published, str) else "",
            nvd_severity=scores[0].severity if scores else Severity.UNKNOWN,
        )


def _previous_time(previous: Mapping[str, Any] | None, key: str) -> datetime | None:
    value = previous.get(key) if previous else None
    if not isinstance(value, str) or not value:
        return None
    try:
        return nvd_time(value)
    except ValueError:
        return None


def _newest(newest: datetime | None, items: list[Any]) -> datetime | None:
    for item in items:
        cve = item.get("cve") if isinstance(item, dict) else None
        modified = cve.get("lastModified") if isinstance(cve, dict) else None
        if isinstance(modified, str):
            try:
                stamp = nvd_time(modified)
            except ValueError:
                continue
            if newest is None or stamp > newest:
                newest = stamp
    return newest


def _english(descriptions: list[Any]) -> str:
    if not isinstance(descriptions, list):
        raise TypeError(f"'descriptions' is {json_kind(descriptions)}, not a list")
    for item in descriptions:
        if isinstance(item, dict) and item.get("lang") == "en":
            value = item.get("value")
            if isinstance(value, str):
                return value.strip()
    return ""


def _urls(vuln_id: str, references: list[Any]) -> tuple[str, ...]:
    if not isinstance(references, list):
        raise TypeError(f"'references' is {json_kind(references)}, not a list")
    urls = [NVD_LINK.format(vuln_id)]
    for ref in references:
        url = ref.get("url") if isinstance(ref, dict) else None
        if isinstance(url, str) and url.strip():
            urls.append(url.strip())
    return tuple(dict.fromkeys(urls))


def _cwes(weaknesses: list[Any]) -> tuple[str, ...]:
    """CWE ids, NVD's (Primary) first; NVD-CWE-noinfo / NVD-CWE-Other say nothing."""
    if not isinstance(weaknesses, list):
        raise TypeError(f"'weaknesses' is {json_kind(weaknesses)}, not a list")
    ranked = sorted(
        (w for w in weaknesses if isinstance(w, dict)),
        key=lambda w: (w.get("source") != NVD_SOURCE, w.get("type") != "Primary"),
    )
    found: list[str] = []
    for weakness in ranked:
        for item in weakness.get("description") or []:
            value = item.get("value") if isinstance(item, dict) else None
            if isinstance(value, str) and _CWE_ID.fullmatch(value.strip()):
                found.append(value.strip())
    return tuple(dict.fromkeys(found))


def _scores(metrics: Mapping[str, Any]) -> list[CvssScore]:
    """Every CVSS assessment, the one NVD's severity comes from first.

    Preference: anything over v2; then NVD's own analysis (nvd@nist.gov), then another
    Primary source, then Secondary (CNA) ones; then v3.1, v3.0, v4.0.
    """
    if not isinstance(metrics, dict):
        raise TypeError(f"'metrics' is {json_kind(metrics)}, not an object")
    ranked: list[tuple[tuple[int, int, int, int], CvssScore]] = []
    for rank, (key, version) in enumerate(_METRICS):
        entries = metrics.get(key) or []
        if not isinstance(entries, list):
            raise TypeError(f"'metrics.{key}' is {json_kind(entries)}, not a list")
        for index, entry in enumerate(entries):
            score = _score(entry, version)
            if score is None:
                continue
            source = entry.get("source")
            by = 0 if source == NVD_SOURCE else 1 if entry.get("type") == "Primary" else 2
            ranked.append(((int(version == "2.0"), by, rank, index), score))
    ranked.sort(key=lambda pair: pair[0])
    return list(dict.fromkeys(score for _, score in ranked))


def _score(entry: Any, default_version: str) -> CvssScore | None:
    """One metric entry; None when it lacks a vector or a score (nothing to show)."""
    if not isinstance(entry, dict):
        raise TypeError(f"a CVSS metric is {json_kind(entry)}, not an object")
    data = entry.get("cvssData")
    if not isinstance(data, dict):
        return None
    vector = data.get("vectorString")
    score = data.get("baseScore")
    if not isinstance(vector, str) or not vector or isinstance(score, bool):
        return None
    if not isinstance(score, int | float):
        return None
    version = data.get("version")
    version = version if isinstance(version, str) and version else default_version
    # v2 keeps baseSeverity outside cvssData; without one, the specification's bands
    named = data.get("baseSeverity") or entry.get("baseSeverity")
    severity = _SEVERITY_NAMES.get(named.upper()) if isinstance(named, str) else None
    source = entry.get("source")
    return CvssScore(
        source="nvd" if source == NVD_SOURCE or not isinstance(source, str) else source,
        version=version,
        vector=vector,
        score=float(score),
        severity=severity if severity is not None else severity_of_score(score, version),
    )
