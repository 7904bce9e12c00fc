/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The HTTP section: routes served (slowest first, by p95) and calls made,
 * each row merging its status classes. Live, REQ/S and ERR% cover the last
 * refresh interval (the difference of whole-run totals since the previous
 * render), so a route that stops reads 0 at the next refresh; counts and
 * percentiles cover the longer window, and a row leaves when that window
 * holds no request (LAST says how long it has been idle). A server's ERR%
 * is 5xx only (what OpenTelemetry marks as a server error; a 4xx is the
 * client's), a client's counts 4xx and 5xx. Plus what the capture could
 * not parse or time.
 */
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "view/view.h"
#include "core/hist.h"
#include "proc/attrib.h"
#include "core/store.h"
#include "core/window.h"

/* Labels that make a row (status_class is merged away). */
/* rows are per container and pod too: the attribution labels (proc/attrib.h) close each list */
static const char *const server_keys[] = { "comm", "exe", "method", "route", "container_id",
					   "k8s_pod_name", "k8s_namespace_name", "k8s_node_name" };
static const char *const client_keys[] = { "comm", "exe", "host", "peer", "method", "container_id",
					   "k8s_pod_name", "k8s_namespace_name", "k8s_node_name" };
/* per provider (the host a client named: SNI, Host, else the peer) and route */
static const char *const provider_keys[] = { "comm", "exe", "host", "method", "route",
					     "container_id", "k8s_pod_name", "k8s_namespace_name",
					     "k8s_node_name" };
#define NKEYS_MAX 9

struct hrow {
	char *key;
	const char *val[NKEYS_MAX];	/* point into the series' labels */
	int overflow;
	struct hist *h;
	uint64_t req, e4, e5, by_class[6];
	uint64_t tot_req, tot_e4, tot_e5;	/* whole run */
	double now_rate, now_err;		/* over the last refresh interval */
	uint64_t idle_ns;			/* since a request was last seen */
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
	uint64_t c[HTTP_NCOUNTERS];
	const struct hist *h;
	struct hrow *row;
	double secs;
	unsigned int i;

	if (r->o->summary) {
		h = window__total_hist(w);
		for (i = 0; i < HTTP_NCOUNTERS; i++)
			c[i] = window__total_counter(w, i);
		secs = r->o->elapsed_ns / 1e9;
	} else {
		struct window_read wr;

		if (window__read(w, r->now, r->o->span_ns, r->tmp, &wr))
			return 0;
		for (i = 0; i < HTTP_NCOUNTERS; i++)
			c[i] = wr.counters[i];
		secs = wr.covered_ns / 1e9;
		h = r->tmp;
	}
	if (!c[HTTP_REQUESTS])
		return 0;
	row = row_for(r, se);
	if (!row)
		return 0;
	hist__merge(row->h, h);
	row->req += c[HTTP_REQUESTS];
	row->tot_req += window__total_counter(w, HTTP_REQUESTS);
	row->tot_e4 += window__total_counter(w, HTTP_ERRORS_4XX);
	row->tot_e5 += window__total_counter(w, HTTP_ERRORS_5XX);
	row->e4 += c[HTTP_ERRORS_4XX];
	row->e5 += c[HTTP_ERRORS_5XX];
	if (cls && cls[0] >= '1' && cls[0] <= '5')
		row->by_class[cls[0] - '0'] += c[HTTP_REQUESTS];
	if (secs > row->seconds)
		row->seconds = secs;
	return 0;
}

/*
 * What the previous live render saw per row (key -> whole-run totals), to
 * turn totals into rates over the refresh interval. Owned by this file;
 * one live view per process. Rows that left the view are dropped.
 */
struct prev_row {
	char *key;
	uint64_t req, e4, e5;
	uint64_t active_ns;	/* last render that saw requests */
};

static struct {
	struct prev_row *v;
	size_t n, cap;
	uint64_t at_ns;		/* that render's time; 0: none yet */
} prev[3];			/* server rows, client rows, provider routes */

static struct prev_row *prev_find(int which, const char *key)
{
	size_t i;

	for (i = 0; i < prev[which].n; i++)
		if (!strcmp(prev[which].v[i].key, key))
			return &prev[which].v[i];
	return NULL;
}

static void rates_now(struct hrows *r, int which, int client)
{
	uint64_t start = r->now - r->o->elapsed_ns;
	uint64_t since = prev[which].at_ns > start ? prev[which].at_ns : start;
	double dt = r->now > since ? (r->now - since) / 1e9 : 0;
	struct prev_row *nv;
	size_t i, n = 0;

	if (r->now == prev[which].at_ns)
		dt = 0;		/* rendered twice at one instant: keep what was said */
	nv = calloc(r->n ? r->n : 1, sizeof(*nv));
	for (i = 0; i < r->n; i++) {
		struct hrow *row = &r->v[i];
		struct prev_row *p = prev_find(which, row->key);
		uint64_t dreq = row->tot_req - (p ? p->req : 0);
		uint64_t derr = row->tot_e5 - (p ? p->e5 : 0);

		if (client)
			derr += row->tot_e4 - (p ? p->e4 : 0);
		row->now_rate = dt > 0 ? dreq / dt : 0;
		row->now_err = dreq ? 100.0 * (double)derr / (double)dreq : 0;
		row->idle_ns = dreq || !p ? 0 : r->now - p->active_ns;
		if (nv) {
			nv[n].key = strdup(row->key);
			if (!nv[n].key)
				continue;
			nv[n].req = row->tot_req;
			nv[n].e4 = row->tot_e4;
			nv[n].e5 = row->tot_e5;
			nv[n].active_ns = dreq || !p ? r->now : p->active_ns;
			n++;
		}
	}
	for (i = 0; i < prev[which].n; i++)
		free(prev[which].v[i].key);
	free(prev[which].v);
	prev[which].v = nv;
	prev[which].n = nv ? n : 0;
	prev[which].at_ns = r->now;
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

static size_t rows_collect(struct store *st, enum family_id family, const char *const *keys,
			   unsigned int nkeys, uint64_t now, const struct view_opts *o,
			   struct hrows *r)
{
	struct family *f = families__lookup(st, family);
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
	if (!o->summary)
		rates_now(r, family == FAM_HTTP_SERVER ? 0 : keys == provider_keys ? 2 : 1,
			  family != FAM_HTTP_SERVER);
	return r->n;
}

/* Whole-run (summary) error %: server 5xx only, client 4xx and 5xx. */
static double err_pct(const struct hrow *row, int client)
{
	uint64_t e = row->e5 + (client ? row->e4 : 0);

	return row->req ? 100.0 * (double)e / (double)row->req : 0;
}

static double rate(const struct hrow *row, const struct view_opts *o)
{
	if (!o->summary)
		return row->now_rate;
	return row->seconds > 0 ? (double)row->req / row->seconds : 0;
}

static double err_now(const struct hrow *row, const struct view_opts *o, int client)
{
	return o->summary ? err_pct(row, client) : row->now_err;
}

/* Columns of a row's tail; `wide` adds REQS (the window's count) and LAST. */
static void print_tail_head(FILE *out, int wide)
{
	fprintf(out, " %7s %5s %5s %5s", "REQ/S", "ERR%", "4XX", "5XX");
	if (wide)
		fprintf(out, " %7s", "REQS");
	fprintf(out, " %7s %7s %7s", "P50", "P95", "P99");
	if (wide)
		fprintf(out, " %6s", "LAST");
	fputc('\n', out);
}

#define TAIL_NARROW	50
#define TAIL_WIDE	(TAIL_NARROW + 8 + 7)

static void print_row_tail(FILE *out, const struct hrow *row, const struct view_opts *o,
			   int client, int wide)
{
	char a[16], b[16], c[16], last[16];

	fprintf(out, " %7.1f %5.1f %5lu %5lu", rate(row, o), err_now(row, o, client),
		(unsigned long)row->e4, (unsigned long)row->e5);
	if (wide)
		fprintf(out, " %7lu", (unsigned long)row->req);
	fprintf(out, " %7s %7s %7s", view__dur(row->p50, a, sizeof(a)),
		view__dur(row->p95, b, sizeof(b)), view__dur(row->p99, c, sizeof(c)));
	if (wide) {
		if (o->summary || !row->idle_ns)
			snprintf(last, sizeof(last), "now");
		else
			snprintf(last, sizeof(last), "-%.0fs", row->idle_ns / 1e9);
		fprintf(out, " %6s", last);
	}
	fputc('\n', out);
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
		cJSON_AddNumberToObject(a->obj, what, (double)vs.counters[STATS_COUNT]);
	} else if (vs.counters[STATS_COUNT]) {
		fprintf(a->out, "%s%s %lu", a->n ? ", " : "HTTP capture: ", what,
			(unsigned long)vs.counters[STATS_COUNT]);
		a->n++;
	}
	return 0;
}

static void stats(struct store *st, struct stat_arg *a)
{
	struct family *f = families__lookup(st, FAM_HTTP_STATS);

	if (f)
		family__for_each(f, stat_one, a);
}

/* "GET /path" */
static void method_route(char *buf, size_t len, const char *method, const char *route)
{
	snprintf(buf, len, "%s %s", method ? method : "?", route ? route : "?");
}

static int http_text(FILE *out, struct store *st, uint64_t now, const struct view_opts *o)
{
	struct hrows sr, cr;
	struct stat_arg sa = { .out = out, .now = now, .o = o };
	unsigned int cols = o->cols ? o->cols : 160, wide = cols >= 100, svc = cols >= 120 ? 16 : 0;
	unsigned int tail = wide ? TAIL_WIDE : TAIL_NARROW, name;
	char win[32], rwin[32], mr[600];
	size_t i, ns, nc;

	/* the name column takes what the numbers leave (cut with a visible "…") */
	name = cols > tail + svc + 12 ? cols - tail - svc : 12;
	if (name > 64)
		name = 64;
	view__window(o, win, sizeof(win));
	view__rate_window(o, rwin, sizeof(rwin));
	ns = rows_collect(st, FAM_HTTP_SERVER, server_keys, 8, now, o, &sr);
	nc = rows_collect(st, FAM_HTTP_CLIENT, client_keys, 9, now, o, &cr);
	if (ns) {
		fprintf(out, "HTTP SERVED, slowest first; REQ/S, ERR%% (5xx) %s; rest %s\n",
			rwin, win);
		if (svc)
			view__col(out, "SERVICE", svc);
		view__col(out, "ROUTE", name);
		print_tail_head(out, wide);
		for (i = 0; i < ns && i < o->top; i++) {
			const struct hrow *row = &sr.v[i];

			if (row->overflow) {
				if (svc)
					view__col(out, "(overflow)", svc);
				view__col(out, "(other routes)", name);
			} else {
				if (svc) {
					view__col(out, row->val[0] ? row->val[0] : "?", svc - 1);
					fputc(' ', out);
				}
				method_route(mr, sizeof(mr), row->val[2], row->val[3]);
				/* the middle goes: a route's end tells it apart (/{truncated}) */
				view__col_mid(out, mr, name);
			}
			print_row_tail(out, row, o, 0, wide);
		}
	}
	if (nc) {
		fprintf(out, "HTTP CALLS MADE, slowest first; REQ/S, ERR%% (4xx+5xx) %s; rest %s\n",
			rwin, win);
		if (svc)
			view__col(out, "COMM", svc);
		view__col(out, "CALL (METHOD HOST PEER)", name);
		print_tail_head(out, wide);
		for (i = 0; i < nc && i < o->top; i++) {
			const struct hrow *row = &cr.v[i];

			if (row->overflow) {
				if (svc)
					view__col(out, "(overflow)", svc);
				view__col(out, "(other calls)", name);
			} else {
				if (svc) {
					view__col(out, row->val[0] ? row->val[0] : "?", svc - 1);
					fputc(' ', out);
				}
				snprintf(mr, sizeof(mr), "%s %s %s", row->val[4] ? row->val[4] : "?",
					 row->val[2] && row->val[2][0] ? row->val[2] : "-",
					 row->val[3] ? row->val[3] : "?");
				view__col(out, mr, name);
			}
			print_row_tail(out, row, o, 1, wide);
		}
	}
	stats(st, &sa);
	if (sa.n)
		fputc('\n', out);
	rows_free(&sr);
	rows_free(&cr);
	return (int)(ns + nc) + sa.n;
}

static cJSON *rows_json(const struct hrows *r, const struct view_opts *o, int client)
{
	static const char *const cls[] = { "?", "1xx", "2xx", "3xx", "4xx", "5xx" };
	cJSON *arr = cJSON_CreateArray();
	size_t i;
	unsigned int k;

	for (i = 0; arr && i < r->n; i++) {
		const struct hrow *row = &r->v[i];
		cJSON *e = cJSON_CreateObject(), *byc;
		struct view_stats lat;

		if (!e)
			break;
		if (row->overflow)
			cJSON_AddBoolToObject(e, "overflow", 1);
		else
			for (k = 0; k < r->nkeys; k++)
				/* an attribution label that is not known is left out */
				if (k < r->nkeys - ATTRIB_NLABELS || (row->val[k] && row->val[k][0]))
					view__json_label(e, client ? FAM_HTTP_CLIENT : FAM_HTTP_SERVER,
							 r->keys[k], row->val[k] ? row->val[k] : "");
		cJSON_AddNumberToObject(e, "requests", (double)row->req);
		cJSON_AddNumberToObject(e, "errors_4xx", (double)row->e4);
		cJSON_AddNumberToObject(e, "errors_5xx", (double)row->e5);
		/* server: 5xx only; client: 4xx and 5xx (over the window or run) */
		cJSON_AddNumberToObject(e, "error_rate", err_pct(row, client) / 100.0);
		cJSON_AddNumberToObject(e, "rate_per_s", rate(row, o));
		if (!o->summary)
			cJSON_AddNumberToObject(e, "error_rate_now", row->now_err / 100.0);
		cJSON_AddNumberToObject(e, "seconds", row->seconds);
		byc = cJSON_AddObjectToObject(e, "status");
		for (k = 1; k < 6; k++)
			if (row->by_class[k])
				cJSON_AddNumberToObject(byc, cls[k], (double)row->by_class[k]);
		lat = (struct view_stats){ .count = hist__count(row->h), .p50 = row->p50,
					   .p90 = row->p90, .p95 = row->p95, .p99 = row->p99,
					   .max = row->max, .mean = row->mean };
		view__json_latency(e, "latency_ns", &lat);
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
	rows_collect(st, FAM_HTTP_SERVER, server_keys, 8, now, o, &r);
	cJSON_AddItemToObject(http, "server", rows_json(&r, o, 0));
	rows_free(&r);
	rows_collect(st, FAM_HTTP_CLIENT, client_keys, 9, now, o, &r);
	cJSON_AddItemToObject(http, "client", rows_json(&r, o, 1));
	rows_free(&r);
	rows_collect(st, FAM_HTTP_CLIENT, provider_keys, 9, now, o, &r);
	cJSON_AddItemToObject(http, "provider_routes", rows_json(&r, o, 1));
	rows_free(&r);
	sa.obj = cJSON_AddObjectToObject(http, "stats");
	if (sa.obj)
		stats(st, &sa);
}

static const char *http_hint(const struct view_opts *o)
{
	(void)o;
	return "no HTTP requests seen (HTTP/1.x over TCP, in clear text or through libssl; "
	       "HTTP/2 and Unix sockets are not seen)";
}

const struct view_section view_http = {
	.name = "http",
	.hint = http_hint,
	.text = http_text,
	.json = http_json,
};
