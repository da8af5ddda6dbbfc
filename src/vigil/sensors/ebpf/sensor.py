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
from typing import Callable

from vigil.events.model import Event, Process
from vigil.events.proctable import ProcessTable
from vigil.events.toolchain import toolchain_inode_keys
from vigil.sensors.base import SensorUnavailable
from vigil.sensors.ebpf import syscalls as sc
from vigil.sensors.ebpf.decode import RecordDecoder, flood_event
from vigil.sensors.ebpf.lanes import ReadFilter, SensitivePaths, lpm_key, suffix_value
from vigil.sensors.ebpf.libbpf import BpfObject, Libbpf, LibbpfError
from vigil.sensors.ebpf.quietdirs import QuietDirs
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
OPTIONAL_PROGRAMS = ("vigil_truncate", "vigil_ext4_truncate", "vigil_clone")
#: of those, the ways of seeing a file's size before a truncation
_TRUNCATION_PROGRAMS = ("vigil_truncate", "vigil_ext4_truncate")
_SETTINGS = struct.Struct("<IIBBBBB3xI8HBB2x")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
#: the program's counters (CNT_*), by the names `stats()` reports them under
_COUNTERS = ("drops", "kernel_events", "drops_contended", "spilled", "parked",
             "ignored_reads", "ignored_missing_reads", "ignored_missing_execs",
             "ignored_by_argument", "dns_payloads", "priority_events", "drops_priority",
             "flood_folded", "flood_records", "ignored_by_rules",
             "ignored_toolchain_writes")
#: most DNS ports the kernel compares against (vigil.bpf.c: DNS_PORTS)
MAX_DNS_PORTS = 8
#: sizes of the kernel's `ignore_prefixes` map (vigil.bpf.c: PREFIXES, PREFIX_MAX)
_PREFIXES, _PREFIX_MAX = 16, 64
#: vigil.bpf.c: struct flood_key, struct flood_state, struct drop_emitter, DROP_SLOTS
_FLOOD_KEY = struct.Struct("<II")
_FLOOD_STATE = struct.Struct("<QQQ16s64s")
_FLOOD_PRIO = 1 << 31
_EMITTER = struct.Struct("<Q16s")
_DROP_SLOTS = sc.MAX_SYSCALLS + 4
#: names of the drop slots after the syscalls (fork, exit and flood records)
_EXTRA_SLOTS = {sc.MAX_SYSCALLS: "fork", sc.MAX_SYSCALLS + 1: "procexit",
                sc.MAX_SYSCALLS + 2: "flood"}
