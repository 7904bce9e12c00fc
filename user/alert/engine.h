/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * alerts: evaluates the configured rules against the series store and
 * keeps one state machine per rule and group of series.
 *
 * Per evaluation, a rule walks its family's series, keeps those its
 * selectors match, merges them by its group_by labels (histograms merged,
 * counters summed, the highest gauge) and reads one value per group over
 * window_s. Each group whose value is above the threshold gets an alert
 * instance; instances step through
 *
 *   inactive --above--> pending --above `for_s`--> firing --at or below
 *   `clear` for keep_firing_s--> resolved --keep_firing_s--> inactive
 *
 * with hysteresis twice over: a value between `clear` and `above` keeps a
 * pending or firing alert as it is, and a firing alert resolves only after
 * keep_firing_s at or below `clear`, and cannot fire again until
 * keep_firing_s after its resolve. So input flapping around the threshold
 * gives at most one notification per keep_firing_s.
 *
 * Notifications go to a callback (the delivery queue in the probe, a
 * recorder in the tests): a trigger once per incident, repeats every
 * repeat_s while firing, keep-alives every keepalive_s for receivers that
 * expire alerts (Alertmanager), and one resolve carrying the same dedup key.
 *
 * Threads: the event loop only (the store is single-threaded). Instances
 * per rule are capped at max_alerts; groups past the cap are counted in
 * alerts_stats.dropped and not tracked.
 */
#ifndef PROBE_ALERT_ENGINE_H
#define PROBE_ALERT_ENGINE_H

#include <stdint.h>
#include "alert/rules.h"
#include "core/store.h"

#define ALERT_SUMMARY_MAX	512

enum alert_state_id { AS_INACTIVE, AS_PENDING, AS_FIRING, AS_RESOLVED };
enum alert_action { ALERT_NONE, ALERT_TRIGGER, ALERT_REPEAT, ALERT_RESOLVE, ALERT_KEEPALIVE };

/* One alert's state; times in seconds on any monotonic clock. */
struct alert_state {
	int state;		/* enum alert_state_id */
	double since;		/* pending: when the value went above */
	double below_since;	/* firing: when it went at or below clear; < 0: not */
	double last_sent;	/* trigger or repeat */
	double last_keepalive;
	double resolved_at;	/* < 0: never resolved */
};

void alert_state__init(struct alert_state *s);
/*
 * One evaluation: have = the rule could read a value (enough samples),
 * v = that value. Returns what to notify (ALERT_NONE, TRIGGER, REPEAT,
 * RESOLVE; KEEPALIVE when keepalive_s > 0 and one is due while firing).
 */
int alert_state__step(struct alert_state *s, const struct alert_rule *r, int have, double v,
		      double now_s, double keepalive_s);

struct alert_event {
	int action;			/* enum alert_action, never ALERT_NONE */
	const struct alert_rule *rule;
	unsigned int nlabels;		/* the group's labels (group_by order) */
	struct label labels[STORE_MAX_LABELS];
	double value;			/* the latest value read (resolve: last one) */
	char value_text[48];		/* "4.25 s", "8.5 %" */
	char threshold_text[48];
	const char *summary;		/* the answer, in one line */
	char dedup_key[80];		/* stable: rule name + group labels */
	double starts_at;		/* wall clock, s: when it fired */
	double now;			/* wall clock, s */
};

typedef void (*alert_notify_fn)(const struct alert_event *ev, void *arg);

struct alerts_stats {
	uint64_t evaluations;
	uint64_t triggers, repeats, resolves, keepalives;
	uint64_t dropped;		/* groups past max_alerts, not tracked */
	unsigned int firing;		/* instances firing now */
};

struct alerts;

/* cfg must outlive the engine. NULL + errno on failure. */
struct alerts *alerts__new(const struct alert_config *cfg, alert_notify_fn fn, void *arg);
void alerts__free(struct alerts *a);
/*
 * Evaluate every enabled rule at now_ns (CLOCK_MONOTONIC, the store's
 * clock) with wall_s the wall clock for timestamps. Families no signal
 * registered are skipped (their alerts see no value). 0 or -ENOMEM.
 */
int alerts__evaluate(struct alerts *a, struct store *st, uint64_t now_ns, double wall_s);
void alerts__stats(const struct alerts *a, struct alerts_stats *out);

/* The one-line text of an alert (text.c); count = samples behind value. */
void alert_text__summary(const struct alert_rule *r, const struct label *labels, unsigned int n,
			 double value, double count, struct store *st, uint64_t now_ns,
			 char *buf, size_t len);
/* value as the rule's unit reads it: "4.25 s", "8.5 %", "0.3/s", "2.1 MB" */
void alert_text__value(const struct alert_rule *r, double v, char *buf, size_t len);

#endif
