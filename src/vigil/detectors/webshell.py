"""`webshell`: a process that is serving requests spawning a shell or recon tools.

A process serves when it accepted a network connection (TCP/UDP over IPv4/IPv6) on a
listening socket (an `accept` the detector saw, within `serving_window_seconds`), or when
a forked worker of such a process (same executable) does the spawning; whatever its name
— node, java, python, ruby, a Go binary. Local IPC (a control socket) is not a request. A
child of a pure web server (nginx, apache, php-fpm: they only ever serve), of an
application server (gunicorn, uwsgi, puma ...: they serve, also behind a proxy on a unix
socket) or of a process running as a web account counts as well. Login services and super-servers
(`sshd`, `inetd`, `systemd` ...) accept connections to hand them to a session, not to
answer them, and are not serving parents. A runtime that accepted nothing (`node` running
npm scripts, a test runner, a build) is not serving, whatever its name.

Under a serving application (not a pure web server), shells are also how the application
runs its own fixed pipelines and build tools: a shell is reported when it runs recon or
download tools (`id`, `uname`, `curl` ...), names credential files, or is interactive;
other commands are returned suppressed (static layer, `app_commands`), as are build tools
(`build_scripts`), mail or image helpers (`app_helpers`) and the check commands of
monitoring agents (`monitoring_agents`: zabbix, NRPE ...). Children of an already
reported shell are not reported again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from vigil.detections import Detection, Suppression
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.detection_builder import (build_detection, describe_process,
                                               static_suppression)
from vigil.detectors.expiring_map import ExpiringMap
from vigil.detectors.params import minimum
from vigil.detectors.process_identity import (AgentIdentity, ancestors, binary_name,
                                              binary_names, command_of, is_shell,
                                              matched_binary)
from vigil.detectors.shell_command import command_stages, shell_command_of
from vigil.detectors.webshell_allowlist import (APP_HELPERS, APP_SERVERS, BUILD_SCRIPT_TOOLS,
                                                MONITORING_AGENTS, NOT_SERVING_PARENTS,
                                                NOT_WEB_PARENTS,
                                                RECON_TOOLS, SENSITIVE_PATH_WORDS,
                                                WEB_SERVER_PREFIXES, WEB_SERVERS, WEB_USERS)
from vigil.events.model import Event, Process
from vigil.priority import Priority

NAME = "webshell"
TAGS = ("attack.persistence", "T1505.003", "attack.execution", "T1059.004")
_EXEC = frozenset({"execve", "execveat"})
_ACCEPT = frozenset({"accept", "accept4"})


@dataclass(frozen=True)
class WebshellParams(DetectorParams):
    """`[detectors.webshell]`."""

    DETECTOR: ClassVar[str] = NAME
    #: more web server binaries (shells under them are always reported)
    extra_web_servers: tuple[str, ...] = ()
    #: how long the descendants of a reported shell are folded into its detection
    dedupe_seconds: float = field(default=300.0, metadata=minimum(0))
    #: how long after accepting a connection a process counts as serving
    serving_window_seconds: float = field(default=600.0, metadata=minimum(0))


class WebshellDetector(BuiltinDetector):
    """Shells and recon tools spawned by web servers and application runtimes."""

    name = NAME
    Params = WebshellParams
    event_types = _EXEC | _ACCEPT

    params: WebshellParams

    def __init__(self, params: WebshellParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        self._servers = WEB_SERVERS | frozenset(self.params.extra_web_servers)
        self._reported: ExpiringMap[int, bool] = ExpiringMap(
            int(self.params.dedupe_seconds * 1e9))
        #: pid -> the local end of the last connection it accepted
        self._accepted: ExpiringMap[int, str] = ExpiringMap(
            int(self.params.serving_window_seconds * 1e9))

    def _serving(self, proc: Process, ts: int) -> str | None:
        """Where `proc` accepted a connection: itself, or the process it is a forked
        worker of (same executable, no exec in between)."""
        if proc.pid is None or binary_names(proc) & NOT_SERVING_PARENTS:
            return None
        where = self._accepted.get(proc.pid, ts)
        if where is None and proc.parent is not None and proc.parent.pid is not None \
                and proc.exepath and proc.parent.exepath == proc.exepath:
            where = self._accepted.get(proc.parent.pid, ts)
        return where

    def _web_parent(self, proc: Process, ts: int) -> tuple[str, bool] | None:
        """(name, is_pure_web_server) when the parent serves."""
        parent = proc.parent
        if parent is None:
            return None
        names = binary_names(parent)
        if names & self._servers or any(n.startswith(WEB_SERVER_PREFIXES) for n in names):
            return binary_name(parent), True
        if parent.user in WEB_USERS and names and not names & NOT_WEB_PARENTS:
            return f"{binary_name(parent)} as {parent.user}", True
        where = self._serving(parent, ts)
        if where is not None:
            return f"{binary_name(parent)} (serving on {where})", False
        if names & APP_SERVERS:
            return binary_name(parent), False
        return None

    def _suppression(self, proc: Process, commands: list[str], pure_server: bool,
                     alarming: bool) -> Suppression | None:
        if proc.parent is not None and (hit := matched_binary(proc.parent, MONITORING_AGENTS)):
            return static_suppression(NAME, "monitoring_agents", hit,
                                      "monitoring agents run their server's check commands")
        if not commands:
            return None
        if all(c in APP_HELPERS for c in commands):
            return static_suppression(NAME, "app_helpers", commands[0],
                                      "mail, image and document helpers run by web apps")
        if pure_server:
            return None
        if all(c in BUILD_SCRIPT_TOOLS for c in commands):
            return static_suppression(NAME, "build_scripts", commands[0],
                                      "npm/build scripts run by an application runtime")
        if not alarming:
            return static_suppression(NAME, "app_commands", commands[0],
                                      "an application's own command without recon tools")
        return None

    def on_event(self, event: Event) -> list[Detection]:
        """Report a shell or recon tool whose parent is serving."""
        if event.res is not None and event.res < 0:
            return []
        if event.type in _ACCEPT:
            # a network client: local IPC (a control socket, D-Bus) is not a request
            fd = event.fd
            if event.proc.pid is not None and fd is not None and fd.type in ("ipv4", "ipv6"):
                where = f"{fd.lip}:{fd.lport}" if fd.lport else "a network socket"
                self._accepted.put(event.proc.pid, event.ts, where)
            return []
        if event.type not in _EXEC:
            return []
        proc = event.proc
        web = self._web_parent(proc, event.ts)
        if web is None or self.own.owns(proc):
            return []
        if any(self._reported.get(a.pid, event.ts) for a in ancestors(proc, 4)
               if a.pid is not None):
            return []
        server, pure = web
        shell_cmd = shell_command_of(proc)
        if is_shell(proc):
            commands = [s.binary for s in command_stages(shell_cmd)] if shell_cmd else []
            what = f"shell `{proc.cmdline()}`"
        else:
            command = command_of(proc)
            if command is None or command[0] not in RECON_TOOLS | APP_HELPERS:
                return []
            commands = [command[0]]
            what = f"{command[0]} `{proc.cmdline()}`"
        recon = sorted(set(commands) & RECON_TOOLS)
        text = shell_cmd or " ".join(proc.args)
        sensitive = [w for w in SENSITIVE_PATH_WORDS if w in text]
        interactive = is_shell(proc) and shell_cmd is None
        suppression = self._suppression(proc, commands, pure,
                                        bool(recon or sensitive or interactive))
        if suppression is None and proc.pid is not None:
            self._reported.put(proc.pid, event.ts, True)
        output = (f"Web server/runtime {server} spawned {what} "
                  f"({describe_process(event)})"
                  + (f"; recon/download tools: {', '.join(recon)}" if recon else "")
            + (f"; credential files: {', '.join(sensitive)}" if sensitive else ""))
        return [build_detection(
            NAME, "recon" if recon else "shell", Priority.CRITICAL, output, TAGS, event,
            data={"server": server, "commands": commands, "recon": recon,
                  "sensitive": sensitive},
            suppressed=suppression)]
