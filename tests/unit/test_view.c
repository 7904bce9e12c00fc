/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The live view's layout and number formats: sections named for
 * --show/--hide, durations with the digits a histogram resolves, one byte
 * unit system, and a rendered screen that fits the terminal (no line wider
 * than it, no more rows than it, the header and the slowest route first),
 * with rates over the refresh interval reading 0 once traffic stops.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "core/families.h"
#include "core/store.h"
#include "view/view.h"

#define SEC 1000000000ULL

static void test_parse_sections(void **state)
{
	unsigned int m;
	char bad[40];

	(void)state;
	assert_int_equal(view__parse_sections("http,db", &m, bad, sizeof(bad)), 0);
	assert_int_equal(m, (1u << VIEW_SEC_HTTP) | (1u << VIEW_SEC_DB));
	assert_int_equal(view__parse_sections("syscalls", &m, bad, sizeof(bad)), 0);
	assert_int_equal(m, 1u << VIEW_SEC_SYSCALLS);
	assert_int_equal(view__parse_sections("http,nope", &m, bad, sizeof(bad)), -EINVAL);
	assert_string_equal(bad, "nope");
	assert_int_equal(view__parse_sections("", &m, bad, sizeof(bad)), -EINVAL);
	assert_int_equal(view__parse_sections("htt", &m, bad, sizeof(bad)), -EINVAL);
}

static void test_durations_and_bytes(void **state)
{
	char b[32];

	(void)state;
	assert_string_equal(view__dur(812, b, sizeof(b)), "812ns");
	assert_string_equal(view__dur(4250000, b, sizeof(b)), "4.25ms");
	assert_string_equal(view__dur(285210000, b, sizeof(b)), "285ms");
	assert_string_equal(view__dur(1200000000, b, sizeof(b)), "1.20s");
	/* the kernel's syscall buckets resolve 6.25 %: two digits */
	assert_string_equal(view__dur_prec(285210000, 2, b, sizeof(b)), "285ms");
	assert_string_equal(view__dur_prec(4250000, 2, b, sizeof(b)), "4.2ms");
	assert_string_equal(view__dur_prec(1500, 2, b, sizeof(b)), "1.5us");
	assert_string_equal(view__bytes(812, b, sizeof(b)), "812B");
	assert_string_equal(view__bytes(8.5 * 1024, b, sizeof(b)), "8.5KiB");
	assert_string_equal(view__bytes(18.0 * 1024 * 1024, b, sizeof(b)), "18.0MiB");
	assert_string_equal(view__bytes(1.25 * 1024 * 1024 * 1024, b, sizeof(b)), "1.2GiB");
}

static void add_requests(struct family *f, const char *route, const char *cls, uint64_t now,
			 uint64_t n, uint64_t ns)
{
	struct label l[5] = {
		{ "comm", "app" }, { "exe", "/usr/bin/app" }, { "method", "GET" },
		{ "route", route }, { "status_class", cls },
	};
	struct series *se = family__series(f, l, 5);

	assert_non_null(se);
	series__add(se, now, HTTP_REQUESTS, n);
	if (cls[0] == '4')
		series__add(se, now, HTTP_ERRORS_4XX, n);
	if (cls[0] == '5')
		series__add(se, now, HTTP_ERRORS_5XX, n);
	assert_int_equal(series__observe_n(se, now, ns, n), 0);
}

/* Render to a string. */
static char *render(struct store *st, uint64_t now, const struct view_opts *o, int json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	view__render(m, st, now, o, json, "--pid", NULL, NULL);
	fclose(m);
	return buf;
}

