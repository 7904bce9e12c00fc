/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * view: the live view and the end-of-run summary, as text or JSON lines,
 * rendered from the store only. Each signal family contributes a section
 * (view_<family>.c) listed in view.c.
 */
#ifndef PROBE_VIEW_VIEW_H
#define PROBE_VIEW_VIEW_H

#include <stdint.h>
#include <stdio.h>

#include "core/families.h"

struct store;
struct series;
struct cJSON;

struct view_opts {
	int summary;		/* totals since start instead of the last window */
	int tty;		/* redraw in place */
	unsigned int top;	/* rows per table */
	uint64_t span_ns;	/* live: the window to report */
	uint64_t elapsed_ns;	/* since start; summary rates divide by this */
};

struct view_section {
	const char *name;
	/* Print a titled table; return the number of rows (0: nothing to show). */
	int (*text)(FILE *out, struct store *st, uint64_t now, const struct view_opts *o);
	/* Set obj[name] (an array or object) */
	void (*json)(struct cJSON *obj, struct store *st, uint64_t now, const struct view_opts *o);
};

/* Quantiles and counters of one series over the view's span (or totals). */
struct view_stats {
	uint64_t count;			/* histogram samples */
	uint64_t p50, p90, p95, p99, max;
	double mean;
	double seconds;			/* time the numbers cover */
	uint64_t counters[8];
};
int view__stats(struct series *se, uint64_t now, const struct view_opts *o,
		struct view_stats *out);

/*
 * Make room for one more element in a growing row array (*vp, *cap, of
 * elem bytes each, n in use): doubles it, 0 or -ENOMEM (*vp left as is).
 */
/* Both errno families count failures in their one counter. */
_Static_assert((int)SYSCALL_ERRNO_CALLS == (int)CE_CONNECTS, "errno families share their counter");
#define ERRNO_COUNT SYSCALL_ERRNO_CALLS

int view__reserve(void *vp, size_t *cap, size_t n, size_t elem);

/*
 * One row's failures by errno: the series of an errno family (one
 * counter, ERRNO_COUNT: FAM_SYSCALL_ERRNO or FAM_TCP_CONNECT_ERRNO) whose "pid"
 * label and one other label (key = value) match the row. Written as
 * "NAME: count" members of obj when obj is set, else as "ENOENT:3 EBADF:1"
 * into buf (cap bytes, always terminated). A row without pid or value gets
 * nothing.
 */
struct view_errnos {
	const char *pid, *key, *value;
	struct cJSON *obj;
	char *buf;
	size_t cap;
};
void view__errnos(struct store *st, enum family_id family, uint64_t now,
		  const struct view_opts *o, const struct view_errnos *q);

/* "812ns", "4.25ms", "1.2s" */
const char *view__dur(uint64_t ns, char *buf, size_t len);

void view__header(FILE *out, const char *title, uint64_t now, const struct view_opts *o,
		  const char *mode);
/* Render every section: text (to out) or one JSON line. */
void view__render(FILE *out, struct store *st, uint64_t now, const struct view_opts *o,
		  int json, const char *mode, const char *extra_json_key, struct cJSON *extra);

#endif
