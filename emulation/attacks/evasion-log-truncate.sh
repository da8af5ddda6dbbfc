#!/bin/bash
# vigil-emulation: attack
# technique: T1070.002 Indicator Removal: Clear Linux or Mac System Logs
# tactic: defense-evasion
# what: empties existing, non-empty system logs the way intruders do: `cat /dev/null >`
#   /var/log/dpkg.log, `truncate -s 0` the failed-login log /var/log/btmp and `echo >`
#   /var/log/alternatives.log (each only when present and non-empty; a scratch log is
#   used when none is). Every log is restored exactly (content, mode, times) at the end.
# report: existing non-empty log files truncated by shell tools.
# expect: log|truncat|clear|wipe
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

logs=()
for f in /var/log/dpkg.log /var/log/btmp /var/log/alternatives.log; do
    [ -s "$f" ] && logs+=("$f")
done
if [ ${#logs[@]} -eq 0 ]; then
    f=/var/log/vigil-emul-app.log
    emul_tmpdir
    seq 1 200 | sed 's/^/app started request /' >"$EMUL_DIR/log"
    emul_setup_file "$f" 644 root:root "$EMUL_DIR/log"
    sleep 1
    logs=("$f")
fi
for f in "${logs[@]}"; do emul_backup "$f"; done
cat /dev/null >"${logs[0]}"
[ ${#logs[@]} -gt 1 ] && truncate -s 0 "${logs[1]}"
[ ${#logs[@]} -gt 2 ] && echo >"${logs[2]}"
ls -la "${logs[@]}"
