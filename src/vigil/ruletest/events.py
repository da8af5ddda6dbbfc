"""Events written in a test spec: the JSONL event format (docs/events.md) as YAML.

An event in a spec has exactly the keys of a recorded event (`type`, `res`, `args`,
`proc`, `fd`, ...) and nothing else: a misspelt key is an error with its line, because a
key the decoder ignored would make a test pass for the wrong reason. A few conveniences
keep specs readable, each turned into the raw value a sensor would record:

- `res` may be `SUCCESS` (0) or an errno name (`ENOENT` → -2); a syscall event without
  `res` succeeded (`res: 0`);
- `args.flags` of open calls may be Falco's rendering, `O_WRONLY|O_CREAT|O_TRUNC`;
  `args.mode` may be an octal string (`"4755"`; YAML already reads `04755` as octal);
  `args.request` of ptrace a `PTRACE_*` name; `args.domain` of socket an `AF_*` name;
- an event without `ts` happens 1 ms after the previous one (the first at a fixed time).
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass
from typing import Any, Callable

import msgspec

from vigil.events.flags import PTRACE_REQUESTS, SOCKET_FAMILIES
# the open(2) flag table is the one `evt.arg.flags` renders with, so a name written in a
# spec gives back exactly the bits Falco's rendering shows
from vigil.events.flags import _OPEN_FLAG_BITS  # noqa: PLC2701
from vigil.events.model import Event, FdInfo, Process
from vigil.rules.suggest import did_you_mean
from vigil.ruletest.located import LocatedMap, LocatedSeq, plain

#: time of the first event of a test that gives none (2023-11-14T22:13:20Z)
DEFAULT_START_NS = 1_700_000_000 * 1_000_000_000
#: spacing of events without a time
DEFAULT_STEP_NS = 1_000_000

EVENT_KEYS = frozenset(f.name for f in msgspec.structs.fields(Event))
PROCESS_KEYS = frozenset(f.name for f in msgspec.structs.fields(Process))
FD_KEYS = frozenset(f.name for f in msgspec.structs.fields(FdInfo))

_OPEN_TYPES = frozenset({"open", "openat", "openat2", "creat", "open_by_handle_at"})
_OPEN_FLAGS: dict[str, int] = {"O_RDONLY": 0, "O_WRONLY": 0o1, "O_RDWR": 0o2,
                               **{name: bit for bit, name in _OPEN_FLAG_BITS}}
_PTRACE = {name: num for num, name in PTRACE_REQUESTS.items()}
_FAMILIES = {name: num for num, name in SOCKET_FAMILIES.items()}
_ERRNO = {name: -num for num, name in errno.errorcode.items()}
_OCTAL = re.compile(r"^0?o?[0-7]+$")


@dataclass(frozen=True)
class EventProblem:
    """Why an event mapping is not an event: the line, the key path inside the event
    (`proc.parent`, `args.flags`; `` for the event itself) and the message."""

    line: int
    where: str
    message: str


class EventSpecError(ValueError):
    """An event mapping that cannot become an `Event`."""

    def __init__(self, problems: list[EventProblem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def _unknown_keys(m: LocatedMap, allowed: frozenset[str], where: str,
                  out: list[EventProblem]) -> None:
    for key in m:
        if key not in allowed:
            out.append(EventProblem(m.line_of(key), where, f"unknown key {key!r}"
                                    f"{did_you_mean(str(key), allowed)}"))


def _check_process(value: Any, line: int, where: str, out: list[EventProblem]) -> None:
    if not isinstance(value, LocatedMap):
        out.append(EventProblem(line, where, "must be a mapping of process keys"))
        return
    _unknown_keys(value, PROCESS_KEYS, where, out)
    if "parent" in value and value["parent"] is not None:
        _check_process(value["parent"], value.line_of("parent"), f"{where}.parent", out)


def _symbol(table: dict[str, int], what: str) -> Callable[[str], int]:
    def convert(text: str) -> int:
        if text in table:
            return table[text]
        raise ValueError(f"unknown {what} {text!r}{did_you_mean(text, table)}")
    return convert


def _open_flags(text: str) -> int:
    value = 0
    for part in text.split("|"):
        name = part.strip()
        if name not in _OPEN_FLAGS:
            raise ValueError(f"unknown open flag {name!r}{did_you_mean(name, _OPEN_FLAGS)}")
        value |= _OPEN_FLAGS[name]
    return value


def _octal(text: str) -> int:
    if not _OCTAL.match(text):
        raise ValueError(f"{text!r} is not an octal mode (e.g. 4755)")
    return int(text.replace("o", ""), 8)


def _res(text: str) -> int:
    if text == "SUCCESS":
        return 0
    return _symbol(_ERRNO, "errno name")(text)


def _arg_converter(evtype: str, name: str) -> Callable[[str], int] | None:
    if name == "flags" and evtype in _OPEN_TYPES:
        return _open_flags
    if name == "mode":
        return _octal
    if name == "request" and evtype == "ptrace":
        return _symbol(_PTRACE, "ptrace request")
    if name == "domain":
        return _symbol(_FAMILIES, "socket family")
    return None


def _symbolic(m: LocatedMap, out: list[EventProblem]) -> dict[str, Any]:
    """The event's data with symbolic values replaced by raw ones."""
    data = plain(m)
    evtype = data.get("type")
    if isinstance(data.get("res"), str):
        try:
            data["res"] = _res(data["res"])
        except ValueError as exc:
            out.append(EventProblem(m.line_of("res"), "res", str(exc)))
    args = m.get("args")
    if isinstance(args, LocatedMap) and isinstance(evtype, str):
        for name, value in args.items():
            conv = _arg_converter(evtype, str(name))
            if conv is None or not isinstance(value, str):
                continue
            try:
                data["args"][name] = conv(value)
            except ValueError as exc:
                out.append(EventProblem(args.line_of(name), f"args.{name}", str(exc)))
    return data


