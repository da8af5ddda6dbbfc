// SPDX-License-Identifier: GPL-2.0
/*
 * Vigil's kernel sensor: one CO-RE object, attached with BTF tracepoints only
 * (no kprobes, no tracefs needed).
 *
 * Syscalls are captured at sys_exit only. At that point the saved user registers still
 * hold the arguments and every user buffer the syscall read has been faulted in, so
 * strings and socket addresses can be copied reliably. Which syscalls are captured, and
 * what to copy for each, is data: user space fills `syscall_specs` before attaching,
 * so this program knows nothing of Falco names or argument meanings.
 *
 * Record layout (little endian, see decode.py): a fixed 128-byte header followed by up to
 * four variable segments whose lengths are in the header.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define MAX_SYSCALLS 512
#define MAX_SEGS 4
#define STR_MAX 4096
#define ARGV_MAX 4095
#define NAME_MAX_ 256
#define PATH_DEPTH 32
#define SEG_LIMIT 3840          /* a path walk stops growing its segment past this */
#define OFF_MASK 0x3fff         /* every write offset is masked: bounds for the verifier */
#define SCRATCH_SIZE (OFF_MASK + 1 + STR_MAX + NAME_MAX_)

#define EV_FORK 1000
#define EV_EXIT 1001

#define KIND_GENERIC 0
#define KIND_EXEC 1
#define KIND_SENDMSG 2

#define FD_NONE 0
#define FD_ARG0 1
#define FD_RES 2

#define F_ARGV_TRUNCATED 1
#define F_EXE_NLINK0 2
#define F_HAS_TTY 4

#define S_IFMT 00170000
#define S_IFSOCK 0140000

#define CNT_DROPS 0
#define CNT_EVENTS 1
#define CNT_DROPS_NOT_FULL 2    /* reserve failed while the ring had room (lock contention) */
#define CNT_SPILLED 3           /* written to the spill ring because the main ring refused */
#define CNT_PARKED 4            /* held on this CPU until the rings accept again */
#define CNT_IGNORED 5           /* read-only opens under an ignored prefix, not sent */
#define CNT_IGNORED_MISSING 6   /* read-only opens that failed with ENOENT, not sent */
#define CNT_IGNORED_MISSING_EXEC 7 /* execve/execveat that failed with ENOENT, not sent */
#define CNT_MAX 8

#ifndef barrier_var
#define barrier_var(var) asm volatile("" : "+r"(var))
#endif

struct vigil_event {
	__u64 ts;
	__u64 cgroup_id;
	__s64 res;
	__u64 args[6];
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
};

/* What to copy for one syscall; filled by user space, indexed by syscall number. */
struct syscall_spec {
	__u8 enabled;
	__u8 kind;
	__u8 str_mask;        /* bit i: argument i is a user string */
	__u8 buf_arg;        /* 1 + index of a user buffer argument (sockaddr, open_how), 0 for none */
	__u8 buf_len_arg;    /* index of its length argument */
	__u8 fd_source;       /* which fd to describe as a socket: FD_ARG0 or FD_RES */
	__u8 pad[2];
};

