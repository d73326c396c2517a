"""Where the vulnerability DB lives when the user does not say."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "HULLSCAN_CACHE_DIR"
DB_FILE = Path("db") / "hullscan.db"


def cache_root(cache_dir: Path | None = None) -> Path:
    """hullscan's cache root: the argument, else $HULLSCAN_CACHE_DIR, else the user cache dir."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    import platformdirs  # only when no directory is given: not on every CLI start-up

    return Path(platformdirs.user_cache_dir("hullscan", appauthor=False))


def default_db_path(cache_dir: Path | None = None) -> Path:
    """<cache root>/db/hullscan.db; the CI-friendly override is HULLSCAN_CACHE_DIR."""
    return cache_root(cache_dir) / DB_FILE
