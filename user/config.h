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

enum cfg_tri { CFG_AUTO, CFG_ON, CFG_OFF };
enum cfg_latency { CFG_LAT_EXACT, CFG_LAT_SAMPLED, CFG_LAT_OFF };

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
