/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/engine.h"
#include "core/families.h"
#include "core/hist.h"
#include "core/window.h"

#define GROUP_BUCKETS	4096	/* hash of groups per evaluation, and of alerts per rule */
#define KEY_SEP		'\x1f'	/* the store cleans control bytes out of label values */

void alert_state__init(struct alert_state *s)
{
	memset(s, 0, sizeof(*s));
	s->state = AS_INACTIVE;
	s->below_since = -1;
	s->resolved_at = -1;
}

/* A resolved alert cannot fire again until keep_firing_s after its resolve. */
static int quiet(const struct alert_state *s, const struct alert_rule *r, double now)
{
	return s->resolved_at >= 0 && now - s->resolved_at < r->keep_firing_s;
}

int alert_state__step(struct alert_state *s, const struct alert_rule *r, int have, double v,
		      double now, double keepalive_s)
{
	int above = have && v > r->above, hold = have && v > r->clear;

	switch (s->state) {
	case AS_RESOLVED:
	case AS_INACTIVE:
		if (!above) {
			if (s->state == AS_RESOLVED && !quiet(s, r, now))
				s->state = AS_INACTIVE;
			return ALERT_NONE;
		}
		s->state = AS_PENDING;
		s->since = now;
		/* for_s may be 0: judge it as pending now */
		__attribute__((fallthrough));
	case AS_PENDING:
		if (!hold) {
			s->state = s->resolved_at >= 0 && quiet(s, r, now) ? AS_RESOLVED : AS_INACTIVE;
			return ALERT_NONE;
		}
		if (now - s->since < r->for_s || quiet(s, r, now))
			return ALERT_NONE;
		s->state = AS_FIRING;
		s->below_since = -1;
		s->last_sent = s->last_keepalive = now;
		return ALERT_TRIGGER;
	case AS_FIRING:
		if (hold) {
			s->below_since = -1;
		} else {
			if (s->below_since < 0)
				s->below_since = now;
			if (now - s->below_since >= r->keep_firing_s) {
				s->state = AS_RESOLVED;
				s->resolved_at = now;
				return ALERT_RESOLVE;
			}
		}
		if (r->repeat_s > 0 && now - s->last_sent >= r->repeat_s) {
			s->last_sent = s->last_keepalive = now;
			return ALERT_REPEAT;
		}
		if (keepalive_s > 0 && now - s->last_keepalive >= keepalive_s) {
			s->last_keepalive = now;
			return ALERT_KEEPALIVE;
		}
		return ALERT_NONE;
	}
	return ALERT_NONE;
}

/* An alert instance: one rule and one group of series. */
struct instance {
	struct instance *next;
	uint64_t hash;
	char *key;			/* group values joined by KEY_SEP */
	char *vals[STORE_MAX_LABELS];
	struct alert_state st;
	int seen;			/* read in this evaluation */
	double value, count;
	double starts_at;		/* wall clock */
	char dedup[80];
	char summary[ALERT_SUMMARY_MAX];
};

struct rule_rt {
	const struct alert_rule *rule;
	struct instance **buckets;	/* GROUP_BUCKETS chains */
	unsigned int n;
};

struct alerts {
	const struct alert_config *cfg;
	alert_notify_fn fn;
	void *arg;
	struct rule_rt *rules;
	unsigned int nrules;
	struct alerts_stats stats;
};

/* A group of series merged for one evaluation. */
struct group {
	struct group *next;
	uint64_t hash;
	char *key;
	const char *vals[STORE_MAX_LABELS];
	struct hist *h;
	double a, b;			/* counters (ratio: numerator, denominator) */
	double gauge;
	double covered_s;
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

struct alerts *alerts__new(const struct alert_config *cfg, alert_notify_fn fn, void *arg)
{
	struct alerts *a = calloc(1, sizeof(*a));
	unsigned int i;

