#!/bin/bash
# vigil-emulation: benign
# technique: T1548.003 Abuse Elevation Control Mechanism: Sudo and Sudo Caching
# tactic: privilege-escalation
# what: an administrator's sudo and su use: `sudo -u nobody id`, `sudo -l`, `sudo tail`
#   of a root-only log, `sudo -i` with two commands on stdin, `su -s /bin/sh nobody -c
#   id`, `sudo -u nobody sh -c 'echo $HOME'`; no sudoers change.
# report: nothing: root using sudo and su as intended.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need sudo

sudo -u nobody id
sudo -l | head -3
sudo tail -n 2 /var/log/dpkg.log
printf 'whoami\npwd\n' | sudo -i
su -s /bin/sh nobody -c id
sudo -u nobody sh -c 'echo "$HOME"'
