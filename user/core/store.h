/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * store: the labelled series every signal writes and every reader (live
 * view, summary, exporters, alerts) reads. Data flows one way: signals
 * write, readers read; nothing reads a signal directly.
 *
 * A family is a kind of series ("syscall", "http_server", ...) with fixed
 * counter and gauge names. A series is one label set within a family, with
 * a sliding window (histogram + counters per slot, see window.h), totals
 * since start, and gauges.
 *
 * Bounds: each family caps its series. Past the cap, writes go to the
 * family's single overflow series (label overflow="true") and are counted
 * in family__overflowed(), so a label explosion costs one series.
 *
 * Ownership: the store owns families and series; pointers stay valid until
 * store__expire() drops the series or store__free(). Label strings are
 * copied. Single-threaded: the event loop owns the store.
 */
#ifndef PROBE_CORE_STORE_H
#define PROBE_CORE_STORE_H

#include <stdint.h>
#include "core/window.h"

#define STORE_MAX_LABELS	8
#define STORE_MAX_GAUGES	8

struct store;
struct family;
struct series;

struct label {
	const char *key;
	const char *value;
};

struct store_opts {
	uint64_t slot_ns;		/* window slot length */
	unsigned int nslots;		/* slots per window (span = nslots * slot_ns) */
};

struct family_desc {
	const char *name;
	const char *help;		/* one line, for exporters */
	unsigned int max_series;
	unsigned int ncounters;
	const char *counters[WINDOW_MAX_COUNTERS];
	unsigned int ngauges;
	const char *gauges[STORE_MAX_GAUGES];
	const char *hist_unit;		/* "ns", "bytes", or NULL: no histogram use */
};

struct store *store__new(const struct store_opts *opts);
void store__free(struct store *s);

/* Register a family (or return the one already registered under d->name). */
struct family *store__family(struct store *s, const struct family_desc *d);
struct family *store__find_family(const struct store *s, const char *name);

/* Find or create a series; NULL only on ENOMEM. */
struct series *family__series(struct family *f, const struct label *labels, unsigned int n);
uint64_t family__overflowed(const struct family *f);
const struct family_desc *family__desc(const struct family *f);
unsigned int family__size(const struct family *f);

int series__observe_n(struct series *se, uint64_t now_ns, uint64_t value, uint64_t n);
void series__add(struct series *se, uint64_t now_ns, unsigned int counter, uint64_t n);
void series__set_gauge(struct series *se, uint64_t now_ns, unsigned int gauge, double v);
double series__gauge(const struct series *se, unsigned int gauge);
struct window *series__window(struct series *se);
const char *series__label(const struct series *se, const char *key);
unsigned int series__labels(const struct series *se, const struct label **labels);
uint64_t series__last_update(const struct series *se);

/* Visit a family's series (order unspecified); stop when fn returns non-zero. */
typedef int (*series_fn)(struct series *se, void *arg);
int family__for_each(struct family *f, series_fn fn, void *arg);

/*
 * In families filled to three quarters of their cap or more, drop series
 * not written since now - idle_ns, making room before the cap sends new
 * series to overflow. Returns how many were dropped.
 */
unsigned int store__expire(struct store *s, uint64_t now_ns, uint64_t idle_ns);

uint64_t store__slot_ns(const struct store *s);
uint64_t store__span_ns(const struct store *s);	/* the windows' full span */

#endif
