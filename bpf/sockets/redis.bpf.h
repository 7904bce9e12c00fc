/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Redis RESP, client side (on sockets/db.bpf.h).
 *
 * A command is an array of bulk strings, "*N\r\n$len\r\nNAME\r\n...": its
 * name is kept (uppercased, at most PROBE_DB_OP_LEN - 1 bytes), never its
 * arguments. Pipelined commands in one write follow each other in the
 * window and each gets a slot in the FIFO.
 *
 * What is timed: from the write that sent the command to the read that
 * returned the first byte of its reply. A reply starting with '-' is an
 * error. For single-key reads (GET, HGET, GETEX, GETDEL) a nil reply
 * ("$-1" or RESP3 "_") is a miss and a bulk string a hit.
 *
 * Several replies in one read are followed while they are simple
 * ('+', '-', ':', '_', bulk strings whose length is known); an array
 * reply ends the walk (its elements are not walked), and a read arriving
 * while nothing is in flight is the rest of an earlier reply.
 */
#ifndef PROBE_REDIS_BPF_H
#define PROBE_REDIS_BPF_H

#include "sockets/db.bpf.h"

#define REDIS_CMDS	PROBE_DB_FIFO	/* commands looked for per write */
#define REDIS_ARGS	8		/* arguments skipped per command to find the next */

/*
 * The decimal number at b[off] ending in "\r\n" (a leading '-' allowed):
 * its value in scratch->val and the offset after "\r\n" in scratch->end.
 * Returns 0, or -1 when it is not one within the window.
 */
