/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * trend: is a value (a process's memory) growing steadily over a horizon?
 *
 * Points (time in seconds, value) go in as they are measured; the trend
 * keeps those of the last horizon_s (at most TREND_MAX_POINTS: closer
 * points are merged, the latest value wins). An evaluation judges the
 * window as a whole:
 *
 *   slope   Theil-Sen (median of pairwise slopes over up to
 *           TREND_TS_POINTS points): robust to spikes and GC drops.
 *   fit     R^2 of the least-squares line: near 1 for steady growth, low
 *           for a saw-tooth or noise. Up to a tenth of the points lying
 *           more than 5 MADs off the Theil-Sen line (spikes) are left out.
 *   steady  the window split into `segments` equal slices, the median of
 *           each slice must rise by at least a quarter of what the slope
 *           predicts, and the last slice must itself still grow at a
 *           quarter of the slope: growth that stopped (a plateau) or
 *           happened once (a step) fails somewhere.
 *
 * Growing = the window spans coverage * horizon_s, its values range over
 * at least min_growth, slope >= min_rate, slope * span >= min_growth,
 * fit >= min_fit and steady. A window whose range is under min_growth is
 * only fitted by least squares (slope and fit then come from that line):
 * it cannot be growing, and most processes are quiet. A trend becomes
 * suspect when growing, and stays suspect (hysteresis, so a flag does not
 * flap on noise) while the slope stays above min_rate / 2, the fit above
 * min_fit / 2 and the last slice still rises; then it clears.
 *
 * What it cannot tell apart: growth that lasts most of a horizon is steady
 * growth, even if it stops later (it is flagged, then cleared within about
 * a horizon); growth for up to three quarters of a horizon followed by a
 * plateau is a warm-up and is not flagged. A saw-tooth is not flagged when
 * its period is at most half the horizon.
 *
 * Pure: no I/O, no clock; the caller passes time. Not thread-safe.
 * Ownership: trend__new returns an object the caller frees with
 * trend__free (NULL is a no-op).
 */
#ifndef PROBE_CORE_TREND_H
#define PROBE_CORE_TREND_H

#define TREND_MAX_POINTS	256
#define TREND_TS_POINTS		48
#define TREND_MAX_SEGMENTS	16
#define TREND_MIN_POINTS	8

struct trend;

struct trend_opts {
	double horizon_s;	/* window judged, > 0 */
	double min_rate;	/* units/s the slope must reach, >= 0 */
	double min_growth;	/* units the fitted line must rise over the window, >= 0 */
	double min_fit;		/* R^2 in [0, 1] */
	unsigned int segments;	/* slices for the steadiness test, 2..TREND_MAX_SEGMENTS */
	double coverage;	/* (0, 1]: part of the horizon the points must span */
};

struct trend_result {
	double slope;		/* units/s (see above for which fit); 0 under 2 points */
	double fit;		/* R^2 (spikes left out, see above); 0 when flat or few */
	double span_s;		/* time the points in the window cover */
	unsigned int n;		/* points in the window */
	int enough;		/* enough points and span to judge */
	int growing;		/* this window alone shows steady growth */
	int suspect;		/* flagged, with hysteresis */
	double since_s;		/* suspect: when the episode began (window start at the flag) */
	double baseline;	/* suspect: the fitted value at since_s */
};

/* NULL + errno (EINVAL for options out of range, ENOMEM). */
struct trend *trend__new(const struct trend_opts *opts);
void trend__free(struct trend *t);
/* Forget every point and the suspect state (e.g. the process exec'd). */
void trend__reset(struct trend *t);

/*
 * Add a point. Time must not go backwards (-EINVAL, point ignored); a
 * non-finite value is -EINVAL too. Returns 0.
 */
int trend__add(struct trend *t, double t_s, double value);

/* Judge the window ending at the latest point and update the suspect state. */
void trend__eval(struct trend *t, struct trend_result *out);

#endif
