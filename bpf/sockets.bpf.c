/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Socket capture: application protocols read from the first bytes of each
 * read and write on a stream socket, from syscall tracepoints only.
 *
 * Hooks, and why only these: a specific syscalls:* tracepoint costs almost
 * nothing on the syscalls it does not match, while raw_syscalls would cost
 * every syscall on the host ~150 ns (bench/COSTS.md). Each hook is single:
 *   - reads are handled at sys_exit only: the bytes are there, and the
 *     fd and buffer come back from the task's saved user registers
 *     (bpf_task_pt_regs), so no enter hook has to stash them;
 *   - writes are handled at sys_enter only: the buffer is already filled;
 *   - accept and connect forget an fd's state, so a new connection never
 *     inherits its fd number's predecessor's; a TCP socket's own close
 *     (sock:inet_sock_set_state to FIN_WAIT1, LAST_ACK or CLOSE, which
 *     happens inside close() or shutdown()) forgets it too. The close
 *     syscall is not hooked: it fires for every file a server closes (nginx
 *     closes the file it served on every request), while the state change
 *     fires a few times per TCP connection;
 *   - sendfile is not hooked: it only carries a body from a file, after
 *     the response's first byte went out with write/writev, and that is
 *     what is timed (lib/http.bpf.h).
 *
 * Per (tgid, fd), `conns` remembers what the fd is (an HTTP connection's
 * state in http_conns also carries a copy, and is looked up first). Unknown fds are
 * resolved once through the task's files table (fd -> file -> socket ->
 * sock: family, ports, addresses), which also covers sockets that existed
 * before the probe started; anything not a TCP socket, or a TCP socket
 * whose payloads match no protocol, is remembered as PROBE_PROTO_NONE so
 * its later calls cost one lookup.
 *
 * Adding a protocol (PostgreSQL, Redis, MySQL...): a PROBE_PROTO_* value in
 * include/probe/sockets.h, its records and in-flight state in its own
 * header, its parser in lib/<proto>.bpf.h (following lib/http.bpf.h), a
 * detector in sock_classify() and a case in sock_data(). The hooks, the
 * fd resolution and the payload copy below stay as they are.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include "lib/common.bpf.h"
#include "probe/sockets.h"

#define AF_INET		2
#define AF_INET6	10
#define SOCK_STREAM	1
#define S_IFMT		00170000
#define S_IFSOCK	0140000
#define MSG_PEEK	2
#define IPPROTO_TCP	6

/* (tgid, fd) -> what the fd is; see the top of this file. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PROBE_SOCK_MAX_FDS);
	__type(key, __u64);
	__type(value, struct probe_conn);
} conns SEC(".maps");

/* struct sock -> the (tgid, fd) key it is followed under, for its close. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PROBE_SOCK_MAX_FDS);
	__type(key, __u64);
	__type(value, __u64);
} socks SEC(".maps");

/*
 * The first bytes of the payload being looked at, per CPU (tracepoint
 * programs do not nest or migrate). b[] is twice the window so that any
 * offset below PROBE_SOCK_SCAN has SOCK_BUF_SLACK readable bytes after it.
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

PROBE_STATS_MAP(PROBE_SOCK_STAT_MAX);

static __always_inline struct sock_buf *sock_buf_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sock_bufs, &zero);
}

/* One read or write, as the protocol handlers see it. */
struct sock_io {
	const void *ubuf;	/* user memory holding the payload's first ulen bytes */
	__u64 ulen;
	__u64 total;		/* bytes in the whole payload (more than ulen: more iovecs) */
	int fd;
	int in;			/* 1: read (received), 0: written (sent) */
};

/*
 * Copy the payload's first min(want, ulen, PROBE_SOCK_SCAN) bytes into sb.
 * Each protocol asks for what it needs: a response's status line is 16
 * bytes, and copying 512 when 16 will do costs time on every request.
 * Returns the bytes copied; 0 when there are none or the read faulted
 * (counted).
 */
