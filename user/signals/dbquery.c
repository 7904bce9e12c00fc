/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * dbquery: database query records to the store (see dbquery.h).
 *
 * Labels are built per (process, destination, kind, op) and cached in a
 * small direct-mapped table flushed on every collect, so a series pointer
 * never outlives a second (the store only drops series idle for longer).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <bpf/bpf.h>

#include "probe/db.h"
#include "probe/sockets.h"
#include "config.h"
#include "core/dbports.h"
#include "core/families.h"
#include "core/store.h"
#include "loader/signal.h"
#include "proc/attrib.h"
#include "proc/names.h"
#include "proc/peer_names.h"
#include "signals/dbquery.h"

#define DQ_SLOTS	1024

static const struct {
	enum probe_sock_stat idx;
	const char *what;
} kstats[] = {
	{ PROBE_SOCK_STAT_DB_UNPARSED, "unparsed" },
	{ PROBE_SOCK_STAT_DB_FIFO_FULL, "pipeline_overflow" },
	{ PROBE_SOCK_STAT_DB_RB_DROP, "ringbuf_drops" },
	{ PROBE_SOCK_STAT_DB_STATE_DROP, "state_drops" },
};
#define NKSTATS (sizeof(kstats) / sizeof(kstats[0]))

struct dq_key {
	uint64_t cgroup_id;
	uint64_t generation;	/* attrib__generation(): pod names as labelled */
	uint32_t pid;
	uint16_t rport;
	uint8_t family, kind;
	uint8_t raddr[16];
	char op[PROBE_DB_OP_LEN];
};

struct dq_ent {
	struct dq_key k;
	struct series *se;
};

struct dbquery {
	struct probe_ctx *ctx;
	struct family *queries, *stats;
	struct dq_ent *cache;
	uint64_t records, bad_records, bad_shown;
};

static const char *const kind_names[PROBE_DB_K_MAX] = { "?", "postgresql", "redis", "mysql" };

const char *dbquery__op(const char *op, char *out)
{
	size_t i;

	for (i = 0; i < PROBE_DB_OP_LEN - 1 && op[i]; i++) {
		if (!((op[i] >= 'A' && op[i] <= 'Z') || (op[i] == '_' && i)))
			break;
		out[i] = op[i];
	}
	/* a name must end at its NUL: anything else is not one of ours */
	if (!i || op[i]) {
		strcpy(out, "?");
		return out;
	}
	out[i] = 0;
	return out;
}

const char *dbquery__kind(const struct dbports *ports, uint8_t kind, uint16_t port)
{
	const char *k = ports ? dbports__kind(ports, port) : NULL;

	/* the config names the port: the same kind the conn signal reports */
	if (k)
		return k;
	return kind < PROBE_DB_K_MAX ? kind_names[kind] : "?";
}

int dbquery__is_record(const void *data, size_t len)
{
	const struct probe_rec_hdr *h = data;

	return len >= sizeof(*h) && h->type >= PROBE_REC_DB_BASE &&
	       h->type < PROBE_REC_DB_BASE + 16;
}

struct dbquery *dbquery__new(struct probe_ctx *ctx)
{
	struct dbquery *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->ctx = ctx;
	q->cache = calloc(DQ_SLOTS, sizeof(*q->cache));
	q->queries = families__register(ctx->store, FAM_DB_QUERY, ctx->cfg->store.max_series);
	q->stats = families__register(ctx->store, FAM_DB_STATS, 0);
	if (!q->cache || !q->queries || !q->stats) {
		dbquery__free(q);
		errno = ENOMEM;
		return NULL;
	}
	return q;
}

void dbquery__free(struct dbquery *q)
{
	if (!q)
		return;
	free(q->cache);
	free(q);
}

int dbquery__seed_ports(const struct dbports *ports, int map_fd)
{
	unsigned int i;

	for (i = 0; i < ports->nports; i++) {
		const char *k = ports->kinds[ports->ports[i].kind];
		__u32 port = ports->ports[i].port;
		__u8 v;

		if (!strcmp(k, "postgresql"))
			v = PROBE_DB_K_PGSQL;
		else if (!strcmp(k, "redis"))
			v = PROBE_DB_K_REDIS;
		else if (!strcmp(k, "mysql") || !strcmp(k, "mariadb"))
			v = PROBE_DB_K_MYSQL;
		else
			continue;
		if (bpf_map_update_elem(map_fd, &port, &v, BPF_ANY))
			return -errno;
	}
	return 0;
}

