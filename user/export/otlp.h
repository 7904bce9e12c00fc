/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * otlp: push every snapshot to an OTLP/HTTP endpoint (".../v1/metrics") as
 * JSON, from a thread of its own (libcurl), so a slow or absent receiver
 * never holds up the event loop.
 *
 * Every interval the thread asks for a snapshot, renders it (otlp_json.h),
 * gzips it when configured, and queues the bodies. The queue is bounded:
 * when full, the oldest body is dropped and counted (counters are
 * cumulative, so the newest body carries everything the old one did).
 * The head of the queue is sent; the answer decides:
 *   2xx                      sent, next;
 *   429, 502, 503, 504       kept and retried after a backoff that doubles
 *                            from backoff_s up to backoff_max_s, or after
 *                            the server's Retry-After when it gives one;
 *   no answer (refused,      kept and retried the same way: the receiver
 *   timeout)                 may come back;
 *   anything else (400, 413) dropped and counted as rejected, never retried.
 * Nothing is sent when a snapshot has no points.
 *
 * Ownership: otlp__new() copies opts; otlp__free() stops and joins the
 * thread and frees what is queued.
 */
#ifndef PROBE_EXPORT_OTLP_H
#define PROBE_EXPORT_OTLP_H

#include <stddef.h>
#include <stdint.h>

#include "export/otlp_json.h"

struct snapshot;
struct otlp;

/* A snapshot reference (dropped with snapshot__put) or NULL: skip a round. */
typedef struct snapshot *(*otlp_snapshot_fn)(void *arg);

struct otlp_opts {
	const char *endpoint;		/* "http://127.0.0.1:4318/v1/metrics" */
	double interval_s;		/* between snapshots */
	double timeout_s;		/* per request */
	unsigned int queue_max;		/* bodies waiting */
	size_t max_points;		/* per body; 0: one body per snapshot */
	int gzip;
	double backoff_s, backoff_max_s;
	struct otlp_resource resource;
};

struct otlp_stats {
	uint64_t sent;			/* bodies accepted (2xx) */
	uint64_t retries;		/* attempts answered 429/502/503/504 or not at all */
	uint64_t dropped_full;		/* bodies dropped because the queue was full */
	uint64_t dropped_rejected;	/* bodies refused with another status */
	uint64_t queued;		/* bodies waiting now */
	long last_status;		/* last HTTP status, 0: no answer */
};

/* NULL + errno (EINVAL: no endpoint). */
struct otlp *otlp__new(const struct otlp_opts *o, otlp_snapshot_fn fn, void *arg);
void otlp__free(struct otlp *x);
void otlp__stats(struct otlp *x, struct otlp_stats *out);

/*
 * The delay before the next attempt after a retryable failure: the
 * server's Retry-After (seconds, >= 0) when given, else backoff; both capped
 * at max. Exposed for the tests.
 */
double otlp__retry_delay(double backoff, double retry_after, double max);
/* Whether an HTTP status is retried (429, 502, 503, 504; 0: no answer). */
int otlp__retryable(long status);

#endif
