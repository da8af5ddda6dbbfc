"""Who a process really is: the judged binary name, its ancestry, and whether it is us.

Detectors judge the binary, never words in argv: a process counts as `cc` when the file it
executes is `cc` (basename of `exepath`), not because `cc` appears in its arguments. A
binary that runs from a world-writable place (`/tmp`, `/dev/shm`, ...) or from a memfd is
never trusted as a known tool, whatever its name. For scripts (an interpreter running a
file), the script's name counts too when the script lives in a system directory, so
`/usr/bin/certbot` (python) is judged as `certbot`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Iterable, Iterator

from vigil.events.model import Process

#: places anyone can write to: a binary there is never a trusted tool
UNTRUSTED_DIRS: tuple[str, ...] = ("/tmp/", "/var/tmp/", "/dev/shm/", "/run/shm/", "/memfd:",
                                   "memfd:", "/proc/")

#: directories where installed scripts live (a script elsewhere is not trusted by name)
SYSTEM_SCRIPT_DIRS: tuple[str, ...] = ("/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/",
                                       "/usr/local/bin/", "/usr/local/sbin/", "/usr/lib/",
                                       "/usr/libexec/", "/usr/share/", "/lib/", "/opt/",
                                       "/snap/")

SHELLS: frozenset[str] = frozenset({
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox", "fish", "tcsh", "csh",
    "rbash",
})

#: script interpreters: their own name says little, the script they run says more
INTERPRETERS: frozenset[str] = SHELLS | frozenset({
    "python", "python2", "python3", "perl", "ruby", "node", "nodejs", "php", "lua",
    "tclsh", "wish",
}) | frozenset(f"python3.{n}" for n in range(6, 15)) | frozenset(
    f"php{v}" for v in ("7.4", "8.0", "8.1", "8.2", "8.3", "8.4"))

#: the package managers proper (what runs under them is a package installation)
PACKAGE_INSTALLERS: frozenset[str] = frozenset({
    "dpkg", "apt", "apt-get", "aptitude", "unattended-upgrade", "unattended-upgrades", "rpm",
    "dnf", "dnf5", "yum", "microdnf", "zypper", "apk", "pacman", "snapd", "packagekitd",
})

#: package managers and the helpers they run; what runs under them installs software
PACKAGE_MANAGERS: frozenset[str] = PACKAGE_INSTALLERS | frozenset({
    "dpkg-divert", "dpkg-statoverride", "dpkg-trigger", "update-alternatives", "ucf",
    "ucfr", "debconf", "rpm", "dnf", "dnf5", "yum", "microdnf", "zypper", "apk", "pacman",
    "snapd", "snap", "flatpak", "packagekitd", "needrestart", "deb-systemd-helper",
    "deb-systemd-invoke", "invoke-rc.d", "pam-auth-update", "update-initramfs",
})


def basename(path: str | None) -> str | None:
    """The last component of a path (None stays None)."""
    if not path:
        return None
    return path.rstrip("/").rpartition("/")[2] or None


def is_trusted_location(exepath: str | None) -> bool:
    """False for executables in world-writable places or memfds."""
    if exepath is None:
        return True
    return not exepath.startswith(UNTRUSTED_DIRS)


def _script_index(proc: Process) -> int | None:
    for i, arg in enumerate(proc.args[:3]):
        if arg.startswith("-"):
            if arg in ("-c", "-e", "-m", "-r"):
                return None  # inline code, not a script file
            continue
        return i
    return None


def _script_of(proc: Process) -> str | None:
    i = _script_index(proc)
    return None if i is None else proc.args[i]


def script_path(proc: Process) -> str | None:
    """The script file an interpreter runs (`/opt/netmon/agent.py` for `python3
    /opt/netmon/agent.py`), by absolute path; None for anything else."""
    if (basename(proc.exepath) or basename(proc.exe) or proc.name) not in INTERPRETERS:
        return None
    script = _script_of(proc)
    return script if script and script.startswith("/") else None


def binary_names(proc: Process) -> frozenset[str]:
    """The names a process is judged by (empty when it runs from an untrusted place)."""
    names = _names_of_binary(proc.exepath, proc.exe, proc.name)
    if names is not None:
        return names
    return _names_of_script(proc.exepath, proc.exe, proc.name, _script_of(proc))


# Every detector asks who the process of an exec is; the answer depends on a few strings
# only, so it is computed once per distinct binary rather than once per detector and event.
@functools.lru_cache(maxsize=4096)
def _names_of_binary(exepath: str | None, exe: str | None,
                     name: str | None) -> frozenset[str] | None:
    """The names of a non-interpreter binary; None for an interpreter (its script counts)."""
    if not is_trusted_location(exepath):
        return frozenset()
    judged = basename(exepath) or basename(exe) or name
    if judged in INTERPRETERS or judged is None:
        return None
    return frozenset((judged,)) if judged else frozenset()


@functools.lru_cache(maxsize=4096)
def _names_of_script(exepath: str | None, exe: str | None, name: str | None,
                     script: str | None) -> frozenset[str]:
    judged = basename(exepath) or basename(exe) or name
    names = {judged} if judged else set()
    if script and script.startswith(SYSTEM_SCRIPT_DIRS):
        names.add(basename(script))
        if name:
            names.add(name)  # comm of a shebang script is the script's name
    return frozenset(n for n in names if n)


def command_of(proc: Process) -> tuple[str, str, list[str]] | None:
    """`(name, path, arguments)` of what the process runs, judged by binary.

    For an interpreter running an installed script (`/usr/sbin/service`, `/etc/init.d/x`),
    this is the script and the arguments after it. None when the executable lives in an
    untrusted place.
    """
    if not is_trusted_location(proc.exepath):
        return None
    path = proc.exepath or proc.exe or proc.name or ""
    exe = basename(path) or "?"
    if exe in INTERPRETERS:
        i = _script_index(proc)
        if i is not None and proc.args[i].startswith(SYSTEM_SCRIPT_DIRS + ("/etc/init.d/",)):
            script = proc.args[i]
            return basename(script) or exe, script, list(proc.args[i + 1:])
    return exe, path, list(proc.args)


def display_name(proc: Process) -> str:
    """The name a process is shown and allowlisted as: the installed script it runs
    (`certbot` for `python3 /usr/bin/certbot`), else its executable's name."""
    command = command_of(proc)
    return command[0] if command is not None and command[0] != "?" else binary_name(proc)


