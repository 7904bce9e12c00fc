/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * TCP connection signal: outbound connects (duration, outcome, errno) and
 * the connections they open (release, lifetime, resets, retransmits).
 *
 * The socket state machine does the work: sock:inet_sock_set_state fires
 * for CLOSE -> SYN_SENT inside tcp_v{4,6}_connect(), in the connecting
 * task's context, so that is where the socket's owner is recorded. The
 * SYN-ACK, RST, ICMP error or SYN timer that ends the connect arrives in
 * softirq or timer context, where "current" is unrelated: those events look
 * the owner up by socket address instead.
 *
 * The connect syscall tracepoints add what the state machine cannot see: a
 * connect() that fails before SYN_SENT (no route, a refused address) and
 * the errno of one that fails inside the call after SYN_SENT (no free
 * source port: the socket goes back to CLOSE with sk_err unset).
 *
 * Every record goes through one ring buffer without a per-record wakeup;
 * connects and closes are rare next to syscalls, so records cost little.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include "lib/common.bpf.h"
#include "lib/core_fixes.bpf.h"
#include "probe/conn.h"

#define AF_INET		2
#define AF_INET6	10
#define EALREADY	114
#define EINPROGRESS	115
#define EISCONN		106
#define S_IFMT		00170000
#define S_IFSOCK	0140000

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PROBE_CONN_RINGBUF_BYTES);
} conn_events SEC(".maps");

/* socket address -> owner; see include/probe/conn.h for why not LRU */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PROBE_MAX_CONN_SOCKS);
	__type(key, __u64);
	__type(value, struct probe_conn_sock);
} conn_socks SEC(".maps");

/* A thread inside connect() on a TCP socket. */
struct conn_call {
	__u64 uaddr;		/* the sockaddr argument, read again at exit if needed */
	__u64 sk;		/* socket that entered SYN_SENT during this call, or 0 */
	__u64 t_enter;
	__u8 fresh;		/* unconnected at entry: a failure now is a new attempt */
	__u8 failed;		/* back to CLOSE inside the call without sk_err */
	__u8 pad[6];
	struct probe_conn_sock owner;	/* kept for the report at exit */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PROBE_MAX_CONN_CALLS);
	__type(key, __u32);
	__type(value, struct conn_call);
} conn_calls SEC(".maps");

PROBE_STATS_MAP(PROBE_CONN_STAT_MAX);

static __always_inline struct probe_conn_rec *
rec_new(__u16 type, const struct probe_conn_sock *o, __u64 sk, __u64 now)
{
	struct probe_conn_rec *r = bpf_ringbuf_reserve(&conn_events, sizeof(*r), 0);

	if (!r) {
		probe_stat_inc(&stats, PROBE_CONN_STAT_RB_DROP);
		return NULL;
	}
	r->hdr.type = type;
	r->hdr.version = PROBE_CONN_VERSION;
	r->hdr.flags = (__u8)o->flags;
	r->hdr.size = sizeof(*r);
	r->hdr.ts_ns = now;
	r->hdr.pid = o->pid;
	r->hdr.tid = o->tid;
	r->hdr.cgroup_id = o->cgroup_id;
	__builtin_memcpy(r->hdr.comm, o->comm, sizeof(r->hdr.comm));
	r->sock = sk;
	r->dur_ns = 0;
	__builtin_memcpy(r->daddr, o->daddr, sizeof(r->daddr));
	r->dport = o->dport;
	r->sport = 0;
	r->family = o->family;
	r->outcome = 0;
	r->state = 0;
	r->err = 0;
	r->pad = 0;
	return r;
}

static __always_inline void rec_send(struct probe_conn_rec *r)
{
	bpf_ringbuf_submit(r, probe_rb_flags(&conn_events));
}

/* The current task as an owner (its identity) */
static __always_inline void owner_fill(struct probe_conn_sock *o, __u64 now)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	o->t_start = now;
	o->pid = pid_tgid >> 32;
	o->tid = (__u32)pid_tgid;
	o->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(o->comm, sizeof(o->comm));
}

/*
 * The socket's fields are read from the socket with CO-RE probe reads, the
 * values the tracepoint copies (inet_sock_set_state's TP_fast_assign),
 * so one body serves both hooks; these reads happen only on the rare
 * paths (a connect starting, a followed socket changing state).
 */
static __always_inline __u16 sk_sport(const struct sock *sk)
{
	return bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
}

