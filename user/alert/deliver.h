/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * deliver: alert notifications to their sinks, off the event loop.
 *
 * deliver__post() (event-loop thread) renders one body per sink that takes
 * the notification (alert_payload__render) and puts it on one bounded queue;
 * a full queue drops the body and counts it, so a dead or slow receiver
 * never stalls the loop or grows memory. One delivery thread POSTs queued
 * bodies with libcurl: a timeout per attempt, retries on transport errors,
 * 429 and 5xx with exponential backoff and jitter, other 4xx given up at
 * once. Every outcome is counted per sink. The stdout sink (JSON lines) is
 * written by the loop thread itself, so its lines never interleave with
 * the view's.
 *
 * Secrets (URLs, keys, tokens) are used, never logged: messages name the
 * sink by its name ("alertmanager#0") and curl's error text only.
 *
 * deliver__free() stops the thread: what is still queued gets one attempt
 * each until timeout_s after the stop, the rest is counted as dropped.
 */
#ifndef PROBE_ALERT_DELIVER_H
#define PROBE_ALERT_DELIVER_H

#include <stdint.h>
#include <stdio.h>
#include "alert/engine.h"

struct deliver;

struct deliver_stats {
	uint64_t queued;	/* bodies put on the queue (stdout: written) */
	uint64_t sent;		/* answered 2xx (stdout: written) */
	uint64_t failed;	/* gave up: retries exhausted or a 4xx */
	uint64_t dropped;	/* queue full, or still queued at shutdown */
	uint64_t retries;	/* attempts after the first */
};

/* cfg (sinks, queue bound, timeouts) must outlive it; out: the stdout sink's stream. */
struct deliver *deliver__new(const struct alert_config *cfg, FILE *out);
void deliver__free(struct deliver *d);
/*
 * Stop the thread as deliver__free does, keeping the stats readable. What
 * is queued gets alerts.timeout_s in all to go out; a transfer still
 * running then is cut (within about a second: curl's progress callback)
 * and what is left is dropped and counted.
 */
void deliver__shutdown(struct deliver *d);
/* Queue ev for every sink that takes it. Never blocks on the network. */
void deliver__post(struct deliver *d, const struct alert_event *ev);
/* alert_notify_fn adapter: arg is the struct deliver. */
void deliver__notify(const struct alert_event *ev, void *arg);
void deliver__stats(struct deliver *d, unsigned int sink, struct deliver_stats *out);
/* The most notifications queued at once since start (the bound holds: <= queue). */
unsigned int deliver__max_depth(struct deliver *d);

/*
 * The JSON body one sink gets for ev, or NULL when that sink does not take
 * this notification (keep-alives go to Alertmanager only; a rule below the
 * sink's min_severity) with errno 0, or on ENOMEM. host names the source.
 * Caller frees with free().
 */
char *alert_payload__render(const struct alert_sink *s, const struct alert_event *ev,
			    double keepalive_s, const char *host);

#endif
