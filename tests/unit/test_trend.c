/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Unit tests for user/core/trend.c: memory-shaped series fed once a second
 * (unless a test says otherwise), judged after every point, as the
 * memgrowth signal does. Noise comes from a fixed-seed generator, so every
 * run sees the same series.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <cmocka.h>

#include "core/trend.h"

#define KB	1024.0
#define MB	(1024.0 * 1024.0)
#define BASE	(50 * MB)

/* 60 s horizon: what the tests of the signal use, scaled. */
static const struct trend_opts OPTS = {
	.horizon_s = 60,
	.min_rate = 4 * KB,
	.min_growth = 512 * KB,
	.min_fit = 0.8,
	.segments = 4,
	.coverage = 0.9,
};

typedef double (*series_fn)(double t, void *arg);

struct run {
	double first_flag;	/* time of the first suspect evaluation, or -1 */
	double last_clear;	/* time suspect last went 1 -> 0, or -1 */
	unsigned int flagged;	/* evaluations that were suspect */
	struct trend_result last;
};

/* Feed f at t0, t0+dt, ... until t1 (inclusive), evaluating after each point. */
static void feed(struct trend *t, series_fn f, void *arg, double t0, double t1, double dt,
		 struct run *r)
{
	double now;
	int was = r->last.suspect;

	for (now = t0; now <= t1 + 1e-9; now += dt) {
		assert_int_equal(trend__add(t, now, f(now, arg)), 0);
		trend__eval(t, &r->last);
		if (r->last.suspect) {
			r->flagged++;
			if (r->first_flag < 0)
				r->first_flag = now;
		} else if (was) {
			r->last_clear = now;
		}
		was = r->last.suspect;
	}
}

static struct run run_series(const struct trend_opts *o, series_fn f, void *arg, double t1)
{
	struct trend *t = trend__new(o);
	struct run r = { .first_flag = -1, .last_clear = -1 };

	assert_non_null(t);
	feed(t, f, arg, 0, t1, 1, &r);
	trend__free(t);
	return r;
}

/* xorshift64*: deterministic noise in [-1, 1) */
static uint64_t rng_state;

static double noise(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double)((rng_state * 2685821657736338717ULL) >> 11) / (double)(1ULL << 52) - 1;
}

/* ---- series ---- */

struct linear { double rate, jitter; };

static double f_linear(double t, void *arg)
{
	struct linear *l = arg;

	return BASE + l->rate * t + l->jitter * noise();
}

/* grows at rate until stop, then flat */
struct plateau { double rate, stop; };

static double f_plateau(double t, void *arg)
{
	struct plateau *p = arg;

	return BASE + p->rate * (t < p->stop ? t : p->stop);
}

/* rises at rate for period seconds, then falls back to the floor (a GC), repeatedly;
 * the floor itself moves at drift */
struct saw { double rate, period, drift; };

static double f_saw(double t, void *arg)
{
	struct saw *s = arg;

	return BASE + s->drift * t + s->rate * fmod(t, s->period);
}

struct noisy { double amp; };

static double f_noise(double t, void *arg)
{
	(void)t;
	return BASE + ((struct noisy *)arg)->amp * noise();
}

/* one jump of size at time at */
struct step { double at, size; };

static double f_step(double t, void *arg)
{
	struct step *s = arg;

	return BASE + (t >= s->at ? s->size : 0);
}

/* size every period seconds: a staircase */
struct stairs { double period, size; };

static double f_stairs(double t, void *arg)
{
	struct stairs *s = arg;

	return BASE + s->size * floor(t / s->period);
}

/* linear growth with rare huge spikes */
static double f_spiky(double t, void *arg)
{
	double v = BASE + *(double *)arg * t;
	long s = (long)t;

	return s % 23 == 7 ? v + 200 * MB : v;
}

/* ---- tests ---- */

static void test_steady_linear_growth_flagged(void **state)
{
	struct linear l = { .rate = 64 * KB, .jitter = 0 };
	struct run r;

	(void)state;
	r = run_series(&OPTS, f_linear, &l, 300);
	/* flagged as soon as the window is covered (0.9 * 60 s), never cleared */
	assert_true(r.first_flag >= 54 && r.first_flag <= 55);
	assert_int_equal(r.last_clear, -1);
	assert_true(r.last.suspect && r.last.growing && r.last.enough);
	assert_true(fabs(r.last.slope - 64 * KB) < 1e-6 * 64 * KB);
	assert_true(r.last.fit > 0.999999);
	/* the episode began when the first flagged window began */
	assert_true(r.last.since_s >= 0 && r.last.since_s <= 1);
	assert_true(fabs(r.last.baseline - BASE) < 0.01 * MB);
}

