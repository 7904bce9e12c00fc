/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The allocator section (tier 3): traced processes and what tracing them
 * costs, leak suspects with their top stacks, and the top call sites by
 * outstanding bytes. Reads the alloc_target, alloc_site and alloc_stack
 * families only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "view/view.h"
#include "core/store.h"

#define STACKS_PER_SITE	5
#define JSON_MAX_SITES	200

/* alloc_site and alloc_stack rows sort by their bytes gauge, at one index */
_Static_assert((int)AS_BYTES == (int)AK_BYTES, "bytes gauge shared by sites and stacks");

/* Rows sort by their bytes gauge (the key), then suspect; the overflow series (no labels) is left out. */
static int keep_site(struct view_row *row)
{
	row->key = series__gauge(row->se, AS_BYTES);
	row->tie = series__gauge(row->se, AS_SUSPECT);
	return series__label(row->se, "pid") != NULL;
}

static int same(const struct series *a, const struct series *b, const char *key)
{
	const char *x = series__label(a, key), *y = series__label(b, key);

	return x && y && !strcmp(x, y);
}

/* Stacks (sorted by bytes) that belong to a site row. */
static unsigned int stacks_of(const struct view_rows *stacks, const struct series *site,
			      struct view_row **out, unsigned int max)
{
	unsigned int n = 0;
	size_t i;

	for (i = 0; i < stacks->n && n < max; i++) {
		struct series *se = stacks->v[i].se;

		if (same(se, site, "pid") && same(se, site, "instance") && same(se, site, "site") &&
		    stacks->v[i].key > 0)
			out[n++] = &stacks->v[i];
	}
	return n;
}

/* one unit system across the view (view.h) */
static const char *bytes_str(double b, char *buf, size_t len)
{
	return view__bytes(b, buf, len);
}

static const char *lbl(const struct series *se, const char *key)
{
	const char *v = series__label(se, key);

	return v ? v : "?";
}

/* "a;b;c" printed as one frame a line, indented. */
static void print_stack(FILE *out, const char *stack, double share_bytes)
{
	char b[32];
	const char *p = stack;
	int first = 1;

	while (*p) {
		const char *e = strchr(p, ';');
		int len = e ? (int)(e - p) : (int)strlen(p);

		if (first)
			fprintf(out, "      %9s  %.*s\n", bytes_str(share_bytes, b, sizeof(b)), len, p);
		else
			fprintf(out, "      %9s    <- %.*s\n", "", len, p);
		first = 0;
		p += len;
		if (*p == ';')
			p++;
	}
}

