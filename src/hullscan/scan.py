"""The library facade: index an image into an Inventory, match an Inventory into a ScanReport.

The two halves never call each other; the CLI, the server and SBOM scanning compose them.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import BinaryIO, cast

from hullscan.analyze.base import Analyzer
from hullscan.analyze.registry import default_analyzers
from hullscan.cache import LayerCache
from hullscan.db.reader import VulnDB
from hullscan.image.source import ImageSource
from hullscan.image.walker import LayerResult, walk_layer
from hullscan.inventory import Applier
from hullscan.match.matcher import match_inventory
from hullscan.model import Inventory, Layer, ScanReport
from hullscan.report.base import META_FINISHED_AT, META_STARTED_AT

#: report.meta key: why OS packages were not matched at all (absent when they were)
META_UNMATCHED = "unmatched"

#: Decompression and hashing release the GIL, so a few layers in flight use the cores.
DEFAULT_WORKERS = max(1, min(4, os.cpu_count() or 1))

_DRAIN_CHUNK = 1024 * 1024

LayerProgress = Callable[[Layer, int], None]


def index(
    source: ImageSource,
    analyzers: Sequence[Analyzer] | None = None,
    *,
    workers: int = DEFAULT_WORKERS,
    progress: LayerProgress | None = None,
    cache: LayerCache | None = None,
) -> Inventory:
    """Walk every layer (concurrently) and stack the results in layer order.

    With a cache, a layer whose result is cached is not opened at all; a walked layer is
    stored only after walk_layer verified its diff_id, so nothing partial is ever cached.
    """
    chosen = tuple(analyzers) if analyzers is not None else default_analyzers()
    layers = source.artifact.layers
    results: dict[int, LayerResult] = {}
    if cache is not None:
        for layer in layers:
            hit = cache.get(layer, chosen)
            if hit is not None:
                results[layer.index] = hit
                if progress is not None:
                    progress(layer, layer.size)
    todo = [layer for layer in layers if layer.index not in results]

    def walk(layer: Layer) -> LayerResult:
        with source.open_layer(layer) as opened:
            blob = opened
            if progress is not None:
                blob = cast(BinaryIO, _Counting(opened, lambda n: progress(layer, n)))
            result = walk_layer(blob, layer, chosen)
            _drain(blob)
        if cache is not None:
            cache.put(layer, result, chosen)
        return result

    applier = Applier()
    if workers <= 1 or len(todo) <= 1:
        for layer in layers:
            applier.apply(layer.index, results.get(layer.index) or walk(layer))
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="layer") as pool:
            # biggest blobs first: the last layer to finish bounds the wall time
            by_size = sorted(todo, key=lambda layer: -layer.size)
            futures: dict[int, Future[LayerResult]] = {
                layer.index: pool.submit(walk, layer) for layer in by_size
            }
            try:
                for layer in layers:
                    result = results.get(layer.index)
                    if result is None:
                        result = futures[layer.index].result()
                    applier.apply(layer.index, result)
            finally:
                for future in futures.values():
                    future.cancel()
    return applier.inventory(source.artifact)


def _drain(blob: BinaryIO) -> None:
    """Read a blob to its end: sources that verify the blob digest at EOF (registries) then
    always do. After a walk this is usually one empty read."""
    while blob.read(_DRAIN_CHUNK):
        pass


class _Counting(io.RawIOBase):
    """Reports the blob bytes read, so progress is measured against the known blob size."""

    def __init__(self, inner: BinaryIO, report: Callable[[int], None]) -> None:
        self.inner = inner
        self.report = report

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self.inner.read(len(buffer))
        buffer[: len(data)] = data
        self.report(len(data))
        return len(data)

    def close(self) -> None:
        self.inner.close()
        super().close()


def match(inventory: Inventory, db: VulnDB, *, started_at: datetime | None = None) -> ScanReport:
    """Findings for an inventory. `report.warnings` holds matching's own warnings; indexing's
    stay in `report.inventory.warnings` (reports show both, see report.base.merged_warnings)."""
    started = started_at or datetime.now(UTC)
    outcome = match_inventory(inventory, db, started.astimezone(UTC).date())
    finished = datetime.now(UTC)
    meta: dict[str, object] = {META_STARTED_AT: started, META_FINISHED_AT: finished}
    if outcome.unmatched:
        meta[META_UNMATCHED] = outcome.unmatched
    return ScanReport(
        inventory=inventory,
        findings=tuple(outcome.findings),
        db=db.info(),
        warnings=tuple(outcome.warnings),
        meta=meta,
    )
