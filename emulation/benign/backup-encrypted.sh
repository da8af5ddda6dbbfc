#!/bin/bash
# vigil-emulation: benign
# technique: T1486 Data Encrypted for Impact; T1560.001 Archive Collected Data: Archive via Utility
# tactic: impact, collection
# what: an encrypted off-site-style backup kept locally: a scratch user's home (a project
#   tree of 40 files) is archived with tar, compressed and encrypted in one pipeline
#   (`tar cf - | gzip | openssl enc -aes-256-cbc -pbkdf2 -out .../home.tgz.enc`) into
#   /var/backups, then decrypted and listed to verify it; the originals stay untouched.
# report: nothing: one archive encrypted for backup, sources intact.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need openssl

user=vigil-emul-bob
emul_user "$user"
for i in $(seq 1 40); do echo "notes $i" >"/home/$user/note$i.txt"; done
out=/var/backups/vigil-emul-home.tgz.enc
emul_backup "$out"
tar cf - -C /home "$user" | gzip | openssl enc -aes-256-cbc -pbkdf2 -pass pass:backup-key -out "$out"
openssl enc -d -aes-256-cbc -pbkdf2 -pass pass:backup-key -in "$out" | tar tzf - | wc -l
