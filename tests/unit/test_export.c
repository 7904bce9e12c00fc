/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Export, piece by piece: OpenTelemetry -> Prometheus names, the text
 * format (escaping, cumulative buckets), the store -> snapshot collector
 * (caps, overflow, retirement, buckets, quantiles), OTLP JSON bodies, the
 * OTLP retry policy, gzip, and the /metrics server answering a real HTTP
 * client (libcurl) with plain, gzip and authorization cases.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <zlib.h>

#include "core/families.h"
#include "core/store.h"
#include "export/collect.h"
#include "export/gz.h"
#include "export/otlp.h"
#include "export/otlp_json.h"
#include "export/prom.h"
#include "export/promname.h"
#include "export/server.h"
#include "export/snapshot.h"

#define SEC 1000000000ULL
#define MS 1000000ULL

static void name_is(const char *otel, const char *unit, enum promname_kind k, const char *want)
{
	char buf[256];

	assert_true(promname__metric(buf, sizeof(buf), otel, unit, k) > 0);
	assert_string_equal(buf, want);
}

static void test_promname(void **state)
{
	char buf[256], tiny[8];

	(void)state;
	name_is("http.server.request.duration", "s", PROMNAME_HISTOGRAM,
		"http_server_request_duration_seconds");
	name_is("probe.syscall.calls", "{call}", PROMNAME_COUNTER, "probe_syscall_calls_total");
	name_is("probe.process.memory.growth", "By/s", PROMNAME_GAUGE,
		"probe_process_memory_growth_bytes_per_second");
	name_is("probe.alloc.call.rate", "{call}/s", PROMNAME_GAUGE, "probe_alloc_call_rate_per_second");
	name_is("probe.process.memory.growth.fit", "1", PROMNAME_GAUGE,
		"probe_process_memory_growth_fit_ratio");
	name_is("x.count", "1", PROMNAME_COUNTER, "x_count_total");
	/* a unit already at the end is not repeated, nor _total */
	name_is("probe.wait.seconds", "s", PROMNAME_GAUGE, "probe_wait_seconds");
	name_is("probe.events.total", "{event}", PROMNAME_COUNTER, "probe_events_total");
	name_is("odd-name..with  spaces", "", PROMNAME_GAUGE, "odd_name_with_spaces");
	name_is("probe.unknown", "furlongs", PROMNAME_GAUGE, "probe_unknown");
	assert_int_equal(promname__metric(tiny, sizeof(tiny), "http.server.request.duration", "s",
					  PROMNAME_GAUGE), -ENOSPC);
	assert_true(promname__label(buf, sizeof(buf), "http.response.status_code") > 0);
	assert_string_equal(buf, "http_response_status_code");
	assert_true(promname__label(buf, sizeof(buf), "9lives") > 0);
	assert_string_equal(buf, "key_9lives");
}

static void test_prom_number(void **state)
{
	char b[64];

	(void)state;
	prom__number(b, sizeof(b), 0.005);
	assert_string_equal(b, "0.005");
	prom__number(b, sizeof(b), 12);
	assert_string_equal(b, "12");
	prom__number(b, sizeof(b), 0.1 + 0.2);
	assert_true(strtod(b, NULL) == 0.1 + 0.2);
	prom__number(b, sizeof(b), 1.0 / 0.0);
	assert_string_equal(b, "+Inf");
	prom__number(b, sizeof(b), 0.0 / 0.0);
	assert_string_equal(b, "NaN");
}

