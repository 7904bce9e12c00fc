/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hist.h"
#include "core/store.h"
#include "core/window.h"
#include "export/collect.h"

#define PID_CACHE	4096	/* power of two */

enum { DROP_FAMILY, DROP_SERVICE, DROP_MAX };
static const char *const drop_names[DROP_MAX] = { "family_cap", "service_cap" };

/* One admission: a series (family + labels) or a service's count. */
struct entry {
	struct entry *next;
	uint64_t hash;
	uint64_t seen;			/* build generation that last saw it */
	int admitted;
	unsigned int count;		/* service entries: series admitted */
	struct entry *service;		/* series entries: their service */
	char key[];
};

struct table {
	struct entry **b;
	unsigned int nb;		/* power of two */
	unsigned int n;
};

/* What one store counter, gauge or histogram becomes. */
struct spec {
	const char *name, *unit, *help;
	enum snap_kind kind;
	double scale;
	const char *split_key, *split_value;
};

struct fam_plan {
	const struct family_desc *d;
	struct spec counters[WINDOW_MAX_COUNTERS];
	struct spec gauges[STORE_MAX_GAUGES];
	struct spec hist, quant;
	char quant_name[128];
	int has_hist;
	int pid_label;			/* index of process.pid, or -1 */
	int service_label;		/* index of service.name / process.executable.name, or -1 */
	unsigned int admitted;
	uint64_t dropped[DROP_MAX];
};

