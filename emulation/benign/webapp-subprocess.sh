#!/bin/bash
# vigil-emulation: benign
# technique: T1505.003 Server Software Component: Web Shell
# tactic: persistence
# what: a Python web application on 127.0.0.1 whose endpoints run fixed programs without
#   a shell, as status pages and admin panels do: `git --version`, `df -h /`,
#   `uptime`, `gzip -c` of a report; the scenario requests each page twice.
# report: nothing: a web app running its own fixed helper programs.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need curl

emul_tmpdir
cat >"$EMUL_DIR/status_app.py" <<'PY'
import subprocess, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
PAGES = {"/version": ["git", "--version"], "/disk": ["df", "-h", "/"],
         "/uptime": ["uptime"], "/report.gz": ["gzip", "-c", "/etc/hostname"]}
class App(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        cmd = PAGES.get(self.path)
        body = subprocess.run(cmd, capture_output=True).stdout if cmd else b"not found"
        self.send_response(200 if cmd else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
srv = ThreadingHTTPServer(("127.0.0.1", 0), App)
open(sys.argv[1], "w").write(str(srv.server_address[1]))
srv.serve_forever()
PY
: >"$EMUL_DIR/port"
emul_bg "$PY" "$EMUL_DIR/status_app.py" "$EMUL_DIR/port"
port=$(emul_ready "$EMUL_DIR/port")
for round in 1 2; do
    for page in /version /disk /uptime /report.gz; do
        curl -s "http://127.0.0.1:$port$page" | head -c 80 | tr -cd '[:print:]\n'
        echo
    done
done