/* Escaping and the histogram layout, checked line by line. */
static void test_prom_render(void **state)
{
	static const double bounds[] = { 0.1, 1 };
	struct snapshot *s = snapshot__new(1, 0);
	struct snap_attr a[2] = { { "http.route", "/a\"b\\c\nd" }, { "service.name", "x" } };
	struct snap_attr *attrs;
	struct snap_point *p;
	struct sbuf out = { 0 };
	uint64_t *buckets;
	int c, h;

	(void)state;
	assert_non_null(s);
	c = snapshot__metric(s, "probe.things", "{thing}", "help with \\ and\nnewline",
			     SNAP_COUNTER, NULL, 0);
	h = snapshot__metric(s, "http.server.request.duration", "s", "duration", SNAP_HISTOGRAM,
			     bounds, 2);
	assert_true(c >= 0 && h >= 0);
	assert_int_equal(snapshot__metric(s, "probe.things", "", "", SNAP_GAUGE, NULL, 0), -EEXIST);
	attrs = snapshot__attrs(s, a, 2);
	p = snapshot__point(s, c, attrs, 2);
	p->value = 3;
	buckets = snapshot__alloc(s, 3 * sizeof(*buckets));
	buckets[0] = 1;
	buckets[1] = 2;
	buckets[2] = 4;
	p = snapshot__point(s, h, attrs, 1);
	p->buckets = buckets;
	p->count = 7;
	p->sum = 12.5;
	/* a metric with no points leaves no HELP or TYPE behind */
	assert_true(snapshot__metric(s, "probe.empty", "", "", SNAP_GAUGE, NULL, 0) >= 0);
	assert_int_equal(snapshot__points(s), 2);
	assert_int_equal(prom__render(s, &out), 0);
	assert_string_equal(out.p,
		"# HELP probe_things_total help with \\\\ and\\nnewline\n"
		"# TYPE probe_things_total counter\n"
		"probe_things_total{http_route=\"/a\\\"b\\\\c\\nd\",service_name=\"x\"} 3\n"
		"# HELP http_server_request_duration_seconds duration\n"
		"# TYPE http_server_request_duration_seconds histogram\n"
		"http_server_request_duration_seconds_bucket{http_route=\"/a\\\"b\\\\c\\nd\",le=\"0.1\"} 1\n"
		"http_server_request_duration_seconds_bucket{http_route=\"/a\\\"b\\\\c\\nd\",le=\"1\"} 3\n"
		"http_server_request_duration_seconds_bucket{http_route=\"/a\\\"b\\\\c\\nd\",le=\"+Inf\"} 7\n"
		"http_server_request_duration_seconds_sum{http_route=\"/a\\\"b\\\\c\\nd\"} 12.5\n"
		"http_server_request_duration_seconds_count{http_route=\"/a\\\"b\\\\c\\nd\"} 7\n");
	sbuf__free(&out);
	snapshot__put(s);
}

/* Invalid UTF-8 in a label (a process name, a path) never reaches an exporter. */
static void test_attrs_made_utf8(void **state)
{
	struct snapshot *s = snapshot__new(1, 0);
	struct snap_attr a[2] = { { "k", "caf\xc3\xa9 \xe2\x82\xac ok" },
				  { "k2", "bad\xff\xc3(\xed\xa0\x80" "end\xc3" } };
	struct snap_attr *c;

	(void)state;
	c = snapshot__attrs(s, a, 2);
	assert_string_equal(c[0].value, "caf\xc3\xa9 \xe2\x82\xac ok");	/* valid: kept */
	assert_string_equal(c[1].value, "bad?" "?(" "???end?");
	snapshot__put(s);
}

static struct store *new_store(void)
{
	struct store_opts o = { .slot_ns = 10 * SEC, .nslots = 6 };
	struct store *s = store__new(&o);

	assert_non_null(s);
	return s;
}

static struct series *http_series(struct family *f, const char *comm, const char *route)
{
	struct label l[5] = { { "comm", comm }, { "exe", comm }, { "method", "GET" },
			      { "route", route }, { "status_class", "2xx" } };
	struct series *se = family__series(f, l, 5);

	assert_non_null(se);
	return se;
}

static const struct snap_metric *metric(const struct snapshot *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nmetrics; i++)
		if (!strcmp(s->metrics[i].name, name))
			return &s->metrics[i];
	return NULL;
}

static const char *attr(const struct snap_point *p, const char *key)
{
	unsigned int i;

	for (i = 0; i < p->nattrs; i++)
		if (!strcmp(p->attrs[i].key, key))
			return p->attrs[i].value;
	return NULL;
}

