/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Unit tests for user/core/route.c: tables of request targets and the
 * routes they must become, with and without user templates, and the
 * per-service cap.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/route.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

struct norm_case {
	const char *target;
	int truncated;
	const char *want;
	int ret_invalid;	/* expect -EINVAL */
};

static void run_cases(const struct route_templates *t, const struct norm_case *cases,
		      size_t n)
{
	char out[ROUTE_MAX];
	size_t i;
	int ret;

	for (i = 0; i < n; i++) {
		const struct norm_case *c = &cases[i];

		memset(out, 0x5a, sizeof(out));
		ret = route__normalize(t, c->target, strlen(c->target), c->truncated, out,
				       sizeof(out));
		if (strcmp(out, c->want) || (c->ret_invalid ? ret != -EINVAL :
					     ret != (int)strlen(c->want))) {
			print_error("target \"%s\" (truncated %d): got \"%s\" (ret %d), "
				    "want \"%s\"\n", c->target, c->truncated, out, ret, c->want);
			fail();
		}
	}
}

static void test_heuristics(void **state)
{
	static const struct norm_case cases[] = {
		{ "/", 0, "/", 0 },
		{ "/index.html", 0, "/index.html", 0 },
		{ "/favicon.ico", 0, "/favicon.ico", 0 },
		/* numbers */
		{ "/api/v1/books/8412", 0, "/api/v1/books/{id}", 0 },
		{ "/api/v1/books/8413", 0, "/api/v1/books/{id}", 0 },
		{ "/api/v1/books/0", 0, "/api/v1/books/{id}", 0 },
		{ "/api/v1/books/8412/reviews/3", 0, "/api/v1/books/{id}/reviews/{id}", 0 },
		/* UUIDs, upper or lower case */
		{ "/users/123e4567-e89b-12d3-a456-426614174000/orders", 0,
		  "/users/{uuid}/orders", 0 },
		{ "/users/123E4567-E89B-12D3-A456-426614174000", 0, "/users/{uuid}", 0 },
		/* 36 characters but not a UUID: the digit rule still applies */
		{ "/users/123e4567_e89b_12d3_a456_426614174000", 0, "/users/{id}", 0 },
		/* long hex: hashes, object ids */
		{ "/blobs/0123456789abcdef0123456789abcdef", 0, "/blobs/{hex}", 0 },
		{ "/objs/507f1f77bcf86cd799439011", 0, "/objs/{hex}", 0 },
		{ "/deadbeefcafebabe", 0, "/{hex}", 0 },
		/* other ID-like segments */
		{ "/orders/ORD-2024-000123", 0, "/orders/{id}", 0 },
		{ "/reports/2024-01-15/summary", 0, "/reports/{id}/summary", 0 },
		{ "/users/alice@example.com", 0, "/users/{id}", 0 },
		{ "/t/Zx8kP2qLmN4rT7vWq", 0, "/t/{id}", 0 },
		{ "/user_12345/profile", 0, "/{id}/profile", 0 },
		/* words stay, even with a digit or two */
		{ "/v1/api/v2", 0, "/v1/api/v2", 0 },
		{ "/item-42", 0, "/item-42", 0 },
		{ "/oauth2/authorize", 0, "/oauth2/authorize", 0 },
		{ "/assets/jquery-3.js", 0, "/assets/jquery-3.js", 0 },
		{ "/abcdefabcdefabc", 0, "/abcdefabcdefabc", 0 },	/* 15 hex letters */
		/* non-ASCII bytes */
		{ "/caf\xc3\xa9/1", 0, "/{bytes}/{id}", 0 },
		/* slashes */
		{ "//a///b/", 0, "/a/b/", 0 },
		{ "/api/books/", 0, "/api/books/", 0 },
		{ "//", 0, "/", 0 },
		/* query strings and fragments never survive */
		{ "/api/v1/books/8412?sort=asc&token=s3cr3t", 0, "/api/v1/books/{id}", 0 },
		{ "/search?q=private", 0, "/search", 0 },
		{ "/page#section-2", 0, "/page", 0 },
		{ "/a/b?x=1#y", 0, "/a/b", 0 },
		{ "/?x=1", 0, "/", 0 },
		/* absolute form (proxies) */
		{ "http://example.com:8080/api/7", 0, "/api/{id}", 0 },
		{ "https://example.com/", 0, "/", 0 },
		{ "http://example.com", 0, "/", 0 },
		{ "http://example.com?x=1", 0, "/", 0 },
		/* a path with "://" inside stays a path */
		{ "/go/http://x", 0, "/go/http:/x", 0 },
		{ "*", 0, "*", 0 },
		{ "example.com:443", 0, "{authority}", 0 },
		/* cut short by the kernel: the partial last segment goes */
		{ "/api/v1/files/verylongnam", 1, "/api/v1/files/{truncated}", 0 },
		{ "/api/v1/", 1, "/api/v1/{truncated}", 0 },
		{ "/abc", 1, "/{truncated}", 0 },
		/* a query after the cut point means the path was whole */
		{ "/a/b?x", 1, "/a/b", 0 },
		/* not request targets */
		{ "", 0, ROUTE_INVALID, 1 },
		{ "?only=query", 0, ROUTE_INVALID, 1 },
		{ "/a\x01" "b", 0, ROUTE_INVALID, 1 },
		{ "/a b", 0, ROUTE_INVALID, 1 },
		{ "/a\x7f", 0, ROUTE_INVALID, 1 },
	};

	(void)state;
	run_cases(NULL, cases, ARRAY_SIZE(cases));
}

