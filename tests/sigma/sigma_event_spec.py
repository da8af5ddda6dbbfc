"""Build `Event`s from the compact specs used in `fixtures/sigma_cases.yaml`.

A spec describes what happened in the words an analyst uses:

- `exec: "python3 -c ..."` (shlex-split; argv[0] gives proc.exe and the comm), with
  optional `exepath` (default: argv[0] if absolute, else /usr/bin/<argv0>);
- `write: /path` / `read: /path` (an openat of the process), `create: true` adds O_CREAT;
- `connect: "ip:port"` / `accept: "ip:port"` (the local end for accept), `family: ipv6`;
- `syscall: name` with `args: {...}` (raw arguments by Falco name) and `regs: [...]` (the
  argument registers as the kernel saw them, auditd's a0..a3; any event may carry them);
- `log: "raw line"` with `program:`, for log-derived events;
- process context: `parent: {exec:, exepath:}`, `user`, `uid`, `euid`, `loginuid`, `cwd`,
  `comm` (override the process name); and `res` (default 0).
The process of a non-exec event comes from `exec` too (default `bash`).
"""

from __future__ import annotations

import os
import shlex
from typing import Any

from vigil.events.flags import O_CREAT, O_WRONLY
from vigil.events.model import Event, FdInfo, Process

O_TRUNC = 0o1000


def build_process(spec: dict[str, Any]) -> Process:
    """The process described by `exec`/`exepath`/user fields of a spec."""
    argv = shlex.split(spec.get("exec", "bash"))
    argv0 = argv[0]
    exepath = spec.get("exepath") or (argv0 if argv0.startswith("/") else f"/usr/bin/{argv0}")
    parent = build_process(spec["parent"]) if "parent" in spec else None
    return Process(
        pid=spec.get("pid", 4242), ppid=4000, name=spec.get("comm", os.path.basename(argv0)[:15]),
        exe=argv0, exepath=exepath, args=argv[1:], cwd=spec.get("cwd", "/root"),
        user=spec.get("user", "root"), uid=spec.get("uid", 0), euid=spec.get("euid", 0),
        loginuid=spec.get("loginuid", 0), parent=parent)


def build_event(spec: dict[str, Any]) -> Event:
    """The event described by a spec (see the module docstring)."""
    ev = _build_event(spec)
    if "regs" in spec:
        ev.regs = tuple(spec["regs"])
    return ev


def _build_event(spec: dict[str, Any]) -> Event:
    proc = build_process(spec)
    res = spec.get("res", 0)
    if "write" in spec or "read" in spec:
        path = spec.get("write") or spec["read"]
        flags = (O_WRONLY | O_TRUNC) if "write" in spec else 0
        if spec.get("create", "write" in spec):
            flags |= O_CREAT
        return Event(type=spec.get("syscall", "openat"), res=3 if res == 0 else res, proc=proc,
                     args={"dirfd": -100, "name": path, "flags": flags, "mode": 0o644},
                     fd=FdInfo(num=3, type="file", name=path))
    if "connect" in spec or "accept" in spec:
        ip, _, port = (spec.get("connect") or spec["accept"]).rpartition(":")
        ip = ip.strip("[]")
        family = spec.get("family", "ipv6" if ":" in ip else "ipv4")
        if "connect" in spec:
            fd = FdInfo(num=3, type=family, l4proto="tcp", lip="10.0.0.2", lport=51000,
                        rip=ip, rport=int(port), role="client", connected=True)
            etype = "connect"
        else:
            client = spec.get("client", "198.51.100.7:40000")
            cip, _, cport = client.rpartition(":")
            fd = FdInfo(num=4, type=family, l4proto="tcp", lip=ip, lport=int(port), rip=cip,
                        rport=int(cport), role="server", connected=True)
            etype = "accept4"
        return Event(type=etype, res=res, proc=proc, fd=fd)
    if "log" in spec:
        proc.name = spec.get("program", proc.name)
        return Event(type=spec.get("syscall", "auth.log"), source="auth", proc=proc,
                     raw=spec["log"])
    if "syscall" in spec:
        return Event(type=spec["syscall"], res=res, proc=proc, args=dict(spec.get("args", {})))
    return Event(type="execve", res=res, proc=proc)
