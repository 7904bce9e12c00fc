/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The memory-growth section: processes ranked by growth rate (mem_growth),
 * and for suspects and sampled processes the leak report (mem_leak) with
 * the top stacks by bytes of growth (mem_stack).
 *
 * A mem_growth row is matched to its mem_leak series by pid and comm, and
 * only if both were written in the same collect round (the signal writes
 * them together, with one timestamp): a reused pid with the same name is
 * never shown its predecessor's leak. Stacks are matched to the leak by pid
 * and start.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "view/view.h"
#include "core/store.h"

#define TEXT_STACKS	5
#define JSON_STACKS	10
#define TEXT_FRAMES	8


struct mrow {
	struct series *se;
	struct series *leak;	/* NULL: neither suspect nor sampled */
	double rate;
	int alive;
};

struct mrows {
	struct mrow *v;
	size_t n, cap;
	uint64_t now;
	const struct view_opts *o;
};

static int add_row(struct series *se, void *arg)
{
	struct mrows *r = arg;
	struct mrow row = { .se = se, .rate = series__gauge(se, MG_RATE) };

	if (!series__label(se, "pid"))
		return 0;	/* the overflow series carries no process */
	row.alive = series__gauge(se, MG_ALIVE) > 0;
	if (!r->o->summary && !row.alive)
		return 0;	/* live: running processes only */
	if (view__reserve(&r->v, &r->cap, r->n, sizeof(*r->v)))
		return 1;	/* show what fits */
	r->v[r->n++] = row;
	return 0;
}

static int by_rate(const void *a, const void *b)
{
	const struct mrow *x = a, *y = b;
	double sx = series__gauge(x->se, MG_SUSPECT), sy = series__gauge(y->se, MG_SUSPECT);

	if (sx != sy)
		return sx < sy ? 1 : -1;	/* suspects first */
	if (x->rate != y->rate)
		return x->rate < y->rate ? 1 : -1;
	return series__gauge(x->se, MG_RSS) < series__gauge(y->se, MG_RSS) ? 1 : -1;
}

struct leak_match {
	const char *pid, *comm;
	struct series *best;
};

static int match_leak(struct series *se, void *arg)
{
	struct leak_match *m = arg;
	const char *pid = series__label(se, "pid"), *comm = series__label(se, "comm");

	if (!pid || !comm || strcmp(pid, m->pid) || strcmp(comm, m->comm))
		return 0;
	if (!m->best || series__last_update(se) > series__last_update(m->best))
		m->best = se;
	return 0;
}

static int collect_rows(struct store *st, uint64_t now, const struct view_opts *o,
			struct mrows *r)
{
	struct family *f = families__lookup(st, FAM_MEM_GROWTH);
	struct family *lf = families__lookup(st, FAM_MEM_LEAK);
	size_t i;

	memset(r, 0, sizeof(*r));
	r->now = now;
	r->o = o;
	if (!f)
		return 0;
	family__for_each(f, add_row, r);
	for (i = 0; lf && i < r->n; i++) {
		struct leak_match m = {
			.pid = series__label(r->v[i].se, "pid"),
			.comm = series__label(r->v[i].se, "comm"),
		};

		if (m.pid && m.comm)
			family__for_each(lf, match_leak, &m);
		if (m.best && series__last_update(m.best) == series__last_update(r->v[i].se))
			r->v[i].leak = m.best;
	}
	if (r->n)
		qsort(r->v, r->n, sizeof(*r->v), by_rate);
	return (int)r->n;
}

/* --- stacks of one process instance --- */

struct srow {
	struct series *se;
	uint64_t bytes, samples;
};

struct stack_match {
	const char *pid, *start;
	uint64_t now;
	const struct view_opts *o;
	struct srow *v;
	size_t n, cap;
};

static int match_stack(struct series *se, void *arg)
{
	struct stack_match *m = arg;
	const char *pid = series__label(se, "pid"), *start = series__label(se, "start");
	struct view_stats vs;

	if (!pid || !start || strcmp(pid, m->pid) || strcmp(start, m->start))
		return 0;
	if (view__stats(se, m->now, m->o, &vs) || !vs.counters[MS_BYTES])
		return 0;
	if (view__reserve(&m->v, &m->cap, m->n, sizeof(*m->v)))
		return 1;
	m->v[m->n++] = (struct srow){ se, vs.counters[MS_BYTES], vs.counters[MS_SAMPLES] };
	return 0;
}

