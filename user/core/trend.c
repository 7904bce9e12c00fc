/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * trend: steady-growth detection over a sliding window (see trend.h).
 *
 * Points live in a ring, oldest first. Time is cut into buckets of `step`
 * seconds; a new point in the same bucket as the last one replaces it, so
 * one window never holds more than horizon / step + 2 = TREND_MAX_POINTS
 * points, whatever the caller's sampling rate.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/trend.h"

struct trend {
	struct trend_opts o;
	double step;			/* bucket width: one point per bucket */
	double last_bucket;		/* floor(t / step) of the newest point */
	double t[TREND_MAX_POINTS];
	double v[TREND_MAX_POINTS];
	unsigned int head, n;		/* oldest point, count */
	int suspect;
	double since, baseline;
};

static int opts_valid(const struct trend_opts *o)
{
	return o && isfinite(o->horizon_s) && o->horizon_s > 0 &&
	       isfinite(o->min_rate) && o->min_rate >= 0 &&
	       isfinite(o->min_growth) && o->min_growth >= 0 &&
	       o->min_fit >= 0 && o->min_fit <= 1 &&
	       o->segments >= 2 && o->segments <= TREND_MAX_SEGMENTS &&
	       o->coverage > 0 && o->coverage <= 1;
}

struct trend *trend__new(const struct trend_opts *opts)
{
	struct trend *t;

	if (!opts_valid(opts)) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->o = *opts;
	t->step = opts->horizon_s / (TREND_MAX_POINTS - 2);
	return t;
}

void trend__free(struct trend *t)
{
	free(t);
}

void trend__reset(struct trend *t)
{
	t->head = t->n = 0;
	t->suspect = 0;
	t->since = t->baseline = 0;
}

static unsigned int at(const struct trend *t, unsigned int i)
{
	return (t->head + i) % TREND_MAX_POINTS;
}

