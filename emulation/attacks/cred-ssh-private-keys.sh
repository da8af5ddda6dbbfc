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
emul_tmpdir
ssh-keygen -q -t ed25519 -N '' -C "$user@vigil-emul" -f "$EMUL_DIR/k"
emul_setup_dir "/home/$user/.ssh" 700 "$user:$user"
emul_setup_file "/home/$user/.ssh/id_ed25519" 600 "$user:$user" "$EMUL_DIR/k"
emul_setup_file "/home/$user/.ssh/id_ed25519.pub" 644 "$user:$user" "$EMUL_DIR/k.pub"
rm -f "$EMUL_DIR/k" "$EMUL_DIR/k.pub"
stage=$EMUL_DIR
find /home /root -maxdepth 3 -path '*/.ssh/id_*' 2>/dev/null
for k in /home/"$user"/.ssh/id_*; do
    case $k in *.pub) continue ;; esac
    cat "$k" >>"$stage/keys.txt"
done
base64 -w0 "$stage/keys.txt" >"$stage/keys.b64"
wc -c "$stage/keys.b64"
