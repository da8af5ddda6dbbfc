// SPDX-License-Identifier: GPL-2.0
/*
 * Vigil's kernel sensor: one CO-RE object, attached with BTF tracepoints; no kprobes, no
 * tracefs needed. Two optional programs (an fentry, an ext4 tracepoint) report the size
 * a truncation found; the sensor runs without whichever the kernel refuses.
 *
 * Syscalls are captured at sys_exit only. At that point the saved user registers still
 * hold the arguments and every user buffer the syscall read has been faulted in, so
 * strings and socket addresses can be copied reliably, and the task's file table shows
 * what the syscall left behind. Which syscalls are captured, and what to copy for each, is
 * data: user space fills `syscall_specs` before attaching, so this program knows nothing
 * of Falco names or argument meanings.
 *
 * Record layout (little endian, see decode.py): the fixed 160-byte `struct vigil_event`
 * followed by six segments in a fixed order of roles, whose lengths are in the header:
 * three string arguments, a copied user buffer, fd descriptions, and one extra (a path, a
 * DNS payload or a task name). Empty segments have length 0.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define MAX_SYSCALLS 512
#define MAX_SEGS 6
#define SEG_BUF 3               /* the copied user buffer (sockaddr, open_how, bpf_attr ...) */
#define SEG_FDS 4               /* socket tuple of the event's fd, or an array of fd_desc */
#define SEG_EXTRA 5             /* fd path, DNS payload or target task name */
#define STR_MAX 4096
#define ARGV_MAX 4095
#define NAME_MAX_ 256
#define PATH_DEPTH 32
#define SEG_LIMIT 3840          /* a path walk stops growing its segment past this */
#define OFF_MASK 0x3fff         /* every write offset is masked: bounds for the verifier */
#define SCRATCH_SIZE (OFF_MASK + 1 + STR_MAX + NAME_MAX_)
#define DNS_MAX 288             /* DNS payload bytes copied: header + a full question */
#define MAX_LISTENERS 8         /* listening sockets described at exec */
#define EXEC_FDS 64             /* fds looked at for listening sockets at exec */

#define EV_FORK 1000
#define EV_EXIT 1001
#define EV_FLOOD 1002           /* records of one process and syscall aggregated (flood control) */

/* syscall_spec.flags */
#define SPEC_SEND 1             /* send a record for every call */
#define SPEC_DNS 2              /* DNS traffic: copy its payload; without SPEC_SEND only it is sent */
#define SPEC_SIZE_BEFORE 4      /* report the size a truncation found (do_truncate) */
#define SPEC_CREATED 8          /* report whether the open created the file */
#define SPEC_URGENT 16          /* always high-value: the priority lane, never aggregated */
#define SPEC_PATH0 32           /* its first string is a path: high-value when sensitive */

#define KIND_GENERIC 0
#define KIND_EXEC 1
#define KIND_SENDMSG 2          /* address and data in the user_msghdr at argument 1 */
#define KIND_SENDMMSG 3         /* the same in the first mmsghdr at argument 1 */
#define KIND_CONNECT 4          /* remembers connected DNS sockets (dns_fds) */

#define FD_NONE 0
#define FD_ARG0 1
#define FD_RES 2
#define FD_PAIR 3               /* two fds written to the user int[2] at argument pair_arg */

#define EXTRA_NONE 0
#define EXTRA_FD_PATH 1         /* the path of the described fd's file */
#define EXTRA_TARGET 2          /* the task whose pid is argument extra_arg: comm, tgid in aux */

#define F_ARGV_TRUNCATED 1
#define F_EXE_NLINK0 2
#define F_HAS_TTY 4
#define F_CREATED 8             /* this open created the file (FMODE_CREATED) */
#define F_SIZE_BEFORE 16        /* aux: the file's size before this call truncated it */
#define F_FDS_BEYOND 32         /* exec: fds 64..127 are open; aux covers 0..63 only */
#define F_LISTENERS_CUT 64      /* exec: more listening sockets than MAX_LISTENERS */
#define F_DNS 128               /* SEG_EXTRA: the payload sent to a DNS port */
#define F_TARGET 256            /* SEG_EXTRA: the target task's comm; aux: its tgid */
#define F_PAYLOAD_CUT 512       /* the DNS payload was longer than DNS_MAX */
#define F_FIRST_SEND 2048       /* SEG_EXTRA: the first bytes a client sent on a TCP connection */
#define F_FORKED 4096           /* exec: also the child's fork (args[3]: its time, args[4]: parent) */
#define F_EXEC_AT 1024          /* exec: through a dirfd or an fd (execveat, fexecve); SEG_BUF
				 * holds the kernel's name for it, "/dev/fd/N[/path]" */

/* fd_head.kind */
#define FDK_NONE 0              /* closed (or not described) */
#define FDK_FILE 1
#define FDK_DIR 2
#define FDK_PIPE 3
#define FDK_SOCK 4
#define FDK_CHR 5
#define FDK_BLK 6
#define FDK_LINK 7
#define FDK_ANON 8              /* anonymous inode (eventfd, epoll, timerfd ...): name in the tail */

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define S_IFLNK 0120000
#define S_IFREG 0100000
#define S_IFBLK 0060000
#define S_IFDIR 0040000
#define S_IFCHR 0020000
#define S_IFIFO 0010000

#define FMODE_RW 3
#define FMODE_CREATED (1 << 20)
#define TCP_LISTEN 10
#define TCP_CLOSE 7
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_UDP 17
#define EINPROGRESS 115
#define O_TRUNC 01000
#define AT_FDCWD -100

#define CNT_DROPS 0
#define CNT_EVENTS 1
#define CNT_DROPS_NOT_FULL 2    /* reserve failed while the ring had room (lock contention) */
#define CNT_SPILLED 3           /* written to the spill ring because the main ring refused */
#define CNT_PARKED 4            /* held on this CPU until the rings accept again */
#define CNT_IGNORED 5           /* read-only opens under an ignored prefix, not sent */
#define CNT_IGNORED_MISSING 6   /* read-only opens that failed with ENOENT, not sent */
#define CNT_IGNORED_MISSING_EXEC 7 /* execve/execveat that failed with ENOENT, not sent */
#define CNT_FILTERED_ARG 8      /* calls whose filtered argument was not wanted (fcntl, bpf) */
#define CNT_DNS 9               /* records carrying a DNS payload */
#define CNT_URGENT 10           /* records written to the priority lane */
#define CNT_DROPS_URGENT 11     /* priority-lane records lost (also counted in CNT_DROPS) */
#define CNT_FLOODED 12          /* records folded into a flood aggregate, not sent */
#define CNT_FLOOD_RECORDS 13    /* flood aggregates sent */
#define CNT_FILTERED_RULES 14   /* read-only opens no loaded rule or detector can need */
#define CNT_FILTERED_WRITES 15  /* toolchain writes and unlinks no rule or detector can need */
#define CNT_MAX 16

#ifndef barrier_var
#define barrier_var(var) asm volatile("" : "+r"(var))
#endif

/*
 * Two objects are built from this source (see the Makefile): the full one, and with
 * VIGIL_COMPAT one for kernels 5.17 to 6.11 (Debian 12's 6.1), which lack the kfuncs
 * bpf_rdonly_cast (6.2) and bpf_task_from_vpid (6.12). The compat object reads the same
 * kernel fields with one bpf_probe_read_kernel each, and leaves the name of a signalled
 * task to user space (/proc). Every other helper, map and program type used here exists
 * in 6.1 (bpf_loop 5.17, ring buffers 5.8, BTF tracepoints and fentry 5.5, atomics 5.12).
 *
 * KREAD(type, p, a, b ...) reads p->a->b ... where p is a kernel pointer held as a number
 * or as a typed pointer. In the full object the pointer is cast with bpf_rdonly_cast and
 * loaded through directly (the verifier turns the cast into a move): far cheaper than one
 * probe read per field.
 */
