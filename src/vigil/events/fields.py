"""The field registry: every field a rule can name, with its type and a fast extractor.

Names are Falco's (`proc.name`, `fd.name`, `evt.type`, ...). A field has:
- a `FieldType`, which decides how a rule's literal is converted at compile time;
- `extract(event, arg)`, returning the value or `None` when the event has none;
- optionally `expr`, a Python expression over `e` (and `{arg}`) that the rule compiler
  inlines into generated code instead of calling `extract` (the hot fields);
- `arg`: whether the field takes an argument (`proc.aname[2]`, `evt.arg.flags`).

Falco, Sigma and the built-in detectors all read events through this registry.
"""

from __future__ import annotations

import enum
import ipaddress
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from vigil.events import flags as fl
from vigil.events.model import Event, FdInfo, Process

_NOFD = FdInfo()


class FieldType(enum.Enum):
    """How a field's values compare."""

    STR = "string"
    INT = "int"
    BOOL = "bool"
    IPADDR = "ipaddr"
    IPNET = "ipnet"
    PORT = "port"
    #: raw bytes (evt.buffer): compared with `bcontains`/`bstartswith` and hex literals
    BYTES = "bytes"
    #: several values (`proc.aname` without an index, `fd.types`): a comparison holds
    #: when it holds for any of them; `in`/`intersects` compare as sets
    LIST = "list"


class ArgMode(enum.Enum):
    """Whether a field takes an argument."""

    NONE = "none"
    OPTIONAL = "optional"
    REQUIRED = "required"


Extractor = Callable[[Event, "str | None"], Any]


@dataclass(frozen=True)
class FieldDef:
    """One field of the registry."""

    name: str
    type: FieldType
    extract: Extractor
    desc: str
    expr: str | None = None
    arg: ArgMode = ArgMode.NONE
    #: the type when the field is used without an argument, if it differs (proc.aname)
    noarg_type: FieldType | None = None
    #: the type as a function of the argument, for fields whose type depends on it
    #: (`evt.rawarg.mode` is a number, `evt.rawarg.name` a string)
    arg_type: Callable[[str], FieldType] | None = None
    #: an inline expression for a given argument (`proc.aname[2]`), or None to call
    expr_fn: Callable[[str], str | None] | None = None

    def type_for(self, arg: str | None) -> FieldType:
        """The field's type for this argument (list-valued without an index)."""
        if arg is None and self.noarg_type is not None:
            return self.noarg_type
        if arg is not None and self.arg_type is not None:
            return self.arg_type(arg)
        return self.type


class UnknownFieldError(KeyError):
    """A rule named a field that the registry does not have."""


class FieldRegistry:
    """Field name -> `FieldDef`; built once, read-only afterwards."""

    def __init__(self, fields: Iterable[FieldDef] = ()) -> None:
        self._fields: dict[str, FieldDef] = {}
        for f in fields:
            self.add(f)

    def add(self, field: FieldDef) -> None:
        """Register a field (at construction time; the registry is not changed at run time)."""
        self._fields[field.name] = field

    def __contains__(self, name: str) -> bool:
        return name in self._fields

    def __iter__(self):
        return iter(self._fields.values())

    def get(self, name: str) -> FieldDef | None:
        """The field of that exact name, or None."""
        return self._fields.get(name)

    def resolve(self, name: str, arg: str | None = None) -> tuple[FieldDef, str | None]:
        """Find a field named as a rule names it.

        Accepts `proc.aname[2]` (arg given separately by the parser as `arg`) and the dotted
        argument form `evt.arg.flags` / `evt.rawarg.res`, which Falco also accepts.
        """
        f = self._fields.get(name)
        if f is not None:
            if arg is not None and f.arg is ArgMode.NONE:
                raise UnknownFieldError(f"field {name} does not take an argument")
            if arg is None and f.arg is ArgMode.REQUIRED:
                raise UnknownFieldError(f"field {name} requires an argument")
            return f, arg
        # dotted argument form: longest registered prefix that takes an argument
        parts = name.split(".")
        for i in range(len(parts) - 1, 0, -1):
            prefix = ".".join(parts[:i])
            f = self._fields.get(prefix)
            if f is not None and f.arg is not ArgMode.NONE and arg is None:
                return f, ".".join(parts[i:])
        raise UnknownFieldError(f"unknown field {name}")

    def extractor(self, name: str, arg: str | None = None) -> Callable[[Event], Any]:
        """A one-argument callable returning the field's value on an event."""
        f, a = self.resolve(name, arg)
        ex = f.extract
        return lambda e: ex(e, a)


# ---------------------------------------------------------------------------------------
# extractors


def _ancestor(p: Process | None, n: int) -> Process | None:
    while n > 0 and p is not None:
        p = p.parent
        n -= 1
    return p


def _ancestors(p: Process) -> list[Process]:
    out = []
    a = p.parent
    while a is not None and len(out) < 64:
        out.append(a)
        a = a.parent
    return out