static __always_inline int on_syn_sent(const struct sock *sk_ptr, __u64 sk)
{
	struct probe_conn_sock o = {};
	__u64 now = bpf_ktime_get_ns();
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct probe_conn_rec *r;
	struct conn_call *c;

	/* Attribution happens here, so the --pid filter does too. */
	if (!probe_wanted(bpf_get_current_pid_tgid() >> 32))
		return 0;
	owner_fill(&o, now);
	o.family = BPF_CORE_READ(sk_ptr, __sk_common.skc_family);
	o.dport = bpf_ntohs(BPF_CORE_READ(sk_ptr, __sk_common.skc_dport));
	if (o.family == AF_INET)
		*(__u32 *)o.daddr = BPF_CORE_READ(sk_ptr, __sk_common.skc_daddr);
	else
		BPF_CORE_READ_INTO(&o.daddr, sk_ptr, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	if (bpf_map_update_elem(&conn_socks, &sk, &o, BPF_ANY)) {
		probe_stat_inc(&stats, PROBE_CONN_STAT_SOCKS_FULL);
		return 0;
	}
	c = bpf_map_lookup_elem(&conn_calls, &tid);
	if (c)
		c->sk = sk;
	r = rec_new(PROBE_REC_CONN_START, &o, sk, now);
	if (r) {
		r->state = TCP_CLOSE;
		rec_send(r);
	}
	return 0;
}

static __always_inline void on_close(const struct sock *sk_ptr, int oldstate, __u64 sk,
				     struct probe_conn_sock *o, __u64 now)
{
	int err = BPF_CORE_READ(sk_ptr, sk_err);
	struct probe_conn_rec *r;

	if (!o->t_est) {
		/*
		 * An ICMP error that arrives while the socket is locked (on
		 * loopback: inside connect() itself) is only a soft error; the
		 * caller may see it through SO_ERROR, which clears it, and give
		 * up. It is the reason all the same.
		 */
		if (!err)
			err = BPF_CORE_READ(sk_ptr, sk_err_soft);
		if (!err)
			err = o->soft_err;
		if (!err) {
			/*
			 * Back to CLOSE without an error: either connect()
			 * itself failed after SYN_SENT (its errno comes at
			 * sys_exit), or the caller gave up (close, disconnect).
			 */
			__u32 tid = (__u32)bpf_get_current_pid_tgid();
			struct conn_call *c = bpf_map_lookup_elem(&conn_calls, &tid);

			if (c && c->sk == sk) {
				c->failed = 1;
				__builtin_memcpy(&c->owner, o, sizeof(c->owner));
				bpf_map_delete_elem(&conn_socks, &sk);
				return;
			}
		}
		r = rec_new(PROBE_REC_CONN_DONE, o, sk, now);
		if (r) {
			r->dur_ns = now - o->t_start;
			r->outcome = PROBE_CONN_FAILED;
			r->err = err;
			r->state = oldstate;
			r->sport = sk_sport(sk_ptr);
			rec_send(r);
		}
	} else if (!o->t_end) {
		/* Died while ours: reset, retransmission timeout, abort. */
		r = rec_new(PROBE_REC_CONN_END, o, sk, now);
		if (r) {
			r->dur_ns = now - o->t_est;
			r->err = err;
			r->state = oldstate;
			r->sport = sk_sport(sk_ptr);
			rec_send(r);
		}
	}
	bpf_map_delete_elem(&conn_socks, &sk);
}

/* A TCP socket changed state (the protocol is checked by the caller). */
static __always_inline int set_state(const struct sock *sk_ptr, int oldstate, int newstate)
{
	__u64 sk = (__u64)sk_ptr, now;
	struct probe_conn_sock *o;
	struct probe_conn_rec *r;

	if (newstate == TCP_SYN_SENT)
		return on_syn_sent(sk_ptr, sk);
	o = bpf_map_lookup_elem(&conn_socks, &sk);
	if (!o)
		return 0;	/* not an outbound socket we followed */
	now = bpf_ktime_get_ns();
	switch (newstate) {
	case TCP_ESTABLISHED:
		if (o->t_est)
			return 0;
		o->t_est = now;
		r = rec_new(PROBE_REC_CONN_DONE, o, sk, now);
		if (r) {
			r->dur_ns = now - o->t_start;
			r->outcome = PROBE_CONN_OK;
			r->state = oldstate;
			r->sport = sk_sport(sk_ptr);
			rec_send(r);
		}
		return 0;
	case TCP_FIN_WAIT1:
	case TCP_LAST_ACK:
		/*
		 * Our side closed it: the application no longer holds the
		 * connection, even though the socket lingers until CLOSE.
		 */
		if (!o->t_est || o->t_end)
			return 0;
		o->t_end = now;
		r = rec_new(PROBE_REC_CONN_END, o, sk, now);
		if (r) {
			r->dur_ns = now - o->t_est;
			r->state = oldstate;
			r->sport = sk_sport(sk_ptr);
			rec_send(r);
		}
		return 0;
	case TCP_CLOSE:
		on_close(sk_ptr, oldstate, sk, o, now);
		return 0;
	}
	return 0;
}

static __always_inline void sock_event(__u64 sk, __u16 type, int state, int need_est)
{
	struct probe_conn_sock *o = bpf_map_lookup_elem(&conn_socks, &sk);
	struct probe_conn_rec *r;

	if (!o || (need_est && !o->t_est))
		return;
	r = rec_new(type, o, sk, bpf_ktime_get_ns());
	if (r) {
		r->state = state;
		rec_send(r);
	}
}

/*
 * Each hook twice, with the same body: tp_btf (typed arguments, the socket
 * read with plain loads) where the kernel has it, the classic tracepoint
 * otherwise; the loader loads one of each pair. A program on a classic
 * tracepoint is a perf event, and the last one released from a trace event
 * holds the kernel's event_mutex across two RCU grace periods (~50 ms each
 * here, one trace event after another, at exit); a raw tracepoint link
 * does not.
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(inet_sock_set_state_btf, const struct sock *sk, int oldstate, int newstate)
{
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	return set_state(sk, oldstate, newstate);
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(tcp_retransmit_skb_btf, const struct sock *sk)
{
	/* SYN retransmits count too: they are how a connect waits. */
	sock_event((__u64)sk, PROBE_REC_CONN_RETRANS, sk->__sk_common.skc_state, 0);
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(tcp_receive_reset_btf, struct sock *sk)
{
	/* An RST to our SYN is a refused connect, reported with its outcome. */
	sock_event((__u64)sk, PROBE_REC_CONN_RST_IN, sk->__sk_common.skc_state, 1);
	return 0;
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(tcp_send_reset_btf, const struct sock *sk)
{
	if (sk)	/* NULL: a reply to a segment for no socket */
		sock_event((__u64)sk, PROBE_REC_CONN_RST_OUT, sk->__sk_common.skc_state, 0);
	return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	return set_state((const struct sock *)ctx->skaddr, ctx->oldstate, ctx->newstate);
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int tcp_retransmit_skb(void *ctx)
{
	/* SYN retransmits count too: they are how a connect waits. */
	sock_event(probe_tcp_retrans_sk(ctx), PROBE_REC_CONN_RETRANS,
		   probe_tcp_retrans_state(ctx), 0);
	return 0;
}

SEC("tracepoint/tcp/tcp_receive_reset")
int tcp_receive_reset(struct trace_event_raw_tcp_event_sk *ctx)
{
	__u64 sk = (__u64)ctx->skaddr;
	int state = BPF_CORE_READ((struct sock *)ctx->skaddr, __sk_common.skc_state);

	/* An RST to our SYN is a refused connect, reported with its outcome. */
	sock_event(sk, PROBE_REC_CONN_RST_IN, state, 1);
	return 0;
}

SEC("tracepoint/tcp/tcp_send_reset")
int tcp_send_reset(void *ctx)
{
	__u64 sk = probe_tcp_rst_sk(ctx);

	if (sk)	/* NULL: a reply to a segment for no socket */
		sock_event(sk, PROBE_REC_CONN_RST_OUT, probe_tcp_rst_state(ctx), 0);
	return 0;
}

/* fd -> struct socket of the current task, or NULL when fd is not a socket. */
static __always_inline struct socket *fd_socket(__u32 fd)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	struct file **fds, *f = NULL;
	umode_t mode;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return NULL;
	mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	return BPF_CORE_READ(f, private_data);
}

SEC("tracepoint/syscalls/sys_enter_connect")
int sys_enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct conn_call c = {};
	struct socket *sock;
	struct sock *sk;
	__u16 family;

	if (!probe_wanted(pid_tgid >> 32))
		return 0;
	sock = fd_socket((__u32)ctx->args[0]);
	if (!sock)
		return 0;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP ||
	    BPF_CORE_READ(sk, sk_type) != SOCK_STREAM)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	c.uaddr = ctx->args[1];
	c.t_enter = bpf_ktime_get_ns();
	/*
	 * A second connect() on a socket already connecting returns the
	 * first attempt's error; that attempt was counted by its state
	 * change, so only an unconnected socket starts a new attempt.
	 */
	c.fresh = BPF_CORE_READ(sock, state) == SS_UNCONNECTED;
	if (bpf_map_update_elem(&conn_calls, &tid, &c, BPF_ANY))
		probe_stat_inc(&stats, PROBE_CONN_STAT_CALLS_FULL);
	return 0;
}

