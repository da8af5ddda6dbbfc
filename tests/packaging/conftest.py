"""Fixtures of the packaging tests: the package built by `make deb`, and its contents."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEB_PYTHON = Path("/usr/bin/python3.11")


def build_unavailable_reason() -> str | None:
    """Why `make deb` cannot run here, or None."""
    if not DEB_PYTHON.is_file():
        return f"{DEB_PYTHON} missing: the package is built with Debian 12's python3.11"
    if shutil.which("dpkg-deb") is None:
        return "dpkg-deb missing: not a Debian system"
    probe = subprocess.run([str(DEB_PYTHON), "-c", "import ensurepip, venv"],
                           capture_output=True)
    if probe.returncode != 0:
        return "python3.11-venv is not installed (make test installs it)"
    return None


@pytest.fixture(scope="session")
def built_deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The .deb, built once per session by the real `make deb` into a temporary directory."""
    reason = build_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("deb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    proc = subprocess.run(["make", "-s", "deb", f"DEB_OUT={out}", f"DEB_WORK={out}/work"],
                          cwd=REPO, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, f"make deb failed:\n{proc.stdout}\n{proc.stderr}"
    debs = sorted(out.glob("vigil_*.deb"))
    assert len(debs) == 1, f"make deb made {debs}"
    return debs[0]


@pytest.fixture(scope="session")
def deb_tree(built_deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package's files, unpacked with `dpkg-deb -x` (nothing installed)."""
    tree = tmp_path_factory.mktemp("deb-tree")
    subprocess.run(["dpkg-deb", "-x", str(built_deb), str(tree)], check=True)
    return tree


@pytest.fixture(scope="session")
def deb_control(built_deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package's DEBIAN/ directory (control, conffiles, maintainer scripts)."""
    control = tmp_path_factory.mktemp("deb-control")
    subprocess.run(["dpkg-deb", "-e", str(built_deb), str(control)], check=True)
    return control
