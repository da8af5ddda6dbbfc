#!/bin/bash
# vigil-emulation: attack
# technique: T1014 Rootkit; T1547.006 Boot or Logon Autostart Execution: Kernel Modules and Extensions
# tactic: defense-evasion, persistence
# what: a process that is not the security agent loads eBPF programs into the kernel
#   with the bpf(BPF_PROG_LOAD) system call: a socket filter, a kprobe and a tracepoint
#   program (each just returns 0 and is closed, so unloaded, right away), as eBPF
#   rootkits and sniffers (BPFDoor) do.
# report: BPF programs loaded by an unexpected process (python), kprobe and tracepoint
#   types included.
# expect: bpf
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

for t in socket_filter kprobe tracepoint; do
    "$PY" "$EMUL_LIB/kernel_calls.py" bpf-load "$t"
done
