/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The shared handler: every captured payload, from any hook, goes through
 * sock_handle(), which classifies a connection by its first bytes and
 * then hands each payload to its protocol's parser.
 *
 * Why one global function: the verifier checks a global (non-static,
 * __noinline) function once per program, against its declared argument
 * types, whatever state the caller is in; inlined into each hook it was
 * checked once per hook and per path into it (5,100-5,470 instructions
 * and ~0.6 s of verification per hook). A tail call into one program would
 * also be verified once, but a tail call needs the caller's program type
 * (TLS uprobes are kprobe programs, these hooks tracepoints); a global
 * function serves both.
 *
 * Adding a protocol: a PROBE_PROTO_* value (include/probe/sockets.h), its
 * records and in-flight state in its own header, its parser in
 * sockets/<proto>.bpf.h with a global <proto>_data(state, io), a detector
 * in sock_classify() and a case in sock_handle().
 */
#ifndef PROBE_SOCKETS_HANDLER_BPF_H
#define PROBE_SOCKETS_HANDLER_BPF_H

#include "sockets/capture.bpf.h"
#include "sockets/http.bpf.h"
#include "sockets/pgsql.bpf.h"
#include "sockets/redis.bpf.h"
#include "sockets/mysql.bpf.h"

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

/*
 * One payload on a connection: h, the connection's HTTP state when it has
 * one (then c is not needed), else c, its entry in `conns` (found or
 * created by the hook). Classified on its first payloads, then parsed by
 * its protocol. Returns 0.
 */
__noinline int sock_handle(const struct sock_io *io, struct probe_http_conn *h,
			   struct probe_conn *c)
{
	struct probe_db_conn *d;
	struct sock_buf *sb;
	__u32 n;

	if (!io)
		return 0;
	if (h)
		return http_data(h, io);
	if (!c)
		return 0;
	if (c->proto == PROBE_PROTO_UNKNOWN) {
		sb = sock_buf_get();
		if (!sb)
			return 0;
		n = sock_copy(sb, io, SOCK_PEEK);
		if (!n)
			return 0;
		sock_classify(c, io->key, sb, n, io->in);
	}
	switch (c->proto) {
	case PROBE_PROTO_HTTP:
		h = http_conn_get(io->key, c);
		if (h)
			http_data(h, io);
		break;
	/* New protocols: a case here calling their handler. */
	case PROBE_PROTO_PGSQL:
	case PROBE_PROTO_REDIS:
	case PROBE_PROTO_MYSQL:
		d = db_conn_get(io->key, c);
		if (!d)
			break;
		if (c->proto == PROBE_PROTO_PGSQL)
			pg_data(d, io);
		else if (c->proto == PROBE_PROTO_REDIS)
			redis_data(d, io);
		else
			mysql_data(d, io);
		break;
	default:
		break;
	}
	return 0;
}

#endif
