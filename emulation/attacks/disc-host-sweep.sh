#!/bin/bash
# vigil-emulation: attack
# technique: T1018 Remote System Discovery
# tactic: discovery
# what: sweeps a /24 for live hosts: a Python script connects to ports 22 and 80 of every
#   address of a private subnet that exists only on a veth pair into a network namespace
#   (198.18.x.0/24; one peer answers, 253 addresses do not), 254 connects at a time.
# report: a host scan: one process connecting to hundreds of distinct addresses of one
#   subnet within seconds, nearly all unanswered.
# expect: scan|sweep
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need ip

emul_veth_pair
"$PY" - "$EMUL_SUBNET" <<'PY'
import selectors, socket, sys
net = sys.argv[1]
alive = set()
for port in (22, 80):
    sel = selectors.DefaultSelector()
    for host in range(1, 255):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex((f"{net}.{host}", port))
        sel.register(s, selectors.EVENT_WRITE, host)
    for key, _ in sel.select(timeout=2.0):
        err = key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err in (0, 111):
            alive.add(f"{net}.{key.data}")
    for key in list(sel.get_map().values()):
        key.fileobj.close()
print("hosts that answered:", sorted(alive))
PY
