#!/bin/bash
# vigil-emulation: benign
# technique: T1543.002 Create or Modify System Process: Systemd Service; T1548.001 Abuse Elevation Control Mechanism: Setuid and Setgid
# tactic: persistence, privilege-escalation
# what: builds a .deb on the spot with tar and ar (a tool, its config under /etc, a systemd
#   unit, a cron.d file, a set-uid helper whose bit is set in the archive) whose postinst
#   creates a system user and gives the tool cap_net_raw with setcap; installs it with dpkg -i,
#   runs the tool, and purges it (postrm removes the user). Accounts are restored exactly.
# report: nothing: the package manager installing files, units, cron entries, set-uid
#   bits and capabilities is what it is for.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need dpkg-deb dpkg setcap

. "$EMUL_LIB/deb.sh"
emul_build_deb
emul_accounts_backup
emul_on_exit dpkg -P vigil-emul-tool
dpkg -i "$EMUL_DEB" >/dev/null
/usr/bin/vigil-emul-tool
getcap /usr/bin/vigil-emul-tool
dpkg -P vigil-emul-tool >/dev/null
echo installed and purged
