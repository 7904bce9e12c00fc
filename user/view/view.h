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
	uint64_t span_ns;	/* live: the window percentiles and counts cover */
	uint64_t rate_ns;	/* live: rates and error % cover the last refresh interval */
	uint64_t elapsed_ns;	/* since start; summary rates divide by this */
	unsigned int hide;	/* sections left out: 1 << VIEW_SEC_* */
	unsigned int cols, rows;	/* the terminal; 0: no limit (not a terminal) */
	int pid_mode;		/* --pid (hints differ from host-wide) */
	int leaks;		/* --pid targets' allocator traced from the start */
};

/* Sections in runbook order: what is served, what it calls, memory, syscalls. */
enum view_sec {
	VIEW_SEC_HTTP, VIEW_SEC_TLS, VIEW_SEC_DB, VIEW_SEC_CONN, VIEW_SEC_MEM, VIEW_SEC_ALLOC,
	VIEW_SEC_SYSCALLS, VIEW_SEC_PROBE, VIEW_SEC_COUNT,
};
/* "http,db" -> mask of 1 << VIEW_SEC_*; 0 or -EINVAL (the bad name in bad, len bytes). */
int view__parse_sections(const char *list, unsigned int *mask, char *bad, size_t len);
/* "last 60s" (live) or "whole run" (summary), for section titles */
const char *view__window(const struct view_opts *o, char *buf, size_t len);
/* "last 2s": the span rates and error % cover */
const char *view__rate_window(const struct view_opts *o, char *buf, size_t len);
/* Write s into a column of width w: cut with a visible "…" (at the end) when longer. */
void view__col(FILE *out, const char *s, unsigned int w);
/* The same, cut in the middle: the start and the end of s stay visible. */
void view__col_mid(FILE *out, const char *s, unsigned int w);

struct view_section {
	const char *name;	/* as --show/--hide spell it */
	/* Why the section is empty, one line; NULL for none */
	const char *(*hint)(const struct view_opts *o);
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
 * The one latency object every section writes (JSON): name: {count, p50,
 * p90, p95, p99, max, mean}, in ns. Returns it, for a section's own extra
 * keys, or NULL.
 */
struct cJSON *view__json_latency(struct cJSON *obj, const char *name, const struct view_stats *vs);

/*
 * Make room for one more element in a growing row array (*vp, *cap, of
 * elem bytes each, n in use): doubles it, 0 or -ENOMEM (*vp left as is).
 */
/* Both errno families count failures in their one counter. */
_Static_assert((int)SYSCALL_ERRNO_CALLS == (int)CE_CONNECTS, "errno families share their counter");
#define ERRNO_COUNT SYSCALL_ERRNO_CALLS

int view__reserve(void *vp, size_t *cap, size_t n, size_t elem);

/*
 * A section's table: the series of one family that keep() accepts, with
 * their figures over the view's span, sorted by key then tie, largest
 * first. keep() sees row->se and row->vs filled, sets key and tie, and
 * returns 0 to leave the series out. Rows that do not fit in memory are
 * left out (the table shows what fits). Free v when done.
 */
struct view_row {
	struct series *se;
	struct view_stats vs;
	double key, tie;
};
struct view_rows {
	struct view_row *v;
	size_t n, cap;
};
size_t view__collect(struct store *st, enum family_id family, uint64_t now,
		     const struct view_opts *o, int (*keep)(struct view_row *row),
		     struct view_rows *out);

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

/*
 * "812ns", "4.25ms", "1.2s": three significant digits, what the userspace
 * histograms resolve (0.39 %). view__dur_prec() shows fewer where the
 * source is coarser (the kernel's syscall buckets: 6.25 %, two digits).
 */
const char *view__dur(uint64_t ns, char *buf, size_t len);
const char *view__dur_prec(uint64_t ns, int digits, char *buf, size_t len);
/* One unit system: "812B", "4.3KiB", "18.0MiB", "1.2GiB" */
const char *view__bytes(double b, char *buf, size_t len);
/*
 * A label of family fam as JSON: a number when the family declares it
 * LABEL_NUMBER (pid, start, errno) and the value is an integer, a string
 * otherwise (an overflow series' "true", an unknown key).
 */
void view__json_label(struct cJSON *obj, enum family_id fam, const char *key, const char *value);

void view__header(FILE *out, const char *title, uint64_t now, const struct view_opts *o,
		  const char *mode);
/* Render every section: text (to out) or one JSON line. */
void view__render(FILE *out, struct store *st, uint64_t now, const struct view_opts *o,
		  int json, const char *mode, const char *extra_json_key, struct cJSON *extra);

#endif
