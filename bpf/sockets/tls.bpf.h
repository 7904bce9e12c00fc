/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * TLS plaintext from libssl (OpenSSL 1.1 / 3.x ABI) uprobes, handed to the
 * socket capture's shared handler like any syscall payload: HTTP requests
 * and database queries inside TLS are parsed by the same code, verified
 * once per program as everywhere else (sockets/handler.bpf.h).
 *
 * Included by bpf/sockets.bpf.c after its connection helpers (conn_get,
 * conn_forget, sock_resolve): a global function such as sock_handle() can
 * only be called from programs of its own object.
 *
 * Probes (userspace attaches them per library, user/signals/tls.c), for
 * OpenSSL's libssl (for GnuTLS's libgnutls: gnutls_record_send and
 * gnutls_record_recv as SSL_write and SSL_read, gnutls_handshake,
 * gnutls_server_name_set, gnutls_deinit as SSL_free):
 *   SSL_write, SSL_write_ex       entry: the plaintext to send is there
 *   SSL_read, SSL_read_ex         entry (buffer) + return (length)
 *                                 (every probe is one program, tls_probe,
 *                                 the attach cookie saying which call)
 *                                 Where both wrappers of a pair call one
 *                                 internal function whose entry is
 *                                 emulated (ssl_write_internal,
 *                                 ssl_read_internal), it is probed instead,
 *                                 with SSL_write_ex's and SSL_read_ex's
 *                                 semantics (user/signals/tls.c)
 *   SSL_do_handshake              entry + return: handshake time
 *   SSL_ctrl                      entry: SSL_set_tlsext_host_name (SNI)
 *   SSL_set_{connect,accept}_state entry: which side the object is
 *   SSL_free                      entry: forget it (a pending handshake failed)
 *
 * Which socket an SSL object writes to is not read from OpenSSL's private
 * structures (their layout changes between releases): while a thread is
 * inside one of its calls (tls_calls), the first read or write syscall the
 * thread makes on a TCP socket the syscall hooks could not classify (TLS
 * records are such) ties the object to that fd, and marks the fd's
 * ciphertext PROBE_CONN_F_TLS: skipped by the syscall path from then on,
 * so a request is never counted once as ciphertext and once as plaintext.
 * A handshake makes syscalls, so new connections are tied before their
 * first plaintext; an SSL object created before the probe started is tied
 * by its first read or write, whose own plaintext is lost (counted,
 * PROBE_TLS_STAT_NO_FD).
 *
 * The plaintext stream is followed under PROBE_TLS_KEY(tgid, fd) (the fd
 * with a high bit set), so its HTTP state never mixes with the ciphertext's
 * entry under (tgid, fd). It is forgotten on the socket's close (through
 * the socks map, like any followed socket), on SSL_free, and when another
 * SSL object is tied to the same fd.
 *
 * New processes (--pid only; the loader loads these two hooks then): a
 * fork or exec of a followed process sends a record with a wakeup, so that
 * userspace looks for the child's TLS library while it starts, not a
 * second later, when a short-lived client may have made its calls already.
 *
 * Peer naming: a client's SNI, when it set one, replaces the Host header
 * its requests carry in the connection's HTTP state, so the request
 * records name the provider the way the client asked for it.
 */
#ifndef PROBE_SOCKETS_TLS_BPF_H
#define PROBE_SOCKETS_TLS_BPF_H

#include "sockets/handler.bpf.h"
#include "probe/tls.h"

/* SSL_ctrl commands (openssl/ssl.h, openssl/tls1.h) */
#define TLS_CTRL_SET_TLSEXT_HOSTNAME	55
#define TLS_NAMETYPE_HOST_NAME		0
#define TLS_GNUTLS_NAME_DNS		1	/* gnutls/gnutls.h */

