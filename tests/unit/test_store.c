/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The series store: identity by labels, caps and overflow, expiry. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/store.h"

#define SEC 1000000000ULL

static const struct family_desc desc = {
	.name = "t",
	.help = "test family",
	.max_series = 8,
	.ncounters = 2,
	.counters = { { .name = "requests" }, { .name = "errors" } },
	.hist_unit = "ns",
};

static struct store *new_store(void)
{
	struct store_opts o = { .slot_ns = 10 * SEC, .nslots = 6 };
	struct store *s = store__new(&o);

	assert_non_null(s);
	return s;
}

static struct series *get(struct family *f, const char *route, const char *method)
{
	struct label l[2] = { { "route", route }, { "method", method } };

	return family__series(f, l, 2);
}

static void test_same_labels_same_series(void **state)
{
	struct store *s = new_store();
	struct family *f = store__family(s, &desc);
	struct series *a, *b, *c;

	(void)state;
	assert_non_null(f);
	assert_ptr_equal(store__family(s, &desc), f);	/* registered once */
	a = get(f, "/a", "GET");
	b = get(f, "/a", "GET");
	c = get(f, "/a", "POST");
	assert_ptr_equal(a, b);
	assert_ptr_not_equal(a, c);
	assert_int_equal(family__size(f), 2);
	assert_string_equal(series__label(a, "route"), "/a");
	assert_null(series__label(a, "nope"));
	store__free(s);
}

/* "a=b" + "c" and "a" + "b=c" must not collide through the key encoding. */
static void test_label_boundaries_do_not_collide(void **state)
{
	struct store *s = new_store();
	struct family *f = store__family(s, &desc);
	struct label x[2] = { { "k", "a\x1f" "k=b" }, { "j", "c" } };
	struct label y[2] = { { "k", "a" }, { "k", "b\x1f" "j=c" } };
	struct series *sx, *sy;

	(void)state;
	sx = family__series(f, x, 2);
	sy = family__series(f, y, 2);
	assert_non_null(sx);
	assert_non_null(sy);
	assert_ptr_not_equal(sx, sy);
	/* control bytes are replaced in stored values */
	assert_string_equal(series__label(sx, "k"), "a?k=b");
	store__free(s);
}

static void test_cap_sends_new_series_to_overflow(void **state)
{
	struct store *s = new_store();
	struct family *f = store__family(s, &desc);
	struct series *first = NULL, *ov1, *ov2;
	char route[32];
	int i;

	(void)state;
	for (i = 0; i < 8; i++) {
		snprintf(route, sizeof(route), "/r%d", i);
		struct series *se = get(f, route, "GET");

		assert_non_null(se);
		if (!first)
			first = se;
	}
	assert_int_equal(family__overflowed(f), 0);
	ov1 = get(f, "/new1", "GET");
	ov2 = get(f, "/new2", "GET");
	assert_ptr_equal(ov1, ov2);
	assert_string_equal(series__label(ov1, "overflow"), "true");
	assert_int_equal(family__overflowed(f), 2);
	/* existing series are still found */
	assert_ptr_equal(get(f, "/r0", "GET"), first);
	assert_int_equal(family__size(f), 9);
	store__free(s);
}

static void test_counters_and_histogram(void **state)
{
	struct store *s = new_store();
	struct family *f = store__family(s, &desc);
	struct series *se = get(f, "/a", "GET");
	struct window_read r;
	struct hist *h = hist__new();

	(void)state;
	assert_non_null(h);
	series__add(se, 1 * SEC, 0, 5);
	series__add(se, 2 * SEC, 1, 2);
	assert_int_equal(series__observe_n(se, 3 * SEC, 1000, 4), 0);
	assert_int_equal(window__read(series__window(se), 3 * SEC, 60 * SEC, h, &r), 0);
	assert_int_equal(r.counters[0], 5);
	assert_int_equal(r.counters[1], 2);
	assert_int_equal(hist__count(h), 4);
	assert_int_equal(series__last_update(se), 3 * SEC);
	series__set_gauge(se, 4 * SEC, 1, 42.5);
	assert_true(series__gauge(se, 1) == 42.5);
	series__set_gauge(se, 4 * SEC, STORE_MAX_GAUGES, 1);	/* ignored, no overflow */
	hist__free(h);
	store__free(s);
}

static void test_expire_only_near_cap(void **state)
{
	struct store *s = new_store();
	struct family *f = store__family(s, &desc);
	char route[32];
	int i;

	(void)state;
	/* 5 of 8: below three quarters, nothing is dropped however idle */
	for (i = 0; i < 5; i++) {
		snprintf(route, sizeof(route), "/r%d", i);
		series__add(get(f, route, "GET"), 1 * SEC, 0, 1);
	}
	assert_int_equal(store__expire(s, 1000 * SEC, 60 * SEC), 0);
	/* 6 of 8: the idle ones go, the fresh one stays */
	series__add(get(f, "/fresh", "GET"), 999 * SEC, 0, 1);
	assert_int_equal(store__expire(s, 1000 * SEC, 60 * SEC), 5);
	assert_int_equal(family__size(f), 1);
	assert_non_null(get(f, "/fresh", "GET"));
	assert_int_equal(family__size(f), 1);
	store__free(s);
}

static void test_bad_arguments(void **state)
{
	struct store_opts bad = { .slot_ns = 0, .nslots = 6 };
	struct family_desc d = desc;
	struct store *s;

	(void)state;
	errno = 0;
	assert_null(store__new(&bad));
	assert_int_equal(errno, EINVAL);
	s = new_store();
	d.name = "too-many";
	d.ncounters = WINDOW_MAX_COUNTERS + 1;
	assert_null(store__family(s, &d));
	d.name = "no-cap";
	d.ncounters = 1;
	d.max_series = 0;
	assert_null(store__family(s, &d));
	assert_null(store__find_family(s, "no-cap"));
	store__free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_labels_same_series),
		cmocka_unit_test(test_label_boundaries_do_not_collide),
		cmocka_unit_test(test_cap_sends_new_series_to_overflow),
		cmocka_unit_test(test_counters_and_histogram),
		cmocka_unit_test(test_expire_only_near_cap),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
