#!/bin/bash
# vigil-emulation: attack
# technique: T1556.003 Modify Authentication Process: Pluggable Authentication Modules
# tactic: persistence, credential-access, defense-evasion
# what: plants a new PAM module (pam_vigil_emul.so, built on the spot, it does nothing)
#   next to pam_unix.so and a PAM service file /etc/pam.d/vigil-emul-login that puts it in
#   the auth stack, as PAM backdoors do; no existing PAM file is touched, all is removed.
# report: a new shared object in the PAM module directory and a new file under
#   /etc/pam.d, written outside a package manager.
# expect: pam|authentication module
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need gcc

unix=$(find /usr/lib /lib -name pam_unix.so -path '*security*' 2>/dev/null | head -1)
[ -n "$unix" ] || emul_skip "no PAM module directory"
moddir=$(dirname "$unix")
emul_noop_so "$moddir/pam_vigil_emul.so"
emul_backup /etc/pam.d/vigil-emul-login
printf 'auth sufficient pam_vigil_emul.so\n@include common-auth\n' >/etc/pam.d/vigil-emul-login
ls -la "$moddir/pam_vigil_emul.so" /etc/pam.d/vigil-emul-login
