#!/bin/bash
# vigil-emulation: attack
# technique: T1027 Obfuscated Files or Information; T1059.006 Command and Scripting Interpreter: Python
# tactic: defense-evasion, execution
# what: `python3 -c "import base64;exec(base64.b64decode('...'))"`: an encoded Python
#   program (it enumerates users and reads /etc/shadow's first line) executed from the
#   command line, as malware droppers do.
# report: an interpreter executing base64-encoded code from its command line.
# expect: base64|encoded|obfuscat|decode
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

code=$(printf 'import pwd\nprint([p.pw_name for p in pwd.getpwall()][:5])\nprint(open("/etc/shadow").readline()[:5])\n' | base64 -w0)
"$PY" -c "import base64;exec(base64.b64decode('$code'))"
