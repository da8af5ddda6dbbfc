#!/bin/bash
# vigil-emulation: attack
# technique: T1110.001 Brute Force: Password Guessing; T1110.003 Brute Force: Password Spraying
# tactic: credential-access
# what: a distributed brute force: seven source addresses (198.18.77.10-16, on the
#   loopback of a private network namespace) each try two wrong passwords for root
#   against a private sshd listening in the same namespace; sshd's log is relayed into
#   the followed auth log.
# report: an SSH brute force against one account from many IPs (distributed).
# expect: brute force|bruteforce|distributed|password guessing
# timeout: 150
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
. "$EMUL_LIB/ssh.sh"
emul_need sshd ssh ip

emul_netns
for i in 1 10 11 12 13 14 15 16; do ip -n "$EMUL_NS" addr add "198.18.77.$i/32" dev lo; done
emul_sshd "$EMUL_NS" 198.18.77.1
for i in 10 11 12 13 14 15 16; do
    emul_ssh_fail root 2 "198.18.77.$i" "$EMUL_NS"
done
emul_sshd_flush
