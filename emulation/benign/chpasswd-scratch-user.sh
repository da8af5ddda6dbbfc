#!/bin/bash
# vigil-emulation: benign
# technique: T1136.001 Create Account: Local Account; T1098 Account Manipulation
# tactic: persistence
# what: routine account administration: useradd -m of an ordinary user, its password set
#   with chpasswd, passwd -S, usermod -c, chage -l, then userdel -r; the account
#   databases are restored exactly.
# report: nothing: the account tools managing an ordinary account.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

user=vigil-emul-alice
emul_accounts_backup
emul_on_exit rm -rf "/home/$user" "/var/mail/$user"
useradd -m -s /bin/bash "$user"
echo "$user:Correct-Horse-Battery-1" | chpasswd
passwd -S "$user"
usermod -c "Alice (test)" "$user"
chage -l "$user" | head -2
userdel -r "$user" 2>/dev/null
echo done
