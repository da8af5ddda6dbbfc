#!/bin/bash
# vigil-emulation: attack
# technique: T1003.007 OS Credential Dumping: Proc Filesystem
# tactic: credential-access
# what: mimipenguin-style: finds a running sshd (a private one the scenario starts on
#   127.0.0.1), reads /proc/PID/maps and then its heap and stack through /proc/PID/mem
#   with Python, looking for password-like strings.
# report: another process's memory read through /proc/PID/mem (an sshd's), by python.
# expect: memory|proc mem|credential dump|dump
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
. "$EMUL_LIB/ssh.sh"
emul_need sshd

emul_sshd
pid=$(cat "$EMUL_SSHD_DIR/sshd.pid" 2>/dev/null || pgrep -f "$EMUL_SSHD_DIR/sshd_config" | head -1)
"$PY" - "$pid" <<'PY'
import re, sys
pid = sys.argv[1]
found = 0
with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
    for line in maps:
        if "[heap]" not in line and "[stack]" not in line:
            continue
        lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
        mem.seek(lo)
        try:
            data = mem.read(min(hi - lo, 8 << 20))
        except OSError:
            continue
        found += len(re.findall(rb"[\x20-\x7e]{6,}", data))
print("strings read from sshd memory:", found)
PY