static int by_bytes(const void *a, const void *b)
{
	const struct srow *x = a, *y = b;

	return (x->bytes < y->bytes) - (x->bytes > y->bytes);
}

static size_t stacks_of(struct store *st, struct series *leak, uint64_t now,
			const struct view_opts *o, struct srow **out)
{
	struct family *f = families__lookup(st, FAM_MEM_STACK);
	struct stack_match m = {
		.pid = series__label(leak, "pid"), .start = series__label(leak, "start"),
		.now = now, .o = o,
	};

	*out = NULL;
	if (!f || !m.pid || !m.start)
		return 0;
	family__for_each(f, match_stack, &m);
	if (m.n)
		qsort(m.v, m.n, sizeof(*m.v), by_bytes);
	*out = m.v;
	return m.n;
}

/* --- text --- */

/* one unit system across the view (view.h) */
static const char *bytes_str(double b, char *buf, size_t len)
{
	return view__bytes(b, buf, len);
}

static void print_stack(FILE *out, const struct srow *s)
{
	const char *label = series__label(s->se, "stack"), *kind = series__label(s->se, "kind");
	char b[16];
	unsigned int frames = 0;
	const char *p;

	fprintf(out, "      %8s %-5s %5lu  ", bytes_str((double)s->bytes, b, sizeof(b)),
		kind ? kind : "?", (unsigned long)s->samples);
	for (p = label ? label : "?"; *p && frames < TEXT_FRAMES; frames++) {
		size_t n = strcspn(p, ";");

		fprintf(out, "%s%.*s", frames ? " < " : "", (int)n, p);
		p += n;
		if (*p == ';')
			p++;
	}
	if (*p)
		fputs(" < ...", out);
	fputc('\n', out);
}

static int mem_text(FILE *out, struct store *st, uint64_t now, const struct view_opts *o)
{
	char a[16], b[16], c[16], d[16], e[16], g[16];
	struct mrows r;
	size_t i, k;

	if (!collect_rows(st, now, o, &r))
		return 0;
	fprintf(out, "MEMORY GROWTH (top %u by growth rate; private = anon resident + swap)\n",
		o->top);
	fprintf(out, "%-16s %7s %9s %9s %9s %9s %11s %5s %-7s %s\n", "COMM", "PID", "RSS",
		"ANON-RSS", "HEAP", "ANON-MAP", "GROWTH/s", "FIT", "SUSPECT", "OUTSTANDING");
	for (i = 0; i < r.n && i < o->top; i++) {
		struct mrow *row = &r.v[i];
		struct srow *stacks = NULL;
		size_t ns;
		int suspect = series__gauge(row->se, MG_SUSPECT) > 0;

		fprintf(out, "%-16s %7s %9s %9s %9s %9s %9s/s %5.2f %-7s",
			series__label(row->se, "comm"), series__label(row->se, "pid"),
			bytes_str(series__gauge(row->se, MG_RSS), a, sizeof(a)),
			bytes_str(series__gauge(row->se, MG_RSS_ANON), b, sizeof(b)),
			bytes_str(series__gauge(row->se, MG_HEAP), c, sizeof(c)),
			bytes_str(series__gauge(row->se, MG_ANON), d, sizeof(d)),
			bytes_str(row->rate, e, sizeof(e)), series__gauge(row->se, MG_FIT),
			!row->alive ? "exited" : suspect ? "YES" : "no");
		if (suspect && row->leak)
			fprintf(out, " %s in %.0fs",
				bytes_str(series__gauge(row->leak, ML_OUTSTANDING), g, sizeof(g)),
				series__gauge(row->leak, ML_GROWTH_S));
		fputc('\n', out);
		if (!row->leak)
			continue;
		ns = stacks_of(st, row->leak, now, o, &stacks);
		if (ns)
			fprintf(out, "    where it grows (tier 2, %s sampled): BYTES KIND SAMPLES "
				"STACK (innermost first)\n",
				bytes_str(series__gauge(row->leak, ML_SAMPLED), a, sizeof(a)));
		for (k = 0; k < ns && k < TEXT_STACKS; k++)
			print_stack(out, &stacks[k]);
		free(stacks);
	}
	free(r.v);
	return 1;
}

/* --- JSON --- */