static __always_inline __u32 sock_copy(struct sock_buf *sb, const struct sock_io *io,
				       __u32 want)
{
	__u32 n;

	if (!io->ubuf || !io->ulen)
		return 0;
	n = io->ulen < want ? (__u32)io->ulen : want;
	if (n > PROBE_SOCK_SCAN)
		n = PROBE_SOCK_SCAN;
	if (bpf_probe_read_user(sb->b, n & (PROBE_SOCK_SCAN * 2 - 1), io->ubuf)) {
		probe_stat_inc(&stats, PROBE_SOCK_STAT_READ_FAULT);
		return 0;
	}
	return n;
}

/* Enough to tell a request start or a status line from anything else. */
#define SOCK_PEEK	16

#include "lib/http.bpf.h"
#include "lib/pgsql.bpf.h"
#include "lib/redis.bpf.h"
#include "lib/mysql.bpf.h"

/* fd -> socket -> sock, from the current task's files table. */
static __always_inline int sock_resolve(int fd, struct probe_conn *c)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fds, *file = NULL;
	struct fdtable *fdt;
	struct socket *sock;
	struct sock *sk;
	__u16 family;
	umode_t mode;

	if (fd < 0)
		return -1;
	fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return -1;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return -1;
	mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return -1;
	sock = BPF_CORE_READ(file, private_data);
	if (!sock || BPF_CORE_READ(sock, type) != SOCK_STREAM)
		return -1;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return -1;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	c->family = family;
	if (family == AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)c->laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)c->raddr, sk, __sk_common.skc_daddr);
	} else if (family == AF_INET6) {
		BPF_CORE_READ_INTO((struct in6_addr *)c->laddr, sk,
				   __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO((struct in6_addr *)c->raddr, sk, __sk_common.skc_v6_daddr);
	} else {
		return -1;
	}
	c->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	c->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	c->sk = (__u64)sk;
	c->flags |= PROBE_CONN_F_SOCKET;
	return 0;
}

/* The state of (tgid, fd), created on first sight. */
static __always_inline struct probe_conn *conn_get(__u64 key, int fd)
{
	struct probe_conn *c = bpf_map_lookup_elem(&conns, &key);
	struct probe_conn n = {};

	if (c)
		return c;
	n.proto = sock_resolve(fd, &n) ? PROBE_PROTO_NONE : PROBE_PROTO_UNKNOWN;
	/* -EEXIST from a racing thread is fine: the lookup finds its entry */
	if (!bpf_map_update_elem(&conns, &key, &n, BPF_NOEXIST)) {
		probe_stat_inc(&stats, PROBE_SOCK_STAT_FD_NEW);
		if (n.sk)
			bpf_map_update_elem(&socks, &n.sk, &key, BPF_ANY);
	}
	return bpf_map_lookup_elem(&conns, &key);
}

/* A new connection takes this fd number, or the old one is closed. */
static __always_inline void conn_forget(__u64 key)
{
	http_forget(key);
	if (!bpf_map_delete_elem(&conns, &key))
		probe_stat_inc(&stats, PROBE_SOCK_STAT_FD_DEL);
}

/*
 * Databases, client side: the first bytes a client writes (a PostgreSQL
 * startup packet or query, a RESP command). The server side of the same
 * protocols is not timed (its socket is skipped). Bytes written to a
 * known database port that match neither are unparsed. Returns 1 when
 * the socket is settled.
 */
static __always_inline int sock_classify_db(struct probe_conn *c, __u64 key,
					    struct sock_buf *sb, __u32 n, int in)
{
	__u8 kind;