struct collector {
	struct collect_opts o;
	struct fam_plan plan[FAM_MAX];
	struct table series, services;
	uint64_t gen;
	uint64_t retired;
	struct hist *tmp;
	struct {
		int pid;
		uint64_t gen;
		int alive;
	} pids[PID_CACHE];
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct entry *table_get(struct table *t, const char *key, int create)
{
	uint64_t h = fnv1a(key);
	struct entry *e;
	size_t len;

	for (e = t->b[h & (t->nb - 1)]; e; e = e->next)
		if (e->hash == h && !strcmp(e->key, key))
			return e;
	if (!create)
		return NULL;
	if (t->n >= t->nb) {
		unsigned int nb = t->nb * 2, i;
		struct entry **b = calloc(nb, sizeof(*b));

		if (b) {	/* else longer chains, still correct */
			for (i = 0; i < t->nb; i++) {
				struct entry *x = t->b[i], *next;

				for (; x; x = next) {
					next = x->next;
					x->next = b[x->hash & (nb - 1)];
					b[x->hash & (nb - 1)] = x;
				}
			}
			free(t->b);
			t->b = b;
			t->nb = nb;
		}
	}
	len = strlen(key) + 1;
	e = calloc(1, sizeof(*e) + len);
	if (!e)
		return NULL;
	memcpy(e->key, key, len);
	e->hash = h;
	e->next = t->b[h & (t->nb - 1)];
	t->b[h & (t->nb - 1)] = e;
	t->n++;
	return e;
}

static int table_init(struct table *t)
{
	t->nb = 256;
	t->n = 0;
	t->b = calloc(t->nb, sizeof(*t->b));
	return t->b ? 0 : -ENOMEM;
}

static void table_free(struct table *t)
{
	unsigned int i;

	for (i = 0; t->b && i < t->nb; i++) {
		struct entry *e = t->b[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(t->b);
	t->b = NULL;
}

/* Exported units are base units: "us" -> "s" with a scale, "%" -> "1". */
static const char *base_unit(const char *unit, double *scale)
{
	*scale = 1;
	if (!unit)
		return "";
	if (!strcmp(unit, "ns") || !strcmp(unit, "us") || !strcmp(unit, "ms")) {
		*scale = unit[0] == 'n' ? 1e-9 : unit[0] == 'u' ? 1e-6 : 1e-3;
		return "s";
	}
	if (!strcmp(unit, "%")) {
		*scale = 0.01;
		return "1";
	}
	if (!strcmp(unit, "bytes"))
		return "By";
	return unit;
}

static void plan_family(struct fam_plan *p, const struct family_desc *d)
{
	unsigned int i;

	memset(p, 0, sizeof(*p));
	p->d = d;
	p->pid_label = p->service_label = -1;
	for (i = 0; i < d->nlabels; i++) {
		if (!strcmp(d->labels[i].attr, "process.pid"))
			p->pid_label = (int)i;
		if (!strcmp(d->labels[i].attr, "service.name") ||
		    (p->service_label < 0 && !strcmp(d->labels[i].attr, "process.executable.name")))
			p->service_label = (int)i;
	}
	for (i = 0; i < d->ncounters; i++) {
		const struct metric_desc *m = &d->counters[i];
		struct spec *s = &p->counters[i];

		if (!m->export)
			continue;
		*s = (struct spec){ m->export, base_unit(m->unit, &s->scale), m->help, SNAP_COUNTER,
				    s->scale, m->split_key, m->split_value };
	}
	for (i = 0; i < d->ngauges; i++) {
		const struct metric_desc *m = &d->gauges[i];
		struct spec *s = &p->gauges[i];

		if (!m->export)
			continue;
		*s = (struct spec){ m->export, base_unit(m->unit, &s->scale), m->help, SNAP_GAUGE,
				    s->scale, NULL, NULL };
	}
	if (d->hist_unit && d->hist_export) {
		p->has_hist = 1;
		p->hist = (struct spec){ d->hist_export, base_unit(d->hist_unit, &p->hist.scale),
					 d->hist_help, SNAP_HISTOGRAM, p->hist.scale, NULL, NULL };
		snprintf(p->quant_name, sizeof(p->quant_name), "%s%s.window",
			 strncmp(d->hist_export, "probe.", 6) ? "probe." : "", d->hist_export);
		p->quant = p->hist;
		p->quant.name = p->quant_name;
		p->quant.kind = SNAP_SUMMARY;
		p->quant.help = "quantiles from the high-resolution histogram (0.4 % error) over "
				"the last export.quantile_window_s, with that window's sum and count";
	}
}

struct collector *collector__new(const struct collect_opts *o)
{
	struct collector *c = calloc(1, sizeof(*c));
	unsigned int i;

	if (!c)
		return NULL;
	c->o = *o;
	for (i = 0; i < FAM_MAX; i++)
		plan_family(&c->plan[i], families__get(i));
	c->tmp = hist__new();
	if (!c->tmp || table_init(&c->series) || table_init(&c->services)) {
		collector__free(c);
		errno = ENOMEM;
		return NULL;
	}
	return c;
}

void collector__free(struct collector *c)
{
	if (!c)
		return;
	table_free(&c->series);
	table_free(&c->services);
	hist__free(c->tmp);
	free(c);
}

uint64_t collector__dropped(const struct collector *c)
{
	uint64_t n = 0;
	unsigned int i, k;

	for (i = 0; i < FAM_MAX; i++)
		for (k = 0; k < DROP_MAX; k++)
			n += c->plan[i].dropped[k];
	return n;
}

static int pid_alive(struct collector *c, int pid)
{
	unsigned int slot = ((unsigned int)pid * 2654435761u) & (PID_CACHE - 1);

	if (c->pids[slot].gen == c->gen && c->pids[slot].pid == pid)
		return c->pids[slot].alive;
	c->pids[slot].pid = pid;
	c->pids[slot].gen = c->gen;
	c->pids[slot].alive = kill(pid, 0) == 0 || errno == EPERM;
	return c->pids[slot].alive;
}

/* Accumulated values of one family's overflow series for this build. */
struct overflow {
	int used;
	double counters[WINDOW_MAX_COUNTERS];
	double gauges[STORE_MAX_GAUGES];
	uint64_t buckets[SNAP_MAX_BOUNDS + 1];
	uint64_t count;
	double sum;
	struct hist *recent;
};

/* Metric indexes in this snapshot, per family. */
struct fam_idx {
	int counters[WINDOW_MAX_COUNTERS];
	int gauges[STORE_MAX_GAUGES];
	int hist, quant;
};

struct build {
	struct collector *c;
	struct snapshot *snap;
	struct fam_plan *p;
	const struct collect_opts *o;
	unsigned int fam;
	struct fam_idx idx;
	double bounds_native[SNAP_MAX_BOUNDS];	/* bounds in the store's unit */
	uint64_t now;
	struct overflow ov;
	int err;
};

struct bucket_walk {
	const double *bounds;
	unsigned int nbounds, at;
	uint64_t *out;
};

/* Buckets come in increasing order; each lands by its midpoint. */
static int bucket_one(uint64_t lower, uint64_t width, uint64_t count, void *arg)
{
	struct bucket_walk *w = arg;
	double mid = (double)lower + (double)width / 2;

	while (w->at < w->nbounds && mid > w->bounds[w->at])
		w->at++;
	w->out[w->at] += count;
	return 0;
}

static void hist_buckets(const struct hist *h, const double *bounds, unsigned int n, uint64_t *out)
{
	struct bucket_walk w = { bounds, n, 0, out };

	hist__for_each_bucket(h, bucket_one, &w);
}

static int resolve_metric(struct build *b, const struct spec *s, int *idx)
{
	const struct collect_opts *o = b->o;

	*idx = -1;
	if (!s->name)
		return 0;
	*idx = snapshot__metric(b->snap, s->name, s->unit, s->help, s->kind,
				o->bounds[b->fam], s->kind == SNAP_HISTOGRAM ? o->nbounds[b->fam] : 0);
	return *idx < 0 ? *idx : 0;
}

static int resolve_family(struct build *b)
{
	struct fam_plan *p = b->p;
	unsigned int i;
	int err = 0;

	for (i = 0; i < p->d->ncounters && !err; i++)
		err = resolve_metric(b, &p->counters[i], &b->idx.counters[i]);
	for (i = 0; i < p->d->ngauges && !err; i++)
		err = resolve_metric(b, &p->gauges[i], &b->idx.gauges[i]);
	b->idx.hist = b->idx.quant = -1;
	if (p->has_hist && !err)
		err = resolve_metric(b, &p->hist, &b->idx.hist);
	if (p->has_hist && !err && b->o->quantile_span_ns)
		err = resolve_metric(b, &p->quant, &b->idx.quant);
	for (i = 0; i < b->o->nbounds[b->fam]; i++)
		b->bounds_native[i] = b->o->bounds[b->fam][i] / (p->hist.scale ? p->hist.scale : 1);
	return err;
}

/* attrs + one more (a split or a quantile), in the snapshot. */
static const struct snap_attr *with_attr(struct build *b, const struct snap_attr *attrs,
					 unsigned int n, const char *k, const char *v)
{
	struct snap_attr *a = snapshot__alloc(b->snap, (n + 1) * sizeof(*a));

	if (!a)
		return NULL;
	memcpy(a, attrs, n * sizeof(*a));
	a[n].key = k;
	a[n].value = v;
	return a;
}

static void add_point(struct build *b, int idx, const struct snap_attr *attrs, unsigned int n,
		      const char *xk, const char *xv, double value)
{
	const struct snap_attr *a = attrs;
	struct snap_point *pt;

	if (idx < 0)
		return;
	if (xk) {
		a = with_attr(b, attrs, n, xk, xv);
		n++;
	}
	pt = a ? snapshot__point(b->snap, idx, a, n) : NULL;
	if (!pt) {
		b->err = -ENOMEM;
		return;
	}
	pt->value = value;
}

static void add_quantiles(struct build *b, const struct snap_attr *attrs, unsigned int n,
			  const struct hist *h)
{
	struct snap_point *pt;
	unsigned int q;

	if (b->idx.quant < 0 || !hist__count(h))
		return;	/* nothing in the window: no summary rather than zeros */
	pt = snapshot__point(b->snap, b->idx.quant, attrs, n);
	if (!pt) {
		b->err = -ENOMEM;
		return;
	}
	pt->count = hist__count(h);
	pt->sum = (double)hist__sum(h) * b->p->hist.scale;
	for (q = 0; q < SNAP_QUANTILES; q++)
		pt->quantiles[q] = (double)hist__quantile(h, snap_quantiles[q]) * b->p->hist.scale;
}

static void add_hist(struct build *b, const struct snap_attr *attrs, unsigned int n,
		     const uint64_t *buckets, uint64_t count, double sum)
{
	unsigned int nb = b->o->nbounds[b->fam];
	uint64_t *copy;
	struct snap_point *pt;

	if (b->idx.hist < 0)
		return;
	copy = snapshot__alloc(b->snap, (nb + 1) * sizeof(*copy));
	pt = copy ? snapshot__point(b->snap, b->idx.hist, attrs, n) : NULL;
	if (!pt) {
		b->err = -ENOMEM;
		return;
	}
	memcpy(copy, buckets, (nb + 1) * sizeof(*copy));
	pt->buckets = copy;
	pt->count = count;
	pt->sum = sum;
}

/* The series' labels as exported attributes; host:port labels split in two. */
static unsigned int series_attrs(struct build *b, struct series *se, struct snap_attr *out,
				 char ports[][8])
{
	const struct family_desc *d = b->p->d;
	const struct label *l;
	unsigned int n = series__labels(se, &l), i, k = 0, np = 0;

	for (i = 0; i < n && k + 2 <= SNAP_MAX_ATTRS - 2; i++) {
		int li = families__label_index(d, l[i].key);
		const struct label_desc *ld = li >= 0 ? &d->labels[li] : NULL;
		const char *v = l[i].value, *colon;

		if (!ld) {	/* undeclared: exported under its own key */
			out[k++] = (struct snap_attr){ l[i].key, v };
			continue;
		}
		colon = (ld->flags & LABEL_HOSTPORT) ? strrchr(v, ':') : NULL;
		if (colon && np < 4 && colon[1] && strlen(colon + 1) < 6) {
			char *host = snapshot__alloc(b->snap, (size_t)(colon - v) + 1);
			size_t hl = (size_t)(colon - v);

			if (!host)
				break;
			/* "[::1]:6379": the brackets belong to the URL form, not the address */
			if (hl >= 2 && v[0] == '[' && v[hl - 1] == ']')
				memcpy(host, v + 1, hl - 2);
			else
				memcpy(host, v, hl);
			snprintf(ports[np], sizeof(ports[np]), "%s", colon + 1);
			out[k++] = (struct snap_attr){ ld->attr, host };
			out[k++] = (struct snap_attr){ ld->attr_port, ports[np++] };
			continue;
		}
		out[k++] = (struct snap_attr){ ld->attr, v };
	}
	return k;
}

static void overflow_add(struct build *b, struct series *se)
{
	struct window *w = series__window(se);
	const struct family_desc *d = b->p->d;
	struct overflow *ov = &b->ov;
	unsigned int i;

	ov->used = 1;
	for (i = 0; i < d->ncounters; i++)
		ov->counters[i] += (double)window__total_counter(w, i);
	for (i = 0; i < d->ngauges; i++)
		ov->gauges[i] += series__gauge(se, i);
	if (b->idx.hist >= 0) {
		const struct hist *h = window__total_hist(w);

		hist_buckets(h, b->bounds_native, b->o->nbounds[b->fam], ov->buckets);
		ov->count += hist__count(h);
		ov->sum += (double)hist__sum(h) * b->p->hist.scale;
	}
	if (b->idx.quant >= 0 && ov->recent) {
		struct window_read r;

		if (!window__read(w, b->now, b->o->quantile_span_ns, b->c->tmp, &r))
			hist__merge(ov->recent, b->c->tmp);
	}
}

static void emit_values(struct build *b, const struct snap_attr *attrs, unsigned int n,
			const double *counters, const double *gauges)
{
	const struct fam_plan *p = b->p;
	unsigned int i;

	for (i = 0; i < p->d->ncounters; i++)
		add_point(b, b->idx.counters[i], attrs, n, p->counters[i].split_key,
			  p->counters[i].split_value, counters[i] * p->counters[i].scale);
	for (i = 0; i < p->d->ngauges; i++)
		add_point(b, b->idx.gauges[i], attrs, n, NULL, NULL,
			  gauges[i] * p->gauges[i].scale);
}

static void emit_series(struct build *b, struct series *se, const struct snap_attr *tmp,
			unsigned int n)
{
	struct window *w = series__window(se);
	const struct family_desc *d = b->p->d;
	double counters[WINDOW_MAX_COUNTERS], gauges[STORE_MAX_GAUGES];
	uint64_t buckets[SNAP_MAX_BOUNDS + 1];
	const struct snap_attr *attrs = snapshot__attrs(b->snap, tmp, n);
	unsigned int i;

	if (!attrs) {
		b->err = -ENOMEM;
		return;
	}
	for (i = 0; i < d->ncounters; i++)
		counters[i] = (double)window__total_counter(w, i);
	for (i = 0; i < d->ngauges; i++)
		gauges[i] = series__gauge(se, i);
	emit_values(b, attrs, n, counters, gauges);
	if (b->idx.hist >= 0) {
		const struct hist *h = window__total_hist(w);

		memset(buckets, 0, sizeof(buckets));
		hist_buckets(h, b->bounds_native, b->o->nbounds[b->fam], buckets);
		add_hist(b, attrs, n, buckets, hist__count(h),
			 (double)hist__sum(h) * b->p->hist.scale);
	}
	if (b->idx.quant >= 0) {
		struct window_read r;

		if (!window__read(w, b->now, b->o->quantile_span_ns, b->c->tmp, &r))
			add_quantiles(b, attrs, n, b->c->tmp);
	}
}

/* Admit or refuse a series; 1: export it on its own, 0: fold into overflow. */
static int admit(struct build *b, struct series *se, const char *key, const char *service)
{
	struct collector *c = b->c;
	struct fam_plan *p = b->p;
	struct entry *e = table_get(&c->series, key, 1), *sv;
	char skey[300];
	int fresh;

	if (!e)
		return 0;	/* ENOMEM: overflow costs nothing */
	fresh = !e->seen;
	e->seen = c->gen;
	(void)se;
	if (e->admitted)
		return 1;
	snprintf(skey, sizeof(skey), "%u\x1f%s", b->fam, service);
	sv = table_get(&c->services, skey, 1);
	if (sv)
		sv->seen = c->gen;
	if (c->o.max_series_per_family && p->admitted >= c->o.max_series_per_family) {
		p->dropped[DROP_FAMILY] += fresh;
		return 0;
	}
	if (c->o.max_series_per_service && (!sv || sv->count >= c->o.max_series_per_service)) {
		p->dropped[DROP_SERVICE] += fresh;
		return 0;
	}
	e->admitted = 1;
	e->service = sv;
	if (sv)
		sv->count++;
	p->admitted++;
	return 1;
}

static int series_one(struct series *se, void *arg)
{
	struct build *b = arg;
	struct fam_plan *p = b->p;
	struct snap_attr attrs[SNAP_MAX_ATTRS];
	char ports[4][8], key[2048];
	const struct label *l;
	unsigned int n = series__labels(se, &l), i, na;
	size_t off;
	const char *service = "";

	if (series__label(se, "overflow")) {	/* the store's own overflow series */
		overflow_add(b, se);
		return 0;
	}
	off = (size_t)snprintf(key, sizeof(key), "%u", b->fam);
	for (i = 0; i < n && off < sizeof(key); i++)
		off += (size_t)snprintf(key + off, sizeof(key) - off, "\x1f%s=%s", l[i].key,
					l[i].value);
	if (p->pid_label >= 0) {
		const char *pid = series__label(se, p->d->labels[p->pid_label].key);

		if (pid && series__last_update(se) + b->o->retire_ns < b->now &&
		    !pid_alive(b->c, atoi(pid))) {
			struct entry *e = table_get(&b->c->series, key, 0);

			/* counted once: unseen, its admission lapses in sweep() */
			if (e && e->admitted)
				b->c->retired++;
			return 0;
		}
	}
	if (p->service_label >= 0) {
		service = series__label(se, p->d->labels[p->service_label].key);
		if (!service)
			service = "";
	}
	if (!admit(b, se, key, service)) {
		overflow_add(b, se);
		return 0;
	}
	na = series_attrs(b, se, attrs, ports);
	emit_series(b, se, attrs, na);
	return b->err ? 1 : 0;
}

static void emit_overflow(struct build *b)
{
	static const struct snap_attr ov_attr = { "overflow", "true" };
	const struct snap_attr *attrs;

	if (!b->ov.used)
		return;
	attrs = snapshot__attrs(b->snap, &ov_attr, 1);
	if (!attrs) {
		b->err = -ENOMEM;
		return;
	}
	emit_values(b, attrs, 1, b->ov.counters, b->ov.gauges);
	add_hist(b, attrs, 1, b->ov.buckets, b->ov.count, b->ov.sum);
	if (b->ov.recent)
		add_quantiles(b, attrs, 1, b->ov.recent);
}

/* Forget admissions of series the store dropped or that were retired. */
static void sweep(struct collector *c)
{
	struct table *ts[2] = { &c->series, &c->services };
	unsigned int t, i;

	for (t = 0; t < 2; t++)
		for (i = 0; i < ts[t]->nb; i++) {
			struct entry **pp = &ts[t]->b[i];

			while (*pp) {
				struct entry *e = *pp;

				if (e->seen == c->gen || (t == 1 && e->count)) {
					pp = &e->next;
					continue;
				}
				if (t == 0 && e->admitted) {
					unsigned int fam = (unsigned int)atoi(e->key);

					if (fam < FAM_MAX && c->plan[fam].admitted)
						c->plan[fam].admitted--;
					if (e->service && e->service->count)
						e->service->count--;
				}
				*pp = e->next;
				ts[t]->n--;
				free(e);
			}
		}
}

static int self_metrics(struct collector *c, struct store *st, struct snapshot *snap)
{
	int dropped = snapshot__metric(snap, "probe.series.dropped", "{series}",
				       "series folded into their family's overflow series by an "
				       "export cap, counted once each", SNAP_COUNTER, NULL, 0);
	int overflow = snapshot__metric(snap, "probe.store.overflow", "{write}",
					"writes the store sent to a family's overflow series "
					"because the family was at its cap (store.max_series)",
					SNAP_COUNTER, NULL, 0);
	int exported = snapshot__metric(snap, "probe.export.series", "{series}",
					"series exported on their own, per family",
					SNAP_GAUGE, NULL, 0);
	int retired = snapshot__metric(snap, "probe.export.series.retired", "{series}",
				       "series of exited processes no longer exported "
				       "after the grace period (export.retire_after_s)", SNAP_COUNTER, NULL, 0);
	struct snap_point *pt;
	unsigned int i, k;

	if (dropped < 0 || overflow < 0 || exported < 0 || retired < 0)
		return -ENOMEM;
	for (i = 0; i < FAM_MAX; i++) {
		struct family *f = families__lookup(st, i);
		struct snap_attr a[2] = { { "family", c->plan[i].d->name }, { "reason", NULL } };
		const struct snap_attr *attrs;

		if (!f)
			continue;
		for (k = 0; k < DROP_MAX; k++) {
			a[1].value = drop_names[k];
			attrs = snapshot__attrs(snap, a, 2);
			pt = attrs ? snapshot__point(snap, dropped, attrs, 2) : NULL;
			if (!pt)
				return -ENOMEM;
			pt->value = (double)c->plan[i].dropped[k];
		}
		attrs = snapshot__attrs(snap, a, 1);
		pt = attrs ? snapshot__point(snap, overflow, attrs, 1) : NULL;
		if (!pt)
			return -ENOMEM;
		pt->value = (double)family__overflowed(f);
		pt = snapshot__point(snap, exported, attrs, 1);
		if (!pt)
			return -ENOMEM;
		pt->value = c->plan[i].admitted;
	}
	pt = snapshot__point(snap, retired, NULL, 0);
	if (!pt)
		return -ENOMEM;
	pt->value = (double)c->retired;
	return 0;
}

int collector__build(struct collector *c, struct store *st, uint64_t now_ns,
		     struct snapshot *snap)
{
	struct build b = { .c = c, .snap = snap, .o = &c->o, .now = now_ns };
	unsigned int i;
	int err = 0;

	c->gen++;
	for (i = 0; i < FAM_MAX && !err; i++) {
		struct family *f = families__lookup(st, i);

		if (!f)
			continue;
		b.fam = i;
		b.p = &c->plan[i];
		memset(&b.ov, 0, sizeof(b.ov));
		err = resolve_family(&b);
		if (err)
			break;
		if (b.idx.quant >= 0)
			b.ov.recent = hist__new();
		family__for_each(f, series_one, &b);
		emit_overflow(&b);
		hist__free(b.ov.recent);
		err = b.err;
	}
	sweep(c);
	return err ? err : self_metrics(c, st, snap);
}
