#!/bin/bash
# vigil-emulation: attack
# technique: T1053.003 Scheduled Task/Job: Cron
# tactic: persistence, execution
# what: adds an `@reboot` line starting a hidden binary from /tmp to root's own crontab
#   with `(crontab -l; echo ...) | crontab -`, the way cryptojacking scripts persist;
#   root's crontab is restored exactly at the end.
# report: root's crontab (/var/spool/cron/crontabs/root) changed to start a program from a
#   world-writable directory at boot.
# expect: cron|scheduled
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need crontab

emul_backup /var/spool/cron/crontabs/root
(crontab -l 2>/dev/null || true; echo '@reboot /tmp/.X11-unix/.vigil-emul-agent >/dev/null 2>&1') | crontab -
crontab -l | tail -1