	if (!a)
		return NULL;
	a->cfg = cfg;
	a->fn = fn;
	a->arg = arg;
	a->rules = calloc(cfg->nrules ? cfg->nrules : 1, sizeof(*a->rules));
	if (!a->rules)
		goto err;
	for (i = 0; i < cfg->nrules; i++) {
		if (!cfg->rules[i].enabled)
			continue;
		a->rules[a->nrules].rule = &cfg->rules[i];
		a->rules[a->nrules].buckets = calloc(GROUP_BUCKETS, sizeof(struct instance *));
		if (!a->rules[a->nrules].buckets)
			goto err;
		a->nrules++;
	}
	return a;
err:
	alerts__free(a);
	errno = ENOMEM;
	return NULL;
}

static void instance_free(struct instance *in)
{
	unsigned int i;

	for (i = 0; i < STORE_MAX_LABELS; i++)
		free(in->vals[i]);
	free(in->key);
	free(in);
}

void alerts__free(struct alerts *a)
{
	unsigned int i, b;

	if (!a)
		return;
	for (i = 0; a->rules && i < a->nrules; i++) {
		for (b = 0; b < GROUP_BUCKETS; b++) {
			struct instance *in = a->rules[i].buckets[b], *next;

			for (; in; in = next) {
				next = in->next;
				instance_free(in);
			}
		}
		free(a->rules[i].buckets);
	}
	free(a->rules);
	free(a);
}

void alerts__stats(const struct alerts *a, struct alerts_stats *out)
{
	*out = a->stats;
}

struct walk {
	const struct alert_rule *r;
	const struct family_desc *d;
	uint64_t now, span;
	struct hist *tmp;
	struct group *buckets[GROUP_BUCKETS];
	int err;
};

static int selected(const struct alert_rule *r, struct series *se)
{
	unsigned int i, j;

	for (i = 0; i < r->nselect; i++) {
		const char *v = series__label(se, r->select[i].key);

		if (!v)
			return 0;
		for (j = 0; j < r->select[i].nvalues; j++)
			if (!fnmatch(r->select[i].values[j], v, 0))
				break;
		if (j == r->select[i].nvalues)
			return 0;
	}
	return 1;
}

static int walk_series(struct series *se, void *arg)
{
	struct walk *w = arg;
	const struct alert_rule *r = w->r;
	const char *vals[STORE_MAX_LABELS];
	char key[1024];
	size_t off = 0;
	struct group *g;
	uint64_t h;
	unsigned int i;

	if (!selected(r, se))
		return 0;
	for (i = 0; i < r->ngroup; i++) {
		vals[i] = series__label(se, r->group_by[i]);
		if (!vals[i])
			return 0;	/* the overflow series: no labels to alert on */
		off += (size_t)snprintf(key + off, off < sizeof(key) ? sizeof(key) - off : 0,
					"%s%c", vals[i], KEY_SEP);
	}
	if (off >= sizeof(key))
		return 0;
	h = fnv1a(key);
	for (g = w->buckets[h % GROUP_BUCKETS]; g; g = g->next)
		if (g->hash == h && !strcmp(g->key, key))
			break;
	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g || !(g->key = strdup(key)) ||
		    (r->kind == AV_QUANTILE && !(g->h = hist__new()))) {
			if (g)
				free(g->key);
			free(g);
			w->err = -ENOMEM;
			return 1;
		}
		g->hash = h;
		g->gauge = -INFINITY;
		memcpy(g->vals, vals, sizeof(vals[0]) * r->ngroup);
		g->next = w->buckets[h % GROUP_BUCKETS];
		w->buckets[h % GROUP_BUCKETS] = g;
	}
	if (r->kind == AV_GAUGE) {
		double v = series__gauge(se, r->metric);

		if (v > g->gauge)
			g->gauge = v;
	} else {
		struct window_read rd;
		int err = window__read(series__window(se), w->now, w->span,
				       r->kind == AV_QUANTILE ? w->tmp : NULL, &rd);

		if (err) {
			w->err = err;
			return 1;
		}
		if (r->kind == AV_QUANTILE && hist__merge(g->h, w->tmp)) {
			w->err = -ENOMEM;
			return 1;
		}
		g->a += (double)rd.counters[r->metric];
		if (r->kind == AV_RATIO)
			g->b += (double)rd.counters[r->metric2];
		if (rd.covered_ns / 1e9 > g->covered_s)
			g->covered_s = rd.covered_ns / 1e9;
	}
	return 0;
}

