#!/bin/bash
# vigil-emulation: benign
# technique: T1021.004 Remote Services: SSH; T1078 Valid Accounts
# tactic: lateral-movement, initial-access
# what: an administrator's key-based SSH logins to a private sshd on 127.0.0.1 (its log
#   relayed into the followed auth log): three sessions running `uname -a`, `uptime`,
#   `ls /` and `df -h /`, and one interactive-style session with a pty (`ssh -tt`) fed
#   two commands.
# report: nothing: successful key logins without failures.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
. "$EMUL_LIB/ssh.sh"
emul_need sshd ssh

emul_backup "$HOME/.bash_history"
emul_sshd
emul_ssh_key root 'uname -a; uptime'
emul_ssh_key root 'ls /'
emul_ssh_key root 'df -h /'
printf 'hostname\nexit\n' | ssh "${_emul_ssh_opts[@]}" -tt -o BatchMode=yes -i "$EMUL_SSH_KEY" \
    -p "$EMUL_SSHD_PORT" "root@$EMUL_SSHD_ADDR" >/dev/null 2>&1 || true
emul_sshd_flush
