/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The TLS section: handshakes per process, side and server name (the SNI a
 * client sent, else the peer), with their time from the first
 * SSL_do_handshake call to its successful return, and failures (an SSL
 * object freed before its handshake completed); plus what the TLS capture
 * lost. Request latency per provider is in the HTTP section's client rows,
 * whose host is the same SNI.
 */
#include <string.h>
#include <cjson/cJSON.h>

#include "out/view.h"
#include "core/store.h"

enum { HS_HANDSHAKES, HS_FAILURES };

struct hs_walk {
	FILE *out;
	cJSON *arr, *stats;
	uint64_t now;
	const struct view_opts *o;
	int n;
};

static const char *lab(const struct series *se, const char *k)
{
	const char *v = series__label(se, k);

	return v ? v : "?";
}

static int hs_one(struct series *se, void *arg)
{
	struct hs_walk *w = arg;
	struct view_stats vs;
	char a[16], b[16], c[16];
	cJSON *e, *lat;

	if (view__stats(se, w->now, w->o, &vs) ||
	    (!vs.counters[HS_HANDSHAKES] && !vs.counters[HS_FAILURES]))
		return 0;
	w->n++;
	if (!w->arr) {
		if (w->n > (int)w->o->top)
			return 0;
		if (w->n == 1)
			fprintf(w->out, "TLS HANDSHAKES\n%-15s %-6s %-28s %-21s %6s %5s %9s %9s %9s\n",
				"COMM", "SIDE", "HOST (SNI)", "PEER", "HS", "FAIL", "P50", "P95",
				"P99");
		fprintf(w->out, "%-15.15s %-6.6s %-28.28s %-21.21s %6lu %5lu %9s %9s %9s\n",
			lab(se, "comm"), lab(se, "role"), lab(se, "host"), lab(se, "peer"),
			(unsigned long)vs.counters[HS_HANDSHAKES],
			(unsigned long)vs.counters[HS_FAILURES], view__dur(vs.p50, a, sizeof(a)),
			view__dur(vs.p95, b, sizeof(b)), view__dur(vs.p99, c, sizeof(c)));
		return 0;
	}
	e = cJSON_CreateObject();
	if (!e)
		return 0;
	cJSON_AddStringToObject(e, "comm", lab(se, "comm"));
	cJSON_AddStringToObject(e, "exe", lab(se, "exe"));
	cJSON_AddStringToObject(e, "role", lab(se, "role"));
	cJSON_AddStringToObject(e, "host", lab(se, "host"));
	cJSON_AddStringToObject(e, "peer", lab(se, "peer"));
	cJSON_AddNumberToObject(e, "handshakes", (double)vs.counters[HS_HANDSHAKES]);
	cJSON_AddNumberToObject(e, "failures", (double)vs.counters[HS_FAILURES]);
	lat = cJSON_AddObjectToObject(e, "handshake_ns");
	cJSON_AddNumberToObject(lat, "count", (double)vs.count);
	cJSON_AddNumberToObject(lat, "p50", (double)vs.p50);
	cJSON_AddNumberToObject(lat, "p95", (double)vs.p95);
	cJSON_AddNumberToObject(lat, "p99", (double)vs.p99);
	cJSON_AddNumberToObject(lat, "max", (double)vs.max);
	cJSON_AddItemToArray(w->arr, e);
	return 0;
}

static int stat_one(struct series *se, void *arg)
{
	struct hs_walk *w = arg;
	const char *what = series__label(se, "what");
	struct view_stats vs;

	if (!what || view__stats(se, w->now, w->o, &vs))
		return 0;
	if (w->stats)
		cJSON_AddNumberToObject(w->stats, what, (double)vs.counters[0]);
	return 0;
}

static int tls_text(FILE *out, struct store *st, uint64_t now, const struct view_opts *o)
{
	struct hs_walk w = { .out = out, .now = now, .o = o };
	struct family *f = store__find_family(st, "tls_handshake");

	if (f)
		family__for_each(f, hs_one, &w);
	return w.n;
}

static void tls_json(cJSON *obj, struct store *st, uint64_t now, const struct view_opts *o)
{
	cJSON *tls = cJSON_AddObjectToObject(obj, "tls");
	struct hs_walk w = { .now = now, .o = o };
	struct family *f;

	if (!tls)
		return;
	w.arr = cJSON_AddArrayToObject(tls, "handshakes");
	w.stats = cJSON_AddObjectToObject(tls, "stats");
	f = store__find_family(st, "tls_handshake");
	if (f && w.arr)
		family__for_each(f, hs_one, &w);
	w.arr = NULL;
	f = store__find_family(st, "tls_stats");
	if (f && w.stats)
		family__for_each(f, stat_one, &w);
}

const struct view_section view_tls = {
	.name = "tls",
	.text = tls_text,
	.json = tls_json,
};
