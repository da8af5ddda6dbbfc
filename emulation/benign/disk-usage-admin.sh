#!/bin/bash
# vigil-emulation: benign
# technique: T1083 File and Directory Discovery
# tactic: discovery
# what: an administrator looking for what fills the disk: du -sh over /var and /usr
#   trees, `find / -xdev -size +50M`, `find /var/log -name '*.gz' -mtime +30`, and
#   ls -la of a few directories.
# report: nothing: read-only walks of the file system by size.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

du -sh /var/* /usr/* 2>/dev/null | sort -h | tail -5 || true
timeout 60 find / -xdev -size +50M -type f 2>/dev/null | head -5 || true
find /var/log -name '*.gz' -mtime +30 2>/dev/null | wc -l
ls -la /var/cache /opt | wc -l
