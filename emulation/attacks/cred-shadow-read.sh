#!/bin/bash
# vigil-emulation: attack
# technique: T1003.008 OS Credential Dumping: /etc/passwd and /etc/shadow
# tactic: credential-access
# what: copies /etc/shadow and /etc/passwd with cat into a scratch directory, keeps the
#   accounts that have a password hash and joins them "unshadow"-style with awk, ready
#   for an offline cracker.
# report: /etc/shadow read by a program that is not a login or password tool (cat, from a
#   shell script), followed by the hashes being written elsewhere.
# expect: shadow|credential|password file
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

emul_tmpdir
cd "$EMUL_DIR"
cat /etc/shadow >s.txt
cat /etc/passwd >p.txt
awk -F: 'NR==FNR { h[$1]=$2; next } ($1 in h) { print $1 ":" h[$1] ":" $3 ":" $4 }' s.txt p.txt >hashes.txt
grep -vc ':[*!]' hashes.txt || true
