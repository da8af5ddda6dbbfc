"""Recording live events to JSONL and reading them back gives the same events and fields."""

from __future__ import annotations

import subprocess
import threading
import time

import typer
from ebpf_harness import live, only, requires_bpf  # noqa: F401  (fixture)
from typer.testing import CliRunner

from vigil.commands import record as record_cmd
from vigil.events.fields import DEFAULT_FIELDS
from vigil.events.jsonl import BadLine, EventWriter, read_events
from vigil.sensors.recorder import AncestryCutter, Recorder

pytestmark = requires_bpf

#: the fields of the stable Falco rules "Read sensitive file untrusted" and
#: "Fileless execution via memfd_create", plus ancestry and socket fields
FIELDS = ["evt.type", "evt.res", "evt.rawres", "evt.is_open_read", "fd.name", "fd.num",
          "fd.typechar", "fd.sip", "fd.sport", "proc.name", "proc.exepath", "proc.cmdline",
          "proc.pname", "proc.pcmdline", "proc.aname[2]", "proc.aname[3]", "proc.cwd",
          "proc.is_exe_from_memfd", "user.name", "user.loginuid", "container.id",
          "evt.arg.flags", "evt.arg.request", "proc.tty",
          # what the kernel said about fds, files, pipes, listeners and signals
          "fd.ino", "fd.dev", "fd.types", "fd.types[1]", "fd.size_before", "evt.arg.created",
          "proc.stdin.type", "proc.stdin.name", "proc.stdout.type", "proc.stdin.writer",
          "proc.stdin.writer_cmdline", "proc.stdout.reader", "proc.is_server",
          "proc.listen_ports", "proc.exe_ino", "evt.arg.target_name", "dns.qname"]


def _values(ev):
    out = {}
    for f in FIELDS:
        name, _, arg = f.partition("[")
        out[f] = DEFAULT_FIELDS.extractor(name, arg.rstrip("]") or None)(ev)
    return out


def test_recorded_events_read_back_equal(live, tmp_path):
    path = tmp_path / "rec.jsonl"
    live.drain()
    subprocess.run(["bash", "-c", "cat /etc/shadow > /dev/null; sh -c 'ls /; :'"], check=True)
    time.sleep(0.05)
    with EventWriter(path) as writer:
        rec = Recorder(live.sensor, writer)
        # fake clock: three polls, no real waiting beyond the sensor's own read timeout
        ticks = iter([0.0, 0.0, 0.1, 0.2, 0.3, 9.0, 9.0])
        rec.run(duration=0.3, clock=lambda: next(ticks), poll=0.05)
    assert rec.written > 0
    back = list(read_events(path))
    assert not [b for b in back if isinstance(b, BadLine)]
    assert len(back) == rec.written
    shadow = only(back, lambda e: e.type == "openat" and e.args.get("name") == "/etc/shadow")
    assert shadow.proc.name == "cat" and shadow.proc.parent.name == "bash"


def test_record_then_replay_gives_the_same_field_values(live, tmp_path):
    live.drain()
    log = tmp_path / "x.log"
    log.write_text("old content")
    subprocess.run(["bash", "-c", f"cat /etc/shadow > /dev/null; echo y > {log}; "
                                  f"cat {log} | tr a-z A-Z | sh -c '/bin/true x; :'; :"],
                   check=True)
    events = live.collect(lambda e: e.type == "execve" and e.proc.name == "true")
    cutter = AncestryCutter()
    path = tmp_path / "rec.jsonl"
    with EventWriter(path) as w:
        for ev in events:
            w.write(cutter.event(ev))
    back = list(read_events(path))
    assert len(back) == len(events)
    for live_ev, replayed in zip(events, back):
        assert replayed == cutter.event(live_ev)
        assert _values(replayed) == _values(live_ev)
    # the new facts were there to be replayed
    values = [_values(e) for e in back]
    assert any(v["proc.stdin.writer"] == "cat" for v in values)
    assert any(v["fd.size_before"] == len("old content") for v in values)
    assert any(v["evt.arg.created"] == "false" for v in values)


