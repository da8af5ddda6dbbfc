#!/bin/bash
# vigil-emulation: attack
# technique: T1110.003 Brute Force: Password Spraying; T1589.001 Gather Victim Identity Information: Credentials
# tactic: credential-access, reconnaissance
# what: user enumeration and password spraying: one password tried for eight account
#   names that do not exist (admin, test, oracle, ubuntu, pi, ftpuser, git, deploy)
#   against a private sshd on 127.0.0.1; its log is relayed into the followed auth log in
#   the traditional syslog format (RFC 3164).
# report: an SSH brute force: many invalid user names tried from one IP.
# expect: brute force|bruteforce|enumerat|spray|invalid user
# timeout: 150
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
. "$EMUL_LIB/ssh.sh"
emul_need sshd ssh

emul_sshd "" 127.0.0.1 rfc3164
for user in admin test oracle ubuntu pi ftpuser git deploy; do
    emul_ssh_fail "$user" 1
done
emul_sshd_flush
