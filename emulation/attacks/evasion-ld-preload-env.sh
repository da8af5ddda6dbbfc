#!/bin/bash
# vigil-emulation: attack
# technique: T1574.006 Hijack Execution Flow: Dynamic Linker Hijacking
# tactic: defense-evasion, persistence
# what: builds a library in /tmp (named like a process hider; it does nothing) and runs
#   `ls /proc`, `ps` and `ss` with LD_PRELOAD pointing at it, the per-process variant of
#   the userland rootkit; removed at the end.
# report: programs started with LD_PRELOAD set to a library in a world-writable directory.
# expect: ld_preload|preload|dynamic linker
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need gcc

emul_tmpdir
emul_noop_so "$EMUL_DIR/libhide.so"
LD_PRELOAD=$EMUL_DIR/libhide.so ls /proc | wc -l
LD_PRELOAD=$EMUL_DIR/libhide.so ps -e | wc -l
env LD_PRELOAD="$EMUL_DIR/libhide.so" ss -tan | wc -l
