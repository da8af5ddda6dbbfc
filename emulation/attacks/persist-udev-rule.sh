#!/bin/bash
# vigil-emulation: attack
# technique: T1546.017 Event Triggered Execution: Udev Rules
# tactic: persistence, privilege-escalation
# what: drops /etc/udev/rules.d/75-vigil-emul-net.rules with a RUN+= that would start a
#   program from /tmp whenever a network device appears (the program does not exist);
#   removed at the end.
# report: a new udev rule with RUN+= written by a shell, pointing at a world-writable path.
# expect: udev
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

f=/etc/udev/rules.d/75-vigil-emul-net.rules
emul_backup "$f"
mkdir -p /etc/udev/rules.d
echo 'ACTION=="add", SUBSYSTEM=="net", RUN+="/bin/sh -c /tmp/.vigil-emul-udev-helper"' >"$f"
cat "$f"
