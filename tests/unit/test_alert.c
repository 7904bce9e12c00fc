/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Unit tests for user/alert/: the rule parser (defaults, merging by name,
 * every bad field named), the state machine (pending, firing, hysteresis,
 * flapping), the engine over a real store (one trigger per incident,
 * resolve with the same dedup key, the alert text) and the sinks' bodies.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "config.h"
#include "alert/deliver.h"
#include "alert/engine.h"
#include "core/families.h"
#include "core/store.h"

#define ERRLEN 512
#define SEC 1000000000ULL

static struct probe_config *load(const char *user, char *err, int *ret)
{
	struct probe_config *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	*ret = config__apply_json(c, config__default_json, "default", err, ERRLEN);
	assert_int_equal(*ret, 0);
	if (user)
		*ret = config__apply_json(c, user, "my.json", err, ERRLEN);
	return c;
}

static const struct alert_rule *rule(const struct probe_config *c, const char *name)
{
	unsigned int i;

	for (i = 0; i < c->alerts.nrules; i++)
		if (!strcmp(c->alerts.rules[i].name, name))
			return &c->alerts.rules[i];
	return NULL;
}

static void test_default_rules(void **state)
{
	static const char *const names[] = { "route_slow", "route_errors", "db_connect_failures",
		"query_slow", "memory_leak", "syscall_errors", "probe_event_loss" };
	char err[ERRLEN] = "";
	int ret;
	struct probe_config *c = load(NULL, err, &ret);
	const struct alert_rule *r;
	size_t i;

	(void)state;
	assert_int_equal(c->alerts.nrules, 7);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_non_null(rule(c, names[i]));
	r = rule(c, "route_slow");
	assert_int_equal(r->kind, AV_QUANTILE);
	assert_true(fabs(r->quantile - 0.95) < 1e-9);
	assert_true(r->above == 3 && r->clear == 2.5 && r->for_s == 300);
	assert_int_equal(r->ngroup, 4);
	r = rule(c, "route_errors");
	assert_int_equal(r->kind, AV_RATIO);
	assert_int_equal(r->metric, HTTP_ERRORS_5XX);
	assert_int_equal(r->metric2, HTTP_REQUESTS);
	assert_true(r->min_count == 50);
	r = rule(c, "memory_leak");
	assert_int_equal(r->kind, AV_GAUGE);
	assert_int_equal(r->metric, ML_SUSPECT);
	r = rule(c, "db_connect_failures");
	assert_int_equal(r->kind, AV_RATE);
	assert_int_equal(r->metric, CC_FAILED);
	assert_int_equal(r->nselect, 1);
	assert_int_equal(c->alerts.nsinks, 0);
	assert_int_equal(c->alerts.queue, 256);
	free(c);
}

static void test_merge_by_name(void **state)
{
	char err[ERRLEN] = "";
	int ret;
	struct probe_config *c = load("{\"alerts\": {\"rules\": ["
		"{\"name\": \"route_slow\", \"above\": 1},"
		"{\"name\": \"syscall_errors\", \"enabled\": false},"
		"{\"name\": \"mine\", \"family\": \"db_query\", \"value\": \"p99\", \"above\": 0.2,"
		" \"select\": {\"comm\": [\"api*\", \"worker\"]}, \"labels\": {\"team\": \"db\"}}]}}",
		err, &ret);
	const struct alert_rule *r;

	(void)state;
	assert_int_equal(ret, 0);
	assert_int_equal(c->alerts.nrules, 8);
	r = rule(c, "route_slow");
	assert_true(r->above == 1);
	assert_true(fabs(r->clear - 0.9) < 1e-9);	/* 10 % band when above changes alone */
	assert_true(r->for_s == 300);			/* the rest kept */
	assert_false(rule(c, "syscall_errors")->enabled);
	r = rule(c, "mine");
	/* every label of db_query by default */
	assert_int_equal(r->ngroup, families__get(FAM_DB_QUERY)->nlabels);
	assert_int_equal(r->select[0].nvalues, 2);
	assert_string_equal(r->labels[0].value, "db");
	free(c);
}