/* Where a connect() that never reached SYN_SENT was going, from its sockaddr. */
static __always_inline void dest_from_user(struct probe_conn_sock *o, __u64 uaddr)
{
	__u16 family = 0, port = 0;

	if (bpf_probe_read_user(&family, sizeof(family), (void *)uaddr))
		return;
	bpf_probe_read_user(&port, sizeof(port), (void *)(uaddr + 2));
	if (family == AF_INET) {
		if (bpf_probe_read_user(o->daddr, 4, (void *)(uaddr + 4)))
			return;
	} else if (family == AF_INET6) {
		if (bpf_probe_read_user(o->daddr, 16, (void *)(uaddr + 8)))
			return;
	} else {
		return;
	}
	o->family = family;
	o->dport = __builtin_bswap16(port);
}

SEC("tracepoint/syscalls/sys_exit_connect")
int sys_exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct conn_call *c = bpf_map_lookup_elem(&conn_calls, &tid);
	long ret = ctx->ret;
	struct probe_conn_rec *r;
	__u64 now;

	if (!c)
		return 0;
	now = bpf_ktime_get_ns();
	if (c->sk && !c->failed) {
		struct probe_conn_sock *o = bpf_map_lookup_elem(&conn_socks, &c->sk);
		/* a plain local: CO-RE must not relocate our own struct's field */
		struct sock *sk = (struct sock *)c->sk;

		if (o && !o->t_est)
			o->soft_err = BPF_CORE_READ(sk, sk_err_soft);
	}
	if (c->failed) {
		r = rec_new(PROBE_REC_CONN_DONE, &c->owner, c->sk, now);
		if (r) {
			r->dur_ns = now - c->owner.t_start;
			r->outcome = PROBE_CONN_FAILED_LOCAL;
			r->err = ret < 0 ? (__s32)-ret : 0;
			r->state = TCP_SYN_SENT;
			rec_send(r);
		}
	} else if (!c->sk && c->fresh && ret < 0 && ret != -EINPROGRESS &&
		   ret != -EALREADY && ret != -EISCONN) {
		struct probe_conn_sock o = {};

		owner_fill(&o, c->t_enter);
		dest_from_user(&o, c->uaddr);
		r = rec_new(PROBE_REC_CONN_DONE, &o, 0, now);
		if (r) {
			r->dur_ns = now - c->t_enter;
			r->outcome = PROBE_CONN_FAILED_LOCAL;
			r->err = (__s32)-ret;
			r->state = TCP_CLOSE;
			rec_send(r);
		}
	}
	bpf_map_delete_elem(&conn_calls, &tid);
	return 0;
}

