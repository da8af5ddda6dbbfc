#!/bin/bash
# vigil-emulation: attack
# technique: T1496 Resource Hijacking
# tactic: impact
# what: a program named xmrig (a stand-in built on the spot: it speaks XMRig's stratum
#   JSON-RPC and burns one CPU for a few seconds, mining nothing) started from /tmp with
#   `-o stratum+tcp://127.0.0.1:PORT -u WALLET -p x`, logging in to a pool the scenario
#   runs on 127.0.0.1.
# report: a cryptocurrency miner: a process named xmrig connecting to a stratum pool.
# expect: miner|mining|cryptomin|stratum|xmrig
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need gcc

emul_tmpdir
gcc -O1 -w -o "$EMUL_DIR/xmrig" "$EMUL_LIB/miner.c"
emul_server stratum
"$EMUL_DIR/xmrig" -o "stratum+tcp://127.0.0.1:$EMUL_PORT" \
    -u 4EmuLationWaLLet000000000000000000000000000000000000000000 -p x -t 3
