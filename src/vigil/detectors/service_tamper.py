"""`service_tamper`: taking security tooling out of action, or erasing its traces.

- `service_tamper.service_stop`: `systemctl stop|disable|mask|kill`, `service X stop`,
  `/etc/init.d/X stop`, `invoke-rc.d`, `update-rc.d X disable|remove`, `rc-service`,
  `chkconfig X off`, `pkill`/`killall` of a security service (Vigil, auditd, Falco,
  CrowdSec, fail2ban, AppArmor, ufw/nftables, syslog ...).
- `service_tamper.security_off`: `auditctl -e 0|-D`, `setenforce 0`, `aa-teardown`,
  `ufw disable`, `nft flush ruleset`, `iptables -F`.
- `service_tamper.agent_kill`: a terminating signal sent to the agent's pid.
- `service_tamper.log_clear`: truncating or deleting security logs or shell history,
  `journalctl --vacuum-*`.

Root stopping Vigil (a deploy), package upgrades restarting services, systemd delivering a
stop and log rotation by its daemons are returned suppressed (static layer).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import ClassVar

from vigil.detections import Detection, Suppression
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.event_args import fd_path, int_arg, str_arg
from vigil.detectors.detection_builder import (build_detection, describe_process,
                                               static_suppression)
from vigil.detectors.expiring_map import ExpiringMap
from vigil.detectors.params import minimum
from vigil.detectors.path_patterns import PathPatterns
from vigil.detectors.process_identity import (PACKAGE_INSTALLERS, AgentIdentity, ancestors, basename,
                                              binary_name, command_of, lineage_binary, matched_binary)
from vigil.detectors.service_tamper_allowlist import (AGENT_SERVICES, AUDIT_CLIENTS, LOG_KEEPERS,
                                                      SCRIPT_STOP_ACTIONS,
                                                      SECURITY_LOG_PATTERNS, SECURITY_LOGS,
                                                      SECURITY_SERVICES, STOP_VERBS,
                                                      TERMINATING_SIGNALS)
from vigil.events.flags import is_open_write
from vigil.events.model import Event, Process
from vigil.priority import Priority

NAME = "service_tamper"
STOP_TAGS = ("attack.defense_evasion", "T1562.001", "attack.impact", "T1489")
FIREWALL_TAGS = ("attack.defense_evasion", "T1562.004")
LOG_TAGS = ("attack.defense_evasion", "T1070.002")
HISTORY_TAGS = ("attack.defense_evasion", "T1070.003")
_EXEC = frozenset({"execve", "execveat"})
_KILL = frozenset({"kill", "tkill", "tgkill"})
_OPEN = frozenset({"open", "openat", "openat2"})
_REMOVE = frozenset({"unlink", "unlinkat", "truncate", "ftruncate"})
_RENAME = frozenset({"rename", "renameat", "renameat2"})
AUDIT_TAGS = ("attack.defense_evasion", "T1562.012")
AF_NETLINK, NETLINK_AUDIT = 16, 9
AT_REMOVEDIR = 0x200
VAR_LOG = "/var/log/"
#: names rotation gives old logs: numbered, dated, compressed, `.old`
ROTATED_LOG = re.compile(r"(\.\d+|-\d{8}|\.old)(\.(gz|xz|bz2|zst|lz4|Z))?$|\.(gz|xz|bz2|zst|lz4|Z)$")
#: procps tools installed as links to pgrep, whose behaviour follows argv[0]
PROCPS_ARGV0_TOOLS = frozenset({"pkill", "pidwait"})
_O_TRUNC = 0o1000


@dataclass(frozen=True)
class ServiceTamperParams(DetectorParams):
    """`[detectors.service_tamper]`."""

    DETECTOR: ClassVar[str] = NAME
    #: more service names to protect (as in `systemctl stop <name>`)
    extra_services: tuple[str, ...] = ()
    #: more logs to protect (exact path, directory prefix ending in `/`, or glob)
    extra_log_paths: tuple[str, ...] = ()
    #: a child repeating its parent's stop (`service` running `systemctl`) within this
    #: many seconds is folded into the parent's detection
    dedupe_seconds: float = field(default=30.0, metadata=minimum(0))
    #: a file created under /var/log/ this recently is not an existing log: deleting or
    #: replacing it is not log tampering
    fresh_log_seconds: float = field(default=600.0, metadata=minimum(0))


def _unit(name: str) -> str:
    base = os.path.basename(name)
    for suffix in (".service", ".socket", ".timer"):
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


def _positional(args: list[str]) -> list[str]:
    return [a for a in args if not a.startswith("-")]


def _stop_targets(binary: str, args: list[str], exe: str | None) -> tuple[str, list[str]] | None:
    """(action, units) when the command stops or disables services."""
    pos = _positional(args)
    if binary == "systemctl" and pos and pos[0] in STOP_VERBS:
        return pos[0], [_unit(u) for u in pos[1:]]
    if binary in ("service", "invoke-rc.d", "rc-service", "update-rc.d", "chkconfig",
                  "rc-update") and len(pos) >= 2:
        unit, action = (pos[1], pos[0]) if binary == "rc-update" else (pos[0], pos[1])
        if action in SCRIPT_STOP_ACTIONS:
            return action, [_unit(unit)]
    if exe and exe.startswith("/etc/init.d/") and pos and pos[0] in SCRIPT_STOP_ACTIONS:
        return pos[0], [_unit(exe)]
    if binary in ("pkill", "killall", "pgrep") and binary != "pgrep" and pos:
        signal = next((a for a in args if a.startswith("-") and a[1:].upper().lstrip("SIG")
                       in ("HUP", "USR1", "USR2", "1", "10", "12")), None)
        if signal is None:
            return "kill", [_unit(p) for p in pos]
    return None


def _security_off(binary: str, args: list[str]) -> str | None:
    """A description when the command switches a security mechanism off."""
    joined = " ".join(args)
    if binary == "auditctl" and ("-D" in args or "-e 0" in joined):
        return "auditing disabled (auditctl " + joined + ")"
    if binary == "setenforce" and args[:1] in (["0"], ["Permissive"], ["permissive"]):
        return "SELinux set to permissive"
    if binary in ("aa-teardown", "aa-disable") or (binary == "apparmor_parser" and "-R" in args):
        return f"AppArmor profiles removed ({binary})"
    if binary == "ufw" and args[:1] == ["disable"]:
        return "ufw firewall disabled"
    if binary == "nft" and "flush" in args and "ruleset" in args:
        return "nftables ruleset flushed"
    if binary in ("iptables", "ip6tables", "iptables-legacy", "iptables-nft") and (
            "-F" in args or "--flush" in args):
        return f"{binary} rules flushed"
    return None


def _service_manager(proc: Process) -> Suppression | None:
    """Init delivering the signals of a stop is how services stop."""
    if proc.pid == 1 or matched_binary(proc, {"systemd"}):
        return static_suppression(NAME, "service_manager", binary_name(proc),
                                  "the service manager delivering a stop")
    return None


class ServiceTamperDetector(BuiltinDetector):
    """Stopping security services, killing the agent, clearing logs."""

    name = NAME
    Params = ServiceTamperParams
    #: read-only opens it needs for the kernel filter (vigil.rules.kernel_filters): none,
    #: its opens are truncations
    kernel_read_paths: tuple[str, ...] = ()
    event_types = frozenset(_EXEC | _KILL | _OPEN | _REMOVE | _RENAME | {"socket"})

    params: ServiceTamperParams

    def __init__(self, params: ServiceTamperParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        self._services = SECURITY_SERVICES | frozenset(self.params.extra_services)
        self._extra_logs = PathPatterns({"configured_logs": self.params.extra_log_paths})
        #: the compiler toolchain's writes it needs, for the kernel filter
        #: (vigil.rules.kernel_filters): logs, whoever writes or removes them
        self.kernel_write_paths: tuple[str, ...] = (VAR_LOG, *(
            p for patterns in SECURITY_LOG_PATTERNS.values() for p in patterns),
            *self.params.extra_log_paths)
        #: (pid, unit) already reported, so `service` -> `systemctl` is one detection
        self._reported: ExpiringMap[tuple[int | None, str], bool] = ExpiringMap(
            int(self.params.dedupe_seconds * 1e9))
        #: files created under /var/log/ recently: deleting or replacing them clears
        #: nothing that was there before
        self._fresh_logs: ExpiringMap[str, bool] = ExpiringMap(
            int(self.params.fresh_log_seconds * 1e9))
        #: pid -> parent pid of processes running under a security tool's name, so that a
        #: parent stopping the tool it started (an entrypoint script's trap) is told apart
        self._tool_parents: ExpiringMap[int, int] = ExpiringMap(7 * 86400 * 10**9, 4096)

    def on_event(self, event: Event) -> list[Detection]:
        """Report tampering with security services, the agent or logs."""
        t = event.type
        if t in _EXEC:
            return self._on_exec(event)
        if t in _KILL:
            return self._on_kill(event)
        if t in _OPEN or t in _REMOVE or t in _RENAME:
            return self._on_log_change(event)
        if t == "socket":
            return self._on_socket(event)
        return []

    # -- commands -------------------------------------------------------------------------

    def _stop_suppression(self, event: Event, action: str, unit: str) -> Suppression | None:
        proc = event.proc
        installer = next((hit for a in ancestors(proc, 8)
                          if (hit := matched_binary(a, PACKAGE_INSTALLERS))), None)
        if installer:
            return static_suppression(NAME, "package_managers", installer,
                                      "package upgrade restarts the service it updates")
        if unit in AGENT_SERVICES and action == "stop" and proc.uid == 0:
            return static_suppression(NAME, "root_manages_vigil", unit,
                                      "root service management of vigil (deploy)")
        return None

    def _already_reported(self, event: Event, unit: str) -> bool:
        for anc in ancestors(event.proc, 3):
            if self._reported.get((anc.pid, unit), event.ts):
                return True
        self._reported.put((event.proc.pid, unit), event.ts, True)
        return False

    def _on_exec(self, event: Event) -> list[Detection]:
        proc = event.proc
        if proc.pid is not None and proc.ppid is not None and (
                _unit(proc.name or "") in self._services
                or _unit(basename(proc.exepath) or "") in self._services):
            self._tool_parents.put(proc.pid, event.ts, proc.ppid)
        command = command_of(proc)
        if command is None:
            return []  # an untrusted copy named like a tool is not that tool
        binary, path, args = command
        if binary == "pgrep" and basename(proc.exe) in PROCPS_ARGV0_TOOLS:
            # procps installs pkill (and pidwait) as links to pgrep and acts on argv[0]
            binary = basename(proc.exe) or binary
        out: list[Detection] = []
        stop = _stop_targets(binary, args, path)
        if stop:
            action, units = stop
            for unit in units:
                if unit not in self._services or self._already_reported(event, unit):
                    continue
                agent = unit in AGENT_SERVICES
                output = (f"Security service {unit} {action} requested: "
                          f"`{proc.cmdline()}` by {describe_process(event)}")
                out.append(build_detection(
                    NAME, "service_stop", Priority.CRITICAL if agent else Priority.ERROR,
                    output, STOP_TAGS, event, data={"service": unit, "action": action},
                    suppressed=self._stop_suppression(event, action, unit)))
            return out
        what = _security_off(binary, args)
        if what:
            out.append(build_detection(
                NAME, "security_off", Priority.ERROR,
                f"Security mechanism switched off: {what}, by {describe_process(event)}",
                FIREWALL_TAGS if binary in ("ufw", "nft") or "tables" in binary else STOP_TAGS,
                event, data={"command": proc.cmdline()},
                suppressed=self._installer_suppression(event)))
        elif binary == "journalctl" and any(a.startswith("--vacuum") for a in args):
            out.append(build_detection(
                NAME, "log_clear", Priority.ERROR,
                f"Journal vacuumed: `{proc.cmdline()}` by {describe_process(event)}",
                LOG_TAGS, event, path="/var/log/journal/", data={"command": proc.cmdline()}))
        return out

    def _installer_suppression(self, event: Event) -> Suppression | None:
        installer = lineage_binary(event.proc, PACKAGE_INSTALLERS)
        if installer is None:
            return None
        return static_suppression(NAME, "package_managers", installer,
                                  "package installation reconfigures security tooling")

    # -- signals to the agent -----------------------------------------------------------

    def _on_kill(self, event: Event) -> list[Detection]:
        # kill/tgkill name the process "pid"; tkill names the thread "tid"
        target = int_arg(event, "pid", "tid")
        sig = int_arg(event, "sig")
        if sig not in TERMINATING_SIGNALS:
            return []
        if self.own.pid is None or target != self.own.pid:
            return self._on_tool_kill(event, target, sig)
        if self.own.owns(event.proc):
            return []
        proc = event.proc
        suppression = _service_manager(proc)
        result = "" if event.res is None or event.res >= 0 else " (failed)"
        output = (f"Signal {sig} sent to the Vigil agent (pid {target}) by "
                  f"{describe_process(event)}{result}: {proc.cmdline() or '?'}")
        return [build_detection(NAME, "agent_kill", Priority.CRITICAL, output, STOP_TAGS, event,
                                data={"signal": sig, "target_pid": target},
                                suppressed=suppression)]

    def _on_tool_kill(self, event: Event, target: int | None, sig: int) -> list[Detection]:
        """A terminating signal to a process of a security tool (by its name or file)."""
        if event.res is not None and event.res < 0:
            return []
        names = {n for n in (str_arg(event, "target_name"),
                             basename(str_arg(event, "target_exepath"))) if n}
        tool = next((n for n in sorted(names) if _unit(n) in self._services), None)
        if tool is None or self.own.owns(event.proc) or target == event.proc.pid:
            return []
        unit = _unit(tool)
        # `pkill falco` was reported at its exec; its signals are that same act
        if self._reported.get((event.proc.pid, unit), event.ts) or \
                self._already_reported(event, unit):
            return []
        proc = event.proc
        own_child = target is not None and proc.pid is not None and proc.pid in (
            int_arg(event, "target_ppid"), self._tool_parents.get(target, event.ts))
        suppression = _service_manager(proc) or (
            static_suppression(NAME, "own_child", binary_name(proc),
                               "a process stopping the tool it started itself")
            if own_child else self._installer_suppression(event))
        output = (f"Security tool {tool} (pid {target}) killed with signal {sig} by "
                  f"{describe_process(event)}: {proc.cmdline() or '?'}")
        return [build_detection(NAME, "tool_kill", Priority.ERROR, output, STOP_TAGS, event,
                                data={"service": unit, "signal": sig, "target_pid": target},
                                suppressed=suppression)]

    # -- the kernel audit system ------------------------------------------------------------

    def _on_socket(self, event: Event) -> list[Detection]:
        """A netlink socket to the kernel's audit system, opened by an unexpected program.

        Only the audit daemon, its tools and programs that log user events (PAM and login
        programs) talk to the audit system; anything else opening its control channel is
        preparing to reconfigure or switch off auditing (what `auditctl -e 0` sends)."""
        if (int_arg(event, "domain") != AF_NETLINK or int_arg(event, "proto") != NETLINK_AUDIT
                or (event.res is not None and event.res < 0)):
            return []
        proc = event.proc
        if self.own.owns(proc):
            return []
        client = matched_binary(proc, AUDIT_CLIENTS)
        suppression = None
        if client:
            suppression = static_suppression(NAME, "audit_clients", client,
                                             "the audit daemon, its tools, or a program "
                                             "logging user events to the audit system")
        else:
            suppression = self._installer_suppression(event)
        output = (f"Kernel audit control socket (netlink) opened by unexpected program "
                  f"{describe_process(event)}: {proc.cmdline() or '?'} — the channel "
                  f"`auditctl` uses to disable or reconfigure auditing")
        return [build_detection(NAME, "audit_socket", Priority.ERROR, output, AUDIT_TAGS,
                                event, data={"command": proc.cmdline()},
                                suppressed=suppression)]

    # -- logs -----------------------------------------------------------------------------

    def _on_log_change(self, event: Event) -> list[Detection]:
        if event.res is not None and event.res < 0:
            return []
        t = event.type
        if t in _OPEN:
            path = fd_path(event) or str_arg(event, "name")
            if event.args.get("created") is True:
                if path and path.startswith(VAR_LOG):
                    self._fresh_logs.put(path, event.ts, True)
                return []
            flags = int_arg(event, "flags")
            if flags is None or not (flags & _O_TRUNC and is_open_write(flags)):
                return []
            verb = "truncated"
        elif t == "ftruncate":
            path, verb = fd_path(event), "truncated"
        elif t == "truncate":
            path, verb = str_arg(event, "path"), "truncated"
        elif t in _RENAME:
            # a log replaced by another file (`sed -i` writes a copy and renames it over)
            path, verb = str_arg(event, "newpath"), "replaced"
            old = str_arg(event, "oldpath")
            out = self._log_detection(event, t, path, verb)
            # the file now under the new name is as fresh as the one renamed
            if path and old and path.startswith(VAR_LOG) and self._fresh_logs.pop(old):
                self._fresh_logs.put(path, event.ts, True)
            return out
        else:
            if (int_arg(event, "flags") or 0) & AT_REMOVEDIR:
                return []  # `rm -r` removing a directory: its files were judged one by one
            path, verb = str_arg(event, "path", "name"), "deleted"
        return self._log_detection(event, t, path, verb)

    def _log_detection(self, event: Event, t: str, path: str | None,
                       verb: str) -> list[Detection]:
        if verb == "replaced" and not _active_log(path):
            # renaming onto a rotated name is rotation; outside /var/log/ (bash saves
            # ~/.bash_history by renaming a temporary copy over it) a rename is no clue
            return []
        hit = SECURITY_LOGS.match(path) or self._extra_logs.match(path)
        if hit is None and verb in ("replaced", "deleted") and _active_log(path):
            hit = ("other_logs", path)
        if hit is None or path is None:
            return []
        if t in ("truncate", "ftruncate") and int_arg(event, "length") not in (None, 0):
            return []
        # nothing was cleared: the open created the file, or it was empty already (the
        # sensor reports both; a recording without them keeps the old judgement)
        if event.args.get("created") is True or event.args.get("size_before") == 0:
            return []
        if verb in ("replaced", "deleted") and self._fresh_logs.get(path, event.ts):
            # a log made moments ago (by anyone) holds no one else's traces
            if verb == "deleted":
                self._fresh_logs.pop(path)
            return []
        suppression = None
        keeper = matched_binary(event.proc, LOG_KEEPERS) or (
            "own" if self.own.owns(event.proc) else None)
        if keeper:
            suppression = static_suppression(NAME, "log_keepers", keeper,
                                             "log rotation by the daemons that own the logs")
        else:
            suppression = self._installer_suppression(event)
        history = hit[0] == "shell_history"
        security = not history and hit[0] != "other_logs"
        kind = "Shell history" if history else ("Security log" if security else "Log file")
        output = (f"{kind} {path} {verb} by "
                  f"{describe_process(event)}: {event.proc.cmdline() or '?'}")
        subkind = "history_clear" if history else ("log_clear" if security else "log_tamper")
        priority = Priority.ERROR if security else Priority.WARNING
        return [build_detection(NAME, subkind, priority, output,
                                HISTORY_TAGS if history else LOG_TAGS, event, path=path,
                                data={"operation": verb}, suppressed=suppression)]


def _active_log(path: str | None) -> bool:
    """True for a file under /var/log/ that is a log being written, not a rotated copy
    (`app.log.1`, `app.log.2.gz`, `syslog-20240101`, `app.log.old`)."""
    return bool(path) and path.startswith(VAR_LOG) and not ROTATED_LOG.search(path)  # type: ignore[union-attr]
