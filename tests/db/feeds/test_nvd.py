"""NVD CVE API 2.0: parsing real response pages, and the API client (pagination, windows,
rate limits, retries, API key) against a local emulation of the API."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hullscan.db.feeds.nvd import (
    MAX_WINDOW,
    NVD_API_URL,
    NvdFeed,
    RateLimiter,
    windows,
)
from hullscan.errors import FeedError
from hullscan.model import CvssScore, Severity, Vulnerability

from ..feedserver import NVD_PATH, FeedServer, feed_server, nvd_stamp


@pytest.fixture(scope="module")
def nvd_dir(advisories_dir: Path) -> Path:
    """vunnel's full-page.json (38 CVEs) and single-entry.json, vuln-list-update's pages
    (respPage1/2, respPageFull) and per-CVE records (golden/api)."""
    return advisories_dir / "nvd"


@pytest.fixture(scope="module")
def full_page(nvd_dir: Path) -> Path:
    return nvd_dir / "anchore__vunnel/tests/unit/providers/nvd/test-fixtures/full-page.json"


@pytest.fixture(scope="module")
def resp_full(nvd_dir: Path) -> Path:
    return nvd_dir / "aquasecurity__vuln-list-update/nvd/testdata/fixtures/respPageFull.json"


def parse(*files: Path) -> dict[str, Vulnerability]:
    records = list(NvdFeed().parse(list(files)))
    assert all(isinstance(r, Vulnerability) for r in records)
    result = {r.id: r for r in records if isinstance(r, Vulnerability)}
    assert len(result) == len(records), "one record per CVE"
    return result


class TestParse:
    def test_samples(self, nvd_dir: Path) -> None:
        files = sorted(nvd_dir.rglob("*.json"))
        vulns = parse(*files)
        # 38 (full-page) + 1 (single-entry) + 4 (vuln-list pages and per-CVE files)
        assert len(vulns) == 43
        rated = [v for v in vulns.values() if v.nvd_severity is not Severity.UNKNOWN]
        assert len(rated) == 40  # CVE-2023-43250, -45383, -46009 have no metrics yet

    def test_nvd_primary_score_first_then_cnas(self, nvd_dir: Path) -> None:
        page = nvd_dir / "aquasecurity__vuln-list-update/nvd/testdata/fixtures/respPage2.json"
        vuln = parse(page)["CVE-2024-5732"]
        assert vuln.nvd_severity is Severity.CRITICAL
        assert vuln.cvss == (
            CvssScore(
                "nvd", "3.1", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, Severity.CRITICAL
            ),
            CvssScore(
                "cna@vuldb.com",
                "3.1",
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:L",
                7.3,
                Severity.HIGH,
            ),
            vuln.cvss[2],
            CvssScore("cna@vuldb.com", "2.0", "AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5, Severity.HIGH),
        )
        v4 = vuln.cvss[2]
        assert (v4.source, v4.version, v4.score, v4.severity) == (
            "cna@vuldb.com",
            "4.0",
            6.9,
            Severity.MEDIUM,
        )
        assert v4.vector.startswith("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:L/")
        assert vuln.cwes == ("CWE-287",)
        assert vuln.published == "2024-06-07T10:15:12Z"
        assert vuln.description.startswith("A vulnerability was found in Clash up to 0.20.1")
        assert vuln.urls[0] == "https://nvd.nist.gov/vuln/detail/CVE-2024-5732"
        assert "https://vuldb.com/?id.267406" in vuln.urls
        assert (vuln.kev_added, vuln.epss) == ("", None)  # not NVD's facts

    def test_v2_only_as_last_resort(self, resp_full: Path) -> None:
        vuln = parse(resp_full)["CVE-2021-3881"]
        assert [(c.source, c.version, c.severity) for c in vuln.cvss] == [
            ("nvd", "3.1", Severity.CRITICAL),
            ("security@huntr.dev", "3.0", Severity.HIGH),
            ("nvd", "2.0", Severity.HIGH),
        ]
        assert vuln.nvd_severity is Severity.CRITICAL
        assert vuln.cwes == ("CWE-125",)  # listed by NVD and huntr: once
        assert vuln.description == "libmobi is vulnerable to Out-of-bounds Read"

    def test_cna_score_when_nvd_has_not_analysed(self, full_page: Path) -> None:
        vulns = parse(full_page)
        tenable = vulns["CVE-2023-5642"]  # "Awaiting Analysis": only the CNA's score
        assert tenable.nvd_severity is Severity.CRITICAL
        assert [c.source for c in tenable.cvss] == ["vulnreport@tenable.com"]
        oracle = vulns["CVE-2023-22068"]  # a CNA as Primary source
        assert oracle.cvss[0].source == "secalert_us@oracle.com"
        assert oracle.nvd_severity is Severity.MEDIUM
        assert oracle.cwes == ()  # NVD-CWE-noinfo says nothing
        netapp = vulns["CVE-2023-27314"]
        assert netapp.cwes == ("CWE-400",)
        unrated = vulns["CVE-2023-43250"]
        assert (unrated.cvss, unrated.nvd_severity) == ((), Severity.UNKNOWN)

    def test_bare_cve_records(self, nvd_dir: Path) -> None:
        golden = nvd_dir / "aquasecurity__vuln-list-update/nvd/testdata/golden/api"
        vulns = parse(*sorted(golden.rglob("*.json")))
        assert sorted(vulns) == [
            "CVE-2020-8167",
            "CVE-2021-22903",
            "CVE-2021-3881",
            "CVE-2024-5732",
        ]
        assert vulns["CVE-2020-8167"].cvss[0].score == 6.5

    def test_later_file_wins(self, resp_full: Path, tmp_path: Path) -> None:
        page = json.loads(resp_full.read_text())
        page["vulnerabilities"][2]["cve"]["descriptions"][0]["value"] = "newer text"
        newer = tmp_path / "b.json"
        newer.write_text(json.dumps(page))
        assert parse(resp_full, newer)["CVE-2021-3881"].description == "newer text"
        assert parse(newer, resp_full)["CVE-2021-3881"].description.startswith("libmobi")

    def test_rejected_record_replaces_with_nothing_to_show(self, tmp_path: Path) -> None:
        path = tmp_path / "page.json"
        cve = {
            "id": "CVE-2023-0001",
            "vulnStatus": "Rejected",
            "published": "2023-01-01T00:00:00.000",
            "descriptions": [{"lang": "en", "value": "Rejected reason: duplicate."}],
            "metrics": {},
            "references": [],
        }
        path.write_text(json.dumps({"totalResults": 1, "vulnerabilities": [{"cve": cve}]}))
        vuln = parse(path)["CVE-2023-0001"]
        assert (vuln.description, vuln.cvss, vuln.nvd_severity) == (
            "Rejected reason: duplicate.",
            (),
            Severity.UNKNOWN,
        )

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            (None, r"invalid JSON at line"),
            ('{"format": "NVD_CPE", "vulnerabilities": []}', r"format is 'NVD_CPE'"),
            ('{"vulnerabilities": {}}', r"'vulnerabilities' is an object, not a list"),
            ('{"vulnerabilities": [{"cpe": {}}]}', r"vulnerabilities\[0\]: expected a 'cve'"),
            (
                '{"vulnerabilities": [{"cve": {"id": "GHSA-1"}}]}',
                r"vulnerabilities\[0\]: 'id' is 'GHSA-1', not a CVE id",
            ),
            (
                '{"vulnerabilities": [{"cve": {"id": "CVE-2024-1234", "metrics": [1]}}]}',
                r"CVE-2024-1234: 'metrics' is a list, not an object",
            ),
            ("[1, 2]", r"expected an NVD CVE API 2.0 response or CVE record, got a list"),
        ],
        ids=["truncated", "other-format", "not-a-list", "no-cve", "bad-id", "bad-metrics", "list"],
    )
    def test_malformed(
        self, full_page: Path, tmp_path: Path, content: str | None, message: str
    ) -> None:
        path = tmp_path / "page.json"
        data = full_page.read_bytes()
        path.write_bytes(data[: len(data) // 3] if content is None else content.encode())
        with pytest.raises(FeedError, match=rf"^nvd feed: {path}: {message}"):
            list(NvdFeed().parse([path]))


def test_severity_from_the_score_when_not_named(tmp_path: Path) -> None:
    metric = {
        "source": "nvd@nist.gov",
        "type": "Primary",
        "cvssData": {
            "version": "3.1",
            "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "baseScore": 9.8,
        },
    }
    cve = {"id": "CVE-2024-0001", "descriptions": [], "metrics": {"cvssMetricV31": [metric]}}
    path = tmp_path / "page.json"
    path.write_text(json.dumps({"vulnerabilities": [{"cve": cve}]}))
    assert parse(path)["CVE-2024-0001"].nvd_severity is Severity.CRITICAL


def test_windows_are_at_most_120_days() -> None:
    since = datetime(2024, 1, 1, tzinfo=UTC)
    until = since + timedelta(days=300, hours=5)
    spans = windows(since, until)
    assert len(spans) == 3
    assert spans[0][0] == since and spans[-1][1] == until
    assert all(b - a <= MAX_WINDOW for a, b in spans)
    assert all(spans[i][1] == spans[i + 1][0] for i in range(len(spans) - 1))
    assert windows(until, since) == []


class FakeTime:
    """A clock that only moves when slept on: rate limits testable in no time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