/* The group's value; 0 when there is not enough to judge (min_count). */
static int group_value(const struct alert_rule *r, const struct family_desc *d,
		       const struct group *g, double *v, double *count)
{
	switch (r->kind) {
	case AV_QUANTILE:
		*count = (double)hist__count(g->h);
		if (*count < r->min_count || !*count)
			return 0;
		*v = (double)hist__quantile(g->h, r->quantile);
		if (d->hist_unit && !strcmp(d->hist_unit, "ns"))
			*v /= 1e9;
		return 1;
	case AV_RATE:
	case AV_COUNT:
		*count = g->a;
		if (g->a < r->min_count)
			return 0;
		/* a young window is divided by the time it covers, not the span */
		*v = r->kind == AV_COUNT ? g->a : g->a / (g->covered_s > 1 ? g->covered_s : 1);
		return 1;
	case AV_RATIO:
		*count = g->b;
		if (g->b < r->min_count || g->b <= 0)
			return 0;
		*v = 100.0 * g->a / g->b;
		return 1;
	case AV_GAUGE:
		*count = 1;
		if (!isfinite(g->gauge))
			return 0;
		*v = g->gauge;
		return 1;
	}
	return 0;
}

static struct instance *find_instance(struct rule_rt *rt, uint64_t h, const char *key)
{
	struct instance *in;

	for (in = rt->buckets[h % GROUP_BUCKETS]; in; in = in->next)
		if (in->hash == h && !strcmp(in->key, key))
			return in;
	return NULL;
}

static struct instance *new_instance(struct rule_rt *rt, const struct group *g)
{
	const struct alert_rule *r = rt->rule;
	struct instance *in = calloc(1, sizeof(*in));
	unsigned int i;
	char buf[20];

	if (!in || !(in->key = strdup(g->key)))
		goto err;
	for (i = 0; i < r->ngroup; i++)
		if (!(in->vals[i] = strdup(g->vals[i])))
			goto err;
	in->hash = g->hash;
	alert_state__init(&in->st);
	/* stable across restarts: the rule and the group's labels, nothing else */
	snprintf(buf, sizeof(buf), "%016llx", (unsigned long long)fnv1a(g->key));
	snprintf(in->dedup, sizeof(in->dedup), "probe-%.40s-%s", r->name, buf);
	in->next = rt->buckets[g->hash % GROUP_BUCKETS];
	rt->buckets[g->hash % GROUP_BUCKETS] = in;
	rt->n++;
	return in;
err:
	if (in)
		instance_free(in);
	return NULL;
}

static void notify(struct alerts *a, const struct alert_rule *r, struct instance *in, int action,
		   struct store *st, uint64_t now_ns, double wall)
{
	struct alert_event ev = { .action = action, .rule = r, .value = in->value, .now = wall };
	unsigned int i;

	if (action == ALERT_TRIGGER)
		in->starts_at = wall;
	ev.nlabels = r->ngroup;
	for (i = 0; i < r->ngroup; i++)
		ev.labels[i] = (struct label){ r->group_by[i], in->vals[i] };
	/* the text is refreshed on every notification but a keep-alive */
	if (action != ALERT_KEEPALIVE || !in->summary[0])
		alert_text__summary(r, ev.labels, ev.nlabels, in->value, in->count, st, now_ns,
				    in->summary, sizeof(in->summary));
	alert_text__value(r, in->value, ev.value_text, sizeof(ev.value_text));
	alert_text__value(r, r->above, ev.threshold_text, sizeof(ev.threshold_text));
	ev.summary = in->summary;
	snprintf(ev.dedup_key, sizeof(ev.dedup_key), "%s", in->dedup);
	ev.starts_at = in->starts_at;
	switch (action) {
	case ALERT_TRIGGER:
		a->stats.triggers++;
		break;
	case ALERT_REPEAT:
		a->stats.repeats++;
		break;
	case ALERT_RESOLVE:
		a->stats.resolves++;
		break;
	default:
		a->stats.keepalives++;
	}
	if (a->fn)
		a->fn(&ev, a->arg);
}

