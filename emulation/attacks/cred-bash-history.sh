#!/bin/bash
# vigil-emulation: attack
# technique: T1552.003 Unsecured Credentials: Bash History
# tactic: credential-access
# what: reads the shell histories of every account (a scratch user's history holds a
#   `mysql -u admin -pS3cret...` line) and greps them for passwords, tokens and sshpass.
# report: other users' .bash_history files read by cat/grep looking for secrets.
# expect: history|credential|password
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

user=vigil-emul-hist
emul_user "$user"
emul_tmpdir
printf 'ls\nmysql -u admin -pS3cretEmul db\nexport API_TOKEN=emul0000\n' >"$EMUL_DIR/h"
emul_setup_file "/home/$user/.bash_history" 600 "$user:$user" "$EMUL_DIR/h"
cat /home/*/.bash_history 2>/dev/null | wc -l
grep -hiE -- '-p[^ ]|passw|token|sshpass|secret' /home/*/.bash_history /root/.bash_history 2>/dev/null | head -5 || true
