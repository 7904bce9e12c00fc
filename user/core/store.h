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

#define STORE_MAX_LABELS	12	/* up to 8 of a signal's own + ATTRIB_NLABELS */
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

/* A label as declared: the key series carry, and how exporters name it. */
#define LABEL_HOSTPORT	0x1	/* value is "host:port": exported as attr + attr_port */
#define LABEL_NUMBER	0x2	/* value is a decimal integer: a number in JSON output */

struct label_desc {
	const char *key;		/* the store's key ("pid") */
	const char *attr;		/* OpenTelemetry attribute ("process.pid") */
	const char *attr_port;		/* LABEL_HOSTPORT: the port's attribute */
	unsigned int flags;
};

/* A counter or gauge as declared. */
struct metric_desc {
	const char *name;		/* the store's name ("errors") */
	const char *unit;		/* UCUM: "s", "By", "By/s", "1", "{call}" */
	const char *help;		/* one line */
	const char *export;		/* OpenTelemetry name, or NULL: not exported */
	const char *split_key;		/* with split_value: an extra attribute telling */
	const char *split_value;	/* apart counters that share one export name */
};

/*
 * A family's declaration (see core/families.h, where every family is
 * declared once). The store uses name, max_series, ncounters and ngauges;
 * the rest is for readers.
 */
struct family_desc {
	const char *name;
	const char *help;		/* one line, for exporters */
	unsigned int max_series;
	unsigned int nlabels;
	struct label_desc labels[STORE_MAX_LABELS];
	unsigned int ncounters;
	struct metric_desc counters[WINDOW_MAX_COUNTERS];
	unsigned int ngauges;
	struct metric_desc gauges[STORE_MAX_GAUGES];
	const char *hist_unit;		/* "ns", "bytes", or NULL: no histogram use */
	const char *hist_help;
	const char *hist_export;	/* OpenTelemetry name of the histogram, or NULL */
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
