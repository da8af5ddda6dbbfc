"""Puts `emulation/` (the runner package `emulate`, not part of `vigil`) on sys.path.

Imported first by the emulation tests (a helper module rather than a conftest.py, whose
name would shadow the top-level tests/conftest.py that other tests import)."""

from __future__ import annotations

import sys
from pathlib import Path

EMULATION = Path(__file__).resolve().parents[2] / "emulation"
if str(EMULATION) not in sys.path:
    sys.path.insert(0, str(EMULATION))
