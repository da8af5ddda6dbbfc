#!/bin/bash
# vigil-emulation: attack
# technique: T1046 Network Service Discovery
# tactic: discovery
# what: a living-off-the-land port scan with no scanner installed: a bash loop opens
#   /dev/tcp/127.0.0.1/PORT for ports 1-1100, each in a subshell with a 1 s timeout,
#   and prints the ones that answer.
# report: a port scan: a shell script connecting to more than a thousand distinct ports of
#   one host, nearly all refused.
# expect: scan
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

for p in $(seq 1 1100); do
    (timeout 1 bash -c "echo >/dev/tcp/127.0.0.1/$p") 2>/dev/null && echo "open $p"
done | head -20 || true