def test_rate_limiter_sliding_window() -> None:
    fake = FakeTime()
    limiter = RateLimiter(5, 30.0, clock=fake.clock, sleep=fake.sleep)
    for _ in range(12):
        limiter.wait()
        fake.now += 1.0  # each request takes a second
    # 5 go at once, the 6th waits for the 1st to leave the window, and so on
    assert fake.sleeps == [25.0, 25.0]
    assert fake.now == pytest.approx(1000 + 12 + 50)


# -- the API client ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def records(full_page: Path) -> list[dict[str, Any]]:
    return [item["cve"] for item in json.loads(full_page.read_text())["vulnerabilities"]]


@pytest.fixture
def nvd(records: list[dict[str, Any]]) -> Any:
    with feed_server() as server:
        server.nvd = [dict(r) for r in records]
        yield server


def feed(fake: FakeTime, **kw: Any) -> NvdFeed:
    options: dict[str, Any] = {"api_key": "", "sleep": fake.sleep, "clock": fake.clock}
    options.update(kw)
    return NvdFeed(**options)


def notes() -> tuple[list[str], Any]:
    seen: list[str] = []
    return seen, seen.append


def test_pages_through_everything(nvd: FeedServer, tmp_path: Path) -> None:
    fake = FakeTime()
    seen, note = notes()
    got = feed(fake, page_size=10).download(
        nvd.url(NVD_PATH), tmp_path, None, timeout=10, note=note
    )
    assert [q["startIndex"] for q in nvd.nvd_queries] == ["0", "10", "20", "30"]
    assert all(q["resultsPerPage"] == "10" for q in nvd.nvd_queries)
    assert not any("lastModStartDate" in q for q in nvd.nvd_queries)
    assert len(got.files) == 4 and not got.delta and not got.unchanged
    assert seen[-1] == "nvd: 38/38 CVEs"
    assert len(parse(*got.files)) == 38
    # the newest record's lastModified is the data's fingerprint; the server's clock at
    # the start is where the next build continues
    newest = max(r["lastModified"] for r in nvd.nvd)  # 2023-10-18T18:04:04.xxx
    assert got.fingerprint == f"lastmod:{newest[:19]}Z"
    assert got.state["last_modified"] == f"{newest[:19]}Z"
    assert got.state["high_water"].startswith(str(datetime.now(UTC).year))
    assert fake.sleeps == []  # 4 requests: within 5 per 30 s


