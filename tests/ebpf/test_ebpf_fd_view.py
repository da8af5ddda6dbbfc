"""Real kernel: the fd view is what the kernel holds, not what user space guessed.

Dup events describe the new fd as the kernel has it; every exec reports what fds 0-2 of
the new image are (with a socket's ends, a pipe's inode and end) and which fds survived
it; the process writing into a shell's stdin pipe is named.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from ebpf_harness import LiveCapture, live, only, requires_bpf  # noqa: F401  (fixture)

from vigil.detectors.reverse_shell import ReverseShellDetector
from vigil.events.fields import DEFAULT_FIELDS
from vigil.events.proctable import ProcessTable
from vigil.rules.falco.engine import FalcoEngine
from vigil.rules.falco.loader import load_rules
from vigil.sensors.ebpf.sensor import EbpfSensor

pytestmark = requires_bpf

DEFAULT_RULES = Path(__file__).resolve().parents[2] / "src" / "vigil" / "defaults" / \
    "vigil_rules.yaml"


def field(name: str, event, arg: str | None = None):
    return DEFAULT_FIELDS.extractor(name, arg)(event)


def _listener() -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(4)
    return s


SOCKET_THEN_PIPE = r"""
import os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
os.dup2(s.fileno(), 0)      # fds 0 and 1 are the socket
os.dup2(s.fileno(), 1)
r, w = os.pipe()
os.close(1)                 # ... fd 1 closed (not seen by the table unless close is captured)
os.dup2(w, 1)               # ... and now a pipe
os.dup2(r, 0)               # and stdin too
os.execv("/bin/sh", ["sh", "-c", ": vigil-pipe-stdout"])
"""


def test_a_socket_replaced_by_a_pipe_is_a_pipe_on_dup_and_at_exec(live):
    srv = _listener()
    port = srv.getsockname()[1]
    events = live.python(SOCKET_THEN_PIPE.replace("sys.argv[1]", str(port)),
                         until=lambda e: e.type == "execve" and e.proc.name == "sh"
                         and e.proc.pid == live.pid)
    mine = [e for e in events if e.proc.pid == live.pid]
    dups = [e for e in mine if e.type == "dup2" and e.res == 1]
    assert [d.fd.type for d in dups][-2:] == ["ipv4", "pipe"]
    to_pipe = dups[-1]
    assert to_pipe.fd.name == f"pipe:[{to_pipe.fd.ino}]" and to_pipe.fd.end == "w"
    assert field("fd.types", to_pipe, "1") == "pipe"
    ex = only(mine, lambda e: e.type == "execve" and e.proc.name == "sh")
    assert ex.proc.stdio[1].type == "pipe" and ex.proc.stdio[1].ino == to_pipe.fd.ino
    assert ex.proc.stdio[0].type == "pipe" and ex.proc.stdio[0].end == "r"
    assert field("proc.stdout.type", ex) == "pipe"
    # the rule that fired 111 times on an SSH session's shell reads the kernel's answer:
    # the socket on stdin and stdout is the reverse-shell shape (it fires on the dup that
    # completes the pair), the pipe onto the same fds is not
    onto_stdin = [e for e in mine if e.type == "dup2" and e.res == 0]
    assert [d.fd.type for d in onto_stdin][-2:] == ["ipv4", "pipe"]
    engine = FalcoEngine(load_rules([DEFAULT_RULES]), rule_matching="all")
    rule = "Standard stream redirected to a network connection"
    assert rule not in [d.name for d in engine.match(onto_stdin[-2])]  # stdout not yet
    assert rule in [d.name for d in engine.match(dups[-2])]  # socket onto stdout too
    assert rule not in [d.name for d in engine.match(dups[-1])]
    assert rule not in [d.name for d in engine.match(onto_stdin[-1])]
    srv.close()


SOCKET_STDIO = r"""
import os, socket
s = socket.create_connection(("127.0.0.1", PORT))
for fd in (0, 1, 2):
    os.dup2(s.fileno(), fd)
