/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The HTTP section: routes served (slowest first, by p95) and calls made,
 * each row merging its status classes: rate, error %, 4xx, 5xx and
 * percentiles over all of its requests. Plus what the capture could not
 * parse or time.
 */
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "out/view.h"
#include "core/hist.h"
#include "core/store.h"
#include "core/window.h"

enum { HC_REQUESTS, HC_4XX, HC_5XX };

/* Labels that make a row (status_class is merged away). */
static const char *const server_keys[] = { "comm", "exe", "method", "route" };
static const char *const client_keys[] = { "comm", "exe", "host", "peer", "method" };
/* per provider (the host a client named: SNI, Host, else the peer) and route */
static const char *const provider_keys[] = { "comm", "exe", "host", "method", "route" };
#define NKEYS_MAX 5

struct hrow {
	char *key;
	const char *val[NKEYS_MAX];	/* point into the series' labels */
	int overflow;
	struct hist *h;
	uint64_t req, e4, e5, by_class[6];
	double seconds;
	uint64_t p50, p90, p95, p99, max;
	double mean;
};

struct hrows {
	struct hrow *v;
	size_t n, cap;
	size_t *slots;		/* open addressing over v, by key hash */
	size_t nslots;
	const char *const *keys;
	unsigned int nkeys;
	uint64_t now;
	const struct view_opts *o;
	struct hist *tmp;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int grow(struct hrows *r)
{
	size_t cap = r->cap ? r->cap * 2 : 64, i, j;
	struct hrow *v = realloc(r->v, cap * sizeof(*v));
	size_t *slots;

	if (!v)
		return -1;
	r->v = v;
	r->cap = cap;
	slots = malloc(cap * 2 * sizeof(*slots));
	if (!slots)
		return -1;
	for (i = 0; i < cap * 2; i++)
		slots[i] = (size_t)-1;
	for (i = 0; i < r->n; i++) {
		j = hash_str(r->v[i].key) & (cap * 2 - 1);
		while (slots[j] != (size_t)-1)
			j = (j + 1) & (cap * 2 - 1);
		slots[j] = i;
	}
	free(r->slots);
	r->slots = slots;
	r->nslots = cap * 2;
	return 0;
}

static struct hrow *row_for(struct hrows *r, struct series *se)
{
	char key[1024];
	size_t len = 0, j;
	unsigned int k;
	struct hrow *row;
	int overflow = series__label(se, "overflow") != NULL;

	key[0] = 0;
	for (k = 0; k < r->nkeys; k++) {
		const char *v = series__label(se, r->keys[k]);

		len += snprintf(key + len, sizeof(key) - len, "%s\x1f", v ? v : "");
		if (len >= sizeof(key))
			len = sizeof(key) - 1;
	}
	if (overflow)
		snprintf(key, sizeof(key), "\x1foverflow");
	if (r->n == r->cap && grow(r))
		return NULL;
	j = hash_str(key) & (r->nslots - 1);
	for (; r->slots[j] != (size_t)-1; j = (j + 1) & (r->nslots - 1))
		if (!strcmp(r->v[r->slots[j]].key, key))
			return &r->v[r->slots[j]];
	row = &r->v[r->n];
	memset(row, 0, sizeof(*row));
	row->key = strdup(key);
	row->h = hist__new();
	if (!row->key || !row->h) {
		free(row->key);
		hist__free(row->h);
		return NULL;
	}
	row->overflow = overflow;
	for (k = 0; k < r->nkeys; k++)
		row->val[k] = series__label(se, r->keys[k]);
	r->slots[j] = r->n++;
	return row;
}

static int add_series(struct series *se, void *arg)
{
	struct hrows *r = arg;
	struct window *w = series__window(se);
	const char *cls = series__label(se, "status_class");
	uint64_t c[3];
	const struct hist *h;
	struct hrow *row;
	double secs;
	unsigned int i;

	if (r->o->summary) {
		h = window__total_hist(w);
		for (i = 0; i < 3; i++)
			c[i] = window__total_counter(w, i);
		secs = r->o->elapsed_ns / 1e9;
	} else {
		struct window_read wr;

		if (window__read(w, r->now, r->o->span_ns, r->tmp, &wr))
			return 0;
		for (i = 0; i < 3; i++)
			c[i] = wr.counters[i];
		secs = wr.covered_ns / 1e9;
		h = r->tmp;
	}
	if (!c[HC_REQUESTS])
		return 0;
	row = row_for(r, se);
	if (!row)
		return 0;
	hist__merge(row->h, h);
	row->req += c[HC_REQUESTS];
	row->e4 += c[HC_4XX];
	row->e5 += c[HC_5XX];
	if (cls && cls[0] >= '1' && cls[0] <= '5')
		row->by_class[cls[0] - '0'] += c[HC_REQUESTS];
	if (secs > row->seconds)
		row->seconds = secs;
	return 0;
}

/* Slowest first: p95, then p99, then the busier row. */
static int by_p95(const void *a, const void *b)
{
	const struct hrow *x = a, *y = b;

	if (x->p95 != y->p95)
		return x->p95 < y->p95 ? 1 : -1;
	if (x->p99 != y->p99)
		return x->p99 < y->p99 ? 1 : -1;
	return x->req < y->req ? 1 : x->req > y->req ? -1 : 0;
}

static void rows_free(struct hrows *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->v[i].key);
		hist__free(r->v[i].h);
	}
	free(r->v);
	free(r->slots);
	hist__free(r->tmp);
}

