#!/bin/bash
# vigil-emulation: attack
# technique: T1070.004 Indicator Removal: File Deletion
# tactic: defense-evasion
# what: starts a program from /tmp and deletes its file while it runs, so it lives on
#   only in memory (/proc/PID/exe points at "(deleted)"), as droppers do to hide the
#   binary; the process is stopped at the end.
# report: a running process whose executable was deleted right after it started.
# expect: deleted|fileless|self-delet|memory
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

emul_tmpdir
cp /bin/sleep "$EMUL_DIR/.upd"
emul_bg "$EMUL_DIR/.upd" 5
sleep 0.5
rm -f "$EMUL_DIR/.upd"
ls -la "/proc/$EMUL_BG_PID/exe"
sleep 3
