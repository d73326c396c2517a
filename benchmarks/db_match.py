#!/usr/bin/env python3
"""Matching speed against a 300,000-advisory DB, DB build time, and artifact size.

    .venv/bin/python benchmarks/db_match.py [--workdir build/bench/db] [--advisories 300000]
                                            [--packages 5000] [--levels 3,9,12,19]

1. Build: `build_db` over the real feed samples in ../shared/data/advisories and
   examples/feeds (Debian tracker slice, the full Alpine secdb v3.3-v3.11, Ubuntu OSV,
   Amazon ALAS, Wolfi, Red Hat VEX) - wall time, advisories, DB size.
2. Scale: the same feeds' real records (parsed by the real parsers) replicated under other
   package names (`openssl` -> `openssl-b1`, `openssl-b2`, ...) in their real namespaces
   until the DB holds --advisories rows, built with `build_db` (wall time reported).
3. Match: for the two namespaces with most advisories (an apk and a dpkg release), an
   inventory of --packages OS packages named after DB keys (half at a version below every
   fix, half above), matched with `hullscan.scan.match` - the OS matcher, the enrichment
   lookup and the report model. Cold (first call on a freshly opened DB) and warm (median
   and minimum of 7) times.
4. Distribute: `export_db` of the big DB at DEFAULT_LEVEL (time, artifact size, size per
   100k advisories), `import_db` time; with --levels, the size/time of other zstd levels.

Prints a Markdown table (docs/db-distribution.md, "Speed and size") and writes
--workdir/results.json. Needs nothing but ../shared/data; no network.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src")]

import zstandard  # noqa: E402

from hullscan import scan  # noqa: E402
from hullscan.db.artifact import DEFAULT_LEVEL, export_db  # noqa: E402
from hullscan.db.builder import build_db  # noqa: E402
from hullscan.db.distribution import import_db  # noqa: E402
from hullscan.db.feeds.base import Feed, Record  # noqa: E402
from hullscan.db.feeds.registry import get_feed  # noqa: E402
from hullscan.db.fetch import fetch  # noqa: E402
from hullscan.db.reader import VulnDB  # noqa: E402
from hullscan.model import (  # noqa: E402
    Advisory,
    ArtifactInfo,
    Distro,
    Inventory,
    Package,
    PackageType,
)

SHARED = Path(os.environ.get("HULLSCAN_SHARED_DATA", REPO.parent / "shared" / "data"))
ADV = SHARED / "advisories"
#: (feed, location): every OS feed sample we have, as `db build --source` would read it.
SAMPLES = [
    ("debian", REPO / "examples/feeds/debian/tracker-slice.json"),
    ("alpine", ADV / "alpine/alpinelinux__alpine-secdb"),
    ("ubuntu", ADV / "ubuntu/anchore__vunnel/tests/unit/providers/ubuntu/test-fixtures/osv"),
    (
        "amazon",
        ADV
        / "amazon/aquasecurity__vuln-list-update/amazon/testdata/fixtures/updateinfo_AL2023.xml.gz",
    ),
    (
        "wolfi",
        ADV / "wolfi/anchore__vunnel/tests/unit/providers/wolfi/test-fixtures/input/secdb",
    ),
    ("redhat", ADV / "redhat/quay__claircore/rhel/vex/testdata"),
]
#: Red Hat's VEX samples include a deliberately broken file in some snapshots: skip, not fail.
OPTIONAL = {"redhat", "ubuntu", "amazon"}
#: How the matcher sees each namespace family: (distro id, package type).
FAMILIES = {"alpine": ("alpine", PackageType.APK), "debian": ("debian", PackageType.DEB)}
DEBIAN_VERSIONS = {"debian:10": "10", "debian:11": "11", "debian:12": "12", "debian:9": "9"}


class RecordFeed(Feed):
    """Yields prepared records: the replicated DB goes through the real builder."""

    name = "bench"

    def __init__(self, name: str, records: Sequence[Record]) -> None:
        self.name = name  # type: ignore[misc]
        self.records = records

    def default_locations(self) -> list[str]:
        return []

    def parse(self, files: Sequence[Path]) -> Iterator[Record]:
        return iter(self.records)


def usable_samples() -> list[tuple[Feed, str]]:
    """The samples whose feed exists in this hullscan and whose files parse."""
    plan: list[tuple[Feed, str]] = []
    for name, path in SAMPLES:
        if not path.exists():
            print(f"  (skipping {name}: {path} not found)")
            continue
        feed = get_feed(name)
        if name in OPTIONAL:
            try:
                for _ in feed.parse(fetch(str(path), Path("/nonexistent"), feed.file_patterns)):
                    pass
            except Exception as exc:
                print(f"  (skipping {name}: {exc})")
                continue
        plan.append((feed, str(path)))
    return plan


def real_records(plan: list[tuple[Feed, str]]) -> dict[str, list[Record]]:
    by_feed: dict[str, list[Record]] = {}
    for feed, location in plan:
        files = fetch(location, Path("/nonexistent"), feed.file_patterns)
        by_feed[feed.name] = list(feed.parse(files))
    return by_feed


def replicate(by_feed: dict[str, list[Record]], target: int) -> list[tuple[Feed, str]]:
    """Every feed's real advisories, copy after copy under new package names, until `target`
    rows: copy k of `openssl` is `openssl-bk`, in the record's own (real) namespace."""
    real = {n: [r for r in rs if isinstance(r, Advisory)] for n, rs in by_feed.items()}
    out: dict[str, list[Record]] = {
        n: [r for r in rs if not isinstance(r, Advisory)] for n, rs in by_feed.items()
    }
    left = target
    copy = 0
    while left > 0:
        for name, advisories in real.items():
            for advisory in advisories[:left]:
                package = advisory.package if copy == 0 else f"{advisory.package}-b{copy}"
                out[name].append(replace(advisory, package=package))
            left -= min(left, len(advisories))
        copy += 1
    return [(RecordFeed(name, records), str(REPO / "README.md")) for name, records in out.items()]


