#!/bin/bash
# vigil-emulation: attack
# technique: T1552.004 Unsecured Credentials: Private Keys
# tactic: credential-access, collection
# what: looks for SSH private keys in every home directory (`find /home /root -path
#   '*/.ssh/id_*'`) and copies the private ones of a scratch user (created for the
#   scenario, key made with ssh-keygen) into a staging directory with cat, then base64s
#   them, as a credential stealer does.
# report: an SSH private key of another user read by cat (not by ssh), from a shell that
#   searched for keys.
# expect: private key|ssh key|credential
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

user=vigil-emul-keys
emul_user "$user"
install -d -m 700 -o "$user" -g "$user" "/home/$user/.ssh"
ssh-keygen -q -t ed25519 -N '' -C "$user@vigil-emul" -f "/home/$user/.ssh/id_ed25519"
chown "$user:$user" "/home/$user/.ssh/id_ed25519"*
emul_tmpdir
stage=$EMUL_DIR
find /home /root -maxdepth 3 -path '*/.ssh/id_*' 2>/dev/null
for k in /home/"$user"/.ssh/id_*; do
    case $k in *.pub) continue ;; esac
    cat "$k" >>"$stage/keys.txt"
done
base64 -w0 "$stage/keys.txt" >"$stage/keys.b64"
wc -c "$stage/keys.b64"
