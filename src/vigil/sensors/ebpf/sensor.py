"""`EbpfSensor`: the kernel sensor behind `vigil run` and `vigil record`.

Loads `vigil.bpf.o` (or, on kernels that refuse it, `vigil-compat.bpf.o`: see
`choose_objects`) through the system libbpf, tells the program which syscalls to copy
(only those the loaded rules and detectors need, plus exec/chdir for the process table),
excludes the agent's own process in the kernel, attaches the BTF tracepoints and reads
the ring buffer in batches. Kernel-side drops are counted per CPU and reported by
`stats()` and in the log; nothing is lost silently.
"""

from __future__ import annotations

import logging
import os
import socket
import struct
import time
from pathlib import Path

from vigil.events.model import Event
from vigil.events.proctable import ProcessTable
from vigil.sensors.base import SensorUnavailable
from vigil.sensors.ebpf import syscalls as sc
from vigil.sensors.ebpf.decode import RecordDecoder
from vigil.sensors.ebpf.libbpf import BpfObject, Libbpf, LibbpfError
from vigil.sensors.ebpf.ringbuf import RingReader

log = logging.getLogger("vigil.sensors.ebpf")

DEFAULT_OBJECT = Path(__file__).with_name("vigil.bpf.o")
#: the same program without kfuncs, for kernels before 6.12 (docs/sensor.md)
COMPAT_OBJECT = Path(__file__).with_name("vigil-compat.bpf.o")
#: the objects by the names `[sensors] bpf_object` and VIGIL_BPF_OBJECT give them
OBJECTS = {"full": DEFAULT_OBJECT, "compat": COMPAT_OBJECT}
#: the environment variable that forces one object, whatever the configuration says
OBJECT_ENV = "VIGIL_BPF_OBJECT"
BTF_PATH = Path("/sys/kernel/btf/vmlinux")
PROGRAMS = ("vigil_sys_exit", "vigil_fork", "vigil_exit", "vigil_exec")
#: programs the sensor runs without when the kernel refuses them (logged): the size of a
#: file before a truncation, on any file system (fentry on do_truncate: needs BPF
#: trampolines) and on ext4 (a tracepoint)
OPTIONAL_PROGRAMS = ("vigil_truncate", "vigil_ext4_truncate")
_SETTINGS = struct.Struct("<IIBBBB4x8H")
_U32 = struct.Struct("<I")
#: the program's counters (CNT_*), by the names `stats()` reports them under
_COUNTERS = ("drops", "kernel_events", "drops_contended", "spilled", "parked",
             "ignored_reads", "ignored_missing_reads", "ignored_missing_execs",
             "ignored_by_argument", "dns_payloads")
#: most DNS ports the kernel compares against (vigil.bpf.c: DNS_PORTS)
MAX_DNS_PORTS = 8
#: sizes of the kernel's `ignore_prefixes` map (vigil.bpf.c: PREFIXES, PREFIX_MAX)
_PREFIXES, _PREFIX_MAX = 16, 64


def supported_types() -> frozenset[str]:
    """Every event type (Falco name) this sensor can produce."""
    return sc.ALL_TYPES