#ifdef VIGIL_COMPAT
#define KREAD(type, p, ...) BPF_CORE_READ((type *)(p), __VA_ARGS__)
#else
extern struct task_struct *bpf_task_from_vpid(s32 vpid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

#define kptr(type, p) ((type *)bpf_rdonly_cast((void *)(p), bpf_core_type_id_kernel(type)))
#define KREAD(type, p, ...) ___arrow(kptr(type, p), __VA_ARGS__)
#endif

/* What a file descriptor is, as the kernel holds it (also the head of struct fd_desc). */
struct fd_head {
	__u16 fd;             /* the fd number (0xffff: beyond) */
	__u8 kind;            /* FDK_* */
	__u8 fmode;           /* FMODE_READ 1 | FMODE_WRITE 2 */
	__u32 dev;            /* the inode's device; for character/block devices the device itself */
	__u64 ino;
};

struct vigil_event {
	__u64 ts;
	__u64 cgroup_id;
	__s64 res;
	__u64 args[6];
	__u64 aux;            /* size before truncation, exec's open-fds bitmap, target tgid */
	struct fd_head fd;    /* the event's fd (spec fd_source), or the exec'd file */
	__u32 tgid;
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__u32 euid;
	__u32 loginuid;
	__u16 nr;
	__u16 flags;
	char comm[16];
	__u16 seglen[MAX_SEGS];
	__u32 pad;
};

/* A socket's endpoints as the kernel holds them. */
struct sock_tuple {
	__u16 family;
	__u16 type;
	__u16 protocol;
	__u16 lport;
	__u16 rport;
	__u8 state;
	__u8 pad;
	__u8 laddr[16];
	__u8 raddr[16];
};

/* One fd in an array (exec's stdio and listening sockets, pipe/socketpair results). */
struct fd_desc {
	struct fd_head head;
	union {
		struct sock_tuple sock;
		char name[44];   /* FDK_ANON: the inode's name ("[eventfd]") */
	};
	__u32 pad;
};

/* What to copy for one syscall; filled by user space, indexed by syscall number. */
struct syscall_spec {
	__u8 flags;          /* SPEC_* */
	__u8 kind;           /* KIND_* */
	__u8 str_mask;       /* bit i: argument i is a user string */
	__u8 buf_arg;        /* 1 + index of a user buffer argument (sockaddr, open_how ...), 0: none */
	__u8 buf_len_arg;    /* index of its length argument */
	__u8 buf_fixed;      /* nonzero: copy this many bytes of it whatever the length argument */
	__u8 fd_source;      /* FD_*: which fd to describe */
	__u8 pair_arg;       /* FD_PAIR: the argument pointing to the two fds */
	__u8 extra;          /* EXTRA_* */
	__u8 extra_arg;      /* EXTRA_TARGET: the argument holding the pid */
	__u8 data_arg;       /* 1 + index of the data pointer sent (its length is the next one) */
	__u8 filter_arg;     /* 1 + index of an argument that must be one of filter_vals */
	__u8 filter_count;
	__u8 trunc_arg;      /* SPEC_SIZE_BEFORE: 1 + index of the open flags that must hold
			      * O_TRUNC for a truncation to be possible (0: any call) */
	__u8 pad[2];
	__u32 filter_vals[4];
};

#define PREFIX_MAX 64
#define PREFIXES 16

/* Read-only opens of paths under these prefixes never reach user space (libraries the
 * dynamic loader maps for every exec: no rule needs them, and they are most opens). */
struct ignore_prefix {
	__u32 len;
	char s[PREFIX_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PREFIXES);
	__type(key, __u32);
	__type(value, struct ignore_prefix);
} ignore_prefixes SEC(".maps");

#define DNS_PORTS 8

struct vigil_settings {
	__u32 self_tgid;
	__u32 wake_bytes;     /* wake the reader only when this much data is pending */
	__u8 want_fork;
	__u8 want_exit;
	__u8 ignore_missing_reads; /* drop read-only opens that failed with ENOENT */
	__u8 ignore_missing_execs; /* drop execve/execveat that failed with ENOENT */
	__u8 want_first_send; /* copy the first bytes sent on each TCP client connection */
	__u8 pad[3];
	__u32 flood_limit;    /* bulk records per second of one process and syscall before
			       * the rest are aggregated (0: no flood control) */
	__u16 dns_ports[DNS_PORTS]; /* destination ports whose traffic is DNS (0: unused) */
	__u8 filter_reads;    /* read-only opens must be under `wanted_reads` to be sent */
	__u8 filter_writes;   /* the writes of `quiet_writers` must be under `wanted_writes` */
	__u8 pad2[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_SYSCALLS);
	__type(key, __u32);
	__type(value, struct syscall_spec);
} syscall_specs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_settings);
} vigil_settings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u8);
} excluded_tgids SEC(".maps");

/* Sockets connected to a DNS port, by tgid << 32 | fd: their write() and send() without
 * an address are DNS traffic. Verified against the socket before use. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} dns_fds SEC(".maps");

/* TCP client sockets whose first send is still to come, by tgid << 32 | fd (with
 * want_first_send): the protocol a client speaks (a miner's stratum login) is in it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, __u8);
} first_sends SEC(".maps");

/* Which processes ever connected a socket to a DNS port, by tgid % DNS_TGIDS: an array
 * lookup lets every other write() go before the dns_fds hash is asked. */
#define DNS_TGIDS 65536

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DNS_TGIDS);
	__type(key, __u32);
	__type(value, __u8);
} dns_tgids SEC(".maps");

/* The size a file had when the running syscall started changing it, by thread, until
 * that syscall exits (the first seen: later ones may already see the new size). */
struct truncation {
	__u64 size;
	__u64 ino;
	__u32 nr;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct truncation);
} truncations SEC(".maps");

/* An exec through an fd (execveat with a dirfd, fexecve), by thread, from
 * sched_process_exec until the syscall's exit: there the syscall number already says
 * execve on this kernel, and the argument registers belong to the new image. */
#define FDPATH_MAX 64

struct exec_at {
	char fdpath[FDPATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct exec_at);
} exec_ats SEC(".maps");

/*
 * The fork records of vfork children (posix_spawn, a compiler driver running its
 * passes) held back, by child: the parent sleeps until the child execs or exits, so
 * nothing about it changes meanwhile, and the fork rides on the child's exec record
 * (F_FORKED) instead of crossing on its own. Any other record of the child, or its exit,
 * sends the held fork record first. `forks_held` counts entries, so that other records
 * skip the lookup when none is held.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct vigil_event);
} held_forks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __s64);
} forks_held SEC(".maps");

/* By thread: whether its clone in progress is a vfork (set by task_newtask, read by the
 * fork tracepoint, which runs before the kernel marks the child). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} vforking SEC(".maps");

#define CLONE_VM 0x100
#define CLONE_VFORK 0x4000

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct scratch {
	__u8 buf[SCRATCH_SIZE];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_buf SEC(".maps");

/* The syscall's six argument registers (a struct: global functions take it by pointer). */
struct sys_args {
	__u64 v[6];
};

/* Where a send's address and data are (user pointers). */
struct send_args {
	__u64 addr;
	__u64 data;
	__u64 len;
};

/* One record per CPU that neither ring accepted; sent before that CPU's next record. */
struct parked {
	__u32 size;
	__u8 buf[OFF_MASK + 1];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct parked);
} parked_rec SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024 * 1024);
} events SEC(".maps");

/*
 * The priority lane: a ring of its own for high-value records (process lifecycle, execs,
 * privilege changes, module and BPF loads, ptrace, sensitive paths, flood aggregates), so
 * that a flood of ordinary records, which fills the bulk ring `events`, cannot crowd them
 * out. User space drains it first.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
} urgent SEC(".maps");

/* Sensitive paths, as prefixes of the path a syscall names (an exact path is stored with
 * its terminating NUL, so it matches itself only). Filled by user space. */
#define PRIO_PATH_MAX 128

struct path_key {
	__u32 prefixlen;     /* in bits */
	__u8 data[PRIO_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 512);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct path_key);
	__type(value, __u8);
} sensitive_paths SEC(".maps");

/* Rule-derived filter (vigil/rules/kernel_filters.py): the paths and prefixes of the
 * read-only opens the loaded rules and detectors can need, same layout as
 * sensitive_paths. Used only when settings.filter_reads is set. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct path_key);
	__type(value, __u8);
} wanted_reads SEC(".maps");

/* The same for the writes (opens for writing, creat, unlink) of the programs in
 * `quiet_writers`: the paths the loaded rules and detectors can need of them. Used only
 * when settings.filter_writes is set. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct path_key);
	__type(value, __u8);
} wanted_writes SEC(".maps");

/* ... and the suffixes ("*.key": a file name ending) such paths may end with: slots
 * [0, SUFFIXES) for reads, [SUFFIXES, 2 * SUFFIXES) for writes. */
#define SUFFIXES 16
#define SUFFIX_MAX 32

struct path_suffix {
	__u32 len;
	char s[SUFFIX_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * SUFFIXES);
	__type(key, __u32);
	__type(value, struct path_suffix);
} wanted_suffixes SEC(".maps");

/* Working directories (inode and mount) under which no path of `wanted_reads` (bit 1) or
 * `wanted_writes` (bit 2) can lie, decided by user space from the directory's path: a
 * relative name opened there is judged without resolving it. `max_name`: the longest
 * relative name (with its NUL) whose full path still fits in what the kernel compares. */
#define QUIET_READS 1
#define QUIET_WRITES 2

struct dir_key {
	__u64 ino;
	__u32 dev;
	__u32 mnt_id;
};

struct dir_quiet {
	__u8 bits;
	__u8 max_name;
	__u8 pad[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct dir_key);
	__type(value, struct dir_quiet);
} quiet_dirs SEC(".maps");


/* The inodes of the sensitive files that exist, by (device, inode): a relative path, a
 * link or /proc/self/root/... still names them. Refreshed by user space. */
struct inode_key {
	__u64 ino;
	__u32 dev;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 512);
	__type(key, struct inode_key);
	__type(value, __u8);
} sensitive_inodes SEC(".maps");