/* A socket's endpoints as the kernel holds them (segment payload). */
struct sock_tuple {
	__u16 family;
	__u16 type;
	__u16 protocol;
	__u16 lport;
	__u16 rport;
	__u16 pad;
	__u8 laddr[16];
	__u8 raddr[16];
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

struct vigil_settings {
	__u32 self_tgid;
	__u32 wake_bytes;     /* wake the reader only when this much data is pending */
	__u8 want_fork;
	__u8 want_exit;
	__u8 ignore_missing_reads; /* drop read-only opens that failed with ENOENT */
	__u8 ignore_missing_execs; /* drop execve/execveat that failed with ENOENT */
	__u8 pad[4];
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
	count(CNT_DROPS);
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

static __always_inline struct file *fd_file(struct task_struct *task, __s64 fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;

	if (fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline __u32 put_sock_tuple(__u8 *buf, __u32 off, struct task_struct *task, __s64 fd)
{
	struct file *f = fd_file(task, fd);
	struct sock_tuple *t;
	struct socket *sock;
	struct sock *sk;
	__u16 mode;

	if (!f)
		return 0;
	mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return 0;
	sock = BPF_CORE_READ(f, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return 0;
	off &= OFF_MASK;
	t = (struct sock_tuple *)(buf + off);
	t->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	t->type = BPF_CORE_READ(sk, sk_type);
	t->protocol = BPF_CORE_READ(sk, sk_protocol);
	t->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	t->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	t->pad = 0;
	if (t->family == 10 /* AF_INET6 */) {
		BPF_CORE_READ_INTO(&t->laddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&t->raddr, sk, __sk_common.skc_v6_daddr);
	} else {
		__builtin_memset(t->laddr, 0, 32);
		BPF_CORE_READ_INTO((__u32 *)t->laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)t->raddr, sk, __sk_common.skc_daddr);
	}
	return sizeof(*t);
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

/* A successful exec: the new image's path, argv, cwd and terminal. */
static __always_inline __u32 put_exec(struct vigil_event *e, __u8 *buf, __u32 off,
				      struct task_struct *task)
{
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	struct file *exe = BPF_CORE_READ(mm, exe_file);
	struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
	struct path p;
	__u64 start, end, len;
	__u32 n;

	if (exe) {
		BPF_CORE_READ_INTO(&p, exe, f_path);
		n = put_path(off, &p);
		e->seglen[0] = n;
		off += n;
		if (BPF_CORE_READ(exe, f_inode, __i_nlink) == 0)
			e->flags |= F_EXE_NLINK0;
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
	if (tty) {
		__u32 major = BPF_CORE_READ(tty, driver, major);
		__u32 minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);

		e->args[0] = ((__u64)major << 32) | minor;
		e->flags |= F_HAS_TTY;
	}
	e->args[1] = BPF_CORE_READ(task, signal, pids[PIDTYPE_SID], numbers[0].nr);
	e->args[2] = BPF_CORE_READ(task, signal, pids[PIDTYPE_PGID], numbers[0].nr);
	return off;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(vigil_sys_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct syscall_spec *spec;
	struct vigil_settings *s;
	struct vigil_event *e;
	__u8 *buf;
	__u32 nr, off, seg = 0;
	__u64 args[6];

	nr = (__u32)regs->orig_ax;
	if (nr >= MAX_SYSCALLS)
		return 0;
	spec = bpf_map_lookup_elem(&syscall_specs, &nr);
	if (!spec || !spec->enabled)
		return 0;
	s = settings();
	if (!s || excluded(s, bpf_get_current_pid_tgid() >> 32))
		return 0;
	/* A compiler or a shell searching its path tries many names that do not exist: these
	 * lookups outnumber every other open on a build host. Decided before anything is
	 * copied; failures other than ENOENT (EACCES on /etc/shadow ...) are still sent. */
	if (ret == -2 && s->ignore_missing_reads && (nr == 2 || nr == 257) &&
	    !((nr == 2 ? regs->si : regs->dx) & (03 | 0100 | 01000))) {
		count(CNT_IGNORED_MISSING);
		return 0;
	}
	/* The same search for programs: execvp() and compiler drivers try each directory of
	 * their path; nothing ran, and the process is unchanged. */
	if (ret == -2 && s->ignore_missing_execs && (nr == 59 || nr == 322)) {
		count(CNT_IGNORED_MISSING_EXEC);
		return 0;
	}
	e = begin_record(task, nr);
	if (!e)
		return 0;
	buf = (__u8 *)e;
	e->res = ret;
	args[0] = regs->di;
	args[1] = regs->si;
	args[2] = regs->dx;
	args[3] = regs->r10;
	args[4] = regs->r8;
	args[5] = regs->r9;
	for (int i = 0; i < 6; i++)
		e->args[i] = args[i];
	off = sizeof(*e);

	if (spec->kind == KIND_EXEC && ret == 0) {
		for (int i = 0; i < 6; i++)
			e->args[i] = 0;
		off = put_exec(e, buf, off, task);
		submit(s, buf, off);
		return 0;
	}
	for (int i = 0; i < 6; i++) {
		__u32 n;

		if (!(spec->str_mask & (1 << i)) || seg >= MAX_SEGS - 1)
			continue;
		n = put_user_str(buf, off, (const void *)args[i]);
		if (seg < MAX_SEGS)
			e->seglen[seg & (MAX_SEGS - 1)] = n;
		seg++;
		off += n;
	}
	if ((nr == 2 || nr == 257) &&
	    ignored_read(buf, sizeof(*e), nr == 2 ? args[1] : args[2])) {
		count(CNT_IGNORED);
		return 0;
	}
	if (spec->buf_arg && seg < MAX_SEGS) {
		__u32 i = (spec->buf_arg - 1) & 7, li = spec->buf_len_arg & 7;
		const void *ptr = i < 6 ? (const void *)args[i] : NULL;
		__u64 len = li < 6 ? args[li] : 0;
		__u32 n;

		if (spec->kind == KIND_SENDMSG) {
			struct user_msghdr mh = {};

			ptr = NULL;
			len = 0;
			if (bpf_probe_read_user(&mh, sizeof(mh), (const void *)args[1]) == 0) {
				ptr = mh.msg_name;
				len = (__u32)mh.msg_namelen;
			}
		}
		n = put_user_buf(buf, off, ptr, len);
		e->seglen[seg & (MAX_SEGS - 1)] = n;
		seg++;
		off += n;
	}
	if (spec->fd_source != FD_NONE && seg < MAX_SEGS) {
		__s64 fd = spec->fd_source == FD_RES ? ret : (__s64)(int)args[0];
		__u32 n = put_sock_tuple(buf, off, task, fd);

		e->seglen[seg & (MAX_SEGS - 1)] = n;
		off += n;
	}
	submit(s, buf, off);
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
	submit(s, e, sizeof(*e));
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
	if (excluded(s, pid_tgid >> 32))
		return 0;
	e = begin_record(task, EV_EXIT);
	if (!e)
		return 0;
	e->res = task->exit_code;
	submit(s, e, sizeof(*e));
	return 0;
}
