#!/bin/bash
# vigil-emulation: benign
# technique: T1059.007 Command and Scripting Interpreter: JavaScript; T1195.001 Supply Chain Compromise: Compromise Software Dependencies and Development Tools
# tactic: execution, initial-access
# what: installs a local package tarball (`npm pack` then `npm install ./pkg.tgz`,
#   offline) whose postinstall script is `node scripts/postinstall.js`, which compiles a
#   config with child_process.execSync (sh -c) into the package directory, as packages
#   with native or generated parts do.
# report: nothing: a package's install script writing inside node_modules.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need node npm

emul_tmpdir
export npm_config_cache=$EMUL_DIR/.npm npm_config_update_notifier=false \
    npm_config_fund=false npm_config_audit=false npm_config_logs_dir=$EMUL_DIR/.npm/_logs
mkdir -p "$EMUL_DIR/pkg/scripts" "$EMUL_DIR/app"
cd "$EMUL_DIR/pkg"
cat >package.json <<'JSON'
{"name": "vigil-emul-dep", "version": "1.2.3", "main": "index.js",
 "scripts": {"postinstall": "node scripts/postinstall.js"}}
JSON
echo 'module.exports = require("./generated.json");' >index.js
cat >scripts/postinstall.js <<'JS'
const { execSync } = require('child_process');
execSync('mkdir -p build && echo \'{"generated": true}\' > generated.json && ls build', { stdio: 'inherit' });
JS
npm pack -s >/dev/null
cd "$EMUL_DIR/app"
echo '{"name": "vigil-emul-consumer", "version": "0.0.1", "private": true}' >package.json
npm install -s --offline "$EMUL_DIR/pkg/vigil-emul-dep-1.2.3.tgz"
node -e 'console.log(require("vigil-emul-dep"))'