static size_t rows_collect(struct store *st, const char *family, const char *const *keys,
			   unsigned int nkeys, uint64_t now, const struct view_opts *o,
			   struct hrows *r)
{
	struct family *f = store__find_family(st, family);
	size_t i;

	memset(r, 0, sizeof(*r));
	r->keys = keys;
	r->nkeys = nkeys;
	r->now = now;
	r->o = o;
	if (!f)
		return 0;
	r->tmp = hist__new();
	if (!r->tmp)
		return 0;
	family__for_each(f, add_series, r);
	for (i = 0; i < r->n; i++) {
		struct hrow *row = &r->v[i];

		row->p50 = hist__quantile(row->h, 0.50);
		row->p90 = hist__quantile(row->h, 0.90);
		row->p95 = hist__quantile(row->h, 0.95);
		row->p99 = hist__quantile(row->h, 0.99);
		row->max = hist__max(row->h);
		row->mean = hist__mean(row->h);
	}
	if (r->n)
		qsort(r->v, r->n, sizeof(*r->v), by_p95);
	return r->n;
}

static double err_pct(const struct hrow *row)
{
	return row->req ? 100.0 * (double)(row->e4 + row->e5) / (double)row->req : 0;
}

static double rate(const struct hrow *row)
{
	return row->seconds > 0 ? (double)row->req / row->seconds : 0;
}

static void print_row_tail(FILE *out, const struct hrow *row)
{
	char a[16], b[16], c[16];

	fprintf(out, " %8.1f %8lu %6.1f %6lu %6lu %9s %9s %9s\n", rate(row),
		(unsigned long)row->req, err_pct(row), (unsigned long)row->e4,
		(unsigned long)row->e5, view__dur(row->p50, a, sizeof(a)),
		view__dur(row->p95, b, sizeof(b)), view__dur(row->p99, c, sizeof(c)));
}

struct stat_arg {
	FILE *out;
	cJSON *obj;
	uint64_t now;
	const struct view_opts *o;
	int n;
};

static int stat_one(struct series *se, void *arg)
{
	struct stat_arg *a = arg;
	const char *what = series__label(se, "what");
	struct view_stats vs;

	if (!what || view__stats(se, a->now, a->o, &vs))
		return 0;
	if (a->obj) {
		cJSON_AddNumberToObject(a->obj, what, (double)vs.counters[0]);
	} else if (vs.counters[0]) {
		fprintf(a->out, "%s%s %lu", a->n ? ", " : "HTTP capture: ", what,
			(unsigned long)vs.counters[0]);
		a->n++;
	}
	return 0;
}

static void stats(struct store *st, struct stat_arg *a)
{
	struct family *f = store__find_family(st, "http_stats");

	if (f)
		family__for_each(f, stat_one, a);
}

