#!/bin/bash
# vigil-emulation: attack
# technique: T1564.001 Hide Artifacts: Hidden Files and Directories
# tactic: defense-evasion, execution
# what: stages a tool in a hidden directory in /dev/shm ("/dev/shm/.vigil-emul-.../.x/
#   .ICE-unix") and runs it from there (`uname -a`, `id` through copies), the shared-memory
#   staging area malware prefers because it is writable and not on disk; removed at the
#   end.
# report: programs executed from hidden files in /dev/shm.
# expect: shared memory|/dev/shm|hidden|world-writable|executed from
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

emul_tmpdir /dev/shm
mkdir -p "$EMUL_DIR/.x"
cp /bin/uname "$EMUL_DIR/.x/.ICE-unix"
cp /usr/bin/id "$EMUL_DIR/.x/.font-unix"
"$EMUL_DIR/.x/.ICE-unix" -a
"$EMUL_DIR/.x/.font-unix"