static struct series *series_for(struct dbquery *q, const struct probe_db_query *r,
				 const struct dq_key *k)
{
	char pid[12], comm[PROBE_COMM_LEN], dest[PEER_NAMES_TEXT_MAX], op[PROBE_DB_OP_LEN];
	const char *name;
	struct label l[5 + ATTRIB_NLABELS];

	snprintf(pid, sizeof(pid), "%u", r->hdr.pid);
	/* the process's name when it is still there, as the conn signal does */
	name = names__alive((int)r->hdr.pid) ? names__get(q->ctx->names, (int)r->hdr.pid) : "?";
	if (!strcmp(name, "?"))
		name = r->hdr.comm;
	snprintf(comm, sizeof(comm), "%.*s", PROBE_COMM_LEN - 1, name);
	peer_names__format(q->ctx->peers, dest, sizeof(dest), r->family, r->raddr, r->rport);
	l[0] = (struct label){ "pid", pid };
	l[1] = (struct label){ "comm", comm };
	l[2] = (struct label){ "dest", dest };
	l[3] = (struct label){ "kind", dbquery__kind(&q->ctx->cfg->conn.ports, k->kind, r->rport) };
	l[4] = (struct label){ "op", dbquery__op(k->op, op) };
	attrib__labels(q->ctx->attrib, r->hdr.cgroup_id, (int)r->hdr.pid, l + 5);
	return family__series(q->queries, l, 5 + ATTRIB_NLABELS);
}

static uint64_t key_hash(const struct dq_key *k)
{
	const unsigned char *p = (const unsigned char *)k;
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

int dbquery__record(struct dbquery *q, const void *data, size_t len)
{
	const struct probe_db_query *r = data;
	struct dq_key k;
	struct dq_ent *e;
	struct series *se;
	uint64_t ts;

	if (len < sizeof(*r) || r->hdr.type != PROBE_REC_DB_QUERY ||
	    r->hdr.version != PROBE_DB_VERSION || r->hdr.size != sizeof(*r) ||
	    !r->kind || r->kind >= PROBE_DB_K_MAX) {
		q->bad_records++;
		return 0;
	}
	q->records++;
	memset(&k, 0, sizeof(k));
	k.cgroup_id = r->hdr.cgroup_id;
	k.generation = attrib__generation(q->ctx->attrib);
	k.pid = r->hdr.pid;
	k.rport = r->rport;
	k.family = r->family;
	k.kind = r->kind;
	memcpy(k.raddr, r->raddr, sizeof(k.raddr));
	memcpy(k.op, r->op, sizeof(k.op));
	e = &q->cache[key_hash(&k) % DQ_SLOTS];
	if (!e->se || memcmp(&e->k, &k, sizeof(k))) {
		se = series_for(q, r, &k);
		if (!se)
			return 0;
		e->k = k;
		e->se = se;
	}
	se = e->se;
	ts = r->hdr.ts_ns;
	series__add(se, ts, DQ_QUERIES, 1);
	if (r->status == PROBE_DB_S_ERROR)
		series__add(se, ts, DQ_ERRORS, 1);
	if (r->result == PROBE_DB_R_HIT)
		series__add(se, ts, DQ_HITS, 1);
	else if (r->result == PROBE_DB_R_MISS)
		series__add(se, ts, DQ_MISSES, 1);
	series__observe_n(se, ts, r->duration_ns, 1);
	return 0;
}

static void add_stat(struct dbquery *q, uint64_t now, const char *what, uint64_t delta)
{
	struct label l = { "what", what };
	struct series *se;

	if (!delta)
		return;
	se = family__series(q->stats, &l, 1);
	if (se)
		series__add(se, now, STATS_COUNT, delta);
}

void dbquery__collect(struct dbquery *q, uint64_t now, const uint64_t *kcur, const uint64_t *kprev)
{
	unsigned int i;

	memset(q->cache, 0, DQ_SLOTS * sizeof(*q->cache));
	for (i = 0; i < NKSTATS; i++)
		add_stat(q, now, kstats[i].what, kcur[kstats[i].idx] - kprev[kstats[i].idx]);
	add_stat(q, now, "bad_records", q->bad_records - q->bad_shown);
	q->bad_shown = q->bad_records;
}

void dbquery__counts(const struct dbquery *q, uint64_t *records, uint64_t *bad)
{
	*records = q->records;
	*bad = q->bad_records;
}
