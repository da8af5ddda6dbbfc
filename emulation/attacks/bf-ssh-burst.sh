#!/bin/bash
# vigil-emulation: attack
# technique: T1110.001 Brute Force: Password Guessing
# tactic: credential-access
# what: password guessing against a real sshd (a private instance the scenario runs on
#   127.0.0.1 with its own host key; its log is relayed into the followed auth log as
#   syslog would write it): 4 connections with 3 wrong passwords each for root and admin.
# report: an SSH brute force: a dozen failed passwords from 127.0.0.1 within a minute.
# expect: brute force|bruteforce|password guessing
# timeout: 150
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
. "$EMUL_LIB/ssh.sh"
emul_need sshd ssh

emul_sshd
for user in root admin root admin; do
    emul_ssh_fail "$user" 3
done
emul_sshd_flush
