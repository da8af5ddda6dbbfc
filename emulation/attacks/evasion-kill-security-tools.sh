#!/bin/bash
# vigil-emulation: attack
# technique: T1562.001 Impair Defenses: Disable or Modify Tools
# tactic: defense-evasion
# what: the "kill the competition and the watchers" step of cryptojacking scripts: starts
#   stand-ins named falco, auditd, osqueryd and wazuh-agentd (copies of sleep the
#   scenario owns) and kills them with `pkill -9 -x NAME` limited to its own children
#   (-P), so no real tool on the machine is touched.
# report: security tools (falco, auditd, osqueryd, wazuh) killed with SIGKILL by a shell.
# expect: security tool|disable|kill|tamper|impair|stop
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

emul_tmpdir
for n in falco auditd osqueryd wazuh-agentd; do
    cp /bin/sleep "$EMUL_DIR/$n"
    emul_bg "$EMUL_DIR/$n" 30
done
sleep 0.5
for n in falco auditd osqueryd wazuh-agentd; do
    pkill -9 -P $$ -x "$n" || true
done
sleep 0.5
pgrep -P $$ -l || true
