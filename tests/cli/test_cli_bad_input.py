"""Every command, given bad input, answers with located messages and an exit code — never
a traceback (issue 15, item 3). Each case runs the real `vigil` in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    bad_toml = d / "bad.toml"
    bad_toml.write_text('state_dir = "x"\n[rules\nfalco = 1\n')
    wrong = d / "wrong.toml"
    wrong.write_text(f'state_dir = "{d / "state"}"\n[alerts]\nqueue_size = "many"\n')
    secret = d / "secret.toml"
    secret.write_text(f'state_dir = "{d / "state"}"\n[alerts.sinks.tg]\ntype = "telegram"\n'
                      'token_env = "VIGIL_TEST_UNSET_TOKEN"\nchat_id = "1"\n'
                      '[[alerts.routes]]\nsink = "tg"\n')
    garbage = d / "garbage.jsonl"
    garbage.write_bytes(b"\x00\xff\xfe not json\n{\"type\": 5}\n[1,2]\n" + b"x" * 10000 + b"\n")
    bad_yaml = d / "bad.yaml"
    bad_yaml.write_text("- rule: x\n  condition: evt.type = open and (\n  output: y\n"
                        "  priority: LOUD\n")
    trail = d / "trail"
    trail.mkdir()
    (trail / "audit.jsonl").write_bytes(b"garbage\n\x00\n")
    return {"bad_toml": bad_toml, "wrong": wrong, "secret": secret, "garbage": garbage,
            "bad_yaml": bad_yaml, "trail": trail, "dir": d}


CASES = [
    ["run", "-c", "/nonexistent/vigil.toml"],
    ["run", "-c", "{bad_toml}"],
    ["run", "-c", "{wrong}"],
    ["run", "-c", "{secret}"],
    ["run", "--nice", "99"],
    ["run", "--rules", "/nonexistent.yaml", "--duration", "1"],
    ["replay", "/nonexistent.jsonl"],
    ["replay", "{garbage}", "--rule-matching", "bogus"],
    ["replay", "{garbage}", "--rules", "/nonexistent.yaml"],
    ["replay", "{garbage}", "-c", "{bad_toml}"],
    ["replay", "{garbage}", "--rules", "{bad_yaml}"],
    ["replay", "{garbage}", "--compare-rules", "/nonexistent.yaml"],
    ["record", "-o", "{dir}/rec.jsonl", "--types", "bogus"],
    ["record", "-o", "/nonexistent/dir/rec.jsonl", "--duration", "0.1", "--types", "openat"],
    ["tune", "-c", "{bad_toml}"],
    ["tune", "-c", "{wrong}"],
    ["tune", "--trail", "/nonexistent", "--since", "1d"],
    ["tune", "--trail", "{trail}", "--since", "yesterday"],
    ["tune", "--apply", "0"],
    ["tune", "-c", "{secret}", "--apply", "3", "--yes"],
    ["status", "--state-dir", "/nonexistent"],
    ["reload", "--state-dir", "/nonexistent"],
    ["status", "-c", "{bad_toml}"],
    ["rules", "validate", "/nonexistent.yaml"],
    ["rules", "validate", "{bad_yaml}"],
    ["rules", "list", "/nonexistent.yaml"],
    ["rules", "list", "-c", "{bad_toml}"],
    ["rules", "test", "/nonexistent.yaml"],
    ["rules", "test", "{bad_yaml}"],
    ["rules", "test", "{garbage}"],
    ["config", "check", "/nonexistent.toml"],
    ["config", "check", "{bad_toml}"],
    ["config", "check", "{wrong}"],
    ["config", "check", "{secret}"],
    ["audit", "verify", "/nonexistent"],
    ["audit", "verify", "{trail}"],
    ["incidents", "--since", "yesterday"],
    ["incidents", "--trail", "/nonexistent"],
    ["incidents", "show"],
    ["incidents", "show", "xyz", "--trail", "{trail}"],
    ["incidents", "-c", "{bad_toml}"],
    ["alerts", "test", "--sink", "nope", "-c", "{wrong}"],
    ["alerts", "test", "--sink", "tg", "-c", "{secret}"],
    ["alerts", "status", "--state-dir", "/nonexistent"],
    ["version", "--bogus"],
    ["no-such-command"],
]


@pytest.mark.parametrize("args", CASES, ids=lambda a: " ".join(a)[:60])
def test_bad_input_is_a_message_not_a_traceback(args: list[str], files) -> None:
    argv = [a.format(**{k: str(v) for k, v in files.items()}) for a in args]
    r = subprocess.run([sys.executable, "-m", "vigil", *argv], capture_output=True,
                       text=True, timeout=120, env={"PATH": "/usr/bin:/bin",
                                                    "VIGIL_CRASH_DIR": str(files["dir"])})
    out = r.stdout + r.stderr
    assert "Traceback" not in out, out[-3000:]
    assert "internal error" not in out, out[-3000:]
    # a replay of garbage reports the bad lines and goes on; an agent without an outbox
    # yet just says so
    ok_to_succeed = argv[0] == "replay" or argv[:2] == ["alerts", "status"]
    assert r.returncode != 0 or ok_to_succeed, (r.returncode, out[-2000:])
    assert r.stderr.strip() or r.stdout.strip(), "a failure must say something"


def test_an_internal_error_is_one_line_and_a_report(tmp_path: Path) -> None:
    code = ("import sys, vigil.cli as c\n"
            "@c.app.command('boom')\n"
            "def boom():\n"
            "    raise RuntimeError('a bug on purpose')\n"
            "sys.argv = ['vigil', 'boom']\n"
            "c.main()\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=60, env={"PATH": "/usr/bin:/bin", "VIGIL_CRASH_DIR": str(tmp_path)})
    assert r.returncode == 70
    [line] = r.stderr.strip().splitlines()
    assert line.startswith("vigil: internal error: RuntimeError: a bug on purpose; full "
                           f"report in {tmp_path}/vigil-crash-")
    report = Path(line.rsplit(" ", 1)[1]).read_text()
    assert "Traceback" in report and "a bug on purpose" in report and "boom" in report


def test_log_format_json_for_collectors(tmp_path: Path) -> None:
    """One log format for everything on stderr; `--log-format json`: an object per line."""
    import json
    r = subprocess.run([sys.executable, "-m", "vigil", "--log-format", "json", "replay",
                        "/nonexistent.jsonl", "--audit"], capture_output=True, text=True,
                       timeout=60)
    cfg = tmp_path / "vigil.toml"
    cfg.write_text(f'state_dir = "{tmp_path / "s"}"\n[sensors]\nebpf = false\n'
                   "[sensors.authlog]\nenabled = false\n[sensors.journald]\nenabled = false\n")
    r = subprocess.run([sys.executable, "-m", "vigil", "--log-format", "json", "run", "-c",
                        str(cfg), "--duration", "1"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1
    docs = [json.loads(line) for line in r.stderr.splitlines() if line.strip()]
    assert docs and all(set(d) >= {"time", "level", "component", "message"} for d in docs)
    assert any(d["level"] == "ERROR" and "no sensor could start" in d["message"] for d in docs)
