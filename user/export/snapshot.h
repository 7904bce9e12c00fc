/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * snapshot: one immutable copy of every exported figure, in OpenTelemetry
 * terms (metric name, UCUM unit, kind, points with attributes). The event
 * loop builds it from the store (collect.h); the /metrics thread renders it
 * as Prometheus text and the OTLP thread as OTLP JSON, so neither ever
 * touches the store and a slow reader never holds up the loop.
 *
 * Ownership: a snapshot owns its metrics, points and every string they
 * point to (one arena, freed at once). It is reference-counted:
 * snapshot__new() returns one reference; snapshot__get() adds one, any
 * thread; snapshot__put() drops one and frees on the last. Once published
 * it is read-only, so readers on other threads need no lock.
 *
 * Counters are cumulative since start_unix_ns (OTLP "cumulative"
 * temporality; Prometheus counters). Histogram buckets hold per-bucket
 * counts (OTLP layout); the Prometheus renderer accumulates them.
 */
#ifndef PROBE_EXPORT_SNAPSHOT_H
#define PROBE_EXPORT_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#define SNAP_MAX_ATTRS		16
#define SNAP_MAX_BOUNDS		64

#define SNAP_QUANTILES		4

enum snap_kind { SNAP_COUNTER, SNAP_GAUGE, SNAP_HISTOGRAM, SNAP_SUMMARY };

/* The quantiles a summary carries, in order: 0.5, 0.9, 0.95, 0.99. */
extern const double snap_quantiles[SNAP_QUANTILES];

struct snap_attr {
	const char *key;	/* OpenTelemetry attribute name */
	const char *value;
};

struct snap_point {
	unsigned int nattrs;
	const struct snap_attr *attrs;
	double value;			/* counter, gauge */
	uint64_t count;			/* histogram, summary */
	double sum;			/* histogram, summary: in the metric's unit */
	double quantiles[SNAP_QUANTILES];	/* summary: at snap_quantiles */
	const uint64_t *buckets;	/* histogram: nbounds + 1 per-bucket counts */
};

struct snap_metric {
	const char *name;		/* OpenTelemetry name, "http.server.request.duration" */
	const char *unit;		/* UCUM */
	const char *help;
	enum snap_kind kind;
	unsigned int nbounds;		/* histogram: upper bounds, increasing */
	const double *bounds;
	struct snap_point *points;
	size_t npoints, cap;
};

struct snapshot {
	uint64_t time_unix_ns;		/* when it was taken */
	uint64_t start_unix_ns;		/* when counting began (probe start) */
	struct snap_metric *metrics;
	size_t nmetrics, cap;
	struct snap_arena *arena;
	int refs;
};

/* NULL + errno. */
struct snapshot *snapshot__new(uint64_t time_unix_ns, uint64_t start_unix_ns);
struct snapshot *snapshot__get(struct snapshot *s);
void snapshot__put(struct snapshot *s);

/*
 * The metric named name, created with these properties on first use
 * (strings are copied). Returns its index, or a negative errno. A later
 * call with the same name and a different kind is -EEXIST.
 */
int snapshot__metric(struct snapshot *s, const char *name, const char *unit, const char *help,
		     enum snap_kind kind, const double *bounds, unsigned int nbounds);

/*
 * Append a point to metric idx. attrs must live as long as the snapshot
 * (snapshot__attrs). Returns the point (valid until the next append to
 * the same metric) or NULL with errno set.
 */
struct snap_point *snapshot__point(struct snapshot *s, int idx, const struct snap_attr *attrs,
				   unsigned int nattrs);

/*
 * Copies of attributes (keys and values) into the snapshot, values made
 * valid UTF-8 (an invalid byte becomes '?'); NULL on ENOMEM.
 */
struct snap_attr *snapshot__attrs(struct snapshot *s, const struct snap_attr *attrs,
				  unsigned int n);
/* Zeroed memory owned by the snapshot; NULL on ENOMEM. */
void *snapshot__alloc(struct snapshot *s, size_t n);
char *snapshot__strdup(struct snapshot *s, const char *str);

/* Points in every metric: zero means there is nothing to send. */
size_t snapshot__points(const struct snapshot *s);

#endif
