#!/bin/bash
# vigil-emulation: attack
# technique: T1552.001 Unsecured Credentials: Credentials In Files
# tactic: credential-access
# what: harvests cloud credentials from a scratch user's home (made-up AWS access keys,
#   a kubeconfig with a token, a docker config.json): cat ~/.aws/credentials, grep the
#   secret keys, python reads the kubeconfig token, as TeamTNT-style stealers do.
# report: cloud credential files (~/.aws/credentials, ~/.kube/config, ~/.docker/config.json)
#   read by programs other than the matching cloud tools.
# expect: cloud credential|aws|credential
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

user=vigil-emul-cloud
emul_user "$user"
h=/home/$user
emul_tmpdir
printf '[default]\naws_access_key_id = AKIAEMULATIONEXAMPLE\naws_secret_access_key = emulation/not/a/real/key/000000000000000\n' >"$EMUL_DIR/aws"
printf 'apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    token: emulation-token-0000\n' >"$EMUL_DIR/kube"
printf '{"auths":{"registry.example":{"auth":"ZW11bDplbXVs"}}}\n' >"$EMUL_DIR/docker"
for d in .aws .kube .docker; do emul_setup_dir "$h/$d" 700 "$user:$user"; done
emul_setup_file "$h/.aws/credentials" 600 "$user:$user" "$EMUL_DIR/aws"
emul_setup_file "$h/.kube/config" 600 "$user:$user" "$EMUL_DIR/kube"
emul_setup_file "$h/.docker/config.json" 600 "$user:$user" "$EMUL_DIR/docker"
rm -f "$EMUL_DIR"/aws "$EMUL_DIR"/kube "$EMUL_DIR"/docker
cat "$h/.aws/credentials" >"$EMUL_DIR/loot"
{ grep -h aws_secret_access_key /home/*/.aws/credentials /root/.aws/credentials 2>/dev/null || true; } | wc -l
"$PY" -c "import sys;print([l.split(':')[1].strip() for l in open(sys.argv[1]) if 'token' in l])" "$h/.kube/config"
cat "$h/.docker/config.json" >>"$EMUL_DIR/loot"
