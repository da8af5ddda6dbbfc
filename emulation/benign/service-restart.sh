#!/bin/bash
# vigil-emulation: benign
# technique: T1489 Service Stop; T1562.001 Impair Defenses: Disable or Modify Tools
# tactic: impact, defense-evasion
# what: service management by pid file, as init scripts do: a small daemon (a Python web
#   server) starts with /run/vigil-emul-app.pid, is reloaded with SIGHUP... then
#   "restarted": SIGTERM by pid file, wait, start again; finally stopped.
# report: nothing: an administrator restarting an ordinary service.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need curl

pidfile=/run/vigil-emul-app.pid
emul_backup "$pidfile"
emul_tmpdir
start() {
    : >"$EMUL_DIR/ready"
    "$PY" "$SERVERS" http --dir "$EMUL_DIR" --ready-file "$EMUL_DIR/ready" >/dev/null 2>&1 &
    echo $! >"$pidfile"
    emul_on_exit _emul_kill $!
    port=$(emul_ready "$EMUL_DIR/ready")
}
start
curl -s "http://127.0.0.1:$port/health"
kill -HUP "$(cat "$pidfile")" 2>/dev/null || true
sleep 0.2
kill -TERM "$(cat "$pidfile")" 2>/dev/null || true
sleep 0.5
start
curl -s "http://127.0.0.1:$port/health"
kill -TERM "$(cat "$pidfile")"
