#!/bin/bash
# vigil-emulation: benign
# technique: T1505.003 Server Software Component: Web Shell
# tactic: persistence
# what: a Python web application whose "export" endpoint runs one fixed shell pipeline
#   through `sh -c` (subprocess with shell=True): `tar czf EXPORT -C DATA . && sha256sum
#   EXPORT`; the request carries no command, only an export id the app checks is a
#   number. The scenario requests three exports.
# report: nothing: an application running its own fixed shell pipeline.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need curl

emul_tmpdir
mkdir -p "$EMUL_DIR/data"
for i in 1 2 3; do echo "row $i" >"$EMUL_DIR/data/t$i.csv"; done
cat >"$EMUL_DIR/export_app.py" <<'PY'
import subprocess, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
DATA = sys.argv[2]
class App(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        export_id = self.path.rsplit("/", 1)[-1]
        if not export_id.isdigit():
            self.send_response(400); self.end_headers(); return
        out = f"{DATA}/../export-{export_id}.tgz"
        body = subprocess.run(f"tar czf {out} -C {DATA} . && sha256sum {out}", shell=True,
                              capture_output=True).stdout
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
srv = ThreadingHTTPServer(("127.0.0.1", 0), App)
open(sys.argv[1], "w").write(str(srv.server_address[1]))
srv.serve_forever()
PY
: >"$EMUL_DIR/port"
emul_bg "$PY" "$EMUL_DIR/export_app.py" "$EMUL_DIR/port" "$EMUL_DIR/data"
port=$(emul_ready "$EMUL_DIR/port")
for id in 101 102 103; do curl -s -X POST "http://127.0.0.1:$port/export/$id"; done
