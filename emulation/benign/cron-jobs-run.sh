#!/bin/bash
# vigil-emulation: benign
# technique: T1053.003 Scheduled Task/Job: Cron
# tactic: execution, persistence
# what: what cron's daily jobs do, run the way cron runs them (`env -i` with cron's PATH,
#   `run-parts` over a job directory): a temporary-file cleanup (find -mtime -delete in
#   a scratch tree), a package-cache statistic (apt-cache stats), a disk report (df) and
#   a log summary (grep over dpkg.log); no crontab is changed.
# report: nothing: scheduled maintenance jobs running.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need run-parts

emul_tmpdir
jobs=$EMUL_DIR/cron.daily
mkdir -p "$jobs" "$EMUL_DIR/tmp"
for i in $(seq 1 30); do echo x >"$EMUL_DIR/tmp/f$i"; done
printf '#!/bin/sh\nfind %s -type f -mmin +600 -delete\necho tmp cleaned\n' "$EMUL_DIR/tmp" >"$jobs/10tmpclean"
printf '#!/bin/sh\napt-cache stats 2>/dev/null | head -2\n' >"$jobs/20aptstats"
printf '#!/bin/sh\ndf -P / | tail -1\n' >"$jobs/30diskreport"
printf '#!/bin/sh\ngrep -c " status installed " /var/log/dpkg.log 2>/dev/null || true\n' >"$jobs/40dpkgsummary"
chmod 755 "$jobs"/*
env -i SHELL=/bin/sh PATH=/usr/bin:/bin HOME=/root LOGNAME=root /bin/sh -c "cd / && run-parts --report $jobs"
