"""Static knowledge for `sensitive_write`: the files that control a host, and their tools.

Always true, everywhere: `passwd`/`useradd` write the account files, `visudo` writes
sudoers, `update-rc.d` links init scripts into the runlevels, `certbot` renews under
`/etc/letsencrypt/`, package managers (and the maintainer scripts they run) write all of
`/etc`. A write by the tool made for the file is audited, never alerted; anything else
writing there is. Scheduling tools (`crontab`, `at`) own nothing: whoever runs them, the
job they write is the persistence.

Key generators (`openssl req -newkey ... -keyout`, `certtool`, `ssh-keygen`...) creating a
key file that did not exist issue a new key: that replaces nothing an attacker could use.
The same tools overwriting an existing key are reported like anyone else.
"""

from __future__ import annotations

import re

from vigil.detectors.path_patterns import PathPatterns
from vigil.detectors.process_identity import PACKAGE_MANAGERS

#: category -> (patterns, MITRE tags)
CATEGORY_PATTERNS: dict[str, tuple[str, ...]] = {
    "accounts": ("/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/passwd-",
                 "/etc/shadow-", "/etc/group-", "/etc/gshadow-", "/etc/passwd+",
                 "/etc/shadow+", "/etc/group+", "/etc/gshadow+", "/etc/subuid", "/etc/subgid"),
    "sudoers": ("/etc/sudoers", "/etc/sudoers.d/", "/etc/sudoers.tmp", "/etc/doas.conf"),
    "sshd_config": ("/etc/ssh/sshd_config", "/etc/ssh/sshd_config.d/"),
    "authorized_keys": ("*/.ssh/authorized_keys", "*/.ssh/authorized_keys2"),
    "pam": ("/etc/pam.d/", "/etc/pam.conf", "/etc/security/", "/lib/security/",
            "/usr/lib/security/", "/lib/x86_64-linux-gnu/security/",
            "/usr/lib/x86_64-linux-gnu/security/"),
    # before "cron": at's spool lives under cron's on Debian
    "at_jobs": ("/var/spool/cron/atjobs/", "/var/spool/cron/atspool/", "/var/spool/at/",
                "/var/spool/atjobs/", "/var/spool/atspool/"),
    "cron": ("/etc/crontab", "/etc/cron.d/", "/etc/cron.hourly/", "/etc/cron.daily/",
             "/etc/cron.weekly/", "/etc/cron.monthly/", "/var/spool/cron/", "/etc/anacrontab"),
    "systemd_units": ("/etc/systemd/system/", "/lib/systemd/system/",
                      "/usr/lib/systemd/system/", "/etc/systemd/user/",
                      "*/.config/systemd/user/*"),
    "init_scripts": ("/etc/init.d/", "/etc/rc.local", "/etc/rc.d/", "/etc/rc0.d/",
                     "/etc/rc1.d/", "/etc/rc2.d/", "/etc/rc3.d/", "/etc/rc4.d/", "/etc/rc5.d/",
                     "/etc/rc6.d/", "/etc/rcS.d/"),
    "udev_rules": ("/etc/udev/rules.d/", "/lib/udev/rules.d/", "/usr/lib/udev/rules.d/",
                   "/run/udev/rules.d/", "/usr/local/lib/udev/rules.d/"),
    "ld_preload": ("/etc/ld.so.preload",),
    "shell_profiles": ("/etc/profile", "/etc/profile.d/", "/etc/bash.bashrc", "/etc/environment",
                       "/etc/zsh/", "*/.bashrc", "*/.bash_profile", "*/.bash_login",
                       "*/.profile", "*/.zshrc", "*/.zprofile", "*/.bash_logout"),
    "tls_keys": ("/etc/letsencrypt/", "/etc/ssl/private/"),
}

SENSITIVE_WRITE_PATHS = PathPatterns(CATEGORY_PATTERNS)

