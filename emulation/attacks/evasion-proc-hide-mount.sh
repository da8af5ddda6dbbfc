#!/bin/bash
# vigil-emulation: attack
# technique: T1564 Hide Artifacts
# tactic: defense-evasion
# what: hides a running process from ps and top by bind-mounting an empty directory over
#   its /proc/PID (the "mount over /proc" trick); the process is a `sleep` the scenario
#   started, the mount is undone and the process stopped at the end.
# report: a mount onto /proc/PID, hiding a process.
# expect: hid|mount|/proc
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

emul_tmpdir
mkdir -p "$EMUL_DIR/empty"
emul_bg sleep 20
pid=$EMUL_BG_PID
emul_on_exit umount "/proc/$pid"
mount --bind "$EMUL_DIR/empty" "/proc/$pid"
ps -p "$pid" -o pid,comm || echo "process $pid hidden from ps"
sleep 1
umount "/proc/$pid"
