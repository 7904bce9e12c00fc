/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The database section: one row per (process, destination, operation)
 * from db_query: queries, errors, p50/p95/p99, and for Redis reads the
 * hit ratio; db_stats (what could not be parsed or timed) after it. Its
 * pid/comm/dest/kind labels are the connections section's, so the two
 * tables read side by side per destination.
 */
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "view/view.h"
#include "core/store.h"

static int keep_queried(struct view_row *row)
{
	row->key = (double)row->vs.counters[DQ_QUERIES];
	return row->vs.counters[DQ_QUERIES] > 0;
}

static const char *lab(const struct series *se, const char *k)
{
	const char *v = series__label(se, k);

	return v ? v : "-";
}

struct stat_acc {
	char buf[200];
	size_t len;
	cJSON *obj;
	uint64_t now;
	const struct view_opts *o;
};

static int add_stat(struct series *se, void *arg)
{
	struct stat_acc *a = arg;
	struct view_stats vs;
	const char *what = series__label(se, "what");

	if (!what || view__stats(se, a->now, a->o, &vs) || !vs.counters[STATS_COUNT])
		return 0;
	if (a->obj)
		cJSON_AddNumberToObject(a->obj, what, (double)vs.counters[STATS_COUNT]);
	else if (a->len < sizeof(a->buf))
		a->len += snprintf(a->buf + a->len, sizeof(a->buf) - a->len, " %s=%lu", what,
				   (unsigned long)vs.counters[STATS_COUNT]);
	return 0;
}

static int db_text(FILE *out, struct store *st, uint64_t now, const struct view_opts *o)
{
	struct family *sf = families__lookup(st, FAM_DB_STATS);
	struct stat_acc a = { .now = now, .o = o };
	struct view_rows r;
	char p50[16], p95[16], p99[16], hit[16];
	size_t i;

	view__collect(st, FAM_DB_QUERY, now, o, keep_queried, &r);
	if (sf)
		family__for_each(sf, add_stat, &a);
	if (!r.n && !a.len) {
		free(r.v);
		return 0;
	}
	fprintf(out, "DATABASE QUERIES (client side, by process, destination and operation, top %u)\n",
		o->top);
	fprintf(out, "%-16s %7s %-24s %-11s %-12s %9s %7s %9s %9s %9s %6s\n", "COMM", "PID",
		"DESTINATION", "KIND", "OP", "QUERIES", "ERRORS", "P50", "P95", "P99", "HIT%");
	for (i = 0; i < r.n && i < o->top; i++) {
		const struct view_stats *v = &r.v[i].vs;
		struct series *se = r.v[i].se;
		uint64_t h = v->counters[DQ_HITS], m = v->counters[DQ_MISSES];

		if (h + m)
			snprintf(hit, sizeof(hit), "%.1f", 100.0 * (double)h / (double)(h + m));
		else
			snprintf(hit, sizeof(hit), "-");
		fprintf(out, "%-16s %7s %-24s %-11s %-12s %9lu %7lu %9s %9s %9s %6s\n",
			lab(se, "comm"), lab(se, "pid"), lab(se, "dest"), lab(se, "kind"),
			lab(se, "op"), (unsigned long)v->counters[DQ_QUERIES],
			(unsigned long)v->counters[DQ_ERRORS],
			v->count ? view__dur(v->p50, p50, sizeof(p50)) : "-",
			v->count ? view__dur(v->p95, p95, sizeof(p95)) : "-",
			v->count ? view__dur(v->p99, p99, sizeof(p99)) : "-", hit);
	}
	if (a.len)
		fprintf(out, "  not parsed or timed:%s\n", a.buf);
	free(r.v);
	return 1;
}

static void db_json(cJSON *obj, struct store *st, uint64_t now, const struct view_opts *o)
{
	struct family *sf = families__lookup(st, FAM_DB_STATS);
	cJSON *arr = cJSON_AddArrayToObject(obj, "db_queries");
	struct stat_acc a = { .now = now, .o = o };
	struct view_rows r;
	size_t i;

	if (!arr)
		return;
	view__collect(st, FAM_DB_QUERY, now, o, keep_queried, &r);
	for (i = 0; i < r.n; i++) {
		const struct view_stats *v = &r.v[i].vs;
		cJSON *e = cJSON_CreateObject();
		const struct label *l;
		unsigned int n = series__labels(r.v[i].se, &l), k;
		uint64_t h = v->counters[DQ_HITS], m = v->counters[DQ_MISSES];

		if (!e)
			break;
		for (k = 0; k < n; k++)
			if (l[k].value[0])	/* unknown attribution labels are left out */
				view__json_label(e, FAM_DB_QUERY, l[k].key, l[k].value);
		cJSON_AddNumberToObject(e, "queries", (double)v->counters[DQ_QUERIES]);
		cJSON_AddNumberToObject(e, "errors", (double)v->counters[DQ_ERRORS]);
		cJSON_AddNumberToObject(e, "hits", (double)h);
		cJSON_AddNumberToObject(e, "misses", (double)m);
		if (h + m)
			cJSON_AddNumberToObject(e, "hit_ratio", (double)h / (double)(h + m));
		cJSON_AddNumberToObject(e, "seconds", v->seconds);
		if (v->count)
			view__json_latency(e, "latency_ns", v);
		cJSON_AddItemToArray(arr, e);
	}
	free(r.v);
	a.obj = cJSON_AddObjectToObject(obj, "db_stats");
	if (a.obj && sf)
		family__for_each(sf, add_stat, &a);
}

static const char *db_hint(const struct view_opts *o)
{
	return o->pid_mode ? "no queries seen: queries are timed where they are sent, so run "
			     "with --pid on the client (PostgreSQL, Redis, MySQL)" :
			     "no queries seen (PostgreSQL, Redis, MySQL clients, in clear text)";
}

const struct view_section view_db = {
	.name = "db",
	.hint = db_hint,
	.text = db_text,
	.json = db_json,
};
