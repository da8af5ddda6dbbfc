#!/bin/bash
# vigil-emulation: benign
# technique: T1105 Ingress Tool Transfer; T1048 Exfiltration Over Alternative Protocol
# tactic: command-and-control, exfiltration
# what: file transfers over SSH with a key to a private sshd on 127.0.0.1: scp of a
#   release tarball up and back down, and an sftp batch (ls, put, get, rm).
# report: nothing: authenticated file transfers of ordinary files.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
. "$EMUL_LIB/ssh.sh"
emul_need sshd scp sftp

emul_sshd
emul_tmpdir
work=$EMUL_DIR
mkdir -p "$work/up" "$work/down" "$work/remote"
seq 1 2000 >"$work/up/data.txt"
tar czf "$work/up/release-1.0.tgz" -C "$work/up" data.txt
o=("${_emul_ssh_opts[@]}" -o BatchMode=yes -i "$EMUL_SSH_KEY" -P "$EMUL_SSHD_PORT")
scp -q "${o[@]}" "$work/up/release-1.0.tgz" "root@127.0.0.1:$work/remote/"
scp -q "${o[@]}" "root@127.0.0.1:$work/remote/release-1.0.tgz" "$work/down/"
printf 'ls %s\nput %s %s/data.txt\nget %s/data.txt %s/data2.txt\nrm %s/data.txt\n' \
    "$work/remote" "$work/up/data.txt" "$work/remote" "$work/remote" "$work/down" "$work/remote" |
    sftp -q "${o[@]}" -b - root@127.0.0.1 >/dev/null
cmp "$work/up/data.txt" "$work/down/data2.txt" && echo transferred
emul_sshd_flush