/* The executables (device, inode) whose writes matter only by path: the compiler
 * toolchain's programs (vigil/events/toolchain.py). Filled by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 512);
	__type(key, struct inode_key);
	__type(value, __u8);
} quiet_writers SEC(".maps");

/* Flood control, per process and syscall: records offered in the current one-second
 * window, and those folded into the aggregate sent when the window is over. */
struct flood_key {
	__u32 tgid;
	__u32 nr;
};

#define FLOOD_SAMPLE 64
#define FLOOD_PRIO (1U << 31)   /* flood_key.nr: the priority lane's records */

struct flood_state {
	__u64 start;         /* the window's start (boot ns) */
	__u64 offered;       /* records of this window */
	__u64 folded;        /* records of this window not sent */
	char comm[16];
	char sample[FLOOD_SAMPLE]; /* the first folded record's first string (its path) */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct flood_key);
	__type(value, struct flood_state);
} flood SEC(".maps");

/* Lost records by syscall number (fork, exit, flood after the syscalls) and by process,
 * read and cleared by user space for its "events lost" report. */
#define DROP_SLOTS (MAX_SYSCALLS + 4)

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DROP_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} drops_by_nr SEC(".maps");

struct drop_emitter {
	__u64 count;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct drop_emitter);
} drops_by_tgid SEC(".maps");

/*
 * A small second ring for the rare record the main ring refuses while it still has room
 * (its lock gives up under cross-CPU contention, -EAGAIN): a different lock, so the
 * record is kept instead of dropped. User space drains both.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} spill SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &which);
	if (c)
		*c += 1;
}

static __always_inline struct vigil_settings *settings(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&vigil_settings, &zero);
}

static __always_inline bool excluded(struct vigil_settings *s, __u32 tgid)
{
	if (s->self_tgid == tgid)
		return true;
	return bpf_map_lookup_elem(&excluded_tgids, &tgid) != NULL;
}

static __always_inline void fill_header(struct vigil_event *e, struct task_struct *task, __u16 nr)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	/* direct loads through the BTF task pointer: far cheaper than probe reads */
	const struct cred *cred = task->cred;

	e->ts = bpf_ktime_get_boot_ns();
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->tgid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->ppid = task->real_parent->tgid;
	e->uid = cred->uid.val;
	e->gid = cred->gid.val;
	e->euid = cred->euid.val;
	e->loginuid = task->loginuid.val;
	e->nr = nr;
	e->flags = 0;
	e->aux = 0;
	e->fd.fd = 0;
	e->fd.kind = FDK_NONE;
	e->fd.fmode = 0;
	e->fd.dev = 0;
	e->fd.ino = 0;
	e->pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	for (int i = 0; i < MAX_SEGS; i++)
		e->seglen[i] = 0;
}

/* The per-CPU scratch record with its header filled and its arguments cleared. */
static __always_inline struct vigil_event *begin_record(struct task_struct *task, __u16 nr)
{
	__u32 zero = 0;
	struct scratch *sc = bpf_map_lookup_elem(&scratch_buf, &zero);
	struct vigil_event *e;

	if (!sc)
		return NULL;
	e = (struct vigil_event *)sc->buf;
	fill_header(e, task, nr);
	for (int i = 0; i < 6; i++)
		e->args[i] = 0;
	return e;
}

/* One lost record: counted, and by syscall and process for the "events lost" report. */
static __always_inline void count_drop(struct vigil_event *e, bool prio)
{
	__u32 slot = e->nr < MAX_SYSCALLS ? e->nr : MAX_SYSCALLS + ((e->nr - EV_FORK) & 3);
	__u64 *n = bpf_map_lookup_elem(&drops_by_nr, &slot);
	__u32 tgid = e->tgid;
	struct drop_emitter *em;

	count(CNT_DROPS);
	if (prio)
		count(CNT_DROPS_URGENT);
	if (n)
		*n += 1;
	em = bpf_map_lookup_elem(&drops_by_tgid, &tgid);
	if (em) {
		__sync_fetch_and_add(&em->count, 1);
	} else {
		struct drop_emitter fresh = {.count = 1};

		__builtin_memcpy(fresh.comm, e->comm, sizeof(fresh.comm));
		bpf_map_update_elem(&drops_by_tgid, &tgid, &fresh, BPF_NOEXIST);
	}
}

/* A record of the priority lane: its own ring, else the spill ring; never parked (the
 * parked slot keeps the bulk lane's order). */
static __always_inline void submit_urgent(void *buf, __u32 size)
{
	size &= OFF_MASK;
	barrier_var(size);
	if (size < sizeof(struct vigil_event))
		return;
	if (!bpf_ringbuf_output(&urgent, buf, size, 0) ||
	    !bpf_ringbuf_output(&spill, buf, size, 0)) {
		count(CNT_EVENTS);
		count(CNT_URGENT);
		return;
	}
	count_drop((struct vigil_event *)buf, true);
}

/* The fork record held for process `tgid`, or NULL; `held` is set to the count. */
static __always_inline struct vigil_event *held_fork(__u32 tgid, __s64 **held)
{
	__u32 zero = 0;

	*held = bpf_map_lookup_elem(&forks_held, &zero);
	if (!*held || **held <= 0)
		return NULL;
	return bpf_map_lookup_elem(&held_forks, &tgid);
}

static __always_inline void forget_fork(__u32 tgid, __s64 *held)
{
	if (bpf_map_delete_elem(&held_forks, &tgid) == 0)
		__sync_fetch_and_add(held, -1);
}

/* Send the fork record held for process `tgid`, if any (before its first other record). */
static __always_inline void release_fork(__u32 tgid)
{
	__s64 *held;
	struct vigil_event *f = held_fork(tgid, &held);

	if (!f || !held)
		return;
	submit_urgent(f, sizeof(*f));
	forget_fork(tgid, held);
}

/* The exec record `e` of process `tgid` carries its held fork, if any. */
static __always_inline void merge_fork(struct vigil_event *e, __u32 tgid)
{
	__s64 *held;
	struct vigil_event *f = held_fork(tgid, &held);

	if (!f || !held)
		return;
	e->flags |= F_FORKED;
	e->args[3] = f->ts;
	e->args[4] = f->tgid;
	forget_fork(tgid, held);
}

static __always_inline void submit(struct vigil_settings *s, void *buf, __u32 size)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 flags = BPF_RB_NO_WAKEUP;

	/*
	 * A wakeup costs microseconds (an IPI on a VM), so the reader is woken only when the
	 * pending data crosses wake_bytes; below that it finds the data at its poll timeout,
	 * above it it is already awake and draining.
	 */
	if (avail < s->wake_bytes && avail + size + 8 >= s->wake_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	size &= OFF_MASK;
	barrier_var(size);
	if (size < sizeof(struct vigil_event))
		return;
	__u32 zero = 0;
	struct parked *pk = bpf_map_lookup_elem(&parked_rec, &zero);

	if (pk && pk->size) {
		/* a record held back earlier on this CPU goes first, to keep the CPU's order */
		__u32 psize = pk->size & OFF_MASK;

		if (psize < sizeof(struct vigil_event) ||
		    !bpf_ringbuf_output(&events, pk->buf, psize, 0) ||
		    !bpf_ringbuf_output(&spill, pk->buf, psize, 0)) {
			if (psize >= sizeof(struct vigil_event))
				count(CNT_EVENTS);
			pk->size = 0;
		}
	}
	if (!bpf_ringbuf_output(&events, buf, size, flags)) {
		count(CNT_EVENTS);
		return;
	}
	/*
	 * Refused: either the ring is full or its lock gave up under cross-CPU contention
	 * (-EAGAIN). Keep the record in a second ring, else park it on this CPU. (Whether the
	 * ring "has room" cannot be asked reliably here: producer and consumer positions are
	 * read at different instants.)
	 */
	if (!bpf_ringbuf_output(&spill, buf, size, 0)) {
		count(CNT_EVENTS);
		count(CNT_SPILLED);
		return;
	}
	if (pk && !pk->size && !bpf_probe_read_kernel(pk->buf, size, buf)) {
		pk->size = size;
		count(CNT_PARKED);
		return;
	}
	count_drop((struct vigil_event *)buf, false);
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) + size + 8 <
	    bpf_ringbuf_query(&events, BPF_RB_RING_SIZE))
		count(CNT_DROPS_NOT_FULL);
}

/* A read-only open (no O_CREAT/O_TRUNC, not O_WRONLY/O_RDWR) of a path under an ignored
 * prefix; the path was copied at buf+off. */
static __always_inline bool ignored_read(__u8 *buf, __u32 off, __u64 flags)
{
	if (flags & (03 | 0100 | 01000))
		return false;
	for (__u32 i = 0; i < PREFIXES; i++) {
		__u32 k = i;
		struct ignore_prefix *p = bpf_map_lookup_elem(&ignore_prefixes, &k);
		bool same = true;

		if (!p || !p->len)
			return false;
		for (__u32 j = 0; j < PREFIX_MAX; j++) {
			if (j >= p->len)
				break;
			if (buf[(off + j) & OFF_MASK] != (__u8)p->s[j]) {
				same = false;
				break;
			}
		}
		if (same)
			return true;
	}
	return false;
}

