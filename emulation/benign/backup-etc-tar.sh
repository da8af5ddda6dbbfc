#!/bin/bash
# vigil-emulation: benign
# technique: T1560.001 Archive Collected Data: Archive via Utility; T1003.008 OS Credential Dumping: /etc/passwd and /etc/shadow
# tactic: collection, credential-access
# what: a nightly configuration backup: `tar czf /var/backups/vigil-emul-etc-DATE.tar.gz
#   /etc` (reading /etc/shadow, SSH host keys, TLS keys like every backup of /etc does),
#   a sha256sum beside it, a listing check with `tar tzf`; removed at the end.
# report: nothing: a backup job archiving /etc into /var/backups on the same host.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

out=/var/backups/vigil-emul-etc-$(date +%Y%m%d).tar.gz
emul_backup "$out"
emul_backup "$out.sha256"
tar czf "$out" -C / etc 2>/dev/null || [ $? -eq 1 ]
sha256sum "$out" >"$out.sha256"
tar tzf "$out" | wc -l
