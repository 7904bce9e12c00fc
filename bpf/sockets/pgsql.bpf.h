/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * PostgreSQL wire protocol v3, client side (on sockets/db.bpf.h).
 *
 * Messages are a type byte and a big-endian length that counts itself;
 * the startup packet, SSLRequest and GSSENCRequest have no type byte.
 *
 * What is timed: a simple Query ('Q'), or an extended batch (the first of
 * Parse/Bind/Describe/Execute after the previous Sync, up to its Sync),
 * from the write that sent its first byte to the read that returned its
 * ReadyForQuery ('Z'). An ErrorResponse ('E') before that marks it an
 * error. The operation is the first keyword of the SQL of the Query or
 * Parse; a batch that only Binds and Executes a statement prepared
 * earlier is "EXECUTE".
 *
 * Replies are followed message by message while their headers fall in
 * the window; a reply longer than that (a big result set) loses the
 * framing, and then only its end is looked for: the server flushes after
 * ReadyForQuery, so it is the last 6 bytes of a read ("Z", length 5,
 * status I/T/E). Errors inside a big result are not seen.
 */
#ifndef PROBE_PGSQL_BPF_H
#define PROBE_PGSQL_BPF_H

#include "sockets/db.bpf.h"

#define PG_PROTO_V3		196608U		/* 3.0 */
#define PG_SSL_REQUEST		80877103U
#define PG_GSSENC_REQUEST	80877104U
#define PG_CANCEL_REQUEST	80877102U	/* on a connection of its own; no reply */
#define PG_MSGS			8	/* messages looked at per read or write */

static __always_inline __u32 pg_be32(const char *p)
{
	return (__u32)(__u8)p[0] << 24 | (__u32)(__u8)p[1] << 16 | (__u32)(__u8)p[2] << 8 |
	       (__u32)(__u8)p[3];
}

/* A client's first bytes: a startup packet, SSLRequest, GSSENCRequest or CancelRequest. */
static __always_inline int pg_detect(const char *b, __u32 n)
{
	__u32 len, code;

	if (n < 8)
		return 0;
	len = pg_be32(b);
	code = pg_be32(b + 4);
	if (code == PG_SSL_REQUEST || code == PG_GSSENC_REQUEST)
		return len == 8;
	if (code == PG_CANCEL_REQUEST)
		return len == 16;
	return code == PG_PROTO_V3 && len >= 8 && len < 10000;
}

/* A client message's first bytes, on a connection seen mid-session. */
static __always_inline int pg_detect_msg(const char *b, __u32 n)
{
	__u32 len;

	if (n < 6 || (b[0] != 'Q' && b[0] != 'P' && b[0] != 'B'))
		return 0;
	len = pg_be32(b + 1);
	return len >= 5 && len < (1U << 30);
}

/* The statement name of a Parse at off ends at a NUL: the SQL follows. */
__noinline int pg_parse_sql_off(__u32 off, __u32 n)
{
	struct sock_buf *sb = sock_buf_get();
	__u32 i;

	if (!sb)
		return -1;
	if (n > PROBE_SOCK_SCAN)
		n = PROBE_SOCK_SCAN;
	for (i = 0; i < 64; i++) {
		if (off + i >= n)
			return -1;
		if (!sb->b[DB_OFF(off + i)])
			return (int)(off + i + 1);
	}
	return -1;
}

/* A query or batch from its first message; NULL: FIFO full. */
static __always_inline struct probe_db_slot *pg_batch(struct probe_db_conn *d, __u64 ts)
{
	if (!d->batch) {
		d->batch = 1;
		d->pend.ts = ts;
		d->pend.flags = PROBE_DB_F_EXTENDED;
		__builtin_memset(d->pend.op, 0, sizeof(d->pend.op));
	}
	return &d->pend;
}

