/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Socket capture: application protocols read from the first bytes of each
 * read and write on a stream socket, from syscall tracepoints only. This
 * file holds the hooks; the shared handler and the protocol parsers are in
 * bpf/sockets/ (capture.bpf.h states their interface).
 *
 * Hooks, and why only these: a specific syscalls:* tracepoint costs almost
 * nothing on the syscalls it does not match, while raw_syscalls would cost
 * every syscall on the host ~150 ns (bench/COSTS.md). Under --pid the
 * syscalls signal hooks raw_syscalls anyway, and there the same work runs
 * from two tp_btf programs on raw_syscalls (sock_enter_btf, sock_exit_btf,
 * x86-64), which spares the probe's exit eleven perf trace events. Each
 * hook is single:
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
 *     what is timed (sockets/http.bpf.h).
 *
 * Two programs serve the eight read and write tracepoints, sock_read and
 * sock_write; the loader attaches each to its four with a cookie saying
 * which syscall it is (enum probe_sock_hook). The verifier then checks the
 * shared handler twice, not eight times, and each check is cheap because
 * the handler and the parsers are global functions (sockets/handler.bpf.h).
 *
 * Per (tgid, fd), `conns` remembers what the fd is (an HTTP connection's
 * state in http_conns also carries a copy, and is looked up first). Unknown fds are
 * resolved once through the task's files table (fd -> file -> socket ->
 * sock: family, ports, addresses), which also covers sockets that existed
 * before the probe started; anything not a TCP socket, or a TCP socket
 * whose payloads match no protocol, is remembered as PROBE_PROTO_NONE so
 * its later calls cost one lookup.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include "lib/common.bpf.h"
#include "probe/dns.h"
#include "sockets/handler.bpf.h"

#define AF_INET		2
#define AF_INET6	10
#define SOCK_STREAM	1
#define SOCK_DGRAM	2
#define S_IFMT		00170000
#define S_IFSOCK	0140000
#define MSG_PEEK	2
#define IPPROTO_TCP	6
#define IPPROTO_UDP	17

/* struct sock -> the (tgid, fd) key it is followed under, for its close. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PROBE_SOCK_MAX_FDS);
	__type(key, __u64);
	__type(value, __u64);
} socks SEC(".maps");

/*
 * fd -> socket -> sock, from the current task's files table: 0 for a TCP
 * socket, 1 for a UDP socket connected to port 53 (dns.h), -1 otherwise.
 */
static __always_inline int sock_resolve(int fd, struct probe_conn *c)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fds, *file = NULL;
	struct fdtable *fdt;
	struct socket *sock;
	struct sock *sk;
	__u16 family, proto;
	umode_t mode;
	short type;

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
	if (!sock)
		return -1;
	type = BPF_CORE_READ(sock, type);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return -1;
	proto = BPF_CORE_READ(sk, sk_protocol);
	if (!(type == SOCK_STREAM && proto == IPPROTO_TCP) &&
	    !(type == SOCK_DGRAM && proto == IPPROTO_UDP))
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
	if (type == SOCK_DGRAM)
		return c->rport == PROBE_DNS_PORT ? 1 : -1;
	/* TCP only: what the TLS tie (tls_syscall) looks for */
	c->flags |= PROBE_CONN_F_SOCKET;
	return 0;
}

/*
 * First sight of (tgid, fd): what it is, into `conns`. Global, so its
 * stack frame and paths stay out of every hook's. Returns 0.
 */
__noinline int conn_new(__u64 key, int fd)
{
	struct probe_conn n = {};
	int r = sock_resolve(fd, &n);

	n.proto = r == 0 ? PROBE_PROTO_UNKNOWN : r == 1 ? PROBE_PROTO_DNS : PROBE_PROTO_NONE;
	/* -EEXIST from a racing thread is fine: the lookup finds its entry */
	if (!bpf_map_update_elem(&conns, &key, &n, BPF_NOEXIST)) {
		probe_stat_inc(&stats, PROBE_SOCK_STAT_FD_NEW);
		if (n.sk && r == 0)
			bpf_map_update_elem(&socks, &n.sk, &key, BPF_ANY);
	}
	return 0;
}

/* The state of (tgid, fd), created on first sight. */
static __always_inline struct probe_conn *conn_get(__u64 key, int fd)
{
	struct probe_conn *c = bpf_map_lookup_elem(&conns, &key);

	if (c)
		return c;
	conn_new(key, fd);
	return bpf_map_lookup_elem(&conns, &key);
}

/* A new connection takes this fd number, or the old one is closed. */
static __always_inline void conn_forget(__u64 key)
{
	http_forget(key);
	if (!bpf_map_delete_elem(&conns, &key))
		probe_stat_inc(&stats, PROBE_SOCK_STAT_FD_DEL);
}

