/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * collect: the store, read through the family declarations into a
 * snapshot. No per-signal code: every registered family becomes metrics
 * named by its declaration (core/families.h).
 *
 *  - counters and gauges with an export name become one point per series
 *    (counters shared by several store counters are told apart by their
 *    split attribute); units ns/us/ms become s and % becomes 1, scaled;
 *  - a family's histogram becomes an OpenTelemetry histogram over the
 *    configured bounds (totals since start), plus the high-resolution
 *    histogram's p50/p90/p95/p99 over the last quantile span as the
 *    summary probe.<histogram>.window, so a threshold between two bucket
 *    bounds is still visible;
 *  - cardinality: a series is admitted once and stays admitted while the
 *    store keeps it; past max_series_per_family, or max_series_per_service
 *    for its service (the label exported as service.name, else
 *    process.executable.name), it is folded into the family's overflow
 *    series {overflow="true"} and counted once in
 *    probe.series.dropped{family, reason};
 *  - retirement: a series whose process.pid is gone and that has not been
 *    written for retire_ns is no longer exported (its admission is freed).
 *
 * Ownership: the collector owns its admission tables; it keeps no pointer
 * into the store or a snapshot between calls. Single-threaded: the event
 * loop, which owns the store, calls it.
 */
#ifndef PROBE_EXPORT_COLLECT_H
#define PROBE_EXPORT_COLLECT_H

#include <stdint.h>

#include "core/families.h"
#include "export/snapshot.h"

struct store;
struct collector;

struct collect_opts {
	unsigned int max_series_per_family;	/* 0: only the store's caps */
	unsigned int max_series_per_service;	/* 0: none */
	uint64_t retire_ns;			/* grace after a process exits */
	uint64_t quantile_span_ns;		/* 0: no quantile summaries */
	/* histogram bounds per family, in the exported unit (s for ns) */
	unsigned int nbounds[FAM_MAX];
	double bounds[FAM_MAX][SNAP_MAX_BOUNDS];
};

/* NULL + errno. */
struct collector *collector__new(const struct collect_opts *o);
void collector__free(struct collector *c);

/*
 * Append every registered family's metrics, and the collector's own
 * (probe.series.dropped, probe.store.overflow, probe.export.series), to
 * snap. now_ns: CLOCK_MONOTONIC, the store's clock. Returns 0 or -ENOMEM
 * (snap then holds what fitted).
 */
int collector__build(struct collector *c, struct store *st, uint64_t now_ns,
		     struct snapshot *snap);

/* Series folded into overflow so far, both reasons, every family. */
uint64_t collector__dropped(const struct collector *c);

#endif
