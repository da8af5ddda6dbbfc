#!/bin/bash
# vigil-emulation: attack
# technique: T1552.005 Unsecured Credentials: Cloud Instance Metadata API
# tactic: credential-access, discovery
# what: from inside a private network namespace that has an instance-metadata service at
#   169.254.169.254 (a local emulation answering like EC2's IMDS, made-up values), curl
#   asks for an IMDSv2 token, lists the IAM role and fetches its temporary credentials.
# report: a request for IAM credentials to the instance-metadata address 169.254.169.254
#   by curl from a shell.
# expect: metadata|imds|169.254.169.254|cloud credential
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need curl ip

emul_netns
ip -n "$EMUL_NS" addr add 169.254.169.254/32 dev lo
emul_tmpdir
: >"$EMUL_DIR/ready"
emul_bg ip netns exec "$EMUL_NS" "$PY" "$SERVERS" imds --host 169.254.169.254 --port 80 \
    --ready-file "$EMUL_DIR/ready"
emul_ready "$EMUL_DIR/ready" >/dev/null
ip netns exec "$EMUL_NS" sh -c '
TOKEN=$(curl -s -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" http://169.254.169.254/latest/api/token)
role=$(curl -s -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/iam/security-credentials/)
curl -s -H "X-aws-ec2-metadata-token: $TOKEN" "http://169.254.169.254/latest/meta-data/iam/security-credentials/$role"
echo'
