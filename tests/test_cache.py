"""The per-layer cache: lossless entries, keys that invalidate, corruption, concurrency, CLI."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pytest

from hullscan.analyze.base import AnalysisResult
from hullscan.cache import (
    LayerCache,
    cacheable,
    decode_layer_result,
    encode_layer_result,
)
from hullscan.image.walker import FileFact, LayerResult, layer_label
from hullscan.model import Distro, Layer, Package, PackageType
from tests.conftest import REPO
from tests.image.probe import ProbeAnalyzer
from tests.image.test_archive import load_sample_builder
from tests.test_cli import Env, stable

DIFF_ID = "sha256:" + "ab" * 32
OTHER_DIFF_ID = "sha256:" + "cd" * 32
LAYER = Layer(index=0, diff_id=DIFF_ID)


def package(kind: PackageType, n: int = 0) -> Package:
    """A package with every field set to a non-default value."""
    return Package(
        name=f"pkg-{kind.value}-{n}",
        version=f"1:{n}.0-1+deb12u{n}",
        type=kind,
        arch="amd64",
        source_name=f"src-{n}",
        source_version=f"{n}.0-1",
        purl=f"pkg:{kind.value}/x/pkg-{n}@{n}",
        layer=DIFF_ID,
        paths=("var/lib/dpkg/status", f"var/lib/dpkg/status.d/p{n}"),
        modularity_label=f"nodejs:18:{n}:abcdef",
        vendor="Red Hat, Inc.",
    )


def full_result(diff_id: str = DIFF_ID, label: str = "") -> LayerResult:
    """A LayerResult exercising every field, every PackageType, None results and links."""
    distro = Distro("debian", "12", "bookworm", "Debian GNU/Linux 12 (bookworm)", "testing")
    rich = AnalysisResult(
        packages=tuple(package(kind, i) for i, kind in enumerate(PackageType)),
        distro=distro,
        warnings=(f"{label}: /var/lib/dpkg/status: skipped 1 record", "naïve ünïcode ☃"),
        owned_paths=("usr/lib/python3/dist-packages/six.py", "caf\\xe9/x"),
    )
    return LayerResult(
        diff_id=diff_id,
        files=(
            FileFact("var/lib/dpkg/status", "dpkg", rich, link="usr/share/status"),
            FileFact("etc/os-release", "os-release", None, link="usr/lib/os-release"),
            FileFact("etc/alpine-release", "os-release", AnalysisResult()),
            FileFact("caf\udce9/weird\ttab", "probe", None),  # undecodable tar name bytes
        ),
        whiteouts=("var/lib/dpkg/status.d/openssl", "opt/x"),
        opaque_dirs=("opt/app",),
        warnings=(f"{label}: etc/passwd is a hard link to unread x", "plain"),
    )


def assert_no_defaults(obj: Any, seen: set[str]) -> None:
    """Every field of every dataclass in `obj` has a non-default value somewhere, so a field
    added to the model later is covered by the round-trip test without editing it."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if f.default is dataclasses.MISSING or value != f.default:
                seen.add(f"{type(obj).__name__}.{f.name}")
            assert_no_defaults(value, seen)
    elif isinstance(obj, tuple):
        for item in obj:
            assert_no_defaults(item, seen)


def test_the_fixture_sets_every_field_of_every_cached_class() -> None:
    seen: set[str] = set()
    assert_no_defaults(full_result(), seen)
    classes = (LayerResult, FileFact, AnalysisResult, Package, Distro)
    every = {f"{c.__name__}.{f.name}" for c in classes for f in dataclasses.fields(c)}
    assert every <= seen


def test_codec_round_trip_is_lossless() -> None:
    result = full_result()
    encoded = json.loads(json.dumps(encode_layer_result(result)))
    assert decode_layer_result(encoded) == result
    decoded = decode_layer_result(encoded)
    kinds = [p.type for p in decoded.files[0].result.packages]  # type: ignore[union-attr]
    assert kinds == list(PackageType) and all(type(k) is PackageType for k in kinds)


def test_cache_round_trip(tmp_path: Path) -> None:
    cache = LayerCache(tmp_path)
    analyzers = [ProbeAnalyzer()]
    result = full_result(label=layer_label(LAYER))
    assert cache.get(LAYER, analyzers) is None
    assert cache.put(LAYER, result, analyzers)
    assert cache.get(LAYER, analyzers) == result
    assert cache.stats.hits == 1 and cache.stats.misses == 1 and cache.stats.writes == 1
    (entry,) = (tmp_path / "layers").iterdir()
    assert entry.suffix == ".json" and len(entry.stem) == 64
    json.loads(entry.read_bytes())  # entries are plain JSON


