#!/bin/bash
# vigil-emulation: attack
# technique: T1070.002 Indicator Removal: Clear Linux or Mac System Logs
# tactic: defense-evasion
# what: edits traces out of a log instead of emptying it: `sed -i` deletes the install
#   lines of /var/log/dpkg.log (the file is replaced by a new one) and the log of
#   package alternatives is deleted with `rm`; both are restored exactly at the end.
# report: an existing log replaced (sed -i writes a new file and renames it over the log)
#   and another deleted, by shell tools.
# expect: log|tamper|clear|wipe
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

a=/var/log/dpkg.log
b=/var/log/alternatives.log
emul_tmpdir
seq 1 100 | sed 's/^/2024-01-01 00:00:00 status installed pkg /' >"$EMUL_DIR/log"
for f in "$a" "$b"; do
    [ -s "$f" ] || emul_setup_file "$f" 644 root:root "$EMUL_DIR/log"
done
sleep 1
emul_backup "$a"
emul_backup "$b"
sed -i '/ install /d; / status installed /d' "$a"
rm -f "$b"
wc -l "$a"
