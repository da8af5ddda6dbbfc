"""Static knowledge for `service_tamper`: security services, their logs, and their keepers.

Always true, everywhere: `logrotate` and the syslog/journal daemons rotate and truncate
logs; package upgrades stop and restart the services they update; the service manager
(systemd) delivers the signals of a stop; and root stopping Vigil is how deploys work (the
stop is audited, not alerted — a non-root attempt, or stopping anything else, alerts).
"""

from __future__ import annotations

from vigil.detectors.path_patterns import PathPatterns

#: unit / service / process names of security tooling (".service" is stripped first)
SECURITY_SERVICES: frozenset[str] = frozenset({
    "vigil", "auditd", "audit", "falco", "falco-modern-bpf", "falco-bpf", "falco-kmod",
    "falcosidekick", "crowdsec", "crowdsec-firewall-bouncer", "cs-firewall-bouncer",
    "fail2ban", "fail2ban-server", "apparmor", "ufw", "nftables", "firewalld",
    "netfilter-persistent", "iptables", "ip6tables", "wazuh-agent", "wazuh-agentd",
    "ossec", "osqueryd", "osquery", "tetragon", "tracee", "rsyslog", "rsyslogd", "syslog-ng",
    "systemd-journald", "auditbeat", "clamav-daemon", "clamd", "suricata", "snort", "zeek",
    "aide", "sysmon",
})

#: the agent's own names
AGENT_SERVICES: frozenset[str] = frozenset({"vigil", "vigil-agent"})

#: logs whose loss blinds an investigation
SECURITY_LOG_PATTERNS: dict[str, tuple[str, ...]] = {
    "system_logs": ("/var/log/auth.log*", "/var/log/secure*", "/var/log/syslog*",
                    "/var/log/messages*", "/var/log/kern.log*", "/var/log/audit/",
                    "/var/log/wtmp", "/var/log/btmp", "/var/log/lastlog", "/var/log/faillog",
                    "/var/log/journal/", "/run/log/journal/", "/var/log/vigil/",
                    "/var/log/falco*", "/var/log/crowdsec*", "/var/log/fail2ban*",
                    "/var/log/ufw.log*", "/var/lib/vigil/audit/"),
    "shell_history": ("*/.bash_history", "*/.zsh_history", "*/.history", "*/.sh_history",
                      "*/.python_history"),
}
SECURITY_LOGS = PathPatterns(SECURITY_LOG_PATTERNS)

#: who may rotate, truncate and delete logs
LOG_KEEPERS: frozenset[str] = frozenset({
    "logrotate", "rsyslogd", "syslog-ng", "systemd-journald", "auditd", "savelog",
    "systemd-tmpfiles", "vigil", "crowdsec", "fail2ban-server", "falco", "journalctl",
})

#: systemctl-style verbs that take a service out of action
STOP_VERBS: frozenset[str] = frozenset({"stop", "disable", "mask", "kill", "freeze"})
#: init-script / service(8) actions that do the same
SCRIPT_STOP_ACTIONS: frozenset[str] = frozenset({"stop", "disable", "remove", "off", "del",
                                                 "force-stop"})
#: signals that ask a process to end (SIGHUP/SIGUSR* ask it to reload or reopen logs)
TERMINATING_SIGNALS: frozenset[int] = frozenset({2, 3, 6, 9, 15, 19})

#: programs that talk to the kernel audit system by design: the audit daemon and its
#: tools, the service manager and journal (which read audit records), and programs that
#: log user events through libaudit (PAM and login programs, account tools, sudo, cron)
AUDIT_CLIENTS: frozenset[str] = frozenset({
    "auditd", "auditctl", "augenrules", "audispd", "audisp-remote", "audisp-syslog",
    "sedispatch", "aureport", "ausearch", "systemd", "systemd-journald", "systemd-logind",
    "systemd-userdbd", "systemd-homed", "sshd", "sshd-session", "sudo", "sudoedit", "su",
    "login", "runuser", "cron", "crond", "atd", "passwd", "chpasswd", "chage", "chfn",
    "chsh", "newgrp", "sg", "gpasswd", "useradd", "usermod", "userdel", "groupadd",
    "groupmod", "groupdel", "newusers", "vipw", "vigr", "pwck", "grpck", "unix_chkpwd",
    "pkexec", "polkitd", "polkit-agent-helper-1", "gdm-session-worker", "gdm", "lightdm",
    "sddm", "sddm-helper", "xscreensaver", "screen", "vlock", "dbus-daemon", "dbus-broker",
    "vsftpd", "proftpd", "dovecot", "openvpn", "setfiles", "restorecon", "load_policy",
    "semodule", "setsebool", "crontab", "agetty", "mingetty", "vigil",
})