def binary_name(proc: Process) -> str:
    """The single name shown in outputs: executable basename, else comm, else '?'."""
    return basename(proc.exepath) or proc.name or basename(proc.exe) or "?"


def matched_binary(proc: Process, names: Iterable[str] | frozenset[str]) -> str | None:
    """The name under which `proc` is one of `names`, or None."""
    found = binary_names(proc) & (names if isinstance(names, frozenset) else frozenset(names))
    return min(found) if found else None


def ancestors(proc: Process, depth: int = 64) -> Iterator[Process]:
    """The parent, grandparent, ... of `proc`, at most `depth` of them."""
    p = proc.parent
    while p is not None and depth > 0:
        yield p
        p = p.parent
        depth -= 1


def lineage_binary(proc: Process, names: frozenset[str], depth: int = 8) -> str | None:
    """The first name of `names` that `proc` or one of its ancestors is judged as."""
    hit = matched_binary(proc, names)
    if hit:
        return hit
    for anc in ancestors(proc, depth):
        hit = matched_binary(anc, names)
        if hit:
            return hit
    return None


def is_shell(proc: Process) -> bool:
    """True when the process executes a shell (judged by its binary)."""
    return bool(binary_names(proc) & SHELLS) or (
        proc.exepath is None and (proc.name or "") in SHELLS)


@dataclass(frozen=True)
class AgentIdentity:
    """Vigil's own process: its pid (and a dedicated uid when it does not run as root).

    Our own process and the helpers it starts (e.g. `journalctl -f`) are not suspicious.
    """

    pid: int | None = None
    uid: int | None = None

    def owns(self, proc: Process) -> bool:
        """True when `proc` is the agent or one of its descendants."""
        pid = self.pid
        if pid is not None:
            p: Process | None = proc
            for _ in range(17):  # the process and 16 ancestors
                if p is None:
                    break
                if p.pid == pid:
                    return True
                p = p.parent
        # uid 0 is shared with everything else running as root: only a dedicated uid counts
        return self.uid not in (None, 0) and proc.uid == self.uid