class EbpfSensor:
    """Live syscall events from the running kernel (implements `vigil.sensors.base.Sensor`).

    `event_types`: the Falco event types to deliver (None: all the sensor knows); names it
    does not know (log events, ...) are ignored. `exclude_pids`: more processes (thread
    group ids) to ignore in the kernel besides this one. `ignore_read_prefixes` and
    `ignore_missing_reads` / `ignore_missing_execs`: read-only opens under these prefixes,
    read-only opens and execs that failed with ENOENT, are dropped in the kernel (counted,
    see `stats()`). `dns_ports`: traffic sent to these ports (sendto, sendmsg, sendmmsg,
    write) carries its DNS question (`Event.dns`); such events are delivered even when their
    type was not asked for, and the syscalls cost nothing more for other sockets.
    `bpf_object`: "auto" (the full object, else the compat one), "full" or "compat"; the
    environment variable VIGIL_BPF_OBJECT overrides it, an explicit `object_path` both.
    """

    name = "ebpf"
    #: every event type this sensor can capture (what a restart could add)
    supported_types = staticmethod(supported_types)

    def __init__(self, event_types: set[str] | None = None,
                 exclude_pids: set[int] | None = None, *,
                 object_path: str | Path | None = None,
                 ring_size: int = 16 << 20, wake_bytes: int = 1 << 20,
                 max_batch: int = 16384, table: ProcessTable | None = None,
                 hostname: str | None = None,
                 ignore_read_prefixes: tuple[str, ...] = (),
                 ignore_missing_reads: bool = False,
                 ignore_missing_execs: bool = False,
                 dns_ports: tuple[int, ...] = (),
                 bpf_object: str = "auto") -> None:
        wanted = sc.ALL_TYPES if event_types is None else frozenset(event_types) & sc.ALL_TYPES
        self.event_types: frozenset[str] = wanted
        self._exclude = set(exclude_pids or ())
        if len(ignore_read_prefixes) > _PREFIXES or any(
                not p or len(p.encode()) > _PREFIX_MAX for p in ignore_read_prefixes):
            raise ValueError(f"ignore_read_prefixes: at most {_PREFIXES} non-empty prefixes of "
                             f"at most {_PREFIX_MAX} bytes")
        self._ignore = tuple(ignore_read_prefixes)
        self._ignore_missing = ignore_missing_reads
        self._ignore_missing_execs = ignore_missing_execs
        if len(dns_ports) > MAX_DNS_PORTS or any(not 0 < p < 65536 for p in dns_ports):
            raise ValueError(f"dns_ports: at most {MAX_DNS_PORTS} ports between 1 and 65535")
        self._dns_ports = tuple(dns_ports)
        #: the optional programs that report sizes before truncation, once started
        self.truncation_sources: list[str] = []
        self._explicit_object = Path(object_path) if object_path else None
        self._object_choice = bpf_object
        self._object_path = self._explicit_object or DEFAULT_OBJECT
        #: which object runs once started: "full", "compat" (or the explicit path's name)
        self.object_kind = ""
        if ring_size & (ring_size - 1) or ring_size < 4096:
            raise ValueError(f"ring_size must be a power of two >= 4096, got {ring_size}")
        self._ring_size = ring_size
        self._wake_bytes = wake_bytes
        self._max_batch = max_batch
        self.table = table if table is not None else ProcessTable()
        self._decoder = RecordDecoder(
            self.table, hostname or socket.gethostname(),
            process_events=bool(wanted & sc.SCHED_TYPES))
        self._counters: dict[str, int] = dict.fromkeys(_COUNTERS, 0)
        self._obj: BpfObject | None = None
        self._ring: RingReader | None = None
        self._ncpus = 1
        self._out: list[Event] = []
        self._read = 0
        self._delivered = 0
        self._drops_logged = 0
        self._next_drop_check = 0.0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Load and attach the program; raises `SensorUnavailable` with a one-line reason."""
        objects = self._objects_to_try()
        for path in objects:
            _check_environment(path)
        lib = Libbpf()
        obj: BpfObject | None = None
        for i, path in enumerate(objects):
            fallback = i < len(objects) - 1
            self._object_path = path
            lib.first_warning = ""
            try:
                obj = self._open(lib)
                obj = self._load(lib, obj, quiet=fallback)
                break
            except LibbpfError as exc:
                if not fallback:
                    self.stop()
                    raise SensorUnavailable(f"eBPF sensor unavailable: BPF program {path.name} "
                                            f"failed to load: {exc} (libbpf's log above says "
                                            f"why)") from exc
                self.stop()
                log.warning("eBPF sensor: this kernel (%s) refused the full BPF object (%s); "
                            "loading the compat object instead (docs/sensor.md says what it "
                            "lacks)", os.uname().release, lib.first_warning or exc)
        assert obj is not None
        self.object_kind = next((k for k, p in OBJECTS.items() if p == self._object_path),
                                self._object_path.name)
        try:
            self._configure(obj)
            self._ncpus = lib.num_possible_cpus()
            self._ring = RingReader(obj.map_fd("events"), obj.max_entries("events"))
            self._spill = RingReader(obj.map_fd("spill"), obj.max_entries("spill"))
            for prog in PROGRAMS:
                obj.attach(prog)
            self._attach_optional(obj)
        except (LibbpfError, OSError) as exc:
            self.stop()
            raise SensorUnavailable(f"eBPF sensor unavailable: BPF program failed to load or "
                                    f"attach: {exc} (libbpf's log above says why)") from exc
        n = self.table.seed()
        log.info("eBPF sensor attached (%s object): %d event types, %d syscalls, %d processes "
                 "in table", self.object_kind, len(self.event_types), len(self._syscalls()), n)

    def _objects_to_try(self) -> list[Path]:
        """The objects to load, in order (the first the kernel accepts runs)."""
        if self._explicit_object is not None:
            return [self._explicit_object]
        forced = os.environ.get(OBJECT_ENV)
        try:
            return choose_objects(forced or self._object_choice)
        except ValueError as exc:
            where = f"environment variable {OBJECT_ENV}" if forced else "[sensors] bpf_object"
            raise SensorUnavailable(f"eBPF sensor unavailable: {where}: {exc}") from None

    def _open(self, lib: Libbpf) -> BpfObject:
        try:
            obj = BpfObject(lib, self._object_path)
        except LibbpfError as exc:
            raise SensorUnavailable(f"eBPF sensor unavailable: cannot open "
                                    f"{self._object_path}: {exc}") from exc
        self._obj = obj
        obj.set_max_entries("events", self._ring_size)
        return obj

    def _load(self, lib: Libbpf, obj: BpfObject, quiet: bool = False) -> BpfObject:
        """Load the object; if the kernel refuses it, again without each optional program
        it may have refused (what they add is then missing, which is logged). Only the last
        attempt, without any optional program, shows libbpf's messages as warnings (unless
        `quiet`: another object is tried next)."""
        attempts = [(), *((p,) for p in OPTIONAL_PROGRAMS), OPTIONAL_PROGRAMS]
        for i, skip in enumerate(attempts):
            last = i == len(attempts) - 1
            if i:
                obj.close()
                obj = self._open(lib)
                for prog in skip:
                    obj.set_autoload(prog, False)
            lib.muted = quiet or not last
            try:
                obj.load()
            except LibbpfError:
                if last:
                    raise
                continue
            finally:
                lib.muted = False
            if skip:
                log.info("eBPF sensor: loaded without %s (the kernel refused it)",
                         ", ".join(skip))
            return obj
        raise AssertionError("unreachable")

    def _attach_optional(self, obj: BpfObject) -> None:
        for prog in OPTIONAL_PROGRAMS:
            if not obj.autoloaded(prog):
                continue
            try:
                obj.attach(prog)
                self.truncation_sources.append(prog)
            except LibbpfError as exc:
                log.info("eBPF sensor: cannot attach %s (%s)", prog, exc)
        if not self.truncation_sources:
            log.warning("eBPF sensor: the kernel refused both ways of seeing a file's size "
                        "before a truncation: size_before is not reported")

    def _syscalls(self) -> list[sc.SyscallDef]:
        names = (self.event_types & frozenset(sc.BY_NAME)) | sc.TABLE_SYSCALLS
        return [sc.BY_NAME[n] for n in sorted(names)]

    def _configure(self, obj: BpfObject) -> None:
        dns = bool(self._dns_ports)
        wanted = self._syscalls()
        for sdef in wanted:
            obj.update("syscall_specs", _U32.pack(sdef.nr), sdef.spec_bytes(True, dns))
        if dns:
            # the syscalls nobody asked for still report their DNS traffic
            for name in sorted(sc.DNS_SYSCALLS - {s.name for s in wanted}):
                sdef = sc.BY_NAME[name]
                obj.update("syscall_specs", _U32.pack(sdef.nr), sdef.spec_bytes(False, True))
        for pid in self._exclude:
            obj.update("excluded_tgids", _U32.pack(pid), b"\x01")
        for i, prefix in enumerate(self._ignore):
            raw = prefix.encode()
            obj.update("ignore_prefixes", _U32.pack(i),
                       _U32.pack(len(raw)) + raw.ljust(_PREFIX_MAX, b"\0"))
        # fork and exit records are always needed by the process table
        ports = self._dns_ports + (0,) * (MAX_DNS_PORTS - len(self._dns_ports))
        obj.update("vigil_settings", _U32.pack(0),
                   _SETTINGS.pack(os.getpid(), self._wake_bytes, 1, 1,
                                  int(self._ignore_missing), int(self._ignore_missing_execs),
                                  *ports))

    def read(self, timeout: float) -> list[Event]:
        """Events since the last call; waits at most `timeout` seconds when there are none."""
        ring = self._ring
        if ring is None:
            return []
        if ring.pending() == 0:
            ring.wait(timeout)
        # events are collected in self._out, so that an exception in the middle of a batch
        # (KeyboardInterrupt) leaves them for the next call instead of losing them
        self._read += ring.drain(self._handle, self._max_batch)
        spill = self._spill
        if spill is not None and spill.pending():
            # records the main ring refused under lock contention: put them back in time
            # order so that fork/exec/exit reach the process table in sequence
            self._read += spill.drain(self._handle, self._max_batch)
            self._out.sort(key=_event_time)
        waiting = self._decoder.finish_batch(final=False)
        out = self._out
        if waiting:
            # an exec whose stdio pipe's other end has not exec'd yet (it may be in a later
            # batch): it and what follows wait, at most RecordDecoder.hold_ns
            held = {id(e) for e in waiting}
            cut = next((i for i, e in enumerate(out) if id(e) in held), len(out))
            out, self._out = out[:cut], out[cut:]
        else:
            self._out = []
        self._delivered += len(out)
        now = time.monotonic()
        if now >= self._next_drop_check:
            self._next_drop_check = now + 1.0
            self._report_drops()
        return out

    def read_records(self, timeout: float) -> list[bytes]:
        """The raw kernel records since the last call, undecoded (benchmarks and tests of
        the decoder use them; the process table is not updated)."""
        ring = self._ring
        if ring is None:
            return []
        if ring.pending() == 0:
            ring.wait(timeout)
        out: list[bytes] = []

        def keep(buf: memoryview, off: int, size: int) -> None:
            out.append(bytes(buf[off:off + size]))

        self._read += ring.drain(keep, self._max_batch)
        if self._spill is not None:
            self._read += self._spill.drain(keep, self._max_batch)
        return out

    def _handle(self, buf: memoryview, off: int, size: int) -> None:
        try:
            ev = self._decoder.decode(buf, off, size)
        except Exception:  # a record the decoder cannot read must not stop the sensor
            self._decoder.errors += 1
            if self._decoder.errors == 1:
                log.exception("eBPF sensor: cannot decode a kernel record (%d bytes); "
                              "counted in decode_errors, further ones are not logged", size)
            return
        if ev is not None and (ev.type in self.event_types or ev.dns is not None):
            self._out.append(ev)

    def stop(self) -> None:
        """Detach the programs and free everything; safe to call twice."""
        if self._obj is None:
            return
        self._obj.detach_all()
        self._decoder.finish_batch()
        if self._ring is not None:
            # what was already in the ring is still read, so the final counts are complete
            self._read += self._ring.drain(lambda b, o, s: None)
            self._report_drops()
            self._ring.close()
            self._ring = None
        if self._spill is not None:
            self._read += self._spill.drain(lambda b, o, s: None)
            self._spill.close()
            self._spill = None
        self._obj.close()
        self._obj = None

    # ------------------------------------------------------------------ counters

    def kernel_counters(self) -> tuple[int, int, int]:
        """(records dropped, records written, drops while the ring had room), summed over CPUs.

        A drop "with room" is a ring-buffer reservation that failed on the ring's lock
        (contention between CPUs) rather than for lack of space.
        """
        obj = self._obj
        if obj is not None:
            for idx, name in enumerate(_COUNTERS):
                raw = obj.lookup("counters", _U32.pack(idx), 8 * self._ncpus)
                self._counters[name] = sum(struct.unpack(f"<{self._ncpus}Q", raw)) if raw else 0
        c = self._counters
        return c["drops"], c["kernel_events"], c["drops_contended"]

    _spill: RingReader | None = None

    def _report_drops(self) -> None:
        drops, _, with_room = self.kernel_counters()
        if drops > self._drops_logged:
            log.warning("eBPF sensor: %d events dropped in the kernel, %d in total (%d of them "
                        "on ring-buffer contention, the rest with the ring full)",
                        drops - self._drops_logged, drops, with_room)
            self._drops_logged = drops

    def stats(self) -> dict[str, int]:
        """Counters: kernel records written and dropped, records dropped by the kernel
        filters, bytes waiting in the ring, records read, events delivered, undecodable
        records, processes in the table, and what the decoder could not fill in."""
        self.kernel_counters()
        pending = self._ring.pending() if self._ring is not None else 0
        dec = self._decoder
        return {**self._counters, "ring_pending_bytes": pending, "read": self._read,
                "events": self._delivered, "decode_errors": dec.errors,
                "processes": len(self.table), "untracked_fds": self.table.untracked_fds,
                **dec.counts.as_dict()}


def choose_objects(choice: str) -> list[Path]:
    """The BPF objects to try in order for a `[sensors] bpf_object` value ("auto": the full
    object, then the compat one); raises ValueError for an unknown name."""
    if choice == "auto":
        return [DEFAULT_OBJECT, COMPAT_OBJECT]
    if choice not in OBJECTS:
        raise ValueError(f"must be one of auto, {', '.join(OBJECTS)}, not {choice!r}")
    return [OBJECTS[choice]]


def unavailable_reason(object_path: Path = DEFAULT_OBJECT) -> str | None:
    """Why the sensor cannot start on this machine (one line), or None when it can.

    Checks what can be checked without loading anything: root, kernel BTF, libbpf and the
    program object. Tests use it to skip with a precise reason.
    """
    if os.geteuid() != 0:
        return f"eBPF sensor unavailable: needs root (running as uid {os.geteuid()})"
    if not BTF_PATH.exists():
        return f"eBPF sensor unavailable: the kernel has no BTF ({BTF_PATH} missing)"
    if not object_path.exists():
        return f"eBPF sensor unavailable: {object_path} not built (run `make bpf`)"
    try:
        Libbpf()
    except LibbpfError as exc:
        return f"eBPF sensor unavailable: {exc}"
    return None


def _event_time(e: Event) -> int:
    return e.ts


def _check_environment(object_path: Path) -> None:
    reason = unavailable_reason(object_path)
    if reason is not None:
        raise SensorUnavailable(reason)
