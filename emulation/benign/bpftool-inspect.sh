#!/bin/bash
# vigil-emulation: benign
# technique: T1014 Rootkit
# tactic: defense-evasion
# what: inspecting what BPF is loaded, read-only: bpftool prog show, map list, net list,
#   link list and btf list (no program is loaded).
# report: nothing: listing BPF objects.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need bpftool

bpftool prog show | grep -c '^[0-9]' || true
bpftool map list | grep -c '^[0-9]' || true
bpftool net list >/dev/null 2>&1 || true
bpftool link list >/dev/null 2>&1 || true
bpftool btf list | head -2 || true