CATEGORY_TAGS: dict[str, tuple[str, ...]] = {
    "accounts": ("attack.persistence", "T1098", "T1136.001"),
    "sudoers": ("attack.privilege_escalation", "T1548.003"),
    "sshd_config": ("attack.persistence", "attack.credential_access", "T1556"),
    "authorized_keys": ("attack.persistence", "T1098.004"),
    "pam": ("attack.persistence", "attack.credential_access", "T1556.003"),
    "at_jobs": ("attack.persistence", "attack.execution", "T1053.002"),
    "cron": ("attack.persistence", "attack.execution", "T1053.003"),
    "systemd_units": ("attack.persistence", "T1543.002"),
    "init_scripts": ("attack.persistence", "attack.privilege_escalation", "T1037.004"),
    "udev_rules": ("attack.persistence", "attack.privilege_escalation", "T1546.017"),
    "ld_preload": ("attack.persistence", "attack.defense_evasion", "T1574.006"),
    "shell_profiles": ("attack.persistence", "T1546.004"),
    "tls_keys": ("attack.credential_access", "attack.defense_evasion", "T1552.004"),
}

_ACCOUNT_TOOLS = frozenset({
    "passwd", "useradd", "usermod", "userdel", "groupadd", "groupmod", "groupdel", "chpasswd",
    "chage", "chsh", "chfn", "vipw", "vigr", "gpasswd", "newusers", "pwck", "grpck",
    "adduser", "deluser", "addgroup", "delgroup", "systemd-sysusers", "pwconv", "grpconv",
    "pwunconv", "grpunconv", "lusermod", "luseradd",
})
_EDITORS = frozenset({"vi", "vim", "vim.basic", "vim.tiny", "nvim", "nano", "emacs", "ed",
                      "micro", "joe", "mcedit"})

#: category -> the tools made to write those files
CATEGORY_OWNERS: dict[str, frozenset[str]] = {
    "accounts": _ACCOUNT_TOOLS,
    "sudoers": frozenset({"visudo"}),
    "sshd_config": frozenset(),
    "authorized_keys": frozenset(),
    "pam": frozenset({"pam-auth-update", "authselect", "authconfig"}),
    # `crontab` and `at` are how anyone schedules a job: the job, not the tool, is what
    # matters, so a job they write is reported; atd keeps a running job's output in the
    # spool and deletes the jobs it ran
    "at_jobs": frozenset({"atd"}),
    "cron": frozenset(),
    "systemd_units": frozenset({"systemd", "systemctl"}),
    # the tools that link an installed init script into the runlevels
    "init_scripts": frozenset({"update-rc.d", "insserv", "systemd-sysv-install", "chkconfig"}),
    "udev_rules": frozenset(),
    "ld_preload": frozenset(),
    # a user editing their own profile in an editor is normal work; new accounts get skel copies
    "shell_profiles": _EDITORS | frozenset({"useradd", "adduser"}),
    "tls_keys": frozenset({"certbot", "letsencrypt", "lego", "acme.sh", "make-ssl-cert"}),
}

#: tools whose children write on their behalf (editors under visudo, hooks under certbot,
#: maintainer scripts under dpkg); systemd is not one, everything descends from it
LAUNCHERS: frozenset[str] = PACKAGE_MANAGERS | frozenset({
    "visudo", "vipw", "vigr", "certbot", "letsencrypt", "lego", "acme.sh",
    "adduser", "deluser", "useradd", "pam-auth-update", "authselect",
})

#: category -> tools that make new files of it (allowed only when the write created the file)
CATEGORY_CREATORS: dict[str, frozenset[str]] = {
    "tls_keys": frozenset({"openssl", "certtool", "step", "cfssl", "mkcert", "easyrsa",
                           "make-ssl-cert", "keytool", "ssh-keygen"}),
}


#: configuration-management agents: on the hosts they manage, changing accounts, units,
#: jobs, keys and /etc is their job (Falco's default rules allow them the same way); what
#: they run (puppet's exec resources, salt's cmd.run) writes on their behalf
CONFIG_MANAGEMENT_AGENTS: frozenset[str] = frozenset({
    "puppet", "chef-client", "chef-solo", "cinc-client", "salt-minion", "salt-call",
    "cf-agent", "mgmt",
})

#: an Ansible module run on the managed host: the controller copies AnsiballZ_<module>.py
#: into the remote user's ~/.ansible/tmp/ansible-tmp-*/ and runs it with a Python
ANSIBLE_MODULE_PATTERN = re.compile(
    r"^(?:/root|/home/[^/]+|/var/lib/[^/]+)/\.ansible/tmp/ansible-tmp-[^/]+/"
    r"AnsiballZ_[A-Za-z0-9_.]+\.py$")
