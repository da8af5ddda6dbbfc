#!/bin/bash
# vigil-emulation: attack
# technique: T1136.001 Create Account: Local Account
# tactic: persistence, privilege-escalation
# what: adds a uid-0 account by appending lines to /etc/passwd and /etc/shadow with echo
#   (a SHA-512 hash made by openssl passwd), bypassing useradd; both files are restored
#   exactly at the end.
# report: /etc/passwd and /etc/shadow written by a shell, not by an account tool, adding a
#   uid 0 account.
# expect: passwd|shadow|account|uid 0
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

emul_accounts_backup
hash=$(openssl passwd -6 -salt vigilemul 'Emul4tion!')
echo 'vigil-emul-r00t:x:0:0::/root:/bin/bash' >>/etc/passwd
echo "vigil-emul-r00t:$hash:19000:0:99999:7:::" >>/etc/shadow
tail -1 /etc/passwd