def test_a_hit_names_the_layer_it_is_used_for(tmp_path: Path) -> None:
    cache = LayerCache(tmp_path)
    cache.put(LAYER, full_result(label=layer_label(LAYER)), [])
    elsewhere = Layer(index=6, diff_id=DIFF_ID)
    hit = cache.get(elsewhere, [])
    assert hit == full_result(label=layer_label(elsewhere))
    assert hit is not None and hit.warnings[0].startswith("layer 7 (")


@pytest.mark.parametrize(
    "diff_id", ["", "sha512:" + "ab" * 64, "sha256:short", "sha256:" + "AB" * 32]
)
def test_unverifiable_layers_are_never_stored(tmp_path: Path, diff_id: str) -> None:
    cache = LayerCache(tmp_path)
    layer = Layer(index=0, diff_id=diff_id)
    assert not cacheable(diff_id)
    assert not cache.put(layer, full_result(diff_id), [])
    assert cache.get(layer, []) is None
    assert not (tmp_path / "layers").exists()


def test_a_result_for_another_layer_is_not_stored(tmp_path: Path) -> None:
    assert not LayerCache(tmp_path).put(LAYER, full_result(OTHER_DIFF_ID), [])


class Versioned(ProbeAnalyzer):
    version = 2


def test_analyzer_version_bump_invalidates(tmp_path: Path) -> None:
    cache = LayerCache(tmp_path)
    cache.put(LAYER, full_result(), [ProbeAnalyzer()])
    assert cache.get(LAYER, [ProbeAnalyzer()]) is not None
    assert cache.get(LAYER, [Versioned()]) is None
    assert cache.get(LAYER, [ProbeAnalyzer(max_file_size=10)]) is None
    assert cache.get(LAYER, [ProbeAnalyzer(), Versioned()]) is None
    assert cache.get(LAYER, []) is None
    assert LayerCache(tmp_path, options={"x": 1}).get(LAYER, [ProbeAnalyzer()]) is None
    assert cache.get(Layer(index=0, diff_id=OTHER_DIFF_ID), [ProbeAnalyzer()]) is None


def test_analyzer_order_does_not_matter(tmp_path: Path) -> None:
    cache = LayerCache(tmp_path)
    cache.put(LAYER, full_result(), [ProbeAnalyzer(), Versioned()])
    assert cache.get(LAYER, [Versioned(), ProbeAnalyzer()]) == full_result()


def _corruptions(data: bytes) -> list[bytes]:
    middle = len(data) // 2
    flipped = data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]
    return [b"", data[:middle], flipped, b"garbage", data + b"trailing", b"\0" * len(data)]


@pytest.mark.parametrize("which", range(6))
def test_a_corrupt_entry_is_a_miss_and_is_removed(tmp_path: Path, which: int) -> None:
    cache = LayerCache(tmp_path)
    cache.put(LAYER, full_result(), [])
    path = cache.path(DIFF_ID, [])
    path.write_bytes(_corruptions(path.read_bytes())[which])
    assert cache.get(LAYER, []) is None
    assert not path.exists()
    assert cache.stats.dropped == 1
    assert cache.put(LAYER, full_result(), [])  # and the next scan stores it again
    assert cache.get(LAYER, []) == full_result()


def test_an_intact_entry_under_the_wrong_key_is_a_miss(tmp_path: Path) -> None:
    cache = LayerCache(tmp_path)
    cache.put(LAYER, full_result(), [])
    other = Layer(index=0, diff_id=OTHER_DIFF_ID)
    cache.directory.joinpath(cache.path(OTHER_DIFF_ID, []).name).write_bytes(
        cache.path(DIFF_ID, []).read_bytes()
    )
    assert cache.get(other, []) is None


def test_an_unreadable_entry_is_a_miss(tmp_path: Path) -> None:
    cache = LayerCache(tmp_path)
    cache.path(DIFF_ID, []).mkdir(parents=True)  # a directory where the file should be
    assert cache.get(LAYER, []) is None


