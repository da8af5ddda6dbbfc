#!/bin/bash
# vigil-emulation: attack
# technique: T1547.006 Boot or Logon Autostart Execution: Kernel Modules and Extensions; T1620 Reflective Code Loading
# tactic: persistence, defense-evasion
# what: the fileless variant: a module image downloaded from a web server the scenario
#   runs on 127.0.0.1 is passed from memory to the init_module system call (no file to
#   load); the image is not a module and the kernel refuses.
# report: a kernel module load attempt from memory (init_module), even though it failed.
# expect: module|rootkit
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need curl

emul_tmpdir
head -c 16384 /dev/urandom >"$EMUL_DIR/m.bin"
emul_server http --dir "$EMUL_DIR"
curl -s -o "$EMUL_DIR/fetched" "http://127.0.0.1:$EMUL_PORT/m.bin"
"$PY" "$EMUL_LIB/kernel_calls.py" init-module "$EMUL_DIR/fetched"