static double dropped(const struct snapshot *s, const char *family, const char *reason)
{
	const struct snap_metric *m = metric(s, "probe.series.dropped");
	size_t i;

	assert_non_null(m);
	for (i = 0; i < m->npoints; i++)
		if (!strcmp(attr(&m->points[i], "family"), family) &&
		    !strcmp(attr(&m->points[i], "reason"), reason))
			return m->points[i].value;
	fail_msg("no probe.series.dropped{%s,%s}", family, reason);
	return -1;
}

static struct snapshot *build(struct collector *c, struct store *st, uint64_t now)
{
	struct snapshot *s = snapshot__new(now, 0);

	assert_non_null(s);
	assert_int_equal(collector__build(c, st, now, s), 0);
	return s;
}

/* Buckets by bound, sum in seconds, quantiles, and the HTTP metric's name and attributes. */
static void test_collect_histogram(void **state)
{
	struct store *st = new_store();
	struct family *f = families__register(st, FAM_HTTP_SERVER, 100);
	struct collect_opts o = { .quantile_span_ns = 60 * SEC };
	static const double b[] = { 0.005, 0.1, 2.5, 5 };
	struct collector *c;
	struct snapshot *s;
	const struct snap_metric *m, *q;
	struct series *se;
	size_t i;
	int seen = 0;

	(void)state;
	memcpy(o.bounds[FAM_HTTP_SERVER], b, sizeof(b));
	o.nbounds[FAM_HTTP_SERVER] = 4;
	c = collector__new(&o);
	assert_non_null(c);
	se = http_series(f, "shop", "/slow");
	series__observe_n(se, SEC, 1 * MS, 10);	/* le 0.005 */
	series__observe_n(se, SEC, 50 * MS, 5);	/* le 0.1 */
	series__observe_n(se, SEC, 3000 * MS, 5);	/* le 5: between 2.5 and 5 */
	series__add(se, SEC, HTTP_REQUESTS, 20);
	s = build(c, st, 2 * SEC);
	m = metric(s, "http.server.request.duration");
	assert_non_null(m);
	assert_int_equal(m->kind, SNAP_HISTOGRAM);
	assert_string_equal(m->unit, "s");
	assert_int_equal(m->npoints, 1);
	assert_int_equal(m->points[0].count, 20);
	assert_int_equal(m->points[0].buckets[0], 10);
	assert_int_equal(m->points[0].buckets[1], 5);
	assert_int_equal(m->points[0].buckets[2], 0);
	assert_int_equal(m->points[0].buckets[3], 5);
	assert_int_equal(m->points[0].buckets[4], 0);
	assert_true(m->points[0].sum > 15.2 && m->points[0].sum < 15.3);
	assert_string_equal(attr(&m->points[0], "http.route"), "/slow");
	assert_string_equal(attr(&m->points[0], "service.name"), "shop");
	assert_string_equal(attr(&m->points[0], "http.request.method"), "GET");
	assert_string_equal(attr(&m->points[0], "http.response.status_code"), "2xx");
	/* requests are the histogram's count: no separate counter */
	assert_null(metric(s, "probe.http.requests"));
	q = metric(s, "probe.http.server.request.duration.window");
	assert_non_null(q);
	assert_int_equal(q->kind, SNAP_SUMMARY);
	assert_int_equal(q->npoints, 1);
	assert_int_equal(q->points[0].count, 20);
	for (i = 0; i < SNAP_QUANTILES; i++)
		if (snap_quantiles[i] == 0.95) {
			/* 3 s: inside the 2.5-5 s bucket, exact to 0.4 % */
			assert_true(q->points[0].quantiles[i] > 2.98 &&
				    q->points[0].quantiles[i] < 3.02);
			seen = 1;
		}
	assert_true(seen);
	snapshot__put(s);
	collector__free(c);
	store__free(st);
}

