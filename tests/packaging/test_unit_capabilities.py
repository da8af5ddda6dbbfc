"""vigil.service: its settings, and its capability set tried on this kernel.

systemd does not run on this machine, so the unit's `CapabilityBoundingSet=` is applied
the way systemd applies it to a root service: `setpriv` limits the bounding set (and
clears the inheritable set) before exec, with no_new_privs set like `NoNewPrivileges=`.
Each capability is shown to be needed: with the unit's set the job works, without that
one capability it does not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from vigil.sensors.ebpf.sensor import unavailable_reason as ebpf_unavailable_reason

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "packaging/debian/vigil.service"
VIGIL = Path(sys.executable).with_name("vigil")


def unit_settings(text: str) -> dict[str, dict[str, list[str]]]:
    """`[Section]` -> key -> values (a key may repeat), as systemd reads a unit file."""
    out: dict[str, dict[str, list[str]]] = {}
    section: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = out.setdefault(line[1:-1], {})
            continue
        assert section is not None and "=" in line, f"not a unit line: {raw!r}"
        key, _, value = line.partition("=")
        section.setdefault(key.strip(), []).append(value.strip())
    return out


SETTINGS = unit_settings(UNIT.read_text())
CAPS = SETTINGS["Service"]["CapabilityBoundingSet"][0].split()


def one(section: str, key: str) -> str:
    values = SETTINGS[section][key]
    assert len(values) == 1, f"{key} set {len(values)} times"
    return values[0]


def test_unit_runs_the_installed_agent_with_the_packaged_config() -> None:
    assert one("Service", "ExecStart") == "/usr/bin/vigil run --config /etc/vigil/vigil.toml"
    assert one("Service", "EnvironmentFile") == "-/etc/vigil/vigil.env"
    assert one("Service", "StateDirectory") == "vigil"
    assert one("Service", "LogsDirectory") == "vigil"
    assert one("Install", "WantedBy") == "multi-user.target"


def test_restart_policy_has_a_start_limit_and_spares_config_errors() -> None:
    assert one("Service", "Restart") == "on-failure"
    # start limits belong to [Unit] (systemd ignores them in [Service] since v230)
    assert int(one("Unit", "StartLimitBurst")) >= 3
    assert int(one("Unit", "StartLimitIntervalSec")) >= 60
    # exit 2 = bad configuration or usage (docs/cli.md): a restart cannot fix it
    assert one("Service", "RestartPreventExitStatus") == "2"


def test_sandbox_settings() -> None:
    expected = {"ProtectSystem": "strict", "ProtectHome": "read-only", "PrivateTmp": "yes",
                "NoNewPrivileges": "yes", "ProtectKernelModules": "yes",
                "ProtectKernelTunables": "yes", "ProtectControlGroups": "yes",
                "RestrictSUIDSGID": "yes", "MemoryDenyWriteExecute": "yes",
                "SystemCallArchitectures": "native", "UMask": "0077",
                "SystemCallFilter": "@system-service bpf"}
    for key, value in expected.items():
        assert one("Service", key) == value, key
    assert sorted(CAPS) == ["CAP_BPF", "CAP_DAC_READ_SEARCH", "CAP_PERFMON", "CAP_SYS_PTRACE"]
    assert one("Service", "AmbientCapabilities") == ""
    # the agent does not drop privileges itself: it must not be given a user to switch to
    assert "User" not in SETTINGS["Service"]


def test_bpf_is_the_only_system_call_outside_system_service() -> None:
    # the syscall groups as this machine's systemd defines them
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed (package systemd)")
    listing = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True,
                             text=True, check=True).stdout
    groups: dict[str, list[str]] = {}
    current = None
    for line in listing.splitlines():
        word = line.strip()
        if not word or word.startswith("#"):
            continue
        if not line.startswith(" "):
            current = groups.setdefault(word, [])
        elif current is not None:
            current.append(word)

    def expand(name: str) -> set[str]:
        return set().union(*({w} if not w.startswith("@") else expand(w)
                             for w in groups.get(name, [])))

    allowed = expand("@system-service")
    assert "bpf" not in allowed and "openat" in allowed and "setpriority" in allowed
    # the ring-buffer reader waits in epoll; the agent sets its niceness
    assert {"epoll_wait", "mmap", "setpriority", "ioctl"} <= allowed


# ------------------------------------------------------------------ capabilities, live

def _setpriv(caps: list[str]) -> list[str]:
    bounding = ",".join(["-all", *(f"+{c.removeprefix('CAP_').lower()}" for c in caps)])
    return ["setpriv", "--no-new-privs", "--inh-caps", "-all", "--bounding-set", bounding, "--"]


def without(cap: str) -> list[str]:
    assert cap in CAPS
    return [c for c in CAPS if c != cap]


ROOT_REASON = None if os.geteuid() == 0 else f"needs root (uid {os.geteuid()})"
SETPRIV_REASON = None if shutil.which("setpriv") else "setpriv (util-linux) not installed"
live = pytest.mark.skipif(ROOT_REASON is not None or SETPRIV_REASON is not None,
                          reason=ROOT_REASON or SETPRIV_REASON or "")
EBPF_REASON = ebpf_unavailable_reason()


def run_agent(caps: list[str], state_dir: Path) -> tuple[str, str]:
    """`vigil run` with these capabilities for a few seconds; a sensitive read meanwhile."""
    proc = subprocess.Popen(
        [*_setpriv(caps), str(VIGIL), "run", "--duration", "8", "--stats-interval", "60",
         "--state-dir", str(state_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    for _ in range(3):
        subprocess.run(["cat", "/etc/shadow"], stdout=subprocess.DEVNULL, check=True)
        time.sleep(0.3)
    out, err = proc.communicate(timeout=60)
    return out, err


@live
@pytest.mark.bpf
@pytest.mark.skipif(EBPF_REASON is not None, reason=EBPF_REASON or "")
def test_the_eBPF_sensor_works_with_the_unit_capabilities_and_needs_bpf_and_perfmon(
        tmp_path: Path) -> None:
    out, err = run_agent(CAPS, tmp_path / "all")
    assert "eBPF sensor attached" in err, err
    assert "/etc/shadow" in out, out + err
    for cap in ("CAP_BPF", "CAP_PERFMON"):
        out, err = run_agent(without(cap), tmp_path / cap)
        assert "eBPF sensor unavailable" in err and "Operation not permitted" in err, cap


SEED = textwrap.dedent("""
    import os, sys
    from vigil.events.proctable import ProcessTable
    t = ProcessTable(); t.seed()
    p = t.get(int(sys.argv[1]))
    print(p.exepath if p else "missing", p.cwd if p else "missing")
