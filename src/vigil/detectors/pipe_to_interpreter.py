"""`pipe_to_interpreter`: code a shell or interpreter runs straight from a download or a
decoder, never written to disk or readable on a command line.

- `pipe_to_interpreter.download`: a shell or interpreter reading its program from stdin
  (`sh`, `bash -s ARGS`, `python3 -`, `perl` without a script) whose stdin is a pipe
  written by a downloader (`curl ... | sh`, `wget -qO- ... | bash -s`), or by any program
  that connects to the network within `window_seconds` (a renamed curl, a Python
  one-liner fetching with urllib). The eBPF sensor names the process writing into the
  pipe (`proc.stdin.writer`, docs/sensor.md).
- `pipe_to_interpreter.decode`: the same reader fed by a decoder (`base64 -d`, `xxd -r`,
  `openssl enc -d`, `gunzip`, `rev` ...): `echo BLOB | base64 -d | sh`.
- `pipe_to_interpreter.encoded_inline`: inline code that decodes data and runs it
  (`python3 -c "exec(base64.b64decode(...))"`, `perl -e 'eval(decode_base64(...))'`,
  `php -r 'eval(base64_decode(...))'`, `sh -c 'eval "$(echo ... | base64 -d)"'`).

Static allowlist (`pipe_to_interpreter_allowlist.py`): `package_managers` — the reader
runs under a package manager (a maintainer script unpacking its own data).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import ClassVar

from vigil.detections import Detection, Suppression
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.detection_builder import (build_detection, describe_process,
                                               static_suppression)
from vigil.detectors.expiring_map import ExpiringMap
from vigil.detectors.params import minimum
from vigil.detectors.pipe_to_interpreter_allowlist import (DECODE_AND_RUN, DECODERS,
                                                           DOWNLOADERS, PACKAGE_MANAGERS)
from vigil.detectors.process_identity import (AgentIdentity, binary_name, is_shell,
                                              lineage_binary)
from vigil.detectors.shell_command import shell_command_of
from vigil.events.model import Event, Peer, Process
from vigil.priority import Priority

NAME = "pipe_to_interpreter"
TAGS = ("attack.execution", "T1059", "attack.command_and_control", "T1105",
        "attack.defense_evasion", "T1140", "T1027")
_EXEC = frozenset({"execve", "execveat"})
_CONNECT = frozenset({"connect"})
_EINPROGRESS = -115
_DNS_PORTS = frozenset({53})


@dataclass(frozen=True)
class PipeToInterpreterParams(DetectorParams):
    """`[detectors.pipe_to_interpreter]`."""

    DETECTOR: ClassVar[str] = NAME
    #: how long a piped interpreter waits for its writer to connect to the network
    window_seconds: float = field(default=30.0, metadata=minimum(0))


def _family(name: str) -> str | None:
    for family in ("python", "perl", "ruby", "php", "node"):
        if name.startswith(family):
            return family
    if name in ("nodejs", "deno", "bun"):
        return "node"
    return None


def reads_program_from_stdin(proc: Process) -> bool:
    """A shell or interpreter whose program is its stdin: `sh`, `sh -s ARGS`, `bash -i`,
    `python3 -`, `python3` / `perl` / `ruby` / `node` / `php` with no script."""
    if is_shell(proc):
        if shell_command_of(proc) is not None:
            return False
        for a in proc.args:
            if a in ("-s", "--", "-i") or (a.startswith("-") and not a.startswith("--")
                                           and ("s" in a[1:] or "i" in a[1:])):
                return True
            if not a.startswith("-"):
                return False  # a script file
        return True
    family = _family(binary_name(proc))
    if family is None:
        return False
    args = proc.args
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-":
            return True
        if a in ("-c", "-e", "-E", "-r", "-m", "--eval", "-p", "--print"):
            return False  # inline code or a module: the program is not stdin
        if not a.startswith("-"):
            return False  # a script file
        if family == "python" and a in ("-W", "-X", "-Q"):
            i += 1  # options with a value
        i += 1
    return True


def _peer_binary(peer: Peer) -> str:
    return (posixpath.basename(peer.exepath) if peer.exepath else None) or peer.name or "?"


def is_downloader(binary: str, args: list[str]) -> bool:
    """The writer is a program made to fetch data over the network."""
    if binary == "openssl":
        return "s_client" in args
    if binary == "busybox":
        return bool(args) and args[0] in ("wget", "nc", "ftpget", "tftp")
    return binary in DOWNLOADERS


def is_decoder(binary: str, args: list[str]) -> bool:
    """The writer decodes or unpacks its input (`base64 -d`, `xxd -r`, `zcat`)."""
    if binary not in DECODERS:
        family = _family(binary)
        if family is None:
            return False
        code = next((args[i + 1] for i, a in enumerate(args)
                     if a in ("-c", "-e", "-r") and i + 1 < len(args)), None)
        return code is not None and any(w in code for w in (
            "b64decode", "decode_base64", "base64_decode", "Base64.decode",
            "'base64'", '"base64"', "unhexlify", "fromhex"))
    pattern = DECODERS[binary]
    return pattern is None or any(pattern.match(a) for a in args)


def inline_decode_and_run(proc: Process) -> str | None:
    """The inline code of the process when it decodes data and runs it, else None."""
    text = shell_command_of(proc)
    if text is not None:
        return text if DECODE_AND_RUN["shell"].search(text) else None
    family = _family(binary_name(proc))
    if family is None:
        return None
    args = proc.args
    for i, a in enumerate(args):
        if a in ("-c", "-e", "-E", "-r", "--eval", "-p") and i + 1 < len(args):
            code = args[i + 1]
            return code if DECODE_AND_RUN[family].search(code) else None
    return None


class PipeToInterpreterDetector(BuiltinDetector):
    """Downloads and decoded data fed to a shell or interpreter as its program."""

    name = NAME
    Params = PipeToInterpreterParams
    event_types = _EXEC | _CONNECT

    params: PipeToInterpreterParams

    def __init__(self, params: PipeToInterpreterParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        window_ns = int(self.params.window_seconds * 1e9)
        #: pid -> remote end of a connection it made
        self._connected: ExpiringMap[int, str] = ExpiringMap(window_ns)
        #: pid of a pipe writer -> the exec of the interpreter reading from it
        self._waiting: ExpiringMap[int, Event] = ExpiringMap(window_ns)
        #: (pid, stdin pipe inode) -> its writer as named at an earlier exec of the pid
        #: (`pyenv` shims exec bash, then python, on the same stdin: the writer may have
        #: exited by the last exec, and the sensor names only living peers)
        self._writers: ExpiringMap[tuple[int, int], Peer] = ExpiringMap(window_ns)

    def on_event(self, event: Event) -> list[Detection]:
        """Report a piped download or decode into an interpreter, or inline decode-and-run."""
        if event.type in _CONNECT:
            return self._on_connect(event)
        if event.type not in _EXEC or (event.res is not None and event.res < 0):
            return []
        proc = event.proc
        if self.own.owns(proc):
            return []
        code = inline_decode_and_run(proc)
        if code is not None:
            return [self._detection(
                event, "encoded_inline", f"{describe_process(event)} decodes and runs encoded "
                f"code from its command line: {proc.cmdline() or '?'}",
                {"code": code[:512]})]
        writer = self._remembered_writer(proc, event.ts)
        if not reads_program_from_stdin(proc):
            return []
        if writer is None or writer.pid is None:
            return []
        binary = _peer_binary(writer)
        if is_decoder(binary, writer.args):
            return [self._piped(event, "decode", writer, "decoded by")]
        if is_downloader(binary, writer.args):
            return [self._piped(event, "download", writer, "downloaded by")]
        remote = self._connected.get(writer.pid, event.ts)
        if remote is not None:
            return [self._piped(event, "download", writer, f"fetched from {remote} by")]
        self._waiting.put(writer.pid, event.ts, event)
        return []

    def _remembered_writer(self, proc: Process, ts: int) -> Peer | None:
        """The writer of the process's stdin pipe, remembered across its execs."""
        stdin = next((f for f in proc.stdio or () if f.num == 0), None)
        if stdin is None or stdin.type not in ("pipe", "fifo") or proc.pid is None:
            return None
        key = (proc.pid, stdin.ino or 0)
        if stdin.peer is not None and stdin.peer.pid is not None:
            self._writers.put(key, ts, stdin.peer)
            return stdin.peer
        return self._writers.get(key, ts)

    @staticmethod
    def _stdin_writer(proc: Process) -> Peer | None:
        for f in proc.stdio or ():
            if f.num == 0:
                return f.peer if f.type in ("pipe", "fifo") else None
        return None

    def _on_connect(self, event: Event) -> list[Detection]:
        fd, pid = event.fd, event.proc.pid
        if fd is None or pid is None or fd.type not in ("ipv4", "ipv6") \
                or fd.rport in _DNS_PORTS:
            return []
        if event.res is not None and event.res < 0 and event.res != _EINPROGRESS:
            return []
        remote = f"{fd.rip or '?'}:{fd.rport if fd.rport is not None else '?'}"
        self._connected.put(pid, event.ts, remote)
        reader = self._waiting.get(pid, event.ts)
        if reader is None:
            return []
        self._waiting.pop(pid)
        writer = self._stdin_writer(reader.proc) or Peer(pid=pid, name=event.proc.name)
        return [self._piped(reader, "download", writer, f"fetched from {remote} by")]

    def _piped(self, event: Event, kind: str, writer: Peer, how: str) -> Detection:
        reader = binary_name(event.proc)
        what = "a shell" if is_shell(event.proc) else f"the {reader} interpreter"
        output = (f"Program of {what} {describe_process(event)} read from a pipe, {how} "
                  f"{_peer_binary(writer)} (pid {writer.pid}): "
                  f"`{writer.cmdline() or _peer_binary(writer)} | {event.proc.cmdline() or reader}`")
        return self._detection(event, kind, output, {
            "writer": writer.cmdline() or _peer_binary(writer), "writer_pid": writer.pid,
            "reader": reader})

    def _detection(self, event: Event, kind: str, output: str, data: dict) -> Detection:
        return build_detection(NAME, kind, Priority.ERROR, output, TAGS, event, data=data,
                               suppressed=self._suppression(event.proc))

    @staticmethod
    def _suppression(proc: Process) -> Suppression | None:
        hit = lineage_binary(proc, PACKAGE_MANAGERS)
        if hit is None:
            return None
        return static_suppression(NAME, "package_managers", hit,
                                  "a package's own installation scripts")

