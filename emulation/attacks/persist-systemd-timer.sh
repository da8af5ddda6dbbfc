#!/bin/bash
# vigil-emulation: attack
# technique: T1053.006 Scheduled Task/Job: Systemd Timers
# tactic: persistence, execution
# what: creates a per-user systemd timer for root (~/.config/systemd/user/vigil-emul-sync
#   .timer and .service, OnCalendar every 15 min, running a script from /dev/shm) and its
#   timers.target.wants symlink; nothing is started, all is removed.
# report: a new systemd timer and service under a home directory written by a shell,
#   enabled, whose command runs from /dev/shm.
# expect: timer|systemd|unit|scheduled
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

d=$HOME/.config/systemd/user
emul_backup "$d/vigil-emul-sync.timer"
emul_backup "$d/vigil-emul-sync.service"
emul_backup "$d/timers.target.wants/vigil-emul-sync.timer"
mkdir -p "$d/timers.target.wants"
printf '[Unit]\nDescription=sync\n[Service]\nExecStart=/bin/sh /dev/shm/.vigil-emul-sync.sh\n' >"$d/vigil-emul-sync.service"
printf '[Unit]\nDescription=sync timer\n[Timer]\nOnCalendar=*:0/15\nPersistent=true\n[Install]\nWantedBy=timers.target\n' >"$d/vigil-emul-sync.timer"
ln -sf "$d/vigil-emul-sync.timer" "$d/timers.target.wants/vigil-emul-sync.timer"
ls -la "$d/timers.target.wants"
