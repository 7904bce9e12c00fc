/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * window: ring of time slots (see window.h for the contract).
 *
 * Slot number e = now / slot_ns lives in slots[e % nslots]. The window
 * remembers the current slot number; when the clock moves forward, every
 * slot it enters is reset before use (at most nslots of them), so a slot
 * never mixes data from two laps of the ring and reads need no per-slot
 * timestamps.
 *
 * Time intervals are (a, b] as in the header: the current slot covers
 * [e * slot_ns, now], i.e. now - e * slot_ns + 1 ns.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/window.h"

struct window_slot {
	struct hist *hist;
	uint64_t counters[WINDOW_MAX_COUNTERS];
};

struct window {
	unsigned int nslots;
	unsigned int ncounters;
	uint64_t slot_ns;
	bool started;			/* false until the first call with a time */
	uint64_t start_ns;		/* first time seen: nothing observed before */
	uint64_t now_ns;		/* latest time seen */
	uint64_t cur;			/* now_ns / slot_ns */
	struct window_slot *slots;
	struct hist *total;
	uint64_t total_counters[WINDOW_MAX_COUNTERS];
};

static uint64_t window__sat_add(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

struct window *window__new(unsigned int nslots, uint64_t slot_ns, unsigned int ncounters)
{
	struct window *w;
	uint64_t span;
	unsigned int i;

	if (!nslots || !slot_ns || ncounters > WINDOW_MAX_COUNTERS ||
	    __builtin_mul_overflow((uint64_t)nslots, slot_ns, &span)) {
		errno = EINVAL;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		goto nomem;
	w->nslots = nslots;
	w->ncounters = ncounters;
	w->slot_ns = slot_ns;
	w->slots = calloc(nslots, sizeof(*w->slots));
	w->total = hist__new();
	if (!w->slots || !w->total)
		goto nomem;
	for (i = 0; i < nslots; i++) {
		w->slots[i].hist = hist__new();
		if (!w->slots[i].hist)
			goto nomem;
	}
	return w;
nomem:
	window__free(w);
	errno = ENOMEM;
	return NULL;
}

void window__free(struct window *w)
{
	unsigned int i;

	if (!w)
		return;
	if (w->slots)
		for (i = 0; i < w->nslots; i++)
			hist__free(w->slots[i].hist);
	free(w->slots);
	hist__free(w->total);
	free(w);
}

static void window__slot_reset(struct window_slot *s)
{
	hist__reset(s->hist);
	memset(s->counters, 0, sizeof(s->counters));
}

/* Move the clock to now_ns (never backwards) and return the current slot. */
static struct window_slot *window__advance(struct window *w, uint64_t now_ns)
{
	uint64_t cur, n, i;

	if (!w->started) {
		w->started = true;
		w->start_ns = w->now_ns = now_ns;
		w->cur = now_ns / w->slot_ns;
	}
	if (now_ns < w->now_ns)
		now_ns = w->now_ns;
	w->now_ns = now_ns;
	cur = now_ns / w->slot_ns;
	n = cur - w->cur;
	if (n > w->nslots)
		n = w->nslots;
	for (i = 1; i <= n; i++)
		window__slot_reset(&w->slots[(w->cur + i) % w->nslots]);
	w->cur = cur;
	return &w->slots[cur % w->nslots];
}

int window__observe_n(struct window *w, uint64_t now_ns, uint64_t value, uint64_t n)
{
	struct window_slot *s = window__advance(w, now_ns);
	int err, err_total;

	/* Record into both even if one fails: each counts its own drops. */
	err = hist__record_n(s->hist, value, n);
	err_total = hist__record_n(w->total, value, n);
	return err ? err : err_total;
}

int window__observe(struct window *w, uint64_t now_ns, uint64_t value)
{
	return window__observe_n(w, now_ns, value, 1);
}

void window__add(struct window *w, uint64_t now_ns, unsigned int counter, uint64_t n)
{
	struct window_slot *s = window__advance(w, now_ns);

	if (counter >= w->ncounters)
		return;
	s->counters[counter] = window__sat_add(s->counters[counter], n);
	w->total_counters[counter] = window__sat_add(w->total_counters[counter], n);
}

int window__merge(struct window *w, uint64_t now_ns, const struct hist *h)
{
	struct window_slot *s = window__advance(w, now_ns);
	int err, err_total;

	err = hist__merge(s->hist, h);
	err_total = hist__merge(w->total, h);
	return err ? err : err_total;
}

int window__read(struct window *w, uint64_t now_ns, uint64_t span_ns,
		 struct hist *into, struct window_read *out)
{
	struct window_slot *s;
	uint64_t k, i, from;
	unsigned int c;
	int err;

	if (!w || !out || !span_ns)
		return -EINVAL;
	window__advance(w, now_ns);

	/* Whole slots, capped at the ring and at slot 0 (no slot before it). */
	k = span_ns / w->slot_ns + (span_ns % w->slot_ns != 0);
	if (k > w->nslots)
		k = w->nslots;
	if (k > w->cur + 1)
		k = w->cur + 1;

	memset(out, 0, sizeof(*out));
	if (into)
		hist__reset(into);
	for (i = 0; i < k; i++) {
		s = &w->slots[(w->cur - i) % w->nslots];
		for (c = 0; c < w->ncounters; c++)
			out->counters[c] = window__sat_add(out->counters[c], s->counters[c]);
		if (into) {
			err = hist__merge(into, s->hist);
			if (err)
				return err;
		}
	}

	/* Slots older than the first time seen hold nothing: don't count them. */
	from = (w->cur - (k - 1)) * w->slot_ns;
	if (from < w->start_ns)
		from = w->start_ns;
	out->covered_ns = window__sat_add(w->now_ns - from, 1);
	return 0;
}

const struct hist *window__total_hist(const struct window *w)
{
	return w->total;
}

uint64_t window__total_counter(const struct window *w, unsigned int counter)
{
	return counter < w->ncounters ? w->total_counters[counter] : 0;
}

uint64_t window__span_ns(const struct window *w)
{
	return (uint64_t)w->nslots * w->slot_ns;
}
