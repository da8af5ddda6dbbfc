"""The emulation suite's structure: headers, counts, coverage, scripts that parse, and
the safety rules every scenario must follow (static checks; the live run is
`make emulate`)."""

from __future__ import annotations

import py_compile
import re
import subprocess
from pathlib import Path

import pytest

from emulation_path import EMULATION

from emulate.scenario import TACTICS, Scenario, discover, scenario_files

#: the tactics the issue asks the attacks to cover
REQUIRED_TACTICS = {"credential-access", "persistence", "privilege-escalation",
                    "defense-evasion", "execution", "discovery", "collection", "exfiltration",
                    "lateral-movement", "command-and-control", "impact"}
#: behaviours the issue names, each needing at least one attack whose header mentions it
REQUIRED_BEHAVIOURS = {
    "shadow": r"/etc/shadow", "ssh keys": r"SSH private keys",
    "cloud credentials": r"~/\.aws/credentials", "sshd memory": r"/proc/PID/mem",
    "cron": r"/etc/cron\.d|crontab", "systemd unit": r"\.service", "timer": r"systemd timer",
    "shell rc": r"~/\.bashrc|/etc/profile\.d", "authorized_keys": r"authorized_keys",
    "sudoers": r"/etc/sudoers\.d", "ld.so.preload": r"/etc/ld\.so\.preload",
    "pam": r"PAM module", "udev": r"udev", "at job": r"at\(1\)",
    "new account": r"useradd -o -u 0|uid-0 account", "setuid": r"set-uid bit",
    "capabilities": r"cap_setuid", "sudo abuse": r"sudo find",
    "log clearing": r"empties existing", "history": r"history",
    "timestomp": r"touch -r", "masquerading": r"kernel-thread name",
    "deleted executable": r"deletes its file", "memfd": r"memfd_create",
    "LD_PRELOAD": r"LD_PRELOAD", "security tools": r"falco, auditd",
    "audit": r"auditctl -e 0", "reverse shell bash": r"bash -i >& /dev/tcp",
    "reverse shell python": r"python one-liner", "reverse shell perl": r"perl one-liner",
    "reverse shell socat": r"socat connects", "reverse shell nc": r"ncat 127\.0\.0\.1",
    "mkfifo": r"mkfifo", "webshell": r"webshell", "download and run": r"downloads an ELF",
    "curl | sh": r"curl -s http://127\.0\.0\.1:PORT/x\.sh \| sh",
    "base64 | sh": r"base64 -d \| sh", "port scan": r"ports 1-1\d{3}",
    "host scan": r"sweeps a /24", "credential search": r"search for secrets",
    "enumeration": r"LinPEAS-like burst", "archive and send": r"tar czf - .*\| nc",
    "dns tunnelling": r"DNS tunnelling", "ssh burst": r"wrong passwords",
    "distributed": r"seven source addresses", "success after failures": r"successful login",
    "miner": r"stratum", "mass deletion": r"shred -u", "encryption": r"openssl enc",
    "module load (file)": r"finit_module", "module load (insmod)": r"insmod",
    "module load (memory)": r"init_module system call", "bpf load": r"BPF_PROG_LOAD",
}
#: addresses scenarios may use: loopback, RFC 2544 benchmarking space on veth pairs and
#: in namespaces, link-local metadata inside a namespace, a namespace-only 10.53.0.1, and
#: TEST-NET documentation addresses that appear only as text
ALLOWED_IP = re.compile(r"^(127\.|198\.1[89]\.|169\.254\.169\.254$|10\.53\.0\.1$|203\.0\.113\.|"
                        r"0\.0\.0\.0$)")
IP_LITERAL = re.compile(r"(?<![\w.])(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?![\w.])")


@pytest.fixture(scope="module")
def emulation_root() -> Path:
    return EMULATION


@pytest.fixture(scope="module")
def scenarios(emulation_root: Path) -> list[Scenario]:
    return discover(emulation_root)


def test_every_script_has_a_valid_header(emulation_root: Path, scenarios: list[Scenario]) -> None:
    # discover() raised on the first bad header already; every file became a scenario
    assert len(scenarios) == len(scenario_files(emulation_root))
    for sc in scenarios:
        assert sc.what and sc.report and sc.techniques and sc.tactics


