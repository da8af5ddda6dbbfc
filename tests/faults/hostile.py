"""Hostile recordings and log lines for the fault tests: each line says what reading it
must give (an event, an event with its ancestry cut, or a located refusal)."""

from __future__ import annotations

import json
from dataclasses import dataclass

EVENT, CUT, BAD = "event", "cut", "bad"


@dataclass(frozen=True)
class Hostile:
    """One line of a hostile recording and what must come of it."""

    what: str
    line: bytes
    expect: str
    #: for a refused line: words its message must contain
    says: str = ""


def _ev(**fields) -> bytes:  # noqa: ANN003
    base = {"type": "execve", "ts": 1_795_000_000_000_000_000,
            "proc": {"pid": 4100, "name": "sh", "exepath": "/bin/sh", "uid": 1000}}
    base.update(fields)
    return json.dumps(base, ensure_ascii=False).encode()


def _deep_parents(depth: int, key: str = '"parent"') -> bytes:
    inner = b'{"pid":1,"name":"init"}'
    for i in range(depth):
        inner = b'{"pid":%d,"name":"sh",%s:%s}' % (i + 2, key.encode(), inner)
    return b'{"type":"execve","ts":1,"proc":' + inner + b"}"


def _nested_args(depth: int) -> bytes:
    return b'{"type":"execve","ts":1,"args":{"a":' + b"[" * depth + b"]" * depth + b"}}"


def _nested_objects(depth: int) -> bytes:
    inner = b"1"
    for _ in range(depth):
        inner = b'{"a":' + inner + b"}"
    return b'{"type":"execve","ts":1,"args":{"x":' + inner + b"}}"


def hostile_lines(huge: int = 17 * 1024 * 1024) -> list[Hostile]:
    """Every hostile line, in file order (each one line)."""
    esc = "\x1b]0;pwned\x07\x1b[2J\r\x1b[31m"
    return [
        Hostile("parent nested 1,000 deep", _deep_parents(1000), CUT),
        Hostile("parent nested 1,000 deep, key spelt with an escape",
                _deep_parents(1000, '"par\\u0065nt"'), CUT),
        Hostile("arrays nested 5,000 deep in args", _nested_args(5000), BAD, "nested deeper"),
        Hostile("objects nested 40 deep in args", _nested_objects(40), BAD, "nested deeper"),
        Hostile("ts of 10^30", _ev(ts=10**30), BAD, "$.ts"),
        Hostile("negative ts", _ev(ts=-5), BAD, "$.ts"),
        Hostile("ts as a float", _ev(ts=1.5e18), BAD, "$.ts"),
        Hostile("ts as a string", _ev(ts="yesterday"), BAD, "$.ts"),
        Hostile("pid of 10^30", _ev(proc={"pid": 10**30}), BAD, "$.proc.pid"),
        Hostile("res below -2^63", _ev(res=-(2**63) - 1), BAD, "$.res"),
        Hostile("cgroup id of 2^64", _ev(proc={"cgroup_id": 2**64}), BAD, "$.proc.cgroup_id"),
        Hostile("proc is a string", _ev(proc="root"), BAD, "$.proc"),
        Hostile("args is a list", _ev(args=[1, 2]), BAD, "$.args"),
        Hostile("fd.types with a text key", _ev(fd={"types": {"x": "file"}}), BAD, "$.fd.types"),
        Hostile("no type", b'{"ts":1}', BAD, "type"),
        Hostile("type is a number", b'{"type":5}', BAD, "$.type"),
        Hostile("an array", b"[1,2,3]", BAD, "Expected `object`"),
        Hostile("null", b"null", BAD, "Expected `object`"),
        Hostile("cut short", b'{"type":"execve","proc":{"pid":', BAD, "truncated"),
        Hostile("invalid UTF-8 in a string", b'{"type":"execve","raw":"\xff\xfe\xc3("}', BAD,
                "UTF-8"),
        Hostile(f"a line of {huge} bytes", b'{"type":"execve","raw":"' + b"A" * huge + b'"}',
                BAD, "longer than"),
        Hostile("a 1 MiB command line", _ev(proc={"pid": 1, "name": "sh",
                                                  "args": ["-c", "x" * (1 << 20)]}), EVENT),
        Hostile("escape codes everywhere", _ev(proc={"pid": 2, "name": esc, "exepath": esc,
                                                     "args": [esc]}, raw=esc,
                                               fd={"name": esc}), EVENT),
        Hostile("NUL characters", _ev(proc={"pid": 3, "name": "a\x00b", "args": ["\x00"]}),
                EVENT),
        Hostile("kill with a signal of 10^30",
                _ev(type="kill", args={"pid": 10**30, "sig": 10**30}), EVENT),
        Hostile("open with flags as text",
                _ev(type="openat", res=3, args={"flags": "O_RDONLY", "mode": [1]},
                    fd={"num": 3, "type": "file", "name": "/etc/shadow"}), EVENT),
        Hostile("connect with a port as text",
                _ev(type="connect", res=0, args={"addr": {"x": 1}, "port": "443"},
                    fd={"num": 3, "type": "ipv4", "rip": "not an ip", "rport": 4444}), EVENT),
        Hostile("auth line with wrong types",
                _ev(type="auth.ssh_failed", source="auth",
                    args={"src_ip": 5, "user": ["root"], "port": "x"}), EVENT),
        Hostile("dup2 with a text fd", _ev(type="dup2", res=1, args={"oldfd": "x", "newfd": None}),
                EVENT),
    ]


#: a real detection after the hostile lines: shows that reading went on
SENTINEL = json.dumps({
    "type": "openat", "ts": 1_795_000_100_000_000_000, "res": 3, "args": {"flags": 0},
    "proc": {"pid": 4242, "name": "cat", "exepath": "/usr/bin/cat",
             "args": ["/etc/shadow"], "uid": 0, "user": "root",
             "parent": {"pid": 4241, "name": "bash", "exepath": "/bin/bash"}},
    "fd": {"num": 3, "type": "file", "name": "/etc/shadow"}}).encode()
SENTINEL_RULE = "Credential file read by unexpected program"


def hostile_auth_lines(stamp: str, n: int) -> list[tuple[bytes, bool]]:
    """Round `n` of hostile sshd lines, each with whether it is an attempt the brute-force
    detector must count (a parseable `Failed password` line)."""
    def failed(user: bytes, ip: str = "198.51.100.7") -> bytes:
        return (stamp.encode() + b" web sshd[%d]: Failed password for invalid user " % (7000 + n)
                + user + b" from " + ip.encode() + b" port 40%03d ssh2" % n)
    esc = b"\x1b]0;owned\x07\x1b[2J\r\x1b[1;31mroot"
    return [
        (failed(esc), True),                                      # terminal escapes
        (failed(b"r\xffo\xfeot\xc3("), True),                      # invalid UTF-8
        (failed(b"nul\x00user"), True),                            # a NUL
        (failed(b"u" * 200), True),                                # a long user name
        (failed(b"x", ip="not-an-ip"), False),                     # no address
        (b"\xff\xfe\xfd" * 100, False),                            # binary garbage
        (stamp.encode() + b" web sshd[1]: " + b"A" * (1 << 20), False),  # 1 MiB line
        (b"", False),                                              # an empty line
        (stamp.encode() + b" web sshd[2]: Failed password for", False),  # cut short
    ]