/* pid_tgid -> the SSL call the thread is inside. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PROBE_TLS_MAX_CALLS);
	__type(key, __u64);
	__type(value, struct probe_tls_call);
} tls_calls SEC(".maps");

/* (SSL pointer, tgid) -> its socket, side, SNI and handshake start. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PROBE_TLS_MAX_SSL);
	__type(key, struct probe_tls_ssl_key);
	__type(value, struct probe_tls_ssl);
} tls_ssls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PROBE_TLS_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} tls_stats SEC(".maps");

static __always_inline struct probe_tls_ssl *tls_ssl_lookup(__u32 tgid, __u64 ssl)
{
	struct probe_tls_ssl_key k = { .ssl = ssl, .tgid = tgid };

	return bpf_map_lookup_elem(&tls_ssls, &k);
}

/* The state of (tgid, ssl), created (fd unknown) on first sight. */
static __always_inline struct probe_tls_ssl *tls_ssl_get(__u32 tgid, __u64 ssl)
{
	struct probe_tls_ssl_key k = { .ssl = ssl, .tgid = tgid };
	struct probe_tls_ssl *st = bpf_map_lookup_elem(&tls_ssls, &k);
	struct probe_tls_ssl n = { .fd = -1 };

	if (st || !ssl)
		return st;
	if (!bpf_map_update_elem(&tls_ssls, &k, &n, BPF_NOEXIST))
		probe_stat_inc(&tls_stats, PROBE_TLS_STAT_SSL_NEW);
	return bpf_map_lookup_elem(&tls_ssls, &k);
}

/*
 * The plaintext stream under key is over: its HTTP or database state goes.
 * sk: only if it is still that socket's stream (0: whatever it is).
 */
static __always_inline void tls_forget(__u64 key, __u64 sk)
{
	struct probe_conn *c = bpf_map_lookup_elem(&conns, &key);

	if (!c || (sk && c->sk != sk))
		return;
	if (c->proto >= PROBE_PROTO_PGSQL && c->proto <= PROBE_PROTO_MYSQL)
		db_forget(key);
	conn_forget(key);
}

/*
 * The thread enters a call. Its entry stays in the map between calls
 * (kind NONE) and is rewritten in place: an LRU update at each entry and a
 * delete at each return cost tls_probe ~130 ns a call more on average
 * (alternating bpf_stats runs, HTTPS nginx and wrk).
 */
static __always_inline void tls_call_set(__u64 id, __u64 ssl, __u64 buf, __u64 readbytes,
					 __u32 kind)
{
	struct probe_tls_call *p = bpf_map_lookup_elem(&tls_calls, &id);
	struct probe_tls_call t = { .ssl = ssl, .buf = buf, .readbytes = readbytes, .kind = kind };

	if (p) {
		/* only this thread reads or writes its entry */
		p->ssl = ssl;
		p->buf = buf;
		p->readbytes = readbytes;
		p->kind = kind;
		return;
	}
	bpf_map_update_elem(&tls_calls, &id, &t, BPF_ANY);
}

/*
 * Called by the syscall hooks for a read or write on a socket they do not
 * parse (PROBE_PROTO_NONE). Inside an SSL call, this fd is that object's
 * socket: tie them, and mark the fd's ciphertext as TLS. A socket seen
 * PROBE_TLS_MAX_CHECKS times outside any SSL call is not looked at again
 * (a TLS socket's handshake makes syscalls inside SSL calls). Global, so
 * its stack frame and paths stay out of the syscall hooks'. Returns 0.
 */
__noinline int tls_syscall(struct probe_conn *c, int fd)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct probe_tls_call *t;
	struct probe_tls_ssl *st;

	if (!c || !(c->flags & PROBE_CONN_F_SOCKET) || (c->flags & PROBE_CONN_F_TLS) ||
	    c->tls_checks >= PROBE_TLS_MAX_CHECKS)
		return 0;
	t = bpf_map_lookup_elem(&tls_calls, &id);
	if (!t || t->kind == PROBE_TLS_CALL_NONE) {
		c->tls_checks++;
		return 0;
	}
	c->flags |= PROBE_CONN_F_TLS;
	st = tls_ssl_get(tgid, t->ssl);
	/* a write whose fd was unknown has no return probe: its call ends here */
	if (t->kind == PROBE_TLS_CALL_WRITE)
		t->kind = PROBE_TLS_CALL_NONE;
	if (!st || st->fd == fd)
		return 0;
	/* a new object on this fd: whatever the old plaintext stream left is stale */
	tls_forget(PROBE_TLS_KEY(tgid, fd), 0);
	st->fd = fd;
	st->sk = c->sk;
	probe_stat_inc(&tls_stats, PROBE_TLS_STAT_FD_LEARNED);
	return 0;
}

/*
 * A client's SNI names the provider: it replaces the Host header the
 * request just parsed left in the connection's HTTP state.
 */
static __always_inline void tls_name(struct probe_http_conn *h, __u64 key,
				     const struct probe_tls_ssl *st)
{
	__u32 len = st->sni_len;

	if (!h)
		h = bpf_map_lookup_elem(&http_conns, &key);
	if (!h || h->id.role != PROBE_ROLE_CLIENT)
		return;
	if (len > PROBE_HTTP_HOST_LEN)
		len = PROBE_HTTP_HOST_LEN;
	__builtin_memcpy(h->host, st->sni, sizeof(h->host));
	h->host_len = len;
	h->host_flags = 0;
}