static void test_noisy_linear_growth_flagged(void **state)
{
	/* 16 KB/s under +-256 KB of jitter: a slow leak in a jittery RSS */
	struct linear l = { .rate = 16 * KB, .jitter = 256 * KB };
	struct run r;

	(void)state;
	rng_state = 42;
	r = run_series(&OPTS, f_linear, &l, 600);
	assert_true(r.first_flag >= 54 && r.first_flag <= 70);
	assert_true(r.last.suspect);
	assert_true(fabs(r.last.slope - 16 * KB) < 0.15 * 16 * KB);
	assert_true(r.last.fit >= OPTS.min_fit);
}

static void test_grow_then_plateau_not_flagged(void **state)
{
	/* warms up for 40 s (less than the horizon), then holds for 10 minutes */
	struct plateau p = { .rate = 256 * KB, .stop = 40 };
	struct run r;

	(void)state;
	r = run_series(&OPTS, f_plateau, &p, 600);
	assert_int_equal(r.flagged, 0);
	assert_false(r.last.growing);
	assert_true(fabs(r.last.slope) < 1);
}

/* warms up, then holds with RSS jitter (the kernel's counters move in batches) */
struct noisy_plateau { double rate, stop, jitter; };

static double f_noisy_plateau(double t, void *arg)
{
	struct noisy_plateau *p = arg;

	return BASE + p->rate * (t < p->stop ? t : p->stop) + p->jitter * noise();
}

static void test_noisy_plateau_not_flagged(void **state)
{
	/* growth over most of a window is growth; up to three quarters of it, a warm-up */
	static const double stops[] = { 10, 25, 40, 45 };
	unsigned int i;

	(void)state;
	rng_state = 99;
	for (i = 0; i < sizeof(stops) / sizeof(stops[0]); i++) {
		struct noisy_plateau p = { .rate = 512 * KB, .stop = stops[i], .jitter = 256 * KB };
		struct run r = run_series(&OPTS, f_noisy_plateau, &p, 600);

		if (r.flagged)
			fail_msg("growth for %.0f s then a plateau flagged %u times", stops[i],
				 r.flagged);
	}
}

static void test_long_growth_then_plateau_clears(void **state)
{
	/* grows for 3 minutes (flagged: that is steady growth), then stops */
	struct plateau p = { .rate = 64 * KB, .stop = 180 };
	struct run r;

	(void)state;
	r = run_series(&OPTS, f_plateau, &p, 400);
	assert_true(r.first_flag >= 54 && r.first_flag <= 55);
	assert_true(r.last_clear > 180);
	/* cleared within one horizon of the plateau */
	assert_true(r.last_clear <= 180 + OPTS.horizon_s);
	assert_false(r.last.suspect);
	assert_true(r.last.since_s == 0 && r.last.baseline == 0);
}

static void test_gc_sawtooth_not_flagged(void **state)
{
	/* a collector that lets the heap rise fast and drops it back */
	static const double periods[] = { 3, 5, 10, 13, 20, 30 };
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(periods) / sizeof(periods[0]); i++) {
		struct saw s = { .rate = 1 * MB, .period = periods[i], .drift = 0 };
		struct run r = run_series(&OPTS, f_saw, &s, 600);

		if (r.flagged)
			fail_msg("saw-tooth with a %.0f s period flagged %u times", periods[i],
				 r.flagged);
		assert_true(r.last.fit < OPTS.min_fit);
	}
}

static void test_leak_under_gc_sawtooth_flagged(void **state)
{
	/* the floor after each collection keeps rising: live data grows */
	struct saw s = { .rate = 32 * KB, .period = 5, .drift = 64 * KB };
	struct run r;

	(void)state;
	r = run_series(&OPTS, f_saw, &s, 300);
	assert_true(r.first_flag > 0 && r.first_flag <= 70);
	assert_true(r.last.suspect);
	/* the saw's own rise averages out: the slope is the floor's drift */
	assert_true(fabs(r.last.slope - 64 * KB) < 0.25 * 64 * KB);
}