/* Per-service and per-family caps: an overflow series, drops counted once. */
static void test_collect_caps(void **state)
{
	struct store *st = new_store();
	struct family *f = families__register(st, FAM_HTTP_SERVER, 1000);
	struct collect_opts o = { .max_series_per_family = 8, .max_series_per_service = 5 };
	struct collector *c = collector__new(&o);
	struct snapshot *s;
	const struct snap_metric *m;
	char route[32];
	size_t i, overflow = 0, shop = 0, cart = 0;
	int k;

	(void)state;
	assert_non_null(c);
	for (k = 0; k < 20; k++) {
		snprintf(route, sizeof(route), "/p%d", k);
		series__observe_n(http_series(f, "shop", route), SEC, MS, 1);
	}
	for (k = 0; k < 20; k++) {
		snprintf(route, sizeof(route), "/q%d", k);
		series__observe_n(http_series(f, "cart", route), SEC, MS, 1);
	}
	s = build(c, st, 2 * SEC);
	m = metric(s, "http.server.request.duration");
	for (i = 0; i < m->npoints; i++) {
		const char *sv = attr(&m->points[i], "service.name");

		if (attr(&m->points[i], "overflow")) {
			overflow++;
			assert_int_equal(m->points[i].count, 40 - 8);
		} else {
			shop += !strcmp(sv, "shop");
			cart += !strcmp(sv, "cart");
		}
	}
	/* which series come first is the store's order; the bounds are not */
	assert_int_equal(overflow, 1);
	assert_true(shop <= 5 && cart <= 5);
	assert_int_equal(shop + cart, 8);
	assert_int_equal(m->npoints, 8 + 1);
	/* 15 shop series past the service cap, then the family is full */
	assert_true(dropped(s, "http_server", "service_cap") + dropped(s, "http_server",
								     "family_cap") == 32);
	snapshot__put(s);
	/* the same series again: admissions are stable, drops not counted twice */
	s = build(c, st, 3 * SEC);
	assert_true(dropped(s, "http_server", "service_cap") + dropped(s, "http_server",
								     "family_cap") == 32);
	assert_int_equal(collector__dropped(c), 32);
	snapshot__put(s);
	collector__free(c);
	store__free(st);
}

/* A series whose process exited is retired after the grace period, not before. */
static void test_collect_retire(void **state)
{
	struct store *st = new_store();
	struct family *f = families__register(st, FAM_SYSCALL, 0);
	struct collect_opts o = { .retire_ns = 5 * SEC };
	struct collector *c = collector__new(&o);
	char dead[16], alive[16];
	struct label l[3] = { { "pid", dead }, { "comm", "gone" }, { "syscall", "read" } };
	struct snapshot *s;
	const struct snap_metric *m;
	pid_t child = fork();

	(void)state;
	assert_true(child >= 0);
	if (!child)
		_exit(0);
	waitpid(child, NULL, 0);	/* reaped: the pid is gone */
	snprintf(dead, sizeof(dead), "%d", (int)child);
	snprintf(alive, sizeof(alive), "%d", (int)getpid());
	series__add(family__series(f, l, 3), SEC, SYSCALL_CALLS, 4);
	l[0].value = alive;
	series__add(family__series(f, l, 3), SEC, SYSCALL_CALLS, 7);
	s = build(c, st, 3 * SEC);	/* within the grace period: both */
	m = metric(s, "probe.syscall.calls");
	assert_int_equal(m->npoints, 2);
	snapshot__put(s);
	s = build(c, st, 10 * SEC);	/* past it: only the live process */
	m = metric(s, "probe.syscall.calls");
	assert_int_equal(m->npoints, 1);
	assert_string_equal(attr(&m->points[0], "process.pid"), alive);
	assert_true(m->points[0].value == 7);
	m = metric(s, "probe.export.series.retired");
	assert_true(m->points[0].value == 1);
	snapshot__put(s);
	collector__free(c);
	store__free(st);
}

