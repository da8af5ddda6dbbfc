#!/bin/bash
# vigil-emulation: benign
# technique: T1547.006 Boot or Logon Autostart Execution: Kernel Modules and Extensions
# tactic: persistence
# what: inspecting kernel modules, read-only: lsmod, /proc/modules, modinfo of a common
#   module (fails on kernels without modules), and the module directory listing.
# report: nothing: listing modules loads nothing.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need lsmod

lsmod 2>/dev/null | wc -l || true
cat /proc/modules 2>/dev/null | wc -l || true
modinfo ext4 2>&1 | head -2 || true
ls "/lib/modules/$(uname -r)" 2>/dev/null | head -3 || true