static int http_text(FILE *out, struct store *st, uint64_t now, const struct view_opts *o)
{
	struct hrows sr, cr;
	struct stat_arg sa = { .out = out, .now = now, .o = o };
	size_t i, ns, nc;

	ns = rows_collect(st, "http_server", server_keys, 4, now, o, &sr);
	nc = rows_collect(st, "http_client", client_keys, 5, now, o, &cr);
	if (ns) {
		fprintf(out, "HTTP SERVER (slowest first by p95, top %u)\n", o->top);
		fprintf(out, "%-15s %-7s %-34s %8s %8s %6s %6s %6s %9s %9s %9s\n", "SERVICE",
			"METHOD", "ROUTE", "REQ/S", "REQS", "ERR%", "4XX", "5XX", "P50", "P95",
			"P99");
		for (i = 0; i < ns && i < o->top; i++) {
			const struct hrow *row = &sr.v[i];

			if (row->overflow)
				fprintf(out, "%-15s %-7s %-34s", "(overflow)", "-", "-");
			else
				fprintf(out, "%-15.15s %-7s %-34.34s", row->val[0] ? row->val[0] : "?",
					row->val[2] ? row->val[2] : "?",
					row->val[3] ? row->val[3] : "?");
			print_row_tail(out, row);
		}
	}
	if (nc) {
		fprintf(out, "HTTP CLIENT (slowest first by p95, top %u)\n", o->top);
		fprintf(out, "%-15s %-7s %-22s %-21s %8s %8s %6s %6s %6s %9s %9s %9s\n", "COMM",
			"METHOD", "HOST", "PEER", "REQ/S", "REQS", "ERR%", "4XX", "5XX", "P50",
			"P95", "P99");
		for (i = 0; i < nc && i < o->top; i++) {
			const struct hrow *row = &cr.v[i];

			if (row->overflow)
				fprintf(out, "%-15s %-7s %-22s %-21s", "(overflow)", "-", "-", "-");
			else
				fprintf(out, "%-15.15s %-7s %-22.22s %-21.21s",
					row->val[0] ? row->val[0] : "?",
					row->val[4] ? row->val[4] : "?",
					row->val[2] ? row->val[2] : "?",
					row->val[3] ? row->val[3] : "?");
			print_row_tail(out, row);
		}
	}
	stats(st, &sa);
	if (sa.n)
		fputc('\n', out);
	rows_free(&sr);
	rows_free(&cr);
	return (int)(ns + nc) + sa.n;
}

static cJSON *rows_json(const struct hrows *r)
{
	static const char *const cls[] = { "?", "1xx", "2xx", "3xx", "4xx", "5xx" };
	cJSON *arr = cJSON_CreateArray();
	size_t i;
	unsigned int k;

	for (i = 0; arr && i < r->n; i++) {
		const struct hrow *row = &r->v[i];
		cJSON *e = cJSON_CreateObject(), *lat, *byc;

		if (!e)
			break;
		if (row->overflow)
			cJSON_AddBoolToObject(e, "overflow", 1);
		else
			for (k = 0; k < r->nkeys; k++)
				cJSON_AddStringToObject(e, r->keys[k], row->val[k] ? row->val[k] : "");
		cJSON_AddNumberToObject(e, "requests", (double)row->req);
		cJSON_AddNumberToObject(e, "errors_4xx", (double)row->e4);
		cJSON_AddNumberToObject(e, "errors_5xx", (double)row->e5);
		cJSON_AddNumberToObject(e, "error_rate",
					row->req ? (double)(row->e4 + row->e5) / (double)row->req : 0);
		cJSON_AddNumberToObject(e, "rate_per_s", rate(row));
		cJSON_AddNumberToObject(e, "seconds", row->seconds);
		byc = cJSON_AddObjectToObject(e, "status");
		for (k = 1; k < 6; k++)
			if (row->by_class[k])
				cJSON_AddNumberToObject(byc, cls[k], (double)row->by_class[k]);
		lat = cJSON_AddObjectToObject(e, "latency_ns");
		cJSON_AddNumberToObject(lat, "count", (double)hist__count(row->h));
		cJSON_AddNumberToObject(lat, "p50", (double)row->p50);
		cJSON_AddNumberToObject(lat, "p90", (double)row->p90);
		cJSON_AddNumberToObject(lat, "p95", (double)row->p95);
		cJSON_AddNumberToObject(lat, "p99", (double)row->p99);
		cJSON_AddNumberToObject(lat, "max", (double)row->max);
		cJSON_AddNumberToObject(lat, "mean", row->mean);
		cJSON_AddItemToArray(arr, e);
	}
	return arr;
}

static void http_json(cJSON *obj, struct store *st, uint64_t now, const struct view_opts *o)
{
	cJSON *http = cJSON_AddObjectToObject(obj, "http");
	struct stat_arg sa = { .now = now, .o = o };
	struct hrows r;

	if (!http)
		return;
	rows_collect(st, "http_server", server_keys, 4, now, o, &r);
	cJSON_AddItemToObject(http, "server", rows_json(&r));
	rows_free(&r);
	rows_collect(st, "http_client", client_keys, 5, now, o, &r);
	cJSON_AddItemToObject(http, "client", rows_json(&r));
	rows_free(&r);
	rows_collect(st, "http_client", provider_keys, 5, now, o, &r);
	cJSON_AddItemToObject(http, "provider_routes", rows_json(&r));
	rows_free(&r);
	sa.obj = cJSON_AddObjectToObject(http, "stats");
	if (sa.obj)
		stats(st, &sa);
}

const struct view_section view_http = {
	.name = "http",
	.text = http_text,
	.json = http_json,
};
