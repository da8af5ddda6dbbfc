#!/bin/bash
# vigil-emulation: benign
# technique: T1552.001 Unsecured Credentials: Credentials In Files
# tactic: credential-access
# what: an administrator grepping configuration: which ports services listen on
#   (`grep -rn -E '^(Port|ListenAddress|listen)' /etc/ssh /etc/*.conf`), where a host
#   name is used (`grep -rl HOSTNAME /etc`), errors in logs (`grep -i error
#   /var/log/*.log | tail`).
# report: nothing: searches of configuration that are not looking for secrets.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

grep -rn -E '^(Port|ListenAddress|listen)' /etc/ssh /etc/*.conf 2>/dev/null | head -5 || true
grep -rl "$(hostname)" /etc 2>/dev/null | head -5 || true
grep -ih error /var/log/*.log 2>/dev/null | tail -3 || true
