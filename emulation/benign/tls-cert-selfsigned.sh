#!/bin/bash
# vigil-emulation: benign
# technique: T1552.004 Unsecured Credentials: Private Keys
# tactic: credential-access
# what: an administrator creating a self-signed certificate for an internal service with
#   openssl: key written to /etc/ssl/private/vigil-emul-svc.key (mode 600), certificate to
#   /etc/ssl/certs/vigil-emul-svc.pem, then inspected with `openssl x509 -noout`; both
#   removed at the end.
# report: nothing: openssl writing a new key where keys belong.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need openssl

key=/etc/ssl/private/vigil-emul-svc.key
crt=/etc/ssl/certs/vigil-emul-svc.pem
emul_backup "$key"
emul_backup "$crt"
mkdir -p /etc/ssl/private /etc/ssl/certs
(umask 077 && openssl req -x509 -newkey rsa:2048 -nodes -keyout "$key" -out "$crt" \
    -days 365 -subj "/CN=svc.vigil-emul.internal" 2>/dev/null)
openssl x509 -in "$crt" -noout -subject -enddate