/* Copy a user string at buf+off; returns the bytes written (with the NUL), 0 on failure. */
static __always_inline __u32 put_user_str(__u8 *buf, __u32 off, const void *ptr)
{
	long n;

	off &= OFF_MASK;
	n = bpf_probe_read_user_str(buf + off, STR_MAX, ptr);
	return n > 0 ? (__u32)n : 0;
}

struct walk_ctx {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct mount *mnt;
	__u32 off;
	__u32 start;
};

/* One step of a path walk (a bpf_loop callback: the verifier checks it once). */
static long walk_step(__u32 i, void *data)
{
	struct walk_ctx *w = data;
	struct dentry *dentry = w->dentry;
	struct vfsmount *vfsmnt = w->vfsmnt;
	struct mount *mnt = w->mnt;
	struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	struct dentry *parent;
	const unsigned char *name;
	struct scratch *sc;
	__u32 zero = 0, off;
	long n;

	if (dentry == mnt_root) {
		struct mount *up = BPF_CORE_READ(mnt, mnt_parent);

		if (up == mnt)
			return 1;
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = up;
		w->vfsmnt = &up->mnt;
		return 0;
	}
	if (w->off - w->start > SEG_LIMIT)
		return 1;
	sc = bpf_map_lookup_elem(&scratch_buf, &zero);
	if (!sc)
		return 1;
	name = BPF_CORE_READ(dentry, d_name.name);
	off = w->off & OFF_MASK;
	n = bpf_probe_read_kernel_str(sc->buf + off, NAME_MAX_, name);
	if (n <= 0)
		return 1;
	w->off += n;
	parent = BPF_CORE_READ(dentry, d_parent);
	if (parent == dentry)
		return 1;
	w->dentry = parent;
	return 0;
}

/*
 * Write the components of a path leaf first, each NUL terminated; user space reverses
 * them. Mount points are crossed up to the global root.
 */
static __always_inline __u32 put_path(__u32 off, struct path *path)
{
	struct walk_ctx w = {};

	w.dentry = BPF_CORE_READ(path, dentry);
	w.vfsmnt = BPF_CORE_READ(path, mnt);
	w.mnt = container_of(w.vfsmnt, struct mount, mnt);
	w.off = off;
	w.start = off;
	bpf_loop(PATH_DEPTH, walk_step, &w, 0);
	return w.off - w.start;
}

/* The struct file * of fd `fd` of the current task (0 when none). The table is reached by
 * direct loads from the task; the slot, at a variable index, is one probe read. */
static __always_inline __u64 current_fd_file(__s64 fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	__u64 fds, f = 0;

	if (fd < 0 || fd >= fdt->max_fds)
		return 0;
	fds = (__u64)fdt->fd;
	bpf_probe_read_kernel(&f, sizeof(f), (void *)(fds + fd * sizeof(f)));
	return f;
}

static __always_inline void fill_sock(struct sock_tuple *t, struct file *f)
{
	struct socket *sock = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);

	if (!sk)
		return;
	t->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	t->type = BPF_CORE_READ(sk, sk_type);
	t->protocol = BPF_CORE_READ(sk, sk_protocol);
	t->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	t->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	t->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	if (t->family == AF_INET6) {
		BPF_CORE_READ_INTO(&t->laddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&t->raddr, sk, __sk_common.skc_v6_daddr);
	} else if (t->family == AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)t->laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)t->raddr, sk, __sk_common.skc_daddr);
	}
}

/*
 * Describe the open file `file` (a struct file *) into `d`, whose fd number the caller set:
 * kind, mode, inode, device; a socket's tuple or an anonymous inode's name in the tail.
 * Returns the kind. (A global function: verified once, whatever calls it.)
 */
__noinline int describe_file(__u64 file, struct fd_desc *d)
{
	struct file *f;
	struct inode *inode;
	__u16 mode;

	if (!d)
		return FDK_NONE;
	__builtin_memset(&d->sock, 0, sizeof(d->sock));
	d->pad = 0;
	d->head.kind = FDK_NONE;
	d->head.fmode = 0;
	d->head.dev = 0;
	d->head.ino = 0;
	if (!file)
		return FDK_NONE;
	f = (struct file *)file;
	inode = KREAD(struct file, f, f_inode);
	mode = KREAD(struct inode, inode, i_mode);
	d->head.fmode = KREAD(struct file, f, f_mode) & FMODE_RW;
	d->head.ino = KREAD(struct inode, inode, i_ino);
	d->head.dev = KREAD(struct inode, inode, i_sb, s_dev);
	switch (mode & S_IFMT) {
	case S_IFREG:
		d->head.kind = FDK_FILE;
		break;
	case S_IFDIR:
		d->head.kind = FDK_DIR;
		break;
	case S_IFIFO:
		d->head.kind = FDK_PIPE;
		break;
	case S_IFLNK:
		d->head.kind = FDK_LINK;
		break;
	case S_IFCHR:
		d->head.kind = FDK_CHR;
		d->head.dev = KREAD(struct inode, inode, i_rdev);
		break;
	case S_IFBLK:
		d->head.kind = FDK_BLK;
		d->head.dev = KREAD(struct inode, inode, i_rdev);
		break;
	case S_IFSOCK:
		d->head.kind = FDK_SOCK;
		fill_sock(&d->sock, (struct file *)file);
		break;
	default: {
		const unsigned char *name = KREAD(struct file, f, f_path.dentry, d_name.name);

		d->head.kind = FDK_ANON;
		bpf_probe_read_kernel_str(d->name, sizeof(d->name), name);
	}
	}
	return d->head.kind;
}

/* Describe fd `fd` of the current task into `d` (kind FDK_NONE when closed); returns the
 * struct file * (0 when none). */
__noinline __u64 describe_fd(struct fd_desc *d, __s64 fd)
{
	__u64 f;

	if (!d)
		return 0;
	d->head.fd = fd >= 0 && fd < 0xffff ? fd : 0xffff;
	f = current_fd_file(fd);
	describe_file(f, d);
	return f;
}

struct listen_ctx {
	__u64 open;           /* open fds 0..63 */
	__u32 off;
	__u32 n;
	bool cut;
};

