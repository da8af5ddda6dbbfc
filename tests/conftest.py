"""Shared test setup: the shared data's place, and the honest-suite hooks (tests/needs.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from needs import (SHARED, SHARED_SKIP, pytest_configure, pytest_runtest_makereport,  # noqa: F401
                   pytest_sessionstart)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's shared data (`../shared` beside the repo, or `VIGIL_SHARED`); the
    test skips when it is missing (a failure under VIGIL_REQUIRE=shared)."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED_SKIP}{SHARED}")
    return SHARED