static void test_noise_not_flagged(void **state)
{
	static const double amps[] = { 1 * KB, 100 * KB, 10 * MB };
	unsigned int i;

	(void)state;
	rng_state = 7;
	for (i = 0; i < sizeof(amps) / sizeof(amps[0]); i++) {
		struct noisy nz = { .amp = amps[i] };
		struct run r = run_series(&OPTS, f_noise, &nz, 900);

		if (r.flagged)
			fail_msg("noise of +-%.0f bytes flagged %u times", amps[i], r.flagged);
		assert_true(r.last.fit < 0.5);
	}
}

static void test_single_step_not_flagged(void **state)
{
	/* one big allocation kept for good: a step, not a leak */
	static const double at[] = { 30, 100, 127, 160 };
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		struct step s = { .at = at[i], .size = 50 * MB };
		struct run r = run_series(&OPTS, f_step, &s, 400);

		if (r.flagged)
			fail_msg("a step at %.0f s flagged %u times", at[i], r.flagged);
	}
}

static void test_regular_steps_flagged(void **state)
{
	/* +1 MB every 5 s is growth, just granular (a cache that never evicts) */
	struct stairs s = { .period = 5, .size = 1 * MB };
	struct run r;

	(void)state;
	r = run_series(&OPTS, f_stairs, &s, 300);
	assert_true(r.first_flag > 0 && r.first_flag <= 70);
	assert_true(r.last.suspect);
	assert_true(fabs(r.last.slope - 0.2 * MB) < 0.1 * 0.2 * MB);
}

static void test_spikes_do_not_hide_growth(void **state)
{
	double rate = 32 * KB;
	struct run r;

	(void)state;
	r = run_series(&OPTS, f_spiky, &rate, 300);
	assert_true(r.first_flag > 0 && r.first_flag <= 70);
	assert_true(r.last.suspect);
	assert_true(fabs(r.last.slope - rate) < 0.01 * rate);
}

static void test_too_few_points(void **state)
{
	struct linear l = { .rate = 1 * MB, .jitter = 0 };
	struct trend *t = trend__new(&OPTS);
	struct run r = { .first_flag = -1, .last_clear = -1 };

	(void)state;
	assert_non_null(t);
	/* a perfect line, but only 7 points (one every 10 s): cannot judge */
	feed(t, f_linear, &l, 0, 60, 10, &r);
	assert_int_equal(r.last.n, 7);
	assert_false(r.last.enough);
	assert_int_equal(r.flagged, 0);
	assert_true(fabs(r.last.slope - 1 * MB) < 1);	/* still measured */
	trend__free(t);

	/* many points, but only half the horizon yet */
	t = trend__new(&OPTS);
	assert_non_null(t);
	memset(&r, 0, sizeof(r));
	r.first_flag = r.last_clear = -1;
	feed(t, f_linear, &l, 0, 30, 0.5, &r);
	assert_false(r.last.enough);
	assert_int_equal(r.flagged, 0);
	trend__free(t);

	/* no point, one point */
	t = trend__new(&OPTS);
	assert_non_null(t);
	trend__eval(t, &r.last);
	assert_int_equal(r.last.n, 0);
	assert_false(r.last.enough);
	assert_int_equal(trend__add(t, 5, BASE), 0);
	trend__eval(t, &r.last);
	assert_int_equal(r.last.n, 1);
	assert_true(r.last.slope == 0 && r.last.fit == 0 && !r.last.suspect);
	trend__free(t);
}

static void test_below_thresholds_not_flagged(void **state)
{
	struct linear slow = { .rate = 2 * KB, .jitter = 0 };	/* under min_rate */
	struct linear down = { .rate = -64 * KB, .jitter = 0 };	/* shrinking */
	struct trend_opts o = OPTS;
	struct run r;

	(void)state;
	r = run_series(&OPTS, f_linear, &slow, 300);
	assert_int_equal(r.flagged, 0);
	assert_true(r.last.fit > 0.99);		/* a perfect line, too slow */
	r = run_series(&OPTS, f_linear, &down, 300);
	assert_int_equal(r.flagged, 0);
	/* min_growth: 8 KB/s passes min_rate, but 60 s of it is under 1 MB */
	o.min_growth = 1 * MB;
	slow.rate = 8 * KB;
	r = run_series(&o, f_linear, &slow, 300);
	assert_int_equal(r.flagged, 0);
	o.min_growth = 256 * KB;
	r = run_series(&o, f_linear, &slow, 300);
	assert_true(r.flagged > 0);
}