int trend__add(struct trend *t, double t_s, double value)
{
	unsigned int last;
	double bucket;

	if (!isfinite(t_s) || !isfinite(value))
		return -EINVAL;
	bucket = floor(t_s / t->step);
	if (t->n) {
		last = at(t, t->n - 1);
		if (t_s < t->t[last])
			return -EINVAL;
		if (bucket == t->last_bucket) {
			t->t[last] = t_s;
			t->v[last] = value;
			return 0;
		}
	}
	t->last_bucket = bucket;
	if (t->n == TREND_MAX_POINTS) {		/* cannot happen with step; stay bounded */
		t->head = at(t, 1);
		t->n--;
	}
	last = at(t, t->n);
	t->t[last] = t_s;
	t->v[last] = value;
	t->n++;
	/* Keep one window: everything older than horizon before the newest goes. */
	while (t->n > 1 && t->t[t->head] < t_s - t->o.horizon_s) {
		t->head = at(t, 1);
		t->n--;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of v[0..n), n > 0; reorders v. */
static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Theil-Sen slope and intercept over up to TREND_TS_POINTS evenly spread points. */
static void theil_sen(const double *x, const double *y, unsigned int n,
		      double *slope, double *icept)
{
	double s[TREND_TS_POINTS * (TREND_TS_POINTS - 1) / 2], r[TREND_TS_POINTS];
	unsigned int idx[TREND_TS_POINTS], m = n < TREND_TS_POINTS ? n : TREND_TS_POINTS;
	unsigned int i, j, ns = 0;

	*slope = *icept = 0;
	if (m < 2)
		return;
	for (i = 0; i < m; i++)
		idx[i] = (unsigned int)((double)i * (n - 1) / (m - 1) + 0.5);
	for (i = 0; i < m; i++)
		for (j = i + 1; j < m; j++) {
			double dx = x[idx[j]] - x[idx[i]];

			if (dx > 0)
				s[ns++] = (y[idx[j]] - y[idx[i]]) / dx;
		}
	if (!ns)
		return;
	*slope = median(s, ns);
	for (i = 0; i < m; i++)
		r[i] = y[idx[i]] - *slope * x[idx[i]];
	*icept = median(r, m);
}

/* R^2 of the least-squares line over the points with keep[i] (0 when either
 * variable is constant); its slope in *slope when not NULL. */
static double r_squared(const double *x, const double *y, const unsigned char *keep,
			unsigned int n, double *slope)
{
	double mx = 0, my = 0, sxx = 0, syy = 0, sxy = 0;
	unsigned int i, m = 0;

	for (i = 0; i < n; i++)
		if (keep[i]) {
			mx += x[i];
			my += y[i];
			m++;
		}
	if (slope)
		*slope = 0;
	if (m < 2)
		return 0;
	mx /= m;
	my /= m;
	for (i = 0; i < n; i++) {
		double dx = x[i] - mx, dy = y[i] - my;

		if (!keep[i])
			continue;
		sxx += dx * dx;
		syy += dy * dy;
		sxy += dx * dy;
	}
	if (slope && sxx > 0)
		*slope = sxy / sxx;
	if (m < 3 || sxx <= 0 || syy <= 0)
		return 0;
	return sxy * sxy / (sxx * syy);
}

/*
 * The fit, robust to a few wild points (a transient spike is not a trend
 * breaker): points farther from the Theil-Sen line than 5 scaled MADs of
 * the residuals are left out, unless that would leave out more than a
 * tenth, which is structure (a saw-tooth, a step), not outliers.
 */
static double robust_fit(const double *x, const double *y, unsigned int n,
			 double slope, double icept)
{
	double res[TREND_MAX_POINTS], tmp[TREND_MAX_POINTS], mad, lim;
	unsigned char keep[TREND_MAX_POINTS];
	unsigned int i, out = 0;

	if (n < 3)
		return 0;
	for (i = 0; i < n; i++) {
		res[i] = fabs(y[i] - (icept + slope * x[i]));
		tmp[i] = res[i];
		keep[i] = 1;
	}
	mad = median(tmp, n);
	/* on a perfect line the MAD is 0: then anything off the line is out */
	lim = fmax(5 * 1.4826 * mad, 1e-9 * (fabs(icept) + 1));
	for (i = 0; i < n; i++)
		out += res[i] > lim;
	if (out * 10 <= n)
		for (i = 0; i < n; i++)
			keep[i] = res[i] <= lim;
	return r_squared(x, y, keep, n, NULL);
}

/*
 * Steadiness: slice the span into `segs` equal parts; every slice's median
 * must rise over the previous one by at least a quarter of what the slope
 * predicts for one slice, and the last slice must itself still grow at a
 * quarter of the slope (growth that has just stopped is a plateau, not a
 * leak). *last_rise gets the last slice's rise relative to the prediction
 * (1.0 = on the line), for the hysteresis.
 */
static int steady(const double *x, const double *y, unsigned int n, unsigned int segs,
		  double slope, double *last_rise)
{
	double med[TREND_MAX_SEGMENTS], buf[TREND_MAX_POINTS];
	double span = x[n - 1] - x[0], w = span / segs, expect = slope * w;
	double tail_slope, tail_icept;
	unsigned int i = 0, k, ok = 1, tail = 0;

	*last_rise = 0;
	if (!(expect > 0))
		return 0;
	for (k = 0; k < segs; k++) {
		double end = k + 1 == segs ? INFINITY : x[0] + (k + 1) * w;
		unsigned int m = 0;

		tail = i;
		while (i < n && x[i] < end)
			buf[m++] = y[i++];
		if (!m)
			return 0;	/* a slice without data: cannot tell */
		med[k] = median(buf, m);
	}
	for (k = 1; k < segs; k++)
		if (med[k] - med[k - 1] < 0.25 * expect)
			ok = 0;
	*last_rise = (med[segs - 1] - med[segs - 2]) / expect;
	theil_sen(x + tail, y + tail, n - tail, &tail_slope, &tail_icept);
	if (tail_slope < 0.25 * slope)
		ok = 0;
	return ok;
}

void trend__eval(struct trend *t, struct trend_result *r)
{
	double x[TREND_MAX_POINTS], y[TREND_MAX_POINTS], icept = 0, last_rise = 0;
	double lo = INFINITY, hi = -INFINITY;
	unsigned char all[TREND_MAX_POINTS];
	const struct trend_opts *o = &t->o;
	unsigned int i, n = t->n, min_n;
	int hold, full;

	memset(r, 0, sizeof(*r));
	r->n = n;
	for (i = 0; i < n; i++) {
		x[i] = t->t[at(t, i)] - t->t[t->head];	/* relative: keeps precision */
		y[i] = t->v[at(t, i)];
		lo = fmin(lo, y[i]);
		hi = fmax(hi, y[i]);
		all[i] = 1;
	}
	/*
	 * A window whose values stay within min_growth cannot be growing:
	 * the least-squares line is enough to report, and it is O(n). This
	 * keeps the always-on, host-wide case cheap for quiet processes.
	 */
	full = n && (t->suspect || hi - lo >= o->min_growth);
	if (n) {
		r->span_s = x[n - 1];
		if (full) {
			theil_sen(x, y, n, &r->slope, &icept);
			r->fit = robust_fit(x, y, n, r->slope, icept);
		} else {
			r->fit = r_squared(x, y, all, n, &r->slope);
		}
	}
	min_n = o->segments * 2 > TREND_MIN_POINTS ? o->segments * 2 : TREND_MIN_POINTS;
	/* 1e-9: a span computed from the same clock must not miss by rounding */
	r->enough = n >= min_n && r->span_s >= o->coverage * o->horizon_s - 1e-9;
	if (r->enough && full) {
		int st = steady(x, y, n, o->segments, r->slope, &last_rise);

		r->growing = r->slope > 0 && r->slope >= o->min_rate &&
			     r->slope * r->span_s >= o->min_growth && r->fit >= o->min_fit && st;
	}

	if (!t->suspect && r->growing) {
		t->suspect = 1;
		/* The whole window was already growing: the episode began at its start. */
		t->since = t->t[t->head];
		t->baseline = icept;
	} else if (t->suspect) {
		hold = r->enough && r->slope > 0 && r->slope >= o->min_rate / 2 &&
		       r->fit >= o->min_fit / 2 && last_rise >= 0.1;
		if (!hold && !r->growing) {
			t->suspect = 0;
			t->since = t->baseline = 0;
		}
	}
	r->suspect = t->suspect;
	r->since_s = t->since;
	r->baseline = t->baseline;
}
