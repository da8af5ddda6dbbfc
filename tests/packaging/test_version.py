"""`vigil --version` and `vigil version`: the version of the installed distribution."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import vigil
from vigil.version import UNKNOWN, installed_version

REPO = Path(__file__).resolve().parents[2]
VIGIL = Path(sys.executable).with_name("vigil")


def pyproject_version() -> str:
    with open(REPO / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["project"]["version"]


def test_installed_version_is_the_pyproject_version() -> None:
    assert installed_version() == pyproject_version()
    assert vigil.__version__ == pyproject_version()


@pytest.mark.parametrize("args", [["--version"], ["version"]])
def test_the_console_script_prints_the_version_and_exits_zero(args: list[str]) -> None:
    proc = subprocess.run([str(VIGIL), *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"vigil {pyproject_version()}\n"
    assert proc.stderr == ""


def test_version_option_wins_over_a_command() -> None:
    # eager, like --help: `vigil --version run` prints the version and starts nothing
    proc = subprocess.run([str(VIGIL), "--version", "run"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0
    assert proc.stdout == f"vigil {pyproject_version()}\n"


def test_a_source_tree_without_metadata_reports_unknown(tmp_path: Path) -> None:
    # a bare copy of the package, imported by an interpreter where vigil-hids is not
    # installed (-I: no user site, no environment variables; the copy goes on sys.path)
    shutil.copytree(REPO / "src" / "vigil", tmp_path / "vigil")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "from vigil.version import installed_version; print(installed_version())")
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", code, str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == UNKNOWN