static void test_templates_win(void **state)
{
	static const char *const tmpl[] = {
		"/api/v1/books/{id}/reviews/*",
		"/static/**",
		"/users/:name",
		"/exact",
		"/docs/{page}",
	};
	static const struct norm_case cases[] = {
		{ "/api/v1/books/42/reviews/7", 0, "/api/v1/books/{id}/reviews/*", 0 },
		{ "/api/v1/books/42/reviews/7?x=1", 0, "/api/v1/books/{id}/reviews/*", 0 },
		/* one segment short: heuristics */
		{ "/api/v1/books/42/reviews", 0, "/api/v1/books/{id}/reviews", 0 },
		{ "/static/css/app.3f2a9c1b.css", 0, "/static/**", 0 },
		{ "/static", 0, "/static/**", 0 },
		{ "/static/", 0, "/static/**", 0 },
		/* the template keeps what the heuristics would keep apart */
		{ "/users/alice", 0, "/users/:name", 0 },
		{ "/users/bob", 0, "/users/:name", 0 },
		{ "/users/alice/x", 0, "/users/alice/x", 0 },
		{ "/exact", 0, "/exact", 0 },
		{ "/exact/", 0, "/exact", 0 },
		{ "/exact?q=1", 0, "/exact", 0 },
		{ "/Exact", 0, "/Exact", 0 },
		{ "/docs/intro", 0, "/docs/{page}", 0 },
		/* truncated targets: only a "**" template covers the unseen rest */
		{ "/users/al", 1, "/users/{truncated}", 0 },
		{ "/static/very/long/pa", 1, "/static/**", 0 },
		{ "/elsewhere/8412", 0, "/elsewhere/{id}", 0 },
	};
	char err[256] = "";
	struct route_templates *t = route__templates_new(tmpl, ARRAY_SIZE(tmpl), err,
							 sizeof(err));

	(void)state;
	assert_non_null(t);
	assert_string_equal(err, "");
	run_cases(t, cases, ARRAY_SIZE(cases));
	route__templates_free(t);
}

static void test_templates_first_match_wins(void **state)
{
	static const char *const tmpl[] = { "/a/*", "/a/b" };
	static const struct norm_case cases[] = {
		{ "/a/b", 0, "/a/*", 0 },
		{ "/a/c", 0, "/a/*", 0 },
	};
	char err[256];
	struct route_templates *t = route__templates_new(tmpl, 2, err, sizeof(err));

	(void)state;
	assert_non_null(t);
	run_cases(t, cases, ARRAY_SIZE(cases));
	route__templates_free(t);
}

static void test_bad_templates(void **state)
{
	static const struct {
		const char *tmpl;
		const char *msg;
	} cases[] = {
		{ "", "must start with '/'" },
		{ "api/v1", "must start with '/'" },
		{ "/a/**/b", "\"**\" must be the last" },
		{ "/a b", "printable ASCII" },
		{ "/a?x=1", "printable ASCII" },
		{ "/a#f", "printable ASCII" },
		{ "/caf\xc3\xa9", "printable ASCII" },
	};
	static const char *many[ROUTE_TEMPLATES_MAX + 1];
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *one[1] = { cases[i].tmpl };

		err[0] = 0;
		errno = 0;
		assert_null(route__templates_new(one, 1, err, sizeof(err)));
		assert_int_equal(errno, EINVAL);
		if (!strstr(err, cases[i].msg)) {
			print_error("template \"%s\": error \"%s\" lacks \"%s\"\n",
				    cases[i].tmpl, err, cases[i].msg);
			fail();
		}
	}
	for (i = 0; i < ARRAY_SIZE(many); i++)
		many[i] = "/x";
	errno = 0;
	assert_null(route__templates_new(many, ARRAY_SIZE(many), err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "at most"));
	/* exactly the maximum is fine */
	route__templates_free(route__templates_new(many, ROUTE_TEMPLATES_MAX, err, sizeof(err)));
	route__templates_free(NULL);
}

