#!/bin/bash
# vigil-emulation: attack
# technique: T1014 Rootkit
# tactic: defense-evasion, persistence
# what: compiles a kprobe program with clang and loads it with `bpftool prog load`,
#   pinned in a bpffs mounted in a private mount namespace (the pin goes when the
#   namespace does, the program with it); nothing is attached.
# report: a BPF program of kprobe type loaded by bpftool from a scratch directory.
# expect: bpf
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need clang bpftool unshare

emul_tmpdir
printf '#define SEC(n) __attribute__((section(n), used))\nSEC("kprobe/do_nanosleep") int hide(void *ctx) { return 0; }\nchar LICENSE[] SEC("license") = "GPL";\n' >"$EMUL_DIR/p.c"
clang -O2 -target bpf -c "$EMUL_DIR/p.c" -o "$EMUL_DIR/p.o"
unshare -m sh -c "mount -t bpf bpf /sys/fs/bpf && bpftool prog load '$EMUL_DIR/p.o' /sys/fs/bpf/vigil_emul_hide && bpftool prog show pinned /sys/fs/bpf/vigil_emul_hide && rm /sys/fs/bpf/vigil_emul_hide"