/* Plaintext of n bytes at buf, read (in) or about to be written. */
static __always_inline int tls_plain(__u32 tgid, const struct probe_tls_ssl *st, __u64 buf,
				     __u64 n, __u32 in)
{
	struct probe_http_conn *h;
	struct probe_conn *c = NULL;
	struct sock_io io;

	io.fd = st->fd;
	io.key = PROBE_TLS_KEY(tgid, io.fd);
	io.ubuf = buf;
	io.ulen = n;
	io.total = n;
	io.in = in;
	probe_stat_inc(&tls_stats, in ? PROBE_TLS_STAT_PLAIN_READS : PROBE_TLS_STAT_PLAIN_WRITES);
	h = bpf_map_lookup_elem(&http_conns, &io.key);
	if (!h) {
		c = conn_get(io.key, io.fd);
		if (!c || c->proto == PROBE_PROTO_NONE)
			return 0;
	}
	sock_handle(&io, h, c);
	if (!in && st->sni_len)
		tls_name(h, io.key, st);
	return 0;
}

/* SSL_write(ssl, buf, num), SSL_write_ex(ssl, buf, num, &written): the entry. */
static __always_inline int tls_write(void *ssl, const void *buf, int num)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct probe_tls_ssl *st;

	if (num <= 0 || !probe_wanted(tgid))
		return 0;
	st = tls_ssl_lookup(tgid, (__u64)ssl);
	if (!st || st->fd < 0) {
		/* its syscall will show the socket; this payload is lost */
		probe_stat_inc(&tls_stats, PROBE_TLS_STAT_NO_FD);
		tls_call_set(id, (__u64)ssl, 0, 0, PROBE_TLS_CALL_WRITE);
		return 0;
	}
	return tls_plain(tgid, st, (__u64)buf, (__u64)num, 0);
}

/* SSL_read(ssl, buf, num), SSL_read_ex(ssl, buf, num, &readbytes): the entry. */
static __always_inline int tls_read_enter(__u64 ssl, __u64 buf, __u64 readbytes)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (!probe_wanted(id >> 32))
		return 0;
	tls_call_set(id, ssl, buf, readbytes, PROBE_TLS_CALL_READ);
	return 0;
}

/* SSL_read(_ex)'s return: the plaintext is in the buffer its entry saw. */
static __always_inline int tls_read_exit(int ret)
{
	__u64 id = bpf_get_current_pid_tgid(), n = 0;
	__u32 tgid = id >> 32;
	struct probe_tls_call *t = bpf_map_lookup_elem(&tls_calls, &id);
	struct probe_tls_ssl *st;
	__u64 ssl, buf, rb;

	if (!t)
		return 0;
	ssl = t->ssl;
	buf = t->buf;
	rb = t->readbytes;
	if (t->kind != PROBE_TLS_CALL_READ)
		return 0;
	t->kind = PROBE_TLS_CALL_NONE;
	if (ret <= 0)
		return 0;
	if (rb) {
		/*
		 * SSL_read_ex (1) or ssl_read_internal (> 0, what the method
		 * returned): the length is in *readbytes
		 */
		if (bpf_probe_read_user(&n, sizeof(n), (void *)rb))
			return 0;
	} else {
		n = (__u64)ret;
	}
	if (!n)
		return 0;
	st = tls_ssl_lookup(tgid, ssl);
	if (!st || st->fd < 0) {
		probe_stat_inc(&tls_stats, PROBE_TLS_STAT_NO_FD);
		return 0;
	}
	return tls_plain(tgid, st, buf, n, 1);
}

static __always_inline int tls_hs_enter(__u64 ssl)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct probe_tls_ssl *st;

	if (!probe_wanted(id >> 32))
		return 0;
	st = tls_ssl_get(id >> 32, ssl);
	/* non-blocking: called again until it returns done; timed from the first call */
	if (st && !st->hs_start && !st->hs_done)
		st->hs_start = bpf_ktime_get_ns();
	tls_call_set(id, ssl, 0, 0, PROBE_TLS_CALL_HS);
	return 0;
}

/*
 * The end of a handshake (or its failure): one record. Not inlined: the
 * connection and owner it fills on its stack stay out of its two callers'
 * frames (the verifier caps a chain of frames at 512 bytes).
 */
