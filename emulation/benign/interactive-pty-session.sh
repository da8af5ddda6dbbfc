#!/bin/bash
# vigil-emulation: benign
# technique: T1059.004 Command and Scripting Interpreter: Unix Shell
# tactic: execution
# what: an interactive terminal session (what tmux or a terminal emulator does): Python
#   starts `bash -i` on a new pty and types ls, cd /tmp, cat /etc/hostname, git
#   --version, history | tail -2 and exit into it; no socket is involved. Root's shell
#   history is restored exactly.
# report: nothing: an interactive shell on a local terminal.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

emul_backup "$HOME/.bash_history"
"$PY" - <<'PY'
import os, pty, time
pid, fd = pty.fork()
if pid == 0:
    os.execv("/bin/bash", ["bash", "-i"])
out = b""
for cmd in (b"ls /\n", b"cd /tmp\n", b"cat /etc/hostname\n", b"git --version\n",
            b"history | tail -2\n", b"exit\n"):
    os.write(fd, cmd)
    time.sleep(0.3)
    try:
        out += os.read(fd, 65536)
    except OSError:
        break
os.waitpid(pid, 0)
print(len(out), "bytes of terminal output")
PY
