#!/bin/bash
# vigil-emulation: benign
# technique: T1565.001 Data Manipulation: Stored Data Manipulation
# tactic: impact
# what: an administrator editing configuration: a hosts-like test file
#   /etc/vigil-emul-hosts is edited with vim in ex mode (swap file, backup-and-rename
#   write), then with `sed -i` twice, then restored to its first content; vim's viminfo
#   in ~ is restored exactly; the test file is removed at the end.
# report: nothing: editors writing a configuration file.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need vim sed

f=/etc/vigil-emul-hosts
emul_backup "$f"
emul_backup "$HOME/.viminfo"
cp /etc/hosts "$f"
cp "$f" "$f.orig"
emul_on_exit rm -f "$f.orig"
vim -Nu NONE -es -c 'set backup writebackup' -c '%s/localhost/localhost loopback/' -c 'wq' "$f" || true
rm -f "$f~"
sed -i 's/loopback/lo/' "$f"
sed -i '$a 127.0.1.1 vigil-emul-test' "$f"
cat "$f.orig" >"$f"
diff -q "$f" "$f.orig" && echo restored