/* TLS plaintext from libssl uprobes, into the same handler */
#include "sockets/tls.bpf.h"
/* DNS answers: names for the addresses processes then connect to */
#include "sockets/dns.bpf.h"

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
	/* msg_iov and msg_iovlen only: a smaller copy and stack slot than the whole header */
	struct {
		struct iovec *iov;
		__u64 iovlen;
	} m;

	if (bpf_probe_read_user(&m, sizeof(m), &umsg->msg_iov))
		return -1;
	*iovlen = m.iovlen;
	if (!m.iovlen)
		return -1;
	return first_iov(m.iov, base, len);
}

/*
 * A read: sys_exit of read, readv, recvfrom or recvmsg (hook says which),
 * its arguments from the user registers saved at syscall entry, ret its
 * result.
 */
static __always_inline int sock_read_io(__u64 hook, struct pt_regs *regs, long ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 iovlen = 1, len = 0, ubuf;
	struct probe_http_conn *h;
	struct probe_conn *c = NULL;
	const void *base = NULL;
	struct sock_io io;

	if (ret <= 0 || !probe_wanted(tgid))
		return 0;
	io.fd = (int)PT_REGS_PARM1_SYSCALL(regs);
	io.key = PROBE_SOCK_KEY(tgid, io.fd);
	/* what the fd is costs a lookup; its iovec would cost a user read */
	h = bpf_map_lookup_elem(&http_conns, &io.key);
	if (!h) {
		c = conn_get(io.key, io.fd);
		if (!c || c->proto == PROBE_PROTO_NONE)
			return tls_syscall(c, io.fd);
	}
	ubuf = PT_REGS_PARM2_SYSCALL(regs);
	switch (hook) {
	case PROBE_SOCK_HOOK_RECVFROM:
		/* a peek is read again later: count it then */
		if (PT_REGS_PARM4_SYSCALL(regs) & MSG_PEEK)
			return 0;
		/* fall through */
	case PROBE_SOCK_HOOK_READ:
		base = (const void *)ubuf;
		len = (__u64)ret;
		break;
	case PROBE_SOCK_HOOK_READV:
		if (first_iov((const struct iovec *)ubuf, &base, &len))
			goto fault;
		break;
	default:
		if (PT_REGS_PARM3_SYSCALL(regs) & MSG_PEEK)
			return 0;
		if (msg_iov((const struct user_msghdr *)ubuf, &base, &len, &iovlen))
			goto fault;
		break;
	}
	io.ubuf = (__u64)base;
	io.ulen = len > (__u64)ret ? (__u64)ret : len;
	io.total = (__u64)ret;
	io.in = 1;
	if (c && c->proto == PROBE_PROTO_DNS)
		return dns_read(&io, c->sk);
	return sock_handle(&io, h, c);
fault:
	probe_stat_inc(&stats, PROBE_SOCK_STAT_READ_FAULT);
	return 0;
}

/*
 * A write: sys_enter of write, writev, sendto or sendmsg (hook says
 * which), with its first three arguments. The buffer is filled already.
 */
static __always_inline int sock_write_io(__u64 hook, int fd, __u64 a1, __u64 a2)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 iovlen = 1, len = 0;
	struct probe_http_conn *h;
	struct probe_conn *c = NULL;
	const void *base = NULL;
	struct sock_io io;

	if (!probe_wanted(tgid))
		return 0;
	io.fd = fd;
	io.key = PROBE_SOCK_KEY(tgid, io.fd);
	h = bpf_map_lookup_elem(&http_conns, &io.key);
	if (!h) {
		c = conn_get(io.key, io.fd);
		if (!c || c->proto == PROBE_PROTO_NONE)
			return tls_syscall(c, io.fd);
		if (c->proto == PROBE_PROTO_DNS)
			return 0;	/* a query: only answers are read */
	}
	switch (hook) {
	case PROBE_SOCK_HOOK_WRITEV:
		iovlen = a2;
		if (!iovlen || first_iov((const struct iovec *)a1, &base, &len))
			goto fault;
		break;
	case PROBE_SOCK_HOOK_SENDMSG:
		if (msg_iov((const struct user_msghdr *)a1, &base, &len, &iovlen))
			goto fault;
		break;
	default:	/* write, sendto */
		base = (const void *)a1;
		len = a2;
		break;
	}
	io.ubuf = (__u64)base;
	io.ulen = len;
	/* more iovecs: the payload goes on past the first */
	io.total = iovlen > 1 ? len + 1 : len;
	io.in = 0;
	return sock_handle(&io, h, c);
fault:
	probe_stat_inc(&stats, PROBE_SOCK_STAT_READ_FAULT);
	return 0;
}

/*
 * The read hooks: sys_exit of read, readv, recvfrom and recvmsg, one
 * program attached to each with the attach cookie (enum probe_sock_hook)
 * saying which. Its arguments come from the user registers saved at
 * syscall entry. (Reads and writes are two programs because the kernel
 * checks a tracepoint program's furthest context access against each
 * tracepoint's record: sys_exit records end after `ret`.)
 */
