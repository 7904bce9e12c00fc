/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Database queries seen on sockets, client side (the probed process is the
 * database client): one ring-buffer record per query, sent when its reply
 * completes. Parsers: bpf/lib/pgsql.bpf.h (PostgreSQL wire protocol v3)
 * bpf/lib/redis.bpf.h (RESP) and bpf/lib/mysql.bpf.h (MySQL / MariaDB).
 *
 * probe_db_query (128 bytes):
 *
 *   0                                                                48
 *   +------------------------- probe_rec_hdr ---------------------------+
 *   | start_ns | duration_ns | fd |ki|st|re|fa|lport|rport|fl| pad      |
 *   |    laddr[16]    |    raddr[16]    |  op[16]                       |
 *   +-------------------------------------------------------------------+
 *
 * op is the operation's name only: the first SQL keyword, uppercased, or
 * the Redis command name, at most PROBE_DB_OP_LEN - 1 bytes, NUL-padded.
 * No query text, key or value ever leaves the kernel.
 */
#ifndef PROBE_DB_H
#define PROBE_DB_H

#include "record.h"
#include "sockets.h"

#define PROBE_DB_VERSION	1

enum probe_db_rec_type {
	PROBE_REC_DB_QUERY = PROBE_REC_DB_BASE,	/* struct probe_db_query */
};

#define PROBE_DB_OP_LEN		16
#define PROBE_DB_FIFO		8	/* queries in flight per connection (power of 2) */
#define PROBE_DB_MAX_CONNS	16384

enum probe_db_kind {
	PROBE_DB_K_NONE,
	PROBE_DB_K_PGSQL,
	PROBE_DB_K_REDIS,
	PROBE_DB_K_MYSQL,
	PROBE_DB_K_MAX,
};

enum probe_db_status {
	PROBE_DB_S_OK,
	PROBE_DB_S_ERROR,	/* PostgreSQL ErrorResponse, Redis '-' reply */
};

enum probe_db_result {
	PROBE_DB_R_NONE,	/* not a read that can hit or miss */
	PROBE_DB_R_HIT,		/* Redis GET-like read: a value came back */
	PROBE_DB_R_MISS,	/* ... nil ("$-1" or RESP3 "_") */
};

/* probe_db_query.flags and probe_db_slot.flags */
#define PROBE_DB_F_READ		0x01	/* a single-key read (GET, HGET...): hit or miss */
#define PROBE_DB_F_EXTENDED	0x02	/* PostgreSQL extended query (Parse/Bind/Execute) */
#define PROBE_DB_F_ERROR	0x04	/* an error reply was seen for it */
#define PROBE_DB_F_HIT		0x08
#define PROBE_DB_F_MISS		0x10

struct probe_db_query {
	struct probe_rec_hdr hdr;
	__u64 start_ns;		/* the query's first byte written, bpf_ktime_get_ns() */
	__u64 duration_ns;	/* to its reply's end (PostgreSQL ReadyForQuery) */
	__s32 fd;
	__u8 kind;		/* enum probe_db_kind */
	__u8 status;		/* enum probe_db_status */
	__u8 result;		/* enum probe_db_result */
	__u8 family;		/* AF_INET, AF_INET6 */
	__u16 lport;		/* host byte order */
	__u16 rport;
	__u8 flags;		/* PROBE_DB_F_* */
	__u8 pad[3];
	__u8 laddr[16];		/* IPv4: first 4 bytes, network order */
	__u8 raddr[16];		/* the server */
	char op[PROBE_DB_OP_LEN];
};
PROBE_ASSERT_SIZE(struct probe_db_query, 128);

/* One query in flight. */
struct probe_db_slot {
	__u64 ts;
	__u8 flags;		/* PROBE_DB_F_* */
	__u8 pad[7];
	char op[PROBE_DB_OP_LEN];
};
PROBE_ASSERT_SIZE(struct probe_db_slot, 32);

/*
 * A database connection's queries in flight, oldest first. PostgreSQL:
 * a simple Query, or an extended batch up to its Sync, is one slot until
 * its ReadyForQuery. Redis: one slot per command until its reply.
 */
struct probe_db_conn {
	struct probe_conn id;	/* the socket, as classified */
	__u8 head;
	__u8 count;
	__u8 lost;		/* reply framing lost: only a reply's end is looked for */
	__u8 batch;		/* PostgreSQL: an extended batch is open (pend) */
	__u32 skip;		/* bytes of the current reply message still to come */
	__u64 cgroup_id;
	char comm[PROBE_COMM_LEN];	/* the process's (group leader's) name */
	struct probe_db_slot pend;	/* PostgreSQL extended batch before its Sync */
	struct probe_db_slot fifo[PROBE_DB_FIFO];
};
PROBE_ASSERT_SIZE(struct probe_db_conn, 56 + 8 + 8 + 16 + 32 + PROBE_DB_FIFO * 32);

#endif
