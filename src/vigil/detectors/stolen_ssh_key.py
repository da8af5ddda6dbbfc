"""`stolen_ssh_key`: an SSH client logging in with another account's private key — lateral
movement with a stolen key.

The key file an `ssh`/`scp`/`sftp` client is given (`-i PATH`, `-o IdentityFile=PATH`) is
another account's when it lies in that account's `~/.ssh/` (`/home/bob/.ssh/id_ed25519`
used by root or alice), or when it is a copy of such a key: a process of another user
read a private key under someone's `~/.ssh/` and, the same process, wrote the copy
(`cp /home/bob/.ssh/id_ed25519 /tmp/.k`), within `window_seconds`. Reported
(`stolen_ssh_key.login`, Error) with the key's owner and where the copy came from.

A user's own key (anywhere), keys in system places (`/etc/...`, a deploy key under
`/var/lib/...`) and keys root reads to install them are not reported; only their use by
another account for a login is. No static allowlist: a shared deploy key used across
accounts is an environment fact for `[allowlist]`.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import ClassVar

from vigil.detections import Detection
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.detection_builder import build_detection, describe_process
from vigil.detectors.event_args import int_arg
from vigil.detectors.expiring_map import ExpiringMap
from vigil.detectors.params import minimum
from vigil.detectors.process_identity import AgentIdentity, binary_name
from vigil.events.model import Event, Process
from vigil.events.toolchain import is_toolchain_binary
from vigil.priority import Priority

NAME = "stolen_ssh_key"
TAGS = ("attack.lateral_movement", "T1021.004", "attack.credential_access", "T1552.004")
_EXEC = frozenset({"execve", "execveat"})
_OPEN = frozenset({"open", "openat", "openat2"})
_O_ACCMODE, _O_RDONLY = 3, 0
#: a private key under an account's ~/.ssh (public halves, known_hosts, config are not)
_HOME_KEY = re.compile(r"^(?:/home/([^/]+)|/root)/\.ssh/([^/]+)$")
_NOT_KEYS = re.compile(r"\.pub$|^(known_hosts.*|authorized_keys.*|config|environment)$")
_CLIENTS = frozenset({"ssh", "scp", "sftp", "autossh", "rsync"})


@dataclass(frozen=True)
class StolenSshKeyParams(DetectorParams):
    """`[detectors.stolen_ssh_key]`."""

    DETECTOR: ClassVar[str] = NAME
    #: how long a copied key is remembered
    window_seconds: float = field(default=3600.0, metadata=minimum(1))


def key_owner(path: str) -> str | None:
    """The account whose private key `path` is (by its place under ~/.ssh), else None."""
    m = _HOME_KEY.match(posixpath.normpath(path))
    if m is None or _NOT_KEYS.search(m.group(2)):
        return None
    return m.group(1) or "root"


def identity_files(proc: Process) -> list[str]:
    """The key files given to an ssh client on its command line."""
    out, args = [], proc.args
    for i, a in enumerate(args):
        if a == "-i" and i + 1 < len(args):
            out.append(args[i + 1])
        elif a.startswith("-i") and len(a) > 2 and not a.startswith("-i="):
            out.append(a[2:])
        elif a.lower().startswith(("identityfile=", "-oidentityfile=")):
            out.append(a.split("=", 1)[1])
        elif a == "-o" and i + 1 < len(args) and args[i + 1].lower().startswith("identityfile"):
            out.append(re.split(r"[= ]", args[i + 1], maxsplit=1)[-1])
    return [posixpath.normpath(posixpath.join(proc.cwd or "/", p)) for p in out if p]


class StolenSshKeyDetector(BuiltinDetector):
    """Another account's private SSH key, or a copy of it, used to log in."""

    name = NAME
    Params = StolenSshKeyParams
    event_types = _EXEC | _OPEN
    #: read-only opens it needs for the kernel filter (vigil.rules.kernel_filters): keys
    #: under a ~/.ssh directory (such paths always cross)
    kernel_read_paths: tuple[str, ...] = ("*/.ssh/*",)
    #: the compiler toolchain's writes it needs: none, a compiler's output is no copy of
    #: a key (ignored below as well); writes under ~/.ssh always cross
    kernel_write_paths: tuple[str, ...] = ()

    params: StolenSshKeyParams

    def __init__(self, params: StolenSshKeyParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        window_ns = int(self.params.window_seconds * 1e9)
        #: pid -> (key read, its owner) of a process that read another account's key
        self._read: ExpiringMap[int, tuple[str, str]] = ExpiringMap(window_ns)
        #: path of a copy -> (original key, its owner, who copied)
        self._copies: ExpiringMap[str, tuple[str, str, str]] = ExpiringMap(window_ns)

    def on_event(self, event: Event) -> list[Detection]:
        """Follow key reads and copies; report a login with another account's key."""
        if event.res is not None and event.res < 0:
            return []
        if event.type in _OPEN:
            self._on_open(event)
            return []
        if event.type in _EXEC:
            return self._on_exec(event)
        return []

    def _on_open(self, event: Event) -> None:
        fd, proc = event.fd, event.proc
        if fd is None or not fd.name or proc.pid is None:
            return
        flags = int_arg(event, "flags")
        if flags is None:
            return
        if (flags & _O_ACCMODE) == _O_RDONLY:
            owner = key_owner(fd.name)
            if owner is not None and owner != proc.user:
                self._read.put(proc.pid, event.ts, (fd.name, owner))
            return
        read = self._read.get(proc.pid, event.ts)
        if read is not None and key_owner(fd.name) is None \
                and not is_toolchain_binary(proc.exepath):
            self._copies.put(fd.name, event.ts, (read[0], read[1], binary_name(proc)))

    def _on_exec(self, event: Event) -> list[Detection]:
        proc = event.proc
        if binary_name(proc) not in _CLIENTS or self.own.owns(proc):
            return []
        for key in identity_files(proc):
            owner = key_owner(key)
            how = None
            if owner is not None and owner != proc.user:
                how = f"{key} is {owner}'s key"
            elif (copy := self._copies.get(key, event.ts)) is not None and copy[1] != proc.user:
                owner = copy[1]
                how = f"{key} is a copy of {owner}'s key {copy[0]} (made by {copy[2]})"
            if how is None:
                continue
            output = (f"SSH login with another account's private key: {describe_process(event)}"
                      f" uses {how}: {proc.cmdline() or '?'}")
            return [build_detection(NAME, "login", Priority.ERROR, output, TAGS, event,
                                    path=key, data={"key": key, "owner": owner,
                                                    "used_by": proc.user})]
        return []
