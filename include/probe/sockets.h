/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Socket capture (bpf/sockets.bpf.c, bpf/sockets/): the state it keeps per
 * (process, fd) and its counters. Protocol parsers (bpf/sockets/) sit on
 * top of it; each
 * protocol's records and in-flight state live in its own header (http.h).
 */
#ifndef PROBE_SOCKETS_H
#define PROBE_SOCKETS_H

#include "types.h"

/* Maps keyed by (tgid << 32 | fd). */
#define PROBE_SOCK_KEY(tgid, fd)	((__u64)(tgid) << 32 | (__u32)(fd))

/*
 * (process, fd) pairs remembered: sockets being followed, and fds found not
 * worth a look (files, pipes, UDP, TLS...), so later calls on them cost one
 * lookup. LRU: an evicted entry is resolved again on its next call.
 */
#define PROBE_SOCK_MAX_FDS	65536

/*
 * Bytes of one read or write the kernel looks at. Pipelined messages, the
 * Host header and Content-Length are only found within this window.
 */
#define PROBE_SOCK_SCAN		512

/* All CPUs' ring buffers together (per CPU at least 256 KiB). */
#define PROBE_SOCK_RINGBUF_BYTES	(8U << 20)

/* Payloads that matched no protocol before a socket is given up on. */
#define PROBE_SOCK_MAX_MISSES	4

enum probe_proto {
	PROBE_PROTO_UNKNOWN,	/* a stream socket, no payload classified yet */
	PROBE_PROTO_NONE,	/* nothing we parse (not a socket, TLS, ...): skipped */
	PROBE_PROTO_HTTP,
	PROBE_PROTO_PGSQL,	/* client side of PostgreSQL (db.h) */
	PROBE_PROTO_REDIS,	/* client side of Redis RESP (db.h) */
	PROBE_PROTO_MYSQL,	/* client side of MySQL / MariaDB (db.h) */
	PROBE_PROTO_DNS,	/* a UDP socket connected to port 53: answers read (dns.h) */
};

/*
 * The read and write tracepoints the programs sock_read and sock_write
 * serve: the loader attaches them with this value as the attach cookie.
 * Reads first.
 */
enum probe_sock_hook {
	PROBE_SOCK_HOOK_READ,		/* syscalls/sys_exit_read */
	PROBE_SOCK_HOOK_READV,		/* syscalls/sys_exit_readv */
	PROBE_SOCK_HOOK_RECVFROM,	/* syscalls/sys_exit_recvfrom */
	PROBE_SOCK_HOOK_RECVMSG,	/* syscalls/sys_exit_recvmsg */
	PROBE_SOCK_HOOK_WRITE,		/* syscalls/sys_enter_write */
	PROBE_SOCK_HOOK_WRITEV,		/* syscalls/sys_enter_writev */
	PROBE_SOCK_HOOK_SENDTO,		/* syscalls/sys_enter_sendto */
	PROBE_SOCK_HOOK_SENDMSG,	/* syscalls/sys_enter_sendmsg */
	PROBE_SOCK_HOOK_MAX,
};

/*
 * Under --pid the syscalls signal hooks raw_syscalls already, so every
 * syscall on the host runs a program anyway; there the capture's hooks
 * are two tp_btf programs on raw_syscalls too (sock_enter_btf,
 * sock_exit_btf), which pick their syscalls by number: x86-64's, so only
 * there. Elsewhere, and host-wide, the syscalls:* tracepoints above.
 */
#if defined(__TARGET_ARCH_x86) || defined(__x86_64__)
#define PROBE_SOCK_RAW		1
#define PROBE_NR_READ		0
#define PROBE_NR_WRITE		1
#define PROBE_NR_READV		19
#define PROBE_NR_WRITEV		20
#define PROBE_NR_CONNECT	42
#define PROBE_NR_ACCEPT		43
#define PROBE_NR_SENDTO		44
#define PROBE_NR_RECVFROM	45
#define PROBE_NR_SENDMSG	46
#define PROBE_NR_RECVMSG	47
#define PROBE_NR_ACCEPT4	288
#define PROBE_USER64_CS		0x33	/* a 64-bit task's syscall (not the ia32 table) */
#endif

