/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * hist: log-linear histogram (see hist.h for the contract).
 *
 * Bucket indices come from probe/loglin.h. They are grouped by octave
 * (index >> HIST_SUB_BITS): octave 0 holds the exact values below
 * 2^HIST_SUB_BITS, octave o >= 1 holds [2^(o+S-1), 2^(o+S)). Each octave's
 * 2^S counts are allocated the first time a value lands in it, so a series
 * spanning 1 µs .. 1 s costs ~11 KiB instead of a dense 42 KiB table.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "probe/loglin.h"
#include "core/hist.h"

#define HIST_NBUCKETS	LOGLIN_NBUCKETS(HIST_SUB_BITS, HIST_MAX_EXP)
#define HIST_OCT_SIZE	(1U << HIST_SUB_BITS)
#define HIST_NOCT	(HIST_NBUCKETS >> HIST_SUB_BITS)

struct hist {
	uint64_t *oct[HIST_NOCT];	/* HIST_OCT_SIZE counts each; NULL until used */
	uint64_t count;
	uint64_t min;			/* UINT64_MAX while empty */
	uint64_t max;
	uint64_t sum;
	uint64_t dropped;
	uint64_t clamped;
};

/* Counters saturate rather than wrap: a stuck maximum is visibly wrong,
 * a wrapped one looks plausible. */
static uint64_t hist__sat_add(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

static uint64_t hist__sat_mul(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* The counts of octave o, allocated on first use; NULL on ENOMEM. */
static uint64_t *hist__octave(struct hist *h, unsigned int o)
{
	if (!h->oct[o])
		h->oct[o] = calloc(HIST_OCT_SIZE, sizeof(uint64_t));
	return h->oct[o];
}

static void hist__clear_stats(struct hist *h)
{
	h->count = 0;
	h->min = UINT64_MAX;
	h->max = 0;
	h->sum = 0;
	h->dropped = 0;
	h->clamped = 0;
}

struct hist *hist__new(void)
{
	struct hist *h = calloc(1, sizeof(*h));

	if (!h) {
		errno = ENOMEM;
		return NULL;
	}
	hist__clear_stats(h);
	return h;
}

void hist__free(struct hist *h)
{
	unsigned int o;

	if (!h)
		return;
	for (o = 0; o < HIST_NOCT; o++)
		free(h->oct[o]);
	free(h);
}

int hist__record_n(struct hist *h, uint64_t value, uint64_t n)
{
	uint32_t idx;
	uint64_t *oct;

	if (!n)
		return 0;
	idx = loglin_index(value, HIST_SUB_BITS, HIST_MAX_EXP);
	oct = hist__octave(h, idx >> HIST_SUB_BITS);
	if (!oct) {
		h->dropped = hist__sat_add(h->dropped, n);
		return -ENOMEM;
	}
	oct[idx & (HIST_OCT_SIZE - 1)] = hist__sat_add(oct[idx & (HIST_OCT_SIZE - 1)], n);
	if (value >> (HIST_MAX_EXP + 1))
		h->clamped = hist__sat_add(h->clamped, n);
	h->count = hist__sat_add(h->count, n);
	h->sum = hist__sat_add(h->sum, hist__sat_mul(value, n));
	if (value < h->min)
		h->min = value;
	if (value > h->max)
		h->max = value;
	return 0;
}

int hist__merge(struct hist *dst, const struct hist *src)
{
	unsigned int o, i;

	/*
	 * Allocate everything first: on ENOMEM dst is left as it was (the
	 * "partial merge" holds nothing of src) and the loss shows in
	 * dst->dropped instead of as buckets that disagree with count.
	 */
	for (o = 0; o < HIST_NOCT; o++) {
		if (src->oct[o] && !hist__octave(dst, o)) {
			dst->dropped = hist__sat_add(dst->dropped,
					hist__sat_add(src->count, src->dropped));
			return -ENOMEM;
		}
	}
	for (o = 0; o < HIST_NOCT; o++) {
		if (!src->oct[o])
			continue;
		for (i = 0; i < HIST_OCT_SIZE; i++)
			dst->oct[o][i] = hist__sat_add(dst->oct[o][i], src->oct[o][i]);
	}
	if (src->count) {
		if (src->min < dst->min)
			dst->min = src->min;
		if (src->max > dst->max)
			dst->max = src->max;
	}
	dst->count = hist__sat_add(dst->count, src->count);
	dst->sum = hist__sat_add(dst->sum, src->sum);
	dst->dropped = hist__sat_add(dst->dropped, src->dropped);
	dst->clamped = hist__sat_add(dst->clamped, src->clamped);
	return 0;
}

void hist__reset(struct hist *h)
{
	unsigned int o;

	for (o = 0; o < HIST_NOCT; o++)
		if (h->oct[o])
			memset(h->oct[o], 0, HIST_OCT_SIZE * sizeof(uint64_t));
	hist__clear_stats(h);
}

uint64_t hist__count(const struct hist *h)
{
	return h->count;
}

uint64_t hist__min(const struct hist *h)
{
	return h->count ? h->min : 0;
}

uint64_t hist__max(const struct hist *h)
{
	return h->max;
}

double hist__mean(const struct hist *h)
{
	return h->count ? (double)h->sum / (double)h->count : 0.0;
}

uint64_t hist__sum(const struct hist *h)
{
	return h->sum;
}

uint64_t hist__dropped(const struct hist *h)
{
	return h->dropped;
}

uint64_t hist__clamped(const struct hist *h)
{
	return h->clamped;
}

uint64_t hist__quantile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0, v;
	unsigned int o, i;
	uint32_t idx;
	double r;

	if (!h->count)
		return 0;
	/* !(q > 0) also sends NaN to the minimum. */
	r = q > 0 ? ceil(q * (double)h->count) : 1.0;
	if (r < 1.0)
		rank = 1;
	else if (r >= (double)h->count)
		rank = h->count;
	else
		rank = (uint64_t)r;

	for (o = 0; o < HIST_NOCT; o++) {
		if (!h->oct[o])
			continue;
		for (i = 0; i < HIST_OCT_SIZE; i++) {
			seen = hist__sat_add(seen, h->oct[o][i]);
			if (seen < rank)
				continue;
			idx = (o << HIST_SUB_BITS) | i;
			v = loglin_lower(idx, HIST_SUB_BITS) +
			    loglin_width(idx, HIST_SUB_BITS) / 2;
			/* The true value lies in [min, max]: clamping only helps. */
			if (v < h->min)
				v = h->min;
			if (v > h->max)
				v = h->max;
			return v;
		}
	}
	/* Unreachable while the bucket counts add up to count. */
	return h->max;
}

int hist__for_each_bucket(const struct hist *h, hist_bucket_fn fn, void *arg)
{
	unsigned int o, i;
	uint32_t idx;
	int ret;

	for (o = 0; o < HIST_NOCT; o++) {
		if (!h->oct[o])
			continue;
		for (i = 0; i < HIST_OCT_SIZE; i++) {
			if (!h->oct[o][i])
				continue;
			idx = (o << HIST_SUB_BITS) | i;
			ret = fn(loglin_lower(idx, HIST_SUB_BITS),
				 loglin_width(idx, HIST_SUB_BITS), h->oct[o][i], arg);
			if (ret)
				return ret;
		}
	}
	return 0;
}
