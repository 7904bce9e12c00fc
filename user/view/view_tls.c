/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The TLS section: handshakes per process, side and server name (the SNI a
 * client sent, else the peer), with their time from the first
 * SSL_do_handshake call to its successful return, and failures (an SSL
 * object freed before its handshake completed); plus what the TLS capture
 * counted (tls_stats). Request latency per provider is in the HTTP
 * section's client rows, whose host is the same SNI. Rows are sorted by
 * handshakes and failures, most first.
 */
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "view/view.h"
#include "core/store.h"

static int keep_handshaking(struct view_row *row)
{
	row->key = (double)(row->vs.counters[TLS_HS_HANDSHAKES] + row->vs.counters[TLS_HS_FAILURES]);
	return row->key > 0;
}

static const char *lab(const struct series *se, const char *k)
{
	const char *v = series__label(se, k);

	return v && v[0] ? v : "?";
}

/* tls_stats goes to JSON only: its plaintext counts grow with every request */
struct stat_acc {
	cJSON *obj;
	uint64_t now;
	const struct view_opts *o;
};

static int add_stat(struct series *se, void *arg)
{
	struct stat_acc *a = arg;
	struct view_stats vs;
	const char *what = series__label(se, "what");

	if (!what || view__stats(se, a->now, a->o, &vs))
		return 0;
	cJSON_AddNumberToObject(a->obj, what, (double)vs.counters[STATS_COUNT]);
	return 0;
}

/* HS, FAIL, P50, P95, P99 */
#define TAIL	(7 + 6 + 3 * 8)

static int tls_text(FILE *out, struct store *st, uint64_t now, const struct view_opts *o)
{
	unsigned int cols = o->cols ? o->cols : 160, svc = cols >= 120 ? 16 : 0;
	unsigned int peer = cols >= 100 ? 22 : 0, side = 7, name;
	char win[32], a[16], b[16], c[16];
	struct view_rows r;
	size_t i;

	view__collect(st, FAM_TLS_HANDSHAKE, now, o, keep_handshaking, &r);
	if (!r.n) {
		free(r.v);
		return 0;
	}
	/* the host column takes what the numbers leave (cut with a visible "…") */
	name = cols > TAIL + svc + peer + side + 12 ? cols - TAIL - svc - peer - side : 12;
	if (name > 40)
		name = 40;
	fprintf(out, "TLS HANDSHAKES, most first; P50-P99 of completed ones, %s\n",
		view__window(o, win, sizeof(win)));
	if (svc)
		view__col(out, "COMM", svc);
	view__col(out, "SIDE", side);
	view__col(out, "HOST (SNI, ELSE PEER)", name);
	if (peer)
		view__col(out, " PEER", peer);
	fprintf(out, " %6s %5s %7s %7s %7s\n", "HS", "FAIL", "P50", "P95", "P99");
	for (i = 0; i < r.n && i < o->top; i++) {
		const struct view_stats *v = &r.v[i].vs;
		struct series *se = r.v[i].se;

		if (svc) {
			view__col(out, lab(se, "comm"), svc - 1);
			fputc(' ', out);
		}
		view__col(out, lab(se, "role"), side - 1);
		fputc(' ', out);
		view__col(out, lab(se, "host"), name);
		if (peer) {
			fputc(' ', out);
			view__col(out, lab(se, "peer"), peer - 1);
		}
		fprintf(out, " %6lu %5lu %7s %7s %7s\n",
			(unsigned long)v->counters[TLS_HS_HANDSHAKES],
			(unsigned long)v->counters[TLS_HS_FAILURES],
			v->count ? view__dur(v->p50, a, sizeof(a)) : "-",
			v->count ? view__dur(v->p95, b, sizeof(b)) : "-",
			v->count ? view__dur(v->p99, c, sizeof(c)) : "-");
	}
	free(r.v);
	return (int)r.n;
}

static void tls_json(cJSON *obj, struct store *st, uint64_t now, const struct view_opts *o)
{
	struct family *sf = families__lookup(st, FAM_TLS_STATS);
	cJSON *tls = cJSON_AddObjectToObject(obj, "tls"), *arr;
	struct stat_acc a = { .now = now, .o = o };
	struct view_rows r;
	size_t i;

	if (!tls)
		return;
	arr = cJSON_AddArrayToObject(tls, "handshakes");
	view__collect(st, FAM_TLS_HANDSHAKE, now, o, keep_handshaking, &r);
	for (i = 0; arr && i < r.n; i++) {
		const struct view_stats *v = &r.v[i].vs;
		cJSON *e = cJSON_CreateObject();
		const struct label *l;
		unsigned int n = series__labels(r.v[i].se, &l), k;

		if (!e)
			break;
		for (k = 0; k < n; k++)
			if (l[k].value[0])	/* unknown attribution labels are left out */
				view__json_label(e, FAM_TLS_HANDSHAKE, l[k].key, l[k].value);
		cJSON_AddNumberToObject(e, "handshakes", (double)v->counters[TLS_HS_HANDSHAKES]);
		cJSON_AddNumberToObject(e, "failures", (double)v->counters[TLS_HS_FAILURES]);
		cJSON_AddNumberToObject(e, "seconds", v->seconds);
		view__json_latency(e, "handshake_ns", v);
		cJSON_AddItemToArray(arr, e);
	}
	free(r.v);
	a.obj = cJSON_AddObjectToObject(tls, "stats");
	if (a.obj && sf)
		family__for_each(sf, add_stat, &a);
}

const struct view_section view_tls = {
	.name = "tls",
	.text = tls_text,
	.json = tls_json,
};
