/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Unit tests for user/core/window.c. Time is a fake clock passed to every
 * call; expected histograms are built independently with hist__record.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <cmocka.h>

#include "core/window.h"

#define SLOT	1000ULL		/* slot_ns in most tests */
#define T0	10000ULL	/* first time seen: slot number 10 */

struct bucket_list {
	uint64_t lower[8192], count[8192];
	unsigned int n;
};

static int collect_bucket(uint64_t lower, uint64_t width, uint64_t count, void *arg)
{
	struct bucket_list *l = arg;

	(void)width;
	assert_true(l->n < 8192);
	l->lower[l->n] = lower;
	l->count[l->n] = count;
	l->n++;
	return 0;
}

static void assert_hist_equal(const struct hist *a, const struct hist *b)
{
	static struct bucket_list la, lb;
	unsigned int i;

	assert_int_equal(hist__count(a), hist__count(b));
	assert_int_equal(hist__min(a), hist__min(b));
	assert_int_equal(hist__max(a), hist__max(b));
	assert_int_equal(hist__sum(a), hist__sum(b));
	la.n = lb.n = 0;
	hist__for_each_bucket(a, collect_bucket, &la);
	hist__for_each_bucket(b, collect_bucket, &lb);
	assert_int_equal(la.n, lb.n);
	for (i = 0; i < la.n; i++) {
		assert_int_equal(la.lower[i], lb.lower[i]);
		assert_int_equal(la.count[i], lb.count[i]);
	}
}

/* Assert that `got` holds exactly the n values in want[]. */
static void assert_hist_values(const struct hist *got, const uint64_t *want, unsigned int n)
{
	struct hist *h = hist__new();
	unsigned int i;

	assert_non_null(h);
	for (i = 0; i < n; i++)
		assert_int_equal(hist__record(h, want[i]), 0);
	assert_hist_equal(got, h);
	hist__free(h);
}

/* Read over span at now; check the values, counter 0 and covered_ns. */
static void check_read(struct window *w, uint64_t now, uint64_t span,
		       const uint64_t *values, unsigned int nvalues,
		       uint64_t counter0, uint64_t covered)
{
	struct hist *h = hist__new();
	struct window_read r;

	assert_non_null(h);
	assert_int_equal(window__read(w, now, span, h, &r), 0);
	assert_hist_values(h, values, nvalues);
	assert_int_equal(r.counters[0], counter0);
	assert_int_equal(r.covered_ns, covered);
	hist__free(h);
}

static void test_window_new_bad_args(void **state)
{
	struct window *w;

	(void)state;
	errno = 0;
	assert_null(window__new(0, SLOT, 1));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(window__new(4, 0, 1));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(window__new(4, SLOT, WINDOW_MAX_COUNTERS + 1));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(window__new(2, UINT64_MAX, 1));	/* span overflows */
	assert_int_equal(errno, EINVAL);

	w = window__new(1, 1, WINDOW_MAX_COUNTERS);
	assert_non_null(w);
	assert_int_equal(window__span_ns(w), 1);
	window__free(w);
	w = window__new(60, 1000000000ULL, 0);
	assert_non_null(w);
	assert_int_equal(window__span_ns(w), 60000000000ULL);
	window__free(w);
	window__free(NULL);
}