def _anc_field(attr: Callable[[Process], Any]) -> Extractor:
    def extract(e: Event, arg: str | None) -> Any:
        if arg is None:
            vals = [attr(a) for a in _ancestors(e.proc)]
            return [v for v in vals if v is not None] or None
        a = _ancestor(e.proc, int(arg))
        return None if a is None else attr(a)

    return extract


def _proc_args(p: Process) -> str | None:
    if p.name is None:
        return None
    return " ".join(p.args)


def _cmdline(p: Process | None) -> str | None:
    return None if p is None else p.cmdline()


def _parent_attr(attr: str) -> Extractor:
    def extract(e: Event, _a: str | None) -> Any:
        p = e.proc.parent
        return None if p is None else getattr(p, attr)

    return extract


def _sname(e: Event, _a: str | None) -> str | None:
    p = e.proc
    sid = p.sid
    if sid is None:
        return None
    while p is not None:
        if p.pid == sid:
            return p.name
        p = p.parent
    return None


def _vpgid_proc(e: Event) -> Process | None:
    p = e.proc
    pgid = p.pgid
    if pgid is None:
        return None
    while p is not None:
        if p.pid == pgid:
            return p
        p = p.parent
    return None


def _duration(e: Event, _a: str | None) -> int | None:
    st = e.proc.start_ts
    if st is None:
        return None
    return max(0, (e.ts or time.time_ns()) - st)


def _pduration(e: Event, _a: str | None) -> int | None:
    p = e.proc.parent
    if p is None or p.start_ts is None:
        return None
    return max(0, (e.ts or time.time_ns()) - p.start_ts)


def _res(e: Event, _a: str | None) -> str | None:
    return None if e.res is None else fl.format_res(e.res)


def _evt_arg(e: Event, arg: str | None) -> Any:
    if arg is None:
        return None
    if arg.isdigit():
        keys = list(e.args)
        i = int(arg)
        if i >= len(keys):
            return None
        arg = keys[i]
    if arg == "res" and "res" not in e.args:
        return _res(e, None)
    v = e.args.get(arg)
    if v is None:
        if arg == "fd" and e.fd is not None:
            return e.fd.num
        return None
    return fl.format_arg(e.type, arg, v)


def _evt_rawarg(e: Event, arg: str | None) -> Any:
    if arg == "res" and "res" not in e.args:
        return e.res
    return e.args.get(arg) if arg is not None else None


def _evt_args(e: Event, _a: str | None) -> str:
    parts = [f"{k}={fl.format_arg(e.type, k, v)}" for k, v in e.args.items()]
    if e.res is not None:
        parts.insert(0, f"res={e.res}")
    return " ".join(parts)


#: syscall arguments that sensors record as raw integers
_NUMERIC_ARGS = frozenset({"flags", "mode", "request", "domain", "type", "protocol", "uid",
                           "gid", "euid", "egid", "ruid", "suid", "pid", "sig", "fd", "res",
                           "newfd", "oldfd", "backlog", "dirfd", "size", "len", "length"})
_IO_TYPES = frozenset({"read", "write", "readv", "writev", "pread", "pwrite", "preadv",
                       "pwritev", "recvfrom", "sendto", "recvmsg", "sendmsg"})
_OPEN_TYPES = frozenset({"open", "openat", "openat2", "creat", "open_by_handle_at"})


def _is_open_read(e: Event, _a: str | None) -> bool | None:
    if e.type not in _OPEN_TYPES:
        return False
    f = e.args.get("flags")
    return None if f is None else fl.is_open_read(f)


def _is_open_write(e: Event, _a: str | None) -> bool | None:
    if e.type not in _OPEN_TYPES:
        return False
    f = e.args.get("flags")
    if e.type == "creat":
        return True
    return None if f is None else fl.is_open_write(f)


def _is_open_exec(e: Event, _a: str | None) -> bool | None:
    if e.type not in _OPEN_TYPES:
        return False
    f = e.args.get("flags") or 0
    mode = e.args.get("mode") or 0
    return bool(f & fl.O_CREAT and mode & 0o111)


_TYPECHAR = {
    "file": "f", "directory": "d", "ipv4": "4", "ipv6": "6", "unix": "u", "pipe": "p",
    "event": "e", "signalfd": "s", "eventpoll": "l", "inotify": "i", "timerfd": "t",
    "netlink": "n", "bpf": "b", "userfaultfd": "u", "io_uring": "r", "memfd": "m",
}


def _fd(e: Event) -> FdInfo:
    return e.fd or _NOFD


def _typechar(e: Event, _a: str | None) -> str | None:
    t = _fd(e).type
    return None if t is None else _TYPECHAR.get(t, "o")


def _fd_directory(e: Event, _a: str | None) -> str | None:
    f = e.fd
    if f is None:
        return None
    if f.type == "directory":
        return f.name
    name = f.name
    if f.type != "file" or not name or "/" not in name:
        return None
    return name.rpartition("/")[0] or "/"


