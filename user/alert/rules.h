/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * alert rules and sinks, as configured under "alerts" in the JSON config.
 *
 * A rule names a store family and what it reads from it by the family's
 * declaration (core/families.h): a histogram quantile ("p95"), a counter's
 * rate or count over a window ("rate:errors", "count:lost"), a ratio of two
 * counters in percent ("ratio:errors_5xx/requests") or a gauge
 * ("gauge:suspect"). Names are resolved against the declarations when the
 * config is parsed, so a typo is a start-up error naming the file, rule and
 * field, never a rule that silently reads nothing.
 *
 * Rules from a later config file are merged into earlier ones by name: a
 * rule with a known name replaces it ({"name": "x", "enabled": false} turns
 * a default off), a new name is appended. Sinks from a file replace the
 * list (the default has none); --alertmanager and --webhook append.
 *
 * Secrets (URLs, routing keys, tokens) may come from files (url_file,
 * routing_key_file, token_file), read once when the config is parsed; they
 * are kept in these structs and never printed.
 *
 * Plain fixed-size structs: struct probe_config is copied and zeroed as a
 * whole, so nothing here owns heap memory.
 */
#ifndef PROBE_ALERT_RULES_H
#define PROBE_ALERT_RULES_H

#include <stddef.h>
#include "core/store.h"

#define ALERT_MAX_RULES		32
#define ALERT_MAX_LABELS	8	/* static labels a rule adds */
#define ALERT_MAX_SELECT	6	/* label selectors per rule */
#define ALERT_MAX_SELECT_VALUES	4	/* globs per selector, any may match */
#define ALERT_MAX_SINKS		8
#define ALERT_NAME_MAX		64
#define ALERT_VALUE_MAX		96
#define ALERT_URL_MAX		512
#define ALERT_SECRET_MAX	256

struct cJSON;

enum alert_severity { SEV_CRITICAL, SEV_ERROR, SEV_WARNING, SEV_INFO, SEV_MAX };

/* What a rule reads from each group of series. */
enum alert_value_kind {
	AV_QUANTILE,	/* a histogram quantile over window_s; seconds when the unit is ns */
	AV_RATE,	/* counter per second over window_s */
	AV_COUNT,	/* counter over window_s */
	AV_RATIO,	/* 100 * counter / counter2 over window_s (percent) */
	AV_GAUGE,	/* the gauge now (the highest of a group) */
};

struct alert_kv {
	char key[ALERT_NAME_MAX];
	char value[ALERT_VALUE_MAX];
};

/* A series matches when its label `key` matches any of the globs (fnmatch). */
struct alert_select {
	char key[ALERT_NAME_MAX];
	unsigned int nvalues;
	char values[ALERT_MAX_SELECT_VALUES][ALERT_VALUE_MAX];
};

struct alert_rule {
	char name[ALERT_NAME_MAX];
	int enabled;
	int severity;			/* enum alert_severity */
	char family[ALERT_NAME_MAX];	/* store family name, as declared */
	char value[ALERT_NAME_MAX];	/* as configured: "p95", "ratio:a/b" ... */
	int kind;			/* enum alert_value_kind, resolved from value */
	double quantile;		/* AV_QUANTILE: 0..1 */
	unsigned int metric;		/* counter or gauge index in the declaration */
	unsigned int metric2;		/* AV_RATIO: the denominator counter */
	int gauge;			/* metric is a gauge (AV_GAUGE) */
	double above;			/* fires when the value is above this ... */
	double clear;			/* ... and resolves at or below this (hysteresis) */
	double min_count;		/* samples (quantile), denominator (ratio), events (rate/count) */
	double for_s;			/* above for this long before firing */
	double keep_firing_s;		/* below this long before resolving; also the
					   least time between a resolve and the next trigger */
	double window_s;		/* what quantiles, rates and ratios look back over */
	double repeat_s;		/* re-send while firing (0: never) */
	unsigned int ngroup;		/* one alert per distinct value of these labels */
	char group_by[STORE_MAX_LABELS][ALERT_NAME_MAX];
	unsigned int nselect;
	struct alert_select select[ALERT_MAX_SELECT];
	unsigned int nlabels;
	struct alert_kv labels[ALERT_MAX_LABELS];
};

enum alert_sink_type { SINK_ALERTMANAGER, SINK_SLACK, SINK_PAGERDUTY, SINK_WEBHOOK, SINK_STDOUT,
		       SINK_MAX };

struct alert_sink {
	int type;			/* enum alert_sink_type */
	char name[ALERT_NAME_MAX];	/* for messages; never the URL */
	char url[ALERT_URL_MAX];	/* secret: never printed */
	char routing_key[ALERT_SECRET_MAX];	/* PagerDuty; secret */
	char token[ALERT_SECRET_MAX];	/* webhook: Authorization: Bearer; secret */
	int min_severity;		/* send rules of this severity or worse */
};

struct alert_config {
	int enabled;			/* enum cfg_tri (config.h) */
	double eval_s;			/* how often rules are evaluated */
	double keepalive_s;		/* Alertmanager: re-post firing alerts this often */
	unsigned int queue;		/* delivery queue bound (notifications) */
	double timeout_s;		/* per HTTP attempt */
	unsigned int retries;		/* attempts after the first */
	double backoff_s;		/* first retry delay, doubled each time, with jitter */
	unsigned int max_alerts;	/* alert instances kept per rule */
	unsigned int nrules;
	struct alert_rule rules[ALERT_MAX_RULES];
	unsigned int nsinks;
	struct alert_sink sinks[ALERT_MAX_SINKS];
};

const char *alert_rules__severity_name(int severity);
const char *alert_rules__sink_type_name(int type);

/*
 * Merge a JSON array of rules into cfg (see above). `where` names the
 * origin and key ("my.json: alerts.rules") for messages such as
 * `my.json: alerts.rules[2] "route_slow": above: expected a number`.
 * Returns 0 or a negative errno with one line in err.
 */
int alert_rules__apply_json(struct alert_config *cfg, const struct cJSON *v, const char *where,
			    char *err, size_t errlen);
/* Replace the sinks with a JSON array of sinks (reads secret files). */
int alert_sinks__apply_json(struct alert_config *cfg, const struct cJSON *v, const char *where,
			    char *err, size_t errlen);
/* Append one sink of type with this URL (command line). 0, -ENOSPC or -EINVAL. */
int alert_sinks__add(struct alert_config *cfg, int type, const char *url, char *err,
		     size_t errlen);

#endif
