/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Database connections on a socket, client side: the per-connection FIFO
 * of queries in flight and the record sent when one completes, shared by
 * the protocol parsers (lib/pgsql.bpf.h, lib/redis.bpf.h).
 *
 * Contract with the includer: the same as lib/http.bpf.h (struct
 * sock_buf, sock_buf_get(), struct sock_io, sock_copy(), `stats`,
 * `conns`), included after lib/http.bpf.h: records go to its per-CPU
 * rings (http_rings), one ring buffer for the whole socket capture.
 */
#ifndef PROBE_DB_BPF_H
#define PROBE_DB_BPF_H

#include "sockets/capture.bpf.h"
#include "probe/db.h"

/* An offset below the window, masked where it indexes. */
#define DB_OFF(v)	SOCK_OFF(v)

/* (tgid, fd) -> queries in flight, for client connections to a database. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PROBE_DB_MAX_CONNS);
	__type(key, __u64);
	__type(value, struct probe_db_conn);
} db_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct probe_db_conn);
} db_zero SEC(".maps");

/*
 * Server port -> enum probe_db_kind: the config's port table (filled by
 * the loader) plus ports learned from detected connections. Bytes written
 * to such a port that are not its protocol are counted as unparsed.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} db_ports SEC(".maps");

/* What the global parsers return besides their int. */
struct db_scratch {
	__s64 val;
	__u32 end;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct db_scratch);
} db_scratch_map SEC(".maps");

static __always_inline struct db_scratch *db_scratch_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&db_scratch_map, &zero);
}

static __always_inline __u8 db_port_kind(__u16 port)
{
	__u32 p = port;
	__u8 *k = bpf_map_lookup_elem(&db_ports, &p);

	return k ? *k : PROBE_DB_K_NONE;
}

static __always_inline void db_learn_port(__u16 port, __u8 kind)
{
	__u32 p = port;
	__u8 *k = bpf_map_lookup_elem(&db_ports, &p);

	if (k && *k != kind)
		*k = kind;
}

/*
 * Fresh state for a connection just classified (an fd's old state is
 * reset). Global: its stack frame stays out of the callers'. Returns 0, or
 * -1 when there is no room (counted).
 */
__noinline int db_conn_init(__u64 key, const struct probe_conn *c)
{
	struct probe_db_conn *zero, *d;
	struct sock_owner o = {};
	__u32 z = 0;

	zero = bpf_map_lookup_elem(&db_zero, &z);
	if (!c || !zero || bpf_map_update_elem(&db_conns, &key, zero, BPF_ANY)) {
		probe_stat_inc(&stats, PROBE_SOCK_STAT_DB_STATE_DROP);
		return -1;
	}
	d = bpf_map_lookup_elem(&db_conns, &key);
	if (!d)
		return -1;
	sock_owner(&o);
	__builtin_memcpy(d->comm, o.comm, sizeof(d->comm));
	d->cgroup_id = o.cgroup_id;
	__builtin_memcpy(&d->id, c, sizeof(d->id));
	return 0;
}

static __always_inline struct probe_db_conn *db_conn_new(__u64 key, const struct probe_conn *c)
{
	if (db_conn_init(key, c))
		return NULL;
	return bpf_map_lookup_elem(&db_conns, &key);
}

static __always_inline struct probe_db_conn *db_conn_get(__u64 key, const struct probe_conn *c)
{
	struct probe_db_conn *d = bpf_map_lookup_elem(&db_conns, &key);

	/* evicted (LRU): start again; replies in flight are lost with it */
	return d ? d : db_conn_new(key, c);
}

static __always_inline void db_forget(__u64 key)
{
	bpf_map_delete_elem(&db_conns, &key);
}

static __always_inline struct probe_db_slot *db_head(struct probe_db_conn *d)
{
	return &d->fifo[d->head & (PROBE_DB_FIFO - 1)];
}