	/* mid-session (opened before the probe, or its state evicted): a message */
	if (pg_detect(sb->b, n) || (pg_detect_msg(sb->b, n) &&
				    db_port_kind(in ? c->lport : c->rport) == PROBE_DB_K_PGSQL)) {
		kind = PROBE_DB_K_PGSQL;
		c->proto = PROBE_PROTO_PGSQL;
	} else if (redis_detect(sb->b, n)) {
		kind = PROBE_DB_K_REDIS;
		c->proto = PROBE_PROTO_REDIS;
	} else if (mysql_detect(sb->b, n)) {
		/* the server's greeting: the side that reads it is the client */
		if (!in) {
			c->proto = PROBE_PROTO_NONE;
			return 1;
		}
		in = 0;
		kind = PROBE_DB_K_MYSQL;
		c->proto = PROBE_PROTO_MYSQL;
	} else {
		if (!in && db_port_kind(c->rport)) {
			probe_stat_inc(&stats, PROBE_SOCK_STAT_DB_UNPARSED);
			c->proto = PROBE_PROTO_NONE;
			return 1;
		}
		if (in && db_port_kind(c->lport)) {
			/* a database server reading something else */
			probe_stat_inc(&stats, PROBE_SOCK_STAT_DB_UNPARSED);
			c->proto = PROBE_PROTO_NONE;
			return 1;
		}
		return 0;
	}
	if (in) {
		/* the server reading its client: not timed here */
		c->proto = PROBE_PROTO_NONE;
		return 1;
	}
	c->role = PROBE_ROLE_CLIENT;
	db_learn_port(c->rport, kind);
	if (!db_conn_new(key, c))
		c->proto = PROBE_PROTO_NONE;
	return 1;
}

/* First payload(s) of a stream socket: which protocol is it? */
static __always_inline void sock_classify(struct probe_conn *c, __u64 key,
					  struct sock_buf *sb, __u32 n, int in)
{
	int kind = http_detect(sb->b, n);

	if (kind) {
		c->proto = PROBE_PROTO_HTTP;
		c->role = (kind == HTTP_KIND_REQUEST) == in ? PROBE_ROLE_SERVER :
							      PROBE_ROLE_CLIENT;
		return;
	}
	/* New protocols: their detectors go here. */
	if (sock_classify_db(c, key, sb, n, in))
		return;

	/* TLS records (handshake 0x16, alert 0x15, data 0x17): opaque here */
	if (n >= 3 && sb->b[0] >= 0x15 && sb->b[0] <= 0x17 && sb->b[1] == 0x03) {
		c->proto = PROBE_PROTO_NONE;
		return;
	}
	if (in && http_port_known(c->lport)) {
		/* sent to a port that serves HTTP, and not HTTP: garbage */
		http_garbage(c, key);
		return;
	}
	if (++c->misses >= PROBE_SOCK_MAX_MISSES) {
		c->proto = PROBE_PROTO_NONE;
		probe_stat_inc(&stats, PROBE_SOCK_STAT_NOT_PARSED);
	}
}

/* A read or write on a socket: classify it once, then its protocol's turn. */
static __always_inline void sock_data(struct probe_conn *c, __u64 key, const struct sock_io *io)
{
	struct sock_buf *sb = sock_buf_get();
	__u32 n;

	if (!sb)
		return;
	if (c->proto == PROBE_PROTO_UNKNOWN) {
		n = sock_copy(sb, io, SOCK_PEEK);
		if (!n)
			return;
		sock_classify(c, key, sb, n, io->in);
	}
	switch (c->proto) {
	case PROBE_PROTO_HTTP: {
		struct probe_http_conn *h = http_conn_get(key, c);

		if (h)
			http_data(h, key, sb, io);
		break;
	}
	/* New protocols: a case here calling their handler. */
	case PROBE_PROTO_PGSQL:
	case PROBE_PROTO_REDIS:
	case PROBE_PROTO_MYSQL: {
		struct probe_db_conn *d = db_conn_get(key, c);

		if (!d)
			break;
		if (c->proto == PROBE_PROTO_PGSQL)
			pg_data(d, key, sb, io);
		else if (c->proto == PROBE_PROTO_REDIS)
			redis_data(d, key, sb, io);
		else
			mysql_data(d, key, sb, io);
		break;
	}
	default:
		break;
	}
}

/*
 * The hot path first: a known HTTP connection is found with one lookup in
 * http_conns (its state carries the socket's identity); everything else
 * goes through conns.
 */
