"""`data_exfil`: a sensitive file read, then an outbound connection from the same lineage.

Two signals:
- `data_exfil.read_then_connect`: a process read a sensitive file (credentials, keys,
  shadow, cloud or browser secrets) and, within `window_seconds`, the same process, or a
  process of the same script (the reader's shell parent, up to `lineage_depth` ancestors of
  the connecting process), opened an outbound connection. A script that runs
  `cat ~/.aws/credentials` and then `curl` is caught although two processes are involved.
- `data_exfil.archive_pipe`: a shell one-liner piping an archiver/encoder into a network
  tool (`tar czf - /etc | curl -T - ...`), judged by the binaries of the pipeline stages.

The reader is judged by its binary (see `data_exfil_allowlist`): a compiler reading system
paths, `aws` reading its own credentials, `sshd` reading shadow, or Vigil itself reading
PAM config produce a detection that is returned suppressed (static layer), for the audit.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import ClassVar

from vigil.detections import Detection, Suppression
from vigil.detectors.data_exfil_allowlist import (ARCHIVE_ENCODE_TOOLS, BUILD_TOOLS,
                                                  CREDENTIAL_OWNERS, NETWORK_TOOLS,
                                                  SENSITIVE_FILE_PATTERNS, SENSITIVE_FILES)
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.event_args import fd_path, int_arg, str_arg
from vigil.detectors.detection_builder import (build_detection, describe_process,
                                               static_suppression)
from vigil.detectors.expiring_map import ExpiringMap
from vigil.detectors.params import minimum
from vigil.detectors.path_patterns import PathPatterns
from vigil.detectors.process_identity import (INTERPRETERS, PACKAGE_MANAGERS, AgentIdentity,
                                              binary_names, lineage_binary, matched_binary)
from vigil.detectors.shell_command import command_stages, pipelines, shell_command_of
from vigil.events.flags import is_open_read
from vigil.events.model import Event
from vigil.priority import Priority

NAME = "data_exfil"
TAGS = ("attack.exfiltration", "T1041", "attack.credential_access", "T1552.001")
PIPE_TAGS = ("attack.exfiltration", "T1048", "attack.collection", "T1560.001")
_OPEN_TYPES = frozenset({"open", "openat", "openat2"})
_CONNECT_TYPES = frozenset({"connect"})
_EXEC_TYPES = frozenset({"execve", "execveat"})
_EINPROGRESS = -115


@dataclass(frozen=True)
class DataExfilParams(DetectorParams):
    """`[detectors.data_exfil]`."""

    DETECTOR: ClassVar[str] = NAME
    #: how long after a sensitive read an outbound connection still counts
    window_seconds: float = field(default=60.0, metadata=minimum(0))
    #: how many ancestors of the connecting process are searched for the reader
    lineage_depth: int = field(default=2, metadata=minimum(0))
    #: more sensitive files (exact path, directory prefix ending in `/`, or glob)
    extra_sensitive_paths: tuple[str, ...] = ()


@dataclass
class _Read:
    """A sensitive read waiting for a connection."""

    event: Event
    path: str
    category: str
    suppression: Suppression | None
    reported: bool = False


def _is_outbound(event: Event) -> str | None:
    fd = event.fd
    if fd is None or fd.type not in ("ipv4", "ipv6") or not fd.rip:
        return None
    if event.res is not None and event.res < 0 and event.res != _EINPROGRESS:
        return None
    if fd.rport == 53:
        return None  # name lookups precede the real connection; dns_direct watches DNS
    try:
        addr = ipaddress.ip_address(fd.rip)
    except ValueError:
        return None
    if addr.is_loopback or addr.is_unspecified:
        return None
    return fd.rip


class DataExfilDetector(BuiltinDetector):
    """Sensitive read followed by an outbound connection; archive piped to a network tool."""

    name = NAME
    Params = DataExfilParams
    #: the read-only opens it needs, for the kernel filter (vigil.rules.kernel_filters)
    kernel_read_paths: tuple[str, ...] = tuple(
        p for patterns in SENSITIVE_FILE_PATTERNS.values() for p in patterns)
    #: the compiler toolchain's writes it needs: opens for reading and writing of the
    #: same files
    kernel_write_paths: tuple[str, ...] = kernel_read_paths
    event_types = frozenset(_OPEN_TYPES | _CONNECT_TYPES | _EXEC_TYPES)

    params: DataExfilParams

    def __init__(self, params: DataExfilParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        self._extra = PathPatterns({"configured": self.params.extra_sensitive_paths})
        window_ns = int(self.params.window_seconds * 1e9)
        #: lineage key (pid of the reader, or of its script) -> recent sensitive reads
        self._reads: ExpiringMap[int, list[_Read]] = ExpiringMap(window_ns)

    def on_event(self, event: Event) -> list[Detection]:
        """Track sensitive reads; report connections and exfiltration pipes."""
        t = event.type
        if t in _OPEN_TYPES:
            self._on_open(event)
            return []
        if t in _CONNECT_TYPES:
            return self._on_connect(event)
        if t in _EXEC_TYPES:
            return self._on_exec(event)
        return []

    # -- sensitive reads ---------------------------------------------------------------

    def _sensitive(self, path: str) -> tuple[str, str] | None:
        if path.endswith(".pub"):
            return None
        hit = SENSITIVE_FILES.match(path)
        if hit is None and self.params.extra_sensitive_paths:
            hit = self._extra.match(path)
        return hit

    def _reader_suppression(self, event: Event, category: str) -> Suppression | None:
        proc = event.proc
        if self.own.owns(proc):
            return static_suppression(NAME, "own_process", proc.pid,
                                      "Vigil's own process reading for its own work")
        pm = lineage_binary(proc, PACKAGE_MANAGERS)
        if pm:
            return static_suppression(NAME, "package_managers", pm,
                                      "package managers read keys and configuration")
        tool = matched_binary(proc, BUILD_TOOLS)
        if tool:
            return static_suppression(NAME, "build_tools", tool,
                                      "compilers and build tools read source trees, system "
                                      "paths and key fixtures; not exfiltration")
        owner = matched_binary(proc, CREDENTIAL_OWNERS.get(category, frozenset()))
        if owner:
            return static_suppression(NAME, "credential_owners", owner,
                                      f"{owner} is the tool made to use {category} files")
        return None

    def _on_open(self, event: Event) -> None:
        path = fd_path(event) or str_arg(event, "name")
        flags = int_arg(event, "flags")
        if not path or (event.res is not None and event.res < 0):
            return
        if flags is not None and not is_open_read(flags):
            return
        hit = self._sensitive(path)
        if hit is None:
            return
        read = _Read(event, path, hit[0], self._reader_suppression(event, hit[0]))
        proc = event.proc
        keys = [proc.pid]
        parent = proc.parent
        # a script reading then sending: remember the read under the script's pid as well
        if parent is not None and binary_names(parent) & INTERPRETERS:
            keys.append(parent.pid)
        for key in keys:
            if key is None:
                continue
            pending = self._reads.get(key, event.ts) or []
            pending = [r for r in pending if event.ts - r.event.ts <= self._reads.window_ns]
            pending.append(read)
            self._reads.put(key, event.ts, pending[-16:])

    # -- connections ---------------------------------------------------------------------

    def _pending_reads(self, event: Event) -> list[_Read]:
        proc = event.proc
        keys = [proc.pid]
        p = proc.parent
        for _ in range(self.params.lineage_depth):
            if p is None:
                break
            keys.append(p.pid)
            p = p.parent
        found: list[_Read] = []
        for key in keys:
            if key is None or key == 1:
                continue
            for r in self._reads.get(key, event.ts) or []:
                if event.ts - r.event.ts <= self._reads.window_ns and not r.reported \
                        and r not in found:
                    found.append(r)
        return found

    def _connector_suppression(self, event: Event, reads: list[_Read]) -> Suppression | None:
        """The connection is made by the agent, or by the tool made for every file read
        (`vim ~/.aws/credentials`, then `aws s3 ls`: aws reads those keys itself)."""
        if self.own.owns(event.proc):
            return static_suppression(NAME, "own_process", event.proc.pid,
                                      "Vigil's own outbound connection")
        owners = [matched_binary(event.proc, CREDENTIAL_OWNERS.get(r.category, frozenset()))
                  for r in reads if r.suppression is None]
        if owners and all(owners):
            return static_suppression(NAME, "credential_owners", owners[0],
                                      f"the connection is made by {owners[0]}, the tool made "
                                      f"to use {reads[0].category} files")
        return None

    def _on_connect(self, event: Event) -> list[Detection]:
        # most connections follow no sensitive read: look that up before parsing the address
        reads = self._pending_reads(event)
        if not reads:
            return []
        ip = _is_outbound(event)
        if ip is None:
            return []
        for r in reads:
            r.reported = True
        # alert-worthy reads first: one unsuppressed read makes the whole detection real
        reads.sort(key=lambda r: r.suppression is not None)
        first = reads[0]
        suppression = first.suppression or self._connector_suppression(event, reads)
        port = event.fd.rport if event.fd else None
        delay = (event.ts - first.event.ts) / 1e9
        paths = sorted({r.path for r in reads})
        output = (f"Sensitive file {first.path} ({first.category}) read by "
                  f"{describe_process(first.event)}, then outbound connection to {ip}:{port} "
                  f"by {describe_process(event)} {delay:.1f}s later")
        priority = Priority.CRITICAL if first.category in ("shadow", "ssh_key",
                                                           "cloud_credentials") \
            else Priority.ERROR
        return [build_detection(
            NAME, "read_then_connect", priority, output, TAGS, event,
            evidence=[r.event for r in reads] + [event], ip=ip, path=first.path,
            data={"paths": paths, "category": first.category, "delay_seconds": delay},
            suppressed=suppression)]

    # -- exfiltration pipes ----------------------------------------------------------------

    def _on_exec(self, event: Event) -> list[Detection]:
        command = shell_command_of(event.proc)
        if not command or "|" not in command:
            return []
        for group in pipelines(command_stages(command)):
            packers = [s for s in group if s.binary in ARCHIVE_ENCODE_TOOLS]
            if not packers:
                continue
            first_packer = group.index(packers[0])
            senders = [s for s in group[first_packer + 1:] if s.binary in NETWORK_TOOLS]
            if not senders:
                continue
            words = [w for s in group for w in s.words]
            secret = next((w for w in words if self._sensitive(w)), None)
            suppression = None
            if self.own.owns(event.proc):
                suppression = static_suppression(NAME, "own_process", event.proc.pid,
                                                 "Vigil's own helper command")
            output = (f"Archive/encode piped to a network tool: {packers[0].binary} | "
                      f"{senders[0].binary} in `{command}` run by {describe_process(event)}")
            return [build_detection(
                NAME, "archive_pipe", Priority.CRITICAL if secret else Priority.ERROR,
                output, PIPE_TAGS, event, path=secret,
                data={"command": command, "packer": packers[0].binary,
                      "sender": senders[0].binary}, suppressed=suppression)]
        return []