/* A new query in flight; its op is filled by the caller. NULL: FIFO full. */
static __always_inline struct probe_db_slot *db_push(struct probe_db_conn *d, __u64 ts,
						     __u8 flags)
{
	struct probe_db_slot *s;

	if (d->count >= PROBE_DB_FIFO) {
		probe_stat_inc(&stats, PROBE_SOCK_STAT_DB_FIFO_FULL);
		return NULL;
	}
	s = &d->fifo[(d->head + d->count) & (PROBE_DB_FIFO - 1)];
	s->ts = ts;
	s->flags = flags;
	__builtin_memset(s->op, 0, sizeof(s->op));
	d->count++;
	return s;
}

/* The oldest query has its reply: one record to userspace, and it leaves. */
static __always_inline void db_complete(struct probe_db_conn *d, __u64 key, int fd, __u8 kind,
					__u8 rflags, __u64 now)
{
	struct probe_db_slot *s = db_head(d);
	__u32 cpu = bpf_get_smp_processor_id();
	struct probe_db_query *e;
	__u8 flags = s->flags | rflags;
	void *ring;

	ring = bpf_map_lookup_elem(&http_rings, &cpu);
	e = ring ? bpf_ringbuf_reserve(ring, sizeof(*e), 0) : NULL;
	if (!e) {
		probe_stat_inc(&stats, PROBE_SOCK_STAT_DB_RB_DROP);
		goto pop;
	}
	e->hdr.type = PROBE_REC_DB_QUERY;
	e->hdr.version = PROBE_DB_VERSION;
	e->hdr.flags = 0;
	e->hdr.size = sizeof(*e);
	e->hdr.ts_ns = now;
	e->hdr.pid = key >> 32;
	e->hdr.tid = (__u32)bpf_get_current_pid_tgid();
	e->hdr.cgroup_id = d->cgroup_id;
	__builtin_memcpy(e->hdr.comm, d->comm, sizeof(e->hdr.comm));
	e->start_ns = s->ts;
	e->duration_ns = now > s->ts ? now - s->ts : 0;
	e->fd = fd;
	e->kind = kind;
	e->status = flags & PROBE_DB_F_ERROR ? PROBE_DB_S_ERROR : PROBE_DB_S_OK;
	e->result = PROBE_DB_R_NONE;
	if (flags & PROBE_DB_F_READ) {
		if (flags & PROBE_DB_F_HIT)
			e->result = PROBE_DB_R_HIT;
		else if (flags & PROBE_DB_F_MISS)
			e->result = PROBE_DB_R_MISS;
	}
	e->family = d->id.family;
	e->lport = d->id.lport;
	e->rport = d->id.rport;
	e->flags = flags;
	e->pad[0] = e->pad[1] = e->pad[2] = 0;
	__builtin_memcpy(e->laddr, d->id.laddr, sizeof(e->laddr));
	__builtin_memcpy(e->raddr, d->id.raddr, sizeof(e->raddr));
	__builtin_memcpy(e->op, s->op, sizeof(e->op));
	bpf_ringbuf_submit(e, probe_rb_flags(ring));
	probe_stat_inc(&stats, PROBE_SOCK_STAT_DB_RECORDS);
pop:
	d->head = (d->head + 1) & (PROBE_DB_FIFO - 1);
	d->count--;
}

/*
 * The operation's name from b[off..n): letters only, uppercased, at most
 * PROBE_DB_OP_LEN - 1 of them, after leading blanks and '('. Returns its
 * length (0: none). Global: verified once.
 */
__noinline int db_op_name(__u32 off, __u32 n, struct probe_db_slot *s)
{
	struct sock_buf *sb = sock_buf_get();
	__u32 i, j = 0;
	char c;

	if (!sb || !s)
		return 0;
	if (n > PROBE_SOCK_SCAN)
		n = PROBE_SOCK_SCAN;
	for (i = 0; i < 16; i++) {
		if (off >= n)
			return 0;
		c = sb->b[DB_OFF(off)];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '(')
			break;
		off++;
	}
	for (i = 0; i < PROBE_DB_OP_LEN - 1; i++) {
		if (off + i >= n)
			break;
		c = sb->b[DB_OFF(off + i)];
		if (c >= 'a' && c <= 'z')
			c -= 'a' - 'A';
		if (!((c >= 'A' && c <= 'Z') || (c == '_' && j)))
			break;
		s->op[i & (PROBE_DB_OP_LEN - 1)] = c;
		j++;
	}
	return j;
}

#endif
