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
#include "alert/rules.h"

enum cfg_tri { CFG_AUTO, CFG_ON, CFG_OFF };
enum cfg_latency { CFG_LAT_EXACT, CFG_LAT_SAMPLED, CFG_LAT_OFF };
/* where the libssl read and write probes sit (user/signals/tls.c) */
enum cfg_tls_sites { CFG_TLS_SITES_CALLEE, CFG_TLS_SITES_EXPORTED };
/* memgrowth tier 2: which processes get stack samples */
enum cfg_tier2 { CFG_T2_AUTO, CFG_T2_SUSPECTS, CFG_T2_OFF };
enum cfg_alloc_mode { CFG_ALLOC_FULL, CFG_ALLOC_SAMPLED };

/* Histogram bucket bounds for export: "default" and per-family sets. */
#define CFG_MAX_BOUNDS		64
#define CFG_BOUND_SETS		16
#define CFG_STR_MAX		256

struct cfg_bounds {
	unsigned int nsets;
	char name[CFG_BOUND_SETS][32];		/* "default" or a family ("syscall") */
	unsigned int n[CFG_BOUND_SETS];
	double v[CFG_BOUND_SETS][CFG_MAX_BOUNDS];	/* increasing, > 0 */
};

/* A list of strings from a JSON array (http route templates). */
struct cfg_strlist {
	unsigned int n;
	char v[ROUTE_TEMPLATES_MAX][ROUTE_MAX];
};

struct probe_config {
	double interval_s;		/* live refresh */
	unsigned int top;		/* rows per table in the live view */
	struct {
		int k8s;			/* enum cfg_tri: pod names; auto = in a cluster */
		unsigned int k8s_refresh_s;	/* pod list refresh */
		unsigned int k8s_timeout_ms;	/* pod list request, whole */
	} attribution;
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
		int tls;			/* enum cfg_tri: auto = libssl uprobes under --pid only */
		int tls_sites;			/* enum cfg_tls_sites */
		int raw_syscalls;		/* enum cfg_tri: auto = under --pid with syscalls */
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
	struct {
		char listen[CFG_STR_MAX];	/* /metrics "ADDR:PORT"; "": no server */
		unsigned int max_connections;	/* scrapes served at once */
		unsigned int timeout_s;		/* an idle scrape connection is closed after */
		char basic_auth_file[CFG_STR_MAX];	/* "user:password" on one line; "": none */
		char bearer_token_file[CFG_STR_MAX];	/* the token on one line; "": none */
		unsigned int max_series_per_family;	/* 0: the store's caps only */
		unsigned int max_series_per_service;	/* 0: none */
		unsigned int retire_after_s;	/* series of exited processes stop after */
		unsigned int quantile_window_s;	/* p50..p99 gauges cover this; 0: none */
		int bpf_stats;			/* enum cfg_tri: auto = export if the kernel has them on */
		struct cfg_bounds buckets;	/* seconds for durations */
		struct {
			char endpoint[CFG_STR_MAX];	/* ".../v1/metrics"; "": no push */
			double interval_s;
			double timeout_s;
			unsigned int queue;	/* bodies waiting at most */
			unsigned int max_points;	/* per body */
			int gzip;		/* enum cfg_tri: auto = on */
		} otlp;
	} export;
	struct alert_config alerts;	/* rules and sinks (alert/rules.h) */
};

extern const char config__default_json[];

/*
 * Load defaults, then `path` (NULL: defaults only). On error returns a
 * negative errno and writes one line (no newline) to err.
 */
int config__load(struct probe_config *cfg, const char *path, char *err, size_t errlen);
/* The bounds for a family: its own set, else "default"; NULL when neither. */
const double *config__bounds(const struct cfg_bounds *b, const char *family, unsigned int *n);

/* Apply a JSON text over cfg (used by config__load and the tests). */
int config__apply_json(struct probe_config *cfg, const char *text, const char *origin,
		       char *err, size_t errlen);

#endif