/* Every bad rule names the file, the rule and the field. */
static void test_bad_rules(void **state)
{
	static const struct { const char *json, *want; } cases[] = {
		{ "[{\"name\": \"x\", \"family\": \"nope\", \"value\": \"p95\", \"above\": 1}]",
		  "my.json: alerts.rules[0] \"x\": family: no store family \"nope\"" },
		{ "[{\"name\": \"x\", \"family\": \"http_server\", \"value\": \"p100\", \"above\": 1}]",
		  "my.json: alerts.rules[0] \"x\": value: " },
		{ "[{\"name\": \"x\", \"family\": \"http_server\", \"value\": \"rate:nope\", \"above\": 1}]",
		  "\"x\": value: family http_server declares no counter \"nope\"" },
		{ "[{\"name\": \"x\", \"family\": \"mem_growth\", \"value\": \"p95\", \"above\": 1}]",
		  "\"x\": value: family mem_growth keeps no histogram" },
		{ "[{\"name\": \"x\", \"family\": \"http_server\", \"value\": \"p95\"}]",
		  "\"x\": above: missing" },
		{ "[{\"name\": \"x\", \"family\": \"http_server\", \"value\": \"p95\", \"above\": \"3\"}]",
		  "\"x\": above: expected a number" },
		{ "[{\"name\": \"x\", \"family\": \"http_server\", \"value\": \"p95\", \"above\": 1,"
		  " \"clear\": 2}]", "\"x\": clear: 2 is above the threshold 1" },
		{ "[{\"name\": \"x\", \"family\": \"http_server\", \"value\": \"p95\", \"above\": 1,"
		  " \"group_by\": [\"pid\"]}]", "\"x\": group_by: family http_server has no label \"pid\"" },
		{ "[{\"name\": \"x\", \"family\": \"http_server\", \"value\": \"p95\", \"above\": 1,"
		  " \"select\": {\"container\": \"web\"}}]", "\"x\": select: family http_server has no label" },
		{ "[{\"name\": \"x\", \"family\": \"http_server\", \"value\": \"p95\", \"above\": 1,"
		  " \"labels\": {\"severity\": \"x\"}}]", "\"x\": labels: \"severity\" is not a usable" },
		{ "[{\"name\": \"x\", \"family\": \"http_server\", \"value\": \"p95\", \"above\": 1,"
		  " \"severity\": \"loud\"}]", "\"x\": severity: expected" },
		{ "[{\"name\": \"x\", \"family\": \"http_server\", \"value\": \"p95\", \"above\": 1,"
		  " \"for\": 5}]", "\"x\": for: unknown key" },
		{ "[{\"name\": \"x\", \"family\": \"http_server\", \"value\": \"p95\", \"above\": 1,"
		  " \"for_s\": -1}]", "\"x\": for_s: out of range" },
		{ "[{\"family\": \"http_server\"}]", "my.json: alerts.rules[0]: name: expected a name" },
		{ "[{\"name\": \"bad name\"}]", "alerts.rules[0]: name:" },
		{ "[3]", "alerts.rules[0]: rule: expected an object" },
		{ "{}", "my.json: alerts.rules: expected an array of rules" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[1024], err[ERRLEN] = "";
		int ret;
		struct probe_config *c;

		snprintf(text, sizeof(text), "{\"alerts\": {\"rules\": %s}}", cases[i].json);
		c = load(text, err, &ret);
		if (ret >= 0 || !strstr(err, cases[i].want)) {
			print_error("case %zu: ret %d, err '%s', want '%s'\n", i, ret, err,
				    cases[i].want);
			fail();
		}
		free(c);
	}
}

static void test_sinks(void **state)
{
	char err[ERRLEN] = "", path[] = "/tmp/probe-test-secretXXXXXX", text[1024];
	struct probe_config *c;
	FILE *f;
	int ret, fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("R0UTINGKEY123\n", f);
	fclose(f);
	snprintf(text, sizeof(text), "{\"alerts\": {\"sinks\": ["
		 "{\"type\": \"pagerduty\", \"routing_key_file\": \"%s\"},"
		 "{\"type\": \"slack\", \"url\": \"https://hooks.example/T/B/secret\", \"name\": \"ops\"},"
		 "{\"type\": \"stdout\"}]}}", path);
	c = load(text, err, &ret);
	assert_int_equal(ret, 0);
	assert_int_equal(c->alerts.nsinks, 3);
	assert_string_equal(c->alerts.sinks[0].routing_key, "R0UTINGKEY123");
	assert_string_equal(c->alerts.sinks[0].url, "https://events.pagerduty.com/v2/enqueue");
	assert_string_equal(c->alerts.sinks[1].name, "ops");
	free(c);
	unlink(path);

	/* a bad URL is named by sink and field, and the URL is not echoed */
	c = load("{\"alerts\": {\"sinks\": [{\"type\": \"slack\", \"url\": \"ftp://tok3n\"}]}}",
		 err, &ret);
	assert_true(ret < 0);
	assert_non_null(strstr(err, "alerts.sinks[0] \"slack#0\": url: must start with http://"));
	assert_null(strstr(err, "tok3n"));
	free(c);
	c = load("{\"alerts\": {\"sinks\": [{\"type\": \"pagerduty\", \"routing_key_file\": "
		 "\"/nonexistent/key\"}]}}", err, &ret);
	assert_true(ret < 0);
	assert_non_null(strstr(err, "routing_key_file: /nonexistent/key: No such file"));
	free(c);
	c = load("{\"alerts\": {\"sinks\": [{\"type\": \"pagerduty\"}]}}", err, &ret);
	assert_true(ret < 0);
	assert_non_null(strstr(err, "routing_key: missing"));
	free(c);
}

static struct alert_rule simple_rule(double above, double clear, double for_s, double keep,
				     double repeat)
{
	struct alert_rule r;

	memset(&r, 0, sizeof(r));
	strcpy(r.name, "t");
	r.enabled = 1;
	r.above = above;
	r.clear = clear;
	r.for_s = for_s;
	r.keep_firing_s = keep;
	r.repeat_s = repeat;
	return r;
}

static void test_state_basic(void **state)
{
	struct alert_rule r = simple_rule(3, 2.5, 30, 60, 100);
	struct alert_state s;
	double t;

	(void)state;
	alert_state__init(&s);
	assert_int_equal(alert_state__step(&s, &r, 1, 2, 0, 0), ALERT_NONE);
	assert_int_equal(s.state, AS_INACTIVE);
	assert_int_equal(alert_state__step(&s, &r, 1, 4, 10, 0), ALERT_NONE);
	assert_int_equal(s.state, AS_PENDING);
	/* between clear and above: still pending */
	assert_int_equal(alert_state__step(&s, &r, 1, 2.8, 20, 0), ALERT_NONE);
	assert_int_equal(s.state, AS_PENDING);
	assert_int_equal(alert_state__step(&s, &r, 1, 4, 40, 0), ALERT_TRIGGER);
	assert_int_equal(s.state, AS_FIRING);
	/* no value (traffic stopped) counts as below */
	assert_int_equal(alert_state__step(&s, &r, 0, 0, 50, 0), ALERT_NONE);
	assert_int_equal(alert_state__step(&s, &r, 1, 4, 60, 0), ALERT_NONE);
	for (t = 70; t < 140; t += 10)
		assert_int_equal(alert_state__step(&s, &r, 1, 4, t, 0), t >= 140 ? ALERT_REPEAT
												   : ALERT_NONE);
	assert_int_equal(alert_state__step(&s, &r, 1, 4, 140, 0), ALERT_REPEAT);
	assert_int_equal(alert_state__step(&s, &r, 1, 1, 150, 0), ALERT_NONE);
	assert_int_equal(alert_state__step(&s, &r, 1, 1, 209, 0), ALERT_NONE);
	assert_int_equal(alert_state__step(&s, &r, 1, 1, 210, 0), ALERT_RESOLVE);
	assert_int_equal(s.state, AS_RESOLVED);
	/* pending falls back without firing; a pending below for_s never fires */
	assert_int_equal(alert_state__step(&s, &r, 1, 4, 300, 0), ALERT_NONE);
	assert_int_equal(alert_state__step(&s, &r, 1, 1, 310, 0), ALERT_NONE);
	assert_int_equal(s.state, AS_INACTIVE);
}

static void test_state_keepalive(void **state)
{
	struct alert_rule r = simple_rule(1, 1, 0, 0, 0);
	struct alert_state s;

	(void)state;
	alert_state__init(&s);
	assert_int_equal(alert_state__step(&s, &r, 1, 2, 0, 60), ALERT_TRIGGER);
	assert_int_equal(alert_state__step(&s, &r, 1, 2, 30, 60), ALERT_NONE);
	assert_int_equal(alert_state__step(&s, &r, 1, 2, 60, 60), ALERT_KEEPALIVE);
	assert_int_equal(alert_state__step(&s, &r, 1, 0.5, 70, 60), ALERT_RESOLVE);
}

/*
 * Flapping around the threshold, every evaluation for a day of 10 s steps:
 * at most one notification (trigger or resolve) in any keep_firing_s.
 */
static void test_state_flapping(void **state)
{
	static const double keeps[] = { 60, 120, 300 };
	unsigned int seed = 12345;
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(keeps) / sizeof(keeps[0]); k++) {
		struct alert_rule r = simple_rule(3, 2.7, 0, keeps[k], 0);
		struct alert_state s;
		double last = -1e9, t;
		unsigned int notes = 0, pattern;

		for (pattern = 0; pattern < 3; pattern++) {
			alert_state__init(&s);
			last = -1e9;
			for (t = 0; t < 86400; t += 10) {
				double v;
				int act;

				if (pattern == 0)	/* alternate just either side */
					v = ((long)(t / 10) % 2) ? 3.1 : 2.6;
				else if (pattern == 1)	/* random in [2, 4] */
					v = 2 + 2.0 * rand_r(&seed) / RAND_MAX;
				else			/* bursts of 40 s every 2 min */
					v = fmod(t, 120) < 40 ? 5 : 1;
				act = alert_state__step(&s, &r, 1, v, t, 0);
				if (act == ALERT_TRIGGER || act == ALERT_RESOLVE) {
					if (t - last < keeps[k]) {
						print_error("keep %g pattern %u: notifications at %g "
							    "and %g\n", keeps[k], pattern, last, t);
						fail();
					}
					last = t;
					notes++;
				}
			}
		}
		assert_true(notes >= 1);	/* it did fire: the test can fail */
	}
}