enum probe_role {
	PROBE_ROLE_NONE,
	PROBE_ROLE_SERVER,	/* reads requests, writes responses */
	PROBE_ROLE_CLIENT,	/* writes requests, reads responses */
};

/* probe_conn.flags */
#define PROBE_CONN_F_SOCKET	0x01	/* family, ports and addresses are filled in */
#define PROBE_CONN_F_TLS	0x02	/* ciphertext of a TLS socket: its plaintext comes from libssl (tls.h) */

/*
 * What one (process, fd) is. Small on purpose: every fd seen gets one.
 * TCP sockets are followed; anything else (files, pipes, UDP, Unix
 * sockets) is PROBE_PROTO_NONE from the start.
 */
struct probe_conn {
	__u8 proto;		/* enum probe_proto */
	__u8 role;		/* enum probe_role */
	__u8 family;		/* AF_INET, AF_INET6 */
	__u8 flags;		/* PROBE_CONN_F_* */
	__u8 misses;		/* payloads that matched no protocol */
	__u8 tls_checks;	/* syscalls seen outside an SSL call (tls.h) */
	__u16 lport;		/* host byte order */
	__u16 rport;
	__u16 pad2[3];
	__u8 laddr[16];		/* IPv4: first 4 bytes, network order */
	__u8 raddr[16];		/* the peer */
	__u64 sk;		/* the struct sock, to tell its close from a reuse of the fd */
};
PROBE_ASSERT_SIZE(struct probe_conn, 56);

/* Per-CPU counters of the socket program (index into its stats array). */
enum probe_sock_stat {
	PROBE_SOCK_STAT_FD_NEW,		/* (process, fd) entries created */
	PROBE_SOCK_STAT_FD_DEL,		/* removed on TCP close, accept or connect */
	PROBE_SOCK_STAT_READ_FAULT,	/* lost: a user buffer could not be read */
	PROBE_SOCK_STAT_NOT_PARSED,	/* stream sockets given up on: no known protocol */
	/* HTTP */
	PROBE_SOCK_STAT_HTTP_RECORDS,	/* requests sent to userspace */
	PROBE_SOCK_STAT_HTTP_RB_DROP,	/* lost: ring buffer full */
	PROBE_SOCK_STAT_HTTP_FIFO_FULL,	/* lost: more requests in flight than PROBE_HTTP_FIFO */
	PROBE_SOCK_STAT_HTTP_ORPHAN,	/* lost: a response whose request was not seen */
	PROBE_SOCK_STAT_HTTP_UNPARSED,	/* malformed start line, or not HTTP on an HTTP port */
	PROBE_SOCK_STAT_HTTP_UNANSWERED, /* requests in flight when their connection closed */
	PROBE_SOCK_STAT_HTTP_NEW,	/* HTTP connection states created */
	PROBE_SOCK_STAT_HTTP_DEL,	/* HTTP connection states removed by the kernel side */
	/* databases (db.h) */
	PROBE_SOCK_STAT_DB_RECORDS,	/* queries sent to userspace */
	PROBE_SOCK_STAT_DB_RB_DROP,	/* lost: ring buffer full */
	PROBE_SOCK_STAT_DB_FIFO_FULL,	/* lost: more queries in flight than PROBE_DB_FIFO */
	PROBE_SOCK_STAT_DB_UNPARSED,	/* not the protocol of a database port, or bad framing */
	PROBE_SOCK_STAT_DB_STATE_DROP,	/* lost: no room for a connection's state */
	PROBE_SOCK_STAT_DNS_RECORDS,	/* DNS answers sent to userspace */
	PROBE_SOCK_STAT_DNS_RB_DROP,	/* lost: ring buffer full */
	PROBE_SOCK_STAT_MAX,
};

#endif
