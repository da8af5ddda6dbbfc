#!/bin/bash
# vigil-emulation: benign
# technique: T1070.002 Indicator Removal: Clear Linux or Mac System Logs
# tactic: defense-evasion
# what: logrotate's default mode on an application's logs under /var/log/vigil-emul-app:
#   each non-empty log is renamed to .1, a fresh empty one is created in its place
#   (`create 0640`), older ones shift and are compressed with gzip; run twice with -f.
# report: nothing: the log rotation tool rotating logs.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need logrotate

d=/var/log/vigil-emul-app
emul_backup "$d"
mkdir -p "$d"
seq 1 500 | sed 's/^/GET \/index.html 200 /' >"$d/access.log"
seq 1 50 | sed 's/^/error: upstream timeout /' >"$d/error.log"
emul_tmpdir
cat >"$EMUL_DIR/app.conf" <<CONF
$d/*.log {
    daily
    rotate 3
    compress
    delaycompress
    missingok
    create 0640 root adm
}
CONF
logrotate -f -s "$EMUL_DIR/state" "$EMUL_DIR/app.conf"
echo "more traffic" >>"$d/access.log"
logrotate -f -s "$EMUL_DIR/state" "$EMUL_DIR/app.conf"
ls "$d"