/*
 * Connections older than the probe: userspace walks every TCP socket once
 * at start (in each network namespace it cares about), finds owners through
 * /proc/PID/fd, and enters the outbound ones into conn_socks itself.
 */
SEC("iter/tcp")
int seed_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct probe_conn_seen s = {};
	struct tcp_sock *tp;
	struct sock *sk;
	int state;

	if (!skc)
		return 0;
	state = skc->skc_state;
	if (state != TCP_ESTABLISHED && state != TCP_CLOSE_WAIT && state != TCP_LISTEN)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);	/* NULL for request and time-wait socks */
	if (!tp)
		return 0;
	sk = (struct sock *)tp;
	s.sock = (__u64)sk;
	s.ino = BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino);
	s.family = skc->skc_family;
	s.state = state;
	s.sport = skc->skc_num;
	s.dport = __builtin_bswap16(skc->skc_dport);
	if (s.family == AF_INET) {
		*(__u32 *)s.saddr = skc->skc_rcv_saddr;
		*(__u32 *)s.daddr = skc->skc_daddr;
	} else {
		BPF_CORE_READ_INTO(&s.saddr, skc, skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&s.daddr, skc, skc_v6_daddr);
	}
	bpf_seq_write(ctx->meta->seq, &s, sizeof(s));
	return 0;
}