/* Short output buffers are cut, never overrun (ASan watches). */
static void test_short_output(void **state)
{
	static const struct {
		size_t outlen;
		const char *want;
	} cases[] = {
		{ 1, "" },
		{ 2, "/" },
		{ 8, "/api/v1" },
		{ 12, "/api/v1/boo" },
		{ 64, "/api/v1/books/{id}" },
	};
	char *out;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		out = test_malloc(cases[i].outlen);
		route__normalize(NULL, "/api/v1/books/8412", 18, 0, out, cases[i].outlen);
		assert_string_equal(out, cases[i].want);
		test_free(out);
	}
	assert_int_equal(route__normalize(NULL, "/", 1, 0, NULL, 0), -EINVAL);
}

/* The worst expansion of a 128-byte target still fits ROUTE_MAX. */
static void test_worst_case_fits(void **state)
{
	char target[129], out[ROUTE_MAX];
	int i, ret;

	(void)state;
	for (i = 0; i < 128; i += 2) {
		target[i] = '/';
		target[i + 1] = '1';
	}
	target[128] = 0;
	ret = route__normalize(NULL, target, 128, 0, out, sizeof(out));
	assert_int_equal(ret, 64 * 5);	/* "/{id}" x 64 */
	assert_int_equal(strlen(out), 64 * 5);
	for (i = 0; i < 128; i += 2) {
		target[i] = '/';
		target[i + 1] = '\xff';
	}
	/* "/{bytes}" x 64 is 512 bytes, more than ROUTE_MAX: cut, terminated */
	ret = route__normalize(NULL, target, 128, 0, out, sizeof(out));
	assert_int_equal(ret, ROUTE_MAX - 1);
	assert_int_equal(strlen(out), ROUTE_MAX - 1);
}

static void test_route_set_cap(void **state)
{
	struct route_set *s = route__set_new(3);
	static const struct {
		const char *route, *want;
		unsigned int size;
		uint64_t overflowed;
	} steps[] = {
		{ "/a", "/a", 1, 0 },
		{ "/b", "/b", 2, 0 },
		{ "/a", "/a", 2, 0 },
		{ "/c", "/c", 3, 0 },
		{ "/d", ROUTE_OVERFLOW, 3, 1 },
		{ "/e", ROUTE_OVERFLOW, 3, 2 },
		{ "/d", ROUTE_OVERFLOW, 3, 3 },
		{ "/b", "/b", 3, 3 },
	};
	size_t i;

	(void)state;
	assert_non_null(s);
	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		const char *got = route__set_admit(s, steps[i].route);

		assert_string_equal(got, steps[i].want);
		assert_int_equal(route__set_size(s), steps[i].size);
		assert_int_equal(route__set_overflowed(s), steps[i].overflowed);
	}
	route__set_free(s);
	route__set_free(NULL);
}

static void test_route_set_zero_and_many(void **state)
{
	struct route_set *s = route__set_new(0);
	char r[32];
	int i;

	(void)state;
	assert_string_equal(route__set_admit(s, "/x"), ROUTE_OVERFLOW);
	assert_int_equal(route__set_size(s), 0);
	route__set_free(s);

	/* a crawler: 10,000 distinct routes against a cap of 500 */
	s = route__set_new(500);
	for (i = 0; i < 10000; i++) {
		snprintf(r, sizeof(r), "/page-%c%c%c", 'a' + i % 26, 'a' + i / 26 % 26,
			 'a' + i / 676 % 26);
		route__set_admit(s, r);
	}
	assert_int_equal(route__set_size(s), 500);
	assert_int_equal(route__set_overflowed(s), 10000 - 500);
	route__set_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heuristics),
		cmocka_unit_test(test_templates_win),
		cmocka_unit_test(test_templates_first_match_wins),
		cmocka_unit_test(test_bad_templates),
		cmocka_unit_test(test_short_output),
		cmocka_unit_test(test_worst_case_fits),
		cmocka_unit_test(test_route_set_cap),
		cmocka_unit_test(test_route_set_zero_and_many),
	};

	return cmocka_run_group_tests_name("route", tests, NULL, NULL);
}
