#!/bin/bash
# vigil-emulation: benign
# technique: T1505.003 Server Software Component: Web Shell
# tactic: persistence
# what: a Node.js development server on 127.0.0.1 that, per request, asks git for the
#   current revision with child_process.exec('git rev-parse --short HEAD') (so
#   `/bin/sh -c` under node) and runs `node --version` with execFile, the way dev servers
#   and build dashboards do; the scenario requests its pages six times.
# report: nothing: a server running fixed commands, none taken from requests.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need node curl git

emul_tmpdir
cd "$EMUL_DIR"
git init -q repo && git -C repo -c user.name=ci -c user.email=ci@example.invalid commit -q --allow-empty -m init
cat >server.js <<'JS'
const http = require('http');
const { exec, execFile } = require('child_process');
const fs = require('fs');
const repo = process.argv[3];
const srv = http.createServer((req, res) => {
  if (req.url === '/rev') {
    exec('git rev-parse --short HEAD', { cwd: repo }, (e, out) => res.end(out));
  } else {
    execFile('node', ['--version'], (e, out) => res.end(out));
  }
});
srv.listen(0, '127.0.0.1', () => fs.writeFileSync(process.argv[2], String(srv.address().port)));
JS
: >port
emul_bg node server.js "$EMUL_DIR/port" "$EMUL_DIR/repo"
port=$(emul_ready "$EMUL_DIR/port")
for i in 1 2 3; do curl -s "http://127.0.0.1:$port/rev"; curl -s "http://127.0.0.1:$port/version"; done
