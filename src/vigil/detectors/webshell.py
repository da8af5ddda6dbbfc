"""`webshell`: a web server or application runtime spawning a shell or recon tools.

A child of nginx/apache/php-fpm (or of any process running as a web account) that is a
shell or a recon/download tool is a web shell. An application runtime (node, java, python
web servers, ruby ...) counts only while it serves: when the eBPF sensor saw it start and
it listens on no socket (`proc.is_server` false: `node` running npm scripts, a test
runner), its shells are not requests. Under runtimes, shells are also how build and test
scripts run, so a shell
whose every command is a build tool (`sh -c "react-scripts build"`) is returned suppressed
(static layer); `sh -c "id; cat /etc/passwd"` under the same node is alerted. Mail and image
helpers (`sendmail`, `convert` ...) run by web applications are suppressed the same way.
Children of an already reported shell are not reported again.
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
from vigil.detectors.process_identity import (AgentIdentity, ancestors, basename, binary_name,
                                              binary_names, command_of, is_shell)
from vigil.detectors.shell_command import command_stages, shell_command_of
from vigil.detectors.webshell_allowlist import (APP_HELPERS, APP_RUNTIME_PREFIXES,
                                                APP_RUNTIMES, BUILD_SCRIPT_TOOLS,
                                                NOT_WEB_PARENTS, PYTHON_WEB_ENTRY_POINTS,
                                                RECON_TOOLS, WEB_SERVER_PREFIXES, WEB_SERVERS,
                                                WEB_USERS)
from vigil.events.model import Event, Process
from vigil.priority import Priority

NAME = "webshell"
TAGS = ("attack.persistence", "T1505.003", "attack.execution", "T1059.004")
_EXEC = frozenset({"execve", "execveat"})


@dataclass(frozen=True)
class WebshellParams(DetectorParams):
    """`[detectors.webshell]`."""

    DETECTOR: ClassVar[str] = NAME
    #: more web server binaries (shells under them are always reported)
    extra_web_servers: tuple[str, ...] = ()
    #: how long the descendants of a reported shell are folded into its detection
    dedupe_seconds: float = field(default=300.0, metadata=minimum(0))


def _known_not_serving(proc: Process) -> bool:
    """The sensor saw the process start (its stdio is known) and it listens on nothing: a
    runtime running scripts, not answering requests. A process from before the sensor
    started, or from a recording without it, is not judged so."""
    return proc.stdio is not None and not proc.listening


def _python_web(proc: Process) -> bool:
    words = {basename(a) for a in proc.args[:4] if a}
    return not words.isdisjoint(PYTHON_WEB_ENTRY_POINTS)


class WebshellDetector(BuiltinDetector):
    """Shells and recon tools spawned by web servers and application runtimes."""

    name = NAME
    Params = WebshellParams
    event_types = _EXEC

    params: WebshellParams

    def __init__(self, params: WebshellParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        self._servers = WEB_SERVERS | frozenset(self.params.extra_web_servers)
        self._reported: ExpiringMap[int, bool] = ExpiringMap(
            int(self.params.dedupe_seconds * 1e9))

    def _web_parent(self, proc: Process) -> tuple[str, bool] | None:
        """(name, is_pure_web_server) when the parent serves the web."""
        parent = proc.parent
        if parent is None:
            return None
        names = binary_names(parent)
        if names & self._servers or any(n.startswith(WEB_SERVER_PREFIXES) for n in names):
            return binary_name(parent), True
        if names & APP_RUNTIMES or any(n.startswith(APP_RUNTIME_PREFIXES) for n in names) or (
                any(n.startswith("python") for n in names) and _python_web(parent)):
            if _known_not_serving(parent):
                return None
            return binary_name(parent), False
        if parent.user in WEB_USERS and names and not names & NOT_WEB_PARENTS:
            return f"{binary_name(parent)} as {parent.user}", True
        return None

    def _suppression(self, proc: Process, commands: list[str],
                     pure_server: bool) -> Suppression | None:
        if not commands:
            return None
        if all(c in APP_HELPERS for c in commands):
            return static_suppression(NAME, "app_helpers", commands[0],
                                      "mail, image and document helpers run by web apps")
        if not pure_server and all(c in BUILD_SCRIPT_TOOLS for c in commands):
            return static_suppression(NAME, "build_scripts", commands[0],
                                      "npm/build scripts run by an application runtime")
        return None

    def on_event(self, event: Event) -> list[Detection]:
        """Report a shell or recon tool whose parent serves the web."""
        if event.type not in _EXEC or (event.res is not None and event.res < 0):
            return []
        proc = event.proc
        web = self._web_parent(proc)
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
        suppression = self._suppression(proc, commands, pure)
        recon = sorted(set(commands) & RECON_TOOLS)
        if suppression is None and proc.pid is not None:
            self._reported.put(proc.pid, event.ts, True)
        output = (f"Web server/runtime {server} spawned {what} "
                  f"({describe_process(event)})"
                  + (f"; recon/download tools: {', '.join(recon)}" if recon else ""))
        return [build_detection(
            NAME, "recon" if recon else "shell", Priority.CRITICAL, output, TAGS, event,
            data={"server": server, "commands": commands, "recon": recon},
            suppressed=suppression)]
