#!/bin/bash
# vigil-emulation: benign
# technique: T1485 Data Destruction; T1070.004 Indicator Removal: File Deletion
# tactic: impact, defense-evasion
# what: a backup rotation: 60 database dumps are written to /var/backups/vigil-emul-db/
#   (one per "night"), then the retention job keeps the newest 7 and deletes the other
#   53 with `ls -1t | tail -n +8 | xargs rm -f`.
# report: nothing: a retention job deleting old backups it made.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

d=/var/backups/vigil-emul-db
emul_backup "$d"
mkdir -p "$d"
for i in $(seq -w 1 60); do
    printf -- '-- dump %s\nCREATE TABLE t (id int);\n' "$i" | gzip >"$d/db-night-$i.sql.gz"
done
cd "$d"
ls -1t | tail -n +8 | xargs rm -f
ls | wc -l
