#!/bin/bash
# vigil-emulation: attack
# technique: T1547.006 Boot or Logon Autostart Execution: Kernel Modules and Extensions; T1014 Rootkit
# tactic: persistence, privilege-escalation, defense-evasion
# what: tries to load a "rootkit" kernel module, diamorphine.ko (random bytes: not a
#   module), from /tmp with the finit_module system call; the kernel refuses it (invalid
#   module, or no module support), the attempt is the signal.
# report: a kernel module load attempt (finit_module) of a file in /tmp by a process that
#   is not the package manager or the init system, even though it failed.
# expect: module|rootkit
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

emul_tmpdir
head -c 8192 /dev/urandom >"$EMUL_DIR/diamorphine.ko"
"$PY" "$EMUL_LIB/kernel_calls.py" finit-module "$EMUL_DIR/diamorphine.ko"
