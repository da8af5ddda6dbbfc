#!/bin/bash
# vigil-emulation: benign
# technique: T1059.004 Command and Scripting Interpreter: Unix Shell
# tactic: execution
# what: a container-style health check without curl, five times a second apart:
#   `exec 3<>/dev/tcp/127.0.0.1/PORT; printf 'GET /health HTTP/1.0\r\n\r\n' >&3;
#   head -1 <&3; exec 3>&-` against a local web server (only fd 3 is the socket; the
#   shell's stdin and stdout are not).
# report: nothing: a shell talking HTTP over /dev/tcp on a spare descriptor.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

emul_tmpdir
emul_server http --dir "$EMUL_DIR"
for i in 1 2 3 4 5; do
    bash -c "exec 3<>/dev/tcp/127.0.0.1/$EMUL_PORT; printf 'GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3; head -1 <&3; exec 3>&-"
    sleep 1
done