/* Columns of a UTF-8 line. */
static unsigned int cols_of(const char *s, size_t n)
{
	unsigned int c = 0;
	size_t i;

	for (i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80;
	return c;
}

static void check_fits(const char *text, unsigned int cols, unsigned int rows)
{
	const char *p = text, *nl;
	unsigned int lines = 0;

	/* skip the clear-screen sequence */
	if (!strncmp(p, "\033[H\033[2J", 7))
		p += 7;
	for (; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		if (cols_of(p, (size_t)(nl - p)) > cols)
			fail_msg("line wider than %u: '%.*s'", cols, (int)(nl - p), p);
		lines++;
		if (!*nl)
			break;
	}
	assert_true(lines <= rows - 1);
}

static void test_screen_fits_and_slow_route_first(void **state)
{
	struct store_opts so = { .slot_ns = 10 * SEC, .nslots = 30 };
	struct store *st = store__new(&so);
	struct family *f;
	struct view_opts o = {
		.tty = 1, .top = 15, .span_ns = 60 * SEC, .rate_ns = 1 * SEC,
		.elapsed_ns = 20 * SEC, .pid_mode = 1,
	};
	static const unsigned int sizes[][2] = { { 80, 24 }, { 200, 50 }, { 40, 10 } };
	uint64_t now = 100 * SEC;
	unsigned int i;
	char *out;

	(void)state;
	assert_non_null(st);
	f = families__register(st, FAM_HTTP_SERVER, 0);
	assert_non_null(f);
	add_requests(f, "/api/fast", "2xx", now, 50, 1000000);
	add_requests(f, "/api/v1/customers/acme-corp/orders/line-items/attachments/thumbnails/large",
		     "2xx", now, 5, 3000000);
	add_requests(f, "/api/slow", "2xx", now, 10, 300000000);
	for (i = 0; i < 3; i++) {
		o.cols = sizes[i][0];
		o.rows = sizes[i][1];
		out = render(st, now + i, &o, 0);
		check_fits(out, o.cols, o.rows);
		/* the header, then HTTP, slowest route first */
		assert_non_null(strstr(out, "=== probe"));
		if (o.cols >= 80) {
			char *http = strstr(out, "HTTP SERVED"), *slow = strstr(out, "GET /api/slow");

			assert_non_null(http);
			assert_non_null(slow);
			assert_true(slow < strstr(out, "GET /api/fast"));
			/*
			 * a long route is cut visibly, never silently, in the
			 * middle: its start and its end (where a route the kernel
			 * cut says /{truncated}) stay on screen
			 */
			assert_non_null(strstr(out, "GET /api/v1/"));
			assert_null(strstr(out, "acme-corp/orders/line-items/attachments/thumbnails"));
			assert_non_null(strstr(out, "\xe2\x80\xa6"));
			if (o.cols >= 100)
				assert_non_null(strstr(out, "/large "));
		}
		free(out);
	}
	store__free(st);
}

static void test_rate_now_and_server_errors(void **state)
{
	struct store_opts so = { .slot_ns = 10 * SEC, .nslots = 30 };
	struct store *st = store__new(&so);
	struct family *f;
	struct view_opts o = {
		.top = 15, .span_ns = 60 * SEC, .rate_ns = 2 * SEC, .elapsed_ns = 2 * SEC,
	};
	uint64_t t0 = 1000 * SEC;
	char *out, *row;

	(void)state;
	assert_non_null(st);
	f = families__register(st, FAM_HTTP_SERVER, 0);
	assert_non_null(f);
	/* 20 requests in the first 2 s, all 404: ERR% (5xx) is 0 and 4XX is 20 */
	add_requests(f, "/gone", "4xx", t0 + SEC, 20, 1000000);
	out = render(st, t0 + 2 * SEC, &o, 0);
	row = strstr(out, "GET /gone");
	assert_non_null(row);
	{
		double rate, err;
		unsigned long e4, e5;

		assert_int_equal(sscanf(row + strlen("GET /gone"), "%lf %lf %lu %lu", &rate, &err,
					&e4, &e5), 4);
		assert_true(rate > 9.9 && rate < 10.1);
		assert_true(err == 0);
		assert_int_equal(e4, 20);
		assert_int_equal(e5, 0);
	}
	free(out);
	/* no traffic since: the next refresh reads 0 */
	o.elapsed_ns = 4 * SEC;
	out = render(st, t0 + 4 * SEC, &o, 0);
	row = strstr(out, "GET /gone");
	assert_non_null(row);
	{
		double rate;

		assert_int_equal(sscanf(row + strlen("GET /gone"), "%lf", &rate), 1);
		assert_true(rate == 0);
	}
	free(out);
	/* 5xx count as the server's errors */
	add_requests(f, "/gone", "5xx", t0 + 5 * SEC, 5, 1000000);
	add_requests(f, "/gone", "2xx", t0 + 5 * SEC, 15, 1000000);
	o.elapsed_ns = 6 * SEC;
	out = render(st, t0 + 6 * SEC, &o, 0);
	row = strstr(out, "GET /gone");
	assert_non_null(row);
	{
		double rate, err;

		assert_int_equal(sscanf(row + strlen("GET /gone"), "%lf %lf", &rate, &err), 2);
		assert_true(rate > 9.9 && rate < 10.1);
		assert_true(err > 24.9 && err < 25.1);
	}
	free(out);
	/* JSON: pids and numbers as numbers; rate over the interval */
	o.elapsed_ns = 8 * SEC;
	out = render(st, t0 + 8 * SEC, &o, 1);
	assert_non_null(strstr(out, "\"rate_per_s\":0"));
	assert_non_null(strstr(out, "\"rate_window_s\":2"));
	free(out);
	store__free(st);
}

/* Labels that hold numbers come out as JSON numbers, from the declarations. */
static void test_json_numeric_labels(void **state)
{
	static const char *const numeric[] = { "pid", "start", "errno" };
	cJSON *o = cJSON_CreateObject();
	unsigned int fam, i, k;
	char *text;

	(void)state;
	/* every label with one of these keys, in every family, is declared a number */
	for (fam = 0; fam < FAM_MAX; fam++) {
		const struct family_desc *d = families__get(fam);

		for (i = 0; i < d->nlabels; i++)
			for (k = 0; k < sizeof(numeric) / sizeof(numeric[0]); k++)
				if (!strcmp(d->labels[i].key, numeric[k]) &&
				    !(d->labels[i].flags & LABEL_NUMBER))
					fail_msg("%s.%s is not LABEL_NUMBER", d->name, numeric[k]);
	}
	assert_non_null(o);
	view__json_label(o, FAM_MEM_LEAK, "pid", "4242");
	view__json_label(o, FAM_MEM_LEAK, "start", "123456789");
	view__json_label(o, FAM_SYSCALL_ERRNO, "errno", "2");
	view__json_label(o, FAM_HTTP_SERVER, "route", "/1");
	view__json_label(o, FAM_ALLOC_SITE, "instance", "77.1");
	view__json_label(o, FAM_TCP_CONN, "comm", "123");
	text = cJSON_PrintUnformatted(o);
	assert_non_null(text);
	assert_string_equal(text, "{\"pid\":4242,\"start\":123456789,\"errno\":2,"
			    "\"route\":\"/1\",\"instance\":\"77.1\",\"comm\":\"123\"}");
	cJSON_free(text);
	cJSON_Delete(o);
	/* a value that is not an integer stays a string rather than becoming a wrong number */
	o = cJSON_CreateObject();
	assert_non_null(o);
	view__json_label(o, FAM_MEM_GROWTH, "pid", "12x");
	view__json_label(o, FAM_MEM_GROWTH, "start", "");
	view__json_label(o, FAM_MEM_GROWTH, "pid", "99999999999999999999999");
	text = cJSON_PrintUnformatted(o);
	assert_non_null(text);
	assert_string_equal(text, "{\"pid\":\"12x\",\"start\":\"\",\"pid\":\"99999999999999999999999\"}");
	cJSON_free(text);
	cJSON_Delete(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_sections),
		cmocka_unit_test(test_durations_and_bytes),
		cmocka_unit_test(test_screen_fits_and_slow_route_first),
		cmocka_unit_test(test_rate_now_and_server_errors),
		cmocka_unit_test(test_json_numeric_labels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
