"""Static knowledge for `recon_burst`: which commands are discovery, and who runs many.

Discovery commands are grouped by what they reveal (ATT&CK's discovery techniques): a
burst is many *different* ones, across many categories, so a monitoring loop repeating
`ss`, `ps` and `df` stays one or two categories however often it runs. System-report tools
(`neofetch`, `sosreport`, configuration-management fact gathering) run such bursts by
design; they are recognised by their binary in the lineage.
"""

from __future__ import annotations

#: binary -> category, for commands that are discovery whatever their arguments
COMMAND_CATEGORY: dict[str, str] = {
    **dict.fromkeys(("id", "whoami", "groups", "who", "w", "last", "lastlog", "lastb",
                     "users", "finger", "logname", "pinky"), "users"),
    **dict.fromkeys(("uname", "hostname", "hostnamectl", "lsb_release", "lscpu",
                     "dmidecode", "arch", "lshw", "lspci", "lsusb"), "system"),
    **dict.fromkeys(("ps", "pstree"), "processes"),
    **dict.fromkeys(("ss", "netstat", "ip", "ifconfig", "route", "arp", "iwconfig",
                     "nmcli", "resolvectl"), "network"),
    **dict.fromkeys(("getcap", "capsh"), "privileges"),
    **dict.fromkeys(("crontab", "atq"), "scheduled"),
    **dict.fromkeys(("mount", "findmnt", "df", "lsblk", "blkid"), "storage"),
    **dict.fromkeys(("lsmod", "dmesg", "modinfo", "sysctl"), "kernel"),
    **dict.fromkeys(("env", "printenv"), "environment"),
    **dict.fromkeys(("getent",), "accounts"),
}

#: files whose reading by a text tool (`cat /etc/passwd`) is discovery, by category
FILE_CATEGORY: dict[str, str] = {
    "/etc/passwd": "accounts", "/etc/group": "accounts", "/etc/shadow": "accounts",
    "/etc/sudoers": "privileges", "/etc/os-release": "system", "/etc/issue": "system",
    "/etc/lsb-release": "system", "/usr/lib/os-release": "system", "/proc/version": "system",
    "/etc/hosts": "network", "/etc/resolv.conf": "network", "/proc/net/tcp": "network",
    "/proc/net/arp": "network", "/proc/modules": "kernel", "/etc/crontab": "scheduled",
    "/etc/fstab": "storage", "/proc/mounts": "storage",
}

#: tools that print files (their arguments name what is read)
FILE_READERS: frozenset[str] = frozenset({"cat", "head", "tail", "less", "more", "grep",
                                          "awk", "sed", "strings", "tac"})

#: directories whose listing is looking for users and their files
HOME_DIRS: frozenset[str] = frozenset({"/root", "/home", "/root/", "/home/"})

#: programs that gather system facts as their job, with their descendants
SYSTEM_REPORTERS: frozenset[str] = frozenset({
    "neofetch", "screenfetch", "fastfetch", "inxi", "sosreport", "sos", "hwinfo", "facter",
    "ohai", "landscape-sysinfo", "needrestart", "reportbug", "apport-cli", "inxi",
    "run-parts", "update-motd", "lynis", "checkrestart",
})
