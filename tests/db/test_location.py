"""default_db_path: argument, then $HULLSCAN_CACHE_DIR, then the platform cache dir."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from hullscan.db.location import CACHE_ENV, default_db_path


def test_platform_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CACHE_ENV, raising=False)
    expected = Path(platformdirs.user_cache_dir("hullscan", appauthor=False))
    assert default_db_path() == expected / "db" / "hullscan.db"


def test_env_overrides_cache_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert default_db_path() == tmp_path / "db" / "hullscan.db"
    monkeypatch.setenv(CACHE_ENV, "  ")  # blank counts as unset
    assert default_db_path() != tmp_path / "db" / "hullscan.db"


def test_argument_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_ENV, "/somewhere/else")
    assert default_db_path(tmp_path) == tmp_path / "db" / "hullscan.db"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_db_path(Path("~/c")) == tmp_path / "c" / "db" / "hullscan.db"