/* host:port labels become two attributes; split counters share one metric. */
static void test_collect_hostport_and_split(void **state)
{
	struct store *st = new_store();
	struct family *f = families__register(st, FAM_TCP_CONNECT, 0);
	struct collect_opts o = { 0 };
	struct collector *c = collector__new(&o);
	struct label l[4] = { { "pid", "1" }, { "comm", "app" }, { "dest", "[::1]:6379" },
			      { "kind", "redis" } };
	struct series *se = family__series(f, l, 4);
	struct snapshot *s;
	const struct snap_metric *m;
	size_t i;

	(void)state;
	series__add(se, SEC, CC_REFUSED, 3);
	series__add(se, SEC, CC_TIMEOUT, 2);
	s = build(c, st, 2 * SEC);
	m = metric(s, "probe.tcp.connect.errors");
	assert_non_null(m);
	assert_int_equal(m->npoints, 5);	/* one per reason */
	for (i = 0; i < m->npoints; i++) {
		const char *why = attr(&m->points[i], "error.type");

		assert_string_equal(attr(&m->points[i], "server.address"), "::1");
		assert_string_equal(attr(&m->points[i], "server.port"), "6379");
		if (!strcmp(why, "refused"))
			assert_true(m->points[i].value == 3);
		if (!strcmp(why, "timeout"))
			assert_true(m->points[i].value == 2);
	}
	snapshot__put(s);
	collector__free(c);
	store__free(st);
}

struct bodies {
	int n;
	cJSON *last;
};

static int keep_body(char *body, size_t len, void *arg)
{
	struct bodies *b = arg;

	assert_int_equal(strlen(body), len);
	cJSON_Delete(b->last);
	b->last = cJSON_Parse(body);
	assert_non_null(b->last);
	free(body);
	b->n++;
	return 0;
}

static void test_otlp_json(void **state)
{
	static const double bounds[] = { 0.1, 1 };
	static const uint64_t buckets[] = { 1, 2, 3 };
	struct otlp_resource r = { "probe", "host1", "0.1" };
	struct snapshot *s = snapshot__new(2000, 1000);
	struct snap_attr a = { "http.route", "/x" };
	struct bodies b = { 0 };
	struct snap_point *p;
	cJSON *m, *dp;
	int c, h, i;

	(void)state;
	/* nothing to say: no body at all */
	assert_int_equal(otlp_json__render(s, &r, 0, keep_body, &b), 0);
	assert_int_equal(b.n, 0);
	c = snapshot__metric(s, "probe.things", "{thing}", "things", SNAP_COUNTER, NULL, 0);
	h = snapshot__metric(s, "http.server.request.duration", "s", "d", SNAP_HISTOGRAM, bounds, 2);
	for (i = 0; i < 3; i++) {
		p = snapshot__point(s, c, snapshot__attrs(s, &a, 1), 1);
		p->value = 5 + i;
	}
	p = snapshot__point(s, h, snapshot__attrs(s, &a, 1), 1);
	p->buckets = buckets;
	p->count = 6;
	p->sum = 2.5;
	assert_int_equal(otlp_json__render(s, &r, 0, keep_body, &b), 1);
	m = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(
		cJSON_GetObjectItem(b.last, "resourceMetrics"), 0), "scopeMetrics"), 0), "metrics");
	assert_int_equal(cJSON_GetArraySize(m), 2);
	dp = cJSON_GetObjectItem(cJSON_GetArrayItem(m, 0), "sum");
	assert_int_equal(cJSON_GetObjectItem(dp, "aggregationTemporality")->valueint, 2);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(dp, "isMonotonic")));
	dp = cJSON_GetArrayItem(cJSON_GetObjectItem(dp, "dataPoints"), 0);
	assert_string_equal(cJSON_GetObjectItem(dp, "asInt")->valuestring, "5");
	assert_string_equal(cJSON_GetObjectItem(dp, "startTimeUnixNano")->valuestring, "1000");
	assert_string_equal(cJSON_GetObjectItem(dp, "timeUnixNano")->valuestring, "2000");
	dp = cJSON_GetObjectItem(cJSON_GetArrayItem(m, 1), "histogram");
	assert_int_equal(cJSON_GetObjectItem(dp, "aggregationTemporality")->valueint, 2);
	dp = cJSON_GetArrayItem(cJSON_GetObjectItem(dp, "dataPoints"), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(dp, "bucketCounts")), 3);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(dp, "explicitBounds")), 2);
	assert_string_equal(cJSON_GetObjectItem(dp, "count")->valuestring, "6");
	/* 4 points, 3 per body: two bodies */
	b.n = 0;
	assert_int_equal(otlp_json__render(s, &r, 3, keep_body, &b), 2);
	cJSON_Delete(b.last);
	snapshot__put(s);
}