static void test_window_slots(void **state)
{
	struct window *w = window__new(4, SLOT, 2);
	struct window_read r;
	uint64_t v;

	(void)state;
	assert_non_null(w);
	/* slot 10 */
	assert_int_equal(window__observe(w, T0, 1), 0);
	window__add(w, T0, 0, 1);
	window__add(w, T0, 1, 10);
	check_read(w, T0, SLOT, (uint64_t[]){ 1 }, 1, 1, 1);
	/* slot 11 */
	window__observe(w, T0 + 1005, 2);
	window__observe(w, T0 + 1999, 20);
	window__add(w, T0 + 1005, 0, 2);
	check_read(w, T0 + 1999, SLOT, (uint64_t[]){ 2, 20 }, 2, 2, 1000);
	/* slots 12 and 13 */
	window__observe(w, T0 + 2000, 3);
	window__add(w, T0 + 2000, 0, 4);
	window__observe_n(w, T0 + 3500, 4, 3);
	window__add(w, T0 + 3500, 0, 8);
	window__add(w, T0 + 3500, 1, 80);

	/* Ring full but the current slot is partial: less than the span. */
	check_read(w, T0 + 3500, 4 * SLOT, (uint64_t[]){ 1, 2, 20, 3, 4, 4, 4 }, 7,
		   15, 3501);
	/* One slot, several (2500 rounds up to 3), the whole ring, more. */
	check_read(w, T0 + 3999, SLOT, (uint64_t[]){ 4, 4, 4 }, 3, 8, 1000);
	check_read(w, T0 + 3999, 2500, (uint64_t[]){ 2, 20, 3, 4, 4, 4 }, 6, 14, 3000);
	check_read(w, T0 + 3999, 3 * SLOT, (uint64_t[]){ 2, 20, 3, 4, 4, 4 }, 6, 14, 3000);
	check_read(w, T0 + 3999, 4 * SLOT, (uint64_t[]){ 1, 2, 20, 3, 4, 4, 4 }, 7,
		   15, window__span_ns(w));
	check_read(w, T0 + 3999, UINT64_MAX, (uint64_t[]){ 1, 2, 20, 3, 4, 4, 4 }, 7,
		   15, window__span_ns(w));

	assert_int_equal(window__read(w, T0 + 3999, SLOT, NULL, &r), 0);
	assert_int_equal(r.counters[1], 80);
	assert_int_equal(window__read(w, T0 + 3999, 4 * SLOT, NULL, &r), 0);
	assert_int_equal(r.counters[1], 90);

	/* Slot 14 reuses slot 10's storage: slot 10 ages out. */
	check_read(w, T0 + 4999, 4 * SLOT, (uint64_t[]){ 2, 20, 3, 4, 4, 4 }, 6, 14,
		   window__span_ns(w));

	/* Totals keep everything. */
	assert_int_equal(hist__count(window__total_hist(w)), 7);
	v = 1 + 2 + 20 + 3 + 3 * 4;
	assert_int_equal(hist__sum(window__total_hist(w)), v);
	assert_int_equal(window__total_counter(w, 0), 15);
	assert_int_equal(window__total_counter(w, 1), 90);
	window__free(w);
}

static void test_window_skipped_slots_reset(void **state)
{
	struct window *w = window__new(4, SLOT, 1);
	unsigned int i;

	(void)state;
	assert_non_null(w);
	for (i = 0; i < 4; i++) {
		window__observe(w, T0 + i * SLOT, 10 + i);
		window__add(w, T0 + i * SLOT, 0, 1);
	}
	check_read(w, T0 + 3 * SLOT, 4 * SLOT, (uint64_t[]){ 10, 11, 12, 13 }, 4, 4, 3001);

	/* Skip slot 14, land in 15: slots 10 and 11 go, 12 and 13 stay. */
	check_read(w, T0 + 5 * SLOT, 4 * SLOT, (uint64_t[]){ 12, 13 }, 2, 2, 3001);
	window__observe(w, T0 + 5 * SLOT, 15);
	check_read(w, T0 + 5 * SLOT, 4 * SLOT, (uint64_t[]){ 12, 13, 15 }, 3, 2, 3001);

	/* Past the whole ring: reads are empty, totals keep everything. */
	check_read(w, T0 + 105 * SLOT + 999, 4 * SLOT, NULL, 0, 0, 4 * SLOT);
	check_read(w, T0 + 105 * SLOT + 999, SLOT, NULL, 0, 0, SLOT);
	assert_int_equal(hist__count(window__total_hist(w)), 5);
	assert_int_equal(hist__sum(window__total_hist(w)), 10 + 11 + 12 + 13 + 15);
	assert_int_equal(window__total_counter(w, 0), 4);

	/* Exactly one lap later, after writing: everything resets too. */
	window__observe(w, T0 + 105 * SLOT, 7);
	check_read(w, T0 + 109 * SLOT, 4 * SLOT, NULL, 0, 0, 3001);
	/* And a huge jump neither overflows nor keeps anything. */
	window__observe(w, 1ULL << 62, 8);
	check_read(w, 1ULL << 62, 4 * SLOT, (uint64_t[]){ 8 }, 1, 0,
		   (1ULL << 62) % SLOT + 3 * SLOT + 1);
	assert_int_equal(hist__count(window__total_hist(w)), 7);
	window__free(w);
}

