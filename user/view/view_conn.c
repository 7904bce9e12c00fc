/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The connections section: one row per (process, destination) joining the
 * tcp_conn and tcp_connect families on their shared labels (pid, dest):
 * kind, open connections against the highest seen, connects waiting,
 * connect rate and p95, failures by reason, resets and retransmits.
 *
 * Query latency per operation has its own section (view_db.c, family
 * db_query), whose rows carry the same pid/comm/dest/kind labels plus the
 * operation, so the two tables line up by destination.
 */
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "view/view.h"
#include "core/store.h"

struct side {
	struct series *se;
	const char *pid, *dest;
	struct view_stats vs;
};

struct conn_row {
	const char *pid, *comm, *dest, *kind;	/* NULL pid: a family's overflow series */
	struct series *conn, *connect;		/* either may be NULL */
	struct view_stats ks, cs;		/* tcp_conn, tcp_connect */
	double g[KG_MAX];			/* tcp_conn gauges */
};

struct sides {
	struct side *v;
	size_t n, cap;
	uint64_t now;
	const struct view_opts *o;
};

static int add_side(struct series *se, void *arg)
{
	struct sides *s = arg;
	struct side x = { .se = se };

	if (view__stats(se, s->now, s->o, &x.vs))
		return 0;
	x.pid = series__label(se, "pid");
	x.dest = series__label(se, "dest");
	if (view__reserve(&s->v, &s->cap, s->n, sizeof(*s->v)))
		return 0;	/* show what fits */
	s->v[s->n++] = x;
	return 0;
}

static int key_cmp(const char *pa, const char *da, const char *pb, const char *db)
{
	int c;

	/* overflow series (no labels) sort last */
	if (!pa || !pb)
		return !pa - !pb;
	c = strcmp(pa, pb);
	return c ? c : strcmp(da ? da : "", db ? db : "");
}

static int by_key(const void *a, const void *b)
{
	const struct side *x = a, *y = b;

	return key_cmp(x->pid, x->dest, y->pid, y->dest);
}

static void side_list(struct store *st, enum family_id family, uint64_t now,
		      const struct view_opts *o, struct sides *s)
{
	struct family *f = families__lookup(st, family);

	memset(s, 0, sizeof(*s));
	s->now = now;
	s->o = o;
	if (f)
		family__for_each(f, add_side, s);
	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), by_key);
}

static int row_busy(const struct conn_row *r)
{
	unsigned int i;

	if (r->g[KG_ACTIVE] > 0 || r->g[KG_CONNECTING] > 0)
		return 1;
	for (i = 0; i < CC_MAX; i++)
		if (r->ks.counters[i] || r->cs.counters[i])
			return 1;
	return 0;
}

static int by_weight(const void *a, const void *b)
{
	const struct conn_row *x = a, *y = b;

	if (x->g[KG_ACTIVE] != y->g[KG_ACTIVE])
		return x->g[KG_ACTIVE] < y->g[KG_ACTIVE] ? 1 : -1;
	if (x->cs.counters[CC_ATTEMPTS] != y->cs.counters[CC_ATTEMPTS])
		return x->cs.counters[CC_ATTEMPTS] < y->cs.counters[CC_ATTEMPTS] ? 1 : -1;
	if (x->cs.counters[CC_FAILED] != y->cs.counters[CC_FAILED])
		return x->cs.counters[CC_FAILED] < y->cs.counters[CC_FAILED] ? 1 : -1;
	return key_cmp(x->pid, x->dest, y->pid, y->dest);
}

static void row_from(struct conn_row *r, const struct side *k, const struct side *c)
{
	const struct side *any = k ? k : c;
	unsigned int i;

	memset(r, 0, sizeof(*r));
	r->pid = any->pid;
	r->dest = any->dest;
	r->comm = series__label(any->se, "comm");
	r->kind = series__label(any->se, "kind");
	if (k) {
		r->conn = k->se;
		r->ks = k->vs;
		for (i = 0; i < KG_MAX; i++)
			r->g[i] = series__gauge(k->se, i);
	}
	if (c) {
		r->connect = c->se;
		r->cs = c->vs;
	}
}

/*
 * Merge the two sorted lists into rows: one per (pid, dest) present in
 * either family. Returns the number of busy rows, sorted by weight.
 */
/*
 * One name per destination kind across sections: a port the table does not
 * name is "other" here, but the socket capture may have recognised the
 * protocol on it (db_query's kind): use that name.
 */
struct kind_q {
	const char *pid, *dest, *kind;
};

