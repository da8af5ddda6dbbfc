# SSH helpers for scenarios (source after common.sh): a private sshd whose log is relayed
# into the followed auth log, and clients that fail or succeed on purpose.
# shellcheck shell=bash

# emul_sshd [NETNS] [ADDRESS] [rfc3339|rfc3164]: start a private sshd (own host key and
# config, never the machine's) on a free port of ADDRESS (default 127.0.0.1), optionally
# inside NETNS. Sets EMUL_SSHD_PORT, EMUL_SSHD_ADDR, EMUL_SSHD_DIR and EMUL_SSH_KEY (a
# client key it accepts for any user, root included). Its log goes into $EMUL_AUTHLOG.
emul_sshd() {
    local ns=${1:-} addr=${2:-127.0.0.1} fmt=${3:-rfc3339} d run=() i
    [ -n "$ns" ] && run=(ip netns exec "$ns")
    emul_tmpdir
    d=$EMUL_DIR
    chmod 755 "$d"
    ssh-keygen -q -t ed25519 -N '' -C vigil-emul-host -f "$d/host_key"
    ssh-keygen -q -t ed25519 -N '' -C vigil-emul-client -f "$d/client_key"
    cp "$d/client_key.pub" "$d/authorized_keys"
    if [ ! -d /run/sshd ]; then
        mkdir -p /run/sshd
        emul_on_exit rmdir /run/sshd
    fi
    EMUL_SSHD_PORT=$("${run[@]}" "$PY" -c "import socket;s=socket.socket();s.bind(('$addr',0));print(s.getsockname()[1])")
    cat >"$d/sshd_config" <<EOF
Port $EMUL_SSHD_PORT
ListenAddress $addr
HostKey $d/host_key
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
StrictModes no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
UsePAM yes
PermitRootLogin prohibit-password
MaxAuthTries 6
MaxStartups 100
LogLevel DEBUG1
Subsystem sftp internal-sftp
EOF
    emul_bg "${run[@]}" /usr/sbin/sshd -D -f "$d/sshd_config" -E "$d/sshd.log"
    local sshd_pid=$EMUL_BG_PID
    for i in $(seq 1 100); do
        grep -q "Server listening" "$d/sshd.log" 2>/dev/null && break
        sleep 0.05
    done
    # the relay stops first at exit and copies the rest of the log as it goes
    emul_bg "$PY" "$EMUL_LIB/authlog_relay.py" --src "$d/sshd.log" --dst "$EMUL_AUTHLOG" \
        --listener-pid "$sshd_pid" --format "$fmt"
    printf '#!/bin/sh\necho "Winter2024!"\n' >"$d/askpass"
    chmod 755 "$d/askpass"
    EMUL_SSHD_ADDR=$addr
    EMUL_SSHD_DIR=$d
    EMUL_SSH_KEY=$d/client_key
}

_emul_ssh_opts=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
                -o ConnectTimeout=10)

# emul_ssh_fail USER [TRIES] [SOURCE_ADDRESS] [NETNS]: password attempts that fail.
emul_ssh_fail() {
    local user=$1 tries=${2:-3} src=${3:-} ns=${4:-} run=() bind=()
    [ -n "$ns" ] && run=(ip netns exec "$ns")
    [ -n "$src" ] && bind=(-b "$src")
    SSH_ASKPASS="$EMUL_SSHD_DIR/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=none \
        "${run[@]}" timeout 30 ssh "${_emul_ssh_opts[@]}" "${bind[@]}" \
        -o PreferredAuthentications=password -o PubkeyAuthentication=no \
        -o NumberOfPasswordPrompts="$tries" -p "$EMUL_SSHD_PORT" \
        "$user@$EMUL_SSHD_ADDR" true </dev/null >/dev/null 2>&1 || true
}

# emul_ssh_key USER COMMAND... : a key login that runs COMMAND.
emul_ssh_key() {
    local user=$1
    shift
    ssh "${_emul_ssh_opts[@]}" -o BatchMode=yes -i "$EMUL_SSH_KEY" -p "$EMUL_SSHD_PORT" \
        "$user@$EMUL_SSHD_ADDR" "$@" </dev/null
}

# emul_sshd_flush: give the relay time to copy the last lines.
emul_sshd_flush() { sleep 1; }