/* The engine over a real store. */
struct recorder {
	unsigned int n;
	int action[64];
	char dedup[64][80];
	char summary[64][ALERT_SUMMARY_MAX];
	char labels[64][256];
};

static void record(const struct alert_event *ev, void *arg)
{
	struct recorder *rec = arg;
	unsigned int i;
	size_t off = 0;

	if (rec->n == 64)
		return;
	rec->action[rec->n] = ev->action;
	snprintf(rec->dedup[rec->n], sizeof(rec->dedup[0]), "%s", ev->dedup_key);
	snprintf(rec->summary[rec->n], sizeof(rec->summary[0]), "%s", ev->summary);
	for (i = 0; i < ev->nlabels; i++)
		off += (size_t)snprintf(rec->labels[rec->n] + off, sizeof(rec->labels[0]) - off,
					"%s=%s,", ev->labels[i].key, ev->labels[i].value);
	rec->n++;
}

static struct series *http_series(struct family *f, const char *comm, const char *route,
				  const char *status)
{
	struct label l[5] = { { "comm", comm }, { "exe", "/usr/bin/app" }, { "method", "GET" },
			      { "route", route }, { "status_class", status } };

	return family__series(f, l, 5);
}

static void test_engine_route(void **state)
{
	struct store_opts so = { .slot_ns = 10 * SEC, .nslots = 30 };
	struct store *st = store__new(&so);
	struct family *fs = families__register(st, FAM_HTTP_SERVER, 0);
	struct family *fc = families__register(st, FAM_HTTP_CLIENT, 0);
	struct family *fm = families__register(st, FAM_MEM_GROWTH, 0);
	struct recorder *rec = calloc(1, sizeof(*rec));
	char err[ERRLEN] = "";
	int ret, i;
	struct probe_config *c = load("{\"alerts\": {\"keepalive_s\": 1000, \"rules\": ["
		"{\"name\": \"route_slow\", \"for_s\": 20, \"window_s\": 300, \"keep_firing_s\": 30}]}}",
		err, &ret);
	struct alerts *a;
	struct alerts_stats as;
	struct label ml[2] = { { "pid", "812" }, { "comm", "auto-author" } };
	struct label cl[6] = { { "comm", "auto-author" }, { "exe", "/usr/bin/app" },
			       { "host", "api.openai.com" }, { "peer", "10.0.0.1:443" },
			       { "method", "POST" }, { "status_class", "2xx" } };
	uint64_t t = 1000 * SEC;
	struct series *slow2, *slow5, *fast, *peer, *proc;

	(void)state;
	assert_int_equal(ret, 0);
	assert_non_null(rec);
	/* only the route rule, so other families' absence is irrelevant */
	for (i = 0; i < (int)c->alerts.nrules; i++)
		c->alerts.rules[i].enabled = !strcmp(c->alerts.rules[i].name, "route_slow");
	a = alerts__new(&c->alerts, record, rec);
	assert_non_null(a);
	slow2 = http_series(fs, "auto-author", "/api/v1/toc/generate", "2xx");
	slow5 = http_series(fs, "auto-author", "/api/v1/toc/generate", "5xx");
	fast = http_series(fs, "auto-author", "/api/v1/users/{id}", "2xx");
	peer = family__series(fc, cl, 6);
	proc = family__series(fm, ml, 2);
	series__set_gauge(proc, t, MG_ALIVE, 1);

	/* slow for a minute, evaluated every 10 s: one trigger, after for_s */
	for (i = 0; i < 8; i++, t += 10 * SEC) {
		series__observe_n(slow2, t, 4250000000ULL, 10);
		series__observe_n(slow5, t, 4250000000ULL, 2);	/* status classes merge */
		series__observe_n(fast, t, 2000000ULL, 50);
		series__observe_n(peer, t, 3900000000ULL, 5);
		assert_int_equal(alerts__evaluate(a, st, t, 1.7e9 + t / 1e9), 0);
	}
	assert_int_equal(rec->n, 1);
	assert_int_equal(rec->action[0], ALERT_TRIGGER);
	assert_string_equal(rec->summary[0], "p95 4.25 s on GET /api/v1/toc/generate (threshold 3 s, "
			    "5 min) in auto-author (pid 812); slowest peer: api.openai.com p95 3.9 s");
	assert_non_null(strstr(rec->labels[0], "route=/api/v1/toc/generate,"));
	assert_null(strstr(rec->labels[0], "status_class"));
	alerts__stats(a, &as);
	assert_int_equal(as.firing, 1);

	/* fast from now on: the slow requests age out of the 5 min window, then it resolves */
	for (i = 0; i < 40; i++, t += 10 * SEC) {
		series__observe_n(slow2, t, 20000000ULL, 100);
		assert_int_equal(alerts__evaluate(a, st, t, 1.7e9 + t / 1e9), 0);
	}
	assert_int_equal(rec->n, 2);
	assert_int_equal(rec->action[1], ALERT_RESOLVE);
	assert_string_equal(rec->dedup[0], rec->dedup[1]);
	alerts__stats(a, &as);
	assert_int_equal(as.firing, 0);
	assert_int_equal(as.triggers, 1);
	assert_int_equal(as.resolves, 1);
	alerts__free(a);
	store__free(st);
	free(rec);
	free(c);
}