static __noinline void tls_hs_emit(__u32 tgid, const struct probe_tls_ssl *st, __u8 flags,
				   __u64 now)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct probe_conn c = {};
	struct sock_owner o = {};
	struct probe_tls_hs *e;
	void *ring;

	ring = bpf_map_lookup_elem(&http_rings, &cpu);
	if (!ring) {
		probe_stat_inc(&tls_stats, PROBE_TLS_STAT_RB_DROP);
		return;
	}
	e = bpf_ringbuf_reserve(ring, sizeof(*e), 0);
	if (!e) {
		probe_stat_inc(&tls_stats, PROBE_TLS_STAT_RB_DROP);
		return;
	}
	probe_fill_hdr(&e->hdr, PROBE_REC_TLS_HS, PROBE_TLS_VERSION, sizeof(*e));
	e->duration_ns = now > st->hs_start ? now - st->hs_start : 0;
	e->fd = st->fd;
	e->role = st->role ? st->role : (st->sni_len ? PROBE_ROLE_CLIENT : PROBE_ROLE_SERVER);
	if (st->fd < 0 || sock_resolve(st->fd, &c))
		flags |= PROBE_TLS_HS_F_NO_FD;
	e->flags = flags;
	e->family = c.family;
	e->lport = c.lport;
	e->rport = c.rport;
	e->pad = 0;
	__builtin_memcpy(e->laddr, c.laddr, sizeof(e->laddr));
	__builtin_memcpy(e->raddr, c.raddr, sizeof(e->raddr));
	e->sni_len = st->sni_len;
	__builtin_memcpy(e->sni, st->sni, sizeof(e->sni));
	sock_owner(&o);
	__builtin_memcpy(e->exe, o.exe, sizeof(e->exe));
	bpf_ringbuf_submit(e, probe_rb_flags(ring));
	probe_stat_inc(&tls_stats, PROBE_TLS_STAT_HANDSHAKES);
}

/* A handshake call returned ret; done is what it returns once complete. */
static __always_inline int tls_hs_exit(int ret, int done)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct probe_tls_call *t = bpf_map_lookup_elem(&tls_calls, &id);
	struct probe_tls_ssl *st;
	__u64 ssl;

	if (!t || t->kind != PROBE_TLS_CALL_HS)
		return 0;
	ssl = t->ssl;
	t->kind = PROBE_TLS_CALL_NONE;
	if (ret != done)
		return 0;	/* wants more I/O, or failed: SSL_free (gnutls_deinit) tells */
	st = tls_ssl_lookup(id >> 32, ssl);
	if (!st || !st->hs_start || st->hs_done)
		return 0;
	st->hs_done = 1;
	tls_hs_emit(id >> 32, st, 0, bpf_ktime_get_ns());
	return 0;
}

/* The SNI a client sets: up to len bytes at name (which need not end in a NUL). */
static __always_inline int tls_sni(__u64 ssl, const char *name, __u64 len)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct probe_tls_ssl *st;
	long n;

	if (!name || !probe_wanted(tgid))
		return 0;
	st = tls_ssl_get(tgid, ssl);
	if (!st)
		return 0;
	if (len > PROBE_TLS_SNI_LEN - 1)
		len = PROBE_TLS_SNI_LEN - 1;
	__builtin_memset(st->sni, 0, sizeof(st->sni));
	n = bpf_probe_read_user_str(st->sni, len + 1, name);
	st->sni_len = n > 1 ? (__u8)(n - 1) : 0;
	st->role = PROBE_ROLE_CLIENT;
	return 0;
}

static __always_inline int tls_side(__u64 ssl, __u8 role)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct probe_tls_ssl *st;

	if (!probe_wanted(tgid))
		return 0;
	st = tls_ssl_get(tgid, ssl);
	if (st)
		st->role = role;
	return 0;
}

static __always_inline int tls_free(__u64 ssl)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct probe_tls_ssl_key k = { .ssl = ssl, .tgid = tgid };
	struct probe_tls_ssl *st;

	if (!ssl || !probe_wanted(tgid))
		return 0;
	st = bpf_map_lookup_elem(&tls_ssls, &k);
	if (!st)
		return 0;
	/* a handshake that began and never completed: failed */
	if (st->hs_start && !st->hs_done)
		tls_hs_emit(tgid, st, PROBE_TLS_HS_F_FAILED, bpf_ktime_get_ns());
	if (st->fd >= 0)
		tls_forget(PROBE_TLS_KEY(tgid, st->fd), st->sk);
	bpf_map_delete_elem(&tls_ssls, &k);
	probe_stat_inc(&tls_stats, PROBE_TLS_STAT_SSL_FREE);
	return 0;
}

