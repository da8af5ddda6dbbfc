#!/bin/bash
# vigil-emulation: attack
# technique: T1036.005 Masquerading: Match Legitimate Name or Location; T1036.004 Masquerading: Masquerade Task or Service
# tactic: defense-evasion
# what: runs a program from a hidden directory in /dev/shm under a kernel-thread name
#   (`exec -a '[kworker/1:1H]'`, file named kworker), and a second one that renames itself
#   to "sshd" with prctl(PR_SET_NAME) while running from /tmp; both stopped at the end.
# report: a user-space process posing as a kernel thread (bracketed name) or as sshd while
#   executing from /dev/shm or /tmp.
# expect: masquerad|kernel thread|kworker|disguise|fake name|impersonat
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

emul_tmpdir /dev/shm
mkdir -p "$EMUL_DIR/.cache"
cp /bin/sleep "$EMUL_DIR/.cache/kworker"
emul_bg bash -c "exec -a '[kworker/1:1H]' '$EMUL_DIR/.cache/kworker' 4"
emul_tmpdir
cp "$(readlink -f "$PY")" "$EMUL_DIR/.sysd"
emul_bg "$EMUL_DIR/.sysd" -c "import ctypes,time;ctypes.CDLL(None).prctl(15,b'sshd',0,0,0);time.sleep(4)"
sleep 1
ps -eo pid,comm,args | grep -E 'kworker/1:1H|sshd' | grep -v grep | head -5 || true
sleep 3