def _fd_filename(e: Event, _a: str | None) -> str | None:
    f = _fd(e)
    if f.type != "file" or f.name is None:
        return None
    return os.path.basename(f.name) or None


def _server_ip(e: Event, _a: str | None) -> str | None:
    f = _fd(e)
    return f.lip if f.role == "server" else f.rip


def _client_ip(e: Event, _a: str | None) -> str | None:
    f = _fd(e)
    return f.rip if f.role == "server" else f.lip


def _server_port(e: Event, _a: str | None) -> int | None:
    f = _fd(e)
    return f.lport if f.role == "server" else f.rport


def _client_port(e: Event, _a: str | None) -> int | None:
    f = _fd(e)
    return f.rport if f.role == "server" else f.lport


def _any_ip(e: Event, _a: str | None) -> list[str] | None:
    f = _fd(e)
    ips = [ip for ip in (f.lip, f.rip) if ip is not None]
    return ips or None


def _any_port(e: Event, _a: str | None) -> list[int] | None:
    f = _fd(e)
    ports = [p for p in (f.lport, f.rport) if p is not None]
    return ports or None


def _sockfamily(e: Event, _a: str | None) -> str | None:
    t = _fd(e).type
    return {"ipv4": "ip", "ipv6": "ip", "unix": "unix"}.get(t or "")


def _stdio_types(p: Process) -> dict[int, str] | None:
    if not p.stdio:
        return None
    out = {f.num: f.type for f in p.stdio if f.type is not None and f.num is not None}
    return out or None


def _fd_types(e: Event, arg: str | None) -> Any:
    f = _fd(e)
    # a recording may carry the types on the fd; else the stdio the kernel reported
    types = f.types if f.types is not None else _stdio_types(e.proc)
    if types is None:
        return None
    if arg is None or arg == "":
        return sorted(set(types.values())) or None
    if not arg.lstrip("-").isdigit():
        return None
    return types.get(int(arg))


def _stdio(n: int) -> Callable[[Event], FdInfo | None]:
    def get(e: Event) -> FdInfo | None:
        st = e.proc.stdio
        return st[n] if st and len(st) > n else None
    return get


def _stdio_attr(n: int, attr: str) -> Extractor:
    get = _stdio(n)

    def extract(e: Event, _a: str | None) -> Any:
        f = get(e)
        return None if f is None else getattr(f, attr)
    return extract


def _stdio_peer(n: int, what: str) -> Extractor:
    get = _stdio(n)

    def extract(e: Event, _a: str | None) -> Any:
        f = get(e)
        peer = None if f is None else f.peer
        if peer is None:
            return None
        return peer.cmdline() if what == "cmdline" else getattr(peer, what)
    return extract


def _listen_ports(e: Event, _a: str | None) -> list[int] | None:
    ports = sorted({lis.port for lis in e.proc.listening if lis.port})
    return ports or None


def _dns(attr: str) -> Extractor:
    def extract(e: Event, _a: str | None) -> Any:
        q = e.dns
        return None if q is None else getattr(q, attr)
    return extract


def _dns_qtype(e: Event, _a: str | None) -> str | None:
    q = e.dns
    if q is None or q.qtype is None:
        return None
    return fl.dns_qtype_name(q.qtype)


def _fd_is_server(e: Event, _a: str | None) -> bool | None:
    r = _fd(e).role
    return None if r is None else r == "server"


def _container_id(e: Event, _a: str | None) -> str:
    return e.proc.container_id or "host"


def _container_name(e: Event, _a: str | None) -> str:
    p = e.proc
    if p.container_name:
        return p.container_name
    return "host" if (p.container_id or "host") == "host" else None  # type: ignore[return-value]


def _caps(attr: str) -> Extractor:
    def extract(e: Event, _a: str | None) -> str | None:
        v = getattr(e.proc, attr)
        return None if v is None else fl.format_caps(v)

    return extract


def _arg_of(key: str) -> Extractor:
    def extract(e: Event, _a: str | None) -> Any:
        return e.args.get(key)

    return extract


def _none(_e: Event, _a: str | None) -> None:
    return None


def _ip_type(value: str) -> Any:
    return ipaddress.ip_address(value)


# ---------------------------------------------------------------------------------------
# the registry

S, I, B, IP, NET, PORT, L = (FieldType.STR, FieldType.INT, FieldType.BOOL, FieldType.IPADDR,
                             FieldType.IPNET, FieldType.PORT, FieldType.LIST)
OPT, REQ = ArgMode.OPTIONAL, ArgMode.REQUIRED


def _attr(path: str, doc: str, typ: FieldType = S, name: str = "") -> FieldDef:
    """A field that is a plain attribute of the event, its process or its fd."""
    obj, _, attr = path.partition(".")
    if obj == "e":
        expr = f"e.{attr}"
        ex: Extractor = lambda e, _a, _n=attr: getattr(e, _n)
    elif obj == "proc":
        expr = f"e.proc.{attr}"
        ex = lambda e, _a, _n=attr: getattr(e.proc, _n)
    else:
        expr = f"(e.fd or _NOFD).{attr}"
        ex = lambda e, _a, _n=attr: getattr(e.fd or _NOFD, _n)
    return FieldDef(name, typ, ex, doc, expr=expr)


