# Sourced by every bash scenario: strict mode, cleanup on every exit, backups that
# restore files exactly, scratch directories, background helpers, network namespaces.
#
# Everything a scenario creates is registered with emul_on_exit (or a helper that calls
# it) right after it is created; the EXIT trap runs the registrations newest first, also
# when the runner stops the scenario with SIGTERM after its timeout.
# shellcheck shell=bash

set -euo pipefail

EMUL_LIB=${EMUL_LIB:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=$(command -v python3); fi
SERVERS="$EMUL_LIB/servers.py"
EMUL_NAME=${EMUL_SCENARIO:-$(basename "$0" .sh)}
EMUL_AUTHLOG=${EMUL_AUTHLOG:-/var/log/auth.log}
_emul_cleanups=()

emul_log() { printf '[%s] %s\n' "$EMUL_NAME" "$*"; }

# emul_on_exit CMD ARGS...: run at exit (newest first); arguments are kept exactly.
emul_on_exit() {
    local quoted
    quoted=$(printf '%q ' "$@")
    _emul_cleanups+=("$quoted")
}

_emul_cleanup() {
    local rc=$? i
    set +e
    trap - EXIT
    for ((i = ${#_emul_cleanups[@]} - 1; i >= 0; i--)); do
        eval "${_emul_cleanups[i]}" >/dev/null 2>&1
    done
    _emul_cleanups=()
    exit "$rc"
}
trap _emul_cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

# emul_skip REASON: this machine cannot run the scenario (exit 77, reported as skipped).
emul_skip() { emul_log "skipped: $*"; exit 77; }

# emul_need CMD...: skip unless every command exists.
emul_need() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || emul_skip "needs $c (make emulate installs it)"
    done
}

# emul_tmpdir [PARENT]: a scratch directory named vigil-emul-<scenario>.* (in EMUL_DIR),
# removed at exit. (Not in $(...): a subshell's registrations are lost.)
emul_tmpdir() {
    local parent=${1:-/tmp}
    EMUL_DIR=$(mktemp -d "$parent/vigil-emul-$EMUL_NAME.XXXXXX")
    emul_on_exit rm -rf -- "$EMUL_DIR"
}

_emul_backups=""
# emul_backup PATH: restore PATH exactly at exit (content, mode, owner, times), or remove
# it (and the parent directories that did not exist) if it does not exist now.
# Under the runner (EMUL_CUSTODIAN set) the runner makes the copy and restores it after the
# scenario's window, so neither is the scenario's own activity (see emulate/custodian.py).
emul_backup() {
    local path=$1 dir missing=() copy i
    case $path in /*) ;; *) path=$PWD/$path ;; esac
    if [ -n "${EMUL_CUSTODIAN:-}" ]; then
        _emul_custodian backup "$path"
        return
    fi
    if [ -z "$_emul_backups" ]; then
        _emul_backups=$(mktemp -d /var/tmp/vigil-emul-backup.XXXXXX)
        emul_on_exit rm -rf -- "$_emul_backups"
    fi
    dir=$(dirname "$path")
    while [ ! -e "$dir" ]; do missing+=("$dir"); dir=$(dirname "$dir"); done
    # outermost first, so that at exit (newest first) the deepest goes first
    for ((i = ${#missing[@]} - 1; i >= 0; i--)); do emul_on_exit rmdir -- "${missing[i]}"; done
    if [ -e "$path" ] || [ -L "$path" ]; then
        copy=$(mktemp -d "$_emul_backups/f.XXXXXX")
        cp -a -- "$path" "$copy/"
        emul_on_exit _emul_restore "$copy/$(basename "$path")" "$path"
    else
        emul_on_exit rm -rf -- "$path"
    fi
}

_emul_restore() {
    local copy=$1 path=$2
    if [ -d "$copy" ] && [ ! -L "$copy" ]; then
        rm -rf -- "$path"
        cp -a -- "$copy" "$path"
    else
        # same inode when it is still a regular file: bind mounts (/etc/hosts) survive
        if [ -f "$path" ] && [ ! -L "$path" ] && [ -f "$copy" ] && [ ! -L "$copy" ]; then
            cat -- "$copy" >"$path"
            chmod --reference="$copy" -- "$path"
            chown --reference="$copy" -- "$path"
            touch -r "$copy" -- "$path"
        else
            rm -rf -- "$path"
            cp -a -- "$copy" "$path"
        fi
    fi
}

# emul_bg CMD ARGS...: start a background helper, killed at exit; its pid in EMUL_BG_PID.
emul_bg() {
    "$@" &
    EMUL_BG_PID=$!
    emul_on_exit _emul_kill "$EMUL_BG_PID"
}

_emul_kill() {
    kill -TERM "$1" 2>/dev/null || return 0
    local i
    for i in $(seq 1 30); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
}

# emul_ready FILE [SECONDS]: wait until a helper wrote FILE (e.g. its port); print it.
emul_ready() {
    local f=$1 t=${2:-15} i
    for ((i = 0; i < t * 20; i++)); do
        if [ -s "$f" ]; then cat -- "$f"; return 0; fi
        sleep 0.05
    done
    emul_log "helper did not become ready ($f)"
    return 1
}

# emul_server KIND ARGS...: start servers.py KIND on a free port (loopback unless
# --host), wait until it listens; its port in EMUL_PORT, its pid in EMUL_BG_PID.
emul_server() {
    local kind=$1 ready
    shift
    ready=$(mktemp /tmp/vigil-emul-ready.XXXXXX)
    emul_on_exit rm -f -- "$ready"
    : >"$ready"
    emul_bg "$PY" "$SERVERS" "$kind" --ready-file "$ready" "$@"
    EMUL_PORT=$(emul_ready "$ready")
}

# emul_netns: a private network namespace (lo up), deleted with its processes at exit;
# its name in EMUL_NS. Run commands in it with `ip netns exec "$EMUL_NS" ...`.
emul_netns() {
    EMUL_NS="vigil-emul-$$-$RANDOM"
    ip netns add "$EMUL_NS"
    emul_on_exit _emul_netns_del "$EMUL_NS"
    ip -n "$EMUL_NS" link set lo up
}

_emul_netns_del() {
    local pids
    pids=$(ip netns pids "$1" 2>/dev/null || true)
    if [ -n "$pids" ]; then
        # shellcheck disable=SC2086
        kill -TERM $pids 2>/dev/null; sleep 0.3
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null
    fi
    ip netns del "$1"
}

# emul_veth_pair: a netns reachable from the host over a veth pair in an unused, random
# /24 of 198.18.0.0/15 (RFC 2544 benchmarking space): the host side is EMUL_HOST_IP, the
# namespace side EMUL_PEER_IP. Traffic never leaves the machine. (Random, so that two
# scenarios' "remote" peers are different addresses, as two attackers' would be.)
emul_veth_pair() {
    emul_netns
    local n host_if peer_if i
    for i in $(seq 1 50); do
        n=$((RANDOM % 250 + 2))
        [ "$n" = 77 ] && continue  # bf-ssh-distributed's namespace addresses
        if ! ip route show | grep -q "^198\.18\.$n\.0/24" &&
            ! ip addr show | grep -q "inet 198\.18\.$n\."; then break; fi
    done
    host_if="vemul$$${RANDOM:0:3}"
    host_if=${host_if:0:15}
    peer_if="vpeer"
    ip link add "$host_if" type veth peer name "$peer_if" netns "$EMUL_NS"
    emul_on_exit ip link del "$host_if"
    EMUL_HOST_IP="198.18.$n.1"
    EMUL_PEER_IP="198.18.$n.2"
    EMUL_SUBNET="198.18.$n"
    ip addr add "$EMUL_HOST_IP/24" dev "$host_if"
    ip link set "$host_if" up
    ip -n "$EMUL_NS" addr add "$EMUL_PEER_IP/24" dev "$peer_if"
    ip -n "$EMUL_NS" link set "$peer_if" up
    ip -n "$EMUL_NS" route add default via "$EMUL_HOST_IP"
}

# emul_accounts_backup: restore the account databases (and the `-` copies the shadow
# tools leave) exactly at exit.
emul_accounts_backup() {
    local f
    for f in passwd shadow group gshadow subuid subgid; do
        emul_backup "/etc/$f"
        emul_backup "/etc/$f-"
    done
}

_emul_custodian() { "$PY" "$EMUL_LIB/custodian_client.py" "$EMUL_CUSTODIAN" "$@"; }

# emul_user NAME: a scratch account (home under /home), removed with its home at exit.
# Set-up, not behaviour: under the runner the custodian creates it (outside the scenario).
emul_user() {
    local name=$1
    if [ -n "${EMUL_CUSTODIAN:-}" ]; then
        _emul_custodian useradd "$name"
        return
    fi
    emul_accounts_backup
    emul_on_exit rm -rf -- "/home/$name" "/var/mail/$name" "/var/spool/mail/$name"
    useradd -m -s /bin/bash "$name"
}

# emul_setup_file DEST MODE OWNER SOURCE: install SOURCE at DEST as part of the stage
# (a key, a history, a sudo rule the scenario needs), removed or restored at exit; under
# the runner the custodian installs it, so it is not the scenario's activity.
emul_setup_file() {
    local dest=$1 mode=$2 owner=$3 src=$4
    if [ -n "${EMUL_CUSTODIAN:-}" ]; then
        _emul_custodian write "$dest" "$mode" "$owner" "$src"
        return
    fi
    emul_backup "$dest"
    install -D -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" -- "$src" "$dest"
}

# emul_setup_dir DEST MODE OWNER: create a directory as part of the stage (see above).
emul_setup_dir() {
    local dest=$1 mode=$2 owner=$3
    if [ -n "${EMUL_CUSTODIAN:-}" ]; then
        _emul_custodian mkdir "$dest" "$mode" "$owner"
        return
    fi
    emul_backup "$dest"
    install -d -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" -- "$dest"
}

# emul_noop_so PATH: build a shared object that does nothing (for preload and PAM
# scenarios: loading it changes no behaviour), removed at exit.
emul_noop_so() {
    local out=$1 src
    emul_backup "$out"
    src=$(mktemp /tmp/vigil-emul-so.XXXXXX.c)
    emul_on_exit rm -f -- "$src"
    printf 'int vigil_emul_noop(void) { return 0; }\n' >"$src"
    mkdir -p "$(dirname "$out")"
    gcc -shared -fPIC -o "$out" "$src"
}
