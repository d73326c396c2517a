"""Shared fixtures: where ../shared/data is, and the --update-golden switch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden files from the current output instead of comparing",
    )


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data next to the clone (HULLSCAN_SHARED_DATA overrides)."""
    path = Path(os.environ.get("HULLSCAN_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.fail(f"shared test data not found at {path}; set HULLSCAN_SHARED_DATA")
    return path


@pytest.fixture(scope="session")
def shared_schemas(shared_data: Path) -> Path:
    return shared_data.parent / "schemas"


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