_PATH_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def _line_of_path(m: LocatedMap, path: str) -> int:
    """The line of `$.proc.parent.pid` (msgspec's error path) in the spec."""
    node: Any = m
    line = m.line
    for key, index in _PATH_PART.findall(path.removeprefix("$")):
        if isinstance(node, LocatedMap) and key in node:
            line = node.line_of(key)
            node = node[key]
        elif isinstance(node, LocatedSeq) and index and int(index) < len(node):
            line = node.line_of(int(index))
            node = node[int(index)]
        else:
            break
    return line


def build_event(m: Any, line: int, previous_ts: int | None) -> Event:
    """The `Event` a spec mapping describes; raises `EventSpecError` with every problem."""
    if not isinstance(m, LocatedMap):
        raise EventSpecError([EventProblem(line, "", "an event must be a mapping with at "
                                                     "least 'type' (docs/events.md)")])
    problems: list[EventProblem] = []
    _unknown_keys(m, EVENT_KEYS, "", problems)
    if "type" not in m:
        problems.append(EventProblem(m.line, "", "missing 'type' (the event type, e.g. "
                                                 "openat, execve)"))
    if "proc" in m:
        _check_process(m["proc"], m.line_of("proc"), "proc", problems)
    fd = m.get("fd")
    if isinstance(fd, LocatedMap):
        _unknown_keys(fd, FD_KEYS, "fd", problems)
    data = _symbolic(m, problems)
    if problems:
        raise EventSpecError(problems)
    if data.get("source", "syscall") == "syscall" and "res" not in data:
        data["res"] = 0
    try:
        event = msgspec.convert(data, Event, strict=False)
    except msgspec.ValidationError as exc:
        text = str(exc)
        paths = re.findall(r"`(\$[^`]*)`", text)
        path = paths[-1] if paths else "$"
        where = path.removeprefix("$").removeprefix(".")
        message = text.partition(" - at ")[0]
        if message.startswith("Expected `str`"):
            message += " (put it in quotes: YAML reads 443, -4, 0755, yes and 1.0 as " \
                       "numbers or booleans)"
        raise EventSpecError([EventProblem(_line_of_path(m, path), where, message)]) \
            from None
    if not event.ts:
        event.ts = (previous_ts + DEFAULT_STEP_NS) if previous_ts else DEFAULT_START_NS
    return event
