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
mkdir -p "$h/.aws" "$h/.kube" "$h/.docker"
printf '[default]\naws_access_key_id = AKIAEMULATIONEXAMPLE\naws_secret_access_key = emulation/not/a/real/key/000000000000000\n' >"$h/.aws/credentials"
printf 'apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    token: emulation-token-0000\n' >"$h/.kube/config"
printf '{"auths":{"registry.example":{"auth":"ZW11bDplbXVs"}}}\n' >"$h/.docker/config.json"
chown -R "$user:$user" "$h"
emul_tmpdir
cat "$h/.aws/credentials" >"$EMUL_DIR/loot"
{ grep -h aws_secret_access_key /home/*/.aws/credentials /root/.aws/credentials 2>/dev/null || true; } | wc -l
"$PY" -c "import sys;print([l.split(':')[1].strip() for l in open(sys.argv[1]) if 'token' in l])" "$h/.kube/config"
cat "$h/.docker/config.json" >>"$EMUL_DIR/loot"
