"""Session fixtures: one real scan of the sample image for every tracker test."""

from __future__ import annotations

import pytest

from tests.tickets.reports import Scans, scan_sample


@pytest.fixture(scope="session")
def scans(tmp_path_factory: pytest.TempPathFactory) -> Scans:
    return scan_sample(tmp_path_factory.mktemp("tickets-scan"))