SEC("tracepoint")
int sock_read(struct trace_event_raw_sys_exit *ctx)
{
	if (ctx->ret <= 0)
		return 0;	/* most failed reads: no helper call for them */
	return sock_read_io(bpf_get_attach_cookie(ctx),
			    (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf()),
			    ctx->ret);
}

/* The write hooks: sys_enter of write, writev, sendto and sendmsg, the cookie saying which. */
SEC("tracepoint")
int sock_write(struct trace_event_raw_sys_enter *ctx)
{
	return sock_write_io(bpf_get_attach_cookie(ctx), (int)ctx->args[0], ctx->args[1],
			     ctx->args[2]);
}

/*
 * A followed TCP socket is closing: its fd is closed or being shut down
 * (FIN_WAIT1 from close() or shutdown(), LAST_ACK from close() after the
 * peer's FIN) or it is gone (CLOSE: a reset, or the end). Runs in any
 * context (softirq for a peer's reset), so the owner comes from the socks
 * map, and the state is forgotten only if its fd still holds this socket.
 */
static __always_inline int sock_state(__u64 sk, int protocol, int newstate)
{
	__u64 *key, k;
	struct probe_conn *c;

	if (protocol != IPPROTO_TCP ||
	    (newstate != TCP_FIN_WAIT1 && newstate != TCP_LAST_ACK && newstate != TCP_CLOSE))
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

/*
 * The same from tp_btf where the kernel has it (the loader loads one): a
 * classic tracepoint is a perf event, released at exit with two grace
 * periods under the kernel's event_mutex; a raw tracepoint link is not.
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(inet_sock_set_state_btf, const struct sock *sk, int oldstate, int newstate)
{
	return sock_state((__u64)sk, sk->sk_protocol, newstate);
}

SEC("tracepoint/sock/inet_sock_set_state")
int inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	return sock_state((__u64)ctx->skaddr, ctx->protocol, ctx->newstate);
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

/*
 * Under --pid (the loader loads these two instead of every hook above but
 * inet_sock_set_state): raw_syscalls, where the syscalls signal's programs
 * already run on every syscall of the host, so these add one program call
 * each that returns on the number for the syscalls they do not serve, and
 * spare the probe's exit the release of eleven perf trace events (~45 ms
 * each, one after another, under the kernel's event_mutex).
 */
SEC("tp_btf/sys_enter")
int BPF_PROG(sock_enter_btf, struct pt_regs *regs, long id)
{
#ifdef PROBE_SOCK_RAW
	__u64 hook;

	switch (id) {
	case PROBE_NR_WRITE:
		hook = PROBE_SOCK_HOOK_WRITE;
		break;
	case PROBE_NR_WRITEV:
		hook = PROBE_SOCK_HOOK_WRITEV;
		break;
	case PROBE_NR_SENDTO:
		hook = PROBE_SOCK_HOOK_SENDTO;
		break;
	case PROBE_NR_SENDMSG:
		hook = PROBE_SOCK_HOOK_SENDMSG;
		break;
	case PROBE_NR_CONNECT:
		if (regs->cs != PROBE_USER64_CS)
			return 0;
		return on_new_conn((int)PT_REGS_PARM1_SYSCALL(regs));
	default:
		return 0;
	}
	if (regs->cs != PROBE_USER64_CS)
		return 0;	/* an ia32 syscall: other numbers, other registers */
	return sock_write_io(hook, (int)PT_REGS_PARM1_SYSCALL(regs), PT_REGS_PARM2_SYSCALL(regs),
			     PT_REGS_PARM3_SYSCALL(regs));
#else
	return 0;
#endif
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sock_exit_btf, struct pt_regs *regs, long ret)
{
#ifdef PROBE_SOCK_RAW
	__u64 hook;

	switch (regs->orig_ax) {
	case PROBE_NR_READ:
		hook = PROBE_SOCK_HOOK_READ;
		break;
	case PROBE_NR_READV:
		hook = PROBE_SOCK_HOOK_READV;
		break;
	case PROBE_NR_RECVFROM:
		hook = PROBE_SOCK_HOOK_RECVFROM;
		break;
	case PROBE_NR_RECVMSG:
		hook = PROBE_SOCK_HOOK_RECVMSG;
		break;
	case PROBE_NR_ACCEPT:
	case PROBE_NR_ACCEPT4:
		if (regs->cs != PROBE_USER64_CS)
			return 0;
		return on_new_conn(ret);
	default:
		return 0;
	}
	if (ret <= 0 || regs->cs != PROBE_USER64_CS)
		return 0;
	return sock_read_io(hook, regs, ret);
#else
	return 0;
#endif
}
