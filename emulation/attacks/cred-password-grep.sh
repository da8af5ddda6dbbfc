#!/bin/bash
# vigil-emulation: attack
# technique: T1552.001 Unsecured Credentials: Credentials In Files
# tactic: credential-access, discovery
# what: a recursive search for secrets: `grep -rniE 'password|passwd|secret|api_key'` over
#   /etc, /home, /srv, /var/www and root's ~/.config and ~/.ssh, and `grep -rl 'BEGIN .*PRIVATE KEY'` over the
#   same trees, as LinPEAS-style scripts do (each search capped at 20 s).
# report: a search for passwords and private keys across configuration and home trees.
# expect: search|password|credential|private key
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

timeout 20 grep -rniE 'password|passwd|secret|api_key' /etc /home /srv /var/www /root/.config /root/.ssh 2>/dev/null | wc -l || true
timeout 20 grep -rlE 'BEGIN .*PRIVATE KEY' /etc /home /srv /root/.config /root/.ssh 2>/dev/null | wc -l || true