static void test_dense_points_are_merged(void **state)
{
	/* 10 points a second for 10 minutes: the window stays bounded and right */
	struct linear l = { .rate = 64 * KB, .jitter = 0 };
	struct trend *t = trend__new(&OPTS);
	struct run r = { .first_flag = -1, .last_clear = -1 };

	(void)state;
	assert_non_null(t);
	feed(t, f_linear, &l, 0, 600, 0.1, &r);
	assert_true(r.last.n <= TREND_MAX_POINTS);
	assert_true(r.last.n >= TREND_MAX_POINTS - 2);
	assert_true(r.last.span_s <= OPTS.horizon_s && r.last.span_s >= 0.95 * OPTS.horizon_s);
	assert_true(r.last.suspect);
	assert_true(fabs(r.last.slope - 64 * KB) < 1e-3 * 64 * KB);
	trend__free(t);
}

static void test_reset_and_bad_input(void **state)
{
	struct linear l = { .rate = 64 * KB, .jitter = 0 };
	struct trend *t = trend__new(&OPTS);
	struct run r = { .first_flag = -1, .last_clear = -1 };
	struct trend_result res;

	(void)state;
	assert_non_null(t);
	feed(t, f_linear, &l, 0, 100, 1, &r);
	assert_true(r.last.suspect);
	/* time going backwards and non-finite values are refused, state kept */
	assert_int_equal(trend__add(t, 50, BASE), -EINVAL);
	assert_int_equal(trend__add(t, 101, NAN), -EINVAL);
	assert_int_equal(trend__add(t, INFINITY, BASE), -EINVAL);
	trend__eval(t, &res);
	assert_true(res.suspect);
	/* reset: a new program in the same process starts from nothing */
	trend__reset(t);
	trend__eval(t, &res);
	assert_int_equal(res.n, 0);
	assert_false(res.suspect);
	assert_true(res.since_s == 0 && res.baseline == 0);
	/* and an old time is fine after a reset */
	assert_int_equal(trend__add(t, 1, BASE), 0);
	trend__free(t);
	trend__free(NULL);
}

static void test_bad_options(void **state)
{
	struct trend_opts o;

	(void)state;
	errno = 0;
	assert_null(trend__new(NULL));
	assert_int_equal(errno, EINVAL);
#define BAD(field, value)				\
	do {						\
		o = OPTS;				\
		o.field = value;			\
		errno = 0;				\
		assert_null(trend__new(&o));		\
		assert_int_equal(errno, EINVAL);	\
	} while (0)
	BAD(horizon_s, 0);
	BAD(horizon_s, -1);
	BAD(horizon_s, NAN);
	BAD(min_rate, -1);
	BAD(min_growth, INFINITY);
	BAD(min_fit, 1.5);
	BAD(min_fit, -0.1);
	BAD(segments, 1);
	BAD(segments, TREND_MAX_SEGMENTS + 1);
	BAD(coverage, 0);
	BAD(coverage, 1.01);
#undef BAD
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_steady_linear_growth_flagged),
		cmocka_unit_test(test_noisy_linear_growth_flagged),
		cmocka_unit_test(test_grow_then_plateau_not_flagged),
		cmocka_unit_test(test_noisy_plateau_not_flagged),
		cmocka_unit_test(test_long_growth_then_plateau_clears),
		cmocka_unit_test(test_gc_sawtooth_not_flagged),
		cmocka_unit_test(test_leak_under_gc_sawtooth_flagged),
		cmocka_unit_test(test_noise_not_flagged),
		cmocka_unit_test(test_single_step_not_flagged),
		cmocka_unit_test(test_regular_steps_flagged),
		cmocka_unit_test(test_spikes_do_not_hide_growth),
		cmocka_unit_test(test_too_few_points),
		cmocka_unit_test(test_below_thresholds_not_flagged),
		cmocka_unit_test(test_dense_points_are_merged),
		cmocka_unit_test(test_reset_and_bad_input),
		cmocka_unit_test(test_bad_options),
	};

	return cmocka_run_group_tests_name("trend", tests, NULL, NULL);
}
