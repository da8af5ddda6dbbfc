#!/bin/bash
# vigil-emulation: benign
# technique: T1518 Software Discovery
# tactic: discovery
# what: package inventory queries an administrator or a vulnerability scanner makes:
#   dpkg -l, dpkg -L openssh-server, dpkg -S /usr/sbin/sshd, apt-cache policy openssh-server,
#   dpkg --verify of one package.
# report: nothing: read-only package database queries.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need dpkg apt-cache

dpkg -l | wc -l || true
dpkg -L openssh-server 2>/dev/null | wc -l || true
dpkg -S /usr/sbin/sshd 2>/dev/null || true
apt-cache policy openssh-server | head -3 || true
dpkg --verify openssh-server 2>/dev/null | head -3 || true
