"""Static knowledge for `process_memory` (and `ptrace`): whose memory holds credentials,
and which tools read other processes' memory for a living.

Always true, everywhere: the processes that handle a login or an unlock hold passwords,
keys and session secrets in clear in their memory (`sshd` and its session children,
`login`, `su`, `sudo`, display-manager session workers, polkit's helper, keyrings and key
agents, FTP daemons). Reading their memory is how credential dumpers (mimipenguin,
3snake, gdb core dumps of sshd) steal them, and no debugger or profiler has a reason to
inspect them on a production host: such reads are never suppressed.

Debuggers, profilers and checkpointing tools (`gdb`, `py-spy`, `criu` ...) read and write
other processes' memory as their job: for any other target, they are audited, never
alerted.
"""

from __future__ import annotations

#: processes that handle authentication, by binary name and by the kernel's 15-character
#: comm of it (`gdm-session-wor`)
AUTH_PROCESSES: frozenset[str] = frozenset({
    "sshd", "sshd-session", "sshd-auth", "dropbear", "login", "su", "sudo", "doas",
    "passwd", "chpasswd", "unix_chkpwd", "gdm-session-worker", "gdm-session-wor",
    "gdm-password", "lightdm", "sddm-helper", "polkit-agent-helper-1", "polkit-agent-he",
    "gnome-keyring-daemon", "gnome-keyring-d", "kwalletd5", "kwalletd6", "ssh-agent",
    "gpg-agent", "vsftpd", "proftpd", "pure-ftpd", "sshpass", "keepassxc", "xrdp",
    "xrdp-sesman", "systemd-logind", "systemd-homed", "pkexec", "kinit", "sssd",
    "sssd_be", "winbindd",
})

#: tools that read (and write) other processes' memory as their job
MEMORY_TOOLS: frozenset[str] = frozenset({
    "gdb", "gdbserver", "gcore", "lldb", "lldb-server", "strace", "ltrace", "rr", "perf",
    "valgrind", "criu", "systemd-coredump", "py-spy", "rbspy", "pyrasite", "memray",
    "austin", "phpspy", "async-profiler", "dotnet-dump", "dotnet-trace", "delve", "dlv",
    "bpftrace", "eu-stack", "pstack", "gstack", "vgdb", "scanmem", "gameconqueror",
})


def is_auth_process(name: str | None, exepath: str | None) -> str | None:
    """The name under which a target is an authentication process, or None."""
    base = exepath.rstrip("/").rpartition("/")[2] if exepath else None
    if base and base.removesuffix(" (deleted)") in AUTH_PROCESSES:
        return base.removesuffix(" (deleted)")
    if name and name in AUTH_PROCESSES:
        return name
    return None
