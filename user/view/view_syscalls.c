/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The syscall section: top (process, syscall) pairs by time spent. */
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "view/view.h"
#include "core/store.h"

/* Sorted by time spent (mean * count), then calls. */
static int keep_called(struct view_row *row)
{
	row->key = row->vs.mean * (double)row->vs.count;
	row->tie = (double)row->vs.counters[SYSCALL_CALLS];
	return row->vs.counters[SYSCALL_CALLS] > 0;
}

static int sc_text(FILE *out, struct store *st, uint64_t now, const struct view_opts *o)
{
	struct view_rows r;
	size_t i;
	char a[16], b[16], c[16], d[16], m[16], win[32];

	if (!view__collect(st, FAM_SYSCALL, now, o, keep_called, &r))
		return 0;
	/* kernel buckets: 6.25 %, so two significant digits; MAX is the bucket's bound */
	fprintf(out, "SYSCALLS (top %u by time, %s; latency \u00b16%%, MAX an upper bound)\n",
		o->top, view__window(o, win, sizeof(win)));
	fprintf(out, "%-16s %7s %-16s %10s %8s %8s %7s %7s %7s %7s  %s\n", "COMM", "PID", "SYSCALL",
		"CALLS", "ERRORS", "TIME", "P50", "P95", "P99", "MAX", "ERRNO");
	for (i = 0; i < r.n && i < o->top; i++) {
		struct view_row *row = &r.v[i];
		char errs[160] = "";
		struct view_errnos q = {
			.pid = series__label(row->se, "pid"),
			.key = "syscall", .value = series__label(row->se, "syscall"),
			.buf = errs, .cap = sizeof(errs),
		};
		const char *comm = series__label(row->se, "comm");

		if (!q.pid || !q.value) {	/* the overflow series */
			fprintf(out, "%-16s %7s %-16s %10lu %8lu\n", "(overflow)", "-", "-",
				(unsigned long)row->vs.counters[SYSCALL_CALLS],
				(unsigned long)row->vs.counters[SYSCALL_ERRORS]);
			continue;
		}
		if (row->vs.counters[SYSCALL_ERRORS])
			view__errnos(st, FAM_SYSCALL_ERRNO, now, o, &q);
		fprintf(out, "%-16.16s %7s %-16.16s %10lu %8lu %8s %7s %7s %7s %7s  %s\n",
			comm ? comm : "?", q.pid, q.value,
			(unsigned long)row->vs.counters[SYSCALL_CALLS], (unsigned long)row->vs.counters[SYSCALL_ERRORS],
			row->vs.count ? view__dur_prec((uint64_t)row->key, 2, a, sizeof(a)) : "-",
			row->vs.count ? view__dur_prec(row->vs.p50, 2, b, sizeof(b)) : "-",
			row->vs.count ? view__dur_prec(row->vs.p95, 2, c, sizeof(c)) : "-",
			row->vs.count ? view__dur_prec(row->vs.p99, 2, d, sizeof(d)) : "-",
			row->vs.count ? view__dur_prec(row->vs.max, 2, m, sizeof(m)) : "-",
			errs);
	}
	free(r.v);
	return 1;
}

static void sc_json(cJSON *obj, struct store *st, uint64_t now, const struct view_opts *o)
{
	cJSON *arr = cJSON_AddArrayToObject(obj, "syscalls");
	struct view_rows r;
	size_t i;

	if (!arr)
		return;
	view__collect(st, FAM_SYSCALL, now, o, keep_called, &r);
	for (i = 0; i < r.n; i++) {
		struct view_row *row = &r.v[i];
		cJSON *e = cJSON_CreateObject(), *lat;
		const struct label *l;
		unsigned int n = series__labels(row->se, &l), k;
		struct view_errnos q = {
			.pid = series__label(row->se, "pid"),
			.key = "syscall", .value = series__label(row->se, "syscall"),
		};

		if (!e)
			break;
		for (k = 0; k < n; k++)
			if (l[k].value[0])	/* unknown attribution labels are left out */
				view__json_label(e, FAM_SYSCALL, l[k].key, l[k].value);
		cJSON_AddNumberToObject(e, "calls", (double)row->vs.counters[SYSCALL_CALLS]);
		cJSON_AddNumberToObject(e, "errors", (double)row->vs.counters[SYSCALL_ERRORS]);
		cJSON_AddNumberToObject(e, "seconds", row->vs.seconds);
		if (row->vs.count) {
			lat = view__json_latency(e, "latency_ns", &row->vs);
			if (lat)
				cJSON_AddNumberToObject(lat, "total", row->key);
		}
		if (row->vs.counters[SYSCALL_ERRORS] && q.pid && q.value) {
			q.obj = cJSON_AddObjectToObject(e, "errno");
			view__errnos(st, FAM_SYSCALL_ERRNO, now, o, &q);
		}
		cJSON_AddItemToArray(arr, e);
	}
	free(r.v);
}

static const char *sc_hint(const struct view_opts *o)
{
	return o->pid_mode ? "no syscalls seen yet" :
			     "off host-wide (signals.syscalls.enabled true turns it on; it costs "
			     "every process)";
}

const struct view_section view_syscalls = {
	.name = "syscalls",
	.hint = sc_hint,
	.text = sc_text,
	.json = sc_json,
};