/*
 * The probes that move no plaintext: call stashes, handshakes, SNI, side,
 * free. Not inlined into tls_probe: their stack (an SSL object's initial
 * state, a call record) would sit in its frame, under the chain into the
 * parsers that the verifier caps at 512 bytes (6.1 counted 544). For a
 * return site, a1 is the return value.
 */
static __noinline int tls_control(__u64 cookie, __u64 a1, __u64 a2, __u64 a3, __u64 a4)
{
	switch (cookie) {
	case PROBE_TLS_S_READ:
		return tls_read_enter(a1, a2, 0);
	case PROBE_TLS_S_READ_EX:
		return tls_read_enter(a1, a2, a4);
	case PROBE_TLS_S_HS:
		return tls_hs_enter(a1);
	case PROBE_TLS_S_HS_RET:
		return tls_hs_exit((int)a1, 1);
	case PROBE_TLS_S_HS_RET0:
		return tls_hs_exit((int)a1, 0);
	case PROBE_TLS_S_SNI:
		/* SSL_set_tlsext_host_name is a macro for this SSL_ctrl */
		if ((int)a2 != TLS_CTRL_SET_TLSEXT_HOSTNAME || a3 != TLS_NAMETYPE_HOST_NAME)
			return 0;
		return tls_sni(a1, (const char *)a4, PROBE_TLS_SNI_LEN);
	case PROBE_TLS_S_SNI_GNUTLS:
		if (a2 != TLS_GNUTLS_NAME_DNS)
			return 0;
		return tls_sni(a1, (const char *)a3, a4);
	case PROBE_TLS_S_CONNECT:
		return tls_side(a1, PROBE_ROLE_CLIENT);
	case PROBE_TLS_S_ACCEPT:
		return tls_side(a1, PROBE_ROLE_SERVER);
	case PROBE_TLS_S_FREE:
		return tls_free(a1);
	}
	return 0;
}

/*
 * Every TLS probe, entry or return, the attach cookie saying which call it
 * sits on (enum probe_tls_site). One program: the verifier checks the
 * shared handler once per program that calls it (~0.15 s here), and
 * userspace needs one uprobe_multi link per library and process for the
 * entries and one for the returns, where each perf-event uprobe cost ~0.1 s
 * of the probe's exit (event_mutex and grace periods, one after another).
 */
SEC("uprobe")
int tls_probe(struct pt_regs *ctx)
{
	/* every register read up front: clang may not offset ctx in a branch */
	__u64 a1 = PT_REGS_PARM1(ctx), a2 = PT_REGS_PARM2(ctx), a3 = PT_REGS_PARM3(ctx),
	      a4 = PT_REGS_PARM4(ctx), rc = PT_REGS_RC(ctx);
	__u64 cookie = bpf_get_attach_cookie(ctx);

	switch (cookie) {
	case PROBE_TLS_S_WRITE:
		return tls_write((void *)a1, (const void *)a2, (int)a3);
	case PROBE_TLS_S_READ_RET:
		return tls_read_exit((int)rc);
	case PROBE_TLS_S_HS_RET:
	case PROBE_TLS_S_HS_RET0:
		return tls_control(cookie, rc, 0, 0, 0);
	}
	return tls_control(cookie, a1, a2, a3, a4);
}

/* The new process pid (a fork or exec of a followed one): tell userspace now. */
static __always_inline int tls_proc_new(__u32 pid, __u32 how)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct probe_tls_proc *e;
	void *ring;

	ring = bpf_map_lookup_elem(&http_rings, &cpu);
	e = ring ? bpf_ringbuf_reserve(ring, sizeof(*e), 0) : NULL;
	if (!e) {
		probe_stat_inc(&tls_stats, PROBE_TLS_STAT_RB_DROP);
		return 0;
	}
	probe_fill_hdr(&e->hdr, PROBE_REC_TLS_PROC, PROBE_TLS_VERSION, sizeof(*e));
	e->pid = pid;
	e->how = how;
	/* rare (a process start), and racing the child's first call */
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(tls_fork, struct task_struct *parent, struct task_struct *child)
{
	/* a new process, not a thread; the parent is the one followed */
	if (child->pid != child->tgid || !probe_wanted(parent->tgid))
		return 0;
	return tls_proc_new(child->pid, PROBE_TLS_PROC_FORK);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(tls_exec)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (!probe_wanted(tgid))
		return 0;
	return tls_proc_new(tgid, PROBE_TLS_PROC_EXEC);
}

#endif
