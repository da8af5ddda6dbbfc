"""The emulation runner lives in `emulation/emulate` (not part of the `vigil` package)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

EMULATION = Path(__file__).resolve().parents[2] / "emulation"
if str(EMULATION) not in sys.path:
    sys.path.insert(0, str(EMULATION))


@pytest.fixture(scope="session")
def emulation_root() -> Path:
    """`emulation/` of this checkout."""
    return EMULATION
