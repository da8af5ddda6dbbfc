#!/bin/bash
# vigil-emulation: benign
# technique: T1070.002 Indicator Removal: Clear Linux or Mac System Logs
# tactic: defense-evasion
# what: logrotate with `copytruncate`, for programs that keep their log open: the log is
#   copied to .1 and the original truncated to zero in place (an existing non-empty log
#   truncated, by logrotate), then compressed.
# report: nothing: logrotate truncating a log after copying it.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need logrotate

d=/var/log/vigil-emul-worker
emul_backup "$d"
mkdir -p "$d"
seq 1 800 | sed 's/^/job done id=/' >"$d/worker.log"
emul_tmpdir
printf '%s/worker.log {\n    rotate 2\n    compress\n    copytruncate\n}\n' "$d" >"$EMUL_DIR/w.conf"
logrotate -f -s "$EMUL_DIR/state" "$EMUL_DIR/w.conf"
ls -la "$d"