/* One fd of the exec'd process: kept when it is a listening socket (bpf_loop callback). */
static long listen_step(__u32 i, void *data)
{
	struct listen_ctx *c = data;
	void *sock;
	struct scratch *sc;
	struct fd_desc *d;
	struct file *f;
	struct sock *sk;
	__u64 file;
	__u32 zero = 0;
	__u8 state;
	__u16 proto;

	if (!(c->open >> i))
		return 1;
	if (!((c->open >> i) & 1))
		return 0;
	file = current_fd_file(i);
	if (!file)
		return 0;
	f = (struct file *)file;
	if ((KREAD(struct file, f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return 0;
	sock = KREAD(struct file, f, private_data);
	sk = KREAD(struct socket, sock, sk);
	if (!sk)
		return 0;
	state = KREAD(struct sock, sk, __sk_common.skc_state);
	proto = KREAD(struct sock, sk, sk_protocol);
	/* TCP in LISTEN; UDP bound to a port without a peer (a datagram server) */
	if (!(state == TCP_LISTEN ||
	      (proto == IPPROTO_UDP && state == TCP_CLOSE &&
	       KREAD(struct sock, sk, __sk_common.skc_num))))
		return 0;
	if (c->n >= MAX_LISTENERS) {
		c->cut = true;
		return 1;
	}
	sc = bpf_map_lookup_elem(&scratch_buf, &zero);
	if (!sc)
		return 1;
	d = (struct fd_desc *)(sc->buf + (c->off & OFF_MASK));
	d->head.fd = i;
	describe_file(file, d);
	c->off += sizeof(*d);
	c->n++;
	return 0;
}

static __always_inline __u32 put_user_buf(__u8 *buf, __u32 off, const void *ptr, __u64 len)
{
	if (!ptr || len == 0)
		return 0;
	if (len > 112)
		len = 112;
	barrier_var(len);
	len &= 127;
	if (len == 0)
		return 0;
	off &= OFF_MASK;
	if (bpf_probe_read_user(buf + off, len, ptr))
		return 0;
	return (__u32)len;
}

/*
 * A successful exec, in the record at the start of `sc` (header filled): the new image's
 * file, path, argv, cwd, terminal, the fds that survived, fds 0-2 and the listening
 * sockets. Returns the record's size.
 */
__noinline __u32 exec_record(struct scratch *sc)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	struct file *exe = BPF_CORE_READ(mm, exe_file);
	struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	unsigned long *open_fds = BPF_CORE_READ(fdt, open_fds);
	struct listen_ctx lc = {};
	struct vigil_event *e;
	__u64 words[2] = {};
	__u64 start, end, len;
	struct path p;
	__u32 off = sizeof(struct vigil_event), n;
	__u8 *buf;

	if (!sc)
		return 0;
	buf = sc->buf;
	e = (struct vigil_event *)buf;
	if (exe) {
		BPF_CORE_READ_INTO(&p, exe, f_path);
		n = put_path(off, &p);
		e->seglen[0] = n;
		off += n;
		if (BPF_CORE_READ(exe, f_inode, __i_nlink) == 0)
			e->flags |= F_EXE_NLINK0;
		e->fd.kind = FDK_FILE;
		e->fd.ino = BPF_CORE_READ(exe, f_inode, i_ino);
		e->fd.dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
	}
	start = BPF_CORE_READ(mm, arg_start);
	end = BPF_CORE_READ(mm, arg_end);
	len = end > start ? end - start : 0;
	if (len > ARGV_MAX) {
		len = ARGV_MAX;
		e->flags |= F_ARGV_TRUNCATED;
	}
	barrier_var(len);
	len &= ARGV_MAX;
	off &= OFF_MASK;
	if (len > 0 && bpf_probe_read_user(buf + off, len, (void *)start) == 0) {
		e->seglen[1] = len;
		off += len;
	}
	BPF_CORE_READ_INTO(&p, task, fs, pwd);
	n = put_path(off, &p);
	e->seglen[2] = n;
	off += n;
	{
		__u32 tid = (__u32)bpf_get_current_pid_tgid();
		struct exec_at *at = bpf_map_lookup_elem(&exec_ats, &tid);

		if (at) {
			long k = bpf_probe_read_kernel_str(buf + (off & OFF_MASK), FDPATH_MAX,
							   at->fdpath);

			if (k > 0) {
				e->seglen[SEG_BUF] = k;
				off += k;
				e->flags |= F_EXEC_AT;
			}
			bpf_map_delete_elem(&exec_ats, &tid);
		}
	}
	if (tty) {
		__u32 major = BPF_CORE_READ(tty, driver, major);
		__u32 minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);

		e->args[0] = ((__u64)major << 32) | minor;
		e->flags |= F_HAS_TTY;
	}
	e->args[1] = BPF_CORE_READ(task, signal, pids[PIDTYPE_SID], numbers[0].nr);
	e->args[2] = BPF_CORE_READ(task, signal, pids[PIDTYPE_PGID], numbers[0].nr);
	/* which fds survived the exec (close-on-exec ones are gone by now) */
	if (BPF_CORE_READ(fdt, max_fds) > 64)
		bpf_probe_read_kernel(words, sizeof(words), open_fds);
	else
		bpf_probe_read_kernel(words, sizeof(words[0]), open_fds);
	e->aux = words[0];
	if (words[1])
		e->flags |= F_FDS_BEYOND;
	/* what stdin, stdout and stderr really are */
	for (int i = 0; i < 3; i++) {
		describe_fd((struct fd_desc *)(buf + (off & OFF_MASK)), i);
		off += sizeof(struct fd_desc);
	}
	e->seglen[SEG_FDS] = 3 * sizeof(struct fd_desc);
	lc.open = words[0];
	lc.off = off;
	bpf_loop(EXEC_FDS, listen_step, &lc, 0);
	e->seglen[SEG_EXTRA] = lc.off - off;
	if (lc.cut)
		e->flags |= F_LISTENERS_CUT;
	return lc.off;
}

/* Argument i of the syscall (0 for an index out of range): a switch, not a variable
 * stack offset, which the verifier could not bound. */
static __always_inline __u64 arg_at(struct sys_args *a, __u32 i)
{
	switch (i) {
	case 0: return a->v[0];
	case 1: return a->v[1];
	case 2: return a->v[2];
	case 3: return a->v[3];
	case 4: return a->v[4];
	case 5: return a->v[5];
	}
	return 0;
}

static __always_inline bool dns_port(struct vigil_settings *s, __u16 port)
{
	if (!port)
		return false;
	for (int i = 0; i < DNS_PORTS; i++) {
		if (s->dns_ports[i] == port)
			return true;
	}
	return false;
}

/* The port of an IPv4/IPv6 user sockaddr, 0 for none. */
static __always_inline __u16 sockaddr_port(const void *uaddr)
{
	__u16 fp[2];

	if (!uaddr || bpf_probe_read_user(fp, sizeof(fp), uaddr))
		return 0;
	if (fp[0] != AF_INET && fp[0] != AF_INET6)
		return 0;
	return bpf_ntohs(fp[1]);
}

/* Where a send's data and address are: from the registers, or from its user_msghdr. */
static __always_inline void send_args(struct syscall_spec *spec, struct sys_args *a,
				      struct send_args *sa)
{
	sa->addr = 0;
	sa->data = 0;
	sa->len = 0;
	if (spec->kind == KIND_SENDMSG || spec->kind == KIND_SENDMMSG) {
		/* struct mmsghdr starts with its user_msghdr */
		struct user_msghdr mh = {};
		struct iovec iov = {};

		if (bpf_probe_read_user(&mh, sizeof(mh), (const void *)a->v[1]))
			return;
		sa->addr = mh.msg_namelen ? (__u64)mh.msg_name : 0;
		if (mh.msg_iovlen && !bpf_probe_read_user(&iov, sizeof(iov), mh.msg_iov)) {
			sa->data = (__u64)iov.iov_base;
			sa->len = iov.iov_len;
		}
		return;
	}
	if (spec->buf_arg && spec->kind != KIND_CONNECT)
		sa->addr = arg_at(a, spec->buf_arg - 1);
	if (spec->data_arg) {
		sa->data = arg_at(a, spec->data_arg - 1);
		sa->len = arg_at(a, spec->data_arg);
	}
}

/* True when the fd is a TCP socket. */
static __always_inline bool tcp_socket(__s64 fd)
{
	struct file *f = (struct file *)current_fd_file(fd);
	struct socket *sock;
	struct sock *sk;

	if (!f || (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return false;
	sock = BPF_CORE_READ(f, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return false;
	return BPF_CORE_READ(sk, sk_type) == SOCK_STREAM && BPF_CORE_READ(sk, sk_protocol) == IPPROTO_TCP;
}

/* The destination port of a socket fd (0 when it is not a connected IP socket). */
static __always_inline __u16 socket_dport(__s64 fd)
{
	__u64 file = current_fd_file(fd);
	struct file *f = (struct file *)file;
	struct socket *sock;
	struct sock *sk;

	if (!f || (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return 0;
	sock = BPF_CORE_READ(f, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return 0;
	return bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
}

/*
 * Before anything is copied, for a syscall captured for its DNS traffic: is this call DNS
 * traffic? Its address says so, or the fd was connected to a DNS port (dns_fds, checked
 * against the socket). A connect to a DNS port is remembered here (and is never itself
 * DNS traffic). Returns 1 for DNS traffic.
 */
__noinline int dns_call(struct syscall_spec *spec, struct vigil_settings *s, struct sys_args *a,
			__s64 ret)
{
	struct send_args sa;
	__u64 key;
	__u8 one = 1;
	__u16 port;

	if (!spec || !s || !a)
		return 0;
	key = (bpf_get_current_pid_tgid() & ~0xffffffffULL) | (__u32)a->v[0];
	if (spec->kind == KIND_CONNECT) {
		port = sockaddr_port((const void *)a->v[1]);
		if (dns_port(s, port) && (ret == 0 || ret == -EINPROGRESS)) {
			__u32 slot = (__u32)(key >> 32) % DNS_TGIDS;
			__u8 *mark = bpf_map_lookup_elem(&dns_tgids, &slot);

			bpf_map_update_elem(&dns_fds, &key, &one, BPF_ANY);
			if (mark)
				*mark = 1;
		}
		else if (port) {
			bpf_map_delete_elem(&dns_fds, &key);
			if (s->want_first_send && (ret == 0 || ret == -EINPROGRESS) &&
			    tcp_socket((int)a->v[0])) {
				__u32 slot = (__u32)(key >> 32) % DNS_TGIDS;
				__u8 *mark = bpf_map_lookup_elem(&dns_tgids, &slot);

				bpf_map_update_elem(&first_sends, &key, &one, BPF_ANY);
				if (mark)
					*mark = 1;
			}
		}
		return 0;
	}
	send_args(spec, a, &sa);
	if (sa.addr)
		return dns_port(s, sockaddr_port((const void *)sa.addr));
	if (s->want_first_send && bpf_map_lookup_elem(&first_sends, &key)) {
		/* once per connection; the fd may have been closed and reused since */
		bpf_map_delete_elem(&first_sends, &key);
		return socket_dport((int)a->v[0]) ? 2 : 0;
	}
	if (!bpf_map_lookup_elem(&dns_fds, &key))
		return 0;
	if (dns_port(s, socket_dport((int)a->v[0])))
		return 1;
	bpf_map_delete_elem(&dns_fds, &key);
	return 0;
}

static __always_inline bool arg_wanted(struct syscall_spec *spec, struct sys_args *a)
{
	__u32 v = (__u32)arg_at(a, spec->filter_arg - 1);

	for (int i = 0; i < 4; i++) {
		if (i < spec->filter_count && spec->filter_vals[i] == v)
			return true;
	}
	return false;
}

/*
 * The extra segment, after the record's other segments: the DNS payload of a send, the
 * path of the event's fd, or the name of a signalled task. `dns`: the call is known to be
 * DNS traffic. Returns the bytes written.
 */
__noinline __u32 put_extra(struct scratch *sc, struct syscall_spec *spec,
			   struct vigil_settings *s, struct sys_args *a, int dns)
{
	struct vigil_event *e;
	__u32 off;
	__u8 *buf;

	if (!sc || !spec || !s || !a)
		return 0;
	buf = sc->buf;
	e = (struct vigil_event *)buf;
	off = sizeof(struct vigil_event);
	for (int i = 0; i < SEG_EXTRA; i++)
		off += e->seglen[i];
	off &= OFF_MASK;
	if ((spec->flags & SPEC_DNS) && spec->kind != KIND_CONNECT) {
		struct send_args sa;
		__u64 len;

		send_args(spec, a, &sa);
		if (!dns) {
			/* captured for the rules anyway: DNS when the address or the socket says so */
			__u16 port = sa.addr ? sockaddr_port((const void *)sa.addr) : 0;

			if (!port && e->fd.kind == FDK_SOCK && e->seglen[SEG_FDS] == sizeof(struct fd_desc)) {
				struct fd_desc *d = (struct fd_desc *)
					(buf + ((off - sizeof(struct fd_desc)) & OFF_MASK));
				port = d->sock.rport;
			}
			if (!dns_port(s, port))
				return 0;
		}
		len = sa.len;
		if (!sa.data || !len)
			return 0;
		if (len > DNS_MAX) {
			len = DNS_MAX;
			e->flags |= F_PAYLOAD_CUT;
		}
		barrier_var(len);
		len &= 511;
		if (!len || bpf_probe_read_user(buf + off, len, (const void *)sa.data))
			return 0;
		if (dns == 2) {
			e->flags |= F_FIRST_SEND;
			return len;
		}
		e->flags |= F_DNS;
		count(CNT_DNS);
		return len;
	}
	if (spec->extra == EXTRA_FD_PATH && spec->fd_source == FD_ARG0) {
		struct file *f = (struct file *)current_fd_file((int)a->v[0]);
		struct path p;

		if (!f)
			return 0;
		BPF_CORE_READ_INTO(&p, f, f_path);
		return put_path(off, &p);
	}
#ifndef VIGIL_COMPAT
	if (spec->extra == EXTRA_TARGET) {
		__s64 pid = (int)arg_at(a, spec->extra_arg);
		struct task_struct *t;

		if (pid <= 0)
			return 0;
		t = bpf_task_from_vpid((s32)pid);
		if (!t)
			return 0;
		bpf_probe_read_kernel(buf + off, 16, t->comm);
		e->aux = t->tgid;
		e->flags |= F_TARGET;
		bpf_task_release(t);
		return 16;
	}
#endif
	return 0;
}

/*
 * A syscall other than a successful exec, in the record at the start of `sc` (header and
 * arguments filled): its strings, user buffer, fd description and extra. Returns the
 * record's size, 0 when it is not to be sent (an ignored read).
 */
__noinline __u32 syscall_record(struct scratch *sc, struct syscall_spec *spec,
				struct vigil_settings *s, struct sys_args *a, int dns)
{
	struct vigil_event *e;
	__u64 file = 0;
	__u32 off = sizeof(struct vigil_event), seg = 0, nr;
	__s64 ret;
	__u8 *buf;

	if (!sc || !spec || !s || !a)
		return 0;
	buf = sc->buf;
	e = (struct vigil_event *)buf;
	nr = e->nr;
	ret = e->res;
	for (int i = 0; i < 6; i++) {
		__u32 n;

		if (!(spec->str_mask & (1 << i)) || seg >= SEG_BUF)
			continue;
		n = put_user_str(buf, off, (const void *)a->v[i]);
		if (seg == 0)
			e->seglen[0] = n;
		else if (seg == 1)
			e->seglen[1] = n;
		else
			e->seglen[2] = n;
		seg++;
		off += n;
	}
	if ((nr == 2 || nr == 257) &&
	    ignored_read(buf, sizeof(struct vigil_event), nr == 2 ? a->v[1] : a->v[2])) {
		count(CNT_IGNORED);
		return 0;
	}
	if (spec->buf_arg) {
		const void *ptr = (const void *)arg_at(a, spec->buf_arg - 1);
		__u64 len = spec->buf_fixed ? spec->buf_fixed : arg_at(a, spec->buf_len_arg);
		__u32 n;

		if (spec->kind == KIND_SENDMSG || spec->kind == KIND_SENDMMSG) {
			struct user_msghdr mh = {};

			ptr = NULL;
			len = 0;
			if (bpf_probe_read_user(&mh, sizeof(mh), (const void *)a->v[1]) == 0) {
				ptr = mh.msg_name;
				len = (__u32)mh.msg_namelen;
			}
		}
		n = put_user_buf(buf, off, ptr, len);
		e->seglen[SEG_BUF] = n;
		off += n;
	}
	if ((spec->fd_source == FD_ARG0 || spec->fd_source == FD_RES) &&
	    !(spec->fd_source == FD_RES && ret < 0)) {
		__s64 fd = spec->fd_source == FD_RES ? ret : (__s64)(int)a->v[0];
		struct fd_desc *d = (struct fd_desc *)(buf + (off & OFF_MASK));
		int kind;

		file = describe_fd(d, fd);
		kind = d->head.kind;
		e->fd = d->head;
		/* the header holds the description; the desc stays only for a socket's tuple or
		 * an anonymous inode's name */
		if (kind == FDK_SOCK || kind == FDK_ANON) {
			e->seglen[SEG_FDS] = sizeof(struct fd_desc);
			off += sizeof(struct fd_desc);
		}
		if ((spec->flags & SPEC_CREATED) && file &&
		    (KREAD(struct file, file, f_mode) & FMODE_CREATED))
			e->flags |= F_CREATED;
	} else if (spec->fd_source == FD_PAIR && ret == 0) {
		int fds[2] = {-1, -1};

		bpf_probe_read_user(fds, sizeof(fds), (const void *)arg_at(a, spec->pair_arg));
		describe_fd((struct fd_desc *)(buf + (off & OFF_MASK)), fds[0]);
		off += sizeof(struct fd_desc);
		describe_fd((struct fd_desc *)(buf + (off & OFF_MASK)), fds[1]);
		off += sizeof(struct fd_desc);
		e->seglen[SEG_FDS] = 2 * sizeof(struct fd_desc);
	}
	if (spec->extra || (spec->flags & SPEC_DNS)) {
		__u32 n = put_extra(sc, spec, s, a, dns);

		e->seglen[SEG_EXTRA] = n;
		off += n;
	}
	return off;
}

/*
 * Whether the record at the start of `buf` is high-value for what it names: the file it
 * acted on is one of the sensitive inodes, or its path (first string) is under a sensitive
 * prefix. The LPM key is laid over the header's last 4 bytes (its pad, restored after)
 * and the path that follows them.
 */
__noinline int sensitive_record(struct scratch *sc, __u8 path0)
{
	struct vigil_event *e;
	struct inode_key k = {};
	__u32 len;
	int hit = 0;

	if (!sc)
		return 0;
	e = (struct vigil_event *)sc->buf;
	if (e->fd.ino) {
		k.ino = e->fd.ino;
		k.dev = e->fd.dev;
		if (bpf_map_lookup_elem(&sensitive_inodes, &k))
			return 1;
	}
	len = e->seglen[0];
	if (!path0 || !len)
		return 0;
	if (len > PRIO_PATH_MAX)
		len = PRIO_PATH_MAX;
	e->pad = len * 8;
	hit = bpf_map_lookup_elem(&sensitive_paths,
				  sc->buf + offsetof(struct vigil_event, pad)) != NULL;
	e->pad = 0;
	return hit;
}

/* One suffix of `wanted_suffixes` against the path (bpf_loop callback: verified once). A
 * relative name is compared as "/" + name (its full path is the directory's, a slash, the
 * name); a suffix longer than that counts as a match. */
struct suffix_ctx {
	__u32 len;            /* the path's length with its NUL */
	__u32 base;           /* the first slot: 0 for reads, SUFFIXES for writes */
	__u32 rel;            /* 1: the path is relative */
	int hit;
};

static long suffix_step(__u32 i, void *data)
{
	struct suffix_ctx *c = data;
	struct path_suffix *sf;
	struct scratch *sc;
	__u32 zero = 0, k = c->base + i, n, m, vlen, rel = c->rel ? 1 : 0;
	const __u8 *p;

	sf = bpf_map_lookup_elem(&wanted_suffixes, &k);
	if (!sf || !sf->len)
		return 1;
	n = sf->len;
	vlen = c->len + rel;          /* the compared string ("/" + a relative name) + NUL */
	if (n > SUFFIX_MAX || c->len > PRIO_PATH_MAX)
		return 0;
	/* a relative name shorter than the ending: its tail is compared, and a match may
	 * continue into the directory's path (unknown here): counted as a hit */
	if (n + 1 > vlen && !rel)
		return 0;
	m = n + 1 > vlen ? vlen - 1 : n;
	sc = bpf_map_lookup_elem(&scratch_buf, &zero);
	if (!sc)
		return 1;
	p = sc->buf + sizeof(struct vigil_event);
	for (__u32 j = 0; j < SUFFIX_MAX; j++) {
		__u32 at = vlen - 1 - m + j;
		__u8 ch;

		if (j >= m)
			break;
		if (rel && at == 0)
			ch = '/';
		else
			ch = p[(at - rel) & (PRIO_PATH_MAX - 1)];
		if (ch != (__u8)sf->s[(n - m + j) & (SUFFIX_MAX - 1)])
			return 0;
	}
	c->hit = 1;
	return 1;
}

/* Whether the calling task's working directory is one of `quiet_dirs` for `bit`, for a
 * relative name of `len` bytes (with its NUL). */
static __always_inline int quiet_cwd(__u8 bit, __u32 len)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct dentry *dentry = BPF_CORE_READ(task, fs, pwd.dentry);
	struct vfsmount *vfsmnt = BPF_CORE_READ(task, fs, pwd.mnt);
	struct mount *mnt = container_of(vfsmnt, struct mount, mnt);
	struct dir_key k = {};
	struct dir_quiet *q;

	if (!dentry || !vfsmnt)
		return 0;
	k.ino = BPF_CORE_READ(dentry, d_inode, i_ino);
	k.dev = BPF_CORE_READ(dentry, d_inode, i_sb, s_dev);
	k.mnt_id = BPF_CORE_READ(mnt, mnt_id);
	q = bpf_map_lookup_elem(&quiet_dirs, &k);
	return q && (q->bits & bit) && len <= q->max_name;
}

/*
 * Whether a read-only open (`writes` 0) or a toolchain write (`writes` 1) is one no loaded
 * rule or detector can need. Its path (first string, at most PRIO_PATH_MAX bytes, with no
 * "/.", "//" or "..", which user space resolves or rules look for) is either absolute and
 * neither under `wanted_reads`/`wanted_writes` nor ending with one of the suffixes, or
 * relative to the working directory (`dirfd` AT_FDCWD), which is one of `quiet_dirs`, and
 * "/" + name ends with none of the suffixes. Anything else is sent.
 */
__noinline int unwanted_path(struct scratch *sc, int writes, int dirfd)
{
	struct vigil_event *e;
	const __u8 *p;
	__u32 len, rel;
	int hit;

	if (!sc)
		return 0;
	e = (struct vigil_event *)sc->buf;
	p = sc->buf + sizeof(struct vigil_event);
	len = e->seglen[0];
	if (len < 2 || len > PRIO_PATH_MAX)
		return 0;
	rel = p[0] != '/';
	/* "/" + ".name": a hidden file, always sent like any "/." */
	if (rel && (dirfd != AT_FDCWD || p[0] == '.'))
		return 0;
	for (__u32 i = 0; i < PRIO_PATH_MAX - 1; i++) {
		if (i + 2 >= len)
			break;
		if ((p[i] == '/' && (p[i + 1] == '.' || p[i + 1] == '/')) ||
		    (p[i] == '.' && p[i + 1] == '.'))
			return 0;
	}
	if (!rel) {
		e->pad = len * 8;
		if (writes)
			hit = bpf_map_lookup_elem(&wanted_writes,
						  sc->buf + offsetof(struct vigil_event, pad)) != NULL;
		else
			hit = bpf_map_lookup_elem(&wanted_reads,
						  sc->buf + offsetof(struct vigil_event, pad)) != NULL;
		e->pad = 0;
		if (hit)
			return 0;
	}
	{
		struct suffix_ctx c = {.len = len, .base = writes ? SUFFIXES : 0, .rel = rel};

		bpf_loop(SUFFIXES, suffix_step, &c, 0);
		if (c.hit)
			return 0;
	}
	if (!rel)
		return 1;
	return quiet_cwd(writes ? QUIET_WRITES : QUIET_READS, len);
}

/* Whether the calling process runs one of `quiet_writers`. */
static __always_inline int quiet_writer(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	struct inode_key k = {};

	if (!exe)
		return 0;
	k.ino = BPF_CORE_READ(exe, f_inode, i_ino);
	k.dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
	return bpf_map_lookup_elem(&quiet_writers, &k) != NULL;
}

/* Send the aggregate of a flood window that is over, on the priority lane: the header of
 * the record `e` (the same process), the syscall, records folded and offered, the
 * window's length, and a sample path. */
static __always_inline void send_flood(struct vigil_event *e, struct flood_state *st,
				       __u32 nr, __u64 now)
{
	struct vigil_event *r = bpf_ringbuf_reserve(&urgent, sizeof(*r) + FLOOD_SAMPLE, 0);

	if (!r) {
		count_drop(e, true);
		return;
	}
	__builtin_memcpy(r, e, sizeof(*r));
	r->ts = now;
	r->nr = EV_FLOOD;
	r->res = 0;
	r->flags = 0;
	r->aux = 0;
	r->args[0] = nr & ~FLOOD_PRIO;
	r->args[1] = st->folded;
	r->args[2] = st->offered;
	r->args[3] = now - st->start;
	r->args[4] = !!(nr & FLOOD_PRIO);
	r->args[5] = 0;
	r->fd.kind = FDK_NONE;
	r->fd.ino = 0;
	r->fd.dev = 0;
	r->fd.fd = 0;
	r->fd.fmode = 0;
	for (int i = 0; i < MAX_SEGS; i++)
		r->seglen[i] = 0;
	r->seglen[0] = FLOOD_SAMPLE;
	__builtin_memcpy((__u8 *)(r + 1), st->sample, FLOOD_SAMPLE);
	bpf_ringbuf_submit(r, 0);
	count(CNT_EVENTS);
	count(CNT_URGENT);
	count(CNT_FLOOD_RECORDS);
}

/*
 * Flood control: past `limit` records in one second of one process, syscall and lane, the
 * rest of the second is folded into one aggregate (sent when the process's next such
 * record opens a new window, or by user space once the window is stale). Returns 1 when
 * the record is folded (not sent).
 */
__noinline int flooded(struct scratch *sc, __u32 limit, int prio)
{
	struct vigil_event *e;
	struct flood_state *st;
	struct flood_key k = {};
	__u64 now, n;

	if (!sc)
		return 0;
	e = (struct vigil_event *)sc->buf;
	k.tgid = e->tgid;
	k.nr = e->nr | (prio ? FLOOD_PRIO : 0);
	now = e->ts;
	st = bpf_map_lookup_elem(&flood, &k);
	if (!st) {
		struct flood_state fresh = {};

		fresh.start = now;
		fresh.offered = 1;
		bpf_map_update_elem(&flood, &k, &fresh, BPF_NOEXIST);
		return 0;
	}
	if (now - st->start >= 1000000000ULL) {
		if (st->folded)
			send_flood(e, st, k.nr, now);
		st->start = now;
		st->offered = 1;
		st->folded = 0;
		return 0;
	}
	n = __sync_fetch_and_add(&st->offered, 1) + 1;
	if (n <= limit)
		return 0;
	if (__sync_fetch_and_add(&st->folded, 1) == 0) {
		__builtin_memcpy(st->comm, e->comm, sizeof(st->comm));
		st->sample[0] = 0;
		if (e->seglen[0])
			bpf_probe_read_kernel_str(st->sample, FLOOD_SAMPLE,
						  sc->buf + sizeof(struct vigil_event));
	}
	count(CNT_FLOODED);
	return 1;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(vigil_sys_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct syscall_spec *spec;
	struct vigil_settings *s;
	struct truncation *tr;
	struct vigil_event *e;
	struct sys_args a;
	struct scratch *sc;
	__u64 trunc_size = 0, trunc_ino = 0, pid_tgid;
	bool truncated = false;
	int dns = 0, prio;
	__u32 nr, off, tgid, tid, zero = 0;

	nr = (__u32)regs->orig_ax;
	if (nr >= MAX_SYSCALLS)
		return 0;
	spec = bpf_map_lookup_elem(&syscall_specs, &nr);
	if (!spec || !(spec->flags & (SPEC_SEND | SPEC_DNS)))
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	tid = (__u32)pid_tgid;
	tgid = pid_tgid >> 32;
	if (!(spec->flags & SPEC_SEND) && !spec->buf_arg && spec->kind == KIND_GENERIC) {
		/* write(), hooked for DNS only: DNS when its fd was connected to a DNS port. For
		 * every other write on the host, an array lookup decides, before anything else */
		__u32 slot = tgid % DNS_TGIDS;
		__u8 *mark = bpf_map_lookup_elem(&dns_tgids, &slot);
		__u64 key = ((__u64)tgid << 32) | (__u32)regs->di;

		if (!mark || !*mark || (!bpf_map_lookup_elem(&dns_fds, &key) &&
					!bpf_map_lookup_elem(&first_sends, &key)))
			return 0;
	}
	a.v[0] = regs->di;
	a.v[1] = regs->si;
	a.v[2] = regs->dx;
	a.v[3] = regs->r10;
	a.v[4] = regs->r8;
	a.v[5] = regs->r9;
	if ((spec->flags & SPEC_SIZE_BEFORE) &&
	    (!spec->trunc_arg || arg_at(&a, spec->trunc_arg - 1) & O_TRUNC)) {
		/* taken now, whatever happens next, so no later call of this thread finds it */
		tr = bpf_map_lookup_elem(&truncations, &tid);
		if (tr) {
			truncated = tr->nr == nr;
			trunc_size = tr->size;
			trunc_ino = tr->ino;
			bpf_map_delete_elem(&truncations, &tid);
		}
	}
	s = settings();
	if (!s || excluded(s, tgid))
		return 0;
	/* A compiler or a shell searching its path tries many names that do not exist: these
	 * lookups outnumber every other open on a build host. Decided before anything is
	 * copied; failures other than ENOENT (EACCES on /etc/shadow ...) are still sent. */
	if (ret == -2 && s->ignore_missing_reads && (nr == 2 || nr == 257) &&
	    !((nr == 2 ? a.v[1] : a.v[2]) & (03 | 0100 | 01000))) {
		count(CNT_IGNORED_MISSING);
		return 0;
	}
	/* The same search for programs: execvp() and compiler drivers try each directory of
	 * their path; nothing ran, and the process is unchanged. */
	if (ret == -2 && s->ignore_missing_execs && (nr == 59 || nr == 322)) {
		count(CNT_IGNORED_MISSING_EXEC);
		return 0;
	}
	if (spec->filter_arg && !arg_wanted(spec, &a)) {
		count(CNT_FILTERED_ARG);
		return 0;
	}
	if (spec->flags & SPEC_DNS) {
		dns = dns_call(spec, s, &a, ret);
		if (!dns && !(spec->flags & SPEC_SEND))
			return 0;
	}
	e = begin_record(task, nr);
	sc = bpf_map_lookup_elem(&scratch_buf, &zero);
	if (!e || !sc)
		return 0;
	e->res = ret;
	for (int i = 0; i < 6; i++)
		e->args[i] = a.v[i];
	if (spec->kind == KIND_EXEC && ret == 0) {
		/* the registers already belong to the new image */
		for (int i = 0; i < 6; i++)
			e->args[i] = 0;
		off = exec_record(sc);
		if (s->flood_limit && flooded(sc, s->flood_limit, 1)) {
			release_fork(tgid);  /* the fork is not folded with the exec */
			return 0;
		}
		merge_fork(e, tgid);
		submit_urgent(sc->buf, off);
		return 0;
	} else {
		release_fork(tgid);
		off = syscall_record(sc, spec, s, &a, dns);
		if (!off)
			return 0;
		/* the size of the file this call acted on (not a directory it created a file in) */
		if (truncated && (spec->fd_source == FD_NONE || e->fd.ino == trunc_ino)) {
			e->aux = trunc_size;
			e->flags |= F_SIZE_BEFORE;
		}
	}
	prio = (spec->flags & SPEC_URGENT) || sensitive_record(sc, spec->flags & SPEC_PATH0);
	/* a flood of ordinary records of a process never folds its high-value ones; it is
	 * counted before the rule-derived filter, so a flood of reads no rule wants is still
	 * reported as a flood */
	if (s->flood_limit && flooded(sc, s->flood_limit, prio))
		return 0;
	if (!prio && (nr == 2 || nr == 257) && s->filter_reads &&
	    !((nr == 2 ? a.v[1] : a.v[2]) & (03 | 0100 | 01000)) &&
	    unwanted_path(sc, 0, nr == 257 ? (int)a.v[0] : AT_FDCWD)) {
		count(CNT_FILTERED_RULES);
		return 0;
	}
	/* a compiler's temporary files and objects: wanted only where a rule looks */
	if (!prio && s->filter_writes &&
	    (((nr == 2 || nr == 257) && ((nr == 2 ? a.v[1] : a.v[2]) & (03 | 0100 | 01000))) ||
	     nr == 85 || nr == 87 || nr == 263) && quiet_writer() &&
	    unwanted_path(sc, 1, (nr == 257 || nr == 263) ? (int)a.v[0] : AT_FDCWD)) {
		count(CNT_FILTERED_WRITES);
		return 0;
	}
	if (prio)
		submit_urgent(sc->buf, off);
	else
		submit(s, sc->buf, off);
	return 0;
}

/* Keep the size of a file the running syscall is about to truncate, for that syscall's
 * exit (an open with O_TRUNC of an existing file, truncate, ftruncate); nothing is sent
 * from here. Only the first size seen during the syscall counts. */
static __always_inline void keep_size(struct inode *inode)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	struct syscall_spec *spec;
	struct truncation t = {}, *old;
	__u32 nr, tid = (__u32)bpf_get_current_pid_tgid();

	nr = (__u32)BPF_CORE_READ(regs, orig_ax);
	if (nr >= MAX_SYSCALLS)
		return;
	spec = bpf_map_lookup_elem(&syscall_specs, &nr);
	if (!spec || !(spec->flags & SPEC_SIZE_BEFORE))
		return;
	if (spec->trunc_arg) {
		struct sys_args a;

		a.v[0] = BPF_CORE_READ(regs, di);
		a.v[1] = BPF_CORE_READ(regs, si);
		a.v[2] = BPF_CORE_READ(regs, dx);
		a.v[3] = a.v[4] = a.v[5] = 0;
		if (!(arg_at(&a, spec->trunc_arg - 1) & O_TRUNC))
			return;
	}
	old = bpf_map_lookup_elem(&truncations, &tid);
	if (old && old->nr == nr)
		return;
	t.nr = nr;
	t.size = BPF_CORE_READ(inode, i_size);
	t.ino = BPF_CORE_READ(inode, i_ino);
	bpf_map_update_elem(&truncations, &tid, &t, BPF_ANY);
}

/* Whether the clone under way is a vfork of a new process (task_newtask runs inside
 * copy_process, before the fork tracepoint, and knows the clone flags). */
SEC("tp_btf/task_newtask")
int BPF_PROG(vigil_clone, struct task_struct *p, __u64 clone_flags)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u8 vfork = (clone_flags & (CLONE_VM | CLONE_VFORK)) == (CLONE_VM | CLONE_VFORK);

	bpf_map_update_elem(&vforking, &tid, &vfork, BPF_ANY);
	return 0;
}

/* Every truncation, on any file system (needs BPF trampolines; some kernels refuse them). */
SEC("fentry/do_truncate")
int BPF_PROG(vigil_truncate, void *idmap, struct dentry *dentry)
{
	keep_size(BPF_CORE_READ(dentry, d_inode));
	return 0;
}

/* ext4, for kernels without trampolines: a truncation starts a journal handle on the
 * inode before its new size is set (also without a journal). Other handles of the same
 * syscall on other inodes are told apart at the exit by inode number. */
SEC("tp_btf/ext4_journal_start_inode")
int BPF_PROG(vigil_ext4_truncate, struct inode *inode)
{
	keep_size(inode);
	return 0;
}

/* An exec succeeded: remember, for the syscall's exit, that it went through an fd. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(vigil_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	const char *fdpath = bprm->fdpath;
	struct exec_at at = {};
	__u32 tid;

	if (!fdpath)
		return 0;
	tid = (__u32)bpf_get_current_pid_tgid();
	if (bpf_probe_read_kernel_str(at.fdpath, sizeof(at.fdpath), fdpath) <= 0)
		return 0;
	bpf_map_update_elem(&exec_ats, &tid, &at, BPF_ANY);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(vigil_fork, struct task_struct *parent, struct task_struct *child)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct vigil_settings *s = settings();
	struct vigil_event *e;
	__u32 ctgid = child->tgid;

	if (!s || !s->want_fork)
		return 0;
	/* threads are not processes: the table follows thread groups only */
	if (ctgid == parent->tgid)
		return 0;
	/* no exclusion here: the agent's own children are processes like any other */
	e = begin_record(task, EV_FORK);
	if (!e)
		return 0;
	e->res = ctgid;
	e->args[0] = ctgid;
	{
		__u32 tid = (__u32)bpf_get_current_pid_tgid(), zero = 0;
		__u8 *vfork = bpf_map_lookup_elem(&vforking, &tid);
		__s64 *held = vfork && *vfork && BPF_CORE_READ(parent, signal, nr_threads) == 1 ?
			bpf_map_lookup_elem(&forks_held, &zero) : NULL;

		if (held && bpf_map_update_elem(&held_forks, &ctgid, e, BPF_NOEXIST) == 0) {
			__sync_fetch_and_add(held, 1);
			return 0;
		}
	}
	submit_urgent(e, sizeof(*e));
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(vigil_exit, struct task_struct *p)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct vigil_settings *s = settings();
	struct vigil_event *e;
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	if (!s || !s->want_exit)
		return 0;
	/* only the thread group leader's exit ends the process entry */
	if ((__u32)pid_tgid != (__u32)(pid_tgid >> 32))
		return 0;
	release_fork(pid_tgid >> 32);
	if (excluded(s, pid_tgid >> 32))
		return 0;
	e = begin_record(task, EV_EXIT);
	if (!e)
		return 0;
	e->res = task->exit_code;
	submit_urgent(e, sizeof(*e));
	return 0;
}
