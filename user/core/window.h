/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * window: sliding-window aggregation over a ring of time slots.
 *
 * Each slot holds a histogram and a fixed number of counters covering
 * slot_ns of time. Writes go to the slot that covers `now`; slots the clock
 * has moved past are reset before reuse, so a quiet series ages out.
 * A read over span_ns merges the slots that cover (now - span_ns, now],
 * including the partial current slot, and also reports how much time those
 * slots really cover (less than span_ns just after start), so rates are
 * computed over observed time, not assumed time.
 *
 * Besides the ring, a window keeps totals since creation (cumulative
 * histogram and counters) for summaries and Prometheus counters.
 *
 * Time is caller-supplied (CLOCK_MONOTONIC ns) so tests can drive it.
 * Going backwards in time is treated as "now = last seen".
 */
#ifndef PROBE_CORE_WINDOW_H
#define PROBE_CORE_WINDOW_H

#include <stdint.h>
#include "hist.h"

#define WINDOW_MAX_COUNTERS	8

struct window;

/* nslots >= 1, slot_ns >= 1, ncounters <= WINDOW_MAX_COUNTERS; NULL + errno on error. */
struct window *window__new(unsigned int nslots, uint64_t slot_ns, unsigned int ncounters);
void window__free(struct window *w);

int window__observe(struct window *w, uint64_t now_ns, uint64_t value);
int window__observe_n(struct window *w, uint64_t now_ns, uint64_t value, uint64_t n);
void window__add(struct window *w, uint64_t now_ns, unsigned int counter, uint64_t n);
/* Merge a whole histogram (e.g. a kernel-side delta) into the current slot. */
int window__merge(struct window *w, uint64_t now_ns, const struct hist *h);

struct window_read {
	uint64_t covered_ns;			/* time the merged slots span */
	uint64_t counters[WINDOW_MAX_COUNTERS];
};

/*
 * Merge the last span_ns (rounded up to whole slots, capped at the ring) into
 * `into` (reset first; may be NULL to read counters only) and `out`.
 * Returns 0 or -ENOMEM / -EINVAL.
 */
int window__read(struct window *w, uint64_t now_ns, uint64_t span_ns,
		 struct hist *into, struct window_read *out);

/* Since creation. */
const struct hist *window__total_hist(const struct window *w);
uint64_t window__total_counter(const struct window *w, unsigned int counter);
uint64_t window__span_ns(const struct window *w);	/* nslots * slot_ns */

#endif