static cJSON *frames_json(const char *label)
{
	cJSON *arr = cJSON_CreateArray();
	const char *p = label;

	while (arr && p && *p) {
		size_t n = strcspn(p, ";");
		char *f = strndup(p, n);

		if (f)
			cJSON_AddItemToArray(arr, cJSON_CreateString(f));
		free(f);
		p += n;
		if (*p == ';')
			p++;
	}
	return arr;
}

static void leak_json(cJSON *e, struct store *st, struct series *leak, uint64_t now,
		      const struct view_opts *o)
{
	cJSON *l = cJSON_AddObjectToObject(e, "leak"), *arr;
	struct srow *stacks = NULL;
	size_t ns, k;

	if (!l)
		return;
	view__json_label(l, FAM_MEM_LEAK, "start", series__label(leak, "start"));
	cJSON_AddNumberToObject(l, "growth_bytes_per_s", series__gauge(leak, ML_RATE));
	cJSON_AddNumberToObject(l, "outstanding_bytes", series__gauge(leak, ML_OUTSTANDING));
	cJSON_AddNumberToObject(l, "growth_s", series__gauge(leak, ML_GROWTH_S));
	cJSON_AddBoolToObject(l, "suspect", series__gauge(leak, ML_SUSPECT) > 0);
	cJSON_AddBoolToObject(l, "tier2", series__gauge(leak, ML_TIER2) > 0);
	cJSON_AddNumberToObject(l, "sampled_bytes", series__gauge(leak, ML_SAMPLED));
	arr = cJSON_AddArrayToObject(l, "stacks");
	ns = stacks_of(st, leak, now, o, &stacks);
	for (k = 0; arr && k < ns && k < JSON_STACKS; k++) {
		cJSON *s = cJSON_CreateObject();
		const char *kind = series__label(stacks[k].se, "kind");

		if (!s)
			break;
		cJSON_AddStringToObject(s, "kind", kind ? kind : "?");
		cJSON_AddNumberToObject(s, "bytes", (double)stacks[k].bytes);
		cJSON_AddNumberToObject(s, "samples", (double)stacks[k].samples);
		cJSON_AddItemToObject(s, "frames",
				      frames_json(series__label(stacks[k].se, "stack")));
		cJSON_AddItemToArray(arr, s);
	}
	free(stacks);
}

static void mem_json(cJSON *obj, struct store *st, uint64_t now, const struct view_opts *o)
{
	cJSON *arr = cJSON_AddArrayToObject(obj, "memgrowth");
	struct mrows r;
	size_t i;

	if (!arr)
		return;
	collect_rows(st, now, o, &r);
	for (i = 0; i < r.n; i++) {
		struct mrow *row = &r.v[i];
		cJSON *e = cJSON_CreateObject();

		if (!e)
			break;
		view__json_label(e, FAM_MEM_GROWTH, "pid", series__label(row->se, "pid"));
		view__json_label(e, FAM_MEM_GROWTH, "comm", series__label(row->se, "comm"));
		cJSON_AddBoolToObject(e, "alive", row->alive);
		cJSON_AddNumberToObject(e, "rss_bytes", series__gauge(row->se, MG_RSS));
		cJSON_AddNumberToObject(e, "rss_anon_bytes", series__gauge(row->se, MG_RSS_ANON));
		cJSON_AddNumberToObject(e, "heap_bytes", series__gauge(row->se, MG_HEAP));
		cJSON_AddNumberToObject(e, "anon_bytes", series__gauge(row->se, MG_ANON));
		cJSON_AddNumberToObject(e, "growth_bytes_per_s", row->rate);
		cJSON_AddNumberToObject(e, "fit", series__gauge(row->se, MG_FIT));
		cJSON_AddBoolToObject(e, "suspect", series__gauge(row->se, MG_SUSPECT) > 0);
		cJSON_AddNumberToObject(e, "outstanding_bytes",
					row->leak ? series__gauge(row->leak, ML_OUTSTANDING) : 0);
		if (row->leak)
			leak_json(e, st, row->leak, now, o);
		cJSON_AddItemToArray(arr, e);
	}
	free(r.v);
}

static const char *mem_hint(const struct view_opts *o)
{
	(void)o;
	return "no memory change seen yet (a process shows once its memory changes)";
}

const struct view_section view_mem = {
	.name = "mem",
	.hint = mem_hint,
	.text = mem_text,
	.json = mem_json,
};
