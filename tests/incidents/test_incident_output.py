"""What people and programs see of incidents: terminal lines (hostile text escaped), JSON
documents, the audit trail's lifecycle records, `vigil incidents` and `vigil replay`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "detectors"))
from detector_factories import init, open_file, proc, sec  # noqa: E402

from vigil.audit.query import RecordFilter, iter_records, latest_incidents  # noqa: E402
from vigil.audit.trail import AuditTrail  # noqa: E402
from vigil.audit.verify import verify_trail  # noqa: E402
from vigil.detections import Detection, Entity  # noqa: E402
from vigil.events.jsonl import encode_event  # noqa: E402
from vigil.events.model import Event, Process  # noqa: E402
from vigil.incidents.model import IncidentEventKind  # noqa: E402
from vigil.incidents.render import event_document, incident_line  # noqa: E402
from vigil.pipeline import DetectionPipeline  # noqa: E402
from vigil.priority import Priority  # noqa: E402

HOSTILE_USER = "root\r\x1b]0;owned\x07\x1b[2J\u202eevil"


def hostile_detection(ts: int) -> Detection:
    ev = Event(type="auth.ssh_failed", ts=ts, source="auth",
               proc=Process(pid=4000, name="sshd"),
               raw=f"sshd[4000]: Failed password for {HOSTILE_USER} from 198.51.100.7")
    return Detection(kind="detector", name="ssh_bruteforce", rule_id="ssh_bruteforce.attempt",
                     priority=Priority.NOTICE, ts=ts, source="auth",
                     output=f"SSH failed login from 198.51.100.7 for user {HOSTILE_USER}",
                     entity=Entity(ip="198.51.100.7", user=HOSTILE_USER), evidence=[ev],
                     tags=["T1110"], data={"title": "SSH brute force", "unit": "attempts"},
                     hostname="web-1")


def test_terminal_lines_never_carry_control_characters() -> None:
    events = []
    pipe = DetectionPipeline([], on_incident=events.append)
    pipe.handle([hostile_detection(sec(0))])
    pipe.finish()
    lines = [incident_line(e) for e in events]
    assert [e.kind for e in events] == [IncidentEventKind.OPENED, IncidentEventKind.CLOSED]
    for line in lines:
        assert all(ch >= " " and ch != "\x7f" for ch in line), repr(line)
        assert "\u202e" not in line
    assert "root\\r\\x1b]0;owned\\x07\\x1b[2J\\u202eevil" in lines[0]
    assert lines[1].split()[1] == "CLOSE" and "1 attempt over 0 s" in lines[1]
    # JSON keeps the exact text (escaped by JSON itself)
    doc = event_document(events[0])
    assert doc["incident"]["entities"]["users"] == [HOSTILE_USER]
    assert "\x1b" not in json.dumps(doc)


def test_trail_records_detections_with_their_incident_and_the_lifecycle(tmp_path) -> None:
    trail = AuditTrail(tmp_path / "audit")
    pipe = DetectionPipeline([], audit=trail)
    writer = proc("/usr/bin/tee", pid=910, name="tee", parent=init(), start_ts=sec(-1))
    first = Detection(kind="detector", name="sensitive_write", priority=Priority.WARNING,
                      output="write /etc/cron.d/x", ts=sec(0),
                      entity=Entity(path="/etc/cron.d/x"),
                      evidence=[open_file(writer, "/etc/cron.d/x", ts=sec(0))], hostname="h")
    worse = Detection(kind="falco", name="Cron job by a shell", priority=Priority.CRITICAL,
                      output="cron", ts=sec(1),
                      evidence=[open_file(writer, "/etc/cron.d/x", ts=sec(1))], hostname="h")
    pipe.handle([first])
    pipe.handle([worse])
    pipe.finish()
    trail.close()
    assert verify_trail(tmp_path / "audit").ok
    recs = list(iter_records(tmp_path / "audit",
                             RecordFilter(types=frozenset({"detection", "incident"}))))
    assert [(r.type, r.event) for r in recs] == [
        ("detection", None), ("incident", "opened"), ("detection", None),
        ("incident", "escalated"), ("incident", "closed")]
    ids = {r.incident_id for r in recs}
    assert len(ids) == 1
    [doc] = latest_incidents(tmp_path / "audit")
    assert doc["status"] == "closed" and doc["closed_reason"] == "shutdown"
    assert doc["priority"] == "Critical" and doc["detection_count"] == 2


def test_incidents_cli_lists_and_shows_with_hostile_text_escaped(tmp_path) -> None:
    trail = AuditTrail(tmp_path / "audit")
    pipe = DetectionPipeline([], audit=trail)
    pipe.handle([hostile_detection(sec(0)), hostile_detection(sec(1))])
    pipe.finish()
    trail.close()
    from vigil.cli import _register_all, app
    _register_all()
    listed = CliRunner().invoke(app, ["incidents", "--trail", str(tmp_path / "audit")])
    assert listed.exit_code == 0, listed.output
    row = listed.stdout.splitlines()[0]
    assert "SSH brute force" in row and "[2 attempts]" in row and "closed" in row
    iid = row.split()[0]
    shown = CliRunner().invoke(app, ["incidents", "show", iid, "--trail",
                                     str(tmp_path / "audit")])
    assert shown.exit_code == 0, shown.output
    assert "\x1b" not in shown.stdout and "\r" not in shown.stdout
    assert "\\x1b]0;owned" in shown.stdout
    assert "From logs" in shown.stdout and "×2" in shown.stdout
    missing = CliRunner().invoke(app, ["incidents", "show", "ffff", "--trail",
                                       str(tmp_path / "audit")])
    assert missing.exit_code == 2 and "no incident 'ffff'" in missing.output
    assert "Traceback" not in missing.output


def test_replay_prints_incidents_and_json_documents(tmp_path) -> None:
    """`vigil replay` shows the incidents live would (on recorded time)."""
    rec = tmp_path / "rec.jsonl"
    lines = []
    for i in range(6):
        ev = Event(type="auth.ssh_failed", ts=sec(i), source="auth",
                   proc=Process(pid=5000 + i, name="sshd"), hostname="web-1",
                   args={"src_ip": "198.51.100.20", "src_port": 4000 + i, "user": "root"},
                   raw=f"sshd[{5000 + i}]: Failed password for root from 198.51.100.20")
        lines.append(encode_event(ev))
    rec.write_bytes(b"".join(lines))
    cfg = tmp_path / "vigil.toml"
    cfg.write_text(f'state_dir = "{tmp_path}"\n[rules]\nfalco = []\n')
    r = subprocess.run([sys.executable, "-m", "vigil", "replay", str(rec), "-c", str(cfg)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert [x.split()[1] for x in out if x[:4].isdigit()] == ["OPEN", "ESCALATE", "CLOSE"]
    assert "6 detections: 6 unsuppressed in 1 incidents" in r.stdout
    j = subprocess.run([sys.executable, "-m", "vigil", "replay", str(rec), "-c", str(cfg),
                        "--json"], capture_output=True, text=True, timeout=120)
    docs = [json.loads(x) for x in j.stdout.splitlines()]
    assert [d["event"] for d in docs] == ["opened", "escalated", "closed"]
    assert docs[-1]["incident"]["detection_count"] == 6
    assert docs[-1]["incident"]["closed_reason"] == "end_of_input"