""")


@live
def test_the_process_table_needs_sys_ptrace_to_read_running_processes() -> None:
    # a process that was running before the agent: its exe and cwd come from /proc; the
    # kernel hides them from a reader with fewer capabilities than the process unless it
    # has CAP_SYS_PTRACE (this pytest runs with every capability)
    sleeper = subprocess.Popen(["sleep", "30"], cwd="/tmp")
    try:
        def seen(caps: list[str]) -> str:
            return subprocess.run([*_setpriv(caps), sys.executable, "-c", SEED,
                                   str(sleeper.pid)], capture_output=True, text=True,
                                  check=True).stdout.strip()
        assert seen(CAPS) == f"{shutil.which('sleep')} /tmp"
        assert seen(without("CAP_SYS_PTRACE")) == "None None"
    finally:
        sleeper.kill()
        sleeper.wait()


@live
def test_log_files_of_another_owner_need_dac_read_search() -> None:
    # Ubuntu's rsyslog writes auth.log as syslog:adm 0640; an agent that is root but lacks
    # CAP_DAC_READ_SEARCH (and CAP_DAC_OVERRIDE, never granted) cannot read such a file
    with tempfile.TemporaryDirectory() as d:
        log = Path(d) / "auth.log"
        log.write_text("sshd[1]: Failed password for root from 203.0.113.9 port 1 ssh2\n")
        os.chown(log, 65534, 65534)
        log.chmod(0o600)
        code = "import sys; print(open(sys.argv[1]).read().split()[0])"

        def read(caps: list[str]) -> subprocess.CompletedProcess[str]:
            return subprocess.run([*_setpriv(caps), sys.executable, "-c", code, str(log)],
                                  capture_output=True, text=True)
        assert read(CAPS).stdout.strip() == "sshd[1]:"
        denied = read(without("CAP_DAC_READ_SEARCH"))
        assert denied.returncode != 0 and "Permission denied" in denied.stderr
