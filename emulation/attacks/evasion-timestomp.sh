#!/bin/bash
# vigil-emulation: attack
# technique: T1070.006 Indicator Removal: Timestomp
# tactic: defense-evasion
# what: plants a program in /usr/local/bin and gives it the timestamps of /bin/ls with
#   `touch -r`, backdates a new file under /etc to 2019 with `touch -t`, and sets a third
#   file's times with Python's os.utime; all removed at the end.
# report: file modification times set back to the past (utimensat with explicit times) on
#   freshly written files in system directories.
# expect: timestomp|timestamp|time stomp|modification time|backdat
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

bin=/usr/local/bin/vigil-emul-netcfg
conf=/etc/vigil-emul-netcfg.conf
emul_backup "$bin"
emul_backup "$conf"
cp /bin/true "$bin"
echo 'interval=60' >"$conf"
touch -r /bin/ls "$bin"
touch -t 201903041200 "$conf"
emul_tmpdir
echo x >"$EMUL_DIR/impl"
"$PY" -c "import os,sys;os.utime(sys.argv[1],(1552000000,1552000000))" "$EMUL_DIR/impl"
ls -la --time-style=long-iso "$bin" "$conf" "$EMUL_DIR/impl"