static void test_otlp_policy(void **state)
{
	(void)state;
	assert_true(otlp__retryable(429));
	assert_true(otlp__retryable(502));
	assert_true(otlp__retryable(503));
	assert_true(otlp__retryable(504));
	assert_true(otlp__retryable(0));
	assert_false(otlp__retryable(200));
	assert_false(otlp__retryable(400));
	assert_false(otlp__retryable(413));
	assert_false(otlp__retryable(500));
	assert_true(otlp__retry_delay(2, -1, 60) == 2);
	assert_true(otlp__retry_delay(2, 7, 60) == 7);	/* Retry-After wins */
	assert_true(otlp__retry_delay(2, 600, 60) == 60);	/* capped */
	assert_true(otlp__retry_delay(120, -1, 60) == 60);
}

static void test_gzip_roundtrip(void **state)
{
	static const char text[] = "probe_events_total{signal=\"http\"} 1\n";
	char *gz, out[256];
	size_t gzlen;
	z_stream z = { 0 };

	(void)state;
	assert_int_equal(gz__compress(text, sizeof(text) - 1, &gz, &gzlen), 0);
	assert_true((unsigned char)gz[0] == 0x1f && (unsigned char)gz[1] == 0x8b);
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = (Bytef *)gz;
	z.avail_in = (uInt)gzlen;
	z.next_out = (Bytef *)out;
	z.avail_out = sizeof(out);
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	assert_int_equal(sizeof(out) - z.avail_out, sizeof(text) - 1);
	assert_memory_equal(out, text, sizeof(text) - 1);
	inflateEnd(&z);
	free(gz);
}

