#!/bin/bash
# vigil-emulation: attack
# technique: T1496 Resource Hijacking; T1036.005 Masquerading: Match Legitimate Name or Location
# tactic: impact, defense-evasion
# what: the same stratum-speaking stand-in miner, renamed kswapd0 and hidden in
#   /var/tmp/.x, reading its pool (`stratum+tcp://127.0.0.1:PORT`) from a config.json so
#   nothing on its command line says "mining"; it burns one CPU for four seconds.
# report: a cryptocurrency miner: a process speaking the stratum mining protocol to a pool
#   and using a full CPU, under a kernel-thread name.
# expect: miner|mining|cryptomin|stratum
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need gcc

emul_tmpdir /var/tmp
mkdir -p "$EMUL_DIR/.x"
gcc -O1 -w -o "$EMUL_DIR/.x/kswapd0" "$EMUL_LIB/miner.c"
emul_server stratum
printf '{"pools":[{"url":"stratum+tcp://127.0.0.1:%s","user":"emul","pass":"x"}]}\n' "$EMUL_PORT" >"$EMUL_DIR/.x/config.json"
cd "$EMUL_DIR/.x" && ./kswapd0 -c config.json -t 4