static void test_window_covered(void **state)
{
	const uint64_t sec = 1000000000ULL;
	struct window *w = window__new(10, sec, 1);
	struct window_read r;

	(void)state;
	assert_non_null(w);
	/* The clock starts mid-slot at 5.5 s. */
	window__observe(w, 5 * sec + sec / 2, 1);
	check_read(w, 5 * sec + sec / 2, 10 * sec, (uint64_t[]){ 1 }, 1, 0, 1);
	check_read(w, 6 * sec + sec / 5, 10 * sec, (uint64_t[]){ 1 }, 1, 0, sec * 7 / 10 + 1);
	/* Ten slots exist but the first was only half observed. */
	check_read(w, 15 * sec - 1, 10 * sec, (uint64_t[]){ 1 }, 1, 0, 9 * sec + sec / 2);
	/* Ring full, at the end of a slot: exactly the span. */
	check_read(w, 16 * sec - 1, 10 * sec, NULL, 0, 0, window__span_ns(w));
	/* Mid-slot: nine full slots plus the observed part of the current one. */
	check_read(w, 16 * sec + sec / 2, 10 * sec, NULL, 0, 0, 9 * sec + sec / 2 + 1);
	check_read(w, 16 * sec + sec / 2, 2 * sec, NULL, 0, 0, sec + sec / 2 + 1);

	assert_int_equal(window__read(w, 17 * sec, 10 * sec, NULL, &r), 0);
	assert_true(r.covered_ns <= window__span_ns(w));
	window__free(w);
}

static void test_window_backwards(void **state)
{
	struct window *w = window__new(4, SLOT, 1);

	(void)state;
	assert_non_null(w);
	window__observe(w, 20500, 1);
	/* Earlier times count as "now = last seen": same slot, nothing reset. */
	window__observe(w, 15000, 2);
	window__add(w, 100, 0, 5);
	/* Slot 20 has only been observed since 20500. */
	check_read(w, 20999, SLOT, (uint64_t[]){ 1, 2 }, 2, 5, 500);
	check_read(w, 0, SLOT, (uint64_t[]){ 1, 2 }, 2, 5, 500);	/* now stays 20999 */
	window__observe(w, 21000, 3);
	window__observe(w, 1, 4);
	check_read(w, 21000, 4 * SLOT, (uint64_t[]){ 1, 2, 3, 4 }, 4, 5, 501);
	check_read(w, 21000, SLOT, (uint64_t[]){ 3, 4 }, 2, 0, 1);
	assert_int_equal(hist__count(window__total_hist(w)), 4);
	assert_int_equal(window__total_counter(w, 0), 5);
	window__free(w);
}