def inventory_for(db_path: Path, namespace: str, count: int, with_advisories: int) -> Inventory:
    """`count` OS packages of `namespace`: `with_advisories` of them named after DB keys (every
    other one at a version below every fix, the rest above), the others unknown to the DB."""
    family = namespace.split(":", 1)[0]
    distro_id, kind = FAMILIES[family]
    release = namespace.split(":", 1)[1]
    with sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT DISTINCT package FROM advisories WHERE namespace = ?", (namespace,)
        ).fetchall()
    conn.close()
    known = sorted(name for (name,) in rows)[:with_advisories]
    names = known + [f"clean-package-{i}" for i in range(count - len(known))]
    low, high = ("0.0.1-r0", "99999.0-r0") if kind is PackageType.APK else ("0.0.1-1", "99999.0-1")
    packages = [
        Package(
            name=name,
            version=low if index % 2 == 0 else high,
            type=kind,
            source_name=name,
            source_version=low if index % 2 == 0 else high,
        )
        for index, name in enumerate(names)
    ]
    distro = Distro(id=distro_id, version_id=DEBIAN_VERSIONS.get(namespace, release))
    artifact = ArtifactInfo(reference="bench", kind="rootfs")
    return Inventory(artifact=artifact, distro=distro, packages=tuple(packages))


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=REPO / "build" / "bench" / "db")
    parser.add_argument("--advisories", type=int, default=300_000)
    parser.add_argument("--packages", type=int, default=5_000)
    parser.add_argument("--levels", default="", help="also try these zstd levels, e.g. 3,9,19")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the feeds' per-record warnings are not the point
    work: Path = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "python": platform.python_version(),
        "zstandard": zstandard.__version__,
    }

    print("1. DB build from the shared feed samples")
    plan = usable_samples()
    samples_db = work / "samples.db"
    samples_db.unlink(missing_ok=True)  # a cold build: nothing to reuse from a previous DB
    seconds, info = timed(build_db, samples_db, plan)
    again, _ = timed(build_db, samples_db, plan)  # unchanged sources, if the builder skips them
    results["samples"] = {
        "feeds": [s.name for s in info.sources],
        "advisories": sum(s.advisories for s in info.sources),
        "build_s": round(seconds, 2),
        "rebuild_unchanged_s": round(again, 2),
        "db_bytes": samples_db.stat().st_size,
    }
    print(f"   {results['samples']}")

    print(f"2. {args.advisories} advisories from real records, replicated")
    by_feed = real_records(plan)
    big_plan = replicate(by_feed, args.advisories)
    big_db = work / "big.db"
    big_db.unlink(missing_ok=True)
    seconds, info = timed(build_db, big_db, big_plan)
    with VulnDB.open(big_db) as db:
        counts = db.counts()
    results["big"] = {
        "advisories": sum(counts.values()),
        "namespaces": len(counts),
        "build_s": round(seconds, 2),
        "db_bytes": big_db.stat().st_size,
    }
    print(f"   {results['big']}")

    print(f"3. matching {args.packages} packages")
    results["match"] = []
    for family in FAMILIES:
        candidates = [(n, c) for n, c in counts.items() if n.startswith(family + ":")]
        if not candidates:
            continue
        namespace = max(candidates, key=lambda item: item[1])[0]
        for share in (1.0, 0.2):
            wanted = int(args.packages * share)
            if share < 1 and wanted >= results["match"][-1]["packages_with_advisories"]:
                break  # the namespace has fewer packages than that: the row would repeat
            inventory = inventory_for(big_db, namespace, args.packages, wanted)
            with VulnDB.open(big_db) as db:
                cold, report = timed(scan.match, inventory, db)
                warm = [timed(scan.match, inventory, db)[0] for _ in range(7)]
            known = sum(1 for p in inventory.packages if not p.name.startswith("clean-"))
            row = {
                "namespace": namespace,
                "namespace_advisories": counts[namespace],
                "packages": len(inventory.packages),
                "packages_with_advisories": known,
                "findings": len(report.findings),
                "cold_s": round(cold, 3),
                "warm_median_s": round(statistics.median(warm), 3),
                "warm_min_s": round(min(warm), 3),  # the least disturbed run on a busy machine
            }
            results["match"].append(row)
            print(f"   {row}")

    print("4. artifact")
    out = work / "artifact" / "hullscan.db.zst"
    seconds, artifact = timed(export_db, big_db, out)
    size = artifact.metadata.artifact_size
    per_100k = size * 100_000 / results["big"]["advisories"]
    dest = work / "imported" / "hullscan.db"
    dest.unlink(missing_ok=True)
    import_s, _ = timed(import_db, artifact.path, dest)
    results["artifact"] = {
        "level": DEFAULT_LEVEL,
        "export_s": round(seconds, 2),
        "import_s": round(import_s, 2),
        "bytes": size,
        "bytes_per_100k_advisories": round(per_100k),
        "ratio": round(results["big"]["db_bytes"] / size, 1),
    }
    print(f"   {results['artifact']}")
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    results["levels"] = []
    raw = big_db.read_bytes()
    for level in levels:
        compressor = zstandard.ZstdCompressor(level=level, threads=-1)
        seconds, data = timed(compressor.compress, raw)
        decompress_s, _ = timed(zstandard.ZstdDecompressor().decompress, data)
        row = {
            "level": level,
            "compress_s": round(seconds, 2),
            "decompress_s": round(decompress_s, 2),
            "bytes_per_100k_advisories": round(len(data) * 100_000 / results["big"]["advisories"]),
        }
        results["levels"].append(row)
        print(f"   {row}")

    (work / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print()
    print("| measure | value |")
    print("| --- | --- |")
    sample = results["samples"]
    print(
        f"| DB build from the shared samples ({', '.join(sample['feeds'])}) | "
        f"{sample['build_s']} s (again, unchanged: {sample['rebuild_unchanged_s']} s), "
        f"{sample['advisories']:,} advisories, {sample['db_bytes'] / 1e6:.1f} MB |"
    )
    big = results["big"]
    print(
        f"| DB build, {big['advisories']:,} advisories ({big['namespaces']} namespaces) | "
        f"{big['build_s']} s, {big['db_bytes'] / 1e6:.1f} MB |"
    )
    for row in results["match"]:
        print(
            f"| match {row['packages']:,} packages ({row['packages_with_advisories']:,} with "
            f"advisories), {row['namespace']} ({row['namespace_advisories']:,} advisories), "
            f"{row['findings']:,} findings | cold {row['cold_s']} s, warm "
            f"{row['warm_median_s']} s (min {row['warm_min_s']} s) |"
        )
    art = results["artifact"]
    print(
        f"| artifact (zstd {art['level']}) | {art['bytes'] / 1e6:.1f} MB, "
        f"{art['bytes_per_100k_advisories'] / 1e6:.2f} MB per 100k advisories, "
        f"x{art['ratio']}; export {art['export_s']} s, import {art['import_s']} s |"
    )
    for row in results["levels"]:
        print(
            f"| zstd {row['level']} | {row['bytes_per_100k_advisories'] / 1e6:.2f} MB per 100k, "
            f"compress {row['compress_s']} s, decompress {row['decompress_s']} s |"
        )


if __name__ == "__main__":
    main()
