#!/bin/bash
# vigil-emulation: attack
# technique: T1055.008 Process Injection: Ptrace System Calls
# tactic: privilege-escalation, defense-evasion
# what: attaches gdb with ptrace to a running process (a `sleep` the scenario started, with
#   a daemon-like name) and makes it call system("id > FILE"), running a command inside
#   another process; the process is killed at the end.
# report: ptrace attach to another process and code executed in it (a shell started by a
#   process that was only sleeping).
# expect: ptrace|inject
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need gdb

emul_tmpdir
cp /bin/sleep "$EMUL_DIR/rsyslogd"
emul_bg "$EMUL_DIR/rsyslogd" 60
target=$EMUL_BG_PID
sleep 0.3
timeout 60 gdb -q -batch -p "$target" -ex "call (int)system(\"id > $EMUL_DIR/injected\")" -ex detach >/dev/null 2>&1 || true
cat "$EMUL_DIR/injected"