def _def(name: str, typ: FieldType, ex: Extractor, doc: str, **kw: Any) -> FieldDef:
    return FieldDef(name, typ, ex, doc, **kw)


def _named(fd: FieldDef, name: str) -> FieldDef:
    return FieldDef(name, fd.type, fd.extract, fd.desc, fd.expr, fd.arg, fd.noarg_type)


def _anc_expr(attr: str) -> Callable[[str], str | None]:
    """Inline code for `proc.a<attr>[N]`: walk N parents with None checks."""
    def build(arg: str) -> str | None:
        if not arg.isdigit() or int(arg) > 8:
            return None
        expr = "e.proc"
        for _ in range(int(arg)):
            expr = f"(_anc.parent if (_anc := {expr}) is not None else None)"
        return f"(_anc.{attr} if (_anc := {expr}) is not None else None)"
    return build


def build_default_registry() -> FieldRegistry:
    """The registry of every field Vigil knows (Falco names plus Vigil's `auth.*`)."""
    r = FieldRegistry()
    add = r.add
    # evt.*
    add(_named(_attr("e.type", "event type (Falco name: openat, execve, connect, ...)"), "evt.type"))
    add(_named(_attr("e.dir", "direction: < for exit events (Vigil reports exits)"), "evt.dir"))
    add(_named(_attr("e.num", "event number in the capture", I), "evt.num"))
    add(_named(_attr("e.source", "event source: syscall, auth, ..."), "evt.source"))
    add(_named(_attr("e.ts", "event timestamp, ns since the epoch", I), "evt.rawtime"))
    add(_def("evt.time", I, lambda e, a: e.ts, "event timestamp, ns since the epoch", expr="e.ts"))
    add(_def("evt.hostname", S, lambda e, a: e.hostname, "host name", expr="e.hostname"))
    add(_def("evt.res", S, _res, "SUCCESS or the errno name (ENOENT, EACCES, ...)",
             expr="(None if (_r := e.res) is None else 'SUCCESS' if _r >= 0 else _errno(_r))"))
    add(_def("evt.rawres", I, lambda e, a: e.res, "raw return value (negative errno on failure)",
             expr="e.res"))
    add(_def("evt.failed", B, lambda e, a: None if e.res is None else e.res < 0,
             "true when the syscall failed"))
    add(_def("evt.arg", S, _evt_arg, "argument by name or index, rendered as Falco does",
             arg=REQ))
    add(_def("evt.rawarg", S, _evt_rawarg, "argument by name, raw value (numbers for "
             "flags, mode, request, domain, uid, gid, pid, sig, fd, res)", arg=REQ,
             arg_type=lambda a: I if a in _NUMERIC_ARGS else S))
    add(_def("evt.args", S, _evt_args, "all arguments as one string"))
    add(_def("evt.is_open_read", B, _is_open_read, "open event with read access",
             expr="((None if (_fl := e.args.get('flags')) is None else _fl & 3 != 1) "
                  "if e.type in _OPEN_TYPES else False)"))
    add(_def("evt.is_open_write", B, _is_open_write, "open event with write access",
             expr="((None if (_fl := e.args.get('flags')) is None else _fl & 3 != 0) "
                  "if e.type in _OPEN_TYPES and e.type != 'creat' else e.type == 'creat')"))
    add(_def("evt.is_open_exec", B, _is_open_exec, "open event creating an executable file"))
    add(_def("evt.buffer", FieldType.BYTES, _arg_of("data"),
             "I/O buffer, where the sensor captures it"))
    add(_def("evt.is_io", B, lambda e, a: e.type in _IO_TYPES, "read/write family event"))
    add(_def("evt.cpu", I, _none, "CPU number (not collected)"))
    add(_def("evt.count", I, lambda e, a: 1, "1 for every event (for counting)"))
    add(_def("evt.plugininfo", S, _none, "plugin event summary (no plugins in Vigil)"))
    # proc.*
    add(_named(_attr("proc.name", "process name (comm)"), "proc.name"))
    add(_named(_attr("proc.exe", "argv[0]"), "proc.exe"))
    add(_named(_attr("proc.exepath", "full path of the executable"), "proc.exepath"))
    add(_def("proc.args", S, lambda e, a: _proc_args(e.proc), "arguments joined by spaces",
             expr="(' '.join(_pa.args) if (_pa := e.proc).name is not None else None)"))
    add(_def("proc.cmdline", S, lambda e, a: e.proc.cmdline(), "name and arguments",
             expr="e.proc.cmdline()"))
    add(_def("proc.cmdlenargs", I, lambda e, a: len(e.proc.args), "number of arguments"))
    add(_def("proc.args_truncated", B, lambda e, a: e.proc.args_truncated,
             "true when argv was cut by the sensor"))
    add(_named(_attr("proc.pid", "process id", I), "proc.pid"))
    add(_named(_attr("proc.vpid", "process id in its pid namespace", I), "proc.vpid"))
    add(_named(_attr("proc.ppid", "parent process id", I), "proc.ppid"))
    add(_named(_attr("proc.sid", "session id", I), "proc.sid"))
    add(_named(_attr("proc.pgid", "process group id", I), "proc.vpgid"))
    add(_named(_attr("proc.cwd", "current working directory"), "proc.cwd"))
    add(_named(_attr("proc.tty", "controlling terminal (0 for none)", I), "proc.tty"))
    add(_def("proc.pname", S, _parent_attr("name"), "parent name",
             expr="(_par.name if (_par := e.proc.parent) is not None else None)"))
    add(_def("proc.pexe", S, _parent_attr("exe"), "parent argv[0]"))
    add(_def("proc.pexepath", S, _parent_attr("exepath"), "parent executable path"))
    add(_def("proc.pcmdline", S, lambda e, a: _cmdline(e.proc.parent), "parent command line"))
    add(_def("proc.sname", S, _sname, "name of the session leader"))
    add(_def("proc.vpgid.name", S, lambda e, a: getattr(_vpgid_proc(e), "name", None),
             "name of the process group leader"))
    add(_def("proc.vpgid.exe", S, lambda e, a: getattr(_vpgid_proc(e), "exe", None),
             "argv[0] of the process group leader"))
    add(_def("proc.is_vpgid_leader", B,
             lambda e, a: None if e.proc.pgid is None else e.proc.pgid == e.proc.pid,
             "the process leads its process group"))
    add(_def("proc.is_sid_leader", B,
             lambda e, a: None if e.proc.sid is None else e.proc.sid == e.proc.pid,
             "the process leads its session"))
    add(_def("proc.duration", I, _duration, "ns since the process started"))
    add(_def("proc.ppid.duration", I, _pduration, "ns since the parent started"))
    add(_def("proc.aname", S, _anc_field(lambda p: p.name), "ancestor name; [0] is the "
             "process, [1] the parent ...; without index: any ancestor", arg=OPT, noarg_type=L,
             expr_fn=_anc_expr("name")))
    add(_def("proc.apid", I, _anc_field(lambda p: p.pid), "ancestor pid", arg=OPT, noarg_type=L))
    add(_def("proc.aexe", S, _anc_field(lambda p: p.exe), "ancestor argv[0]", arg=OPT,
             noarg_type=L))
    add(_def("proc.aexepath", S, _anc_field(lambda p: p.exepath), "ancestor exe path",
             arg=OPT, noarg_type=L))
    add(_def("proc.acmdline", S, _anc_field(lambda p: p.cmdline()), "ancestor command line",
             arg=OPT, noarg_type=L))
    add(_def("proc.is_exe_from_memfd", B, lambda e, a: e.proc.exe_from_memfd,
             "executable is a memfd (fileless execution)", expr="e.proc.exe_from_memfd"))
    add(_def("proc.is_exe_upper_layer", B, lambda e, a: e.proc.exe_upper_layer,
             "executable is in an overlayfs upper layer"))
    add(_def("proc.env", S, lambda e, a: (" ".join(e.proc.env) if a is None else next(
        (kv.split("=", 1)[1] for kv in e.proc.env if kv.split("=", 1)[0] == a), None)),
             "environment (or one variable with an argument)", arg=OPT))
    for f in ("mtime", "ctime", "ctime_duration_proc_start"):
        add(_def(f"proc.exe_ino.{f}", I, _none, f"executable inode {f} (not collected)"))
    add(_def("proc.exe_ino", I, lambda e, a: e.proc.exe_ino, "executable inode"))
    # thread.*
    add(_named(_attr("proc.tid", "thread id", I), "thread.tid"))
    add(_def("thread.cpu", I, _none, "CPU time of the thread (not collected)"))
    add(_def("proc.pid.ts", I, lambda e, a: e.proc.start_ts, "process start time, ns"))
    add(_def("thread.cap_effective", S, _caps("cap_effective"), "effective capabilities"))
    add(_def("thread.cap_permitted", S, _caps("cap_permitted"), "permitted capabilities"))
    add(_def("thread.cap_inheritable", S, _caps("cap_inheritable"), "inheritable capabilities"))
    # user.* / group.*
    add(_named(_attr("proc.uid", "user id", I), "user.uid"))
    add(_named(_attr("proc.user", "user name"), "user.name"))
    add(_named(_attr("proc.loginuid", "audit login uid (-1 or 4294967295 when unset)", I),
               "user.loginuid"))
    add(_named(_attr("proc.loginname", "name of the login user"), "user.loginname"))
    add(_named(_attr("proc.gid", "group id", I), "group.gid"))
    add(_named(_attr("proc.group", "group name"), "group.name"))
    add(_named(_attr("proc.euid", "effective user id", I), "user.euid"))
    # fd.*
    add(_named(_attr("fd.num", "file descriptor number (-1 on a failed open)", I), "fd.num"))
    add(_named(_attr("fd.type", "fd type: file, directory, ipv4, ipv6, unix, pipe, ..."),
               "fd.type"))
    add(_def("fd.typechar", S, _typechar, "fd type as one character (f, d, 4, 6, u, p ...)",
             expr="_TYPECHAR_OF.get((e.fd or _NOFD).type, 'o')"))
    add(_named(_attr("fd.name", "file path, or socket tuple cip:cport->sip:sport"), "fd.name"))
    add(_def("fd.nameraw", S, lambda e, a: _fd(e).nameraw or _fd(e).name,
             "the path as passed to the syscall"))
    add(_def("fd.directory", S, _fd_directory, "directory of a file fd"))
    add(_def("fd.filename", S, _fd_filename, "base name of a file fd"))
    add(_named(_attr("fd.l4proto", "tcp, udp, icmp or raw"), "fd.l4proto"))
    add(_def("fd.sip", IP, _server_ip, "server IP"))
    add(_def("fd.cip", IP, _client_ip, "client IP"))
    add(_def("fd.lip", IP, lambda e, a: _fd(e).lip, "local IP"))
    add(_def("fd.rip", IP, lambda e, a: _fd(e).rip, "remote IP"))
    add(_def("fd.ip", IP, _any_ip, "either endpoint's IP", noarg_type=L))
    add(_def("fd.sport", PORT, _server_port, "server port"))
    add(_def("fd.cport", PORT, _client_port, "client port"))
    add(_def("fd.lport", PORT, lambda e, a: _fd(e).lport, "local port"))
    add(_def("fd.rport", PORT, lambda e, a: _fd(e).rport, "remote port"))
    add(_def("fd.port", PORT, _any_port, "either endpoint's port", noarg_type=L))
    add(_def("fd.net", NET, _any_ip, "either endpoint's network (compare with a CIDR)",
             noarg_type=L))
    add(_def("fd.snet", NET, _server_ip, "server network (compare with a CIDR)"))
    add(_def("fd.cnet", NET, _client_ip, "client network (compare with a CIDR)"))
    add(_def("fd.lnet", NET, lambda e, a: _fd(e).lip, "local network (compare with a CIDR)"))
    add(_def("fd.rnet", NET, lambda e, a: _fd(e).rip, "remote network (compare with a CIDR)"))
    for end in ("sip", "cip", "rip", "lip"):
        add(_def(f"fd.{end}.name", S, _none, f"domain name of fd.{end} (not resolved)"))
    add(_def("fd.connected", B, lambda e, a: _fd(e).connected, "socket is connected"))
    add(_def("fd.name_changed", B, lambda e, a: _fd(e).name_changed,
             "fd name changed by this event"))
    add(_def("fd.sockfamily", S, _sockfamily, "ip or unix"))
    add(_def("fd.is_server", B, _fd_is_server, "this end is the server"))
    add(_def("fd.types", S, _fd_types, "types of fds 0-2 as the kernel reported them "
             "(proc.stdio); [N] for fd N", arg=OPT, noarg_type=L))
    add(_def("fd.dev", I, lambda e, a: _fd(e).dev, "device of the file (as st_dev); for a "
             "character or block device, the device itself"))
    add(_def("fd.ino", I, lambda e, a: _fd(e).ino, "inode (a pipe's inode names the pipe)"))
    add(_def("fd.size_before", I, _arg_of("size_before"), "size of the file before this "
             "open with O_TRUNC, truncate or ftruncate emptied or shortened it (none when "
             "the open created the file or the kernel did not report it)"))
    add(_def("fd.pipe_end", S, lambda e, a: _fd(e).end, "r or w: which end of a pipe"))
    # the standard streams of the process, as the kernel reported them at exec
    for n, stream in enumerate(("stdin", "stdout", "stderr")):
        for attr, typ, doc in (("type", S, "fd type (file, pipe, ipv4, unix ...)"),
                               ("name", S, "name (path, pipe:[inode], socket tuple)"),
                               ("ino", I, "inode")):
            add(_def(f"proc.{stream}.{attr}", typ, _stdio_attr(n, attr),
                     f"{stream} of the process: {doc}"))
    for n, stream, peer, doc in ((0, "stdin", "writer", "writes into the pipe on stdin"),
                                 (1, "stdout", "reader", "reads the pipe on stdout")):
        add(_def(f"proc.{stream}.{peer}", S, _stdio_peer(n, "name"),
                 f"name of the process that {doc} (curl in `curl ... | sh`)"))
        add(_def(f"proc.{stream}.{peer}_pid", I, _stdio_peer(n, "pid"),
                 f"pid of the process that {doc}"))
        add(_def(f"proc.{stream}.{peer}_exepath", S, _stdio_peer(n, "exepath"),
                 f"executable of the process that {doc}"))
        add(_def(f"proc.{stream}.{peer}_cmdline", S, _stdio_peer(n, "cmdline"),
                 f"command line of the process that {doc}"))
    add(_def("proc.is_server", B, lambda e, a: bool(e.proc.listening),
             "the process listens on a socket (TCP, or UDP bound to a port), its own or "
             "inherited from its parent"))
    add(_def("proc.listen_ports", PORT, _listen_ports, "ports the process listens on",
             noarg_type=L))
    # dns.* (the question of a DNS query the event sent)
    add(_def("dns.qname", S, _dns("qname"), "name asked for in a DNS query"))
    add(_def("dns.qtype", S, _dns_qtype, "type asked for (A, AAAA, TXT ...; TYPE<n> when "
             "unnamed)"))
    add(_def("dns.rawqtype", I, _dns("qtype"), "type asked for, as a number"))
    add(_def("dns.server", IP, _dns("server"), "address of the resolver the query went to"))
    add(_def("dns.server_port", PORT, _dns("port"), "port the query went to"))
    # fs.path.* (Falco's path fields for file-system syscalls)
    add(_def("fs.path.name", S, lambda e, a: e.args.get("path") or e.args.get("name")
             or e.args.get("newpath") or e.args.get("target"), "path acted on"))
    add(_def("fs.path.source", S, lambda e, a: e.args.get("oldpath") or e.args.get("target"),
             "source path of rename/link"))
    add(_def("fs.path.target", S, lambda e, a: e.args.get("newpath") or e.args.get("linkpath"),
             "target path of rename/link"))
    # container.* / k8s.*
    add(_def("container.id", S, _container_id, "container id, `host` on the host",
             expr="(e.proc.container_id or 'host')"))
    add(_def("container.name", S, _container_name, "container name, `host` on the host"))
    add(_def("container.image", S, lambda e, a: e.proc.container_image, "container image"))
    add(_def("container.image.repository", S, lambda e, a: (e.proc.container_image or "")
             .rsplit(":", 1)[0] or None, "image repository"))
    add(_def("container.image.tag", S, lambda e, a: (e.proc.container_image or ":").rsplit(
        ":", 1)[-1] or None, "image tag"))
    add(_def("container.privileged", B, lambda e, a: e.proc.container_privileged,
             "privileged container"))
    add(_def("container.start_ts", I, _none, "container start (not collected)"))
    add(_def("container.mounts", S, _none, "container mounts (not collected)"))
    add(_def("container.mount.dest", S, _none, "container mount by destination (not collected)",
             arg=OPT))
    add(_def("container.info", S, _none, "container summary (not collected)"))
    add(_def("k8s.ns.name", S, lambda e, a: e.proc.k8s_ns, "Kubernetes namespace"))
    add(_def("k8s.pod.name", S, lambda e, a: e.proc.k8s_pod, "Kubernetes pod"))
    # auth.* (Vigil's log sources: sshd, sudo, su)
    for key, doc in (("user", "user named in the log line"),
                     ("src_ip", "source address (the last `from <ip>` of the line)"),
                     ("service", "sshd, sudo, su"), ("method", "password, publickey, ..."),
                     ("target_user", "user switched to (sudo/su)"),
                     ("command", "command run through sudo"),
                     ("result", "success or failure"), ("tty", "terminal of sudo/su")):
        add(_def(f"auth.{key}", S, _arg_of(key), doc))
    add(_def("auth.src_port", PORT, _arg_of("src_port"), "source port"))
    # --- fields for Sigma mappings ---
    # Fields that Sigma's taxonomy needs and Falco's names do not cover (see docs/sigma.md).
    # They live here so that Sigma rules, like Falco rules, read events only through the
    # registry; the helpers are local to keep this block self-contained.
    _exec_types = ("execve", "execveat")
    _path_args = ("name", "path", "pathname", "filename", "newpath", "target")

    def _argv(e: Event, arg: str | None) -> str | None:
        if arg is None or not arg.isdigit():
            return None
        i = int(arg)
        if i == 0:
            return e.proc.exe
        return e.proc.args[i - 1] if i <= len(e.proc.args) else None

    def _exeline(p: Process | None) -> str | None:
        # argv as the process was started (argv[0], then the arguments); the comm-based
        # command line when argv[0] is unknown
        if p is None:
            return None
        if p.exe is None:
            return p.cmdline()
        return " ".join((p.exe, *p.args)) if p.args else p.exe

    def _text(e: Event, _a: str | None) -> str | None:
        if e.raw is not None:
            return e.raw
        return _exeline(e.proc) if e.type in _exec_types else None

    def _initiated(e: Event, _a: str | None) -> bool | None:
        # the socket's role when the sensor knows it; else what the call says
        role = _fd(e).role
        if role is not None:
            return role == "client"
        if e.type == "connect":
            return True
        return False if e.type in ("accept", "accept4", "bind", "listen") else None

    def _audit_arg(e: Event, arg: str | None) -> str | None:
        # register N as the kernel saw it, in hex without a prefix as auditd prints a0..a3
        regs = e.regs
        if regs is None or arg is None or not arg.isdigit() or int(arg) >= len(regs):
            return None
        return format(regs[int(arg)] & 0xFFFFFFFFFFFFFFFF, "x")

    def _audit_path(e: Event, _a: str | None) -> str | None:
        f = e.fd
        if f is not None and f.type in ("file", "directory") and f.name:
            return f.name
        for k in _path_args:
            v = e.args.get(k)
            if isinstance(v, str) and v:
                return v
        return e.proc.exepath if e.type in _exec_types else None

    def _nametype(e: Event, _a: str | None) -> str | None:
        t = e.type
        if t in ("unlink", "unlinkat", "rmdir"):
            return "DELETE"
        if t in ("creat", "mkdir", "mkdirat", "mknod", "mknodat", "symlink", "symlinkat",
                 "link", "linkat", "rename", "renameat", "renameat2"):
            return "CREATE"
        if t in _OPEN_TYPES:
            return "CREATE" if (e.args.get("flags") or 0) & fl.O_CREAT else "NORMAL"
        return "NORMAL" if _audit_path(e, None) is not None else None

    def _stopped_unit(e: Event, _a: str | None) -> str | None:
        if e.type not in _exec_types:
            return None
        name, args = e.proc.name, e.proc.args
        if name == "systemctl" and len(args) >= 2 and args[0] in ("stop", "disable", "kill"):
            unit = args[-1]
        elif name == "service" and len(args) >= 2 and args[1] == "stop":
            unit = args[0]
        else:
            return None
        return unit[:-8] if unit.endswith(".service") else unit

    def _program(e: Event, _a: str | None) -> str | None:
        if e.source == "syscall":
            return None
        if e.proc.name:
            return e.proc.name
        raw = e.raw or ""
        # "Nov 26 12:00:00 host prog[123]: message": the tag before the first ": "
        head = raw.split(": ", 1)[0].rsplit(" ", 1)[-1] if ": " in raw else ""
        return head.split("[", 1)[0] or None

    add(_def("proc.argv", S, _argv, "one entry of argv by index; [0] is argv[0] (proc.exe), "
             "[1] the first argument (auditd's EXECVE a0, a1 ...)", arg=REQ))
    add(_def("proc.exeline", S, lambda e, a: _exeline(e.proc), "the full command line: "
             "argv[0] as the process was started (proc.exe), then the arguments (Falco's; "
             "proc.cmdline starts with the 15-character comm instead)",
             expr="((' '.join((_xl.exe, *_xl.args)) if _xl.args else _xl.exe) "
                  "if (_xl := e.proc).exe is not None else _xl.cmdline())"))
    add(_def("proc.pexeline", S, lambda e, a: _exeline(e.proc.parent),
             "the parent's full command line (argv[0], then the arguments)"))
    add(_def("evt.text", S, _text, "the event as text for full-text search: the original "
             "line of a log event, the full command line (proc.exeline) of an exec event, else "
             "none"))
    add(_def("fd.initiated", B, _initiated, "this process initiated the connection: the "
             "socket's role is client (connect: true; accept, bind, listen: false; Sigma's "
             "Initiated)"))
    add(_def("audit.syscall_arg", S, _audit_arg, "syscall argument register N (0: rdi, 1: "
             "rsi, 2: rdx, 3: r10 ...) in hex without 0x, as auditd's SYSCALL record prints "
             "a0..a3; none when the sensor kept no registers (exec events)", arg=REQ))
    add(_def("audit.path", S, _audit_path, "the path auditd's PATH record would name: the "
             "file fd's path, else the path argument, else the executable of an exec"))
    add(_def("audit.nametype", S, _nametype, "auditd PATH nametype: CREATE (creating opens, "
             "mkdir, link, rename ...), DELETE (unlink, rmdir) or NORMAL"))
    add(_def("audit.stopped_unit", S, _stopped_unit, "unit stopped by an exec of "
             "`systemctl stop|disable|kill <unit>` or `service <unit> stop` (.service "
             "dropped); stands in for auditd's SERVICE_STOP unit"))
    add(_def("log.program", S, _program, "program that wrote a log event (the process "
             "name, else the syslog tag of the raw line); none for syscall events"))
    # --- end of fields for Sigma mappings ---
    return r


#: The registry shared by every compiler in the process; read-only after import.
DEFAULT_FIELDS = build_default_registry()

#: Names the compiler binds in generated code so inlined `expr` templates can run.
EXPR_GLOBALS: dict[str, Any] = {
    "_NOFD": _NOFD,
    "_TYPECHAR_OF": {**_TYPECHAR, None: None},
    "_OPEN_TYPES": _OPEN_TYPES,
    "_errno": fl.errno_name,
}
