"""`vigil config check` on real files."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from vigil.commands import config as config_command

REPO = Path(__file__).resolve().parents[2]


def run(*args: str):
    app = typer.Typer()
    config_command.register(app)
    return CliRunner().invoke(app, ["config", "check", *args])


def test_valid_file_exits_zero_with_a_summary() -> None:
    result = run(str(REPO / "vigil.example.toml"))
    assert result.exit_code == 0, result.output
    assert "OK" in result.output and "allowlist entries" in result.output


def test_invalid_file_exits_two_with_the_located_error(tmp_path: Path) -> None:
    path = tmp_path / "vigil.toml"
    path.write_text('[allowlist]\nips = ["10.0.0.1"]\ncidrs = ["10.0.0.0/40"]\n')
    result = run(str(path))
    assert result.exit_code == 2
    assert f"{path}:3:10: allowlist.cidrs[0]:" in result.output
