"""Static knowledge for `masquerade`: the names of kernel threads and of system daemons.

Always true, everywhere: kernel threads never call execve, so no executable file may run
under a kernel thread's name; and a system daemon's name belongs to the daemon's own
binary. Nothing here depends on the host, so environment-specific exceptions belong in
`[allowlist]` of vigil.toml.
"""

from __future__ import annotations

import re

#: kernel thread names as `ps` shows them (comm, without the brackets ps adds); a bare
#: "watchdog" is left out: it is also a user-space daemon (/usr/sbin/watchdog)
KERNEL_THREAD_NAME = re.compile(
    r"(kworker|ksoftirqd|kthreadd|kswapd\d*|migration/|rcu_|rcuc/|rcuog/|rcuop/|"
    r"kdevtmpfs|khungtaskd|kcompactd\d*|khugepaged|kblockd|kintegrityd|kauditd|"
    r"oom_reaper|cpuhp/|irq/\d|ksmd|kthrotld|scsi_eh_\d|scsi_tmf_\d|jbd2/|xfsaild|"
    r"ext4-rsv-conver|writeback|watchdog/\d|watchdogd|kaluad|ipv6_addrconf|"
    r"mm_percpu_wq|kstrp|idle_inject/|card\d+-crtc|ttm_swap|kpsmoused|khvcd|edac-poller|"
    r"devfreq_wq|kmpath_rdacd|kworker/u)")

#: system daemons whose names malware borrows (ps shows a harmless-looking name)
DAEMON_NAMES: frozenset[str] = frozenset({
    "sshd", "sshd-session", "systemd", "systemd-journald", "systemd-logind",
    "systemd-udevd", "systemd-resolved", "systemd-networkd", "systemd-timesyncd", "init",
    "cron", "crond", "atd", "rsyslogd", "syslog-ng", "dbus-daemon", "dbus-broker", "agetty",
    "udevd", "polkitd", "NetworkManager", "wpa_supplicant", "dhclient", "chronyd", "ntpd",
    "containerd", "dockerd", "nginx", "httpd", "apache2", "mysqld", "mariadbd", "postgres",
    "master", "qmgr", "pickup", "exim4", "sendmail", "auditd", "irqbalance", "snapd",
    "accounts-daemon", "udisksd", "upowerd", "avahi-daemon", "cupsd", "named", "unbound",
    "dnsmasq", "php-fpm", "redis-server", "memcached", "getty", "login",
})

#: where system daemons' binaries are installed
SYSTEM_BIN_DIRS: tuple[str, ...] = ("/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/",
                                    "/usr/lib/", "/usr/libexec/", "/lib/", "/usr/local/sbin/",
                                    "/usr/local/bin/", "/opt/", "/snap/")


def kernel_thread_like(name: str | None) -> bool:
    """True for a name that reads as a kernel thread's: `[kworker/1:1H]` or `kswapd0`."""
    if not name:
        return False
    if len(name) > 2 and name[0] == "[" and name[-1] == "]":
        return True
    return KERNEL_THREAD_NAME.match(name) is not None
