"""Live eBPF tests for defense evasion, impact and discovery (issue 12): real child
processes timestomp, masquerade, delete their own binary, hide a process under a mount,
preload a library, open the audit control socket, encrypt a tree and enumerate the host;
the kernel reports; the detectors and default rules decide. Each attack has its
look-alike. Needs root and BPF (skipped with the sensor's own reason otherwise).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ebpf"))
from ebpf_harness import live, requires_bpf  # noqa: E402,F401  (fixture)
from detector_factories import run as feed  # noqa: E402

from vigil.detectors.deleted_exe import DeletedExeDetector  # noqa: E402
from vigil.detectors.masquerade import MasqueradeDetector  # noqa: E402
from vigil.detectors.ransomware import RansomwareDetector, RansomwareParams  # noqa: E402
from vigil.detectors.recon_burst import ReconBurstDetector  # noqa: E402
from vigil.detectors.service_tamper import ServiceTamperDetector  # noqa: E402
from vigil.detectors.timestomp import TimestompDetector, TimestompParams  # noqa: E402
from vigil.rules.falco.engine import FalcoEngine  # noqa: E402
from vigil.rules.falco.loader import load_rules  # noqa: E402

pytestmark = requires_bpf

DEFAULT_RULES = Path(__file__).resolve().parents[2] / "src" / "vigil" / "defaults" / \
    "vigil_rules.yaml"


def _mine(events, pids):
    return [e for e in events if e.proc.pid in pids or
            (e.proc.parent is not None and e.proc.parent.pid in pids)]


def test_live_touch_reference_and_utime_backdate_are_timestomping(live, tmp_path):
    target = tmp_path / "netcfg"
    target.write_bytes(b"x")
    ref_ns = os.stat("/bin/ls").st_mtime_ns
    events = live.run(["touch", "-r", "/bin/ls", str(target)],
                      until=lambda e: e.type == "utimensat" and e.proc.pid == live.pid)
    stomp = next(e for e in events if e.type == "utimensat" and e.proc.pid == live.pid)
    # GNU touch calls futimens on the reopened file: the kernel names it by the fd
    assert stomp.args["mtime"] == ref_ns
    det = TimestompDetector(TimestompParams(extra_prefixes=(str(tmp_path) + "/",)))
    dets = feed(det, events)
    assert [(d.rule_id, d.entity.path) for d in dets] == [("timestomp.backdated", str(target))]
    assert dets[0].suppressed is None

    code = f"import os; os.utime({str(target)!r}, (1552000000, 1552000000))"
    events = live.python(code, until=lambda e: e.type == "utimensat" and e.proc.pid == live.pid)
    dets = [d for d in feed(det, events) if d.evidence[0].proc.pid == live.pid]
    assert len(dets) == 1 and dets[0].data["mtime"] == 1552000000 * 10**9


def test_live_touch_now_and_cp_preserving_times_are_not_timestomping(live, tmp_path):
    target = tmp_path / "conf"
    target.write_bytes(b"x")
    det = TimestompDetector(TimestompParams(extra_prefixes=(str(tmp_path) + "/",)))
    events = live.run(["touch", str(target)],
                      until=lambda e: e.type == "utimensat" and e.proc.pid == live.pid)
    now = next(e for e in events if e.type == "utimensat" and e.proc.pid == live.pid)
    assert "mtime" not in now.args
    assert feed(det, events) == []
    events = live.run(["cp", "-p", "/bin/ls", str(tmp_path / "ls")],
                      until=lambda e: e.type == "utimensat" and e.proc.pid == live.pid)
    dets = [d for d in feed(det, events) if d.evidence[0].proc.pid == live.pid]
    assert [d.suppressed.entry for d in dets] == ["timestomp.time_preservers=cp"]


def test_live_kernel_thread_name_and_prctl_rename_are_masquerading(live, tmp_path):
    fake = tmp_path / ".cache" / "kworker"
    fake.parent.mkdir()
    shutil.copy("/bin/true", fake)
    events = live.run(["bash", "-c", f"exec -a '[kworker/1:1H]' {fake}"],
                      until=lambda e: e.type == "execve" and e.proc.exepath == str(fake))
    dets = feed(MasqueradeDetector(), events)
    assert [(d.rule_id, d.data["posing_as"]) for d in dets] == [
        ("masquerade.kernel_thread", "[kworker/1:1H]")]

    py = tmp_path / ".sysd"
    shutil.copy(os.path.realpath(sys.executable), py)
    code = "import ctypes; ctypes.CDLL(None).prctl(15, b'sshd', 0, 0, 0)"
    events = live.run([str(py), "-c", code],
                      until=lambda e: e.type == "prctl" and e.proc.pid == live.pid)
    dets = [d for d in feed(MasqueradeDetector(), events) if d.evidence[0].proc.pid == live.pid]
    assert [(d.rule_id, d.data["posing_as"]) for d in dets] == [("masquerade.daemon", "sshd")]


def test_live_thread_names_of_ordinary_programs_are_not_masquerading(live):
    code = "import ctypes; ctypes.CDLL(None).prctl(15, b'worker-1', 0, 0, 0)"
    events = live.python(code, until=lambda e: e.type == "prctl" and e.proc.pid == live.pid)
    assert [d for d in feed(MasqueradeDetector(), events)
            if d.evidence[0].proc.pid == live.pid] == []


def test_live_binary_deleted_while_it_runs(live, tmp_path):
    binary = tmp_path / ".upd"
    shutil.copy("/bin/sleep", binary)
    live.drain()
    child = subprocess.Popen([str(binary), "3"])
    try:
        time.sleep(0.3)
        subprocess.run(["rm", "-f", str(binary)], check=True)
        events = live.collect(lambda e: e.type == "unlinkat"
                              and e.args.get("name") == str(binary))
    finally:
        child.kill()
        child.wait()
    dets = feed(DeletedExeDetector(), events)
    assert [(d.rule_id, d.data["victim_pid"], d.entity.process) for d in dets] == [
        ("deleted_exe.running_exe", child.pid, "rm")]


def test_live_deleting_a_finished_programs_file_is_quiet(live, tmp_path):
    binary = tmp_path / "test_prog"
    shutil.copy("/bin/true", binary)
    live.drain()
    subprocess.run([str(binary)], check=True)
    time.sleep(0.2)
    subprocess.run(["rm", "-f", str(binary)], check=True)
    events = live.collect(lambda e: e.type == "unlinkat" and e.args.get("name") == str(binary))
    assert [d for d in feed(DeletedExeDetector(), events)
            if d.entity.path == str(binary)] == []


def test_live_bind_mount_over_proc_pid_hides_a_process(live, tmp_path):
    if shutil.which("mount") is None:
        pytest.skip("mount(8) is not installed")
    empty = tmp_path / "empty"
    empty.mkdir()
    sleeper = subprocess.Popen(["sleep", "20"])
    target = f"/proc/{sleeper.pid}"
    try:
        events = live.run(["mount", "--bind", str(empty), target],
                          until=lambda e: e.type == "mount" and e.proc.pid == live.pid)
    finally:
        subprocess.run(["umount", target], check=False)
        sleeper.kill()
        sleeper.wait()
    mount = next(e for e in events if e.type == "mount" and e.proc.pid == live.pid)
    assert mount.res == 0 and mount.args["dir"] == target
    engine = FalcoEngine(load_rules([DEFAULT_RULES]), rule_matching="all")
    assert "Process hidden by a mount over its /proc entry" in [
        d.name for d in engine.match(mount)]


def test_live_ld_preload_from_tmp_is_seen_and_plain_ls_is_not(live, tmp_path):
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed (needed to build the preloaded library)")
    src = tmp_path / "hide.c"
    src.write_text("void vigil_test_noop(void) {}\n")
    lib = tmp_path / "libhide.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    engine = FalcoEngine(load_rules([DEFAULT_RULES]), rule_matching="all")
    rule = "Dynamic linker loaded a library from a world-writable directory"
    env = dict(os.environ, LD_PRELOAD=str(lib))
    events = live.run(["ls", "/proc"], env=env,
                      until=lambda e: e.type == "procexit" and e.proc.pid == live.pid)
    opened = [e for e in events if e.type == "openat" and e.fd is not None
              and e.fd.name == str(lib)]
    fired = [d.name for e in opened for d in engine.match(e)]
    if str(lib).startswith(("/tmp/", "/var/tmp/", "/dev/shm/")):
        assert rule in fired
    else:
        pytest.skip(f"the test's temporary directory {tmp_path} is not world-writable")
    events = live.run(["ls", "/proc"],
                      until=lambda e: e.type == "procexit" and e.proc.pid == live.pid)
    assert rule not in [d.name for e in events if e.proc.pid == live.pid
                        for d in engine.match(e)]


def test_live_audit_netlink_socket_by_a_script(live):
    code = ("import socket\n"
            "try:\n    socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 9).close()\n"
            "except OSError:\n    pass\n"
            "socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0).close()\n")
    events = live.python(code, until=lambda e: e.type == "socket" and e.proc.pid == live.pid
                         and e.args.get("proto") == 0)
    dets = [d for d in feed(ServiceTamperDetector(), events)
            if d.evidence[0].proc.pid == live.pid]
    assert [d.rule_id for d in dets] == ["service_tamper.audit_socket"]


def test_live_kill_of_a_security_tool_by_name(live, tmp_path):
    stand_in = tmp_path / "osqueryd"
    shutil.copy("/bin/sleep", stand_in)
    victim = subprocess.Popen([str(stand_in), "30"])
    try:
        time.sleep(0.2)
        events = live.run(["kill", "-9", str(victim.pid)],
                          until=lambda e: e.type == "kill" and e.proc.pid == live.pid)
    finally:
        victim.kill()
        victim.wait()
    kill = next(e for e in events if e.type == "kill" and e.proc.pid == live.pid)
    assert kill.args["target_name"] == "osqueryd" and kill.args["target_ppid"] == os.getpid()
    dets = feed(ServiceTamperDetector(), [kill])
    assert [(d.rule_id, d.data["service"]) for d in dets] == [("service_tamper.tool_kill",
                                                              "osqueryd")]


def test_live_tree_encrypted_with_openssl_is_ransomware_and_gzip_is_not(live, tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    data = tmp_path / "share"
    data.mkdir()
    for i in range(6):
        (data / f"doc{i}.txt").write_text("confidential\n" * 50)
    script = (f"for f in {data}/*.txt; do openssl enc -aes-256-cbc -pbkdf2 -pass pass:x "
              f'-in "$f" -out "$f.locked" && rm -f "$f"; done')
    events = live.run(["setsid", "bash", "-c", script],
                      until=lambda e: e.type == "unlinkat"
                      and e.args.get("name") == str(data / "doc5.txt"), timeout=20)
    det = RansomwareDetector(RansomwareParams(min_files=5))
    dets = feed(det, events)
    assert [d.rule_id for d in dets] == ["ransomware.mass_rewrite"]
    assert dets[0].suppressed is None and dets[0].data["extensions"] == {"locked": dets[0].data["files"]}

    for i in range(6):
        (data / f"log{i}.txt").write_text("line\n" * 50)
    events = live.run(["setsid", "bash", "-c", f"gzip {data}/log*.txt"],
                      until=lambda e: e.type in ("unlinkat", "unlink")
                      and e.args.get("name", e.args.get("path")) == str(data / "log5.txt"))
    gz = feed(RansomwareDetector(RansomwareParams(min_files=5)), events)
    assert [d.suppressed.entry for d in gz] == ["ransomware.compressors=gzip"]


def test_live_enumeration_burst_and_a_monitoring_loop(live):
    burst = ("id; whoami; hostname; uname -a; cat /etc/os-release; cat /etc/passwd; "
             "ps aux; ss -tan; ip a; df -h; lsmod; w; /bin/true")
    events = live.run(["setsid", "bash", "-c", burst + " >/dev/null 2>&1"],
                      until=lambda e: e.type == "execve" and e.proc.name == "true"
                      and e.proc.ppid == live.pid, timeout=20)
    dets = feed(ReconBurstDetector(), events)
    assert [d.rule_id for d in dets] == ["recon_burst.burst"]
    loop = ("for i in 1 2 3 4 5; do ss -tan; ps -e; df -P /; cat /proc/loadavg; done; "
            "/bin/true")
    events = live.run(["setsid", "bash", "-c", loop + " >/dev/null 2>&1"],
                      until=lambda e: e.type == "execve" and e.proc.name == "true"
                      and e.proc.ppid == live.pid, timeout=20)
    assert feed(ReconBurstDetector(), events) == []


def test_live_stratum_login_on_any_port_is_mining_and_http_is_not(tmp_path):
    """The sensor copies the first bytes of each TCP client connection (with `write`
    asked for and DNS ports set, as `vigil run` has them): a miner's stratum login to a
    pool on an arbitrary loopback port is recognised by what it says, not by name or port."""
    import socket
    import threading

    from ebpf_harness import LiveCapture
    from vigil.detectors.crypto_mining import CryptoMiningDetector
    from vigil.sensors.ebpf.sensor import EbpfSensor

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = srv.getsockname()[1]

    def serve() -> None:
        for _ in range(2):
            try:
                conn, _addr = srv.accept()
            except OSError:
                return
            conn.recv(4096)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    sensor = EbpfSensor(event_types={"connect", "write", "sendto", "sendmsg", "execve"},
                        dns_ports=(53,))
    sensor.start()
    try:
        live = LiveCapture(sensor)
        login = ('{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"4Wallet",'
                 '"pass":"x","agent":"XMRig/6.21.0","algo":["rx/0"]}}\n')
        code = (f"import socket, os; s = socket.create_connection(('127.0.0.1', {port})); "
                f"os.write(s.fileno(), {login.encode()!r}); s.close()")
        events = live.python(code, until=lambda e: e.type == "write" and e.proc.pid == live.pid)
        first = next(e for e in events if e.type == "write" and e.proc.pid == live.pid)
        assert first.args["payload"] == login and first.fd.rport == port
        dets = [d for d in feed(CryptoMiningDetector(), events) if d.evidence[0].proc.pid == live.pid]
        assert [(d.rule_id, d.data["method"]) for d in dets] == [("crypto_mining.stratum", "login")]

        code = (f"import socket; s = socket.create_connection(('127.0.0.1', {port})); "
                "s.send(b'GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'); s.send(b'second'); s.close()")
        events = live.python(code, until=lambda e: e.type == "sendto" and e.proc.pid == live.pid)
        sends = [e for e in events if e.type == "sendto" and e.proc.pid == live.pid]
        # only the first send of the connection carries its bytes
        assert [e.args.get("payload") for e in sends] == ["GET / HTTP/1.1\r\nHost: x\r\n\r\n", None]
        assert [d for d in feed(CryptoMiningDetector(), events)
                if d.evidence[0].proc.pid == live.pid] == []
    finally:
        sensor.stop()
        srv.close()