static int alloc_text(FILE *out, struct store *st, uint64_t now, const struct view_opts *o)
{
	struct view_rows targets, sites, stacks;
	char b1[32], b2[32], b3[32];
	unsigned int nsusp = 0, shown = 0;
	size_t i;

	view__collect(st, FAM_ALLOC_TARGET, now, o, keep_site, &targets);
	if (!targets.n) {
		free(targets.v);
		return 0;
	}
	view__collect(st, FAM_ALLOC_SITE, now, o, keep_site, &sites);
	view__collect(st, FAM_ALLOC_STACK, now, o, keep_site, &stacks);

	fprintf(out, "ALLOCATIONS (libc allocator uprobes: outstanding heap by call site)\n");
	fprintf(out, "%-16s %7s %-14s %10s %9s %9s  %s\n", "COMM", "PID", "INSTANCE", "CALLS/S",
		"EST.CPU", "TRACKED", "STATE");
	for (i = 0; i < targets.n; i++) {
		struct series *se = targets.v[i].se;
		int attached = series__gauge(se, TG_ATTACHED) == 1;

		fprintf(out, "%-16s %7s %-14s %10.0f %8.1f%% %9.0f  %s%s (probe hit %.1fus)\n",
			lbl(se, "comm"), lbl(se, "pid"), lbl(se, "instance"), series__gauge(se, TG_RATE),
			series__gauge(se, TG_PCT), series__gauge(se, TG_TRACKED),
			attached ? "traced" : series__gauge(se, TG_EXITED) == 1 ? "exited" : "ended",
			series__gauge(se, TG_AUTO) == 1 ? ", auto" : "", series__gauge(se, TG_TRAP));
	}

	for (i = 0; i < sites.n; i++)
		nsusp += series__gauge(sites.v[i].se, AS_SUSPECT) == 1;
	if (nsusp) {
		fprintf(out, "LEAK SUSPECTS (allocations older than the minimum age, still growing)\n");
		fprintf(out, "%-16s %7s %10s %11s %10s %8s  %s\n", "COMM", "PID", "GROWTH/S",
			"OUTSTANDING", "OLD", "OLDEST", "SITE, then top stacks");
		for (i = 0; i < sites.n; i++) {
			struct series *se = sites.v[i].se;
			struct view_row *top[STACKS_PER_SITE];
			unsigned int k, n;

			if (series__gauge(se, AS_SUSPECT) != 1)
				continue;
			fprintf(out, "%-16s %7s %10s %11s %10s %7.0fs  %s\n", lbl(se, "comm"),
				lbl(se, "pid"), bytes_str(series__gauge(se, AS_GROWTH), b1, sizeof(b1)),
				bytes_str(series__gauge(se, AS_BYTES), b2, sizeof(b2)),
				bytes_str(series__gauge(se, AS_OLD_BYTES), b3, sizeof(b3)),
				series__gauge(se, AS_OLDEST_S), lbl(se, "site"));
			n = stacks_of(&stacks, se, top, STACKS_PER_SITE);
			for (k = 0; k < n; k++)
				print_stack(out, lbl(top[k]->se, "stack"), top[k]->key);
		}
	}
	fprintf(out, "TOP SITES BY OUTSTANDING BYTES\n");
	fprintf(out, "%-16s %7s %11s %9s %9s %9s %10s  %s\n", "COMM", "PID", "OUTSTANDING", "COUNT",
		"ALLOCS/S", "FREES/S", "GROWTH/S", "SITE");
	for (i = 0; i < sites.n && shown < o->top; i++) {
		struct series *se = sites.v[i].se;
		struct view_stats *vs = &sites.v[i].vs;
		double secs = vs->seconds > 0 ? vs->seconds : 1;

		if (sites.v[i].key <= 0 && !vs->counters[AS_ALLOCS])
			continue;
		shown++;
		fprintf(out, "%-16s %7s %11s %9.0f %9.0f %9.0f %10s  %s%s\n", lbl(se, "comm"),
			lbl(se, "pid"), bytes_str(sites.v[i].key, b1, sizeof(b1)),
			series__gauge(se, AS_COUNT), vs->counters[AS_ALLOCS] / secs, vs->counters[AS_FREES] / secs,
			bytes_str(series__gauge(se, AS_GROWTH), b2, sizeof(b2)), lbl(se, "site"),
			series__gauge(se, AS_SUSPECT) == 1 ? "  [suspect]" : "");
	}
	if (!shown)
		fprintf(out, "(no outstanding allocations seen yet)\n");
	free(targets.v);
	free(sites.v);
	free(stacks.v);
	return 1;
}

static cJSON *site_json(const struct view_row *r, const struct view_rows *stacks)
{
	struct view_row *top[STACKS_PER_SITE];
	cJSON *e = cJSON_CreateObject(), *arr;
	struct series *se = r->se;
	unsigned int k, n;

	if (!e)
		return NULL;
	view__json_label(e, FAM_ALLOC_SITE, "pid", lbl(se, "pid"));
	view__json_label(e, FAM_ALLOC_SITE, "comm", lbl(se, "comm"));
	view__json_label(e, FAM_ALLOC_SITE, "instance", lbl(se, "instance"));
	view__json_label(e, FAM_ALLOC_SITE, "site", lbl(se, "site"));
	cJSON_AddNumberToObject(e, "bytes", series__gauge(se, AS_BYTES));
	cJSON_AddNumberToObject(e, "count", series__gauge(se, AS_COUNT));
	cJSON_AddNumberToObject(e, "old_bytes", series__gauge(se, AS_OLD_BYTES));
	cJSON_AddNumberToObject(e, "oldest_s", series__gauge(se, AS_OLDEST_S));
	cJSON_AddNumberToObject(e, "growth_bps", series__gauge(se, AS_GROWTH));
	cJSON_AddBoolToObject(e, "suspect", series__gauge(se, AS_SUSPECT) == 1);
	cJSON_AddNumberToObject(e, "allocs", (double)r->vs.counters[AS_ALLOCS]);
	cJSON_AddNumberToObject(e, "frees", (double)r->vs.counters[AS_FREES]);
	arr = cJSON_AddArrayToObject(e, "stacks");
	n = stacks_of(stacks, se, top, STACKS_PER_SITE);
	for (k = 0; arr && k < n; k++) {
		cJSON *s = cJSON_CreateObject(), *frames;
		const char *p = lbl(top[k]->se, "stack");

		if (!s)
			break;
		cJSON_AddNumberToObject(s, "bytes", top[k]->key);
		cJSON_AddNumberToObject(s, "sampled", series__gauge(top[k]->se, AK_SAMPLED));
		frames = cJSON_AddArrayToObject(s, "frames");
		while (frames && *p) {
			const char *end = strchr(p, ';');
			size_t len = end ? (size_t)(end - p) : strlen(p);
			char *f = strndup(p, len);

			if (f) {
				cJSON_AddItemToArray(frames, cJSON_CreateString(f));
				free(f);
			}
			p += len;
			if (*p == ';')
				p++;
		}
		cJSON_AddItemToArray(arr, s);
	}
	return e;
}