/* Error ratio with a minimum request count, and the leak text. */
static void test_engine_ratio_and_leak(void **state)
{
	struct store_opts so = { .slot_ns = 10 * SEC, .nslots = 30 };
	struct store *st = store__new(&so);
	struct family *fs = families__register(st, FAM_HTTP_SERVER, 0);
	struct family *fl = families__register(st, FAM_MEM_LEAK, 0);
	struct family *fk = families__register(st, FAM_MEM_STACK, 0);
	struct recorder *rec = calloc(1, sizeof(*rec));
	char err[ERRLEN] = "";
	int ret, i;
	struct probe_config *c = load("{\"alerts\": {\"rules\": ["
		"{\"name\": \"route_errors\", \"for_s\": 0, \"window_s\": 60}]}}", err, &ret);
	struct alerts *a;
	struct label ll[3] = { { "pid", "4711" }, { "start", "99" }, { "comm", "worker" } };
	struct label kl[5] = { { "pid", "4711" }, { "start", "99" }, { "comm", "worker" },
			       { "kind", "brk" },
			       { "stack", "cache_insert (server.c:214);handle_request;main;__libc_start_main" } };
	uint64_t t = 1000 * SEC;
	struct series *ok, *bad, *leak;

	(void)state;
	assert_int_equal(ret, 0);
	for (i = 0; i < (int)c->alerts.nrules; i++)
		c->alerts.rules[i].enabled = !strcmp(c->alerts.rules[i].name, "route_errors") ||
					     !strcmp(c->alerts.rules[i].name, "memory_leak");
	a = alerts__new(&c->alerts, record, rec);
	ok = http_series(fs, "api", "/x", "2xx");
	bad = http_series(fs, "api", "/x", "5xx");
	/* 40 requests, 50 % errors: below min_count 50, nothing */
	series__observe_n(ok, t, 1000000, 20);
	series__add(ok, t, HTTP_REQUESTS, 20);
	series__observe_n(bad, t, 1000000, 20);
	series__add(bad, t, HTTP_REQUESTS, 20);
	series__add(bad, t, HTTP_ERRORS_5XX, 20);
	assert_int_equal(alerts__evaluate(a, st, t, 1.7e9), 0);
	assert_int_equal(rec->n, 0);
	t += 10 * SEC;
	series__add(ok, t, HTTP_REQUESTS, 60);
	assert_int_equal(alerts__evaluate(a, st, t, 1.7e9), 0);
	assert_int_equal(rec->n, 1);
	assert_string_equal(rec->summary[0], "5xx 20 % of 100 requests on GET /x (threshold 5 %, "
			    "1 min) in api");

	leak = family__series(fl, ll, 3);
	series__set_gauge(leak, t, ML_SUSPECT, 1);
	series__set_gauge(leak, t, ML_RATE, 35000);
	series__set_gauge(leak, t, ML_GROWTH_S, 720);
	series__add(family__series(fk, kl, 5), t, MS_BYTES, 1 << 20);
	t += 10 * SEC;
	assert_int_equal(alerts__evaluate(a, st, t, 1.7e9), 0);
	assert_int_equal(rec->n, 2);
	assert_string_equal(rec->summary[1], "leak in worker (pid 4711): +2.1 MB/min for 12 min; "
			    "top stack cache_insert (server.c:214) <- handle_request <- main");
	alerts__free(a);
	store__free(st);
	free(rec);
	free(c);
}