static __always_inline void sock_dispatch(struct probe_http_conn *h, struct probe_conn *c,
					  __u64 key, const struct sock_io *io)
{
	struct sock_buf *sb;

	if (!h) {
		if (c)
			sock_data(c, key, io);
		return;
	}
	sb = sock_buf_get();
	if (sb)
		http_data(h, key, sb, io);
}

/* The first iovec of an array in user memory. */
static __always_inline int first_iov(const struct iovec *uiov, const void **base, __u64 *len)
{
	struct iovec iov;

	if (bpf_probe_read_user(&iov, sizeof(iov), uiov))
		return -1;
	*base = iov.iov_base;
	*len = iov.iov_len;
	return 0;
}

/* The first iovec of a struct user_msghdr in user memory. */
static __always_inline int msg_iov(const struct user_msghdr *umsg, const void **base,
				   __u64 *len, __u64 *iovlen)
{
	struct user_msghdr msg;

	if (bpf_probe_read_user(&msg, sizeof(msg), umsg))
		return -1;
	*iovlen = msg.msg_iovlen;
	if (!msg.msg_iovlen)
		return -1;
	return first_iov(msg.msg_iov, base, len);
}

enum { IO_PLAIN, IO_VEC, IO_MSG, IO_FROM };

/* After read/readv/recvfrom/recvmsg returned ret > 0 bytes. */
static __always_inline int on_read(long ret, int kind)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct probe_http_conn *h;
	struct probe_conn *c = NULL;
	const void *base = NULL;
	struct sock_io io;
	struct pt_regs *regs;
	__u64 len = 0, iovlen = 1, key;
	int fd;

	if (ret <= 0 || !probe_wanted(tgid))
		return 0;
	/* The arguments, from the user registers saved at syscall entry. */
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	fd = (int)PT_REGS_PARM1_CORE_SYSCALL(regs);
	key = PROBE_SOCK_KEY(tgid, fd);
	h = bpf_map_lookup_elem(&http_conns, &key);
	if (!h) {
		c = conn_get(key, fd);
		if (!c || c->proto == PROBE_PROTO_NONE)
			return 0;
	}
	switch (kind) {
	case IO_FROM:
		/* a peek is read again later: count it then */
		if (PT_REGS_PARM4_CORE_SYSCALL(regs) & MSG_PEEK)
			return 0;
		/* fall through */
	case IO_PLAIN:
		base = (const void *)PT_REGS_PARM2_CORE_SYSCALL(regs);
		len = ret;
		break;
	case IO_VEC:
		if (first_iov((const struct iovec *)PT_REGS_PARM2_CORE_SYSCALL(regs), &base, &len))
			goto fault;
		break;
	case IO_MSG:
		if (PT_REGS_PARM3_CORE_SYSCALL(regs) & MSG_PEEK)
			return 0;
		if (msg_iov((const struct user_msghdr *)PT_REGS_PARM2_CORE_SYSCALL(regs), &base,
			    &len, &iovlen))
			goto fault;
		break;
	}
	if (len > (__u64)ret)
		len = ret;
	io.ubuf = base;
	io.ulen = len;
	io.total = ret;
	io.fd = fd;
	io.in = 1;
	sock_dispatch(h, c, key, &io);
	return 0;
fault:
	probe_stat_inc(&stats, PROBE_SOCK_STAT_READ_FAULT);
	return 0;
}