static void alloc_json(cJSON *obj, struct store *st, uint64_t now, const struct view_opts *o)
{
	struct view_rows targets, sites, stacks;
	cJSON *root, *tarr, *sarr, *sites_arr;
	unsigned int nsites = 0;
	size_t i;

	view__collect(st, FAM_ALLOC_TARGET, now, o, keep_site, &targets);
	if (!targets.n) {
		free(targets.v);
		return;
	}
	root = cJSON_AddObjectToObject(obj, "alloc");
	if (!root) {
		free(targets.v);
		return;
	}
	view__collect(st, FAM_ALLOC_SITE, now, o, keep_site, &sites);
	view__collect(st, FAM_ALLOC_STACK, now, o, keep_site, &stacks);
	tarr = cJSON_AddArrayToObject(root, "targets");
	for (i = 0; tarr && i < targets.n; i++) {
		struct series *se = targets.v[i].se;
		cJSON *e = cJSON_CreateObject();

		if (!e)
			break;
		view__json_label(e, FAM_ALLOC_TARGET, "pid", lbl(se, "pid"));
		view__json_label(e, FAM_ALLOC_TARGET, "comm", lbl(se, "comm"));
		view__json_label(e, FAM_ALLOC_TARGET, "instance", lbl(se, "instance"));
		view__json_label(e, FAM_ALLOC_TARGET, "libc", lbl(se, "libc"));
		view__json_label(e, FAM_ALLOC_TARGET, "probes", lbl(se, "probes"));
		cJSON_AddBoolToObject(e, "attached", series__gauge(se, TG_ATTACHED) == 1);
		cJSON_AddBoolToObject(e, "exited", series__gauge(se, TG_EXITED) == 1);
		cJSON_AddBoolToObject(e, "auto", series__gauge(se, TG_AUTO) == 1);
		cJSON_AddNumberToObject(e, "calls_per_s", series__gauge(se, TG_RATE));
		cJSON_AddNumberToObject(e, "est_cpu_pct", series__gauge(se, TG_PCT));
		cJSON_AddNumberToObject(e, "trap_us", series__gauge(se, TG_TRAP));
		cJSON_AddNumberToObject(e, "tracked", series__gauge(se, TG_TRACKED));
		cJSON_AddNumberToObject(e, "calls", (double)targets.v[i].vs.counters[AT_CALLS]);
		cJSON_AddNumberToObject(e, "frees", (double)targets.v[i].vs.counters[AT_FREES]);
		cJSON_AddItemToArray(tarr, e);
	}
	sarr = cJSON_AddArrayToObject(root, "suspects");
	sites_arr = cJSON_AddArrayToObject(root, "sites");
	for (i = 0; i < sites.n; i++) {
		const struct view_row *r = &sites.v[i];
		int suspect = series__gauge(r->se, AS_SUSPECT) == 1;

		if (suspect && sarr)
			cJSON_AddItemToArray(sarr, site_json(r, &stacks));
		if (sites_arr && nsites < JSON_MAX_SITES && (r->key > 0 || r->vs.counters[AS_ALLOCS])) {
			cJSON_AddItemToArray(sites_arr, site_json(r, &stacks));
			nsites++;
		}
	}
	free(targets.v);
	free(sites.v);
	free(stacks.v);
}

static const char *alloc_hint(const struct view_opts *o)
{
	if (o->pid_mode && !o->leaks)
		return "allocator not traced (each malloc would pay a uprobe trap); a tier-1 "
		       "suspect is traced automatically; --leaks gives outstanding bytes per "
		       "call site now";
	return "no process traced (only tier-1 memory-growth suspects, host-wide)";
}

const struct view_section view_alloc = {
	.name = "alloc",
	.hint = alloc_hint,
	.text = alloc_text,
	.json = alloc_json,
};