/* Exact body shapes for each sink. */
static void test_payloads(void **state)
{
	struct alert_rule r = simple_rule(3, 2.5, 0, 60, 0);
	struct alert_sink pd = { .type = SINK_PAGERDUTY, .routing_key = "KEY", .min_severity = SEV_INFO };
	struct alert_sink am = { .type = SINK_ALERTMANAGER, .min_severity = SEV_INFO };
	struct alert_sink sl = { .type = SINK_SLACK, .min_severity = SEV_INFO };
	struct alert_sink crit = { .type = SINK_WEBHOOK, .min_severity = SEV_CRITICAL };
	struct alert_event ev = { .action = ALERT_TRIGGER, .rule = &r, .nlabels = 1,
				  .labels = { { "route", "/x" } }, .value = 4.25,
				  .value_text = "4.25 s", .threshold_text = "3 s",
				  .summary = "p95 4.25 s on GET /x", .dedup_key = "probe-t-00",
				  .starts_at = 1700000000.5, .now = 1700000060 };
	cJSON *o, *p;
	char *s;

	(void)state;
	strcpy(r.family, "http_server");
	r.severity = SEV_WARNING;
	r.nlabels = 1;
	strcpy(r.labels[0].key, "team");
	strcpy(r.labels[0].value, "web");

	s = alert_payload__render(&pd, &ev, 60, "h1");
	o = cJSON_Parse(s);
	assert_string_equal(cJSON_GetObjectItem(o, "event_action")->valuestring, "trigger");
	assert_string_equal(cJSON_GetObjectItem(o, "dedup_key")->valuestring, "probe-t-00");
	assert_string_equal(cJSON_GetObjectItem(o, "routing_key")->valuestring, "KEY");
	p = cJSON_GetObjectItem(o, "payload");
	assert_string_equal(cJSON_GetObjectItem(p, "severity")->valuestring, "warning");
	assert_string_equal(cJSON_GetObjectItem(p, "source")->valuestring, "h1");
	assert_string_equal(cJSON_GetObjectItem(p, "summary")->valuestring, "t: p95 4.25 s on GET /x");
	cJSON_Delete(o);
	free(s);
	ev.action = ALERT_RESOLVE;
	s = alert_payload__render(&pd, &ev, 60, "h1");
	assert_string_equal(s, "{\"routing_key\":\"KEY\",\"event_action\":\"resolve\","
			    "\"dedup_key\":\"probe-t-00\"}");
	free(s);

	ev.action = ALERT_TRIGGER;
	s = alert_payload__render(&am, &ev, 60, "h1");
	o = cJSON_Parse(s);
	assert_true(cJSON_IsArray(o));
	p = cJSON_GetArrayItem(o, 0);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "labels"), "alertname")->valuestring, "t");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "labels"), "route")->valuestring, "/x");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "labels"), "team")->valuestring, "web");
	assert_string_equal(cJSON_GetObjectItem(p, "startsAt")->valuestring, "2023-11-14T22:13:20.500Z");
	/* firing: endsAt four keep-alives ahead */
	assert_string_equal(cJSON_GetObjectItem(p, "endsAt")->valuestring, "2023-11-14T22:18:20.000Z");
	cJSON_Delete(o);
	free(s);
	ev.action = ALERT_KEEPALIVE;
	s = alert_payload__render(&am, &ev, 60, "h1");
	assert_non_null(s);
	free(s);
	assert_null(alert_payload__render(&sl, &ev, 60, "h1"));	/* keep-alives: AM only */
	ev.action = ALERT_RESOLVE;
	s = alert_payload__render(&sl, &ev, 60, "h1");
	assert_string_equal(s, "{\"text\":\"[RESOLVED warning] t: p95 4.25 s on GET /x\"}");
	free(s);
	assert_null(alert_payload__render(&crit, &ev, 60, "h1"));	/* below min_severity */
	assert_int_equal(errno, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_rules),
		cmocka_unit_test(test_merge_by_name),
		cmocka_unit_test(test_bad_rules),
		cmocka_unit_test(test_sinks),
		cmocka_unit_test(test_state_basic),
		cmocka_unit_test(test_state_keepalive),
		cmocka_unit_test(test_state_flapping),
		cmocka_unit_test(test_engine_route),
		cmocka_unit_test(test_engine_ratio_and_leak),
		cmocka_unit_test(test_payloads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
