/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Unit tests for user/core/hist.c: every quantile is checked against the
 * exact answer computed here from the sorted raw samples.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "core/hist.h"

#define NSAMPLES	100000
#define US		1000ULL
#define SEC		1000000000ULL

/* xorshift64*: fixed seed, so every run sees the same samples. */
static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
	rng_state = seed ? seed : 1;
}

static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

/* Uniform in (0, 1]: never 0, so log() is safe. */
static double rng_unit(void)
{
	return (double)((rng_next() >> 11) + 1) * 0x1p-53;
}

static uint64_t rng_range(uint64_t lo, uint64_t hi)
{
	return lo + rng_next() % (hi - lo + 1);
}

static double rng_normal(void)
{
	return sqrt(-2.0 * log(rng_unit())) * cos(2.0 * M_PI * rng_unit());
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The ceil(q * n)-th smallest (the smallest for q = 0) of sorted[0..n). */
static uint64_t exact_quantile(const uint64_t *sorted, size_t n, double q)
{
	double r = ceil(q * (double)n);
	size_t rank = r < 1 ? 1 : r > (double)n ? n : (size_t)r;

	return sorted[rank - 1];
}

static const double checked_q[] = { 0, 0.5, 0.9, 0.95, 0.99, 0.999, 1 };

/* |got - want| <= want * 2^-(HIST_SUB_BITS+1), and <= 1 %, in exact integers. */
static void assert_close(uint64_t got, uint64_t want, double q)
{
	uint64_t diff = got > want ? got - want : want - got;

	assert_true(want < (1ULL << 50));
	if ((diff << (HIST_SUB_BITS + 1)) > want || diff * 100 > want) {
		print_error("q=%g: got %llu, exact %llu (rel err %g)\n", q,
			    (unsigned long long)got, (unsigned long long)want,
			    want ? (double)diff / (double)want : INFINITY);
		fail();
	}
}

/* Record samples, then check count/min/max/sum/mean and quantiles. */
static void check_distribution(uint64_t *v, size_t n)
{
	struct hist *h = hist__new();
	uint64_t sum = 0;
	unsigned int i;
	size_t j;

	assert_non_null(h);
	for (j = 0; j < n; j++) {
		assert_int_equal(hist__record(h, v[j]), 0);
		sum += v[j];
	}
	qsort(v, n, sizeof(*v), cmp_u64);

	assert_int_equal(hist__count(h), n);
	assert_int_equal(hist__min(h), v[0]);
	assert_int_equal(hist__max(h), v[n - 1]);
	assert_int_equal(hist__sum(h), sum);
	assert_true(fabs(hist__mean(h) - (double)sum / (double)n) <= 1e-9 * hist__mean(h));
	assert_int_equal(hist__dropped(h), 0);
	assert_int_equal(hist__clamped(h), 0);
	for (i = 0; i < sizeof(checked_q) / sizeof(checked_q[0]); i++)
		assert_close(hist__quantile(h, checked_q[i]),
			     exact_quantile(v, n, checked_q[i]), checked_q[i]);
	/* And a sweep, so no rank in between escapes. */
	for (i = 0; i <= 1000; i++)
		assert_close(hist__quantile(h, i / 1000.0),
			     exact_quantile(v, n, i / 1000.0), i / 1000.0);
	/* Clamped to [min, max], never outside. */
	assert_true(hist__quantile(h, 0) >= v[0]);
	assert_true(hist__quantile(h, 1) <= v[n - 1]);
	hist__free(h);
}

static void test_hist_uniform(void **state)
{
	uint64_t *v = malloc(NSAMPLES * sizeof(*v));
	size_t j;

	(void)state;
	assert_non_null(v);
	rng_seed(0x1234);
	for (j = 0; j < NSAMPLES; j++)
		v[j] = rng_range(1 * US, 100 * SEC);
	check_distribution(v, NSAMPLES);
	free(v);
}

static void test_hist_lognormal(void **state)
{
	uint64_t *v = malloc(NSAMPLES * sizeof(*v));
	size_t j;

	(void)state;
	assert_non_null(v);
	rng_seed(0xabcdef);
	/* median 1 ms, sigma 2.5: spans ns .. tens of seconds */
	for (j = 0; j < NSAMPLES; j++)
		v[j] = (uint64_t)exp(log(1e6) + 2.5 * rng_normal());
	check_distribution(v, NSAMPLES);
	free(v);
}

static void test_hist_bimodal(void **state)
{
	uint64_t *v = malloc(NSAMPLES * sizeof(*v));
	size_t j;

	(void)state;
	assert_non_null(v);
	rng_seed(42);
	/* 70 % cache hits around 2 µs, 30 % slow path around 50 s */
	for (j = 0; j < NSAMPLES; j++) {
		if (rng_next() % 10 < 7)
			v[j] = rng_range(1800, 2200);
		else
			v[j] = rng_range(45 * SEC, 55 * SEC);
	}
	check_distribution(v, NSAMPLES);
	free(v);
}

static void test_hist_single_value(void **state)
{
	uint64_t *v = malloc(1000 * sizeof(*v));
	struct hist *h = hist__new();
	size_t j;

	(void)state;
	assert_non_null(v);
	assert_non_null(h);
	for (j = 0; j < 1000; j++) {
		v[j] = 123456789;
		hist__record(h, v[j]);
	}
	check_distribution(v, 1000);
	/* One distinct value: min == max, so every quantile is exact. */
	assert_int_equal(hist__quantile(h, 0.5), 123456789);
	assert_int_equal(hist__quantile(h, 0.99), 123456789);
	hist__free(h);
	free(v);
}

static void test_hist_empty(void **state)
{
	struct hist *h = hist__new();
	unsigned int i;

	(void)state;
	assert_non_null(h);
	assert_int_equal(hist__count(h), 0);
	assert_int_equal(hist__min(h), 0);
	assert_int_equal(hist__max(h), 0);
	assert_int_equal(hist__sum(h), 0);
	assert_true(hist__mean(h) == 0.0);
	for (i = 0; i < sizeof(checked_q) / sizeof(checked_q[0]); i++)
		assert_int_equal(hist__quantile(h, checked_q[i]), 0);
	assert_int_equal(hist__record_n(h, 77, 0), 0);	/* n = 0 records nothing */
	assert_int_equal(hist__count(h), 0);
	assert_int_equal(hist__min(h), 0);
	hist__free(h);
	hist__free(NULL);
}

static void test_hist_small_values_exact(void **state)
{
	struct hist *h = hist__new();
	unsigned int k;

	(void)state;
	assert_non_null(h);
	for (k = 0; k < 128; k++)
		hist__record(h, 127 - k);
	assert_int_equal(hist__count(h), 128);
	assert_int_equal(hist__min(h), 0);
	assert_int_equal(hist__max(h), 127);
	assert_int_equal(hist__sum(h), 127 * 128 / 2);
	/* ceil(k/128 * 128) = k: the k-th smallest is k - 1, exactly. */
	for (k = 1; k <= 128; k++)
		assert_int_equal(hist__quantile(h, k / 128.0), k - 1);
	assert_int_equal(hist__quantile(h, 0), 0);
	hist__free(h);

	/* Rank semantics on a tiny set: {10, 20, 30, 40}. */
	h = hist__new();
	assert_non_null(h);
	for (k = 1; k <= 4; k++)
		hist__record(h, 10 * k);
	assert_int_equal(hist__quantile(h, 0.25), 10);
	assert_int_equal(hist__quantile(h, 0.26), 20);
	assert_int_equal(hist__quantile(h, 0.5), 20);
	assert_int_equal(hist__quantile(h, 0.51), 30);
	assert_int_equal(hist__quantile(h, 0.99), 40);
	assert_int_equal(hist__quantile(h, -1), 10);	/* out of range clamps */
	assert_int_equal(hist__quantile(h, 2), 40);
	assert_int_equal(hist__quantile(h, NAN), 10);
	hist__free(h);
}

/* Collect buckets so two histograms can be compared bucket by bucket. */
struct bucket_list {
	uint64_t lower[8192], width[8192], count[8192];
	unsigned int n;
};

static int collect_bucket(uint64_t lower, uint64_t width, uint64_t count, void *arg)
{
	struct bucket_list *l = arg;

	assert_true(l->n < 8192);
	l->lower[l->n] = lower;
	l->width[l->n] = width;
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
	assert_int_equal(hist__clamped(a), hist__clamped(b));
	for (i = 0; i <= 100; i++)
		assert_int_equal(hist__quantile(a, i / 100.0), hist__quantile(b, i / 100.0));
	la.n = lb.n = 0;
	hist__for_each_bucket(a, collect_bucket, &la);
	hist__for_each_bucket(b, collect_bucket, &lb);
	assert_int_equal(la.n, lb.n);
	for (i = 0; i < la.n; i++) {
		assert_int_equal(la.lower[i], lb.lower[i]);
		assert_int_equal(la.count[i], lb.count[i]);
	}
}

static void test_hist_merge(void **state)
{
	struct hist *a = hist__new(), *b = hist__new(), *all = hist__new();
	struct hist *empty = hist__new();
	uint64_t x;
	size_t j;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(all);
	assert_non_null(empty);
	rng_seed(7);
	/* a and b cover different ranges, so merge must create octaves. */
	for (j = 0; j < 20000; j++) {
		x = rng_range(1 * US, 10 * US);
		hist__record(a, x);
		hist__record(all, x);
		x = rng_range(1 * SEC, 30 * SEC);
		hist__record(b, x);
		hist__record(all, x);
	}
	hist__record(b, 3);
	hist__record(all, 3);
	assert_int_equal(hist__merge(a, b), 0);
	assert_hist_equal(a, all);
	assert_true(hist__quantile(a, 0) == 3);
	assert_close(hist__quantile(a, 1), hist__max(b), 1);

	/* Merging an empty histogram changes nothing, min included. */
	assert_int_equal(hist__merge(a, empty), 0);
	assert_hist_equal(a, all);
	/* Merging into an empty one copies. */
	assert_int_equal(hist__merge(empty, all), 0);
	assert_hist_equal(empty, all);

	hist__free(a);
	hist__free(b);
	hist__free(all);
	hist__free(empty);
}

static void test_hist_reset(void **state)
{
	struct hist *h = hist__new();
	unsigned int i;

	(void)state;
	assert_non_null(h);
	for (i = 0; i < 1000; i++)
		hist__record(h, 1000 + i * 1000000ULL);
	hist__record(h, UINT64_MAX);
	hist__reset(h);
	assert_int_equal(hist__count(h), 0);
	assert_int_equal(hist__min(h), 0);
	assert_int_equal(hist__max(h), 0);
	assert_int_equal(hist__sum(h), 0);
	assert_int_equal(hist__clamped(h), 0);
	assert_int_equal(hist__quantile(h, 0.5), 0);

	/* Still works, and old buckets don't leak into new quantiles. */
	hist__record(h, 50);
	hist__record(h, 60);
	assert_int_equal(hist__count(h), 2);
	assert_int_equal(hist__min(h), 50);
	assert_int_equal(hist__max(h), 60);
	assert_int_equal(hist__sum(h), 110);
	assert_int_equal(hist__quantile(h, 0.5), 50);
	assert_int_equal(hist__quantile(h, 1), 60);
	hist__free(h);
}

static void test_hist_clamp(void **state)
{
	struct hist *h = hist__new();
	uint64_t top = 1ULL << (HIST_MAX_EXP + 1);

	(void)state;
	assert_non_null(h);
	assert_int_equal(hist__record(h, top - 1), 0);	/* last unclamped value */
	assert_int_equal(hist__clamped(h), 0);
	assert_int_equal(hist__record(h, top), 0);
	assert_int_equal(hist__record(h, UINT64_MAX), 0);
	assert_int_equal(hist__record_n(h, UINT64_MAX, 5), 0);
	assert_int_equal(hist__clamped(h), 7);
	assert_int_equal(hist__count(h), 8);
	assert_int_equal(hist__dropped(h), 0);
	assert_true(hist__max(h) == UINT64_MAX);
	assert_true(hist__min(h) == top - 1);
	assert_true(hist__sum(h) == UINT64_MAX);	/* saturated, not wrapped */
	/*
	 * Everything shares the top bucket, whose midpoint lies below
	 * top - 1: every quantile is clamped up to the exact minimum.
	 */
	assert_true(hist__quantile(h, 0) == top - 1);
	assert_true(hist__quantile(h, 0.5) == top - 1);
	assert_true(hist__quantile(h, 1) == top - 1);
	hist__free(h);
}

static void test_hist_record_n_large(void **state)
{
	struct hist *h = hist__new();
	uint64_t big = 1ULL << 40;

	(void)state;
	assert_non_null(h);
	assert_int_equal(hist__record_n(h, 1000, big), 0);
	assert_int_equal(hist__record_n(h, 5, 3), 0);
	assert_int_equal(hist__record_n(h, 90 * SEC, 2), 0);
	assert_true(hist__count(h) == big + 5);
	assert_true(hist__sum(h) == 1000 * big + 15 + 180 * SEC);
	assert_int_equal(hist__quantile(h, 0), 5);
	assert_close(hist__quantile(h, 0.5), 1000, 0.5);
	assert_close(hist__quantile(h, 0.99), 1000, 0.99);
	assert_close(hist__quantile(h, 1), 90 * SEC, 1);
	/* ceil(q * n) just past the 1000s lands in the 90 s bucket */
	assert_close(hist__quantile(h, 1.0 - 1.0 / (double)(big + 5)), 90 * SEC, 1);

	/* The sum saturates; the count and quantiles stay right. */
	assert_int_equal(hist__record_n(h, 1ULL << 45, 1ULL << 30), 0);
	assert_true(hist__sum(h) == UINT64_MAX);
	assert_true(hist__count(h) == big + 5 + (1ULL << 30));
	assert_true(hist__quantile(h, 1) == 1ULL << 45);
	hist__free(h);
}

struct walk {
	uint64_t lower, width;	/* of the last bucket visited */
	uint64_t next_lower;	/* lowest value the next bucket may start at */
	uint64_t total;
	unsigned int visited, stop_after;
};

static int walk_bucket(uint64_t lower, uint64_t width, uint64_t count, void *arg)
{
	struct walk *w = arg;

	assert_true(lower >= w->next_lower);
	assert_true(width >= 1);
	assert_true(count > 0);
	w->lower = lower;
	w->width = width;
	w->next_lower = lower + width;
	w->total += count;
	w->visited++;
	return w->visited == w->stop_after ? 7 : 0;
}

static void test_hist_for_each_bucket(void **state)
{
	struct hist *h = hist__new();
	struct walk w = { 0 };
	size_t j;

	(void)state;
	assert_non_null(h);
	assert_int_equal(hist__for_each_bucket(h, walk_bucket, &w), 0);
	assert_int_equal(w.visited, 0);

	rng_seed(99);
	for (j = 0; j < 50000; j++)
		hist__record(h, (uint64_t)exp(log(1e5) + 3 * rng_normal()));
	hist__record_n(h, 0, 4);
	assert_int_equal(hist__for_each_bucket(h, walk_bucket, &w), 0);
	assert_true(w.visited > 100);
	assert_int_equal(w.total, hist__count(h));

	/* A non-zero return stops the walk and is passed back. */
	memset(&w, 0, sizeof(w));
	w.stop_after = 3;
	assert_int_equal(hist__for_each_bucket(h, walk_bucket, &w), 7);
	assert_int_equal(w.visited, 3);

	/* Every value lies in the bucket the walk reports for it. */
	hist__reset(h);
	hist__record(h, 1000003);
	memset(&w, 0, sizeof(w));
	assert_int_equal(hist__for_each_bucket(h, walk_bucket, &w), 0);
	assert_int_equal(w.visited, 1);
	assert_true(w.lower <= 1000003 && 1000003 < w.lower + w.width);
	assert_true(w.width <= 1000003 >> HIST_SUB_BITS);
	hist__free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hist_uniform),
		cmocka_unit_test(test_hist_lognormal),
		cmocka_unit_test(test_hist_bimodal),
		cmocka_unit_test(test_hist_single_value),
		cmocka_unit_test(test_hist_empty),
		cmocka_unit_test(test_hist_small_values_exact),
		cmocka_unit_test(test_hist_merge),
		cmocka_unit_test(test_hist_reset),
		cmocka_unit_test(test_hist_clamp),
		cmocka_unit_test(test_hist_record_n_large),
		cmocka_unit_test(test_hist_for_each_bucket),
	};

	return cmocka_run_group_tests_name("hist", tests, NULL, NULL);
}
