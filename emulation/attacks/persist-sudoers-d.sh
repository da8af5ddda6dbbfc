#!/bin/bash
# vigil-emulation: attack
# technique: T1548.003 Abuse Elevation Control Mechanism: Sudo and Sudo Caching
# tactic: persistence, privilege-escalation
# what: gives a scratch account passwordless root with a new /etc/sudoers.d/vigil-emul-svc
#   (`vigil-emul-svc ALL=(ALL) NOPASSWD: ALL`) written by echo, not visudo; the account
#   and the file are removed at the end.
# report: a sudoers drop-in written by a shell granting NOPASSWD ALL.
# expect: sudoers|sudo
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

emul_user vigil-emul-svc
emul_backup /etc/sudoers.d/vigil-emul-svc
echo 'vigil-emul-svc ALL=(ALL) NOPASSWD: ALL' >/etc/sudoers.d/vigil-emul-svc
chmod 440 /etc/sudoers.d/vigil-emul-svc
if command -v sudo >/dev/null; then sudo -l -U vigil-emul-svc | tail -2; fi