def test_vigil_record_command_writes_a_replayable_capture(tmp_path):
    out = tmp_path / "cli.jsonl"
    app = typer.Typer()
    record_cmd.register(app)
    app.command("noop")(lambda: None)  # two commands, so `record` is a sub-command

    recording = threading.Event()
    recording.set()

    def act() -> None:
        # repeated while the recorder runs, so a slow start (a busy machine) still sees some
        while recording.is_set():
            time.sleep(0.3)
            subprocess.run(["cat", "/etc/shadow"], stdout=subprocess.DEVNULL, check=True)

    t = threading.Thread(target=act)
    t.start()
    try:
        res = CliRunner().invoke(app, ["record", "-o", str(out), "--duration", "3",
                                       "--types", "openat,execve"])
    finally:
        recording.clear()
        t.join()
    assert res.exit_code == 0, res.output
    assert "kernel drops: 0" in res.output
    back = [e for e in read_events(out)]
    assert back and not [b for b in back if isinstance(b, BadLine)]
    assert {e.type for e in back} <= {"openat", "execve"}
    ev = only(back, lambda e: e.type == "openat" and e.args.get("name") == "/etc/shadow"
              and e.proc.name == "cat")
    assert _values(ev)["evt.is_open_read"] is True and _values(ev)["fd.typechar"] == "f"


def test_vigil_record_applies_the_kernel_filters_of_vigil_run_unless_raw(tmp_path):
    app = typer.Typer()
    record_cmd.register(app)
    app.command("noop")(lambda: None)
    config = tmp_path / "vigil.toml"
    config.write_text('[sensors]\nignore_read_prefixes = ["/usr/share/common-licenses/"]\n')
    found = {}
    for raw in (False, True):
        out = tmp_path / f"raw-{raw}.jsonl"
        recording = threading.Event()
        recording.set()

        def act() -> None:
            while recording.is_set():
                time.sleep(0.3)
                subprocess.run(["cat", "/usr/share/common-licenses/GPL-3"],
                               stdout=subprocess.DEVNULL, check=True)

        t = threading.Thread(target=act)
        t.start()
        try:
            res = CliRunner().invoke(app, ["record", "-o", str(out), "--duration", "2.5",
                                           "--types", "openat", "-c", str(config),
                                           *(["--raw"] if raw else [])])
        finally:
            recording.clear()
            t.join()
        assert res.exit_code == 0, res.output
        found[raw] = [e for e in read_events(out) if e.type == "openat" and e.proc.name == "cat"
                      and e.args.get("name") == "/usr/share/common-licenses/GPL-3"]
        if not raw:
            assert "dropped by the kernel filters: 0," not in res.output
        else:
            assert "--raw" in res.output
    assert found[False] == [] and found[True]


def test_vigil_record_rejects_unknown_types(tmp_path):
    app = typer.Typer()
    record_cmd.register(app)
    app.command("noop")(lambda: None)
    res = CliRunner().invoke(app, ["record", "-o", str(tmp_path / "x"), "--types", "opn"])
    assert res.exit_code == 2 and "unknown event type(s): opn" in res.output


def test_vigil_record_stops_cleanly_on_sigterm_and_on_sigint(tmp_path):
    import os
    import signal
    import sys

    for sig in (signal.SIGTERM, signal.SIGINT):
        out = tmp_path / f"{sig.name}.jsonl"
        # a new session, so SIGINT is not ignored as it is for background jobs of a shell
        p = subprocess.Popen([sys.executable, "-m", "vigil", "record", "-o", str(out),
                              "--types", "openat"], stderr=subprocess.PIPE, text=True,
                             start_new_session=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        # wait until the sensor is attached (its log line), then act and stop it
        for line in p.stderr:
            if "eBPF sensor attached" in line:
                break
        subprocess.run(["cat", "/etc/shadow"], stdout=subprocess.DEVNULL, check=True)
        time.sleep(0.1)
        os.kill(p.pid, sig)
        err = p.stderr.read()
        assert p.wait(10) == 0, err
        assert "recorded" in err and "[interrupted]" in err
        back = list(read_events(out))
        assert any(e.type == "openat" and e.args.get("name") == "/etc/shadow" for e in back), \
            (sig, err, len(back), [e.args.get("name") for e in back][:20])