static void test_window_merge(void **state)
{
	struct window *w = window__new(4, SLOT, 0);
	struct hist *a = hist__new(), *b = hist__new(), *ab = hist__new();
	struct hist *got = hist__new();
	struct window_read r;

	(void)state;
	assert_non_null(w);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(ab);
	assert_non_null(got);
	hist__record(a, 100);
	hist__record_n(a, 200, 5);
	hist__record(a, 300000);
	hist__record(a, 5000000000ULL);
	hist__record(b, 7);
	hist__record_n(b, 123456789, 1000);

	assert_int_equal(window__merge(w, T0, a), 0);
	assert_int_equal(window__read(w, T0 + 999, SLOT, got, &r), 0);
	assert_hist_equal(got, a);
	assert_hist_equal(window__total_hist(w), a);

	assert_int_equal(window__merge(w, T0 + SLOT, b), 0);
	assert_int_equal(window__read(w, T0 + SLOT, SLOT, got, &r), 0);
	assert_hist_equal(got, b);
	assert_int_equal(window__read(w, T0 + SLOT, 2 * SLOT, got, &r), 0);
	assert_int_equal(hist__merge(ab, a), 0);
	assert_int_equal(hist__merge(ab, b), 0);
	assert_hist_equal(got, ab);
	assert_hist_equal(window__total_hist(w), ab);

	/* The source histogram is not modified. */
	assert_int_equal(hist__count(a), 8);
	assert_int_equal(hist__count(b), 1001);

	hist__free(a);
	hist__free(b);
	hist__free(ab);
	hist__free(got);
	window__free(w);
}

static void test_window_read_args(void **state)
{
	struct window *w = window__new(3, SLOT, 2);
	struct hist *into = hist__new();
	struct window_read r;
	unsigned int i;

	(void)state;
	assert_non_null(w);
	assert_non_null(into);
	assert_int_equal(window__read(w, T0, SLOT, into, NULL), -EINVAL);
	assert_int_equal(window__read(w, T0, 0, into, &r), -EINVAL);
	assert_int_equal(window__read(NULL, T0, SLOT, into, &r), -EINVAL);

	window__observe(w, T0, 42);
	window__add(w, T0, 1, 9);
	/* Out-of-range counters are ignored, never written. */
	window__add(w, T0, 2, 1000);
	window__add(w, T0, WINDOW_MAX_COUNTERS, 1000);
	assert_int_equal(window__total_counter(w, 2), 0);
	assert_int_equal(window__total_counter(w, 1), 9);

	/* `into` is reset first: stale contents don't leak into the read. */
	for (i = 0; i < 100; i++)
		hist__record(into, 1000000 + i);
	memset(&r, 0xff, sizeof(r));
	assert_int_equal(window__read(w, T0, 3 * SLOT, into, &r), 0);
	assert_hist_values(into, (uint64_t[]){ 42 }, 1);
	assert_int_equal(r.counters[0], 0);
	assert_int_equal(r.counters[1], 9);
	for (i = 2; i < WINDOW_MAX_COUNTERS; i++)
		assert_int_equal(r.counters[i], 0);

	/* Counters only. */
	assert_int_equal(window__read(w, T0, 3 * SLOT, NULL, &r), 0);
	assert_int_equal(r.counters[1], 9);
	hist__free(into);
	window__free(w);
}

static void test_window_single_slot(void **state)
{
	struct window *w = window__new(1, SLOT, 1);

	(void)state;
	assert_non_null(w);
	window__observe(w, 500, 1);
	window__observe(w, 999, 2);
	check_read(w, 999, SLOT, (uint64_t[]){ 1, 2 }, 2, 0, 500);
	window__observe(w, 1000, 3);
	check_read(w, 1999, 5 * SLOT, (uint64_t[]){ 3 }, 1, 0, SLOT);
	assert_int_equal(hist__count(window__total_hist(w)), 3);
	window__free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_new_bad_args),
		cmocka_unit_test(test_window_slots),
		cmocka_unit_test(test_window_skipped_slots_reset),
		cmocka_unit_test(test_window_covered),
		cmocka_unit_test(test_window_backwards),
		cmocka_unit_test(test_window_merge),
		cmocka_unit_test(test_window_read_args),
		cmocka_unit_test(test_window_single_slot),
	};

	return cmocka_run_group_tests_name("window", tests, NULL, NULL);
}
