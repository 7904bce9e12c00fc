/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * hist: a log-linear (HDR-style) histogram of unsigned 64-bit values.
 *
 * Buckets follow include/probe/loglin.h with HIST_SUB_BITS sub-bucket bits:
 * every quantile is reported as the midpoint of the bucket holding it, so
 * its relative error is at most 2^-(HIST_SUB_BITS+1) = 0.39 % for any value
 * (values below 2^HIST_SUB_BITS are exact). Probe records nanoseconds, so
 * 1 µs .. 100 s sits well inside the range; values at or above
 * 2^(HIST_MAX_EXP+1) are clamped into the top bucket and counted in
 * hist__clamped().
 *
 * Memory grows with the spread of the data, not its count: bucket storage
 * is allocated per power of two on first use (1 KiB each).
 *
 * Ownership: a hist owns its buckets; hist__free(NULL) is a no-op.
 * Errors: functions returning int give 0 or -ENOMEM; a failed record is
 * counted in hist__dropped() rather than lost silently.
 */
#ifndef PROBE_CORE_HIST_H
#define PROBE_CORE_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS	7
#define HIST_MAX_EXP	47	/* 2^48 ns ~ 3.3 days */

struct hist;

struct hist *hist__new(void);
void hist__free(struct hist *h);

/* Record value n times. Returns 0, or -ENOMEM (counted in hist__dropped). */
int hist__record_n(struct hist *h, uint64_t value, uint64_t n);
static inline int hist__record(struct hist *h, uint64_t value)
{
	return hist__record_n(h, value, 1);
}

/* dst += src. Returns 0 or -ENOMEM (dst then holds a partial merge). */
int hist__merge(struct hist *dst, const struct hist *src);
/* Forget every value; keeps allocated storage for reuse. */
void hist__reset(struct hist *h);

uint64_t hist__count(const struct hist *h);
uint64_t hist__min(const struct hist *h);	/* exact; 0 when empty */
uint64_t hist__max(const struct hist *h);	/* exact; 0 when empty */
double hist__mean(const struct hist *h);	/* exact sum / count; 0 when empty */
uint64_t hist__sum(const struct hist *h);	/* exact, saturating */
uint64_t hist__dropped(const struct hist *h);
uint64_t hist__clamped(const struct hist *h);

/*
 * The value at quantile q in [0, 1]: the midpoint of the bucket holding the
 * ceil(q * count)-th smallest value (the smallest for q = 0), clamped to
 * [min, max]. 0 when empty.
 */
uint64_t hist__quantile(const struct hist *h, double q);

/* Walk non-empty buckets in increasing order; stop early when fn returns non-zero. */
typedef int (*hist_bucket_fn)(uint64_t lower, uint64_t width, uint64_t count, void *arg);
int hist__for_each_bucket(const struct hist *h, hist_bucket_fn fn, void *arg);

#endif
