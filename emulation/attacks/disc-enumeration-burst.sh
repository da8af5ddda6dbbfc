#!/bin/bash
# vigil-emulation: attack
# technique: T1082 System Information Discovery; T1033 System Owner/User Discovery; T1057 Process Discovery; T1049 System Network Connections Discovery; T1087.001 Account Discovery: Local Account; T1083 File and Directory Discovery
# tactic: discovery
# what: a LinPEAS-like burst from one shell in a few seconds: id, whoami, hostname,
#   uname -a, /etc/os-release, /etc/passwd, /etc/group, ps aux, ss -tulpn, ip a, ip route,
#   mount, df, env, sudo -l, crontab -l, home directories, a search for set-uid files,
#   getcap -r, lsmod, last and w.
# report: reconnaissance: one process tree running many discovery commands in a burst.
# expect: enumeration|discovery|reconnaissance|recon
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

{
    id; whoami; hostname; uname -a; cat /etc/os-release; cat /etc/passwd; cat /etc/group
    ps aux; ss -tulpn; ip a; ip route; mount; df -h; env
    sudo -n -l 2>&1 || true
    crontab -l 2>&1 || true
    ls -la /root /home
    timeout 30 find / -xdev -perm -4000 -type f 2>/dev/null | head -20
    getcap -r /usr/bin /usr/sbin 2>/dev/null || true
    lsmod 2>/dev/null || cat /proc/modules 2>/dev/null || true
    last 2>/dev/null | head -5 || true
    w
} >/dev/null 2>&1 || true
echo "enumeration done"