def test_an_unwritable_cache_does_not_fail_the_scan(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cache = LayerCache(blocker)
    assert not cache.put(LAYER, full_result(), [])
    assert cache.get(LAYER, []) is None


def _results(n: int) -> list[LayerResult]:
    """Results of very different sizes, so a torn write would show as a broken entry."""
    base = full_result()
    return [
        dataclasses.replace(base, whiteouts=tuple(f"w{i}" for i in range(k * 3000)))
        for k in range(n)
    ]


def _hammer(root: str, rounds: int) -> int:
    cache = LayerCache(Path(root))
    results = _results(3)
    bad = 0
    for i in range(rounds):
        cache.put(LAYER, results[i % 3], [])
        got = cache.get(LAYER, [])
        if got is not None and got not in results:
            bad += 1
    return bad + cache.stats.dropped


def test_concurrent_threads_never_see_a_partial_entry(tmp_path: Path) -> None:
    failures: list[int] = []
    threads = [
        threading.Thread(target=lambda: failures.append(_hammer(str(tmp_path), 40)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == [0] * 8
    assert [p.name for p in (tmp_path / "layers").iterdir()] == [
        LayerCache(tmp_path).path(DIFF_ID, []).name
    ]  # no temp files left behind
    assert LayerCache(tmp_path).get(LAYER, []) in _results(3)


def test_concurrent_processes_never_see_a_partial_entry(tmp_path: Path) -> None:
    with ProcessPoolExecutor(4, mp_context=get_context("fork")) as pool:
        failures = list(pool.map(_hammer, [str(tmp_path)] * 4, [40] * 4))
    assert failures == [0] * 4
    assert len(list((tmp_path / "layers").iterdir())) == 1
    assert LayerCache(tmp_path).get(LAYER, []) in _results(3)


def test_clean_removes_everything(tmp_path: Path) -> None:
    cache = LayerCache(tmp_path)
    cache.put(LAYER, full_result(), [])
    cache.put(Layer(index=1, diff_id=OTHER_DIFF_ID), full_result(OTHER_DIFF_ID), [])
    (cache.directory / ".tmp-leftover.json").write_text("{")
    held = cache.size()
    assert held.entries == 2 and held.bytes > 0
    removed = cache.clean()
    assert removed == held
    assert not cache.directory.exists()
    assert cache.get(LAYER, []) is None
    assert cache.clean().entries == 0  # cleaning an empty or missing cache is fine


def test_prune_drops_the_least_recently_used(tmp_path: Path) -> None:
    cache = LayerCache(tmp_path)
    old, new = LAYER, Layer(index=1, diff_id=OTHER_DIFF_ID)
    cache.put(old, full_result(), [])
    cache.put(new, full_result(OTHER_DIFF_ID), [])
    os.utime(cache.path(DIFF_ID, []), (1, 1))
    one = cache.path(OTHER_DIFF_ID, []).stat().st_size
    assert cache.prune(one).entries == 1
    assert cache.get(old, []) is None and cache.get(new, []) is not None


# --- through the CLI -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    """The sample image and a DB of the bundled feed slices (as tests/test_cli.py builds)."""
    root = tmp_path_factory.mktemp("cache-e2e")
    load_sample_builder().build(root / "sample.tar")
    e = Env(root=root, cache=root / "cache", image=root / "sample.tar")
    feeds = ("alpine=examples/feeds/alpine/v3.4", "debian=examples/feeds/debian/tracker-slice.json")
    built = e.run(
        "db",
        "build",
        *(a for f in feeds for a in ("--source", f, "--only", f.split("=")[0])),
        cwd=REPO,
    )
    assert built.returncode == 0, built.stderr
    return e


def _scan(env: Env, cache: Path, *extra: str) -> Any:
    result = env.run(
        "image", "--input", "sample.tar", "-f", "json", "--cache-dir", str(cache),
        "--db", str(env.cache / "db" / "hullscan.db"), *extra,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def test_cli_caches_layers_and_a_warm_scan_gives_the_same_report(env: Env, tmp_path: Path) -> None:
    cold = _scan(env, tmp_path)
    entries = sorted((tmp_path / "layers").iterdir())
    assert len(entries) == len(cold["artifact"]["layers"])
    warm = _scan(env, tmp_path)
    assert sorted((tmp_path / "layers").iterdir()) == entries
    assert stable(warm) == stable(cold) == stable(_scan(env, tmp_path, "--no-cache"))


def test_cli_no_cache_neither_reads_nor_writes(env: Env, tmp_path: Path) -> None:
    _scan(env, tmp_path, "--no-cache")
    assert not (tmp_path / "layers").exists()
    _scan(env, tmp_path)
    for entry in (tmp_path / "layers").iterdir():
        entry.write_text("poisoned")  # --no-cache must not even look at these
    report = _scan(env, tmp_path, "--no-cache")
    assert report["packages"] and stable(report) == stable(_scan(env, tmp_path / "other"))
    assert all(e.read_text() == "poisoned" for e in (tmp_path / "layers").iterdir())


def test_cli_cache_clean(env: Env, tmp_path: Path) -> None:
    _scan(env, tmp_path)
    result = env.run("cache", "clean", "--cache-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("removed 3 cached layers (")
    assert str(tmp_path / "layers") in result.stdout
    assert not (tmp_path / "layers").exists()
    again = env.run("cache", "clean", "--cache-dir", str(tmp_path))
    assert again.returncode == 0 and again.stdout.startswith("removed 0 cached layers")
