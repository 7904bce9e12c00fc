/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * TLS plaintext through libssl uprobes (bpf/sockets/tls.bpf.h): what the
 * kernel side keeps per SSL object and per call in flight, the record of a
 * finished (or failed) handshake, and the counters.
 *
 * The plaintext itself never leaves the kernel: it goes through the socket
 * capture's shared handler (sockets/handler.bpf.h) under its own key,
 * PROBE_TLS_KEY(tgid, fd), so that the HTTP or database state of the
 * plaintext stream never mixes with the ciphertext the syscall hooks see on
 * the same fd (which they skip: PROBE_CONN_F_TLS).
 *
 * probe_tls_hs (184 bytes):
 *
 *   0                                                                48
 *   +------------------------- probe_rec_hdr ---------------------------+
 *   +-------------+----+--+--+--+--+-----+-----+----+------------------+
 *   | duration_ns | fd |ro|fa|fl|sl|lport|rport|pad |                  |
 *   +-------------+----+--+--+--+--+-----+-----+----+------------------+
 *   |    laddr[16]    |    raddr[16]    |  sni[64]  |     exe[16]      |
 *   +-------------------------------------------------------------------+
 */
#ifndef PROBE_TLS_H
#define PROBE_TLS_H

#include "record.h"
#include "sockets.h"

#define PROBE_TLS_VERSION	1

enum probe_tls_rec_type {
	PROBE_REC_TLS_HS = PROBE_REC_TLS_BASE,	/* struct probe_tls_hs */
	PROBE_REC_TLS_PROC = PROBE_REC_TLS_BASE + 1,	/* struct probe_tls_proc */
};

/*
 * The plaintext side of a TLS socket is followed under the fd with this bit
 * set (fds stay far below it), beside the ciphertext's plain (tgid, fd).
 */
#define PROBE_TLS_FD_BIT	0x40000000U
#define PROBE_TLS_KEY(tgid, fd)	PROBE_SOCK_KEY(tgid, (__u32)(fd) | PROBE_TLS_FD_BIT)

#define PROBE_TLS_SNI_LEN	64	/* server name kept (RFC 6066 allows 255) */
#define PROBE_TLS_MAX_SSL	16384	/* SSL objects followed at once (LRU) */
#define PROBE_TLS_MAX_CALLS	8192	/* threads lately in an SSL call (LRU; kept between calls) */
/* syscalls on an unclassified TCP socket looked at for an SSL call around them */
#define PROBE_TLS_MAX_CHECKS	8

/*
 * Every TLS probe runs one program (tls_probe); its attach cookie says
 * which call it sits on. Entries and returns of one library are then two
 * uprobe_multi links per process where the kernel has them.
 */
enum probe_tls_site {
	PROBE_TLS_S_WRITE = 1,		/* SSL_write(_ex), gnutls_record_send: entry */
	PROBE_TLS_S_READ,		/* SSL_read, gnutls_record_recv: entry */
	PROBE_TLS_S_READ_EX,		/* SSL_read_ex, ssl_read_internal: entry (length via a pointer) */
	PROBE_TLS_S_READ_RET,		/* any of those reads: return */
	PROBE_TLS_S_HS,			/* SSL_do_handshake, gnutls_handshake: entry */
	PROBE_TLS_S_HS_RET,		/* SSL_do_handshake: return, done at 1 */
	PROBE_TLS_S_HS_RET0,		/* gnutls_handshake: return, done at 0 */
	PROBE_TLS_S_SNI,		/* SSL_ctrl(ssl, cmd, larg, parg) */
	PROBE_TLS_S_SNI_GNUTLS,		/* gnutls_server_name_set(session, type, name, len) */
	PROBE_TLS_S_CONNECT,		/* SSL_set_connect_state: a client */
	PROBE_TLS_S_ACCEPT,		/* SSL_set_accept_state: a server */
	PROBE_TLS_S_FREE,		/* SSL_free, gnutls_deinit */
};