#: a flood window the kernel has not closed after this long is closed by user space
_STALE_FLOOD_NS = 1_500_000_000
#: vigil.bpf.c: SUFFIXES (entries of wanted_suffixes per filter: reads, then writes)
_SUFFIXES = 16
#: the opens and unlinks whose relative names teach `quiet_dirs`; renames that void it
_RELATIVE_TEACHERS = frozenset({"open", "openat", "creat"})
_RENAMES = frozenset({"rename", "renameat", "renameat2"})
#: removals that can take a stored directory away (its inode may then be reused)
_REMOVALS = frozenset({"unlinkat", "rmdir"})
#: how many processes an "events lost" event names
TOP_EMITTERS = 5
#: the events the sensor makes about itself (delivered when asked for, like any type;
#: always high-value)
_REPORT_TYPES = frozenset({"flood", "events_lost"})


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

    Lanes and floods (docs/sensor.md): high-value records (`syscalls.URGENT_SYSCALLS`,
    fork/exit, paths and files of `sensitive`) come through a priority ring of
    `urgent_ring_size` bytes that ordinary records cannot fill. `flood_limit` (0: off): past
    this many records per second of one process and syscall, the kernel folds the rest of
    the second into one `flood` event. Lost records produce at most one `events_lost` event
    per `lost_interval` seconds, with counts per type and the top emitting processes.
    `read_filter`: the read-only opens the loaded rules and detectors can need
    (`vigil.rules.kernel_filters`); every other normal, ordinary read-only open stays in
    the kernel (a relative one when its working directory is known to hold no wanted
    path: `quietdirs`). None: no such filter. `write_filter`: the same for the writes and
    unlinks of the compiler toolchain's programs (`vigil.events.toolchain`); other
    processes' writes always cross.
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
                 bpf_object: str = "auto",
                 flood_limit: int = 0,
                 urgent_ring_size: int = 4 << 20,
                 lost_interval: float = 10.0,
                 sensitive: SensitivePaths | None = None,
                 read_filter: ReadFilter | None = None,
                 write_filter: ReadFilter | None = None) -> None:
        wanted = sc.ALL_TYPES if event_types is None else frozenset(event_types) & sc.ALL_TYPES
        self.event_types: frozenset[str] = wanted
        #: the sensor's own reports to deliver (`flood`, `events_lost`): those asked for
        self._reports = _REPORT_TYPES if event_types is None else \
            frozenset(event_types) & _REPORT_TYPES
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
        #: copy the first bytes each TCP client connection sends (`args.payload` of that
        #: write/send): asked for by consumers of `write` events, which the sensor only
        #: delivers with a payload (DNS traffic or a first send); needs `dns_ports`, whose
        #: send hooks carry it
        self.first_sends = "write" in wanted and bool(self._dns_ports)
        #: the optional programs that report sizes before truncation, once started
        self.truncation_sources: list[str] = []
        #: the other optional programs attached (vigil_clone: vfork forks ride on execs)
        self.optional_attached: list[str] = []
        self._explicit_object = Path(object_path) if object_path else None
        self._object_choice = bpf_object
        self._object_path = self._explicit_object or DEFAULT_OBJECT
        #: which object runs once started: "full", "compat" (or the explicit path's name)
        self.object_kind = ""
        for what, size in (("ring_size", ring_size), ("urgent_ring_size", urgent_ring_size)):
            if size & (size - 1) or size < 4096:
                raise ValueError(f"{what} must be a power of two >= 4096, got {size}")
        if flood_limit < 0:
            raise ValueError(f"flood_limit must be >= 0, got {flood_limit}")
        self._ring_size = ring_size
        self._urgent_size = urgent_ring_size
        self._flood_limit = flood_limit
        self._lost_interval = lost_interval
        self._sensitive = sensitive if sensitive is not None else SensitivePaths()
        self._read_filter = _fitting(read_filter)
        self._write_filter = _fitting(write_filter, "writes")
        self._wanted_keys: list[bytes] = []
        self._wanted_write_keys: list[bytes] = []
        self._writer_keys: list[bytes] = []
        self._next_writers = 0.0
        self._quiet = QuietDirs(self._quiet_update, self._quiet_delete)
        self._quiet.set_filters(self._read_filter, self._write_filter)
        self._urgent: RingReader | None = None
        #: ids of the events the last `read` took from the priority lane
        self._high_value: set[int] = set()
        #: drops already reported in an `events_lost` event, and when the last one was
        self._lost_reported = 0
        self._lost_reported_prio = 0
        self._next_lost_report = 0.0
        self._next_sweep = 0.0
        self._next_inodes = 0.0
        self._inode_keys: list[bytes] = []
        #: `flood` events made by user space for windows the kernel left open
        self.swept_floods = 0
        #: `events_lost` events made
        self.lost_reports = 0
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
            self._urgent = RingReader(obj.map_fd("urgent"), obj.max_entries("urgent"))
            self._ring.also_wake_on(self._urgent)
            self._ring.also_wake_on(self._spill)
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
        obj.set_max_entries("urgent", self._urgent_size)
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
                if prog in _TRUNCATION_PROGRAMS:
                    self.truncation_sources.append(prog)
                else:
                    self.optional_attached.append(prog)
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
        for key in self._sensitive.path_keys():
            obj.update("sensitive_paths", key, b"\x01")
        self._refresh_inodes(obj)
        self._refresh_writers(obj)
        self._fill_wanted_reads(obj)
        self._fill_wanted_writes(obj)
        self._write_settings(obj)

    def _write_settings(self, obj: BpfObject) -> None:
        ports = self._dns_ports + (0,) * (MAX_DNS_PORTS - len(self._dns_ports))
        obj.update("vigil_settings", _U32.pack(0),
                   _SETTINGS.pack(os.getpid(), self._wake_bytes, 1, 1,
                                  int(self._ignore_missing), int(self._ignore_missing_execs),
                                  int(self.first_sends), self._flood_limit, *ports,
                                  int(self._read_filter is not None),
                                  int(self._write_filter is not None)))

    def _fill_wanted_reads(self, obj: BpfObject) -> None:
        self._wanted_keys = self._fill_wanted(obj, "wanted_reads", 0, self._wanted_keys,
                                              self._read_filter)

    def _fill_wanted_writes(self, obj: BpfObject) -> None:
        self._wanted_write_keys = self._fill_wanted(obj, "wanted_writes", _SUFFIXES,
                                                    self._wanted_write_keys,
                                                    self._write_filter)

    @staticmethod
    def _fill_wanted(obj: BpfObject, trie: str, first_suffix: int, old: list[bytes],
                     wanted: ReadFilter | None) -> list[bytes]:
        """Replace a filter's paths in `trie` (its endings in the `wanted_suffixes` slots
        from `first_suffix`); returns the keys now stored."""
        for key in old:
            obj.delete(trie, key)
        if wanted is None:
            return []
        keys = sorted({lpm_key(p, exact=True) for p in wanted.exact}
                      | {lpm_key(p) for p in wanted.prefixes})
        for key in keys:
            obj.update(trie, key, b"\x01")
        for i in range(_SUFFIXES):
            value = suffix_value(wanted.suffixes[i]) if i < len(wanted.suffixes) else bytes(36)
            obj.update("wanted_suffixes", _U32.pack(first_suffix + i), value)
        return keys

    def set_read_filter(self, read_filter: ReadFilter | None,
                        write_filter: ReadFilter | None = None) -> None:
        """Replace the rule-derived filters of a running sensor (after a rule reload):
        off first (and every quiet directory forgotten), then the new paths, then on, so
        no needed event is lost meanwhile."""
        obj = self._obj
        read_filter = _fitting(read_filter)
        write_filter = _fitting(write_filter, "writes")
        self._read_filter = self._write_filter = None
        if obj is None:
            self._read_filter, self._write_filter = read_filter, write_filter
            self._quiet.set_filters(read_filter, write_filter)
            return
        self._write_settings(obj)
        self._quiet.set_filters(None, None)
        self._read_filter, self._write_filter = read_filter, write_filter
        self._fill_wanted_reads(obj)
        self._fill_wanted_writes(obj)
        self._quiet.set_filters(read_filter, write_filter)
        self._write_settings(obj)

    def _quiet_update(self, key: bytes, value: bytes) -> None:
        if self._obj is not None:
            self._obj.update("quiet_dirs", key, value)

    def _quiet_delete(self, key: bytes) -> None:
        if self._obj is not None:
            self._obj.delete("quiet_dirs", key)

    def _refresh_writers(self, obj: BpfObject) -> None:
        """Point `quiet_writers` at the toolchain programs installed now (an upgrade
        replaces them with new inodes); at most once a minute."""
        now = time.monotonic()
        if now < self._next_writers:
            return
        self._next_writers = now + 60.0
        self._writer_keys = _sync_keys(obj, "quiet_writers", self._writer_keys,
                                       toolchain_inode_keys())

    def _refresh_inodes(self, obj: BpfObject) -> None:
        """Point `sensitive_inodes` at the sensitive files as they are now (a password
        change replaces /etc/shadow with a new inode)."""
        self._inode_keys = _sync_keys(obj, "sensitive_inodes", self._inode_keys,
                                      self._sensitive.inode_keys())

    def read(self, timeout: float) -> list[Event]:
        """Events since the last call; waits at most `timeout` seconds when there are none."""
        ring, urgent = self._ring, self._urgent
        if ring is None or urgent is None:
            return []
        if ring.pending() == 0 and urgent.pending() == 0:
            ring.wait(timeout)
        # events are collected in self._out, so that an exception in the middle of a batch
        # (KeyboardInterrupt) leaves them for the next call instead of losing them
        self._read += self._drain_in_order(self._handle)
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
            self._housekeeping(now)
        return out

    def _drain_in_order(self, handle: Callable[[memoryview, int, int], None]) -> int:
        """Hand the records of the three rings (priority lane, bulk lane, spill) to
        `handle` in time order, so that fork, exec, bind and exit reach the process table
        in sequence whichever lane carried them; returns how many. Each ring gives at most
        `max_batch` records a call. Remembers which events came from the priority lane
        (`high_value`)."""
        rings = [r for r in (self._urgent, self._ring, self._spill) if r is not None]
        taken = [r.peek(self._max_batch) for r in rings]
        order: list[tuple[int, int, int, int]]
        busy = [i for i, (recs, _) in enumerate(taken) if recs]
        if len(busy) == 1:
            order = [(0, busy[0], off, size) for off, size in taken[busy[0]][0]]
        else:
            unpack = _U64.unpack_from
            order = sorted((unpack(rings[i].data, off)[0], i, off, size)
                           for i in busy for off, size in taken[i][0])
        high: set[int] = set()
        out = self._out
        try:
            for _ts, i, off, size in order:
                ring = rings[i]
                before = len(out)
                handle(ring.data, off, size)
                if ring is self._urgent and len(out) > before:
                    high.add(id(out[-1]))
        finally:
            # released only after the handler is done with the bytes
            for r, (_, cons) in zip(rings, taken):
                r.release(cons)
            self._high_value = high
        return len(order)

    def high_value(self, batch: list[Event]) -> list[Event]:
        """The events of `batch` (the last `read`) that came through the priority lane,
        and flood and loss reports: what the agent keeps when its queue is full."""
        ids = self._high_value
        return [e for e in batch if id(e) in ids or e.type in _REPORT_TYPES]

    def _housekeeping(self, now: float) -> None:
        """Once a second: drops (logged, and an `events_lost` event at most once per
        interval), stale flood windows, the sensitive inodes (every 10 s)."""
        obj = self._obj
        if obj is None:
            return
        self._report_drops()
        if now >= self._next_lost_report and "events_lost" in self._reports:
            lost = self._lost_event()
            if lost is not None:
                self._out.append(lost)
                self._next_lost_report = now + self._lost_interval
        if self._flood_limit and now >= self._next_sweep:
            self._next_sweep = now + 2.0
            swept = self._sweep_floods(obj)
            if "flood" in self._reports:
                self._out.extend(swept)
        if now >= self._next_inodes:
            self._next_inodes = now + 10.0
            try:
                self._refresh_inodes(obj)
                self._refresh_writers(obj)
                self._quiet.revalidate()
            except LibbpfError as exc:
                log.warning("eBPF sensor: cannot refresh the sensitive inodes: %s", exc)

    def _sweep_floods(self, obj: BpfObject) -> list[Event]:
        """`flood` events for the windows the kernel did not close (the flood stopped:
        no next record came to send the aggregate)."""
        boot_now = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
        out: list[Event] = []
        for key in obj.keys("flood", _FLOOD_KEY.size):
            raw = obj.lookup("flood", key, _FLOOD_STATE.size)
            if raw is None:
                continue
            start, offered, folded, comm_b, sample_b = _FLOOD_STATE.unpack(raw)
            if boot_now - start < _STALE_FLOOD_NS:
                continue
            obj.delete("flood", key)
            if not folded:
                continue
            tgid, nr = _FLOOD_KEY.unpack(key)
            proc = self.table.get(tgid) or Process(
                pid=tgid, name=comm_b.split(b"\0", 1)[0].decode("utf-8", "backslashreplace"))
            sample = sample_b.split(b"\0", 1)[0].decode("utf-8", "backslashreplace")
            out.append(flood_event(time.time_ns(), proc, nr & ~_FLOOD_PRIO, folded, offered,
                                   min(boot_now - start, 1_000_000_000),
                                   bool(nr & _FLOOD_PRIO), sample or None, self._decoder.hostname))
            self.swept_floods += 1
        return out

    def _lost_event(self) -> Event | None:
        """An `events_lost` event for the records lost since the last one (None: none),
        with counts per event type and the processes that lost the most; the kernel's
        per-type and per-process counts are cleared as they are read."""
        obj = self._obj
        drops, _, _ = self.kernel_counters()
        prio = self._counters["drops_priority"]
        if obj is None or drops <= self._lost_reported:
            return None
        lost, lost_prio = drops - self._lost_reported, prio - self._lost_reported_prio
        self._lost_reported, self._lost_reported_prio = drops, prio
        by_type: dict[str, int] = {}
        width = 8 * self._ncpus
        zero = bytes(width)
        for slot in range(_DROP_SLOTS):
            raw = obj.lookup("drops_by_nr", _U32.pack(slot), width)
            if not raw or raw == zero:
                continue
            n = sum(struct.unpack(f"<{self._ncpus}Q", raw))
            sdef = sc.BY_NR.get(slot)
            name = _EXTRA_SLOTS.get(slot) or (sdef.name if sdef is not None else str(slot))
            by_type[name] = by_type.get(name, 0) + n
            obj.update("drops_by_nr", _U32.pack(slot), zero)
        emitters: list[tuple[int, int, str]] = []
        for key in obj.keys("drops_by_tgid", 4, limit=4096):
            raw = obj.lookup("drops_by_tgid", key, _EMITTER.size)
            obj.delete("drops_by_tgid", key)
            if raw is None:
                continue
            count, comm_b = _EMITTER.unpack(raw)
            emitters.append((count, _U32.unpack(key)[0],
                             comm_b.split(b"\0", 1)[0].decode("utf-8", "backslashreplace")))
        emitters.sort(reverse=True)
        top = [{"pid": pid, "name": name, "count": count}
               for count, pid, name in emitters[:TOP_EMITTERS]]
        self.lost_reports += 1
        # the event is the top emitter's: its incident joins that process's story
        proc = Process()
        if emitters:
            _, pid, name = emitters[0]
            proc = self.table.get(pid) or Process(pid=pid, name=name)
        return Event(type="events_lost", ts=time.time_ns(), res=0, proc=proc,
                     hostname=self._decoder.hostname,
                     args={"count": lost, "priority": lost_prio,
                           "by_type": dict(sorted(by_type.items(), key=lambda kv: -kv[1])),
                           "top": top})

    def read_records(self, timeout: float) -> list[bytes]:
        """The raw kernel records since the last call, undecoded (benchmarks and tests of
        the decoder use them; the process table is not updated)."""
        ring = self._ring
        if ring is None:
            return []
        if ring.pending() == 0 and (self._urgent is None or self._urgent.pending() == 0):
            ring.wait(timeout)
        out: list[bytes] = []

        def keep(buf: memoryview, off: int, size: int) -> None:
            out.append(bytes(buf[off:off + size]))

        self._read += self._drain_in_order(keep)
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
        if ev is None:
            return
        if self._quiet.active:
            t = ev.type
            if t in _RELATIVE_TEACHERS:
                raw = ev.fd.nameraw if ev.fd is not None else None
                if raw and raw[0] != "/" and (ev.res is None or ev.res >= 0):
                    self._quiet.note(ev.proc.cwd)
            elif t in _RENAMES:
                self._quiet.renamed(ev.args.get("oldpath"))
            elif t in _REMOVALS:
                self._quiet.renamed(ev.args.get("name") or ev.args.get("path"))
        if ev.type in self.event_types or ev.dns is not None or ev.type in self._reports:
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
        if self._urgent is not None:
            self._read += self._urgent.drain(lambda b, o, s: None)
            self._urgent.close()
            self._urgent = None
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


def _sync_keys(obj: BpfObject, name: str, old: list[bytes], new: list[bytes]) -> list[bytes]:
    """Make the set map `name` hold the keys `new` instead of `old`; returns `new`."""
    if new != old:
        for key in set(old) - set(new):
            obj.delete(name, key)
        for key in new:
            obj.update(name, key, b"\x01")
    return new


def _fitting(read_filter: ReadFilter | None, what: str = "reads"
             ) -> ReadFilter | None:
    """The filter, or None (no filter: every such event is sent) when it has more paths
    than the kernel's trie holds."""
    if read_filter is None:
        return None
    if not read_filter.fits():
        log.warning("eBPF sensor: the rules need more %s paths (%d) or file name endings "
                    "(%d) than the kernel filter holds: %s are not filtered", what,
                    len(read_filter.exact) + len(read_filter.prefixes),
                    len(read_filter.suffixes), what)
        return None
    return read_filter


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


def _check_environment(object_path: Path) -> None:
    reason = unavailable_reason(object_path)
    if reason is not None:
        raise SensorUnavailable(reason)
