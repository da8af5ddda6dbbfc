#!/bin/bash
# vigil-emulation: benign
# technique: T1049 System Network Connections Discovery; T1057 Process Discovery
# tactic: discovery
# what: a monitoring agent's collection loop, ten rounds half a second apart: ss -tanp,
#   ip -s link, ps sorted by CPU, /proc/loadavg, df -P, free -m, /proc/net/dev, written as
#   a metrics file to a scratch directory.
# report: nothing: the same read-only system queries repeated on a schedule.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

emul_tmpdir
for i in $(seq 1 10); do
    {
        ss -tanp | wc -l
        ip -s link | grep -c mtu
        ps -eo pid,pcpu,pmem,comm --sort=-pcpu | head -5
        cat /proc/loadavg
        df -P / | tail -1
        free -m | head -2
        grep -c : /proc/net/dev
    } >"$EMUL_DIR/metrics.prom.$$" 2>/dev/null
    mv "$EMUL_DIR/metrics.prom.$$" "$EMUL_DIR/metrics.prom"
    sleep 0.5
done
wc -l "$EMUL_DIR/metrics.prom"
