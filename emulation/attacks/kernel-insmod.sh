#!/bin/bash
# vigil-emulation: attack
# technique: T1547.006 Boot or Logon Autostart Execution: Kernel Modules and Extensions
# tactic: persistence, privilege-escalation
# what: `insmod /var/tmp/.../reptile.ko` and `modprobe -f` of the same path: kmod's tools
#   asked to load a module that is not one (an ELF object file without module info); the
#   kernel and kmod refuse.
# report: insmod of a module from a scratch directory by a shell (a failed kernel module
#   load).
# expect: module|rootkit|insmod
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need insmod gcc

emul_tmpdir /var/tmp
printf 'int init_module(void) { return 0; }\n' >"$EMUL_DIR/r.c"
gcc -c -o "$EMUL_DIR/reptile.ko" "$EMUL_DIR/r.c"
insmod "$EMUL_DIR/reptile.ko" || true
modprobe -f "$EMUL_DIR/reptile.ko" 2>&1 || true