static int kind_one(struct series *se, void *arg)
{
	struct kind_q *q = arg;
	const char *pid = series__label(se, "pid"), *dest = series__label(se, "dest");

	if (pid && dest && !strcmp(pid, q->pid) && !strcmp(dest, q->dest)) {
		q->kind = series__label(se, "kind");
		return q->kind != NULL;
	}
	return 0;
}

static void kind_from_queries(struct store *st, struct conn_row *r)
{
	struct family *f = families__lookup(st, FAM_DB_QUERY);
	struct kind_q q = { r->pid, r->dest, NULL };

	if (!f || !r->pid || !r->dest || !r->kind || strcmp(r->kind, "other"))
		return;
	family__for_each(f, kind_one, &q);
	if (q.kind)
		r->kind = q.kind;
}

static size_t join(struct store *st, uint64_t now, const struct view_opts *o,
		   struct conn_row **out)
{
	struct sides k, c;
	struct conn_row *rows;
	size_t i = 0, j = 0, n = 0;

	side_list(st, FAM_TCP_CONN, now, o, &k);
	side_list(st, FAM_TCP_CONNECT, now, o, &c);
	rows = calloc(k.n + c.n + 1, sizeof(*rows));
	while (rows && (i < k.n || j < c.n)) {
		int cmp = i >= k.n ? 1 : j >= c.n ? -1 :
			  key_cmp(k.v[i].pid, k.v[i].dest, c.v[j].pid, c.v[j].dest);

		/* the two overflow series are different things: never merged */
		if (!cmp && !k.v[i].pid)
			cmp = -1;
		if (cmp < 0)
			row_from(&rows[n], &k.v[i++], NULL);
		else if (cmp > 0)
			row_from(&rows[n], NULL, &c.v[j++]);
		else
			row_from(&rows[n], &k.v[i++], &c.v[j++]);
		if (row_busy(&rows[n])) {
			kind_from_queries(st, &rows[n]);
			n++;
		}
	}
	free(k.v);
	free(c.v);
	if (rows && n)
		qsort(rows, n, sizeof(*rows), by_weight);
	*out = rows;
	return n;
}

/* ---- text ---- */

static double per_s(uint64_t n, double seconds)
{
	return seconds > 0 ? n / seconds : 0;
}

static int conn_text(FILE *out, struct store *st, uint64_t now, const struct view_opts *o)
{
	struct conn_row *rows;
	size_t n = join(st, now, o, &rows), i;
	char p95[16];

	if (!n) {
		free(rows);
		return 0;
	}
	fprintf(out, "CONNECTIONS (outbound TCP by process and destination, top %u)\n", o->top);
	fprintf(out, "%-16s %7s %-24s %-11s %6s %5s %5s %7s %9s %6s %7s %7s %7s %6s %6s %7s  %s\n",
		"COMM", "PID", "DESTINATION", "KIND", "ACTIVE", "HIGH", "WAIT", "CONN/S",
		"CONN_P95", "FAILED", "REFUSED", "TIMEOUT", "UNREACH", "OTHER", "RESETS", "RETRANS",
		"ERRNO");
	for (i = 0; i < n && i < o->top; i++) {
		const struct conn_row *r = &rows[i];
		const struct view_stats *c = &r->cs;
		char errs[96] = "";
		struct view_errnos q = {
			.pid = r->pid, .key = "dest", .value = r->dest,
			.buf = errs, .cap = sizeof(errs),
		};
		double secs = c->seconds > 0 ? c->seconds : r->ks.seconds;

		if (!r->pid) {
			fprintf(out, "%-16s %7s %-24s %-11s %6s %5s %5s %7.1f %9s %6lu\n",
				"(overflow)", "-", "-", "-", "-", "-", "-",
				per_s(c->counters[CC_ATTEMPTS], secs), "-",
				(unsigned long)c->counters[CC_FAILED]);
			continue;
		}
		if (c->counters[CC_FAILED])
			view__errnos(st, FAM_TCP_CONNECT_ERRNO, now, o, &q);
		fprintf(out, "%-16s %7s %-24s %-11s %6.0f %5.0f %5.0f %7.1f %9s %6lu %7lu %7lu "
			"%7lu %6lu %6lu %7lu  %s\n",
			r->comm ? r->comm : "?", r->pid, r->dest ? r->dest : "?",
			r->kind ? r->kind : "?", r->g[KG_ACTIVE], r->g[KG_ACTIVE_HIGHEST],
			r->g[KG_CONNECTING], per_s(c->counters[CC_ATTEMPTS], secs),
			c->count ? view__dur(c->p95, p95, sizeof(p95)) : "-",
			(unsigned long)c->counters[CC_FAILED],
			(unsigned long)c->counters[CC_REFUSED],
			(unsigned long)c->counters[CC_TIMEOUT],
			(unsigned long)c->counters[CC_UNREACHABLE],
			(unsigned long)(c->counters[CC_ABORTED] + c->counters[CC_OTHER]),
			(unsigned long)r->ks.counters[KC_RESETS_IN],
			(unsigned long)r->ks.counters[KC_RETRANSMITS], errs);
	}
	free(rows);
	return 1;
}

