/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * config: the JSON configuration. The embedded default (--print-config)
 * is parsed first, so it is the single source of every default; a user file
 * then overrides any subset of it. Unknown keys, wrong types and values out
 * of range are errors that name the key.
 */
#ifndef PROBE_CONFIG_H
#define PROBE_CONFIG_H

#include <stddef.h>
#include "core/dbports.h"
#include "core/route.h"

enum cfg_tri { CFG_AUTO, CFG_ON, CFG_OFF };
enum cfg_latency { CFG_LAT_EXACT, CFG_LAT_SAMPLED, CFG_LAT_OFF };
/* memgrowth tier 2: which processes get stack samples */
enum cfg_tier2 { CFG_T2_AUTO, CFG_T2_SUSPECTS, CFG_T2_OFF };
enum cfg_alloc_mode { CFG_ALLOC_FULL, CFG_ALLOC_SAMPLED };

/* A list of strings from a JSON array (http route templates). */
struct cfg_strlist {
	unsigned int n;
	char v[ROUTE_TEMPLATES_MAX][ROUTE_MAX];
};

struct probe_config {
	double interval_s;		/* live refresh */
	unsigned int top;		/* rows per table in the live view */
	struct {
		unsigned int slot_s;
		unsigned int slots;
		unsigned int max_series;	/* per family */
	} store;
	struct {
		int enabled;			/* enum cfg_tri: auto = on under --pid */
		int latency;			/* enum cfg_latency */
		unsigned int sample_period_s;	/* sampled: one period ... */
		unsigned int sample_on_s;	/* ... of which latency is on this long */
	} syscalls;
	struct {
		int enabled;			/* enum cfg_tri: auto = on, host-wide too */
		unsigned int max_routes;	/* distinct routes kept per service */
		unsigned int max_connections;	/* HTTP connections followed at once */
		struct cfg_strlist routes;	/* templates, tried before the heuristics */
	} http;
	struct {
		int enabled;			/* enum cfg_tri: auto = on, host-wide too */
		struct dbports ports;		/* destination port -> kind */
	} conn;
	struct {
		int enabled;			/* enum cfg_tri: auto = on, host-wide too */
		double horizon_s;		/* the trend detector's window */
		double pid_horizon_s;		/* the same under --pid: someone is watching */
		double min_rate_bytes_s;	/* slower growth is never flagged */
		double min_growth_bytes;	/* the window's fitted growth must reach this */
		double min_fit;			/* R^2 of the fitted line, 0..1 */
		int tier2;			/* enum cfg_tier2: auto = --pid targets + suspects */
		unsigned int tier2_max_pids;	/* processes sampled at once */
		unsigned int tier2_hold_s;	/* sampling kept this long after a suspect clears */
		unsigned int sample_bytes;	/* growth per stack sample */
	} memgrowth;
	struct {
		int enabled;			/* enum cfg_tri: auto = tier-1 suspects; true = --pid targets too */
		int mode;			/* enum cfg_alloc_mode */
		unsigned int sample_bytes;	/* byte-sampling period for stacks */
		unsigned int min_age_s;		/* allocations older than this can be leaks */
		unsigned int horizon_s;		/* growth is judged over this much history */
		double min_growth_bps;		/* slower growth is not a suspect */
		unsigned int scan_s;		/* how often outstanding allocations are aged */
		unsigned int max_targets;	/* processes traced at once */
		unsigned int auto_enable_s;	/* host-wide: trace a tier-1 suspect this long (0: never) */
		double budget_pct;		/* auto: stop when the estimated cost exceeds this % of a CPU */
		double trap_cost_us;		/* cost of one probe hit; 0: measured at start */
	} alloc;
};

extern const char config__default_json[];

/*
 * Load defaults, then `path` (NULL: defaults only). On error returns a
 * negative errno and writes one line (no newline) to err.
 */
int config__load(struct probe_config *cfg, const char *path, char *err, size_t errlen);
/* Apply a JSON text over cfg (used by config__load and the tests). */
int config__apply_json(struct probe_config *cfg, const char *text, const char *origin,
		       char *err, size_t errlen);

#endif
