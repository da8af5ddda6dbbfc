#!/bin/bash
# vigil-emulation: benign
# technique: T1071.004 Application Layer Protocol: DNS
# tactic: command-and-control
# what: an application resolving ordinary names through its configured resolver: in a
#   private network namespace whose resolv.conf (/etc/netns/NAME/resolv.conf) names a
#   local resolver, getaddrinfo() looks up 30 short, readable names (www, api, cdn,
#   mail... under vigil-emul.example) at a few per second.
# report: nothing: normal name lookups through the configured resolver.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need ip

emul_netns
ip -n "$EMUL_NS" addr add 10.53.0.1/32 dev lo
emul_backup "/etc/netns/$EMUL_NS"
mkdir -p "/etc/netns/$EMUL_NS"
echo 'nameserver 10.53.0.1' >"/etc/netns/$EMUL_NS/resolv.conf"
emul_tmpdir
: >"$EMUL_DIR/ready"
emul_bg ip netns exec "$EMUL_NS" "$PY" "$SERVERS" dns --host 10.53.0.1 --port 53 --ready-file "$EMUL_DIR/ready"
emul_ready "$EMUL_DIR/ready" >/dev/null
ip netns exec "$EMUL_NS" "$PY" - <<'PY'
import socket, time
names = ["www", "api", "cdn", "mail", "static", "auth", "login", "shop", "docs", "status"]
ok = 0
for round_ in range(3):
    for n in names:
        try:
            socket.getaddrinfo(f"{n}.vigil-emul.example", 443, proto=socket.IPPROTO_TCP)
            ok += 1
        except socket.gaierror:
            pass
        time.sleep(0.15)
print(ok, "lookups answered")
PY
