#!/bin/bash
# vigil-emulation: attack
# technique: T1574.006 Hijack Execution Flow: Dynamic Linker Hijacking
# tactic: persistence, defense-evasion, privilege-escalation
# what: builds a shared object under /usr/local/lib and lists it in /etc/ld.so.preload so
#   every dynamically linked program loads it, the rootkit pattern (libprocesshider);
#   the object does nothing, and /etc/ld.so.preload is restored exactly after about one
#   second, before the object is removed.
# report: /etc/ld.so.preload written (by a shell), naming a library just built in
#   /usr/local/lib.
# expect: ld.so.preload|preload|dynamic linker
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need gcc

lib=/usr/local/lib/vigil-emul/libvigil-emul-sslcache.so
emul_noop_so "$lib"
emul_backup /etc/ld.so.preload
echo "$lib" >>/etc/ld.so.preload
/usr/bin/id >/dev/null
sleep 1