def test_rate_limit_without_and_with_key(nvd: FeedServer, tmp_path: Path) -> None:
    fake = FakeTime()
    feed(fake, page_size=4).download(
        nvd.url(NVD_PATH), tmp_path / "a", None, timeout=10, note=print
    )
    assert len(nvd.nvd_queries) == 10
    assert fake.sleeps == [30.0]  # the 6th request waits for the window
    assert all("apikey" not in h for h in nvd.nvd_headers)

    nvd.reset_counts()
    fake = FakeTime()
    feed(fake, page_size=4, api_key="k-123").download(
        nvd.url(NVD_PATH), tmp_path / "b", None, timeout=10, note=print
    )
    assert fake.sleeps == []  # 50 per 30 s with a key
    assert {h["apikey"] for h in nvd.nvd_headers} == {"k-123"}


def test_api_key_from_environment_never_logged(
    nvd: FeedServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("NVD_API_KEY", "secret-key-0123")
    nvd.nvd_failures = [403] * 10
    fake = FakeTime()
    caplog.set_level(logging.DEBUG)
    with pytest.raises(FeedError) as info:
        NvdFeed(sleep=fake.sleep, clock=fake.clock, retries=2).download(
            nvd.url(NVD_PATH), tmp_path, None, timeout=10, note=print
        )
    assert {h["apikey"] for h in nvd.nvd_headers} == {"secret-key-0123"}
    assert "secret-key-0123" not in str(info.value)
    assert "secret-key-0123" not in caplog.text
    assert str(info.value) == (
        f"cannot fetch {nvd.url(NVD_PATH)} (startIndex 0): HTTP 403 (Request forbidden by "
        "administrative rules.) after 3 attempts (NVD's rate limit)"
    )


def test_retries_with_backoff(nvd: FeedServer, tmp_path: Path) -> None:
    nvd.nvd_failures = [503, 429, 403]
    fake = FakeTime()
    got = feed(fake, backoff=2.0).download(
        nvd.url(NVD_PATH), tmp_path, None, timeout=10, note=print
    )
    assert len(nvd.nvd_queries) == 4 and len(got.files) == 1
    assert fake.sleeps == [2.0, 4.0, 8.0]


def test_rate_limited_without_key_says_how_to_raise_it(nvd: FeedServer, tmp_path: Path) -> None:
    nvd.nvd_failures = [403] * 10
    with pytest.raises(
        FeedError,
        match=r"after 2 attempts \(NVD's rate limit; an API key "
        r"raises it: set NVD_API_KEY\)$",
    ):
        feed(FakeTime(), retries=1).download(
            nvd.url(NVD_PATH), tmp_path, None, timeout=10, note=print
        )


def test_client_errors_are_not_retried(tmp_path: Path) -> None:
    with (
        feed_server() as server,
        pytest.raises(FeedError, match=r"^cannot fetch .*/nothing/here \(startIndex 0\): HTTP 404"),
    ):
        feed(FakeTime()).download(
            server.url("/nothing/here"), tmp_path, None, timeout=10, note=print
        )
    assert server.requests["/nothing/here"] == 1


def test_empty_page_before_the_end_fails(nvd: FeedServer, tmp_path: Path) -> None:
    class Short(NvdFeed):
        pass

    nvd.nvd = nvd.nvd[:3]
    got = feed(FakeTime(), page_size=2).download(
        nvd.url(NVD_PATH), tmp_path / "ok", None, timeout=10, note=print
    )
    assert len(got.files) == 2

    def lying_total(raw: bytes) -> bytes:
        page = json.loads(raw)
        page["totalResults"] = 99
        return json.dumps(page).encode()

    original = NvdFeed._get

    def get(self: NvdFeed, *args: Any, **kw: Any) -> bytes:
        return lying_total(original(self, *args, **kw))

    Short._get = get  # type: ignore[method-assign]
    with pytest.raises(
        FeedError,
        match=r"\(startIndex 3\): the page is empty although "
        r"totalResults is 99",
    ):
        Short(api_key="", sleep=lambda s: None, page_size=2).download(
            nvd.url(NVD_PATH), tmp_path / "bad", None, timeout=10, note=print
        )


def test_incremental_windows_since_the_previous_build(nvd: FeedServer, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    since = now - timedelta(days=300)
    previous = {
        "high_water": since.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "last_modified": "2023-10-18T18:04:00Z",
    }
    got = feed(FakeTime()).download(nvd.url(NVD_PATH), tmp_path, previous, timeout=10, note=print)
    spans = [(q["lastModStartDate"], q["lastModEndDate"]) for q in nvd.nvd_queries]
    assert len(spans) == 3  # 300 days: three windows of at most 120
    assert spans[0][0].startswith(since.strftime("%Y-%m-%dT%H:%M:%S.000+00:00"))
    assert got.unchanged and got.delta and got.files == []
    assert got.state["last_modified"] == "2023-10-18T18:04:00Z"
    assert got.state["high_water"] >= now.strftime("%Y-%m-%dT%H:%M")

    # one record changes: only it comes back, as a delta
    nvd.reset_counts()
    changed = dict(nvd.nvd[5], lastModified=nvd_stamp(datetime.now(UTC)))
    nvd.nvd[5] = changed
    again = feed(FakeTime()).download(
        nvd.url(NVD_PATH), tmp_path / "2", got.state, timeout=10, note=print
    )
    assert len(nvd.nvd_queries) == 1
    assert again.delta and not again.unchanged
    assert list(parse(*again.files)) == [changed["id"]]
    assert again.fingerprint == f"lastmod:{again.state['last_modified']}"
    assert again.state["last_modified"] > got.state["last_modified"]


def test_default_location() -> None:
    assert NvdFeed().default_locations() == [NVD_API_URL]
    assert NVD_API_URL == "https://services.nvd.nist.gov/rest/json/cves/2.0"