/* Messages the client wrote. */
static __always_inline void pg_write(struct probe_db_conn *d, struct sock_buf *sb,
				     const struct sock_io *io)
{
	struct probe_db_slot *s;
	__u32 n = sock_copy(sb, io, PROBE_SOCK_SCAN), off = 0, len, k;
	__u64 ts = 0;
	int q;
	char t;

	for (k = 0; k < PG_MSGS; k++) {
		if (off + 5 > n)
			return;
		t = sb->b[DB_OFF(off)];
		if (t == 0) {
			/* startup, SSLRequest, GSSENCRequest: no type byte */
			len = pg_be32(&sb->b[DB_OFF(off)]);
			if (len < 8) {
				probe_stat_inc(&stats, PROBE_SOCK_STAT_DB_UNPARSED);
				return;
			}
			off += len;
			continue;
		}
		len = pg_be32(&sb->b[DB_OFF(off + 1)]);
		if (len < 4) {
			probe_stat_inc(&stats, PROBE_SOCK_STAT_DB_UNPARSED);
			return;
		}
		if (!ts)
			ts = bpf_ktime_get_ns();
		switch (t) {
		case 'Q':
			s = db_push(d, ts, 0);
			if (s && !db_op_name(off + 5, n, s))
				__builtin_memcpy(s->op, "QUERY", 6);
			break;
		case 'P':
			s = pg_batch(d, ts);
			q = pg_parse_sql_off(off + 5, n);
			if (!s->op[0] && q > 0)
				db_op_name((__u32)q, n, s);
			break;
		case 'B':
		case 'E':
		case 'D':
		case 'C':
			pg_batch(d, ts);
			break;
		case 'S':
			if (d->batch) {
				d->batch = 0;
				s = db_push(d, d->pend.ts, d->pend.flags);
				if (s) {
					if (d->pend.op[0])
						__builtin_memcpy(s->op, d->pend.op, sizeof(s->op));
					else
						__builtin_memcpy(s->op, "EXECUTE", 8);
				}
			}
			break;
		default:
			break;
		}
		off += 1 + len;
	}
}

/* The last 6 bytes of a read: ReadyForQuery? */
static __always_inline int pg_tail_ready(const struct sock_io *io)
{
	char z[6];

	if (io->ulen < 6 || io->ulen != io->total)
		return 0;
	if (bpf_probe_read_user(z, sizeof(z), (const void *)(io->ubuf + io->ulen - 6)))
		return 0;
	return z[0] == 'Z' && !z[1] && !z[2] && !z[3] && z[4] == 5 &&
	       (z[5] == 'I' || z[5] == 'T' || z[5] == 'E');
}

/* Messages the server sent, as the client reads them. */
static __always_inline void pg_read(struct probe_db_conn *d, __u64 key, struct sock_buf *sb,
				    const struct sock_io *io)
{
	__u32 n, off, len, k;
	__u8 rflags = 0;
	__u64 now = 0;
	char t;

	if (d->lost)
		goto tail;
	if (d->skip >= io->total) {
		d->skip -= io->total;
		return;
	}
	off = d->skip;
	d->skip = 0;
	n = sock_copy(sb, io, PROBE_SOCK_SCAN);
	/* the answer to an SSLRequest: one byte, 'N' or 'S' */
	if (io->total == 1 && n == 1 && (sb->b[0] == 'N' || sb->b[0] == 'S'))
		return;
	for (k = 0; k < PG_MSGS; k++) {
		if (off >= io->total)
			break;
		if (off + 5 > n)
			goto lost;	/* a header beyond the window, or split across reads */
		t = sb->b[DB_OFF(off)];
		len = pg_be32(&sb->b[DB_OFF(off + 1)]);
		/* types are letters, and '1'..'3' (Parse/Bind/CloseComplete) */
		if (len < 4 || ((t < 'A' || t > 'z') && (t < '1' || t > '3'))) {
			probe_stat_inc(&stats, PROBE_SOCK_STAT_DB_UNPARSED);
			goto lost;
		}
		if (t == 'E') {
			rflags |= PROBE_DB_F_ERROR;
		} else if (t == 'Z' && d->count) {
			if (!now)
				now = bpf_ktime_get_ns();
			db_complete(d, key, io->fd, PROBE_DB_K_PGSQL, rflags, now);
			rflags = 0;
		}
		off += 1 + len;
	}
	if (off >= io->total) {
		d->skip = off - (__u32)io->total;
		/* an error whose ReadyForQuery comes in a later read */
		if (rflags && d->count)
			db_head(d)->flags |= rflags;
		return;
	}
lost:
	if (rflags && d->count)
		db_head(d)->flags |= rflags;
	d->lost = 1;
tail:
	if (pg_tail_ready(io)) {
		d->lost = 0;
		d->skip = 0;
		if (d->count)
			db_complete(d, key, io->fd, PROBE_DB_K_PGSQL, 0, bpf_ktime_get_ns());
	}
}

/* A read or write on a client connection. Global: verified once. */
__noinline int pg_data(struct probe_db_conn *d, const struct sock_io *io)
{
	struct sock_buf *sb = sock_buf_get();

	if (!d || !io || !sb)
		return 0;
	if (io->in)
		pg_read(d, io->key, sb, io);
	else
		pg_write(d, sb, io);
	return 0;
}

#endif
