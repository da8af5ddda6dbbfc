"""`vigil audit verify` and `vigil incidents` on a real trail (typer's runner, real files)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from vigil.audit.trail import AuditTrail
from vigil.commands.audit import parse_since, register
from vigil.detections import Detection, Entity, Suppression
from vigil.priority import Priority

T0 = 1_795_000_000.0


def app() -> typer.Typer:
    a = typer.Typer()
    register(a)
    return a


def make_trail(path: Path) -> None:
    sup = Suppression(layer="dynamic", entry="allowlist.detectors.webshell.skip_binaries=node",
                      reason="npm build scripts")
    with AuditTrail(path, clock=lambda: T0) as t:
        t.record_detection(Detection(kind="detector", name="ssh_bruteforce", priority=Priority.WARNING,
                                    output="SSH brute force from 192.0.2.1", ts=int(T0 * 1e9),
                                    entity=Entity(ip="192.0.2.1")))
        t.record_suppressed(Detection(kind="detector", name="webshell", priority=Priority.ERROR,
                                      output="shell under node", ts=int((T0 + 5) * 1e9),
                                      suppressed=sup))


def test_verify_ok_and_tampered(tmp_path: Path) -> None:
    make_trail(tmp_path)
    r = CliRunner().invoke(app(), ["audit", "verify", str(tmp_path)])
    assert r.exit_code == 0 and "OK: 2 records" in r.output
    f = tmp_path / "audit.jsonl"
    f.write_bytes(f.read_bytes().replace(b"192.0.2.1", b"192.0.2.9", 1))
    r = CliRunner().invoke(app(), ["audit", "verify", str(tmp_path)])
    assert r.exit_code == 1 and f"{f}:1" in r.output


def test_verify_missing_trail(tmp_path: Path) -> None:
    r = CliRunner().invoke(app(), ["audit", "verify", str(tmp_path / "none")])
    assert r.exit_code == 2 and "no audit trail" in r.output


def test_incidents_listing(tmp_path: Path) -> None:
    make_trail(tmp_path)
    r = CliRunner().invoke(app(), ["incidents", "--trail", str(tmp_path), "--detections"])
    assert r.exit_code == 0
    assert "SSH brute force from 192.0.2.1" in r.output and "shell under node" not in r.output
    r = CliRunner().invoke(app(), ["incidents", "--trail", str(tmp_path), "--suppressed"])
    assert "shell under node" in r.output and "npm build scripts" in r.output
    assert "brute force" not in r.output
    r = CliRunner().invoke(app(), ["incidents", "--trail", str(tmp_path), "--all", "--json",
                                   "--detector", "webshell"])
    recs = [json.loads(l) for l in r.stdout.splitlines()]
    assert [x["type"] for x in recs] == ["suppressed"]
    r = CliRunner().invoke(app(), ["incidents", "--trail", str(tmp_path), "--since", "yesterday"])
    assert r.exit_code == 2 and "expected a duration" in r.output


def test_incidents_path_from_config(tmp_path: Path) -> None:
    make_trail(tmp_path / "trail")
    cfg = tmp_path / "vigil.toml"
    cfg.write_text(f'state_dir = "{tmp_path}"\n[audit]\npath = "{tmp_path / "trail"}"\n')
    r = CliRunner().invoke(app(), ["incidents", "--config", str(cfg), "--detections"])
    assert r.exit_code == 0, r.output
    assert "SSH brute force" in r.output


def test_parse_since() -> None:
    assert parse_since("1h", now=T0) == int((T0 - 3600) * 1e9)
    assert parse_since("30m", now=T0) == int((T0 - 1800) * 1e9)
    midnight = datetime(2026, 11, 18, tzinfo=timezone.utc).timestamp()
    assert parse_since("2026-11-18T00:00:00Z") == int(midnight * 1e9)
    assert parse_since("2026-11-18T01:00:00+01:00") == int(midnight * 1e9)
    with pytest.raises(ValueError):
        parse_since("soon")
