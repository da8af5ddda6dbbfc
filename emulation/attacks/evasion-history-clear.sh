#!/bin/bash
# vigil-emulation: attack
# technique: T1070.003 Indicator Removal: Clear Command History
# tactic: defense-evasion
# what: removes shell history the usual ways: root's ~/.bash_history is deleted and
#   replaced by a symlink to /dev/null, a scratch user's history is shredded, and a shell
#   runs with HISTFILE unset and `history -c`; root's history is restored exactly.
# report: shell history files deleted, shredded or linked to /dev/null.
# expect: history
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

user=vigil-emul-hist2
emul_user "$user"
emul_tmpdir
printf 'ls\nwget http://203.0.113.7/x\n' >"$EMUL_DIR/h"
emul_setup_file "/home/$user/.bash_history" 600 "$user:$user" "$EMUL_DIR/h"
[ -e "$HOME/.bash_history" ] || { echo ls >"$EMUL_DIR/r"; emul_setup_file "$HOME/.bash_history" 600 root:root "$EMUL_DIR/r"; }
sleep 0.5
emul_backup "$HOME/.bash_history"
rm -f "$HOME/.bash_history"
ln -sf /dev/null "$HOME/.bash_history"
shred -u "/home/$user/.bash_history"
bash -c 'unset HISTFILE; history -c; export HISTSIZE=0; echo cleared'
ls -la "$HOME/.bash_history"
