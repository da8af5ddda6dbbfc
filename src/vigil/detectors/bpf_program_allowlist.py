"""Static knowledge for `bpf_program`: who loads BPF programs as part of a system's running.

Always true, everywhere: the init system attaches BPF programs to the cgroups of the
services it runs (device access, IP accounting and firewalling, socket binding,
restricting file systems), and container runtimes do the same for each container's cgroup
(on cgroup v2 the device allowlist *is* a BPF program). Package managers' maintainer
scripts may set those up too, and another instance of Vigil loads its own sensor. Those
loads are audited, never alerted. Vigil's own sensor
is never reported at all (our own process). Anything else (bpftool, a tracer, a sniffer,
an unknown binary) is reported: eBPF rootkits and backdoors arrive this way.
"""

from __future__ import annotations

from vigil.detectors.process_identity import PACKAGE_MANAGERS

#: the init system and its helpers that attach programs to service cgroups
INIT_SYSTEM: frozenset[str] = frozenset({
    "systemd", "systemd-networkd", "systemd-nspawn", "systemd-oomd", "systemd-journald",
    "systemd-logind", "systemd-udevd", "systemd-resolved", "systemd-executor",
})

#: container runtimes, which load a cgroup device program per container
CONTAINER_RUNTIMES: frozenset[str] = frozenset({
    "runc", "crun", "youki", "runsc", "containerd", "containerd-shim",
    "containerd-shim-runc-v2", "dockerd", "podman", "conmon", "crio",
})

#: Vigil itself: any instance of the agent (a `vigil record` beside `vigil run`, the old
#: and the new agent during an upgrade) loads its sensor; the running agent's own process
#: is not reported at all
SECURITY_AGENTS: frozenset[str] = frozenset({"vigil"})

#: programs whose BPF loads are the system's own work (judged by binary, lineage for
#: package managers)
SYSTEM_BPF_LOADERS: frozenset[str] = INIT_SYSTEM | CONTAINER_RUNTIMES | SECURITY_AGENTS
BPF_INSTALLERS: frozenset[str] = PACKAGE_MANAGERS

#: BPF_PROG_TYPE_* numbers (include/uapi/linux/bpf.h) to names
PROG_TYPES: dict[int, str] = {
    0: "unspec", 1: "socket_filter", 2: "kprobe", 3: "sched_cls", 4: "sched_act",
    5: "tracepoint", 6: "xdp", 7: "perf_event", 8: "cgroup_skb", 9: "cgroup_sock",
    10: "lwt_in", 11: "lwt_out", 12: "lwt_xmit", 13: "sock_ops", 14: "sk_skb",
    15: "cgroup_device", 16: "sk_msg", 17: "raw_tracepoint", 18: "cgroup_sock_addr",
    19: "lwt_seg6local", 20: "lirc_mode2", 21: "sk_reuseport", 22: "flow_dissector",
    23: "cgroup_sysctl", 24: "raw_tracepoint_writable", 25: "cgroup_sockopt", 26: "tracing",
    27: "struct_ops", 28: "ext", 29: "lsm", 30: "sk_lookup", 31: "syscall", 32: "netfilter",
}

#: program types that run inside the kernel's own code paths: they can read kernel and
#: process memory, hook system calls and change what they return (rootkits, credential
#: sniffers)
TRACING_TYPES: frozenset[int] = frozenset({2, 5, 7, 17, 24, 26, 27, 28, 29})
