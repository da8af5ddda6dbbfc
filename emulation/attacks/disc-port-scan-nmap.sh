#!/bin/bash
# vigil-emulation: attack
# technique: T1046 Network Service Discovery
# tactic: discovery
# what: `nmap -sS -p 1-2000 127.0.0.1`: nmap's default SYN scan as root, with raw
#   packets (no connect() calls), then a service-version probe of what it found.
# report: a port scan by nmap (a raw socket sending SYNs to thousands of ports).
# expect: scan|nmap
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need nmap

nmap -n -sS -p 1-2000 --max-retries 1 127.0.0.1 | tail -5
nmap -n -sT -p 1-1024 127.0.0.1 | tail -3
