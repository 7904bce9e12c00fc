/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * MySQL / MariaDB client/server protocol, client side (on sockets/db.bpf.h).
 *
 * Packets are a 3-byte little-endian payload length, a sequence id and the
 * payload. The server speaks first (its greeting, protocol version 10),
 * which is how a client socket is recognised on any port. A command is a
 * packet with sequence id 0 written by the client; its response's first
 * packet (sequence id 1) is an OK, an ERR (0xff: an error) or the start of
 * a result set.
 *
 * What is timed: from the write of COM_QUERY (op: the first SQL keyword),
 * COM_STMT_PREPARE ("PREPARE"), COM_STMT_EXECUTE ("EXECUTE"), COM_INIT_DB
 * ("USE") or COM_PING ("PING") to the read that returns the first packet
 * of its response: the server's time to answer, not the transfer of a
 * long result set. Reads while nothing is in flight (the rest of a result
 * set) are skipped. The protocol has no pipelining: one command at a time.
 */
#ifndef PROBE_MYSQL_BPF_H
#define PROBE_MYSQL_BPF_H

#include "sockets/db.bpf.h"

#define MYSQL_COM_INIT_DB	0x02
#define MYSQL_COM_QUERY		0x03
#define MYSQL_COM_PING		0x0e
#define MYSQL_COM_STMT_PREPARE	0x16
#define MYSQL_COM_STMT_EXECUTE	0x17

/* The server's greeting: seq 0, protocol 10, a version string starting with a digit. */
static __always_inline int mysql_detect(const char *b, __u32 n)
{
	__u32 len;

	if (n < 8 || b[3] != 0 || b[4] != 0x0a || b[5] < '1' || b[5] > '9')
		return 0;
	len = (__u32)(__u8)b[0] | (__u32)(__u8)b[1] << 8 | (__u32)(__u8)b[2] << 16;
	return len >= 20 && len < 1024;
}

static __always_inline void mysql_write(struct probe_db_conn *d, struct sock_buf *sb,
					const struct sock_io *io)
{
	struct probe_db_slot *s;
	__u32 n = sock_copy(sb, io, SOCK_PEEK);
	__u8 cmd;

	/* a command starts a new sequence; other writes are the handshake */
	if (n < 5 || sb->b[3] != 0)
		return;
	cmd = sb->b[4];
	if (cmd != MYSQL_COM_QUERY && cmd != MYSQL_COM_STMT_PREPARE &&
	    cmd != MYSQL_COM_STMT_EXECUTE && cmd != MYSQL_COM_INIT_DB && cmd != MYSQL_COM_PING)
		return;
	s = db_push(d, bpf_ktime_get_ns(), 0);
	if (!s)
		return;
	switch (cmd) {
	case MYSQL_COM_QUERY:
		n = sock_copy(sb, io, 5 + 64);
		if (!db_op_name(5, n, s))
			__builtin_memcpy(s->op, "QUERY", 6);
		break;
	case MYSQL_COM_STMT_PREPARE:
		__builtin_memcpy(s->op, "PREPARE", 8);
		break;
	case MYSQL_COM_STMT_EXECUTE:
		__builtin_memcpy(s->op, "EXECUTE", 8);
		break;
	case MYSQL_COM_INIT_DB:
		__builtin_memcpy(s->op, "USE", 4);
		break;
	default:
		__builtin_memcpy(s->op, "PING", 5);
		break;
	}
}

static __always_inline void mysql_read(struct probe_db_conn *d, __u64 key, struct sock_buf *sb,
				       const struct sock_io *io)
{
	__u32 n;

	if (!d->count)
		return;	/* the rest of a result set */
	n = sock_copy(sb, io, 5);
	if (n < 5)
		return;
	if (sb->b[3] != 1) {
		probe_stat_inc(&stats, PROBE_SOCK_STAT_DB_UNPARSED);
		return;
	}
	db_complete(d, key, io->fd, PROBE_DB_K_MYSQL,
		    (__u8)sb->b[4] == 0xff ? PROBE_DB_F_ERROR : 0, bpf_ktime_get_ns());
}

/* A read or write on a client connection. Global: verified once. */
__noinline int mysql_data(struct probe_db_conn *d, const struct sock_io *io)
{
	struct sock_buf *sb = sock_buf_get();

	if (!d || !io || !sb)
		return 0;
	if (io->in)
		mysql_read(d, io->key, sb, io);
	else
		mysql_write(d, sb, io);
	return 0;
}

#endif
