#!/bin/bash
# vigil-emulation: attack
# technique: T1485 Data Destruction
# tactic: impact
# what: destroys a "data" tree the scenario creates (/srv/vigil-emul-data: 600 documents,
#   spreadsheets and database dumps in 30 directories): shred -u over the dumps, then
#   `find -delete` and `rm -rf` of the rest.
# report: mass deletion: hundreds of user files shredded and deleted by one process tree
#   within seconds.
# expect: delet|destruct|wipe|shred|mass|bulk|removal
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

d=/srv/vigil-emul-data
emul_backup "$d"
for i in $(seq 1 30); do
    mkdir -p "$d/dept$i"
    for j in $(seq 1 20); do
        case $((j % 3)) in
            0) f="$d/dept$i/report$j.docx" ;;
            1) f="$d/dept$i/budget$j.xlsx" ;;
            2) f="$d/dept$i/customers$j.sql" ;;
        esac
        head -c 2048 /dev/urandom >"$f"
    done
done
sleep 1
find "$d" -name '*.sql' -exec shred -u {} +
find "$d" -name '*.xlsx' -delete
rm -rf "${d:?}"/*
ls -la "$d"
