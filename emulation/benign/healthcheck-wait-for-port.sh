#!/bin/bash
# vigil-emulation: benign
# technique: T1046 Network Service Discovery
# tactic: discovery
# what: a wait-for-it style start-up script: it polls one port of a service that starts
#   late with `nc -z 127.0.0.1 PORT` and `timeout 1 bash -c '</dev/tcp/127.0.0.1/PORT'`
#   every 0.3 s (a handful refused), then checks `/health` with curl five times.
# report: nothing: repeated checks of one port of one service.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need nc curl

emul_tmpdir
port=$("$PY" -c "import socket;s=socket.socket();s.bind(('127.0.0.1',0));print(s.getsockname()[1])")
(sleep 2; exec "$PY" "$SERVERS" http --port "$port" --dir "$EMUL_DIR" --ready-file "$EMUL_DIR/ready") &
emul_on_exit _emul_kill $!
until nc -z 127.0.0.1 "$port" 2>/dev/null; do sleep 0.3; done
until timeout 1 bash -c "</dev/tcp/127.0.0.1/$port" 2>/dev/null; do sleep 0.3; done
for i in 1 2 3 4 5; do curl -fsS "http://127.0.0.1:$port/health"; sleep 0.2; done
