/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The socket capture's interface to its protocol parsers.
 *
 * A capture hook (a syscall tracepoint in bpf/sockets.bpf.c today; TLS
 * uprobes with plaintext later) finds the connection and describes one
 * read or write as a struct sock_io, then calls sock_handle()
 * (sockets/handler.bpf.h), the one shared handler that classifies the
 * payload and runs its protocol's parser. Everything below is what the
 * parsers may use, and all they may use:
 *
 *   struct sock_io      one payload: where its first bytes are in user
 *                       memory, how many, the (tgid, fd) key, direction
 *   sock_copy()         copy the first min(want, ulen, PROBE_SOCK_SCAN)
 *                       bytes into this CPU's struct sock_buf
 *   sock_buf_get()      that buffer (b[] is twice the window, so any offset
 *                       below PROBE_SOCK_SCAN has PROBE_SOCK_SCAN readable
 *                       bytes after it)
 *   SOCK_OFF()          an offset, masked into the window where it indexes
 *   sock_owner()        the current process's comm, executable name and
 *                       cgroup, read once per connection
 *   `stats`, `conns`    the per-CPU counters (enum probe_sock_stat) and the
 *                       (tgid, fd) -> struct probe_conn map
 *
 * Nothing here depends on the kernel's types, so the parsers also compile
 * for the host (tests/fuzz/shim/), which provides lib/common.bpf.h and
 * sock_owner() itself (PROBE_HOST_SHIM).
 */
#ifndef PROBE_SOCKETS_CAPTURE_BPF_H
#define PROBE_SOCKETS_CAPTURE_BPF_H

#include "lib/common.bpf.h"
#include "probe/sockets.h"

/* (tgid, fd) -> what the fd is: see bpf/sockets.bpf.c. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PROBE_SOCK_MAX_FDS);
	__type(key, __u64);
	__type(value, struct probe_conn);
} conns SEC(".maps");

PROBE_STATS_MAP(PROBE_SOCK_STAT_MAX);

/*
 * One ring buffer per CPU, created by the loader. A single shared ring
 * measured ~400 ns a reserve here with nginx on one CPU and its client on
 * the other: the lock and producer position bounce between the CPUs on
 * every request. Per CPU they stay put; userspace reads them all and
 * merges them by the records' own time. Every record of the capture (HTTP requests,
 * database queries) goes here; the name is its first user's.
 */
struct http_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PROBE_SOCK_RINGBUF_BYTES);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);		/* the loader sets the CPU count */
	__type(key, __u32);
	__array(values, struct http_ring);
} http_rings SEC(".maps");

/*
 * The first bytes of the payload being looked at, per CPU (tracepoint
 * programs do not nest or migrate).
 */
#define SOCK_BUF_SLACK	PROBE_SOCK_SCAN
struct sock_buf {
	char b[PROBE_SOCK_SCAN + SOCK_BUF_SLACK];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sock_buf);
} sock_bufs SEC(".maps");

/*
 * One read or write, as the handler and parsers see it. Lengths are
 * unsigned: older verifiers (6.1) reject a size whose signed range may be
 * negative.
 */
struct sock_io {
	__u64 key;		/* PROBE_SOCK_KEY(tgid, fd) */
	__u64 ubuf;		/* user memory holding the payload's first ulen bytes */
	__u64 ulen;
	__u64 total;		/* bytes in the whole payload (more than ulen: more iovecs) */
	__s32 fd;
	__u32 in;		/* 1: read (received), 0: written (sent) */
};

/* Enough to tell a request start or a status line from anything else. */
#define SOCK_PEEK	16

/*
 * An offset already checked to be below the window, masked again where it
 * is used: clang may test one register copy and index with another, and
 * the empty asm keeps it from dropping the mask as redundant.
 */
#define SOCK_OFF(v)							\
	({								\
		__u32 __v = (v);					\
		asm volatile("" : "+r"(__v));				\
		__v & (PROBE_SOCK_SCAN - 1);				\
	})

static __always_inline struct sock_buf *sock_buf_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sock_bufs, &zero);
}

/*
 * Copy the payload's first min(want, ulen, PROBE_SOCK_SCAN) bytes into sb.
 * Each protocol asks for what it needs: a response's status line is 16
 * bytes, and copying 512 when 16 will do costs time on every request.
 * Returns the bytes copied; 0 when there are none or the read faulted
 * (counted).
 */
static __always_inline __u32 sock_copy(struct sock_buf *sb, const struct sock_io *io, __u32 want)
{
	__u32 n;

	if (!io->ubuf || !io->ulen)
		return 0;
	n = io->ulen < want ? (__u32)io->ulen : want;
	if (n > PROBE_SOCK_SCAN)
		n = PROBE_SOCK_SCAN;
	/* kept through the optimizer: the verifier needs 0 <= size < sizeof(b) */
	asm volatile("" : "+r"(n));
	n &= PROBE_SOCK_SCAN * 2 - 1;
	if (bpf_probe_read_user(sb->b, n, (const void *)io->ubuf)) {
		probe_stat_inc(&stats, PROBE_SOCK_STAT_READ_FAULT);
		return 0;
	}
	return n;
}

/* Who owns a connection: read once, when its state is created. */
struct sock_owner {
	char comm[PROBE_COMM_LEN];	/* the process's (group leader's) name */
	char exe[PROBE_COMM_LEN];	/* its executable's file name */
	__u64 cgroup_id;
};

#ifndef PROBE_HOST_SHIM
static __always_inline void sock_owner(struct sock_owner *o)
{
	/*
	 * The executable's name comes from the kernel too: a short-lived
	 * client is gone from /proc by the time userspace reads about it.
	 */
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	const unsigned char *name = BPF_CORE_READ(task, mm, exe_file, f_path.dentry, d_name.name);

	if (name)
		bpf_probe_read_kernel_str(o->exe, sizeof(o->exe), name);
	BPF_CORE_READ_STR_INTO(&o->comm, task, group_leader, comm);
	o->cgroup_id = bpf_get_current_cgroup_id();
}
#else
/* The host shim says who owns a connection. */
static void sock_owner(struct sock_owner *o);
#endif

#endif