__noinline int redis_int(__u32 off, __u32 n)
{
	struct sock_buf *sb = sock_buf_get();
	struct db_scratch *r = db_scratch_get();
	__s64 v = 0;
	__u32 i;
	int neg = 0;
	char c;

	if (!sb || !r)
		return -1;
	if (n > PROBE_SOCK_SCAN)
		n = PROBE_SOCK_SCAN;
	if (off < n && sb->b[DB_OFF(off)] == '-') {
		neg = 1;
		off++;
	}
	for (i = 0; i < 11; i++) {
		if (off + i >= n)
			return -1;
		c = sb->b[DB_OFF(off + i)];
		if (c == '\r')
			break;
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	if (!i || i == 11 || off + i + 1 >= n || sb->b[DB_OFF(off + i + 1)] != '\n')
		return -1;
	r->val = neg ? -v : v;
	r->end = off + i + 2;
	return 0;
}

/* A client's first bytes: "*<digits>\r\n$". */
static __always_inline int redis_detect(const char *b, __u32 n)
{
	__u32 i;

	if (n < 5 || b[0] != '*' || b[1] < '1' || b[1] > '9')
		return 0;
	for (i = 2; i < 8; i++) {
		if (i + 2 >= n)
			return 0;
		if (b[i] == '\r')
			return b[i + 1] == '\n' && b[i + 2] == '$';
		if (b[i] < '0' || b[i] > '9')
			return 0;
	}
	return 0;
}

/* GET, HGET, GETEX, GETDEL: reads whose nil reply is a miss. */
static __always_inline int redis_is_read(const char *op)
{
	if (op[0] == 'G' && op[1] == 'E' && op[2] == 'T')
		return !op[3] || (op[3] == 'E' && op[4] == 'X' && !op[5]) ||
		       (op[3] == 'D' && op[4] == 'E' && op[5] == 'L' && !op[6]);
	return op[0] == 'H' && op[1] == 'G' && op[2] == 'E' && op[3] == 'T' && !op[4];
}

/*
 * One command at off: its slot pushed with the name. Returns the offset
 * just past it, 0 when the next command cannot be found in the window
 * (or this is not a command: counted unparsed when it is the first).
 */
__noinline int redis_command(__u32 off, __u32 n, struct probe_db_conn *d, __u64 ts, int first)
{
	struct sock_buf *sb = sock_buf_get();
	struct db_scratch *r = db_scratch_get();
	struct probe_db_slot *s;
	__s64 nargs, len;
	__u32 a;

	if (!sb || !r || !d)
		return 0;
	if (n > PROBE_SOCK_SCAN)
		n = PROBE_SOCK_SCAN;
	if (off >= n || sb->b[DB_OFF(off)] != '*')
		goto bad;
	if (redis_int(off + 1, n))
		goto bad;
	nargs = r->val;
	off = r->end;
	if (nargs < 1 || off >= n || sb->b[DB_OFF(off)] != '$')
		goto bad;
	if (redis_int(off + 1, n))
		goto bad;
	len = r->val;
	off = r->end;
	if (len < 1)
		goto bad;
	s = db_push(d, ts, 0);
	if (!s)
		return 0;
	db_op_name(off, n < off + len ? n : off + (__u32)len, s);
	if (!s->op[0])
		__builtin_memcpy(s->op, "?", 2);
	if (redis_is_read(s->op))
		s->flags |= PROBE_DB_F_READ;
	off += (__u32)len + 2;
	for (a = 1; a < REDIS_ARGS; a++) {
		if (a >= nargs)
			return (int)off;
		if (off >= n || sb->b[DB_OFF(off)] != '$' || redis_int(off + 1, n))
			return 0;
		len = r->val;
		if (len < 0 || len > (1 << 29))
			return 0;
		off = r->end + (__u32)len + 2;
	}
	return 0;
bad:
	if (first)
		probe_stat_inc(&stats, PROBE_SOCK_STAT_DB_UNPARSED);
	return 0;
}

/* Commands the client wrote (a write that does not start one continues a big one). */
static __always_inline void redis_write(struct probe_db_conn *d, struct sock_buf *sb,
					const struct sock_io *io)
{
	__u32 n = sock_copy(sb, io, PROBE_SOCK_SCAN), off = 0, k;
	__u64 ts;
	int ret;

	if (!n || sb->b[0] != '*')
		return;
	ts = bpf_ktime_get_ns();
	for (k = 0; k < REDIS_CMDS; k++) {
		ret = redis_command(off, n, d, ts, !k);
		if (ret <= 0)
			return;
		off = (__u32)ret;
		if (off >= n)
			return;
	}
}

/*
 * The reply at off. Returns the offset after it when that is known and
 * within the read, else 0 (stop). *flags gets error / hit / miss.
 */
__noinline int redis_reply(__u32 off, __u32 n, struct db_scratch *out)
{
	struct sock_buf *sb = sock_buf_get();
	struct db_scratch *r = db_scratch_get();
	__u32 i, f = 0;
	__s64 len;
	char t;

	if (!sb || !r || !out)
		return -1;
	if (n > PROBE_SOCK_SCAN)
		n = PROBE_SOCK_SCAN;
	if (off >= n)
		return -1;
	t = sb->b[DB_OFF(off)];
	switch (t) {
	case '-':
		f = PROBE_DB_F_ERROR;
		/* fall through */
	case '+':
	case ':':
	case ',':
	case '#':
	case '(':
		out->val = f;
		for (i = 1; i < 128; i++) {
			if (off + i + 1 >= n)
				return 0;
			if (sb->b[DB_OFF(off + i)] == '\r')
				return (int)(off + i + 2);
		}
		return 0;
	case '_':
		out->val = PROBE_DB_F_MISS;
		return (int)(off + 3);
	case '$':
		if (redis_int(off + 1, n))
			return -1;
		len = r->val;
		if (len < 0) {
			out->val = PROBE_DB_F_MISS;
			return (int)r->end;
		}
		out->val = PROBE_DB_F_HIT;
		if (len > (1 << 29))
			return 0;
		return (int)(r->end + (__u32)len + 2);
	case '*':
	case '%':
	case '~':
	case '>':
	case '=':
	case '!':
		out->val = t == '!' ? PROBE_DB_F_ERROR : 0;
		return 0;
	default:
		return -1;
	}
}

/* Replies the client read: each answers the oldest command in flight. */
static __always_inline void redis_read(struct probe_db_conn *d, __u64 key, struct sock_buf *sb,
				       const struct sock_io *io)
{
	struct db_scratch *out;
	__u32 n, off = 0, k;
	__u64 now;
	int ret;
	__u32 zero = 0;

	if (!d->count)
		return;	/* the rest of a reply already counted */
	out = bpf_map_lookup_elem(&db_scratch_map, &zero);
	if (!out)
		return;
	/* one command in flight: its reply's first bytes are enough */
	n = sock_copy(sb, io, d->count > 1 ? PROBE_SOCK_SCAN : 16);
	if (!n)
		return;
	now = bpf_ktime_get_ns();
	for (k = 0; k < REDIS_CMDS; k++) {
		__u8 flags;

		if (!d->count || off >= n)
			return;
		ret = redis_reply(off, n, out);
		if (ret < 0) {
			if (!k)
				probe_stat_inc(&stats, PROBE_SOCK_STAT_DB_UNPARSED);
			return;
		}
		flags = (__u8)out->val;
		if (!(db_head(d)->flags & PROBE_DB_F_READ))
			flags &= PROBE_DB_F_ERROR;
		db_complete(d, key, io->fd, PROBE_DB_K_REDIS, flags, now);
		if (!ret)
			return;
		off = (__u32)ret;
	}
}

/* A read or write on a client connection. Global: verified once. */
__noinline int redis_data(struct probe_db_conn *d, const struct sock_io *io)
{
	struct sock_buf *sb = sock_buf_get();

	if (!d || !io || !sb)
		return 0;
	if (io->in)
		redis_read(d, io->key, sb, io);
	else
		redis_write(d, sb, io);
	return 0;
}

#endif
