/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The least an HTTP timer on the socket capture's tracepoints has to do,
 * for bench-http's "least" row: per read and write, one (tgid, fd) lookup
 * and a copy of the payload's first 16 bytes; a request start takes the
 * clock, a status line takes it again and sends a 32-byte record through
 * a per-CPU ring without a wakeup. No socket is resolved, no connection
 * classified, no path, Host, owner or address kept, no pipelining or
 * Content-Length followed: a tracer that times requests and reports them
 * with their status cannot do less, so what this row keeps of the
 * untraced req/s bounds what any such tracer keeps on this machine.
 *
 * x86-64: the read's fd and buffer come from the saved user registers,
 * as in bpf/sockets.bpf.c.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#define LEAST_PEEK	16

struct least_rec {
	__u64 start_ns;
	__u64 duration_ns;
	__u32 tgid;
	__s32 fd;
	__u16 status;
	__u16 pad[3];
};

/* (tgid, fd) -> when the request in flight started (0: none) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} starts SEC(".maps");

struct least_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);		/* the loader sets the CPU count */
	__type(key, __u32);
	__array(values, struct least_ring);
} rings SEC(".maps");

static __always_inline void least_io(int fd, const void *buf, __u64 len)
{
	__u64 key = (bpf_get_current_pid_tgid() & ~0xffffffffULL) | (__u32)fd;
	__u32 cpu = bpf_get_smp_processor_id();
	char b[LEAST_PEEK];
	struct least_rec *e;
	__u64 *ts, now;
	void *ring;

	if (len < LEAST_PEEK || bpf_probe_read_user(b, sizeof(b), buf))
		return;
	if (b[0] == 'H' && b[1] == 'T' && b[2] == 'T' && b[3] == 'P' && b[4] == '/') {
		ts = bpf_map_lookup_elem(&starts, &key);
		if (!ts || !*ts)
			return;
		ring = bpf_map_lookup_elem(&rings, &cpu);
		e = ring ? bpf_ringbuf_reserve(ring, sizeof(*e), 0) : NULL;
		if (!e)
			return;
		now = bpf_ktime_get_ns();
		e->start_ns = *ts;
		e->duration_ns = now - *ts;
		e->tgid = key >> 32;
		e->fd = fd;
		e->status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
		bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
		*ts = 0;
		return;
	}
	/* "GET ", "POST", "HEAD", ...: a request starts */
	if (b[0] < 'A' || b[0] > 'Z' || b[1] < 'A' || b[1] > 'Z')
		return;
	now = bpf_ktime_get_ns();
	ts = bpf_map_lookup_elem(&starts, &key);
	if (ts)
		*ts = now;
	else
		bpf_map_update_elem(&starts, &key, &now, BPF_ANY);
}

static __always_inline void least_iov(int fd, const struct iovec *uiov)
{
	struct iovec iov;

	if (!bpf_probe_read_user(&iov, sizeof(iov), uiov))
		least_io(fd, iov.iov_base, iov.iov_len);
}

static __always_inline int least_read(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs;

	if (ctx->ret <= 0)
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	least_io((int)PT_REGS_PARM1_SYSCALL(regs), (const void *)PT_REGS_PARM2_SYSCALL(regs),
		 ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_read")
int least_exit_read(struct trace_event_raw_sys_exit *ctx)
{
	return least_read(ctx);
}

SEC("tracepoint/syscalls/sys_exit_recvfrom")
int least_exit_recvfrom(struct trace_event_raw_sys_exit *ctx)
{
	return least_read(ctx);
}

SEC("tracepoint/syscalls/sys_enter_write")
int least_enter_write(struct trace_event_raw_sys_enter *ctx)
{
	least_io((int)ctx->args[0], (const void *)ctx->args[1], ctx->args[2]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int least_enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	least_io((int)ctx->args[0], (const void *)ctx->args[1], ctx->args[2]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_writev")
int least_enter_writev(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[2])
		least_iov((int)ctx->args[0], (const struct iovec *)ctx->args[1]);
	return 0;
}

/* The hooks this workload does not call: empty, as in the floor. */
#define EMPTY(tp, name)			\
	SEC("tracepoint/" tp)		\
	int name(void *ctx)		\
	{				\
		return 0;		\
	}

EMPTY("syscalls/sys_exit_readv", least_exit_readv)
EMPTY("syscalls/sys_exit_recvmsg", least_exit_recvmsg)
EMPTY("syscalls/sys_enter_sendmsg", least_enter_sendmsg)
EMPTY("syscalls/sys_exit_accept", least_exit_accept)
EMPTY("syscalls/sys_exit_accept4", least_exit_accept4)
EMPTY("syscalls/sys_enter_connect", least_enter_connect)
EMPTY("sock/inet_sock_set_state", least_sock_state)

char LICENSE[] SEC("license") = "Dual BSD/GPL";
