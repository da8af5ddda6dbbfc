#!/bin/bash
# vigil-emulation: benign
# technique: T1543.002 Create or Modify System Process: Systemd Service; T1053.003 Scheduled Task/Job: Cron
# tactic: persistence
# what: the same kind of locally built .deb (tool, /etc config, systemd unit, cron.d file,
#   set-uid helper; postinst adds a system user and a capability) installed with
#   `apt-get install ./vigil-emul-tool.deb` (no download: no dependencies) and removed
#   with `apt-get purge`. Accounts are restored exactly.
# report: nothing: apt and dpkg installing a package.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need dpkg-deb apt-get

. "$EMUL_LIB/deb.sh"
emul_build_deb
emul_accounts_backup
emul_on_exit dpkg -P vigil-emul-tool
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-download "$EMUL_DEB" >/dev/null 2>&1 ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$EMUL_DEB" >/dev/null
/usr/bin/vigil-emul-tool
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq vigil-emul-tool >/dev/null
echo installed and purged
