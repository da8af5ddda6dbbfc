#!/bin/bash
# vigil-emulation: benign
# technique: T1059.004 Command and Scripting Interpreter: Unix Shell
# tactic: execution
# what: `npm run build`, `npm test` and `npm run lint` in a small project whose scripts are
#   shell one-liners, so node runs `sh -c 'mkdir -p dist && cp ... && node ...'` the way
#   every JavaScript build does (offline, no registry access).
# report: nothing: npm running a project's own scripts through sh.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need node npm

emul_tmpdir
cd "$EMUL_DIR"
export npm_config_cache=$EMUL_DIR/.npm npm_config_update_notifier=false \
    npm_config_fund=false npm_config_audit=false npm_config_logs_dir=$EMUL_DIR/.npm/_logs
mkdir -p src
echo 'module.exports = (a, b) => a + b;' >src/add.js
cat >package.json <<'JSON'
{
  "name": "vigil-emul-app",
  "version": "1.0.0",
  "private": true,
  "scripts": {
    "build": "mkdir -p dist && cp src/*.js dist/ && node -e \"require('./dist/add.js')\" && echo built",
    "test": "node -e \"const add=require('./src/add.js'); if (add(2,2)!==4) process.exit(1)\" && echo tests passed",
    "lint": "sh -c 'for f in src/*.js; do node --check $f; done' && echo lint ok"
  }
}
JSON
npm run -s build
npm test -s
npm run -s lint
