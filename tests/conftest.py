"""Shared test helpers: where `../shared` (the project's read-only data) is."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """`../shared` beside the repo (CI lays it there); the tests that read it need it."""
    if not SHARED.is_dir():
        pytest.fail(f"{SHARED} is missing: the shared data must sit beside the repository")
    return SHARED
