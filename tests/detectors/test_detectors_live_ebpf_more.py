"""Live eBPF tests for the detectors the first live file does not cover:
privilege_escalation, kernel_module and crypto_mining. Real child processes act; the
kernel reports; the detector decides. Needs root and BPF (skipped with the sensor's own
reason otherwise).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ebpf"))
from ebpf_harness import live, requires_bpf  # noqa: E402,F401  (fixture)
from detector_factories import run as feed  # noqa: E402

from vigil.detectors.crypto_mining import CryptoMiningDetector  # noqa: E402
from vigil.detectors.kernel_module import KernelModuleDetector  # noqa: E402
from vigil.detectors.privilege_escalation import PrivilegeEscalationDetector  # noqa: E402
from vigil.priority import Priority  # noqa: E402

pytestmark = requires_bpf


def test_live_uid_back_to_root_outside_an_elevation_tool(live):
    # the child drops to uid 1000 but keeps a saved uid of 0, then takes root back:
    # a process becoming root without sudo/su/pkexec
    code = "import os; os.setresuid(1000, 1000, 0); os.setresuid(0, 0, 0)"
    events = live.python(code, until=lambda e: e.type == "setresuid" and e.res == 0
                         and e.proc.pid == live.pid and e.proc.uid == 0)
    dets = [d for d in feed(PrivilegeEscalationDetector(), events)
            if d.evidence[0].proc.pid == live.pid]
    # the call that took root back is reported, though the record's uid is already 0: the
    # sensor adds the uid the process had before (`uid_before`)
    back = [d for d in dets if d.evidence[0].args.get("ruid") == 0]
    assert [(d.rule_id, d.priority, d.suppressed) for d in back] == [
        ("privilege_escalation.setuid_root", Priority.CRITICAL, None)]
    assert back[0].evidence[0].proc.uid == 0 and back[0].evidence[0].args["uid_before"] == 1000


def _set_uid_python(directory: str, owner: int) -> Path:
    """A copy of the system's Python, set-uid to `owner`, in a directory uid 1000 can
    reach (pytest's tmp_path is not: a directory of its own under /tmp, mode 0755)."""
    os.chmod(directory, 0o755)
    copy = Path(directory) / "py"
    shutil.copy("/usr/bin/python3.11" if Path("/usr/bin/python3.11").exists()
                else sys.executable, copy)
    os.chown(copy, owner, owner)
    os.chmod(copy, 0o4755)
    return copy


def test_live_set_uid_root_copy_run_by_a_user_becoming_root(live):
    # the GTFOBins shape: a set-uid-root copy of an interpreter, run by uid 1000 (its
    # parent is the user's process), makes itself root
    with tempfile.TemporaryDirectory(prefix="vigil-suid-") as tmp:
        suid = _set_uid_python(tmp, 0)
        code = ("import os\n"
                "pid = os.fork()\n"
                "if pid == 0:\n"
                "    os.setgroups([]); os.setresgid(1000, 1000, 1000); os.setresuid(1000, 1000, 1000)\n"
                "    if os.fork() == 0:\n"
                f"        os.execv({str(suid)!r}, ['py', '-c', 'import os; os.setresuid(0, 0, 0)'])\n"
                "    os.wait()\n"
                "    os._exit(0)\n"
                "os.waitpid(pid, 0)\n")
        events = live.python(code, until=lambda e: e.type == "setresuid" and e.res == 0
                             and e.proc.uid == 0 and e.proc.exepath == str(suid))
    dets = [d for d in feed(PrivilegeEscalationDetector(), events)
            if d.evidence[0].proc.exepath == str(suid)]
    assert [(d.rule_id, d.priority) for d in dets] == [
        ("privilege_escalation.setuid_root", Priority.CRITICAL)]
    assert dets[0].suppressed is None


def test_live_set_uid_daemon_program_run_by_root_swapping_uids_is_not_an_escalation(live):
    # at(1) is set-uid `daemon`: run by root it starts with real uid 0 and effective uid 1
    # and swaps them back and forth (setreuid(1, 0), setreuid(0, 1)) around its work; it
    # never lacked root, so none of its calls is an escalation
    with tempfile.TemporaryDirectory(prefix="vigil-suid-") as tmp:
        suid = _set_uid_python(tmp, 1)
        swap = "import os; os.setreuid(1, 0); os.setreuid(0, 1); os.setreuid(1, 0)"
        events = live.run([str(suid), "-c", swap],
                          until=lambda e: e.type == "procexit" and e.proc.pid == live.pid)
    swaps = [e for e in events if e.type == "setreuid" and e.proc.exepath == str(suid)]
    assert len(swaps) == 3 and all(e.res == 0 for e in swaps)
    assert feed(PrivilegeEscalationDetector(), swaps) == []


def test_live_uid_drop_is_not_an_escalation(live):
    code = "import os; os.setresuid(1000, 1000, 1000)"
    events = live.python(code, until=lambda e: e.type == "setresuid"
                         and e.proc.pid == live.pid)
    assert [d for d in feed(PrivilegeEscalationDetector(), events)
            if d.evidence[0].proc.pid == live.pid] == []


def test_live_module_load_attempt_from_tmp_is_seen(live, tmp_path):
    # loading a file that is not a module fails in the kernel (ENOEXEC): the sensor sees
    # the attempt with its path, and the attempt is reported (issue 12: refusal is no excuse)
    fake = tmp_path / "rootkit.ko"
    fake.write_bytes(b"not a module")
    code = (f"import ctypes, os; fd = os.open({str(fake)!r}, os.O_RDONLY); "
            "ctypes.CDLL(None, use_errno=True).syscall(313, fd, b'', 0)")
    events = live.python(code, until=lambda e: e.type == "finit_module")
    load = next(e for e in events if e.type == "finit_module" and e.proc.pid == live.pid)
    assert load.res is not None and load.res < 0
    dets = feed(KernelModuleDetector(), [load])
    assert [(d.rule_id, d.priority, d.data["title"]) for d in dets] == [
        ("kernel_module.load", Priority.CRITICAL, "Kernel module load attempted")]
    assert dets[0].entity.path == str(fake) and dets[0].suppressed is None


def test_live_connection_to_a_mining_pool_port(live):
    code = ("import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
            "s.connect(('198.51.100.33', 3333)); s.close()")
    events = live.python(code, until=lambda e: e.type == "connect" and e.fd is not None
                         and e.fd.rport == 3333)
    dets = [d for d in feed(CryptoMiningDetector(), events)
            if d.evidence[0].proc.pid == live.pid]
    assert len(dets) == 1 and dets[0].entity.ip == "198.51.100.33"


def test_live_log_emptied_with_truncate(live, tmp_path):
    """`truncate -s 0` (open, then ftruncate on the fd): the sensor names the file from the
    process' fd table, and the detector reports the cleared log."""
    from vigil.detectors.service_tamper import ServiceTamperDetector, ServiceTamperParams

    log = tmp_path / "secure"
    log.write_text("Nov 26 sudo: alice : COMMAND=/bin/sh\n")
    events = live.run(["truncate", "-s", "0", str(log)],
                      until=lambda e: e.type == "ftruncate" and e.proc.pid == live.pid)
    cut = next(e for e in events if e.type == "ftruncate" and e.proc.pid == live.pid)
    assert cut.fd is not None and cut.fd.name == str(log) and cut.args["length"] == 0
    det = ServiceTamperDetector(ServiceTamperParams(extra_log_paths=(str(log),)))
    assert "service_tamper.log_clear" in [d.rule_id for d in feed(det, [cut])]