/* ---- JSON ---- */

static void add_hist(cJSON *e, const char *name, const struct view_stats *vs)
{
	if (vs->count)
		view__json_latency(e, name, vs);
}

static void conn_json(cJSON *obj, struct store *st, uint64_t now, const struct view_opts *o)
{
	static const char *const reasons[] = { "refused", "timeout", "unreachable", "aborted",
					       "other" };
	cJSON *arr = cJSON_AddArrayToObject(obj, "connections");
	struct conn_row *rows;
	size_t n, i, k;

	if (!arr)
		return;
	n = join(st, now, o, &rows);
	for (i = 0; i < n; i++) {
		const struct conn_row *r = &rows[i];
		const struct view_stats *c = &r->cs, *ks = &r->ks;
		cJSON *e = cJSON_CreateObject(), *cn, *f;
		double secs = c->seconds > 0 ? c->seconds : ks->seconds;

		if (!e)
			break;
		if (r->pid) {
			view__json_label(e, FAM_TCP_CONN, "pid", r->pid);
			view__json_label(e, FAM_TCP_CONN, "comm", r->comm ? r->comm : "?");
			view__json_label(e, FAM_TCP_CONN, "dest", r->dest ? r->dest : "?");
			view__json_label(e, FAM_TCP_CONN, "kind", r->kind ? r->kind : "?");
		} else {
			cJSON_AddStringToObject(e, "overflow", "true");
		}
		cJSON_AddNumberToObject(e, "seconds", secs);
		cJSON_AddNumberToObject(e, "active", r->g[KG_ACTIVE]);
		cJSON_AddNumberToObject(e, "active_highest", r->g[KG_ACTIVE_HIGHEST]);
		cJSON_AddNumberToObject(e, "connecting", r->g[KG_CONNECTING]);
		cJSON_AddNumberToObject(e, "connecting_highest", r->g[KG_CONNECTING_HIGHEST]);

		cn = cJSON_AddObjectToObject(e, "connects");
		cJSON_AddNumberToObject(cn, "attempts", (double)c->counters[CC_ATTEMPTS]);
		cJSON_AddNumberToObject(cn, "per_s", per_s(c->counters[CC_ATTEMPTS], secs));
		cJSON_AddNumberToObject(cn, "established", (double)c->counters[CC_ESTABLISHED]);
		cJSON_AddNumberToObject(cn, "failed", (double)c->counters[CC_FAILED]);
		f = cJSON_AddObjectToObject(cn, "failures");
		for (k = 0; k < 5; k++)
			cJSON_AddNumberToObject(f, reasons[k], (double)c->counters[CC_REFUSED + k]);
		if (c->counters[CC_FAILED] && r->pid) {
			struct view_errnos q = {
				.pid = r->pid, .key = "dest", .value = r->dest,
				.obj = cJSON_AddObjectToObject(cn, "errno"),
			};

			view__errnos(st, FAM_TCP_CONNECT_ERRNO, now, o, &q);
		}
		add_hist(e, "connect_ns", c);

		cJSON_AddNumberToObject(e, "opens", (double)ks->counters[KC_OPENS]);
		cJSON_AddNumberToObject(e, "closes", (double)ks->counters[KC_CLOSES]);
		cJSON_AddNumberToObject(e, "opens_per_s", per_s(ks->counters[KC_OPENS], secs));
		cJSON_AddNumberToObject(e, "closes_per_s", per_s(ks->counters[KC_CLOSES], secs));
		cJSON_AddNumberToObject(e, "closed_on_error", (double)ks->counters[KC_ERRORS]);
		cJSON_AddNumberToObject(e, "resets_in", (double)ks->counters[KC_RESETS_IN]);
		cJSON_AddNumberToObject(e, "resets_out", (double)ks->counters[KC_RESETS_OUT]);
		cJSON_AddNumberToObject(e, "retransmits", (double)ks->counters[KC_RETRANSMITS]);
		add_hist(e, "lifetime_ns", ks);
		cJSON_AddItemToArray(arr, e);
	}
	free(rows);
}

static const char *conn_hint(const struct view_opts *o)
{
	(void)o;
	return "no outbound TCP connections seen (connections a server accepts are not listed)";
}

const struct view_section view_conn = {
	.name = "conn",
	.hint = conn_hint,
	.text = conn_text,
	.json = conn_json,
};