os.execv("/bin/sh", ["sh", "-c", ": vigil-socket-stdio"])
"""


def test_a_child_exec_after_dup2_of_a_socket_has_the_socket_and_its_ends_on_0_to_2(live):
    srv = _listener()
    port = srv.getsockname()[1]
    events = live.python(SOCKET_STDIO.replace("PORT", str(port)),
                         until=lambda e: e.type == "execve" and e.proc.name == "sh"
                         and e.proc.pid == live.pid)
    ex = only(events, lambda e: e.type == "execve" and e.proc.name == "sh"
              and e.proc.pid == live.pid)
    conn, peer = srv.accept()
    for f in ex.proc.stdio:
        assert f.type == "ipv4" and f.l4proto == "tcp" and f.role == "client"
        assert (f.rip, f.rport) == ("127.0.0.1", port)
        assert (f.lip, f.lport) == peer
    assert field("fd.types", ex) == ["ipv4"]
    assert field("proc.stdin.name", ex) == f"127.0.0.1:{peer[1]}->127.0.0.1:{port}"
    # the reverse-shell detector sees a shell whose stdio is the socket, with its remote end
    dets = ReverseShellDetector().on_event(ex)
    assert [d.rule_id for d in dets] == ["reverse_shell.socket_stdio"]
    assert f"127.0.0.1:{port}" in dets[0].output
    conn.close()
    srv.close()


def test_close_on_exec_fds_leave_the_table_at_exec(live, tmp_path):
    keep, drop = tmp_path / "kept", tmp_path / "dropped"
    keep.write_text("k")
    drop.write_text("d")
    code = (f"import os\n"
            f"a = os.open({str(drop)!r}, os.O_RDONLY | os.O_CLOEXEC)\n"
            f"b = os.open({str(keep)!r}, os.O_RDONLY)\n"
            f"os.set_inheritable(b, True)\n"
            f"os.dup2(b, 40)\n"
            f"os.set_inheritable(40, True)\n"
            f"print(a, b, flush=True)\n"
            f"os.execv('/bin/sleep', ['sleep', '3'])\n")
    live.drain()
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        a, b = (int(x) for x in child.stdout.readline().split())
        events = live.collect(lambda e: e.type == "execve" and e.proc.pid == child.pid
                              and e.proc.name == "sleep")
        table = live.sensor.table
        ex = only(events, lambda e: e.type == "execve" and e.proc.name == "sleep")
        opened = {e.fd.num: e.fd.name for e in events
                  if e.type == "openat" and e.proc.pid == child.pid and e.res >= 0
                  and e.ts < ex.ts}
        assert opened[a] == str(drop) and opened[b] == str(keep)
        # O_CLOEXEC: gone with the exec; the inherited fds stay, names and all
        assert table.fd(child.pid, a) is None
        assert table.fd(child.pid, b).name == str(keep)
        assert table.fd(child.pid, 40).name == str(keep)
    finally:
        child.kill()
        child.wait()


def test_curl_piped_into_sh_names_the_writer_of_the_shells_stdin(live, tmp_path):
    (tmp_path / "payload.sh").write_text("echo vigil-payload-ran\n")
    server = subprocess.Popen([sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1"],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True)
    try:
        line = server.stdout.readline()  # "Serving HTTP on 127.0.0.1 port N ..."
        port = int(line.split(" port ")[1].split()[0])
        url = f"http://127.0.0.1:{port}/payload.sh"
        events = live.run(["bash", "-c", f"curl -s {url} | sh; :"],
                          until=lambda e: e.type == "execve" and e.proc.name == "sh"
                          and e.proc.ppid == live.pid)
    finally:
        server.kill()
        server.wait()
    sh = only(events, lambda e: e.type == "execve" and e.proc.name == "sh"
              and e.proc.ppid == live.pid)
    curl = only(events, lambda e: e.type == "execve" and e.proc.name == "curl")
    assert sh.proc.stdio[0].type == "pipe" and sh.proc.stdio[0].end == "r"
    assert curl.proc.stdio[1].ino == sh.proc.stdio[0].ino
    assert field("proc.stdin.writer", sh) == "curl"
    assert field("proc.stdin.writer_pid", sh) == curl.proc.pid
    assert field("proc.stdin.writer_cmdline", sh) == f"curl -s {url}"
    assert field("proc.stdout.reader", curl) == "sh"


def test_a_writer_gone_longer_than_the_grace_period_is_not_named():
    # a sensor whose table names an exited writer for 0.1 s only; the writer exits 0.6 s
    # before the reader starts
    sensor = EbpfSensor(event_types={"execve"},
                        table=ProcessTable(pipe_grace_ns=100_000_000))
    sensor.start()
    try:
        live = LiveCapture(sensor)
        events = live.run(["bash", "-c", "/bin/true | (sleep 0.6; exec sh -c ': late')"],
                          until=lambda e: e.type == "execve" and e.proc.name == "sh")
        quick = live.run(["bash", "-c", "/bin/true | (sleep 0.01; exec sh -c ': soon')"],
                         until=lambda e: e.type == "execve" and e.proc.name == "sh")
    finally:
        sensor.stop()
    sh = only(events, lambda e: e.type == "execve" and e.proc.name == "sh")
    assert sh.proc.stdio[0].type == "pipe"
    assert field("proc.stdin.writer", sh) is None
    assert sensor.stats()["pipe_peers_unknown"] >= 1
    # a writer that exited just before the reader started is still the writer: what it
    # wrote may be waiting in the pipe
    soon = only(quick, lambda e: e.type == "execve" and e.proc.name == "sh")
    assert field("proc.stdin.writer", soon) == "true"