static void free_groups(struct walk *w)
{
	unsigned int b;

	for (b = 0; b < GROUP_BUCKETS; b++) {
		struct group *g = w->buckets[b], *next;

		for (; g; g = next) {
			next = g->next;
			hist__free(g->h);
			free(g->key);
			free(g);
		}
		w->buckets[b] = NULL;
	}
}

static int evaluate_rule(struct alerts *a, struct rule_rt *rt, struct store *st, uint64_t now_ns,
			 double wall, struct hist *tmp)
{
	const struct alert_rule *r = rt->rule;
	const struct family_desc *d = families__find(r->family);
	struct family *f = d ? store__find_family(st, d->name) : NULL;
	double now_s = now_ns / 1e9;
	struct walk *w;
	unsigned int b;
	int err = 0;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->r = r;
	w->d = d;
	w->now = now_ns;
	w->span = (uint64_t)(r->window_s * 1e9);
	w->tmp = tmp;
	for (b = 0; b < GROUP_BUCKETS; b++) {
		struct instance *in;

		for (in = rt->buckets[b]; in; in = in->next)
			in->seen = 0;
	}
	if (f)
		family__for_each(f, walk_series, w);
	err = w->err;

	/* groups with a value: step their alert, creating it when above */
	for (b = 0; !err && b < GROUP_BUCKETS; b++) {
		struct group *g;

		for (g = w->buckets[b]; g; g = g->next) {
			struct instance *in = find_instance(rt, g->hash, g->key);
			double v = 0, count = 0;
			int have = group_value(r, d, g, &v, &count), act;

			if (!in) {
				if (!have || v <= r->above)
					continue;	/* nothing to remember */
				if (rt->n >= a->cfg->max_alerts) {
					a->stats.dropped++;
					continue;
				}
				in = new_instance(rt, g);
				if (!in) {
					err = -ENOMEM;
					break;
				}
			}
			in->seen = 1;
			if (have) {
				in->value = v;
				in->count = count;
			}
			act = alert_state__step(&in->st, r, have, v, now_s, a->cfg->keepalive_s);
			if (act != ALERT_NONE)
				notify(a, r, in, act, st, now_ns, wall);
		}
	}
	/* alerts whose series are gone read no value; inactive ones are forgotten */
	for (b = 0; b < GROUP_BUCKETS; b++) {
		struct instance **pp = &rt->buckets[b];

		while (*pp) {
			struct instance *in = *pp;
			int act;

			if (!in->seen && !err) {
				act = alert_state__step(&in->st, r, 0, 0, now_s, a->cfg->keepalive_s);
				if (act != ALERT_NONE)
					notify(a, r, in, act, st, now_ns, wall);
			}
			if (in->st.state == AS_INACTIVE) {
				*pp = in->next;
				instance_free(in);
				rt->n--;
				continue;
			}
			if (in->st.state == AS_FIRING)
				a->stats.firing++;
			pp = &in->next;
		}
	}
	free_groups(w);
	free(w);
	return err;
}

int alerts__evaluate(struct alerts *a, struct store *st, uint64_t now_ns, double wall_s)
{
	struct hist *tmp = hist__new();
	unsigned int i;
	int err = 0;

	if (!tmp)
		return -ENOMEM;
	a->stats.evaluations++;
	a->stats.firing = 0;
	for (i = 0; i < a->nrules; i++) {
		int e = evaluate_rule(a, &a->rules[i], st, now_ns, wall_s, tmp);

		if (e && !err)
			err = e;
	}
	hist__free(tmp);
	return err;
}
