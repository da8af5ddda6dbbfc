#!/bin/bash
# vigil-emulation: attack
# technique: T1003.008 OS Credential Dumping: /etc/passwd and /etc/shadow
# tactic: credential-access
# what: a Python script opens /etc/shadow and /etc/gshadow directly (no shell tools) and
#   writes every user and hash field it finds to a hidden file in a scratch directory.
# report: /etc/shadow and /etc/gshadow read by a python process that is not a password tool.
# expect: shadow|credential|password file
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

emul_tmpdir
"$PY" - "$EMUL_DIR/.h" <<'PY'
import sys
with open(sys.argv[1], "w") as out:
    for path in ("/etc/shadow", "/etc/gshadow"):
        for line in open(path):
            f = line.split(":")
            out.write(f"{path}:{f[0]}:{f[1]}\n")
print(sum(1 for _ in open(sys.argv[1])), "entries")
PY
