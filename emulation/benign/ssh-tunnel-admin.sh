#!/bin/bash
# vigil-emulation: benign
# technique: T1572 Protocol Tunneling
# tactic: command-and-control
# what: an administrator reaching an internal web service through an SSH local port
#   forward (`ssh -N -L LOCAL:127.0.0.1:WEB` with a key, to a private sshd on
#   127.0.0.1) and fetching three pages through it with curl.
# report: nothing: an authenticated SSH port forward used by its owner.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
. "$EMUL_LIB/ssh.sh"
emul_need sshd ssh curl

emul_sshd
emul_tmpdir
echo "internal dashboard" >"$EMUL_DIR/index.html"
emul_server http --dir "$EMUL_DIR"
web=$EMUL_PORT
local_port=$("$PY" -c "import socket;s=socket.socket();s.bind(('127.0.0.1',0));print(s.getsockname()[1])")
emul_bg ssh "${_emul_ssh_opts[@]}" -o BatchMode=yes -o ExitOnForwardFailure=yes -i "$EMUL_SSH_KEY" \
    -p "$EMUL_SSHD_PORT" -N -L "$local_port:127.0.0.1:$web" root@127.0.0.1
for i in $(seq 1 50); do nc -z 127.0.0.1 "$local_port" 2>/dev/null && break; sleep 0.1; done
for i in 1 2 3; do curl -s "http://127.0.0.1:$local_port/index.html"; done
emul_sshd_flush
