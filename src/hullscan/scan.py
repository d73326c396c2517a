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
from hullscan.db.reader import VulnDB
from hullscan.image.source import ImageSource
from hullscan.image.walker import LayerResult, walk_layer
from hullscan.inventory import Applier
from hullscan.match.matcher import match_inventory
from hullscan.model import Inventory, Layer, ScanReport
from hullscan.report.base import META_FINISHED_AT, META_STARTED_AT

#: Decompression and hashing release the GIL, so a few layers in flight use the cores.
DEFAULT_WORKERS = max(1, min(4, os.cpu_count() or 1))

LayerProgress = Callable[[Layer, int], None]


def index(
    source: ImageSource,
    analyzers: Sequence[Analyzer] | None = None,
    *,
    workers: int = DEFAULT_WORKERS,
    progress: LayerProgress | None = None,
) -> Inventory:
    """Walk every layer (concurrently) and stack the results in layer order."""
    chosen = tuple(analyzers) if analyzers is not None else default_analyzers()
    layers = source.artifact.layers

    def walk(layer: Layer) -> LayerResult:
        with source.open_layer(layer) as blob:
            if progress is not None:
                blob = cast(BinaryIO, _Counting(blob, lambda n: progress(layer, n)))
            return walk_layer(blob, layer, chosen)

    applier = Applier()
    if workers <= 1 or len(layers) <= 1:
        for layer in layers:
            applier.apply(layer.index, walk(layer))
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="layer") as pool:
            futures: list[Future[LayerResult]] = [pool.submit(walk, layer) for layer in layers]
            try:
                for layer, future in zip(layers, futures, strict=True):
                    applier.apply(layer.index, future.result())
            finally:
                for future in futures:
                    future.cancel()
    return applier.inventory(source.artifact)


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
    findings, warnings = match_inventory(inventory, db)
    finished = datetime.now(UTC)
    return ScanReport(
        inventory=inventory,
        findings=tuple(findings),
        db=db.info(),
        warnings=tuple(warnings),
        meta={META_STARTED_AT: started_at or finished, META_FINISHED_AT: finished},
    )
