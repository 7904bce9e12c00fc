/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/prom.h"
#include "export/promname.h"

#define NAME_MAX_LEN	256

void prom__number(char *buf, size_t len, double v)
{
	if (isnan(v)) {
		snprintf(buf, len, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(buf, len, "%.0f", v);
		return;
	}
	/* the shortest of 15 or 17 digits that reads back exactly */
	snprintf(buf, len, "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, len, "%.17g", v);
}

static void put_escaped(struct sbuf *b, const char *s, int quote)
{
	const char *run = s;

	for (; *s; s++) {
		const char *rep = NULL;

		if (*s == '\\')
			rep = "\\\\";
		else if (*s == '\n')
			rep = "\\n";
		else if (quote && *s == '"')
			rep = "\\\"";
		if (!rep)
			continue;
		sbuf__put(b, run, (size_t)(s - run));
		sbuf__puts(b, rep);
		run = s + 1;
	}
	sbuf__put(b, run, (size_t)(s - run));
}

/* {k="v",...,extra_k="extra_v"}: extra (le, NULL for none) comes last. */
static void put_labels(struct sbuf *b, const struct snap_point *p, const char *extra_k,
		       const char *extra_v)
{
	char key[NAME_MAX_LEN];
	unsigned int i, n = 0;

	for (i = 0; i < p->nattrs; i++) {
		if (promname__label(key, sizeof(key), p->attrs[i].key) < 0)
			continue;
		sbuf__puts(b, n++ ? "," : "{");
		sbuf__puts(b, key);
		sbuf__puts(b, "=\"");
		put_escaped(b, p->attrs[i].value, 1);
		sbuf__puts(b, "\"");
	}
	if (extra_k) {
		sbuf__puts(b, n++ ? "," : "{");
		sbuf__printf(b, "%s=\"%s\"", extra_k, extra_v);
	}
	if (n)
		sbuf__puts(b, "}");
}

static void put_sample(struct sbuf *b, const char *name, const char *suffix,
		       const struct snap_point *p, const char *extra_k, const char *extra_v,
		       double v)
{
	char num[64];

	prom__number(num, sizeof(num), v);
	sbuf__puts(b, name);
	sbuf__puts(b, suffix);
	put_labels(b, p, extra_k, extra_v);
	sbuf__puts(b, " ");
	sbuf__puts(b, num);
	sbuf__puts(b, "\n");
}

static void render_metric(struct sbuf *b, const struct snap_metric *m)
{
	static const char *const types[] = { "counter", "gauge", "histogram", "summary" };
	static const enum promname_kind kinds[] = { PROMNAME_COUNTER, PROMNAME_GAUGE,
						     PROMNAME_HISTOGRAM, PROMNAME_HISTOGRAM };
	char name[NAME_MAX_LEN], le[64];
	size_t i;
	unsigned int k;

	if (!m->npoints || promname__metric(name, sizeof(name), m->name, m->unit,
					    kinds[m->kind]) <= 0)
		return;
	sbuf__printf(b, "# HELP %s ", name);
	put_escaped(b, m->help, 0);
	sbuf__printf(b, "\n# TYPE %s %s\n", name, types[m->kind]);
	for (i = 0; i < m->npoints; i++) {
		const struct snap_point *p = &m->points[i];
		uint64_t cum = 0;

		if (m->kind == SNAP_SUMMARY) {
			for (k = 0; k < SNAP_QUANTILES; k++) {
				prom__number(le, sizeof(le), snap_quantiles[k]);
				put_sample(b, name, "", p, "quantile", le, p->quantiles[k]);
			}
			put_sample(b, name, "_sum", p, NULL, NULL, p->sum);
			put_sample(b, name, "_count", p, NULL, NULL, (double)p->count);
			continue;
		}
		if (m->kind != SNAP_HISTOGRAM) {
			put_sample(b, name, "", p, NULL, NULL, p->value);
			continue;
		}
		for (k = 0; k < m->nbounds; k++) {
			cum += p->buckets ? p->buckets[k] : 0;
			prom__number(le, sizeof(le), m->bounds[k]);
			put_sample(b, name, "_bucket", p, "le", le, (double)cum);
		}
		put_sample(b, name, "_bucket", p, "le", "+Inf", (double)p->count);
		put_sample(b, name, "_sum", p, NULL, NULL, p->sum);
		put_sample(b, name, "_count", p, NULL, NULL, (double)p->count);
	}
}

int prom__render(const struct snapshot *s, struct sbuf *out)
{
	size_t i;

	for (i = 0; i < s->nmetrics; i++)
		render_metric(out, &s->metrics[i]);
	return out->err;
}
