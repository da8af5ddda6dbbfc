#!/bin/bash
# vigil-emulation: attack
# technique: T1140 Deobfuscate/Decode Files or Information; T1027.010 Obfuscated Files or Information: Command Obfuscation
# tactic: execution, defense-evasion
# what: `echo BASE64 | base64 -d | sh`: an encoded command line (it runs `id`, `uname -a`
#   and lists /root) is decoded and piped into sh, hiding the commands from a reader of
#   the command line.
# report: decoded data piped into a shell: base64 -d feeding sh's stdin.
# expect: base64|decode|pipe|obfuscat
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

blob=$(printf 'id; uname -a; ls /root | head -3\n' | base64 -w0)
sh -c "echo $blob | base64 -d | sh"