def test_counts_and_expectations(scenarios: list[Scenario]) -> None:
    attacks = [s for s in scenarios if s.is_attack]
    benign = [s for s in scenarios if not s.is_attack]
    assert len(attacks) >= 45
    assert len(benign) >= 30
    assert all(s.expect and all(k.strip() for k in s.expect) for s in attacks)
    assert all(s.expect == () for s in benign)


def test_attacks_cover_every_linux_tactic(scenarios: list[Scenario]) -> None:
    covered = {t for s in scenarios if s.is_attack for t in s.tactics}
    assert REQUIRED_TACTICS <= covered, REQUIRED_TACTICS - covered
    assert covered <= set(TACTICS)


@pytest.mark.parametrize("behaviour", sorted(REQUIRED_BEHAVIOURS))
def test_attacks_cover_the_issue_behaviours(scenarios: list[Scenario], behaviour: str) -> None:
    pattern = re.compile(REQUIRED_BEHAVIOURS[behaviour])
    assert any(pattern.search(s.what) for s in scenarios if s.is_attack), behaviour


def test_scripts_are_executable_and_parse(emulation_root: Path, scenarios: list[Scenario],
                                          tmp_path: Path) -> None:
    shell = [s.path for s in scenarios if s.path.suffix == ".sh"]
    shell += sorted((emulation_root / "lib").glob("*.sh"))
    python = [s.path for s in scenarios if s.path.suffix == ".py"]
    python += sorted((emulation_root / "lib").glob("*.py"))
    python += sorted((emulation_root / "emulate").glob("*.py"))
    for sc in scenarios:
        assert sc.path.stat().st_mode & 0o111, f"{sc.path} is not executable"
        first = sc.path.read_text().splitlines()[0]
        assert first in ("#!/bin/bash", "#!/usr/bin/python3"), f"{sc.path}: shebang {first}"
    for path in shell:
        res = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert res.returncode == 0, f"{path}: {res.stderr}"
    for path in python:
        py_compile.compile(str(path), cfile=str(tmp_path / "x.pyc"), doraise=True)


def test_bash_scenarios_use_the_cleanup_library(scenarios: list[Scenario]) -> None:
    for sc in scenarios:
        if sc.path.suffix == ".sh":
            text = sc.path.read_text()
            assert re.search(r'^\. "\$\{EMUL_LIB.*/common\.sh"$', text, re.M), sc.path
            # a registration inside $(...) would be lost with the subshell
            assert not re.search(r"\$\((emul_tmpdir|emul_backup|emul_bg|emul_netns)", text), \
                sc.path


def test_scenarios_address_only_local_or_private_test_networks(emulation_root: Path) -> None:
    files = [*emulation_root.glob("attacks/*"), *emulation_root.glob("benign/*"),
             *emulation_root.glob("lib/*")]
    for path in files:
        if path.suffix not in (".sh", ".py", ".c"):
            continue
        for ip in IP_LITERAL.findall(path.read_text()):
            if re.match(r"^\d+\.\d+\.\d+\.\d+$", ip) and not ALLOWED_IP.match(ip):
                # version strings such as 6.21.0.1 are not addresses; none are expected
                pytest.fail(f"{path}: address {ip} is neither loopback nor a test network")


def test_scenarios_never_kill_by_name_outside_their_own_children(emulation_root: Path) -> None:
    for path in [*emulation_root.glob("attacks/*"), *emulation_root.glob("benign/*")]:
        text = path.read_text()
        assert "killall" not in text, path
        for line in text.splitlines():
            if re.search(r"\bpkill\b", line) and not line.lstrip().startswith("#"):
                assert " -P " in line, f"{path}: pkill without -P: {line.strip()}"
            assert "systemctl stop" not in line and "systemctl start" not in line, path


def test_module_scenarios_load_nothing_the_kernel_would_accept(emulation_root: Path) -> None:
    # the module files are random bytes or a plain object file: never a real module
    for path in emulation_root.glob("attacks/kernel-*module*"):
        text = path.read_text()
        assert "/dev/urandom" in text or "gcc -c" in text, path
    insmod = (emulation_root / "attacks" / "kernel-insmod.sh").read_text()
    assert "gcc -c" in insmod and ".ko" in insmod
