#!/bin/bash
# vigil-emulation: attack
# technique: T1552.004 Unsecured Credentials: Private Keys
# tactic: credential-access, discovery
# what: `find / -xdev` for key and credential files by name (id_rsa, id_ed25519, *.pem,
#   *.key, *.ppk, .git-credentials, .pgpass, credentials.json), listing what it finds.
# report: a file-system-wide search for private keys and credential files.
# expect: search|private key|credential
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

timeout 60 find / -xdev \( -name id_rsa -o -name id_ed25519 -o -name '*.pem' -o -name '*.key' \
    -o -name '*.ppk' -o -name .git-credentials -o -name .pgpass -o -name credentials.json \) \
    -not -path '/proc/*' 2>/dev/null | head -20 || true
