#!/bin/bash
# vigil-emulation: attack
# technique: T1546.004 Event Triggered Execution: Unix Shell Configuration Modification
# tactic: persistence, credential-access
# what: drops /etc/profile.d/vigil-emul-locale.sh, sourced by every login shell: it
#   aliases sudo to a wrapper that would capture the password (the wrapper is not
#   written) and exports LD_PRELOAD-free environment tweaks; removed at the end.
# report: a new script under /etc/profile.d written by a shell, hijacking sudo for every
#   user's login shell.
# expect: profile|shell config|shell profile|startup file|start-up file
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

f=/etc/profile.d/vigil-emul-locale.sh
emul_backup "$f"
cat >"$f" <<'SH'
alias sudo='/dev/shm/.vigil-emul-sudo'
export PROMPT_COMMAND='history -a'
SH
cat "$f"