/* Before write/writev/sendto/sendmsg: the buffer holds what is sent. */
static __always_inline int on_write(struct trace_event_raw_sys_enter *ctx, int kind)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	int fd = (int)ctx->args[0];
	struct probe_http_conn *h;
	struct probe_conn *c = NULL;
	const void *base = NULL;
	struct sock_io io;
	__u64 len = 0, iovlen = 1, key;

	if (!probe_wanted(tgid))
		return 0;
	key = PROBE_SOCK_KEY(tgid, fd);
	h = bpf_map_lookup_elem(&http_conns, &key);
	if (!h) {
		c = conn_get(key, fd);
		if (!c || c->proto == PROBE_PROTO_NONE)
			return 0;
	}
	switch (kind) {
	case IO_PLAIN:
		base = (const void *)ctx->args[1];
		len = ctx->args[2];
		break;
	case IO_VEC:
		iovlen = ctx->args[2];
		if (!iovlen || first_iov((const struct iovec *)ctx->args[1], &base, &len))
			goto fault;
		break;
	case IO_MSG:
		if (msg_iov((const struct user_msghdr *)ctx->args[1], &base, &len, &iovlen))
			goto fault;
		break;
	}
	io.ubuf = base;
	io.ulen = len;
	/* more iovecs: the payload goes on past the first */
	io.total = iovlen > 1 ? len + 1 : len;
	io.fd = fd;
	io.in = 0;
	sock_dispatch(h, c, key, &io);
	return 0;
fault:
	probe_stat_inc(&stats, PROBE_SOCK_STAT_READ_FAULT);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_read")
int sys_exit_read(struct trace_event_raw_sys_exit *ctx)
{
	return on_read(ctx->ret, IO_PLAIN);
}

SEC("tracepoint/syscalls/sys_exit_readv")
int sys_exit_readv(struct trace_event_raw_sys_exit *ctx)
{
	return on_read(ctx->ret, IO_VEC);
}

SEC("tracepoint/syscalls/sys_exit_recvfrom")
int sys_exit_recvfrom(struct trace_event_raw_sys_exit *ctx)
{
	return on_read(ctx->ret, IO_FROM);
}

SEC("tracepoint/syscalls/sys_exit_recvmsg")
int sys_exit_recvmsg(struct trace_event_raw_sys_exit *ctx)
{
	return on_read(ctx->ret, IO_MSG);
}

SEC("tracepoint/syscalls/sys_enter_write")
int sys_enter_write(struct trace_event_raw_sys_enter *ctx)
{
	return on_write(ctx, IO_PLAIN);
}

SEC("tracepoint/syscalls/sys_enter_writev")
int sys_enter_writev(struct trace_event_raw_sys_enter *ctx)
{
	return on_write(ctx, IO_VEC);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int sys_enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	return on_write(ctx, IO_PLAIN);
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int sys_enter_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	return on_write(ctx, IO_MSG);
}

/*
 * A followed TCP socket is closing: its fd is closed or being shut down
 * (FIN_WAIT1 from close() or shutdown(), LAST_ACK from close() after the
 * peer's FIN) or it is gone (CLOSE: a reset, or the end). Runs in any
 * context (softirq for a peer's reset), so the owner comes from the socks
 * map, and the state is forgotten only if its fd still holds this socket.
 */
SEC("tracepoint/sock/inet_sock_set_state")
int inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 sk = (__u64)ctx->skaddr, *key, k;
	struct probe_conn *c;

	if (ctx->protocol != IPPROTO_TCP ||
	    (ctx->newstate != TCP_FIN_WAIT1 && ctx->newstate != TCP_LAST_ACK &&
	     ctx->newstate != TCP_CLOSE))
		return 0;
	key = bpf_map_lookup_elem(&socks, &sk);
	if (!key)
		return 0;
	k = *key;
	bpf_map_delete_elem(&socks, &sk);
	c = bpf_map_lookup_elem(&conns, &k);
	if (c && c->sk == sk) {
		if (c->proto >= PROBE_PROTO_PGSQL && c->proto <= PROBE_PROTO_MYSQL)
			db_forget(k);
		conn_forget(k);
	}
	return 0;
}

static __always_inline int on_new_conn(long fd)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (fd < 0 || !probe_wanted(tgid))
		return 0;
	conn_forget(PROBE_SOCK_KEY(tgid, fd));
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int sys_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return on_new_conn(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int sys_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return on_new_conn(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_connect")
int sys_enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	return on_new_conn((int)ctx->args[0]);
}
