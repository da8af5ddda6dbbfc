#!/bin/bash
# vigil-emulation: attack
# technique: T1486 Data Encrypted for Impact
# tactic: impact
# what: ransomware behaviour on a "data" tree the scenario creates (/srv/vigil-emul-share,
#   300 documents): every file is encrypted with openssl enc (AES-256) into NAME.locked,
#   the original deleted, and a README_RESTORE_FILES.txt ransom note dropped in each
#   directory.
# report: ransomware: hundreds of files rewritten as encrypted copies with a new
#   extension, originals deleted, ransom notes written.
# expect: ransom|encrypt
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need openssl

d=/srv/vigil-emul-share
emul_backup "$d"
for i in $(seq 1 15); do
    mkdir -p "$d/proj$i"
    for j in $(seq 1 20); do
        printf 'confidential document %s-%s\n' "$i" "$j" >"$d/proj$i/doc$j.txt"
        head -c 1024 /dev/urandom | base64 >>"$d/proj$i/doc$j.txt"
    done
done
sleep 1
find "$d" -type f -name '*.txt' | while read -r f; do
    openssl enc -aes-256-cbc -pbkdf2 -salt -pass pass:vigil-emul -in "$f" -out "$f.locked" && rm -f "$f"
done
for dir in "$d"/proj*; do
    echo 'Your files are encrypted. (vigil emulation: nothing real was encrypted)' >"$dir/README_RESTORE_FILES.txt"
done
find "$d" -name '*.locked' | wc -l