static void test_parse_listen(void **state)
{
	struct sockaddr_storage ss;
	unsigned int len;

	(void)state;
	assert_int_equal(server__parse_listen("127.0.0.1:9464", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(server__parse_listen("[::1]:0", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(server__parse_listen("localhost:9464", &ss, &len), -EINVAL);
	assert_int_equal(server__parse_listen("127.0.0.1", &ss, &len), -EINVAL);
	assert_int_equal(server__parse_listen("127.0.0.1:99999", &ss, &len), -EINVAL);
	assert_int_equal(server__parse_listen("127.0.0.1:12x", &ss, &len), -EINVAL);
	assert_int_equal(server__parse_listen(":9464", &ss, &len), -EINVAL);
	assert_int_equal(server__parse_listen(NULL, &ss, &len), -EINVAL);
}

static struct snapshot *served;

static struct snapshot *serve_fixed(void *arg)
{
	(void)arg;
	return snapshot__get(served);
}

struct reply {
	long status;
	char body[4096];
	size_t len;
};

static size_t collect_body(char *p, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t k = size * n;

	if (r->len + k < sizeof(r->body)) {
		memcpy(r->body + r->len, p, k);
		r->len += k;
		r->body[r->len] = 0;
	}
	return k;
}

static void get(unsigned int port, const char *path, const char *encoding, const char *auth,
		struct reply *r)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = NULL;
	char url[128], line[256];

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
	if (encoding)	/* libcurl decodes, so the test compares decoded bodies */
		curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, encoding);
	if (auth) {
		snprintf(line, sizeof(line), "Authorization: %s", auth);
		hdr = curl_slist_append(hdr, line);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	}
	assert_int_equal(curl_easy_perform(h), CURLE_OK);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
}

static void test_server(void **state)
{
	struct server_opts o = { .listen = "127.0.0.1:0", .max_connections = 4, .timeout_s = 5 };
	struct snap_attr a = { "signal", "http" };
	struct server_stats st;
	struct reply plain, gz, r;
	struct server *srv;
	char err[256];
	int idx;

	(void)state;
	served = snapshot__new(1, 0);
	idx = snapshot__metric(served, "probe.events", "{event}", "events", SNAP_COUNTER, NULL, 0);
	snapshot__point(served, idx, snapshot__attrs(served, &a, 1), 1)->value = 42;
	srv = server__new(&o, serve_fixed, NULL, err, sizeof(err));
	assert_non_null(srv);
	assert_true(server__port(srv) > 0);
	get(server__port(srv), "/metrics", NULL, NULL, &plain);
	assert_int_equal(plain.status, 200);
	assert_non_null(strstr(plain.body, "probe_events_total{signal=\"http\"} 42\n"));
	get(server__port(srv), "/metrics", "gzip", NULL, &gz);
	assert_int_equal(gz.status, 200);
	assert_int_equal(gz.len, plain.len);
	assert_memory_equal(gz.body, plain.body, plain.len);
	get(server__port(srv), "/nope", NULL, NULL, &r);
	assert_int_equal(r.status, 404);
	server__stats(srv, &st);
	assert_int_equal(st.scrapes, 2);
	assert_int_equal(st.gzip, 1);
	server__free(srv);

	/* a bearer token: wrong or missing -> 401, right -> 200 */
	o.bearer_token = "s3cret";
	srv = server__new(&o, serve_fixed, NULL, err, sizeof(err));
	assert_non_null(srv);
	get(server__port(srv), "/metrics", NULL, NULL, &r);
	assert_int_equal(r.status, 401);
	get(server__port(srv), "/metrics", NULL, "Bearer s3creT", &r);
	assert_int_equal(r.status, 401);
	get(server__port(srv), "/metrics", NULL, "Bearer s3cret", &r);
	assert_int_equal(r.status, 200);
	server__free(srv);

	/* basic auth: user:pass in base64 */
	o.bearer_token = NULL;
	o.basic_user = "prom";
	o.basic_password = "pw";
	srv = server__new(&o, serve_fixed, NULL, err, sizeof(err));
	assert_non_null(srv);
	get(server__port(srv), "/metrics", NULL, "Basic cHJvbTpwdw==", &r);	/* prom:pw */
	assert_int_equal(r.status, 200);
	get(server__port(srv), "/metrics", NULL, "Basic cHJvbTpwVw==", &r);	/* prom:pW */
	assert_int_equal(r.status, 401);
	server__free(srv);

	/* an address in use is a clear error, not a crash */
	o.basic_user = o.basic_password = NULL;
	srv = server__new(&o, serve_fixed, NULL, err, sizeof(err));
	assert_non_null(srv);
	{
		char in_use[64];
		struct server *again;

		snprintf(in_use, sizeof(in_use), "127.0.0.1:%u", server__port(srv));
		o.listen = in_use;
		again = server__new(&o, serve_fixed, NULL, err, sizeof(err));
		assert_null(again);
		assert_non_null(strstr(err, "in use"));
	}
	server__free(srv);
	snapshot__put(served);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_promname),
		cmocka_unit_test(test_prom_number),
		cmocka_unit_test(test_prom_render),
		cmocka_unit_test(test_attrs_made_utf8),
		cmocka_unit_test(test_collect_histogram),
		cmocka_unit_test(test_collect_caps),
		cmocka_unit_test(test_collect_retire),
		cmocka_unit_test(test_collect_hostport_and_split),
		cmocka_unit_test(test_otlp_json),
		cmocka_unit_test(test_otlp_policy),
		cmocka_unit_test(test_gzip_roundtrip),
		cmocka_unit_test(test_parse_listen),
		cmocka_unit_test(test_server),
	};
	int ret;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return ret;
}