/* probe_tls_hs.flags */
#define PROBE_TLS_HS_F_FAILED	0x01	/* SSL_free before the handshake completed */
#define PROBE_TLS_HS_F_NO_FD	0x02	/* its socket was not seen: no addresses */

struct probe_tls_hs {
	struct probe_rec_hdr hdr;
	__u64 duration_ns;	/* first SSL_do_handshake entry -> the return of 1 (or SSL_free) */
	__s32 fd;
	__u8 role;		/* enum probe_role: client (connect state or SNI set) or server */
	__u8 family;		/* AF_INET, AF_INET6, 0 with PROBE_TLS_HS_F_NO_FD */
	__u8 flags;		/* PROBE_TLS_HS_F_* */
	__u8 sni_len;
	__u16 lport;		/* host byte order */
	__u16 rport;
	__u32 pad;
	__u8 laddr[16];		/* IPv4: first 4 bytes, network order */
	__u8 raddr[16];
	char sni[PROBE_TLS_SNI_LEN];	/* server name the client asked for, NUL-padded */
	char exe[PROBE_COMM_LEN];
};
PROBE_ASSERT_SIZE(struct probe_tls_hs, 184);

/*
 * A followed process (--pid) that is new: forked (hdr.pid the parent) or
 * exec'd (hdr.pid itself). Its libssl is looked for at once and again as
 * its loader runs, instead of at the next periodic rescan.
 */
enum probe_tls_proc_how { PROBE_TLS_PROC_FORK = 1, PROBE_TLS_PROC_EXEC = 2 };

struct probe_tls_proc {
	struct probe_rec_hdr hdr;
	__u32 pid;		/* the new process */
	__u32 how;		/* enum probe_tls_proc_how */
};
PROBE_ASSERT_SIZE(struct probe_tls_proc, 56);

/* One SSL object of one process. */
struct probe_tls_ssl_key {
	__u64 ssl;		/* the SSL pointer in that process */
	__u32 tgid;
	__u32 pad;
};

struct probe_tls_ssl {
	__s32 fd;		/* -1 until a syscall inside one of its calls shows it */
	__u8 role;		/* enum probe_role, PROBE_ROLE_NONE until known */
	__u8 hs_done;
	__u8 sni_len;
	__u8 pad;
	__u64 hs_start;		/* first SSL_do_handshake entry, 0: none yet */
	__u64 sk;		/* its struct sock: a late SSL_free must not end a new stream on the fd */
	char sni[PROBE_TLS_SNI_LEN];
};

/*
 * A thread inside SSL_read(_ex), SSL_do_handshake, or a write whose fd is
 * unknown; NONE: in none of them (the thread's entry is kept for its next
 * call).
 */
enum probe_tls_call_kind {
	PROBE_TLS_CALL_NONE,
	PROBE_TLS_CALL_READ,
	PROBE_TLS_CALL_HS,
	PROBE_TLS_CALL_WRITE,
};

struct probe_tls_call {
	__u64 ssl;
	__u64 buf;		/* SSL_read: the caller's buffer */
	__u64 readbytes;	/* SSL_read_ex: where the length goes; 0 for SSL_read */
	__u32 kind;		/* enum probe_tls_call_kind */
	__u32 pad;
};

/* Per-CPU counters of the TLS uprobes (their own array: tls_stats). */
enum probe_tls_stat {
	PROBE_TLS_STAT_PLAIN_READS,	/* plaintext reads handed to the capture */
	PROBE_TLS_STAT_PLAIN_WRITES,	/* plaintext writes handed to the capture */
	PROBE_TLS_STAT_NO_FD,		/* lost: plaintext of an SSL whose socket is unknown yet */
	PROBE_TLS_STAT_FD_LEARNED,	/* SSL objects tied to their socket */
	PROBE_TLS_STAT_HANDSHAKES,	/* handshake records sent */
	PROBE_TLS_STAT_RB_DROP,		/* lost: ring buffer full */
	PROBE_TLS_STAT_SSL_NEW,		/* SSL objects followed */
	PROBE_TLS_STAT_SSL_FREE,	/* SSL_free of a followed object */
	PROBE_TLS_STAT_MAX,
};

#endif
