#!/bin/bash
# vigil-emulation: attack
# technique: T1110.001 Brute Force: Password Guessing; T1078 Valid Accounts
# tactic: credential-access, initial-access
# what: six failed passwords for root from 127.0.0.1 against a private sshd, then a
#   successful login from the same address (with a key the private sshd accepts) that
#   runs `id; uname -a; cat /etc/passwd | wc -l`; sshd's log is relayed into the followed
#   auth log.
# report: a successful SSH login right after a brute force from the same IP (likely
#   compromise), Critical.
# expect: brute force|bruteforce|success after|compromis
# timeout: 150
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
. "$EMUL_LIB/ssh.sh"
emul_need sshd ssh

emul_sshd
emul_ssh_fail root 3
emul_ssh_fail root 3
emul_ssh_key root 'id; uname -a; cat /etc/passwd | wc -l'
emul_sshd_flush
